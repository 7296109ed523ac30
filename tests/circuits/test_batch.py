"""Batch(K, E, B, D, S, M): honest batches from the Python model, and its public inputs.

Default instance K=4, E=2, B=2, D=4, S=2, M=2 (tests/circuits/scenario.py). The batch's
rules, each broken by a consistent malicious witness: test_batch_tampers.py and
test_batch_gaps.py; the order of entries and fills: test_taker_once.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prover.field import SNARK_FIELD
from prover.proving.batch_circuit import BATCH_INPUTS, batch_spec, circuit_inputs
from tests.circuits.harness import expect_count
from tests.circuits.scenario import B, D, E, K, M, S, one_order_batch, two_trader_batches

P = SNARK_FIELD
BATCH_CONSTRAINTS = 48827  # documented in docs/circuits.md and Batch.circom


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
        # Public signals: wires 1..6 in declaration order.
        assert w.values[1:7] == [
            result.old_root,
            result.new_root,
            result.batch_info,
            result.config_hash,
            result.witness.inbox_before,
            result.witness.inbox_after,
        ]


@pytest.mark.parametrize(
    "name", ["oldRoot", "newRoot", "batchInfo", "configHash", "inboxBefore", "inboxAfter"]
)
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


def test_the_circuit_computes_what_the_model_does(batch0):
    """In honest witnesses, every value the model records for a fill (both sides'
    collateral and position before and after it, both fees, the fee account's collateral
    after the fee credit) and every account slot's funding payment and funded collateral
    are the circuit's own signals, and so is the value each range and margin check of the
    fill reads. The roots alone would not show a value that only feeds a check (a margin
    or a range check) being off: a prover free to choose it would pass the check with a
    made-up number (mutation testing found two such: the maker's position after the fill,
    read only by its margin check, and the taker's collateral as its range check reads it).
    """
    checked = 0
    for result in two_trader_batches().batches:
        bw = result.witness
        w = batch0.witness(circuit_inputs(bw.as_circuit_inputs()))
        assert w.ok, w.failing()
        for f, fw in enumerate(bw.fills):
            if not fw.used:
                continue
            m = fw.fill.market
            want = {
                f"fill[{f}].takerFee": fw.taker_fee,
                f"fill[{f}].makerFee": fw.maker_fee,
                f"coll[{f + 1}][0]": fw.fee_collateral_after,
                f"feeCollRange[{f}].in": fw.fee_collateral_after,
            }
            for side, name in ((fw.taker, "taker"), (fw.maker, "maker")):
                want |= {
                    f"{name}CollAfter[{f}]": side.collateral_after,
                    f"{name}CollRange[{f}].in": side.collateral_after,
                    f"{name}PosAfter[{f}][{m}]": side.position_after,
                    f"{name}Margin[{f}].collBefore": side.collateral_before,
                    f"{name}Margin[{f}].collAfter": side.collateral_after,
                    f"{name}Margin[{f}].posBefore[{m}]": side.position_before,
                    f"{name}Margin[{f}].posAfter[{m}]": side.position_after,
                    f"coll[{f + 1}][{side.account_slot}]": side.collateral_after
                    + (fw.taker_fee + fw.maker_fee if side.account_slot == 0 else 0),
                    f"pos[{f + 1}][{side.account_slot}][{m}]": side.position_after,
                }
            for name, value in want.items():
                assert w[name] == value % P, (f, name, w[name], value)
            checked += 1
        for k, a in enumerate(bw.accounts):
            if a.used:
                assert w[f"payment[{k}]"] == a.funding_payment % P, k
                assert w[f"collFunded[{k}]"] == a.funded_collateral % P, k
                assert w[f"collFundedRange[{k}].in"] == a.funded_collateral % P, k
    assert checked >= 2
