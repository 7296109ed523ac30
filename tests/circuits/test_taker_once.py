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

from functools import lru_cache

import pytest

from prover.batch_circuit import circuit_inputs
from prover.crypto.eddsa import PrivateKey
from prover.exchange.batch import BatchBuilder, build_batch
from prover.exchange.constants import FEE_ACCOUNT, SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import (
    BatchFull,
    Cancel,
    Order,
    OrderSlot,
    PriceSet,
    SignedCancel,
    SignedOrder,
    signature_parts,
)
from prover.exchange.state import ExchangeState
from tests.circuits.scenario import (
    B_ACC,
    CONFIG,
    KEY_A,
    KEY_B,
    MARKETS,
    A,
    D,
    K,
    S,
)

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
    state = ExchangeState(MARKETS, D, S, fee_pubkey=KEY_F.public_key)
    state.set_account(FEE_ACCOUNT, state.account(FEE_ACCOUNT).with_collateral(10_000_000))
    state.create_account(A, KEY_A.public_key, 10_000_000)
    state.create_account(B_ACC, KEY_B.public_key, 10_000_000)
    return build_batch(state, CONFIG, PriceSet(0, 1000, (1000, 500), (0, 0)), [_sign(W)], []).state


def _build(entries, fills):
    return build_batch(_after_batch0(), CONFIG, PriceSet(*PRICES), entries, fills)


def _inputs(result) -> dict:
    inputs = dict(circuit_inputs(result.witness.as_circuit_inputs()))
    return {k: list(v) if isinstance(v, list) else v for k, v in inputs.items()}


def _public(w) -> list[int]:
    return w.values[1:5]


def _repair_close(batch0, honest_inputs: dict, inputs: dict) -> dict:
    """A cheating operator's last steps: account leaves written in phase 5 changed, so
    later slots' siblings that held an old leaf get the new one (enough at D = 4 with
    accounts 2 and 3 side by side), and the public new root is the one the circuit
    computes."""
    before = batch0.witness(honest_inputs)
    after = batch0.witness(inputs)
    swap = {
        str(before[f"written[{k}]"]): str(after[f"written[{k}]"])
        for k in range(K)
        if before[f"written[{k}]"] != after[f"written[{k}]"]
    }
    inputs = dict(inputs)
    inputs["accSiblings"] = [
        [[swap.get(v, v) for v in level] for level in slot] for slot in inputs["accSiblings"]
    ]
    inputs["newRoot"] = str(batch0.witness(inputs)[f"root[{K}]"])
    return inputs


# --- an order that takes at its entry and then rests as a maker of a later taker -------

X = _order(A, SIDE_SELL, 990, 5, 2)  # A's sell, slot 2: takes 2 from W, then rests
Y = _order(B_ACC, SIDE_BUY, 1000, 10, 2, tif=TIF_IOC)  # B's IOC buy, slot 2: takes X


@pytest.mark.parametrize("maker_fill_first", [False, True])
def test_taker_that_then_makes_in_the_same_batch_is_accepted(batch0, maker_fill_first):
    """X enters, takes 2 from W, then is the maker of Y's 3 (in either fill order of the
    model). X's slot is written at its entry with filled 2 and the maker fill adds 3."""
    fills = [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]
    if maker_fill_first:
        fills.reverse()
    result = _build([_sign(X), _sign(Y)], fills)
    inputs = _inputs(result)
    assert inputs["entryFilled"] == ["2", "3"]
    f = inputs["fillTakerEntry"].index("1")  # the fill with X as maker
    assert inputs["fillMakerSlotFilled"][f] == "2"  # X's own taker fills already there
    w = batch0.witness(inputs)
    assert w.ok, w.failing()
    assert _public(w) == [result.old_root, result.new_root, 1, result.params_hash]
    assert result.state.slot(A, 2).filled == 5


def test_maker_fill_counts_the_takers_entry_filled(batch0):
    """Same batch, Y takes 4 of X instead of 3 (and Y's entry says 4): X has 2 + 4 > 5 of
    a 5-lot order. The sum for Y's entry holds; X's maker room does not."""
    inputs = _inputs(_build([_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]))
    inputs["fillQty"][1] = inputs["entryFilled"][1] = "4"
    # Y's slot (B's slot 2) now holds filled 4: repair W's opening (B's slot 1) in fill 0.
    seq_y = str((1 << 16) + 1)
    old_leaf = OrderSlot(Y.order_id, Y.hash(), 3, int(seq_y)).hash()
    new_leaf = OrderSlot(Y.order_id, Y.hash(), 4, int(seq_y)).hash()
    sibs = inputs["fillMakerSlotSiblings"][0]
    assert sum(v == str(old_leaf) for level in sibs for v in level) == 1
    inputs["fillMakerSlotSiblings"][0] = [
        [str(new_leaf) if v == str(old_leaf) else v for v in level] for level in sibs
    ]
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.fill[1].makerRoom")
    assert not w.rejected_by("main.fill[0]"), "fill 0 is still a valid fill"


def test_maker_slot_filled_without_the_entry_fills_is_rejected(batch0):
    """The operator opens X's slot as if its taker fills were not there (filled 0): the
    opening no longer matches the root that X's entry wrote."""
    inputs = _inputs(_build([_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]))
    inputs["fillMakerSlotFilled"][1] = "0"
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.fill[1].makerWrite")


# --- a taker entry overwritten later in the same batch --------------------------------

