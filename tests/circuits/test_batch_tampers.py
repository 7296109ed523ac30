"""Batch: every rule of the batch itself, broken by the witness a cheating operator builds.

Each case starts from an honest batch of the Python model, changes what the cheat is about
(a fill's quantity or price, an entry's slot, a forged pre-state leaf, ...), then repairs
every opening and root the way a cheating prover must (tests/circuits/cheat.py): every
other signal is computed by the circuit's own code. The test asserts that the R1CS rejects
the witness and that every violated constraint belongs to the rule under test
(:meth:`Witness.assert_rejected_only_by`), so deleting that rule's constraints would make
it pass: each case fails when its rule is removed (``scripts/mutate.py`` checks that it
does). Default instance ``Batch(4, 2, 2, 4, 2, 2)`` at ``--O0``.

The rules of the templates the batch uses (FillCheck, MessageEntry, MarginCheck, ...) have
their own tamper tests beside them (test_fill_check.py, test_message_entry.py, ...); the
ones here are Batch's own, and a few template rules shown in the batch where the batch
decides what reaches them (the taker's fields, the order of fills, signed values).

Entries are inbox messages (docs/inbox.md): the operator cannot choose what a used message
slot carries, only which messages the batch consumes, and the inbox's own rules (the chain,
invalid messages as no-ops, the operator key) are test_batch_inbox.py's. A cheat about an
entry's content is therefore either "the inbox holds this message" (a used slot: the
repair recomputes ``inboxAfter``, the Rollup's value for that inbox) or a message the
operator puts into a padding slot, which the chain ignores. A rule that used to refuse a
bad entry (a bad signature, the insurance fund ordering) now makes the message a no-op;
its cheat is to fill the message anyway.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache
from typing import Any

import pytest

from prover.crypto import babyjub, poseidon
from prover.crypto.eddsa import PrivateKey, Signature
from prover.errors import ProtocolError
from prover.exchange import inbox
from prover.exchange.batch import BatchBuilder, BatchResult
from prover.exchange.constants import (
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    SIDE_BUY,
    SIDE_SELL,
    TAG_PRICES,
    TIF_GTC,
    TIF_IOC,
)
from prover.exchange.domain import (
    Cancel,
    Order,
    OrderSlot,
    Position,
    Reject,
    SignedCancel,
    SignedOrder,
    make_seq,
    signature_parts,
)
from prover.exchange.state import ExchangeState
from prover.exchange.venue import DEV_OPERATOR
from prover.field import SNARK_FIELD
from tests.circuits.cheat import (
    encrypt,
    inputs_of,
    message,
    repair,
    set_message,
    swap_entries,
    swap_fills,
)
from tests.circuits.harness import Circuit
from tests.circuits.scenario import CONFIG, KEY_A, KEY_B, MARKETS, A, D, S
from tests.circuits.test_batch_gaps import _order_case
from tests.venue import FEED, dev_state, prices

P = SNARK_FIELD
B = 3  # trader B's account (scenario.B_ACC)
KEY_I = PrivateKey.from_seed("tamper-insurance")
KEYS = {A: KEY_A, B: KEY_B, INSURANCE_ACCOUNT: KEY_I}
PARAMS = prices(1, 2000, (1000, 500), (0, 0))

# Batch 0 rests A's ask (sell 1000 x 20, id 1, slot 1) and B's ask (sell 1010 x 20, id 3).
ASK_A = Order(A, 0, SIDE_SELL, 1000, 20, 1, 10**6, 1000, TIF_GTC)
ASK_B = Order(B, 0, SIDE_SELL, 1010, 20, 3, 10**6, 1000, TIF_GTC)


def _sign(o: Order, key: PrivateKey | None = None) -> SignedOrder:
    return SignedOrder.sign(o, key or KEYS[o.account])


def _buy(account: int, price: int, size: int, order_id: int, tif: int = TIF_IOC) -> Order:
    return Order(account, 0, SIDE_BUY, price, size, order_id, 10**6, 1000, tif)


@lru_cache(maxsize=1)
def rest_batch() -> BatchResult:
    """Batch 0: both asks rest, no fill (both fill slots padding)."""
    state = dev_state(MARKETS, D, S, insurance_pubkey=KEY_I.public_key)
    for index, key in ((A, KEY_A), (B, KEY_B)):
        state.create_account(index, key.public_key, 10_000_000)
    builder = BatchBuilder(state, CONFIG, prices(0, 1000, (1000, 500), (0, 0)))
    builder.add_entry(_sign(ASK_A))
    builder.add_entry(_sign(ASK_B))
    return builder.seal()


def pre_state() -> ExchangeState:
    return rest_batch().state


def _batch(entries, fills=(), pre: ExchangeState | None = None, params=None) -> BatchResult:
    builder = BatchBuilder(pre or pre_state(), CONFIG, params or PARAMS)
    for entry in entries:
        builder.add_entry(entry)
    for taker, maker, qty in fills:
        builder.add_fill(taker.ref, maker.ref, qty)
    return builder.seal()


def _take(size: int, price: int = 1010) -> dict[str, Any]:
    """B's IOC buy of ``size`` at ``price`` takes A's ask (20 open): qty min(size, 20)."""
    buy = _buy(B, price, size, 1)
    return inputs_of(_batch([_sign(buy)], [(buy, ASK_A, min(size, 20))]))


def _a_takes_b() -> dict[str, Any]:
    """A's IOC buy 1010 x 5 (id 4) takes 5 of B's ask; entry 1 and fill 1 are padding."""
    buy = _buy(A, 1010, 5, 4)
    return inputs_of(_batch([_sign(buy)], [(buy, ASK_B, 5)]))


def _a_rests() -> dict[str, Any]:
    """A rests a bid (buy 900 x 1, id 4); account slot 3 and fill slots are padding."""
    return inputs_of(_batch([_sign(_buy(A, 900, 1, 4, TIF_GTC))]))


def _witness(batch0: Circuit, inputs: dict[str, Any], pre: ExchangeState | None = None):
    return batch0.witness(repair(batch0, pre or pre_state(), inputs))


def _no_op(pre: ExchangeState, signed) -> tuple[BatchResult, Reject | None]:
    """The batch of one inbox message carrying ``signed``, no fill; and the model's reason
    for the message (None: valid)."""
    builder = BatchBuilder(pre, CONFIG, PARAMS)
    outcome = builder.add_message(message(signed))
    return builder.seal(), outcome.reason


def _set_maker(x: dict[str, Any], f: int, slot: int, order: Order) -> None:
    x["fillMakerAccountSlot"][f] = str(slot)
    for name, value in (
        ("Market", order.market),
        ("Side", order.side),
        ("Price", order.price),
        ("Size", order.size),
        ("OrderId", order.order_id),
        ("Expiry", order.expiry),
        ("MaxFeePpm", order.max_fee_ppm),
        ("Tif", order.tif),
    ):
        x[f"fillMaker{name}"][f] = str(value)
    x["fillPrice"][f] = str(order.price)


def _swap_account_slots(x: dict[str, Any], k: int, j: int) -> dict[str, Any]:
    for name, values in x.items():
        if name.startswith("acc") and isinstance(values, list):
            values[k], values[j] = values[j], values[k]
    swap = {str(k): str(j), str(j): str(k)}
    for name in ("entryAccountSlot", "fillMakerAccountSlot"):
        x[name] = [swap.get(v, v) for v in x[name]]
    return x


# --- quantities, prices, signatures -------------------------------------------------------


def test_honest_batches_need_no_repair(batch0):
    for inputs in (_take(30), _take(10), _a_takes_b(), _a_rests()):
        assert repair(batch0, pre_state(), inputs) == inputs
        assert batch0.witness(inputs).ok


def test_maker_overfill(batch0):
    """21 lots of A's 20-lot ask (B's buy is 30, so only the maker is over)."""
    x = _take(30)
    x["fillQty"][0] = x["entryFilled"][0] = "21"
    _witness(batch0, x).assert_rejected_only_by("fill[0].makerRoom")


def test_taker_overfill(batch0):
    """11 lots for B's 10-lot buy (A's ask has 20): the entry's bound filled <= size."""
    x = _take(10)
    x["fillQty"][0] = x["entryFilled"][0] = "11"
    _witness(batch0, x).assert_rejected_only_by("entry[0].filledRoom")


