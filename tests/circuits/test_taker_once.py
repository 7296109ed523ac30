"""The taker's slot is written once, at its entry (Batch.circom phase 3 and check (11)).

Fills name their taker by entry index, the entry writes ``filled`` = the sum of the fills
that take with it, only the maker's slot is opened per fill; a taker trades at its entry,
so a later entry may replace its slot (protocol section 7, order of events). Default
instance K=4, E=2, B=2, D=4, S=2, M=2 (tests/circuits/scenario.py), built at ``--O0`` so
that a rejection can be pinned to its rule.

Accounts: 0 the fee account (given a key here, so it can trade), 1 the insurance fund,
2 trader A, 3 trader B. Batch 0 rests B's bid W (buy 990 x 10, id 1, slot 1).
"""

from __future__ import annotations

import copy
from functools import lru_cache

import pytest

from prover.crypto.eddsa import PrivateKey
from prover.exchange.batch import BatchBuilder, build_batch
from prover.exchange.constants import FEE_ACCOUNT, SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import (
    BatchFull,
    Cancel,
    Order,
    OrderRejected,
    Reject,
    SignedCancel,
    SignedOrder,
)
from prover.exchange.inbox import Message
from prover.exchange.state import ExchangeState
from prover.proving.batch_circuit import circuit_inputs
from tests.circuits.cheat import repair, set_message, swap_fills
from tests.circuits.scenario import (
    B_ACC,
    CONFIG,
    KEY_A,
    KEY_B,
    MARKETS,
    A,
    D,
    S,
)
from tests.venue import dev_state, prices

KEY_F = PrivateKey.from_seed("fee-operator")
KEYS = {FEE_ACCOUNT: KEY_F, A: KEY_A, B_ACC: KEY_B}
PRICES = (1, 2000, (1000, 500), (0, 0))  # batch 1: n, t, marks, funding


def _order(account, side, price, size, order_id, tif=TIF_GTC) -> Order:
    return Order(account, 0, side, price, size, order_id, 10_000, 1000, tif)


def _sign(o: Order) -> SignedOrder:
    return SignedOrder.sign(o, KEYS[o.account])


W = _order(B_ACC, SIDE_BUY, 990, 10, 1)  # B's resting bid, slot 1


@lru_cache(maxsize=1)
def _after_batch0() -> ExchangeState:
    state = dev_state(MARKETS, D, S, fee_pubkey=KEY_F.public_key)
    state.set_account(FEE_ACCOUNT, state.account(FEE_ACCOUNT).with_collateral(10_000_000))
    state.create_account(A, KEY_A.public_key, 10_000_000)
    state.create_account(B_ACC, KEY_B.public_key, 10_000_000)
    return build_batch(state, CONFIG, prices(0, 1000, (1000, 500), (0, 0)), [_sign(W)], []).state


def _build(entries, fills):
    return build_batch(_after_batch0(), CONFIG, prices(*PRICES), entries, fills)


def _inputs(result) -> dict:
    inputs = dict(circuit_inputs(result.witness.as_circuit_inputs()))
    return {k: list(v) if isinstance(v, list) else v for k, v in inputs.items()}


def _public(w) -> list[int]:
    """oldRoot, newRoot, batchInfo, configHash (the inbox's two: test_batch_inbox.py)."""
    return w.values[1:5]


# --- an order that takes at its entry and then rests as a maker of a later taker -------

X = _order(A, SIDE_SELL, 990, 5, 2)  # A's sell, slot 2: takes 2 from W, then rests
Y = _order(B_ACC, SIDE_BUY, 1000, 10, 2, tif=TIF_IOC)  # B's IOC buy, slot 2: takes X


