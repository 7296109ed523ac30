"""Batch: the encrypted inbox at the batch level (docs/inbox.md; Batch.circom phase 3).

Default instance ``Batch(4, 2, 2, 4, 2, 2)``; the pre-state is test_batch_tampers.py's (A
and B each rest an ask; the insurance fund has a key) and the batch moves the funding
indices, so an account leaf the circuit writes differs from the one it opened.

(i) Every kind of invalid message is a no-op: the model (``BatchBuilder.add_message``)
    gives its reason, and the honest witness satisfies the circuit with the model's new
    root and inbox chain. The invalid message is the batch's second, after a valid order;
    a no-op message the padding fills name: ``test_padding_fill_reads_a_no_op_messages_market``.
(ii) The batch consumes the inbox as it is: a consistent malicious witness (every opening
    and root repaired, tests/circuits/cheat.py) that drops, swaps, alters, invents or stops
    short of a message, with the Rollup's ``inboxAfter`` kept, is rejected by the chain
    equality ``chain[E] === inboxAfter`` (or by msgUsed's prefix rule) alone.
(iii) The operator's key: a secret whose key is not operatorKeyX/Y (another one, or the
    negated one, whose key differs in x only), and another key with its configHash where
    the Rollup has registered the first, are each refused by their own check (1b).
(iv) The operator cannot turn a valid order into a no-op: not by opening another account's
    leaf for it (check (4b)), nor by claiming its order slot holds a higher id (the slot
    opening).
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Any

import pytest

from prover.crypto import babyjub
from prover.crypto.eddsa import PrivateKey
from prover.exchange import inbox
from prover.exchange.batch import BatchBuilder, BatchResult
from prover.exchange.constants import INSURANCE_ACCOUNT, SIDE_BUY, TIF_GTC
from prover.exchange.domain import Cancel, Order, Reject, SignedCancel, SignedOrder
from prover.exchange.inbox import Message
from prover.exchange.venue import DEV_OPERATOR
from tests.circuits.cheat import (
    encrypt,
    inputs_of,
    message,
    repair,
    set_message,
    swap_entries,
)
from tests.circuits.harness import Circuit
from tests.circuits.scenario import CONFIG, KEY_A, KEY_B, A, D, E
from tests.circuits.test_batch_tampers import ASK_B, KEY_I, pre_state, rest_batch
from tests.venue import prices

B = 3  # trader B's account
#: Batch 1, 1000 s after the pre-state's batch; the funding indices move (within their cap).
PARAMS = prices(1, 2000, (1000, 500), (3, -2))
OTHER_OPERATOR = PrivateKey.from_seed("another operator")
STRANGER = PrivateKey.from_seed("a key no account has")
UNKNOWN = 5  # an index with no account (< 2^D)


def _order(account: int, price: int, order_id: int, **changes: Any) -> Order:
    """A GTC bid of 1 lot in market 0 (tick 10), expiry 10^6, fee cap 1000 ppm."""
    fields = dict(
        account=account, market=0, side=SIDE_BUY, price=price, size=1, order_id=order_id,
        expiry=10**6, max_fee_ppm=1000, tif=TIF_GTC,
    )
    fields.update(changes)
    return Order(**fields)


def _signed(order: Order, key: PrivateKey | None = None) -> SignedOrder:
    keys = {A: KEY_A, B: KEY_B, INSURANCE_ACCOUNT: KEY_I}
    return SignedOrder.sign(order, key or keys.get(order.account, STRANGER))


BID_A = _signed(_order(A, 900, 4))  # A's slot 0
BID_B = _signed(_order(B, 890, 5))  # B's slot 1


def _build(messages: list[Message]) -> tuple[BatchResult, list[Reject | None]]:
    """The model's batch of ``messages`` (no fill) on the pre-state, and each one's reason."""
    builder = BatchBuilder(pre_state(), CONFIG, PARAMS)
    reasons = [builder.add_message(m).reason for m in messages]
    return builder.seal(), reasons


# --- (i) every invalid message is a no-op ----------------------------------------------------


def _ask_b_as_sent() -> Message:
    """B's ask as the inbox held it in the pre-state's batch (message 1 of rest_batch)."""
    msg = rest_batch().witness.entries[1].message
    assert inbox.decode(msg, DEV_OPERATOR.scalar).entry == SignedOrder.sign(ASK_B, KEY_B)
    return msg


def _too_wide() -> Message:
    sig = BID_A.signature
    packed = inbox.entry_plaintext(BID_A)[0] | 1 << inbox.PACKED_BITS
    return encrypt([packed, sig.r8[1], sig.s])


#: kind -> (the message, the model's reason).
INVALID: dict[str, Any] = {
    "garbage ciphertext": (
        lambda: Message(inbox.ephemeral_key(777)[1], (1, 2, 3, 4)), Reject.MALFORMED),
    "encrypted to another key": (
        lambda: message(_signed(_order(A, 910, 6)), OTHER_OPERATOR.public_key), Reject.MALFORMED),
    "packed fields too wide": (_too_wide, Reject.MALFORMED),
    "bad signature": (lambda: message(_signed(_order(B, 890, 5), KEY_A)), Reject.BAD_SIGNATURE),
    "unknown account": (
        lambda: message(_signed(_order(UNKNOWN, 890, 1))), Reject.UNKNOWN_ACCOUNT),
    "account >= 2^D": (
        lambda: message(_signed(_order(1 << D, 890, 1))), Reject.UNKNOWN_ACCOUNT),
    "stale order id (a replay)": (_ask_b_as_sent, Reject.STALE_ORDER_ID),
    "insurance fund": (
        lambda: message(_signed(_order(INSURANCE_ACCOUNT, 890, 1))), Reject.MALFORMED),
    "bad market": (lambda: message(_signed(_order(B, 890, 5, market=5))), Reject.UNKNOWN_MARKET),
    "tif 3": (lambda: message(_signed(_order(B, 890, 5, tif=3))), Reject.MALFORMED),
    "off tick": (lambda: message(_signed(_order(B, 895, 5))), Reject.OFF_TICK),
    "zero price": (lambda: message(_signed(_order(B, 0, 5))), Reject.BAD_PRICE),
    "zero size": (lambda: message(_signed(_order(B, 890, 5, size=0))), Reject.BAD_SIZE),
    "expired": (lambda: message(_signed(_order(B, 890, 5, expiry=1999))), Reject.EXPIRED),
    "fee cap below the fee": (
        lambda: message(_signed(_order(B, 890, 5, max_fee_ppm=499))), Reject.FEE_TOO_HIGH),
    "cancel, bad signature": (
        lambda: message(SignedCancel.sign(Cancel(B, 7), KEY_A)), Reject.BAD_SIGNATURE),
    "cancel, stale order id": (
        lambda: message(SignedCancel.sign(Cancel(B, ASK_B.order_id), KEY_B)),
        Reject.STALE_ORDER_ID),
}


@cache
def _with_invalid(kind: str) -> tuple[BatchResult, list[Reject | None]]:
    make, _ = INVALID[kind]
    return _build([message(BID_A), make()])


@pytest.mark.parametrize("kind", list(INVALID))
def test_invalid_message_is_a_no_op(batch, batch0, kind):
    """Message 1 is invalid: the model's reason is the expected one, the batch consumes it
    (the chain runs through it) but writes nothing for it, and the honest witness satisfies
    the circuit (--O2 and --O0) with the model's public inputs; the circuit's validity bit
    of each message is the model's."""
    result, reasons = _with_invalid(kind)
    assert reasons == [None, INVALID[kind][1]]
    assert len(result.witness.messages) == 2
    assert result.witness.inbox_before == pre_state().inbox_chain
    assert result.witness.inbox_after == inbox.chain_of(
        result.witness.messages, result.witness.inbox_before
    )
    assert result.state.inbox_chain == result.witness.inbox_after
    honest, _ = _build([message(BID_A)])  # the same batch without message 1's slot write
    for account in (A, B, INSURANCE_ACCOUNT, UNKNOWN):
        for slot in range(4):
            if pre_state().exists(account):
                assert result.state.slot(account, slot) == honest.state.slot(account, slot)
    inputs = inputs_of(result)
    w = batch.witness(inputs)
    assert w.ok, w.failing()
    assert w.values[1:7] == [
        result.old_root,
        result.new_root,
        result.batch_info,
        result.config_hash,
        result.witness.inbox_before,
        result.witness.inbox_after,
    ]
    w0 = batch0.witness(inputs)
    assert w0.ok
    assert [w0[f"entry[{e}].valid"] for e in range(E)] == [1, 0]