def test_entry_filled_is_not_the_sum_of_its_fills(batch0):
    """B's slot written with 9 lots filled while its fill moves 10: check (11)."""
    x = _take(10)
    x["entryFilled"][0] = "9"
    _witness(batch0, x).assert_rejected_only_by("entryFilled[0]")


def test_fill_at_the_takers_price(batch0):
    x = _take(10)
    x["fillPrice"][0] = "1010"  # B's limit; A's ask is 1000
    _witness(batch0, x).assert_rejected_only_by("fill[0].price")


def test_padding_fill_moves_quantity(batch0):
    """Padding fill 1 (taker entry 0, the insurance fund's empty slot 0 as maker) moves
    one lot, and entry 0's filled counts it: the fill's (1 - used) * qty = 0."""
    x = _take(30)
    assert x["fillUsed"] == ["1", "0"] and x["fillTakerEntry"][1] == "0"
    x["fillQty"][1] = "1"
    x["entryFilled"][0] = "21"
    _witness(batch0, x).assert_rejected_only_by("fill[1].qty")


def _badly_signed(how: str) -> SignedOrder:
    """B's buy of ``_take(10)`` with S + 1, or signed by A's key."""
    buy = _buy(B, 1010, 10, 1)
    if how == "S + 1":
        good = _sign(buy)
        return SignedOrder(buy, Signature(good.signature.r8, good.signature.s + 1))
    return _sign(buy, KEY_A)


