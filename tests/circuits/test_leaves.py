"""PositionsHash, AccountLeaf, SlotLeaf, OrderHash against the Python model."""

from __future__ import annotations

import pytest

from prover.crypto import poseidon
from prover.exchange.constants import TAG_NODE, TAG_SLOT
from prover.exchange.domain import Account, Order, OrderSlot, Position
from prover.field import SNARK_FIELD
from tests.circuits.harness import compile_main, expect_count

P = SNARK_FIELD
ACCOUNT = Account(
    (123, 456),
    7,
    -(2**63 - 1),
    (Position(2**40 - 1, -(2**63 - 1)), Position(-(2**40 - 1), 2**63 - 1)),
)


def test_positions_hash():
    c = compile_main("lib/PositionsHash.circom", "PositionsHash(2)")
    expect_count(c, 297)
    w = c.witness(
        {
            "posSize": [encode(p.size) for p in ACCOUNT.positions],
            "posFunding": [encode(p.funding_index) for p in ACCOUNT.positions],
        }
    )
    assert w.ok and w["out"] == ACCOUNT.positions_hash()
    assert not w.tamper({"out": w["out"] + 1}).ok


def encode(v: int) -> int:
    return v % P


@pytest.mark.parametrize("orders_root", [0, 1, P - 1])
def test_account_leaf(orders_root):
    c = compile_main("lib/AccountLeaf.circom", "AccountLeaf(2)")
    expect_count(c, 651)
    w = c.witness(ACCOUNT.as_circuit_inputs(orders_root))
    assert w.ok and w["leaf"] == ACCOUNT.hash(orders_root)


def test_account_leaf_is_not_a_node_hash():
    """Domain separation: the same six... four inputs under TAG_NODE give another value."""
    fields = ACCOUNT.leaf_fields(5)
    assert poseidon(fields, init_state=2) == ACCOUNT.hash(5)
    assert poseidon(fields[:4], init_state=TAG_NODE) != ACCOUNT.hash(5)


def test_slot_leaf():
    c = compile_main("lib/SlotLeaf.circom", "SlotLeaf()")
    expect_count(c, 297)
    slot = OrderSlot(2**64 - 1, 12345, 2**32 - 1, 2**56 - 1)
    w = c.witness(
        {
            "orderId": slot.order_id,
            "orderHash": slot.order_hash,
            "filled": slot.filled,
            "seq": slot.seq,
        }
    )
    assert w.ok
    assert w["leaf"] == poseidon(
        [slot.order_id, slot.order_hash, slot.filled, slot.seq], init_state=TAG_SLOT
    )
    assert w["leaf"] == slot.hash()
    empty = c.witness({"orderId": 0, "orderHash": 0, "filled": 0, "seq": 0})
    assert empty["leaf"] == OrderSlot().hash()


def test_order_hash():
    c = compile_main("lib/OrderHash.circom", "OrderHash()")
    expect_count(c, 417)
    o = Order(2**32 - 1, 7, 1, 2**40 - 1, 2**32 - 1, 2**64 - 1, 2**40 - 1, 10**6, 2)
    w = c.witness(
        {
            "accountIndex": o.account,
            "market": o.market,
            "side": o.side,
            "price": o.price,
            "size": o.size,
            "orderId": o.order_id,
            "expiry": o.expiry,
            "maxFeePpm": o.max_fee_ppm,
            "tif": o.tif,
        }
    )
    assert w.ok and w["out"] == o.hash()
    assert not w.tamper({"out": w["out"] + 1}).ok
