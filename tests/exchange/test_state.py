"""Exchange state: trees, empty leaves, slots, proofs, copy-on-write, persistence (§3, §4)."""

from __future__ import annotations

import pytest

import prover.exchange.domain as domain_module
import prover.merkle as merkle_module
from prover.crypto import poseidon
from prover.crypto.eddsa import PrivateKey
from prover.errors import ProtocolError
from prover.exchange.constants import TAG_NODE
from prover.exchange.domain import (
    EMPTY_SLOT,
    Account,
    Market,
    Order,
    OrderRejected,
    OrderSlot,
    Position,
    Reject,
)
from prover.exchange.state import ExchangeState, empty_account_leaf, empty_orders_root

MARKETS = (Market(0, 1, 1000, 500, 200, 500), Market(1, 1, 2000, 1000, 0, 1000))
FEE_KEY = PrivateKey.from_seed("state-test:fee").public_key
INS_KEY = PrivateKey.from_seed("state-test:insurance").public_key
OTHER_KEY = PrivateKey.from_seed("state-test:other").public_key


def key(n: int) -> tuple[int, int]:
    """A valid public key, distinct per ``n``."""
    return PrivateKey.from_seed(f"state-test:{n}").public_key


def make_state(account_bits: int = 4, slot_bits: int = 2) -> ExchangeState:
    return ExchangeState(
        MARKETS, account_bits, slot_bits, fee_pubkey=FEE_KEY, insurance_pubkey=INS_KEY
    )


def resting(account: int, order_id: int, seq: int = 5) -> tuple[OrderSlot, Order]:
    o = Order(account, 0, 0, 100, 10, order_id, 10**6, 500, 0)
    return OrderSlot(order_id, o.hash(), 0, seq), o


def test_empty_leaves_by_hand() -> None:
    empty_slot = poseidon([0, 0, 0, 0], init_state=5)
    level1 = poseidon([empty_slot] * 4, init_state=TAG_NODE)
    assert empty_orders_root(2) == level1
    assert empty_orders_root(4) == poseidon([level1] * 4, init_state=TAG_NODE)
    zero = Account.zero(2)
    assert empty_account_leaf(2, 2) == zero.hash(level1)


def test_root_of_a_two_bit_tree_by_hand() -> None:
    state = ExchangeState(MARKETS, 2, 2, fee_pubkey=FEE_KEY, insurance_pubkey=INS_KEY)
    orders = empty_orders_root(2)
    fee = Account.new(FEE_KEY, 0, 2).hash(orders)
    ins = Account.new(INS_KEY, 0, 2).hash(orders)
    empty = empty_account_leaf(2, 2)
    assert state.root == poseidon([fee, ins, empty, empty], init_state=TAG_NODE)
    state.create_account(3, key(56), 42)
    acct3 = Account.new(key(56), 42, 2).hash(orders)
    assert state.root == poseidon([fee, ins, empty, acct3], init_state=TAG_NODE)


def test_special_accounts_exist() -> None:
    state = make_state()
    assert state.account(0).pubkey == FEE_KEY
    assert state.account(1).pubkey == INS_KEY
    assert len(state) == 2 and list(state) == [0, 1]
    default = ExchangeState(MARKETS, 4, 2)
    assert default.account(0).pubkey == (0, 0)
    # A keyless, empty fee account hashes to the empty leaf, yet exists.
    assert default.leaf(0) == default.empty_leaf and default.exists(0)


def test_unknown_accounts_and_bad_indices() -> None:
    state = make_state()
    for index in (2, 15):
        with pytest.raises(OrderRejected) as info:
            state.account(index)
        assert info.value.reason is Reject.UNKNOWN_ACCOUNT
    for index in (16, -1):
        with pytest.raises(OrderRejected):
            state.account(index)
        with pytest.raises(ProtocolError):
            state.create_account(index, key(11), 0)
    state.create_account(15, key(11), 0)
    with pytest.raises(ProtocolError):
        state.create_account(15, key(11), 0)
    with pytest.raises(OrderRejected):
        state.slot(3, 0)
    assert state.order(3, 1) is None