@pytest.mark.parametrize("how", ["S + 1", "another account's key"])
def test_badly_signed_order_is_a_no_op(batch0, how):
    """A message whose signature does not verify under the account's key is a no-op: the
    model says so, and the honest witness (B's slot 1 left as it was) satisfies the circuit
    with the model's new root."""
    result, reason = _no_op(pre_state(), _badly_signed(how))
    assert reason == Reject.BAD_SIGNATURE
    assert result.state.slot(B, 1) == pre_state().slot(B, 1)
    w = batch0.witness(inputs_of(result))
    assert w.ok, w.violations()[:3]
    assert w["entry[0].valid"] == 0 and w["newRoot"] == result.new_root


@pytest.mark.parametrize("how", ["S + 1", "another account's key"])
def test_badly_signed_order_filled_anyway(batch0, how):
    """The inbox holds B's buy with a bad signature (S + 1, or A's key) where _take(10) has
    the signed one; the operator fills it anyway against A's ask. The message is a no-op
    (its signature bit is 0, so it is not a valid order), so MessageEntry's
    ``(1 - validOrder) * filled === 0`` refuses the 10 lots, and nothing else does."""
    x = _take(10)
    set_message(x, 0, message(_badly_signed(how)))
    w = _witness(batch0, x)
    assert w["entry[0].sigOk"] == 0 and w["entry[0].valid"] == 0
    w.assert_rejected_only_by("entry[0].filled")


# --- who may take ---------------------------------------------------------------------------


