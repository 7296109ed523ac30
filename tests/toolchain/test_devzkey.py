"""devzkey.mjs: a development .zkey that snarkjs and groth16py take as their own.

One small circuit (a 20-step product chain, 21 constraints, two public signals) and a seeded
key with its matching ptau (made once per module, a few seconds). The checks a cheating
writer would fail: ``snarkjs zkey verify`` recomputes the key from the r1cs and the ptau
(sections 3-7 byte for byte, L and H by pairing) and checks the contribution's proof of
knowledge; a key for another circuit, or one with a single point changed, is refused.
"""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

from prover.errors import ToolError
from prover.proving.backends import ArkworksBackend, SnarkjsBackend, arkworks_available
from prover.toolchain import devzkey
from prover.toolchain.common import tool_command
from prover.verifier.groth16 import Proof, VerificationKey, verify

REPO = Path(__file__).resolve().parents[2]
CIRCOM = REPO / "node_modules" / "circom2" / "cli.js"

CHAIN = """\
pragma circom 2.1.0;
template Chain(n) {
    signal input a;
    signal input b[n];
    signal output c;
    signal acc[n + 1];
    acc[0] <== a;
    for (var i = 0; i < n; i++) acc[i + 1] <== acc[i] * b[i] + 3;
    c <== acc[n] * a;
}
component main {public [a]} = Chain(N);
"""


def _snarkjs(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*tool_command("snarkjs"), *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, check=False)


def _compile(folder: Path, n: int) -> Path:
    source = folder / "chain.circom"
    source.write_text(CHAIN.replace("Chain(N)", f"Chain({n})"))
    done = subprocess.run(["node", str(CIRCOM), str(source), "--r1cs", "--wasm", "-o",
                           str(folder)], cwd=folder, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return folder / "chain.r1cs"


def _zkey_ok(r1cs: Path, ptau: Path, zkey: Path) -> bool:
    done = _snarkjs("zkey", "verify", r1cs, ptau, zkey, cwd=zkey.parent)
    return done.returncode == 0 and "ZKey Ok!" in done.stdout


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("devzkey")
    r1cs = _compile(folder, 20)
    lines: list[str] = []
    summary = devzkey.generate_dev_zkey(r1cs, folder / "chain.zkey", ptau_out=folder / "m.ptau",
                                        seed=b"\x01\x02", progress=lines.append)
    inputs = {"a": "5", "b": [str(i) for i in range(1, 21)]}
    (folder / "input.json").write_text(json.dumps(inputs))
    done = _snarkjs("wtns", "calculate", folder / "chain_js" / "chain.wasm", "input.json",
                    "w.wtns", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    done = _snarkjs("zkey", "export", "verificationkey", "chain.zkey", "vk.json", cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    return {"folder": folder, "r1cs": r1cs, "summary": summary, "lines": lines}


def test_snarkjs_zkey_verify_accepts_the_key(made: dict[str, object]) -> None:
    folder, r1cs = Path(str(made["folder"])), Path(str(made["r1cs"]))
    summary = made["summary"]
    assert isinstance(summary, dict)
    assert summary["development_only"] and summary["power"] == 5
    assert summary["constraints"] == 21 and summary["public"] == 2
    assert _zkey_ok(r1cs, folder / "m.ptau", folder / "chain.zkey")
    lines = made["lines"]
    assert isinstance(lines, list) and any("[H]" in line for line in lines)


def test_the_key_proves_with_snarkjs_and_arkworks(made: dict[str, object]) -> None:
    folder = Path(str(made["folder"]))
    vk = VerificationKey.from_json(json.loads((folder / "vk.json").read_text()))
    engines = [SnarkjsBackend(), *([ArkworksBackend()] if arkworks_available() else [])]
    for engine in engines:
        work = folder / engine.name
        work.mkdir(exist_ok=True)
        shutil.copy(folder / "w.wtns", work / "w.wtns")
        raw = engine.prove(folder / "chain.zkey", work / "w.wtns", 2)
        assert raw.public[1] == "5"
        public = [int(x) for x in raw.public]
        assert verify(vk, Proof.from_json(raw.proof), public), engine.name
        assert not verify(vk, Proof.from_json(raw.proof), [public[0] + 1, public[1]])


def test_further_contribution_and_solidity_export(made: dict[str, object]) -> None:
    folder, r1cs = Path(str(made["folder"])), Path(str(made["r1cs"]))
    done = _snarkjs("zkey", "contribute", "chain.zkey", "next.zkey", "-n=second", "-e=entropy",
                    cwd=folder)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _zkey_ok(r1cs, folder / "m.ptau", folder / "next.zkey")
    done = _snarkjs("zkey", "export", "solidityverifier", "next.zkey", "V.sol", cwd=folder)
    assert done.returncode == 0 and "verifyProof" in (folder / "V.sol").read_text()


def test_a_changed_point_or_another_circuit_is_refused(made: dict[str, object]) -> None:
    folder, r1cs = Path(str(made["folder"])), Path(str(made["r1cs"]))
    data = bytearray((folder / "chain.zkey").read_bytes())
    # Section 5 (A points): find it in the section table and move one point to another's.
    offset, sections = 12, {}
    while offset < len(data):
        ident, size = struct.unpack_from("<IQ", data, offset)
        sections[ident] = (offset + 12, size)
        offset += 12 + size
    start, size = sections[5]
    data[start:start + 64] = data[start + 64 * 3:start + 64 * 4]  # wire 0's point := wire 3's
    (folder / "bad.zkey").write_bytes(bytes(data))
    assert not _zkey_ok(r1cs, folder / "m.ptau", folder / "bad.zkey")
    other = folder / "other"
    other.mkdir()
    other_r1cs = _compile(other, 19)
    assert not _zkey_ok(other_r1cs, folder / "m.ptau", folder / "chain.zkey")


def test_seed_reproduces_and_fresh_keys_differ(made: dict[str, object], tmp_path: Path) -> None:
    folder, r1cs = Path(str(made["folder"])), Path(str(made["r1cs"]))
    devzkey.generate_dev_zkey(r1cs, tmp_path / "same.zkey", seed=b"\x01\x02")
    assert (tmp_path / "same.zkey").read_bytes() == (folder / "chain.zkey").read_bytes()
    devzkey.generate_dev_zkey(r1cs, tmp_path / "fresh.zkey")
    assert (tmp_path / "fresh.zkey").read_bytes() != (folder / "chain.zkey").read_bytes()


def test_bad_r1cs_is_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(ToolError, match="no such r1cs"):
        devzkey.generate_dev_zkey(tmp_path / "missing.r1cs", tmp_path / "k.zkey")
    junk = tmp_path / "junk.r1cs"
    junk.write_bytes(b"not an r1cs file at all")
    with pytest.raises(ToolError, match="cannot read"):
        devzkey.generate_dev_zkey(junk, tmp_path / "k.zkey")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.r1cs"]