@pytest.mark.parametrize(("account_bits", "slot_bits"), [(2, 2), (4, 4), (8, 2)])
def test_construction_validates_depths(account_bits: int, slot_bits: int) -> None:
    ExchangeState(MARKETS, account_bits, slot_bits)


@pytest.mark.parametrize(("account_bits", "slot_bits"), [(3, 2), (34, 2), (4, 1), (4, 18), (0, 2)])
def test_construction_rejects_bad_depths(account_bits: int, slot_bits: int) -> None:
    with pytest.raises(ProtocolError):
        ExchangeState(MARKETS, account_bits, slot_bits)


def test_bad_markets() -> None:
    with pytest.raises(ProtocolError):
        ExchangeState((), 4, 2)
    with pytest.raises(ProtocolError):
        ExchangeState((MARKETS[1],), 4, 2)  # id 1 at position 0


def test_slots_orders_and_proofs() -> None:
    state = make_state(4, 4)
    state.create_account(5, OTHER_KEY, 1000)
    slot, order = resting(5, 0x23)
    state.set_slot(5, 3, slot, order)
    assert state.slot(5, 3) == slot
    assert state.slot(5, 4) == EMPTY_SLOT
    assert state.order(5, 0x23) == order
    assert state.order(5, 0x13) is None  # same slot, different id
    assert state.open_orders(5) == [order]
    proof = state.slot_proof(5, 3)
    assert proof.leaf == slot.hash() and proof.root() == state.orders_root(5)
    acct_proof = state.account_proof(5)
    assert acct_proof.root() == state.root
    assert acct_proof.leaf == state.account(5).hash(state.orders_root(5))
    # A cancel (hash 0) closes the slot.
    state.set_slot(5, 3, OrderSlot(0x33, 0, 0, 9))
    assert state.order(5, 0x23) is None and state.open_orders(5) == []
    assert state.account_proof(5).root() == state.root
    with pytest.raises(ProtocolError):
        state.set_slot(5, 3, slot)  # open slot without its order
    with pytest.raises(ProtocolError):
        state.set_slot(5, 2, slot, order)  # id in the wrong slot
    with pytest.raises(ProtocolError):
        state.slot(5, 16)


def test_deposit_and_set_account() -> None:
    state = make_state()
    state.create_account(2, key(11), 10)
    state.deposit(2, 5)
    assert state.account(2).collateral == 15
    with pytest.raises(ProtocolError):
        state.deposit(2, 0)
    with pytest.raises(ProtocolError):
        state.set_account(2, Account.new((1, 1), 0, 1))  # wrong number of positions
    assert state.total_collateral() == 15


def test_deferred_writes_make_root_stale_until_synced() -> None:
    state = make_state()
    state.create_account(2, key(11), 10)
    state.set_account(2, state.account(2).with_collateral(20), sync=False)
    with pytest.raises(ProtocolError):
        _ = state.root
    stored = state.stored_root
    proof = state.sync(2)
    assert proof.root() == stored
    assert state.account_proof(2).root() == state.root != stored


def test_root_depends_only_on_contents() -> None:
    a, b = make_state(), make_state()
    slot, order = resting(3, 6)
    a.create_account(2, key(11), 10)
    a.create_account(3, key(22), 20)
    a.set_slot(3, 2, slot, order)
    b.create_account(3, key(22), 0)
    b.set_slot(3, 2, slot, order)
    b.create_account(2, key(11), 10)
    b.deposit(3, 20)
    assert a.root == b.root