def test_padding_entry_as_taker(batch0):
    """Fill 1 made real, its taker the padding message slot 1, into which the operator puts
    A's buy, correctly signed by A (a copy of one A sent earlier, say): a padding slot is
    outside the inbox chain, so whatever it carries is not a valid order (decodable needs
    msgUsed), and an entry that is not a valid order may not have filled > 0."""
    x = _a_takes_b()
    inbox_after = x["inboxAfter"]
    assert x["msgUsed"] == ["1", "0"]
    set_message(x, 1, message(_sign(_buy(A, 1010, 3, 5))))
    x["entryAccountSlot"][1] = x["entryAccountSlot"][0]
    x["entryFilled"][1] = "3"
    x["fillUsed"][1], x["fillTakerEntry"][1], x["fillQty"][1] = "1", "1", "3"
    _set_maker(x, 1, int(x["fillMakerAccountSlot"][0]), ASK_B)
    x = repair(batch0, pre_state(), x)
    assert x["inboxAfter"] == inbox_after  # the padding slot leaves the chain alone
    w = batch0.witness(x)
    assert w["msg[1].decodable"] == 0 and w["entry[1].sigOk"] == 1
    w.assert_rejected_only_by("entry[1].filled")


def test_padding_entry_in_an_unused_account_slot_as_taker(batch0):
    """The worst form of the above: the padding message slot sits in the unused account
    slot 3, which holds B's untouched leaf, and carries a buy of B's (unsigned here: the
    signature does not matter for padding); B "buys" 3 lots of A's ask, A is paid, and
    B's slot, being unused, writes its old leaf back. No used-slot check applies to a
    padding slot (it names no account): its filled = 0 is what stops it."""
    x = _a_rests()
    b = pre_state().account(B)
    x["accIndex"][3] = str(B)
    x["accPubX"][3], x["accPubY"][3] = str(b.pubkey[0]), str(b.pubkey[1])
    x["accCollateral"][3] = str(b.collateral)
    x["accOrdersRoot"][3] = str(pre_state().orders_root(B))
    unsigned = SignedOrder(_buy(B, 1010, 3, 5), Signature(babyjub.BASE8, 0))
    set_message(x, 1, message(unsigned))
    x["entryAccountSlot"][1], x["entryFilled"][1] = "3", "3"
    x["fillUsed"][0], x["fillTakerEntry"][0], x["fillQty"][0] = "1", "1", "3"
    _set_maker(x, 0, 2, ASK_A)
    w = _witness(batch0, x)
    w.assert_rejected_only_by("entry[1].filled")
    assert w["written[3]"] == w["leafBefore[3].leaf"]  # B keeps its money; A is paid


def test_cancel_as_taker(batch0):
    """Message 1 is A's (signed, valid) cancel whose packed fields also carry a buy's market,
    side, price and tif, which a cancel does not sign (A's client, or A colluding with the
    operator, sent it so; the model reads it as a cancel); the operator makes it fill 3 of
    B's ask. A valid cancel is not a valid order: its filled must be 0."""
    buy = _buy(A, 1010, 5, 4)
    cancel = SignedCancel.sign(Cancel(A, 6), KEY_A)
    x = inputs_of(_batch([_sign(buy), cancel], [(buy, ASK_B, 5)]))
    _, r8y, s = signature_parts(cancel.signature)
    dressed = inbox.pack_fields(
        {"kind": inbox.KIND_CANCEL, "account": A, "order_id": 6, "market": 0,
         "side": SIDE_BUY, "price": 1010, "size": 5, "expiry": 10**6, "max_fee_ppm": 1000,
         "tif": TIF_IOC}
    )
    msg = encrypt([dressed, r8y, s])
    decoded = inbox.decode(msg, DEV_OPERATOR.scalar)
    assert isinstance(decoded.entry, SignedCancel) and decoded.entry.cancel == cancel.cancel
    set_message(x, 1, msg)  # the inbox holds the dressed cancel
    x["entryFilled"][1] = "3"
    x["fillUsed"][1], x["fillTakerEntry"][1], x["fillQty"][1] = "1", "1", "3"
    _set_maker(x, 1, int(x["fillMakerAccountSlot"][0]), ASK_B)
    w = _witness(batch0, x)
    assert w["entry[1].valid"] == 1 and w["msg[1].kind"] == inbox.KIND_CANCEL
    w.assert_rejected_only_by("entry[1].filled")


