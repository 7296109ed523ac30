"""Batch(K, E, B, D, S, M): honest batches from the Python model, and tampered ones.

Default instance K=4, E=2, B=2, D=4, S=2, M=2 (tests/circuits/scenario.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from prover.batch_circuit import BATCH_INPUTS, batch_spec, circuit_inputs
from prover.field import SNARK_FIELD
from tests.circuits.scenario import B, D, E, K, M, S, one_order_batch, two_trader_batches

P = SNARK_FIELD
BATCH_CONSTRAINTS = 33624  # documented in docs/circuits.md


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
    assert batch.n_constraints == BATCH_CONSTRAINTS


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


def _rejects(batch, inputs) -> bool:
    return not batch.accepts(inputs)


def test_overfill_is_rejected(batch):
    inputs = _inputs(0)
    inputs["fillQty"] = list(inputs["fillQty"])
    inputs["fillQty"][0] = str(31)  # taker size 30
    assert _rejects(batch, inputs)


def test_wrong_fill_price_is_rejected(batch):
    inputs = _inputs(0)
    inputs["fillPrice"] = list(inputs["fillPrice"])
    inputs["fillPrice"][0] = str(1010)  # taker's price, not the maker's 1000
    assert _rejects(batch, inputs)


def test_bad_signature_is_rejected(batch):
    inputs = _inputs(0)
    inputs["entrySigS"] = list(inputs["entrySigS"])
    inputs["entrySigS"][1] = str(int(inputs["entrySigS"][1]) + 1)
    assert _rejects(batch, inputs)


def test_signature_s_plus_subgroup_order_is_rejected(batch):
    from prover.crypto.babyjub import SUBORDER

    inputs = _inputs(0)
    inputs["entrySigS"] = list(inputs["entrySigS"])
    inputs["entrySigS"][0] = str(int(inputs["entrySigS"][0]) + SUBORDER)
    assert _rejects(batch, inputs)


def test_account_slot_out_of_range_is_rejected(batch):
    inputs = _inputs(0)
    inputs["fillMakerAccountSlot"] = list(inputs["fillMakerAccountSlot"])
    inputs["fillMakerAccountSlot"][0] = str(K)
    assert _rejects(batch, inputs)


def test_opened_collateral_cannot_be_changed(batch0):
    """A trader's opening collateral replaced by p - 1 (-1) or by 2^63: rejected (the leaf
    no longer opens in oldRoot; 2^63 also fails the collateral range after funding)."""
    for bad, rule in ((P - 1, None), (2**63, "main.collFundedRange[2]")):
        inputs = _inputs(0)
        inputs["accCollateral"] = list(inputs["accCollateral"])
        inputs["accCollateral"][2] = str(bad)
        w = batch0.witness(inputs)
        assert not w.ok
        if rule:
            assert w.rejected_by(rule)


# --- rejections pinned to their rule (--O0 build) -----------------------------------------
# The witness generator runs on the tampered inputs without aborting at failed checks (it
# computes nothing after the first one, see harness.py); the test asserts that the *rule's
# own* constraints are among the violated ones.

BATCH_TAMPERS = [
    # name, batch, input, index, new value, signal in a violated constraint
    ("taker fill not summed into its entry", 0, "fillQty", 0, 31, "main.entryFilled[1]"),
    ("entry's filled not its fills' sum", 0, "entryFilled", 1, 29, "main.entryFilled[1]"),
    ("unused entry as taker", 0, "entryUsed", 1, 0, "main.takerEntryUsed[0]"),
    ("taker entry out of range", 0, "fillTakerEntry", 0, E, "main.takerEntrySel[0]"),
    ("wrong fill price", 0, "fillPrice", 0, 1010, "main.fill[0].price"),
    ("bad signature", 0, "entrySigS", 1, None, "main.entry[1].sig"),
    ("unused fill moves quantity", 0, "fillQty", 1, 1, "main.fill[1].qty"),
    ("entry by an unknown slot", 1, "entryAccountSlot", 0, K, "main.entrySel[0]"),
    ("insurance fund trades", 0, "fillMakerAccountSlot", 0, 1, "main.makerSel[0]"),
    # Phase 1: no account is opened twice (strictly increasing indices), slot 0 is the
    # fee account, used slots form a prefix.
    ("account opened twice", 0, "accIndex", 3, 2, "main.increasing[2]"),
    ("slot 0 is not the fee account", 0, "accIndex", 0, 2, "main.accIndex[0]"),
    ("used slot after an unused one", 0, "accUsed", 2, 0, "main.accUsed[2]"),
]


@pytest.mark.parametrize(
    ("name", "n", "field", "index", "value", "signal"),
    BATCH_TAMPERS,
    ids=[t[0] for t in BATCH_TAMPERS],
)
def test_batch_tamper_rejected_by_its_rule(batch0, name, n, field, index, value, signal):
    inputs = _inputs(n)
    inputs[field] = list(inputs[field])
    if value is None:
        value = int(inputs[field][index]) + 1
    inputs[field][index] = str(value)
    w = batch0.witness(inputs)
    assert not w.ok
    assert w.rejected_by(signal), sorted(n for n in w.failing_signals() if signal[:12] in n)[:20]


def test_consistent_overfill_is_rejected_by_the_size_bound(batch0):
    """The fill and its entry's ``filled`` both say 31 of a 30-lot order: the sum holds,
    the entry's bound ``filled <= size`` does not."""
    inputs = _inputs(0)
    for field in ("fillQty", "entryFilled"):
        inputs[field] = list(inputs[field])
    assert inputs["fillTakerEntry"][0] == "1" and inputs["entrySize"][1] == "30"
    inputs["fillQty"][0] = inputs["entryFilled"][1] = "31"
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.entry[1].filledRoom")


def test_cancel_as_taker_is_rejected(batch0):
    inputs = dict(circuit_inputs(one_order_batch().witness.as_circuit_inputs()))
    assert inputs["entryIsCancel"] == ["0", "1"]
    for field in ("fillUsed", "fillTakerEntry"):
        inputs[field] = list(inputs[field])
    inputs["fillUsed"][0], inputs["fillTakerEntry"][0] = "1", "1"
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.takerEntryCancel[0]")


def test_batch_honest_at_o0(batch0):
    assert batch0.witness(_inputs(1)).ok


def test_batch_with_unused_account_slot_and_padding(batch):
    result = one_order_batch()
    inputs = circuit_inputs(result.witness.as_circuit_inputs())
    assert [int(x) for x in inputs["accUsed"]] == [1, 1, 1, 0]
    w = batch.witness(inputs)
    assert w.ok, w.failing()
    assert w.values[1:3] == [result.old_root, result.new_root]


def test_entry_in_unused_account_slot_is_rejected(batch0):
    inputs = dict(circuit_inputs(one_order_batch().witness.as_circuit_inputs()))
    inputs["entryAccountSlot"] = list(inputs["entryAccountSlot"])
    inputs["entryAccountSlot"][0] = "3"
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.entryUsedSlot[0]")
