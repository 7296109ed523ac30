"""HeadSlot (the order slot behind a book head) against the model's slots and orders.

The facts EntryMatch decides on (live, left) come from the maker's order slot: honest
cases for every way a head is stale (replaced, cancelled, expired, done) and live (the
expiry boundary), the writes of a fill and of a cancel. Tamper tests build the witness a
cheating operator would (a changed order body, a head rank that is not the order's, a
cancel of a slot that holds another order) and assert that only the rule's own
constraints reject it, on ``--O0`` builds.
"""

from __future__ import annotations

import pytest

from prover.exchange.booktree import order_rank
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC
from prover.exchange.domain import Order, OrderSlot, make_seq
from prover.merkle import QuadTree
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count

S = 4
T = 1_000
ACCOUNT = 7


@pytest.fixture(scope="module")
def circuit():
    return compile_main("lib/HeadSlot.circom", f"HeadSlot({S})")


@pytest.fixture(scope="module")
def circuit0():
    return compile_main("lib/HeadSlot.circom", f"HeadSlot({S})", optimize=0)


@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_count_at_the_production_size():
    expect_count(compile_main("lib/HeadSlot.circom", "HeadSlot(8)"), 3577)


def _order(
    order_id: int = 5, side: int = SIDE_SELL, price: int = 100, size: int = 4, expiry: int = T + 10
):
    return Order(ACCOUNT, 1, side, price, size, order_id, expiry, 500, TIF_GTC)


class Slots:
    """One account's slot tree, as ExchangeState keeps it."""

    def __init__(self) -> None:
        self.tree = QuadTree(S, OrderSlot().hash())
        self.slots: dict[int, OrderSlot] = {}

    def put(self, order_id: int, order_hash: int, filled: int, seq: int) -> OrderSlot:
        slot = OrderSlot(order_id, order_hash, filled, seq)
        self.slots[order_id % (1 << S)] = slot
        self.tree.set(order_id % (1 << S), slot.hash())
        return slot

    def inputs(self, head: Order, body: Order, *, qty=0, cancel=0, act=1):
        slot_no = head.order_id % (1 << S)
        slot = self.slots.get(slot_no, OrderSlot())
        return {
            "act": act,
            "cancel": cancel,
            "qty": qty,
            "timestamp": T,
            "bookMarket": head.market,
            "bookSide": head.side,
            "makerAccountIndex": ACCOUNT,
            "makerOrderId": head.order_id,
            "makerOrdersRoot": self.tree.root,
            "slotOrderId": slot.order_id,
            "slotOrderHash": slot.order_hash,
            "slotFilled": slot.filled,
            "slotSeq": slot.seq,
            "slotSiblings": [list(lv) for lv in self.tree.prove(slot_no).siblings],
            "market": body.market,
            "side": body.side,
            "price": body.price,
            "size": body.size,
            "expiry": body.expiry,
            "maxFeePpm": body.max_fee_ppm,
            "tif": body.tif,
        }

    def root_after(self, order_id: int, filled: int) -> int:
        slot = self.slots[order_id % (1 << S)]
        tree = self.tree.copy()
        tree.set(
            order_id % (1 << S), OrderSlot(slot.order_id, slot.order_hash, filled, slot.seq).hash()
        )
        return tree.root


SEQ = make_seq(3, 1)


def _live_slots(order: Order, filled: int = 1) -> Slots:
    slots = Slots()
    slots.put(order.order_id, order.hash(), filled, SEQ)
    slots.put(order.order_id + 1, 0, 0, make_seq(3, 2))  # a neighbour slot, a cancel
    return slots


@pytest.mark.parametrize("side", [SIDE_BUY, SIDE_SELL])
def test_live_head_fill_writes_filled_plus_qty(circuit, side):
    order = _order(side=side)
    slots = _live_slots(order)
    w = circuit.witness(slots.inputs(order, order, qty=2))
    assert w.ok, w.failing()
    assert (w["live"], w["left"]) == (1, 3)
    assert w["rank"] == order_rank(side, order.price, SEQ)
    assert w["ordersRootAfter"] == slots.root_after(order.order_id, 3)


def test_cancel_marks_the_order_done(circuit):
    order = _order()
    slots = _live_slots(order)
    w = circuit.witness(slots.inputs(order, order, cancel=1))
    assert w.ok, w.failing()
    assert w["ordersRootAfter"] == slots.root_after(order.order_id, order.size)


def test_expiry_at_the_batch_time_is_live(circuit):
    order = _order(expiry=T)
    w = circuit.witness(_live_slots(order).inputs(order, order))
    assert w.ok and w["live"] == 1