# --- account slots --------------------------------------------------------------------------


def test_entry_in_an_unused_account_slot_creates_money(batch0):
    """B's buy takes A's ask, but B's account slot is marked unused: B's slot writes its
    old leaf back, so B keeps its money while A is paid. Check (4b) refuses it: the
    message names B, so the account slot it selects must be a used one."""
    x = _take(10)
    b_slot = int(x["entryAccountSlot"][0])
    x["accUsed"][b_slot] = "0"
    w = _witness(batch0, x)
    w.assert_rejected_only_by("entryUsedSlot[0]")
    a_slot = int(x["fillMakerAccountSlot"][0])
    assert w[f"written[{b_slot}]"] == w[f"leafBefore[{b_slot}].leaf"]  # B keeps its money
    assert w[f"coll[2][{a_slot}]"] - w[f"collFunded[{a_slot}]"] == 10 * 1000 - 2  # A is paid


def test_maker_in_an_unused_account_slot_creates_money(batch0):
    """A (the maker) moved to account slot 3 and marked unused: check (7) refuses."""
    x = _swap_account_slots(_take(10), 2, 3)
    assert x["accIndex"][2:] == [str(B), str(A)]
    x["accUsed"][3] = "0"
    _witness(batch0, x).assert_rejected_only_by("makerUsedSlot[0]")


def test_insurance_fund_order_is_a_no_op(batch0):
    """A message by the insurance fund (its key signs) is a no-op (the fund neither enters
    orders nor trades, protocol section 11, item 6): the model says so, and the honest
    witness (the fund's slot 0 untouched) satisfies the circuit with the model's root."""
    result, reason = _no_op(pre_state(), _sign(_buy(INSURANCE_ACCOUNT, 900, 1, 4, TIF_GTC)))
    assert reason == Reject.MALFORMED
    assert result.state.slot(INSURANCE_ACCOUNT, 0) == pre_state().slot(INSURANCE_ACCOUNT, 0)
    w = batch0.witness(inputs_of(result))
    assert w.ok, w.violations()[:3]
    assert w["entry[0].sigOk"] == 1 and w["entry[0].valid"] == 0
    assert w["newRoot"] == result.new_root


def test_insurance_fund_order_filled_anyway(batch0):
    """The inbox holds the fund's signed buy (1010 x 1, id 4) where _take(1) has B's, in the
    fund's account slot 1 (the one it names, check (4b)); the operator makes it take 1 lot
    of A's ask (a forged pre-state gives the fund the money, so its margin holds). The
    message is a no-op (``accountOk`` is 0 for the fund), so its filled must be 0: that
    bound refuses it, and nothing else (the fill rules check the maker is not the fund;
    the taker is kept from it by this bound alone)."""
    pre = pre_state().copy()
    pre.deposit(INSURANCE_ACCOUNT, 10_000_000)
    x = _take(1)
    x["accCollateral"][INSURANCE_ACCOUNT] = "10000000"
    set_message(x, 0, message(_sign(_buy(INSURANCE_ACCOUNT, 1010, 1, 4))))
    x["entryAccountSlot"][0] = str(INSURANCE_ACCOUNT)
    w = _witness(batch0, x, pre)
    assert w["entry[0].sigOk"] == 1 and w["entry[0].valid"] == 0
    w.assert_rejected_only_by("entry[0].filled")


def test_insurance_fund_as_maker(batch0):
    """A forged pre-state gives the insurance fund a resting ask; B's buy takes it."""
    pre = pre_state().copy()
    pre.deposit(INSURANCE_ACCOUNT, 10_000_000)
    ask = Order(INSURANCE_ACCOUNT, 0, SIDE_SELL, 1000, 20, 1, 10**6, 1000, TIF_GTC)
    pre.set_slot(INSURANCE_ACCOUNT, 1, OrderSlot(1, ask.hash(), 0, make_seq(0, 0)), ask)
    x = _take(10)
    x["accCollateral"][INSURANCE_ACCOUNT] = "10000000"
    _set_maker(x, 0, INSURANCE_ACCOUNT, ask)
    _witness(batch0, x, pre).assert_rejected_only_by(f"makerSel[0].sel[{INSURANCE_ACCOUNT}]")


