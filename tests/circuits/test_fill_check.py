"""FillCheck(S, M): the fill rules of protocol section 7 step 4, on fills from the model.

Tamper tests change one rule-relevant field of an honest fill and then *repair*
everything else the way a cheating operator would (the maker's order hash in its slot, the
slot leaf and the account's order root), so the only broken thing is the rule under test.
They run on an ``--O0`` build; every signal is the circuit's own computation, and the
test asserts that every violated constraint is the rule's (``assert_rejected_only_by``).

The taker's own rules (its signature, expiry, fee cap, and that its fills stay within its
size) are checked when it enters (``OrderEntry``) and by the batch (the sum of its fills
is the ``filled`` its entry wrote): ``test_order_entry.py`` and ``test_batch.py``.
"""

from __future__ import annotations

import pytest

from prover.exchange.constants import TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import Order, OrderSlot
from prover.merkle import compute_root
from tests.circuits.harness import compile_main, expect_count
from tests.circuits.scenario import M, S, fill_inputs

FIELDS = ("market", "side", "price", "size", "orderId", "expiry", "maxFeePpm", "tif")


@pytest.fixture(scope="module")
def fill():
    return compile_main("lib/FillCheck.circom", f"FillCheck({S}, {M})")


@pytest.fixture(scope="module")
def fill0():
    return compile_main("lib/FillCheck.circom", f"FillCheck({S}, {M})", optimize=0)


def reslot(inputs: dict, side: str = "maker") -> dict:
    """Recompute ``side``'s order hash, slot leaf and order root from its fields."""
    v = {k: int(x) if not isinstance(x, list) else x for k, x in inputs.items()}
    order = Order(v[f"{side}AccountIndex"], *(v[f"{side}{f[0].upper()}{f[1:]}"] for f in FIELDS))
    slot = OrderSlot(order.order_id, order.hash(), v[f"{side}SlotFilled"], v[f"{side}SlotSeq"])
    siblings = tuple(tuple(int(s) for s in level) for level in inputs[f"{side}SlotSiblings"])
    out = dict(inputs)
    out[f"{side}SlotOrderId"] = order.order_id
    out[f"{side}SlotOrderHash"] = slot.order_hash
    out[f"{side}OrdersRoot"] = compute_root(slot.hash(), order.order_id % (1 << S), siblings)
    return out


def test_constraint_count(fill):
    expect_count(fill, 2229)


@pytest.mark.parametrize(("batch", "f"), [(0, 0), (0, 1), (1, 0), (1, 1)])
def test_honest_fills_match_model(fill, batch, f):
    inputs, expected = fill_inputs(batch, f)
    w = fill.witness(inputs)
    assert w.ok, w.failing()
    for name, value in expected.items():
        assert w[name] == value, name


def test_reslot_is_a_no_op_on_honest_data(fill0):
    inputs, _ = fill_inputs(0, 0)
    assert fill0.accepts(reslot(inputs))


def _tampered(fill0, batch: int, changes: dict, reslot_sides=("maker",)):
    inputs, _ = fill_inputs(batch, 0)
    inputs = dict(inputs)
    inputs.update(changes)
    for side in reslot_sides:
        inputs = reslot(inputs, side)
    return fill0.witness(inputs)


TAMPERS = [
    # name, batch, changes, signal that must appear in a violated constraint
    ("overfill", 0, {"qty": 51}, "main.makerRoom"),  # maker size 50
    ("overfill of a part-filled maker", 0, {"makerSlotFilled": 21}, "main.makerRoom"),
    ("no cross", 0, {"makerPrice": 1020, "price": 1020}, "main.cross"),  # buy 1010 < sell 1020
    ("wrong fill price", 0, {"price": 1010}, "main.price"),
    ("maker expired", 0, {"makerExpiry": 999}, "main.makerLive"),  # t = 1000
    ("wrong market", 0, {"makerMarket": 1}, "main.makerMarket"),
    ("same side", 0, {"makerSide": 0}, "main.makerSide"),
    ("taker post-only", 0, {"takerTif": TIF_POST_ONLY}, "main.takerNotPostOnly"),
    ("maker IOC", 0, {"makerTif": TIF_IOC}, "main.makerNotIoc"),
    ("same account", 0, {"makerAccountIndex": 3}, "main.accountGapInverse"),
    ("maker after taker", 0, {"makerSlotSeq": 2}, "main.makerFirst"),  # taker seq 1
    ("maker in the taker's entry", 1, {"makerSlotSeq": 65536 + 1}, "main.makerFirst"),
    ("maker fee above cap", 0, {"makerMaxFeePpm": 199}, "main.makerCap"),  # maker fee 200
    ("zero quantity", 0, {"qty": 0}, "main.qtyNonZero"),
]


@pytest.mark.parametrize(
    ("name", "batch", "changes", "signal"), TAMPERS, ids=[t[0] for t in TAMPERS]
)
def test_tampered_fill_is_rejected_by_its_rule(fill0, name, batch, changes, signal):
    w = _tampered(fill0, batch, changes)
    w.assert_rejected_only_by(signal)


def test_order_not_in_its_slot_is_rejected(fill0):
    """Change the maker's size without repairing the slot: the order hash binding fails."""
    w = _tampered(fill0, 0, {"makerSize": 1000}, reslot_sides=())
    w.assert_rejected_only_by("main.makerSlotOrderHash")


def test_stale_orders_root_is_rejected(fill0):
    inputs, _ = fill_inputs(0, 0)
    inputs = dict(inputs, makerOrdersRoot=int(inputs["makerOrdersRoot"]) + 1)
    w = fill0.witness(inputs)
    w.assert_rejected_only_by("main.makerOrdersRoot")


def test_padding_fill_cannot_move_quantity(fill0):
    inputs, _ = fill_inputs(0, 1)
    assert int(inputs["used"]) == 0
    assert fill0.accepts(inputs)
    w = fill0.witness(dict(inputs, qty=1))
    assert not w.ok