XI = _order(A, SIDE_SELL, 990, 5, 2, tif=TIF_IOC)  # A's IOC sell, slot 2, takes 2 from W
Z = _order(A, SIDE_SELL, 1100, 1, 3)  # an unrelated resting sell of A (slot 3)


def _overwrite_entry_1(inputs: dict, kind: str) -> dict:
    """Turn entry 1 (Z, slot 3) into a later entry of A in XI's slot 2: a cancel of XI (id
    6) or a new order (id 6). Its old leaf is XI's leaf as XI's entry wrote it (filled
    2); its siblings are XI's (only slot 2 changed in between)."""
    inputs = {k: (list(v) if isinstance(v, list) else v) for k, v in inputs.items()}
    xi_slot = OrderSlot(XI.order_id, XI.hash(), 2, (1 << 16) * 1 + 0)
    if kind == "cancel":
        cancel = Cancel.for_order(A, XI.order_id, S)
        assert cancel.order_id == 6
        signed = SignedCancel.sign(cancel, KEY_A)
        fields = dict.fromkeys(
            ("Market", "Side", "Price", "Size", "Expiry", "MaxFeePpm", "Tif"), "0"
        )
        inputs["entryIsCancel"][1] = "1"
    else:
        new = _order(A, SIDE_SELL, 1100, 1, 6)
        signed = _sign(new)
        fields = {
            "Market": str(new.market),
            "Side": str(new.side),
            "Price": str(new.price),
            "Size": str(new.size),
            "Expiry": str(new.expiry),
            "MaxFeePpm": str(new.max_fee_ppm),
            "Tif": str(new.tif),
        }
    for name, value in fields.items():
        inputs[f"entry{name}"][1] = value
    inputs["entryOrderId"][1] = "6"
    rx, ry, s = signature_parts(signed.signature)
    inputs["entrySigR8x"][1], inputs["entrySigR8y"][1], inputs["entrySigS"][1] = (
        str(rx),
        str(ry),
        str(s),
    )
    inputs["entryOldSlotOrderId"][1] = str(xi_slot.order_id)
    inputs["entryOldSlotOrderHash"][1] = str(xi_slot.order_hash)
    inputs["entryOldSlotFilled"][1] = str(xi_slot.filled)
    inputs["entryOldSlotSeq"][1] = str(xi_slot.seq)
    inputs["entrySlotSiblings"][1] = inputs["entrySlotSiblings"][0]
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
    witness of the same events (entry 1 of another batch rewritten, the close repaired)
    reaches the same root: the circuit's semantics are the model's."""
    builder = BatchBuilder(_after_batch0(), CONFIG, PriceSet(*PRICES))
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
    made = _overwrite_entry_1(_inputs(honest), kind)
    made = _repair_close(batch0, _inputs(honest), made)
    assert batch0.witness(made).ok
    assert int(made["newRoot"]) == result.new_root


def test_makers_slot_cannot_be_replaced_later_in_the_batch():
    """W (B's resting bid) is the maker of XI's fill; B's cancel of W in the same batch
    would be ordered before the fill in the circuit, so the builder seals first."""
    builder = BatchBuilder(_after_batch0(), CONFIG, PriceSet(*PRICES))
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
    assert _public(w) == [result.old_root, result.new_root, 1, result.params_hash]


@pytest.mark.parametrize(
    "entry, account_slot",
    [(0, None), (1, None), (1, "3")],
    ids=["used entry", "padding entry", "padding entry on the unused account slot"],
)
def test_padding_fill_may_name_any_entry_and_moves_nothing(batch0, entry, account_slot):
    """Fill 1 is padding. Naming a used entry, the padding entry, or the padding entry
    re-pointed at the unused account slot 3 (accounts here: fee, insurance, B) changes no
    state: the same public new root still verifies. (A padding entry's slot opening must
    still be valid in the account slot it names, so it cannot point anywhere.)"""
    result = _fee_taker_batch()
    inputs = _inputs(result)
    assert inputs["fillUsed"] == ["1", "0"] and inputs["entryUsed"] == ["1", "0"]
    inputs["fillTakerEntry"][1] = str(entry)
    if account_slot is not None:
        inputs["entryAccountSlot"][1] = account_slot
    w = batch0.witness(inputs)
    assert w.ok, w.failing()
    assert _public(w)[1] == result.new_root


@pytest.mark.parametrize("entry", [0, 1])
def test_padding_fill_cannot_move_quantity(batch0, entry):
    """A padding fill with qty 1, its taker entry's filled raised to match: rejected by
    the fill's own ``(1 - used) * qty = 0`` (for the padding entry also by its filled = 0)."""
    inputs = _inputs(_fee_taker_batch())
    inputs["fillTakerEntry"][1] = str(entry)
    inputs["fillQty"][1] = "1"
    inputs["entryFilled"][entry] = str(int(inputs["entryFilled"][entry]) + 1)
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.fill[1].qty")


def test_used_fill_naming_a_padding_entry_is_rejected(batch0):
    """A real fill moved onto the padding entry 1 (which is then given the fill's filled):
    rejected because the entry is unused (and an unused entry's filled must be 0)."""
    inputs = _inputs(_fee_taker_batch())
    inputs["fillTakerEntry"][0] = "1"
    inputs["entryFilled"] = ["0", "2"]
    w = batch0.witness(inputs)
    assert not w.ok and w.rejected_by("main.takerEntryUsed[0]")