def test_account_slot_used_two_would_brick_a_leaf(batch0):
    """accUsed = 2 for a victim's account (B, opened in the padding slot 3, referenced by
    nothing): its leaf would be written as 2 * after - before, which nobody can open
    again, and its funding counted twice. Only accUsed's booleanity refuses it."""
    pre = pre_state().copy()  # B is long 5 lots with F = 3 (F* = 0): it receives 15
    pre.set_account(B, replace(pre.account(B), positions=(Position(5, 3), Position(0, 0))))
    b = pre.account(B)
    x = _a_rests()
    x["accUsed"][3], x["accIndex"][3] = "2", str(B)
    x["accPubX"][3], x["accPubY"][3] = str(b.pubkey[0]), str(b.pubkey[1])
    x["accCollateral"][3] = str(b.collateral)
    x["accPosSize"][3], x["accPosFunding"][3] = ["5", "0"], ["3", "0"]
    x["accOrdersRoot"][3] = str(pre.orders_root(B))
    w = batch0.witness(repair(batch0, pre, x))
    w.assert_rejected_only_by("accUsed[3]")
    before, after = w["leafBefore[3].leaf"], w["leafAfter[3].leaf"]
    assert w["written[3]"] == (2 * after - before) % P != after  # nobody can open it
    assert w["payment[3]"] == P - 30  # -15, counted twice


def test_account_opened_twice(batch0):
    """Padding slot 3 made a second, used opening of A (holding what slot 2 wrote)."""
    x = _a_rests()
    assert x["accUsed"] == ["1", "1", "1", "0"]
    x["accUsed"][3], x["accIndex"][3] = "1", str(A)
    _witness(batch0, x).assert_rejected_only_by("increasing[2]")


def test_slot_0_is_not_the_fee_account(batch0):
    """Slot 0 opens the empty account 5, which then collects the fees."""
    x = _take(10)
    x["accIndex"][0] = "5"  # the all-zero account: key (0, 0), nothing in it
    x["accPubX"][0] = x["accPubY"][0] = x["accNonce"][0] = x["accCollateral"][0] = "0"
    x["accPosSize"][0] = x["accPosFunding"][0] = ["0", "0"]
    _witness(batch0, x).assert_rejected_only_by("accIndex[0]")


def test_slot_1_is_not_the_insurance_fund(batch0):
    """Slot 1 opens the fee account a second time (and collects the funding)."""
    x = _take(10)
    x["accIndex"][1] = "0"
    _witness(batch0, x).assert_rejected_only_by("accIndex[1]")


def test_insurance_fund_slot_unused_drops_the_funding_it_owes(batch0):
    """The fee account (the operator's; forged pre-state: long 5 lots with F = 3 where
    F* = 0) receives 15 of funding from the insurance fund; with the fund's slot marked
    unused its leaf is written back unchanged, so the 15 come from nowhere (and every other
    slot must then be unused too). Only ``accUsed[1] === 1`` refuses it."""
    pre = pre_state().copy()
    fee = pre.account(FEE_ACCOUNT)
    pre.set_account(FEE_ACCOUNT, replace(fee, positions=(Position(5, 3), Position(0, 0))))
    x = inputs_of(_batch([], pre=pre))
    assert x["accUsed"] == ["1", "1", "0", "0"]
    x["accUsed"][1] = "0"
    w = batch0.witness(repair(batch0, pre, x))
    w.assert_rejected_only_by("accUsed[1]")
    assert w["payment[0]"] == P - 15  # the fee account is credited 15
    assert w["written[1]"] == w["leafBefore[1].leaf"]  # the fund pays nothing