def test_unknown_accounts_empty_leaf_is_opened_and_stays_empty(batch0):
    """The message names account 5, which has no leaf: its empty leaf is opened in an
    account slot (check (4b) makes the message's slot hold that index) and written back
    unchanged, though the batch moves the funding indices every opened account takes."""
    result, _ = _with_invalid("unknown account")
    x = inputs_of(result)
    k = [int(i) for i in x["accIndex"]].index(UNKNOWN)
    assert x["accUsed"][k] == "1" and x["entryAccountSlot"][1] == str(k)
    w = batch0.witness(x)
    assert w.ok
    assert w[f"written[{k}]"] == w[f"leafBefore[{k}].leaf"] == pre_state().empty_leaf
    assert w[f"leafAfter[{k}].leaf"] != w[f"leafBefore[{k}].leaf"]  # a write would show
    assert not result.state.exists(UNKNOWN)


def test_account_beyond_the_tree_names_no_slot(batch0):
    """An account index >= 2^D names no leaf (``named`` = 0): the message opens an order
    slot of the fee account (slot 0), as the model pads, and is a no-op."""
    result, _ = _with_invalid("account >= 2^D")
    w = batch0.witness(inputs_of(result))
    assert w.ok
    assert w["named[1]"] == 0 and w["msg[1].decodable"] == 1 and w["accountOk[1]"] == 0
    assert inputs_of(result)["entryAccountSlot"][1] == "0"