def test_taker_that_then_makes_in_the_same_batch_is_accepted(batch0):
    """X enters, takes 2 from W, then is the maker of Y's 3. X's slot is written at its
    entry with filled 2 and the maker fill adds 3."""
    result = _build([_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)])
    inputs = _inputs(result)
    assert inputs["entryFilled"] == ["2", "3"]
    f = inputs["fillTakerEntry"].index("1")  # the fill with X as maker
    assert inputs["fillMakerSlotFilled"][f] == "2"  # X's own taker fills already there
    w = batch0.witness(inputs)
    assert w.ok, w.failing()
    assert _public(w) == [result.old_root, result.new_root, result.batch_info, result.config_hash]
    assert result.state.slot(A, 2).filled == 5


def test_maker_fill_before_the_orders_own_taker_fill_is_rejected(batch0):
    """The same fills in the other order: X makes for Y (entry 1) before X takes at its
    own entry 0, which no order of arrivals produces. The model refuses it; the circuit
    rejects the consistent witness at the order of fills (check (6a)) and nowhere else."""
    builder = BatchBuilder(_after_batch0(), CONFIG, prices(*PRICES))
    builder.add_entry(_sign(X))
    builder.add_entry(_sign(Y))
    builder.add_fill(Y.ref, X.ref, 3)
    with pytest.raises(OrderRejected) as refused:
        builder.add_fill(X.ref, W.ref, 2)
    assert refused.value.reason == Reject.MALFORMED
    honest = _inputs(_build([_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]))
    cheat = repair(batch0, _after_batch0(), swap_fills(honest, 0, 1))
    assert cheat["fillTakerEntry"] == ["1", "0"]
    batch0.witness(cheat).assert_rejected_only_by("fillOrder[0]")


def test_maker_fill_counts_the_takers_entry_filled(batch0):
    """Same batch, Y takes 4 of X instead of 3 (and Y's entry says 4): X has 2 + 4 > 5 of
    a 5-lot order. The sum for Y's entry holds; X's maker room does not."""
    inputs = _inputs(_build([_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]))
    inputs["fillQty"][1] = inputs["entryFilled"][1] = "4"
    w = batch0.witness(repair(batch0, _after_batch0(), inputs))
    w.assert_rejected_only_by("fill[1].makerRoom")


def test_maker_slot_opened_without_the_entry_fills_is_rejected(batch0):
    """The operator opens X's slot as if its taker fills were not there (filled 0, so
    that Y could take 5): the opening is not in the root that X's entry wrote."""
    inputs = _inputs(_build([_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]))
    inputs["fillMakerSlotFilled"][1] = "0"
    lie = repair(batch0, _after_batch0(), inputs, keep=[("fillMakerSlotFilled", 1)])
    batch0.witness(lie).assert_rejected_only_by("fill[1].makerWrite")


# --- a taker entry overwritten later in the same batch --------------------------------

XI = _order(A, SIDE_SELL, 990, 5, 2, tif=TIF_IOC)  # A's IOC sell, slot 2, takes 2 from W
Z = _order(A, SIDE_SELL, 1100, 1, 3)  # an unrelated resting sell of A (slot 3)


def _overwrite_entry_1(inputs: dict, msg: Message) -> dict:
    """Turn message 1 (Z, slot 3) into ``msg``, a later entry of A in XI's slot 2 (a cancel
    of XI, id 6, or a new order, id 6): the inbox holds that message there, and
    :func:`repair` opens XI's slot as XI's entry left it and recomputes ``inboxAfter``."""
    inputs = copy.deepcopy(inputs)
    set_message(inputs, 1, msg)
    inputs["entryFilled"][1] = "0"
    return inputs


def _later_entry(kind: str):
    if kind == "cancel":
        cancel = Cancel.for_order(A, XI.order_id, S)
        assert cancel.order_id == 6
        return SignedCancel.sign(cancel, KEY_A)
    return _sign(_order(A, SIDE_SELL, 1100, 1, 6))