@pytest.mark.parametrize("case", ["replaced", "cancelled", "expired", "done", "never-written"])
def test_stale_heads(circuit, case):
    order = _order()
    slots = Slots()
    body = order
    if case == "replaced":  # a larger id of the same slot took it
        newer = _order(order_id=order.order_id + (1 << S))
        slots.put(newer.order_id, newer.hash(), 0, SEQ + 1)
        body = newer
    elif case == "cancelled":
        slots.put(order.order_id + (1 << S), 0, 0, SEQ + 1)
    elif case == "expired":
        body = order = _order(expiry=T - 1)
        slots.put(order.order_id, order.hash(), 0, SEQ)
    elif case == "done":
        slots.put(order.order_id, order.hash(), order.size, SEQ)
    w = circuit.witness(slots.inputs(order, body))
    assert w.ok, w.failing()
    assert (w["live"], w["left"], w["rank"]) == (0, 0, 0)
    assert w["ordersRootAfter"] == slots.tree.root


def test_idle_step_checks_nothing(circuit):
    order = _order()
    slots = _live_slots(order)
    inputs = slots.inputs(order, order, act=0)
    inputs.update({"makerOrderId": 2**80, "slotOrderId": 9, "expiry": 2**70, "price": 3})
    w = circuit.witness(inputs)
    assert w.ok, w.failing()
    assert w["live"] == 0 and w["ordersRootAfter"] == slots.tree.root


def test_expired_order_cannot_be_revived_by_another_body(circuit0):
    order = _order(expiry=T - 1)
    slots = _live_slots(order)
    revived = _order(expiry=T + 5)
    circuit0.witness(slots.inputs(order, revived)).assert_rejected_only_by(
        "main.holds", "main.body"
    )


def test_order_cannot_grow_to_fill_more(circuit0):
    order = _order(size=4)
    slots = _live_slots(order, filled=3)
    bigger = _order(size=9)
    circuit0.witness(slots.inputs(order, bigger, qty=5)).assert_rejected_only_by(
        "main.holds", "main.body"
    )


def test_head_must_be_of_the_book_side(circuit0):
    order = _order(side=SIDE_SELL)
    slots = _live_slots(order)
    inputs = slots.inputs(order, order, qty=1)
    inputs["bookSide"] = SIDE_BUY
    circuit0.witness(inputs).assert_rejected_only_by("main.live", "main.side", "main.bookSide")


def test_head_must_be_of_the_book_market(circuit0):
    order = _order()
    slots = _live_slots(order)
    inputs = slots.inputs(order, order, qty=1)
    inputs["bookMarket"] = 0
    circuit0.witness(inputs).assert_rejected_only_by("main.live", "main.market", "main.bookMarket")


def test_stale_slot_cannot_be_cancelled_or_filled(circuit0):
    """Marking a replaced order's slot done would close the newer order in it."""
    order = _order()
    newer = _order(order_id=order.order_id + (1 << S))
    slots = Slots()
    slots.put(newer.order_id, newer.hash(), 0, SEQ + 1)
    circuit0.witness(slots.inputs(order, newer, cancel=1)).assert_rejected_only_by(
        "main.cancel", "main.live"
    )
    circuit0.witness(slots.inputs(order, newer, qty=1)).assert_rejected_only_by(
        "main.qty", "main.live"
    )


def test_slot_is_opened_at_the_order_ids_index(circuit0):
    order = _order()
    slots = _live_slots(order)
    inputs = slots.inputs(order, order)
    # Open the neighbour slot (a real opening) as if it were this order's.
    neighbour = slots.slots[(order.order_id + 1) % (1 << S)]
    inputs.update(
        {
            "slotOrderId": neighbour.order_id,
            "slotOrderHash": neighbour.order_hash,
            "slotFilled": neighbour.filled,
            "slotSeq": neighbour.seq,
            "slotSiblings": [
                list(lv) for lv in slots.tree.prove((order.order_id + 1) % (1 << S)).siblings
            ],
        }
    )
    circuit0.witness(inputs).assert_rejected_only_by("main.write", "main.makerOrdersRoot")


@pytest.mark.parametrize("flag", ["act", "cancel"])
def test_act_and_cancel_are_bits(circuit0, flag):
    """EntryMatch feeds both as bits; HeadSlot asserts it itself (a 2 would scale the slot
    write). Written for the mutation run's two survivors: it kills the `cancel` one; a
    non-bit `act` here also breaks the write's opening, so dropping `act`'s booleanity
    still survives at the template (docs/circuits.md: equivalent in BatchBook, where
    EntryMatch's stepAct is a bit)."""
    order = _order()
    slots = _live_slots(order)
    inputs = slots.inputs(order, order, **{flag: 2})
    circuit0.witness(inputs).assert_rejected_only_by(f"main.{flag}")
