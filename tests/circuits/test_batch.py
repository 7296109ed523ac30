"""Batch(K, E, B, D, S, M): honest batches from the Python model, and its public inputs.

Default instance K=4, E=2, B=2, D=4, S=2, M=2 (tests/circuits/scenario.py). The batch's
rules, each broken by a consistent malicious witness: test_batch_tampers.py and
test_batch_gaps.py; the order of entries and fills: test_taker_once.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prover.batch_circuit import BATCH_INPUTS, batch_spec, circuit_inputs
from prover.field import SNARK_FIELD
from tests.circuits.harness import expect_count
from tests.circuits.scenario import B, D, E, K, M, S, one_order_batch, two_trader_batches

P = SNARK_FIELD
BATCH_CONSTRAINTS = 33756  # documented in docs/circuits.md and Batch.circom


@pytest.fixture(scope="module")
def honest(batch):
    """Witnesses of both scenario batches."""
    return [
        (b, batch.witness(circuit_inputs(b.witness.as_circuit_inputs())))
        for b in two_trader_batches().batches
    ]


def _inputs(n: int = 0) -> dict:
    return dict(circuit_inputs(two_trader_batches().batches[n].witness.as_circuit_inputs()))


def test_inputs_list_matches_source():
    src = (Path(__file__).resolve().parents[2] / "circuits/main/Batch.circom").read_text()
    assert tuple(re.findall(r"signal input (\w+)", src)) == BATCH_INPUTS


def test_spec():
    spec = batch_spec(K, E, B, D, S, M)
    assert spec.params == (K, E, B, D, S, M)
    assert "Batch(4, 2, 2, 4, 2, 2)" in spec.wrapper()


def test_constraint_count(batch):
    expect_count(batch, BATCH_CONSTRAINTS)


def test_honest_batches_satisfy_the_constraints(honest):
    for result, w in honest:
        assert w.ok, w.failing()
        # Public signals: wires 1..4 in declaration order.
        assert w.values[1:5] == [
            result.old_root,
            result.new_root,
            result.batch_number,
            result.params_hash,
        ]


@pytest.mark.parametrize("name", ["oldRoot", "newRoot", "batchNumber", "paramsHash"])
def test_changed_public_input_is_rejected(honest, name):
    _, w = honest[1]
    assert not w.tamper({name: w[name] + 1}).ok


def test_batch_honest_at_o0(batch0):
    assert batch0.witness(_inputs(1)).ok


def test_batch_with_unused_account_slot_and_padding(batch):
    result = one_order_batch()
    inputs = circuit_inputs(result.witness.as_circuit_inputs())
    assert [int(x) for x in inputs["accUsed"]] == [1, 1, 1, 0]
    w = batch.witness(inputs)
    assert w.ok, w.failing()
    assert w.values[1:3] == [result.old_root, result.new_root]
