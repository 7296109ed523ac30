"""An honest batch, proven and verified with Groth16 (slow: setup of ~37k constraints).

Run with ``pytest -m slow tests/circuits/test_batch_proof.py``. Uses the build cache of
prover/proving/circuit.py and the development ptau in ../shared/ptau (or $ZKMATCH_PTAU_DIR).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from prover.proving.batch_circuit import batch_spec, circuit_inputs
from prover.proving.circuit import build, prove, verify
from tests.circuits.scenario import B, D, E, K, M, S, two_trader_batches

pytestmark = pytest.mark.slow

SHARED_PTAU = Path(__file__).resolve().parents[3] / "shared" / "ptau" / "dev_16.ptau"


def _ptau() -> Path | None:
    if os.environ.get("ZKMATCH_PTAU_DIR"):
        return None
    return SHARED_PTAU if SHARED_PTAU.is_file() else None


def test_honest_batch_proof_verifies():
    artifacts = build(batch_spec(K, E, B, D, S, M), ptau=_ptau())
    for result in two_trader_batches().batches:
        proof = prove(artifacts, circuit_inputs(result.witness.as_circuit_inputs()))
        assert [int(x) for x in proof.public] == [
            result.old_root,
            result.new_root,
            result.batch_info,
            result.config_hash,
        ]
        assert verify(artifacts, proof.proof, proof.public)
        # A changed public input does not verify.
        bad = list(proof.public)
        bad[1] = str(int(bad[1]) + 1)
        assert not verify(artifacts, proof.proof, bad)
