"""circom's C++ witness generator: built once per entry from the entry's own wrapper, the
same ``.wtns`` bytes as the wasm, a clear error when a build tool is missing, and ``auto``
falling back to the wasm then.

The build test needs g++, make, nasm, GMP and nlohmann/json (``make setup-cpp``); it is
skipped only when one of them is missing. The tiny circuit builds in a few seconds.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from prover.errors import ToolError, ZkmatchError
from prover.proving import circuit
from prover.proving.circuit import (
    CPP_DIR,
    Artifacts,
    CircuitSpec,
    build,
    cpp_generator_path,
    prove,
    verify,
    witness_choice,
    witness_generator,
)
from prover.toolchain import circom, common, witness_cpp
from tests.toolchain.conftest import TINY_LIB, TINY_MAIN

NOWHERE = Path("/nonexistent/zkmatch")
INPUTS = {"a": [1, 2, 3], "c": 14}
MISSING = witness_cpp.missing_build_tools()


@pytest.fixture(scope="module")
def tiny_built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Artifacts]:
    """The tiny SumSquares(3) circuit of conftest.py, compiled and set up once."""
    root = tmp_path_factory.mktemp("cpp")
    (root / "circuits" / "lib").mkdir(parents=True)
    (root / "circuits" / "main").mkdir()
    (root / "circuits" / "lib" / "Square.circom").write_text(TINY_LIB)
    (root / "circuits" / "main" / "SumSquares.circom").write_text(TINY_MAIN)
    spec = CircuitSpec(
        name="sum_squares",
        source="main/SumSquares.circom",
        template="SumSquares",
        params=(3,),
        public=("c",),
        circuits_dir=root / "circuits",
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ZKMATCH_BUILD_DIR", str(root / "build"))
        common.clear_version_cache()
        yield build(spec)


@pytest.fixture
def entry(tiny_built: Artifacts, tmp_path: Path) -> Artifacts:
    """A private copy of the tiny entry (so tests do not see each other's C++ builds)."""
    copy = tmp_path / tiny_built.directory.name
    shutil.copytree(tiny_built.directory, copy)
    return dataclasses.replace(tiny_built, directory=copy, wasm=copy / "circuit_js/circuit.wasm")


def test_commands_are_pure() -> None:
    argv = circom.build_cpp_command(
        ["node", "cli.js"], NOWHERE / "circuit.circom", NOWHERE / "out", [NOWHERE / "lib"]
    )
    assert argv == [
        "node", "cli.js", f"{NOWHERE}/circuit.circom", "--c", "--O2",
        "-l", f"{NOWHERE}/lib", "-o", f"{NOWHERE}/out",
    ]  # fmt: skip
    assert circom.cpp_dir_for(Path("/b/circuit.circom"), Path("/o")) == Path("/o/circuit_cpp")
    assert witness_cpp.make_command(2) == ["make", "-j2"]
    assert witness_cpp.calculate_command(Path("/c/circuit"), Path("/i.json"), Path("/w")) == [
        "/c/circuit", "/i.json", "/w",
    ]  # fmt: skip
    assert not NOWHERE.exists()
    with pytest.raises(ValueError):
        witness_cpp.make_command(0)


def test_choice_defaults_to_wasm_and_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ZKMATCH_WITNESS", raising=False)
    assert witness_choice() == "wasm"
    monkeypatch.setenv("ZKMATCH_WITNESS", " CPP ")
    assert witness_choice() == "cpp"
    assert witness_choice("auto") == "auto"  # an explicit choice wins over the variable
    monkeypatch.setenv("ZKMATCH_WITNESS", "native")
    with pytest.raises(ZkmatchError, match="ZKMATCH_WITNESS 'native' is not one of wasm, cpp"):
        witness_choice()
    with pytest.raises(ZkmatchError, match="witness generator 'js'"):
        witness_choice("js")


def test_missing_tools_name_the_apt_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(witness_cpp, "header_dirs", lambda: [empty])
    missing = witness_cpp.missing_build_tools()
    assert {"g++ (g++)", "nasm (nasm)", "nlohmann/json.hpp (nlohmann-json3-dev)",
            "gmp.h (libgmp-dev)"} <= set(missing)  # fmt: skip
    with pytest.raises(ToolError) as caught:
        witness_cpp.require_build_tools()
    message = str(caught.value)
    assert "C++ witness generator cannot be built" in message
    assert "apt-get install g++ make nasm libgmp-dev nlohmann-json3-dev" in message
    assert "--witness wasm" in message
    with pytest.raises(ToolError, match="cannot be built"):
        witness_cpp.make_generator(tmp_path)


@pytest.mark.circuit
def test_cpp_without_tools_fails_and_auto_falls_back_to_wasm(
    entry: Artifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(witness_cpp, "missing_build_tools", lambda: ["nasm (nasm)"])
    with pytest.raises(ToolError, match=r"missing nasm \(nasm\).*apt-get install nasm`"):
        prove(entry, INPUTS, witness="cpp")
    assert not (entry.directory / CPP_DIR).exists()

    monkeypatch.setenv("ZKMATCH_WITNESS", "auto")
    lines: list[str] = []
    result = prove(entry, INPUTS, lines.append)
    assert result.witness_generator == "wasm"
    assert result.public == ["14"] and verify(entry, result.proof, result.public)
    assert any(line.startswith("witness: auto -> wasm (the C++ generator needs nasm") for line
               in lines), lines  # fmt: skip
    assert not (entry.directory / CPP_DIR).exists()


@pytest.mark.circuit
def test_failed_make_leaves_nothing_trusted(
    entry: Artifacts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(witness_cpp, "missing_build_tools", lambda: [])

    def half_built(cpp_dir: Path, **_: object) -> tuple[Path, float]:
        (cpp_dir / "circuit").write_bytes(b"\x7fELF half")
        raise ToolError("make failed (exit 2): simulated")

    monkeypatch.setattr(witness_cpp, "make_generator", half_built)
    with pytest.raises(ToolError, match="simulated"):
        witness_generator(entry, "cpp")
    assert not (entry.directory / CPP_DIR).exists()
    assert not [p for p in entry.directory.iterdir() if p.name.startswith(".")]
    assert cpp_generator_path(entry) is None
    lines: list[str] = []
    assert witness_generator(entry, "auto", lines.append).kind == "wasm"
    assert "building the C++ generator failed: make failed" in lines[-1]


@pytest.mark.circuit
@pytest.mark.skipif(bool(MISSING), reason=f"C++ build tools missing: {MISSING}")
def test_cpp_witness_is_byte_identical_to_wasm(
    entry: Artifacts, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZKMATCH_WITNESS", raising=False)
    wasm = prove(entry, INPUTS, work_dir=tmp_path / "wasm")  # the default
    assert wasm.witness_generator == "wasm"
    lines: list[str] = []
    cpp = prove(entry, INPUTS, lines.append, work_dir=tmp_path / "cpp", witness="cpp")
    assert cpp.witness_generator == "cpp"
    assert any(line.startswith("witness: circom --c") for line in lines), lines
    assert any(line.startswith("witness: C++ generator built") for line in lines), lines
    w_wasm = (tmp_path / "wasm" / "witness.wtns").read_bytes()
    assert (tmp_path / "cpp" / "witness.wtns").read_bytes() == w_wasm
    assert cpp.public == ["14"] and verify(entry, cpp.proof, cpp.public)
    assert set(cpp.timings) == {"witness", "prove"}

    # Cached in the entry, built from its own wrapper; no temp folder, no object files.
    binary = cpp_generator_path(entry)
    assert binary == entry.directory / CPP_DIR / "circuit_cpp" / "circuit"
    assert not [p for p in entry.directory.iterdir() if p.name.startswith(".")]
    assert not list(binary.parent.glob("*.o"))

    def no_tool(*args: object, **kwargs: object) -> None:
        raise AssertionError("a cached C++ generator was rebuilt")

    monkeypatch.setattr(circom, "compile_cpp", no_tool)
    monkeypatch.setattr(witness_cpp, "make_generator", no_tool)
    monkeypatch.setenv("ZKMATCH_WITNESS", "auto")
    lines.clear()
    again = prove(entry, INPUTS, lines.append, work_dir=tmp_path / "again")
    assert again.witness_generator == "cpp"
    assert "witness: auto -> cpp (C++ generator already built)" in lines
    assert (tmp_path / "again" / "witness.wtns").read_bytes() == w_wasm
    with pytest.raises(ToolError, match="Failed assert"):
        prove(entry, {"a": [1, 2, 3], "c": 15}, witness="cpp")  # breaks `c === acc`


@pytest.mark.circuit
def test_changed_sources_are_refused(entry: Artifacts, monkeypatch: pytest.MonkeyPatch) -> None:
    """The C++ program must come from the sources the entry's r1cs and wasm came from."""
    monkeypatch.setattr(witness_cpp, "missing_build_tools", lambda: [])
    monkeypatch.setattr(circuit, "compile_key", lambda *a, **k: "0" * 64)
    with pytest.raises(ToolError, match="changed since"):
        witness_generator(entry, "cpp")
    assert not (entry.directory / CPP_DIR).exists()
