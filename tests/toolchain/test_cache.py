"""Build cache: keys follow the sources, parameters and tools; a second build runs nothing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from prover.errors import ToolError, ZkmatchError
from prover.proving import circuit
from prover.proving.circuit import (
    CircuitSpec,
    account_membership_spec,
    build,
    compile_key,
    prove,
    verify,
)
from prover.toolchain import cache, circom
from prover.toolchain.common import NODE_MODULES

VERSIONS = {"circom": "2.2.3", "snarkjs": "0.7.6"}


def test_includes_ignore_comments() -> None:
    text = 'include "a.circom";\n// include "b.circom";\n/* include "c.circom"; */ include "d";'
    assert cache.includes_of(text) == ["a.circom", "d"]


def test_closure_follows_includes_into_circomlib() -> None:
    spec = account_membership_spec(4)
    names = {p.name for p in cache.source_closure(spec.source_path, spec.include_dirs)}
    assert {"AccountMembership.circom", "QuadMerkleRoot.circom", "Constants.circom"} <= names
    # circomlib's poseidon.circom includes ./poseidon_constants.circom: found recursively
    assert {"poseidon.circom", "poseidon_constants.circom"} <= names


def test_missing_include_is_a_clear_error(tmp_path: Path) -> None:
    main = tmp_path / "m.circom"
    main.write_text('include "nowhere.circom";')
    with pytest.raises(ToolError, match='include "nowhere.circom" not found'):
        cache.source_closure(main, [NODE_MODULES])


def test_key_changes_with_sources_params_and_versions(
    tiny_spec: CircuitSpec, tiny_circuits: Path
) -> None:
    key = compile_key(tiny_spec, VERSIONS)
    assert compile_key(tiny_spec, VERSIONS) == key
    assert compile_key(dataclasses.replace(tiny_spec, params=(4,)), VERSIONS) != key
    assert compile_key(tiny_spec, {**VERSIONS, "circom": "2.2.4"}) != key
    assert compile_key(dataclasses.replace(tiny_spec, public=()), VERSIONS) != key
    library = tiny_circuits / "lib" / "Square.circom"  # included, not the main file
    library.write_text(library.read_text() + "\n// a comment changes the hash too\n")
    assert compile_key(tiny_spec, VERSIONS) != key


def test_atomic_dir_leaves_nothing_on_failure(tmp_path: Path) -> None:
    final = tmp_path / "entry"
    with pytest.raises(RuntimeError), cache.atomic_dir(final) as temp:
        (temp / "half").write_text("x")
        raise RuntimeError("crash mid-build")
    assert list(tmp_path.iterdir()) == []
    with cache.atomic_dir(final) as temp:
        (temp / "whole").write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["entry"]
    assert (final / "whole").is_file()


@pytest.mark.circuit
def test_second_build_is_a_cache_hit(
    tiny_spec: CircuitSpec, build_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines: list[str] = []
    first = build(tiny_spec, progress=lines.append)
    assert not first.cached
    assert first.directory.parent == build_dir
    assert first.constraints == 3 and first.public_signals == 1
    assert any(line.startswith("compile:") for line in lines)
    assert any(line.startswith("setup: development key") for line in lines)
    assert any("DEVELOPMENT ONLY" in line for line in lines)
    assert first.setup_kind == "dev" and first.ptau is None
    for path in (first.r1cs, first.wasm, first.sym, first.zkey, first.vkey, first.verifier_sol):
        assert path.is_file(), path
    assert not list(first.setup_dir.glob("circuit_0*.zkey"))  # intermediate keys removed
    assert not [p for p in build_dir.iterdir() if p.name.startswith(".")]  # no temp left
    mtimes = {p: p.stat().st_mtime_ns for p in (first.r1cs, first.zkey)}

    def no_tool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached build ran a tool")

    monkeypatch.setattr(circom, "compile_circuit", no_tool)
    monkeypatch.setattr(circuit.snarkjs, "groth16_setup", no_tool)
    monkeypatch.setattr(circuit.devzkey, "generate_dev_zkey", no_tool)
    second = build(tiny_spec)
    assert second.cached and second.zkey == first.zkey
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes
    monkeypatch.undo()

    result = prove(second, {"a": [1, 2, 3], "c": 14})
    assert result.public == ["14"]
    assert verify(second, result.proof, result.public)
    assert not verify(second, result.proof, ["15"])
    with pytest.raises(ToolError, match="wtns calculate|Assert Failed"):
        prove(second, {"a": [1, 2, 3], "c": 15})  # a witness that breaks `c === acc`


@pytest.mark.circuit
def test_ptau_setup_path_and_which_setup_is_current(
    tiny_spec: CircuitSpec, build_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The production path (snarkjs groth16 setup on a ptau, contributions) keeps working,
    and a plain build reuses whichever setup is current; only an explicit kind replaces it."""
    monkeypatch.delenv(circuit.SETUP_ENV, raising=False)
    lines: list[str] = []
    on_ptau = build(tiny_spec, progress=lines.append, setup_kind="ptau", contributions=2)
    assert on_ptau.setup_kind == "ptau" and on_ptau.ptau is not None
    assert any(line.startswith("setup: groth16 setup") for line in lines)
    assert any("contribution 2/2" in line for line in lines)
    assert build(tiny_spec).zkey == on_ptau.zkey  # plain build: the current (ptau) setup
    dev = build(tiny_spec, setup_kind="dev")
    assert dev.setup_kind == "dev" and dev.zkey != on_ptau.zkey
    monkeypatch.setenv(circuit.SETUP_ENV, "ptau")
    assert build(tiny_spec).zkey == on_ptau.zkey  # the ptau setup is cached, not redone
    for art in (on_ptau, dev):
        result = prove(art, {"a": [1, 2, 3], "c": 14})
        assert verify(art, result.proof, result.public)
    monkeypatch.setenv(circuit.SETUP_ENV, "fast")
    with pytest.raises(ZkmatchError, match="ZKMATCH_SETUP 'fast' is not one of dev, ptau"):
        build(tiny_spec)
    with pytest.raises(ZkmatchError, match="takes no ptau"):
        build(tiny_spec, on_ptau.ptau, setup_kind="dev")
