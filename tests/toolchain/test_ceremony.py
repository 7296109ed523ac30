"""``zkmatch ceremony``: phase 2 from a ptau, two contributors, verify, beacon, installed.

The ptau stands in for a public ceremony's file (a seeded 2^8 development one), the circuit
is the toolchain tests' tiny SumSquares(3), registered under a name for the CLI. Each step
runs through the CLI as the parties would; the checks are snarkjs's own (``zkey verify``
recomputes the key from the r1cs and the ptau and checks every contribution), and a key with
one point changed is refused.
"""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.proving import circuit as C
from prover.proving.circuit import CircuitSpec, build, prove, verify
from prover.toolchain.ptau import generate_dev_ptau

pytestmark = pytest.mark.circuit


def _run(*args: str, ok: bool = True) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(main, [*args, "--json"])
    if ok:
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)  # type: ignore[no-any-return]
    assert result.exit_code != 0
    return {"output": result.output, "code": result.exit_code}


def _flip_a_point(source: Path, target: Path, section: int) -> None:
    data = bytearray(source.read_bytes())
    offset = 12
    while offset < len(data):
        ident, size = struct.unpack_from("<IQ", data, offset)
        if ident == section:
            start = offset + 12
            data[start:start + 64] = data[start + 64:start + 128]  # point 0 := point 1
            break
        offset += 12 + size
    target.write_bytes(bytes(data))


def test_a_ceremony_from_start_to_installed_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_spec: CircuitSpec, build_dir: Path
) -> None:
    monkeypatch.setitem(C.CIRCUITS, "sum_squares", lambda: tiny_spec)
    ptau = generate_dev_ptau(8, tmp_path / "public_8.ptau", seed=b"public")
    folder = tmp_path / "ceremony"
    circuit = ["--circuit", "sum_squares"]
    started = _run("ceremony", "start", "--dir", str(folder), "--ptau", str(ptau), *circuit)
    assert started["keys"][0]["file"] == "circuit_0000.zkey" and not started["finalized"]
    # Two parties, each on "their own machine": a copy of the folder, sent back and forth.
    for name in ("alice", "bob"):
        away = tmp_path / f"at-{name}"
        shutil.copytree(folder, away)
        _run("ceremony", "contribute", "--dir", str(away), "--name", name)
        shutil.rmtree(folder)
        shutil.move(away, folder)
    checked = _run("ceremony", "verify", "--dir", str(folder), "--ptau", str(ptau))
    assert checked["ok"]
    assert [c["name"] for c in checked["contributions"]] == ["alice", "bob"]

    _flip_a_point(folder / "circuit_0002.zkey", tmp_path / "bad.zkey", section=8)
    bad = _run("ceremony", "verify", "--dir", str(folder), "--ptau", str(ptau),
               "--zkey", str(tmp_path / "bad.zkey"), ok=False)
    assert bad["code"] == 1 and '"ok": false' in bad["output"]
    other = generate_dev_ptau(8, tmp_path / "other_8.ptau", seed=b"other")
    wrong = _run("ceremony", "verify", "--dir", str(folder), "--ptau", str(other), ok=False)
    assert "not the ptau this ceremony started from" in wrong["output"]

    final = _run("ceremony", "finalize", "--dir", str(folder), "--ptau", str(ptau), *circuit,
                 "--beacon", "0102030405060708090a0b0c0d0e0f10", "--iterations", "10")
    assert final["ok"] and len(final["contributions"]) == 3
    late = _run("ceremony", "contribute", "--dir", str(folder), "--name", "mallory", ok=False)
    assert "finalized" in late["output"]

    artifacts = build(tiny_spec)  # the installed key is now the current one
    assert str(artifacts.zkey) == final["installed"] and artifacts.setup_kind == "ptau"
    result = prove(artifacts, {"a": [1, 2, 3], "c": 14})
    assert verify(artifacts, result.proof, result.public)
    assert not verify(artifacts, result.proof, ["15"])


def test_ceremony_errors_are_clear(tmp_path: Path) -> None:
    missing = _run("ceremony", "contribute", "--dir", str(tmp_path), "--name", "x", ok=False)
    assert "not a ceremony folder" in missing["output"]
    no_circuit = _run("ceremony", "start", "--dir", str(tmp_path / "c"), "--ptau",
                      str(Path(__file__)), ok=False)
    assert "name the circuit" in no_circuit["output"]