def test_copy_is_independent_both_ways() -> None:
    state = make_state()
    state.create_account(2, key(11), 10)
    slot, order = resting(2, 5)
    state.set_slot(2, 1, slot, order)
    root = state.root
    copy = state.copy()
    assert copy.root == root
    copy.deposit(2, 1)
    copy.set_slot(2, 1, OrderSlot(9, 0, 0, 7))
    copy.create_account(4, key(33), 0)
    assert state.root == root and state.account(2).collateral == 10
    assert state.order(2, 5) == order and not state.exists(4)
    # And writes to the original do not leak into the copy.
    copy_root = copy.root
    state.set_slot(2, 2, *resting(2, 6))
    state.deposit(2, 100)
    assert copy.root == copy_root and copy.order(2, 6) is None


def _count_hashes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    counter = [0]

    def counting(inputs: list[int], init_state: int = 0) -> int:
        counter[0] += 1
        return poseidon(inputs, init_state=init_state)

    monkeypatch.setattr(merkle_module, "poseidon", counting)
    monkeypatch.setattr(domain_module, "poseidon", counting)
    return counter


def test_every_write_rehashes_only_its_path(monkeypatch: pytest.MonkeyPatch) -> None:
    state = make_state(8, 4)  # 4 account levels, 2 slot levels
    state.create_account(2, key(11), 10)
    slot, order = resting(2, 5)
    order.hash()  # memoised before counting
    counter = _count_hashes(monkeypatch)
    state.set_slot(2, 5, slot, order)
    # slot leaf + 2 slot levels + positions + account leaf + 4 account levels
    assert counter[0] == 1 + 2 + 1 + 1 + 4
    counter[0] = 0
    state.deposit(2, 1)
    assert counter[0] == 1 + 1 + 4


def test_json_round_trip_reproduces_root() -> None:
    state = make_state(4, 4)
    state.create_account(2, key(11), 10)
    state.create_account(9, key(22), -5)
    state.set_account(9, Account(key(22), 3, -5, (Position(-7, 11), Position(2, -3))))
    state.set_slot(9, 4, *resting(9, 4))
    state.set_slot(9, 7, OrderSlot(7, 0, 0, 3))
    state.set_account(0, state.account(0).with_collateral(99))
    data = state.to_json()
    again = ExchangeState.from_json(data)
    assert again.root == state.root
    assert again.accounts() == state.accounts()
    assert again.slots(9) == state.slots(9)
    assert again.order(9, 4) == state.order(9, 4)
    assert again.to_json() == data


def test_json_detects_tampering() -> None:
    state = make_state()
    state.create_account(2, key(11), 10)
    state.set_slot(2, 1, *resting(2, 5))
    data = state.to_json()
    data["accounts"][2]["collateral"] = "11"
    with pytest.raises(ProtocolError):
        ExchangeState.from_json(data)
    data = state.to_json()
    data["accounts"][2]["slots"][0]["order"]["price"] = "101"
    with pytest.raises(ProtocolError):
        ExchangeState.from_json(data)
    data = state.to_json()
    del data["accounts"][0]
    with pytest.raises(ProtocolError):
        ExchangeState.from_json(data)


def test_create_account_rejects_key_outside_subgroup() -> None:
    """A key of the form A + (small-order point) would pass circomlib's verifier."""
    from prover.crypto import babyjub, eddsa
    from prover.errors import ProtocolError as _ProtocolError
    from prover.exchange.domain import Market as _Market
    from prover.exchange.state import ExchangeState as _ExchangeState

    state = _ExchangeState(
        [_Market(0, 1, 1000, 500, 0, 0)], account_bits=4, slot_bits=2
    )
    good = eddsa.PrivateKey.from_seed("subgroup-test").public_key
    # (0, -1) has order 2 on Baby Jubjub: good + (0, -1) is on the curve, outside the subgroup.
    bad = babyjub.add(good, (0, babyjub.P - 1))
    assert babyjub.on_curve(bad)
    with pytest.raises(_ProtocolError, match="subgroup"):
        state.create_account(5, bad, 100)
    state.create_account(6, good, 100)