@pytest.mark.parametrize("first", ["no message", "a bad-market message"])
def test_padding_fill_reads_a_no_op_messages_market(batch, first):
    """A batch whose padding fills (the model: taker entry 0) name a no-op message with
    market bits >= M is proven: an empty batch (the model's padding message decrypts to
    market 6 under the development key) and one whose only message is a signed order in
    market 5 (a no-op). Before the fix (``fill[f].takerMarket <== fillUsed[f] * ...``, a
    padding fill reads market 0) FillCheck's market selector failed on them, so E such
    messages in a row, which anyone can post, left no batch over them provable (a liveness
    bug found by the review of this change; at M = 8 the 3 market bits are always in
    range)."""
    messages = [] if first == "no message" else [INVALID["bad market"][0]()]
    result, _ = _build(messages)
    w = batch.witness(inputs_of(result))
    assert w.ok, w.failing()


# --- (ii) the batch consumes the inbox as it is -----------------------------------------------


@lru_cache(maxsize=1)
def _two() -> BatchResult:
    """The inbox holds A's bid, then B's bid; the batch consumes both (no fill)."""
    result, reasons = _build([message(BID_A), message(BID_B)])
    assert reasons == [None, None]
    return result


def _against_the_rollup(batch0: Circuit, x: dict[str, Any], honest: BatchResult):
    """Repair ``x`` and put back the Rollup's inboxAfter (that of the messages it holds);
    the witness, after checking the cheat did change the chain."""
    x = repair(batch0, pre_state(), x)
    assert int(x["inboxAfter"]) != honest.witness.inbox_after
    x["inboxAfter"] = str(honest.witness.inbox_after)
    return batch0.witness(x)


CHAIN = "inboxAfter"  # the constraint chain[E] === inboxAfter involves it (and chain[E])


def test_dropped_message(batch0):
    """A's bid left out (the operator censors it): the batch consumes B's bid alone, as
    the model would build it, against the Rollup's inbox of both."""
    result, _ = _build([message(BID_B)])
    x = inputs_of(result)
    w = _against_the_rollup(batch0, x, _two())
    w.assert_rejected_only_by(CHAIN)


def test_dropped_message_in_place(batch0):
    """A's bid's slot marked unused, B's bid still in slot 1: msgUsed's prefix rule, and
    the chain (it skips A's bid)."""
    x = inputs_of(_two())
    x["msgUsed"][0] = "0"
    w = _against_the_rollup(batch0, x, _two())
    found = w.assert_rejected_only_by("msgUsed[1]", CHAIN)
    assert any(v.involves("main.msgUsed[1]") for v in found)


def test_stopped_short(batch0):
    """B's bid's slot marked unused (it keeps the message, which a padding slot ignores):
    the batch processes one message of the two the Rollup's inboxAfter covers."""
    x = inputs_of(_two())
    x["msgUsed"][1] = "0"
    w = _against_the_rollup(batch0, x, _two())
    assert w["entry[1].valid"] == 0
    w.assert_rejected_only_by(CHAIN)


def test_swapped_messages(batch0):
    """B's bid processed before A's (both still valid; each entry's seq changes)."""
    x = swap_entries(inputs_of(_two()), 0, 1)
    w = _against_the_rollup(batch0, x, _two())
    assert [w[f"entry[{e}].valid"] for e in range(E)] == [1, 1]
    w.assert_rejected_only_by(CHAIN)


@pytest.mark.parametrize("j", range(4))
def test_altered_ciphertext(batch0, j):
    """Element j of B's ciphertext plus one: the message no longer authenticates, so it is
    a no-op (the operator would censor it); the chain over the altered message differs."""
    x = inputs_of(_two())
    x["msgCiphertext"][1][j] = str(int(x["msgCiphertext"][1][j]) + 1)
    w = _against_the_rollup(batch0, x, _two())
    assert w["msg[1].decodable"] == 0 and w["entry[1].valid"] == 0
    w.assert_rejected_only_by(CHAIN)