def test_used_account_slot_after_an_unused_one(batch0):
    x = _swap_account_slots(_a_rests(), 2, 3)
    assert x["accUsed"] == ["1", "1", "0", "1"]
    x["accIndex"][2] = "0"  # the padding slot, as the model writes it
    _witness(batch0, x).assert_rejected_only_by("accUsed[3]")


# --- state the fills read: margin with signed values, collateral bounds ---------------------


def test_fill_that_breaks_the_takers_margin(batch0):
    """The review's batch in arrival order: A's buy (entry 0) fills first and leaves A long
    200 with value 14,950 against 20,000; B's buy then takes A's ask."""
    pre, honest = _order_case()
    x = swap_fills(swap_entries(inputs_of(honest), 0, 1), 0, 1)
    assert x["fillTakerEntry"] == ["0", "1"]
    batch0.witness(repair(batch0, pre, x)).assert_rejected_only_by("takerMargin[0]")


def test_negative_collateral_is_read_as_negative(batch0):
    """B's leaf (forged pre-state) holds C = -1, as p - 1: B buys 5 lots, value -3 against
    an initial requirement of 500. Read as p - 1 it would look rich."""
    pre = pre_state().copy()
    pre.set_account(B, replace(pre.account(B), collateral=-1))
    x = _take(5)
    x["accCollateral"][int(x["entryAccountSlot"][0])] = str(P - 1)
    batch0.witness(repair(batch0, pre, x)).assert_rejected_only_by("takerMargin[0]")


def test_funding_out_of_range_then_back(batch0):
    """B (forged pre-state: C = 2^63 - 11, long 1 lot with F = 100 where F* = 0) receives
    100 of funding, 2^63 + 89 > 2^63 - 1; its buy then pays it back under."""
    pre = pre_state().copy()
    big = 2**63 - 11
    pre.set_account(
        B, replace(pre.account(B), collateral=big, positions=(Position(1, 100), Position(0, 0)))
    )
    x = _take(5)
    k = int(x["entryAccountSlot"][0])
    x["accCollateral"][k] = str(big)
    x["accPosSize"][k] = ["1", "0"]
    x["accPosFunding"][k] = ["100", "0"]
    w = batch0.witness(repair(batch0, pre, x))
    assert w[f"collFunded[{k}]"] == 2**63 + 89
    w.assert_rejected_only_by(f"collFundedRange[{k}]")


# --- a collateral above 2^63 after one fill, back under after the next ---------------------


def _rest(pre: ExchangeState, order: Order) -> None:
    """Forge a resting order of batch 0 into ``pre`` (its slot and body)."""
    pre.set_slot(order.account, order.slot(S), OrderSlot(order.order_id, order.hash(), 0,
                                                         make_seq(0, 0)), order)


@pytest.mark.parametrize("side", ["taker", "maker"])
def test_collateral_above_the_bound_between_two_fills(batch0, side):
    """A's collateral is 2^63 right after fill 0 (A receives 10 x 1000 less its fee) and
    back under after fill 1 (A pays 10 x 990 as the maker of its own resting bid), so the
    leaf written at the end is in range. The model refuses it; the circuit refuses it at
    A's range check after fill 0 alone (as the taker of fill 0, or as its maker)."""
    pre = pre_state().copy()
    bid_a = Order(A, 0, SIDE_BUY, 990, 20, 2, 10**6, 1000, TIF_GTC)
    _rest(pre, bid_a)
    sell_b = Order(B, 0, SIDE_SELL, 990, 10, 5, 10**6, 1000, TIF_IOC)
    if side == "taker":  # fill 0: A's sell takes B's resting bid
        bid_b = Order(B, 0, SIDE_BUY, 1000, 20, 2, 10**6, 1000, TIF_GTC)
        _rest(pre, bid_b)
        first = Order(A, 0, SIDE_SELL, 1000, 10, 5, 10**6, 1000, TIF_IOC)
        fills = [(first, bid_b, 10), (sell_b, bid_a, 10)]
    else:  # fill 0: B's buy takes A's resting ask
        first = _buy(B, 1000, 10, 6)
        fills = [(first, ASK_A, 10), (sell_b, bid_a, 10)]
    honest = _batch([_sign(first), _sign(sell_b)], fills, pre=pre)
    fill0 = honest.witness.fills[0]
    a0 = fill0.taker if side == "taker" else fill0.maker
    assert a0.account_slot == 2  # A
    received = a0.collateral_after - a0.collateral_before
    big = 2**63 - received  # A's collateral after fill 0: exactly 2^63
    forged = pre.copy()
    forged.set_account(A, replace(pre.account(A), collateral=big))
    with pytest.raises(ProtocolError, match="collateral"):
        _batch([_sign(first), _sign(sell_b)], fills, pre=forged)
    x = inputs_of(honest)
    x["accCollateral"][2] = str(big)
    w = batch0.witness(repair(batch0, forged, x))
    assert w[f"{side}CollAfter[0]"] == 2**63
    assert w["coll[2][2]"] < 2**63  # back in range after fill 1, and so the final leaf
    w.assert_rejected_only_by(f"{side}CollRange[0]")


