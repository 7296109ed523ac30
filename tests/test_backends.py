"""prover.proving.backends: snarkjs and arkworks (groth16py) prove the same batch, on the same
zkey and witness, and every verifier takes both proofs: snarkjs, the Python verifier and the
exported Solidity verifier on anvil. Plus the pure parts: the word layout, the .wtns reader,
the choice of backend, and parallel proving in batch order."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from prover.demo import check_on_chain
from prover.errors import ToolError, ZkmatchError
from prover.exchange.scenario import parse_scenario, run_scenario
from prover.proving import backends
from prover.proving.backends import arkworks_available, proof_from_words, prover_choice, read_wtns
from prover.proving.batches import config_spec, load_scenario, prove_results, prove_scenario
from prover.proving.circuit import build, compile_verifier, solidity_calldata, verify
from prover.toolchain.anvil import running_anvil
from prover.verifier.groth16 import Proof, VerificationKey
from prover.verifier.groth16 import verify as py_verify
from tests.test_proving import TINY

REPO = Path(__file__).resolve().parents[1]
needs_arkworks = pytest.mark.skipif(
    not arkworks_available(), reason="groth16py (the [fast] extra) is not installed"
)


# --------------------------------------------------------------------------- pure


def test_words_map_onto_snarkjs_proof_json() -> None:
    words = b"".join(i.to_bytes(32, "big") for i in range(1, 9))
    proof = proof_from_words(words)
    assert proof["pi_a"] == ["1", "2", "1"]
    # each Fp2 comes as (c1, c0); snarkjs writes [c0, c1]
    assert proof["pi_b"] == [["4", "3"], ["6", "5"], ["1", "0"]]
    assert proof["pi_c"] == ["7", "8", "1"]
    assert proof["protocol"] == "groth16" and proof["curve"] == "bn128"
    # and the Solidity calldata swaps back to (c1, c0), the words' own order
    calldata = solidity_calldata(proof, ["9"])  # type: ignore[arg-type]
    assert calldata[1] == ((3, 4), (5, 6))
    with pytest.raises(ToolError, match="256 bytes"):
        proof_from_words(words[:-1])


def _wtns(values: list[int], n8: int = 32) -> bytes:
    prime = (2**254).to_bytes(n8, "little")
    head = struct.pack("<I", n8) + prime + struct.pack("<I", len(values))
    body = b"".join(v.to_bytes(n8, "little") for v in values)
    return (b"wtns" + struct.pack("<II", 2, 2) + struct.pack("<IQ", 1, len(head)) + head
            + struct.pack("<IQ", 2, len(body)) + body)


def test_read_wtns(tmp_path: Path) -> None:
    path = tmp_path / "w.wtns"
    path.write_bytes(_wtns([1, 7, 2**200, 5]))
    assert read_wtns(path) == [1, 7, 2**200, 5]
    assert read_wtns(path, 3) == [1, 7, 2**200]
    path.write_bytes(b"junk" + bytes(20))
    with pytest.raises(ToolError, match="not a .wtns"):
        read_wtns(path)


def test_prover_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(backends.PROVER_ENV, raising=False)
    assert prover_choice("snarkjs") == "snarkjs"
    assert prover_choice() == ("arkworks" if arkworks_available() else "snarkjs")
    monkeypatch.setenv(backends.PROVER_ENV, "SNARKJS")
    assert prover_choice() == "snarkjs"
    monkeypatch.setenv(backends.PROVER_ENV, "rapidsnark")
    with pytest.raises(ZkmatchError, match="ZKMATCH_PROVER 'rapidsnark' is not one of"):
        prover_choice()
    monkeypatch.setattr(backends, "_groth16py", lambda: None)
    assert prover_choice("auto") == "snarkjs"
    with pytest.raises(ToolError, match=r"zkmatch\[fast\]"):
        prover_choice("arkworks")


# --------------------------------------------------------------------------- circuit


@needs_arkworks
@pytest.mark.circuit
@pytest.mark.chain
def test_both_backends_prove_the_same_batch_and_every_verifier_agrees(tmp_path: Path) -> None:
    scenario = parse_scenario(TINY)
    results = [r.result for r in run_scenario(scenario).reports]
    artifacts = build(config_spec(scenario.config))
    vk = VerificationKey.from_json(json.loads(artifacts.vkey.read_text()))
    proofs = {}
    for name in ("snarkjs", "arkworks"):
        _, [proof] = prove_results(results, scenario.config, prover=name,
                                   out_dir=tmp_path / name)
        assert proof.prover == name and proof.verified  # snarkjs groth16 verify said yes
        assert proof.public == proof.expected_public()
        proofs[name] = proof
    assert proofs["snarkjs"].public == proofs["arkworks"].public
    assert proofs["snarkjs"].proof != proofs["arkworks"].proof  # fresh randomness each
    calldata = []
    for proof in proofs.values():
        public = [int(x) for x in proof.public]
        assert py_verify(vk, Proof.from_json(proof.proof), public)
        assert verify(artifacts, proof.proof, proof.public)
        bad = list(proof.public)
        bad[1] = str(int(bad[1]) + 1)
        calldata += [solidity_calldata(proof.proof, proof.public),
                     solidity_calldata(proof.proof, bad)]
    with running_anvil() as node:
        _, accepted, _, _ = check_on_chain(compile_verifier(artifacts), node.rpc_url, calldata)
    assert accepted == [True, False, True, False]


@pytest.mark.circuit
def test_parallel_proofs_come_back_in_batch_order() -> None:
    """The demo's seven batches (one message each), two at a time: proofs in batch order,
    roots chained."""
    scenario = load_scenario(REPO / "docs" / "examples" / "demo.json")
    proofs = prove_scenario(scenario, workers=2)  # checks the last root is the model's
    # The demo: two batches of deposits, then its seven rounds.
    assert [p.batch_number for p in proofs] == list(range(len(proofs))) and len(proofs) == 9
    assert all(p.verified and p.public == p.expected_public() for p in proofs)
    for before, after in zip(proofs, proofs[1:], strict=False):
        assert before.new_root == after.old_root