@pytest.mark.parametrize("kind", ["cancel", "order"])
def test_later_entry_may_replace_a_takers_slot(batch0, kind):
    """XI enters (e0) and takes 2 lots of W at once; a later entry of the batch (e1: a
    cancel of XI, or a new order in its slot) replaces XI's slot, cancelling only what
    rests. A taker trades at its entry (protocol section 7, order of events), so the
    model allows this and the circuit proves it with the model's root. A hand-made
    witness of the same events (message 1 of another batch replaced by the model's message
    1, everything else repaired) reaches the same root and inbox chain: the circuit's
    semantics are the model's."""
    builder = BatchBuilder(_after_batch0(), CONFIG, prices(*PRICES))
    builder.add_entry(_sign(XI))
    builder.add_fill(XI.ref, W.ref, 2)
    builder.add_entry(_later_entry(kind))
    result = builder.seal()
    assert result.state.slot(A, 2).order_id == 6
    inputs = _inputs(result)
    assert inputs["entryFilled"] == ["2", "0"] and inputs["fillTakerEntry"][0] == "0"
    w = batch0.witness(inputs)
    assert w.ok, sorted(w.failing_signals())[:20]
    assert _public(w)[1] == result.new_root

    honest = _build([_sign(XI), _sign(Z)], [(XI.ref, W.ref, 2)])
    later = result.witness.entries[1].message
    made = repair(batch0, _after_batch0(), _overwrite_entry_1(_inputs(honest), later))
    assert batch0.witness(made).ok
    assert int(made["newRoot"]) == result.new_root
    assert int(made["inboxAfter"]) == result.witness.inbox_after


def test_makers_slot_cannot_be_replaced_later_in_the_batch():
    """W (B's resting bid) is the maker of XI's fill; B's cancel of W in the same batch
    would be ordered before the fill in the circuit, so the builder seals first."""
    builder = BatchBuilder(_after_batch0(), CONFIG, prices(*PRICES))
    builder.add_entry(_sign(XI))
    builder.add_fill(XI.ref, W.ref, 2)
    with pytest.raises(BatchFull):
        builder.add_entry(SignedCancel.sign(Cancel.for_order(B_ACC, W.order_id, S), KEY_B))


# --- the fee account as the taker; padding fills ---------------------------------------

FT = _order(FEE_ACCOUNT, SIDE_SELL, 990, 2, 1, tif=TIF_IOC)  # the fee account sells into W


@lru_cache(maxsize=1)
def _fee_taker_batch():
    return _build([_sign(FT)], [(FT.ref, W.ref, 2)])


def test_fee_account_as_taker_is_accepted_with_the_models_root(batch0):
    result = _fee_taker_batch()
    inputs = _inputs(result)
    assert inputs["entryAccountSlot"][0] == "0" and inputs["entryFilled"] == ["2", "0"]
    w = batch0.witness(inputs)
    assert w.ok, w.failing()
    assert _public(w) == [result.old_root, result.new_root, result.batch_info, result.config_hash]


@pytest.mark.parametrize(
    "entry, account_slot",
    [(0, None), (1, None), (1, "3")],
    ids=["used entry", "padding entry", "padding entry on the unused account slot"],
)
def test_padding_fill_may_name_any_entry_and_moves_nothing(batch0, entry, account_slot):
    """Fill 1 is padding. Naming a used entry, the padding message slot, or the padding slot
    re-pointed at the unused account slot 3 (accounts here: fee, insurance, B) changes no
    state: the same public new root still verifies. (A padding slot's order-slot opening
    must still be valid in the account slot it names, so it cannot point anywhere.) A
    padding fill reads market 0 whatever its taker slot decrypts to (the model's padding
    message: market 6 under the development key)."""
    result = _fee_taker_batch()
    inputs = _inputs(result)
    assert inputs["fillUsed"] == ["1", "0"] and inputs["msgUsed"] == ["1", "0"]
    inputs["fillTakerEntry"][1] = str(entry)
    if account_slot is not None:
        inputs["entryAccountSlot"][1] = account_slot
    w = batch0.witness(inputs)
    assert w.ok, w.failing()
    assert _public(w)[1] == result.new_root
    assert w["inboxAfter"] == result.witness.inbox_after