# --- the batch parameters against the Rollup (docs/settlement.md) ------------------------


def _resign(x: dict[str, Any], key: PrivateKey = FEED) -> None:
    """Sign ``x``'s (timestamp, marks, funding indices) as the feed's message."""
    marks = poseidon([int(v) for v in x["mark"]], init_state=TAG_PRICES)
    funding = poseidon([int(v) for v in x["fundingIndex"]], init_state=TAG_PRICES)
    sig = key.sign(poseidon([int(x["timestamp"]), marks, funding], init_state=TAG_PRICES))
    x["feedSigR8x"], x["feedSigR8y"], x["feedSigS"] = map(str, (*sig.r8, sig.s))


def test_funding_moved_above_its_cap(batch0):
    """The feed signs F* = 1001 for market 0, 1000 s after the last batch at mark 1000: the
    cap (10^6, 0.1 % of the mark per second) allows 1000. The model refuses to build it;
    the circuit refuses it at market 0's cap bound alone (every leaf repaired, the fund's
    new index included)."""
    assert pre_state().last_timestamp == 1000 and PARAMS.timestamp == 2000
    pre = pre_state().copy()
    with pytest.raises(ProtocolError, match="above its cap"):
        BatchBuilder(pre, CONFIG, prices(1, 2000, (1000, 500), (1001, 0)))
    x = inputs_of(_batch([], pre=pre, params=prices(1, 2000, (1000, 500), (1000, 0))))
    x["fundingIndex"][0] = "1001"
    _resign(x)
    batch0.witness(repair(batch0, pre, x)).assert_rejected_only_by("params.capBound[0]")


def test_prices_the_feed_did_not_sign(batch0):
    """The operator signs the marks itself."""
    x = _a_rests()
    _resign(x, PrivateKey.from_seed("the operator"))
    _witness(batch0, x).assert_rejected_only_by("params.signature")


def test_batch_info_other_than_the_rollups(batch0):
    """A proof whose public batchInfo says batch 2 while the circuit's entries are sequenced
    as batch 1 (or any other n, tPrev or t than the ones it used)."""
    x = repair(batch0, pre_state(), _a_rests())
    x["batchInfo"] = str(int(x["batchInfo"]) + (1 << 80))
    batch0.witness(x).assert_rejected_only_by("batchInfo")


def test_market_parameters_other_than_the_registered_ones(batch0):
    """The operator charges B's taker fee at 0 instead of the registered 500 ppm but
    publishes the registered configHash."""
    x = _take(10)
    registered = x["configHash"]
    x["marketTakerFeePpm"] = ["0", x["marketTakerFeePpm"][1]]
    x = repair(batch0, pre_state(), x)
    assert x["configHash"] != registered
    x["configHash"] = registered
    batch0.witness(x).assert_rejected_only_by("configHash")
