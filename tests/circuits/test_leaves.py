"""PositionsHash, AccountLeaf, SlotLeaf, OrderHash against the Python model."""

from __future__ import annotations

import pytest

from prover.crypto import poseidon
from prover.exchange.constants import TAG_POSITIONS, TAG_SLOT
from prover.exchange.domain import Account, Order, OrderSlot, Position
from prover.field import SNARK_FIELD
from prover.merkle import QuadTree, hash_node
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


@pytest.fixture(scope="module")
def four_input_hashes():
    """The circuits that hash four field elements: a slot leaf, the positions of M = 2
    markets, and an inner node (one QuadMerkleRoot level: its root is H_NODE(children))."""
    return (
        compile_main("lib/SlotLeaf.circom", "SlotLeaf()"),
        compile_main("lib/PositionsHash.circom", "PositionsHash(2)"),
        compile_main("lib/QuadMerkleRoot.circom", "QuadMerkleRoot(1)"),
    )


def test_four_input_hashes_are_separated(four_input_hashes):
    """Domain separation (protocol section 1): the same four values hashed as a slot leaf,
    as positions and as an inner node give three different results, each the model's
    tagged hash. So an inner node (its four children) is never a valid slot leaf or
    positions hash and the other way round; the test fails if two templates share a tag.
    The four values are the children of a real node: leaf 1 of a tree and its siblings."""
    slot_c, positions_c, node_c = four_input_hashes
    tree = QuadTree(2, empty_leaf=7)
    for i, leaf in enumerate((11, 22, 33, 44)):
        tree.set(i, leaf)
    children = [11, 22, 33, 44]
    assert tree.root == hash_node(children)
    names = ("orderId", "orderHash", "filled", "seq")
    slot = slot_c.witness(dict(zip(names, children, strict=True)))
    positions = positions_c.witness({"posSize": children[0::2], "posFunding": children[1::2]})
    proof = tree.prove(1)
    node = node_c.witness(proof.as_circuit_inputs())
    assert slot.ok and positions.ok and node.ok
    assert node["root"] == tree.root
    assert slot["leaf"] == poseidon(children, init_state=TAG_SLOT)
    assert positions["out"] == poseidon(children, init_state=TAG_POSITIONS)
    assert len({slot["leaf"], positions["out"], node["root"]}) == 3


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