def test_invented_message(batch0):
    """The inbox holds A's bid only; the operator adds a second used slot with an order of
    A's it has (a valid one, signed by A: a message A sent the operator directly)."""
    honest, _ = _build([message(BID_A)])
    x = inputs_of(honest)
    assert x["msgUsed"] == ["1", "0"]
    x["msgUsed"][1] = "1"
    set_message(x, 1, message(_signed(_order(A, 910, 5))))
    x["entryAccountSlot"][1] = x["entryAccountSlot"][0]
    w = _against_the_rollup(batch0, x, honest)
    assert w["entry[1].valid"] == 1
    w.assert_rejected_only_by(CHAIN)


# --- (iii) the operator's key ------------------------------------------------------------------

def test_wrong_operator_secret(batch0):
    """Another secret, the registered key kept: every message decrypts to garbage, so both
    bids would be no-ops (the operator censors the inbox). ``s * BASE8 = O`` refuses it."""
    x = inputs_of(_two())
    x["operatorSecret"] = str(OTHER_OPERATOR.scalar)
    x = repair(batch0, pre_state(), x)
    assert x["inboxAfter"] == str(_two().witness.inbox_after)  # the chain is the inbox's
    assert x["configHash"] == str(_two().config_hash)
    w = batch0.witness(x)
    assert [w[f"msg[{e}].decodable"] for e in range(E)] == [0, 0]
    w.assert_rejected_only_by("operatorKeyX", "operatorKeyY")


def test_negated_operator_secret(batch0):
    """The secret -s mod l, whose key -O = (-Ox, Oy) has the registered key's y: the shared
    keys are negated, so both bids decrypt to garbage (no-ops: the operator censors them).
    Only the x equality refuses it (the y one cannot: within the prime-order subgroup, x
    fixes y)."""
    negated = -DEV_OPERATOR.scalar % babyjub.SUBORDER
    ox, oy = DEV_OPERATOR.public_key
    assert babyjub.mul_base8(negated) == (babyjub.P - ox, oy)
    x = inputs_of(_two())
    x["operatorSecret"] = str(negated)
    w = batch0.witness(repair(batch0, pre_state(), x))
    assert [w[f"msg[{e}].decodable"] for e in range(E)] == [0, 0]
    w.assert_rejected_only_by("operatorKeyX")


def test_other_operator_key_than_the_registered_one(batch0):
    """Another key pair (secret and key agree), with the configHash it implies; the Rollup
    has the development operator's: the configHash check refuses it. (The messages,
    encrypted to the registered key, would all be no-ops.)"""
    other = OTHER_OPERATOR
    x = inputs_of(_two())
    x["operatorSecret"] = str(other.scalar)
    x["operatorKeyX"], x["operatorKeyY"] = map(str, other.public_key)
    x = repair(batch0, pre_state(), x)
    assert x["configHash"] != str(_two().config_hash)
    x["configHash"] = str(_two().config_hash)
    w = batch0.witness(x)
    assert [w[f"msg[{e}].decodable"] for e in range(E)] == [0, 0]
    w.assert_rejected_only_by("configHash")


# --- (iv) a valid order cannot be made a no-op ----------------------------------------------


@pytest.mark.parametrize(
    "slot, rules",
    [(0, ("entryIndex[0]",)), (3, ("entryUsedSlot[0]", "entryIndex[0]"))],
    ids=["the fee account's slot", "the unused padding slot"],
)
def test_valid_order_opened_in_another_account_slot(batch0, slot, rules):
    """A's bid (message 0) pointed at account slot 0 (the fee account, whose key is (0, 0),
    so the signature fails) or at the unused slot 3: the message would be a no-op. It
    names A, so the slot it selects must be used and hold index A (check (4b))."""
    honest, _ = _build([message(BID_A)])
    x = inputs_of(honest)
    assert x["accUsed"] == ["1", "1", "1", "0"] and x["entryAccountSlot"][0] == "2"
    x["entryAccountSlot"][0] = str(slot)
    w = batch0.witness(repair(batch0, pre_state(), x))
    assert w["named[0]"] == 1 and w["entry[0].valid"] == 0
    w.assert_rejected_only_by(*rules)


def test_valid_order_against_a_claimed_stale_slot(batch0):
    """The operator opens A's slot 0 as if it held order id 4 already (so A's bid, id 4,
    would be stale): that opening is not in A's order root."""
    honest, _ = _build([message(BID_A)])
    x = inputs_of(honest)
    assert x["entryOldSlotOrderId"][0] == "0"
    x["entryOldSlotOrderId"][0] = "4"
    w = batch0.witness(repair(batch0, pre_state(), x, keep=[("entryOldSlotOrderId", 0)]))
    assert w["entry[0].valid"] == 0
    w.assert_rejected_only_by("entry[0].update")
