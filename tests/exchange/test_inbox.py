"""The inbox message model (prover/exchange/inbox.py, docs/inbox.md).

Round trips, the packing's bounds, the chain, the cofactor key exchange, agreement with
zk-kit's Poseidon cipher (run with node), and which messages ``rejection`` calls no-ops.
"""

from __future__ import annotations

import random

import pytest

from prover.crypto import babyjub
from prover.crypto.babyjub import SUBORDER
from prover.crypto.eddsa import PrivateKey, secret_scalar
from prover.crypto.poseidon_hash import poseidon
from prover.exchange import inbox
from prover.exchange.domain import (
    Cancel,
    Market,
    Order,
    Reject,
    SignedCancel,
    SignedOrder,
)
from prover.field import SNARK_FIELD
from tests.crypto.jsref import dec, reference

P = SNARK_FIELD
OPERATOR = PrivateKey.from_seed("inbox-operator")
S_OP = secret_scalar(OPERATOR)
TRADER = PrivateKey.from_seed("inbox-trader")
MARKETS = (
    Market(0, tick_size=10, imr_bps=1000, mmr_bps=500, maker_fee_ppm=200, taker_fee_ppm=500),
)


def order(**changes: int) -> SignedOrder:
    fields = dict(
        account=2,
        market=0,
        side=0,
        price=1000,
        size=5,
        order_id=9,
        expiry=500,
        max_fee_ppm=500,
        tif=0,
    )
    fields.update(changes)
    return SignedOrder.sign(Order(**fields), TRADER)


def test_round_trip_order_and_cancel() -> None:
    for entry in (order(), SignedCancel.sign(Cancel(2, 13), TRADER)):
        msg = inbox.encrypt_entry(entry, OPERATOR.public_key)
        msg.check()
        d = inbox.decode(msg, S_OP)
        assert d.authenticated and d.reason is None
        assert d.entry == entry
        assert inbox.Message.from_json(msg.to_json()) == msg


def test_ephemeral_keys_have_a_small_x_and_fresh_randomness() -> None:
    for k in (1, 2, 3, 8, 1001, SUBORDER - 1, 12345):
        k2, point = inbox.ephemeral_key(k)
        assert point[0] < inbox.SMALL_X_BOUND and babyjub.on_curve(point)
        assert babyjub.mul_base8(k2) == point
    # k * BASE8 has neither root small for k = 2, 8, 1001, 1002, 1003: the next k is used.
    assert inbox.ephemeral_key(1)[0] == 1 and inbox.ephemeral_key(3)[0] == 3
    assert inbox.ephemeral_key(2)[0] in (3, SUBORDER - 3)
    assert inbox.ephemeral_key(8)[0] in (9, SUBORDER - 9)
    assert inbox.ephemeral_key(1001)[0] in (1004, SUBORDER - 1004)
    assert inbox.ephemeral_scalar_from(7) == inbox.ephemeral_key(8)[0]
    a = inbox.encrypt_entry(order(), OPERATOR.public_key)
    b = inbox.encrypt_entry(order(), OPERATOR.public_key)
    assert a.eph != b.eph and a.ciphertext != b.ciphertext


def test_cofactor_key_exchange_both_sides_agree() -> None:
    k, eph = inbox.ephemeral_key(777)
    trader_side = babyjub.mul(OPERATOR.public_key, 8 * k % SUBORDER)
    assert inbox.operator_shared_key(S_OP, eph) == trader_side
    assert inbox.operator_shared_key(S_OP, (0, 1)) == (0, 1)
    assert inbox.operator_shared_key(S_OP, (0, P - 1)) == (0, 1)


def test_cipher_is_zkkits() -> None:
    """zk-kit's poseidonEncrypt gives our ciphertext, and its poseidonDecrypt reads it."""
    rng = random.Random(3)
    cases = []
    for _ in range(3):
        key = babyjub.mul_base8(rng.randrange(1, SUBORDER))
        plain = [rng.randrange(P) for _ in range(3)]
        cases.append((plain, key, list(inbox.encrypt_plaintext(plain, key))))
    req = [{"op": "encrypt", "msg": dec(m), "key": dec(k), "nonce": "0"} for m, k, _ in cases]
    req += [
        {"op": "decrypt", "ct": dec(c), "key": dec(k), "nonce": "0", "length": 3}
        for _, k, c in cases
    ]
    ans = reference(req)
    for (m, _, c), enc, plain in zip(cases, ans[:3], ans[3:], strict=True):
        assert enc == dec(c)
        assert plain == dec(m)


def test_chain() -> None:
    msgs = [
        inbox.encrypt_entry(order(order_id=i + 1), OPERATOR.public_key, i + 5) for i in range(3)
    ]
    h = 0
    for m in msgs:
        c = m.ciphertext
        h = poseidon([poseidon([h, m.eph[1], c[0], c[1]]), c[2], c[3]])
    assert inbox.chain_of(msgs) == h
    assert inbox.chain_of(msgs[:2]) != inbox.chain_of([msgs[1], msgs[0]])


def test_packing_bounds() -> None:
    assert inbox.PACKED_BITS == 235
    top = {name: (1 << w) - 1 for name, (_, w) in inbox.FIELDS.items()}
    packed = inbox.pack_fields(top)
    assert packed == (1 << 235) - 1
    assert inbox.unpack_fields(packed) == top
    with pytest.raises(inbox.MessageError):
        inbox.pack_fields({"price": 1 << 40})
    with pytest.raises(inbox.MessageError):
        inbox.pack_fields({"nope": 1})
    with pytest.raises(inbox.MessageError):
        inbox.unpack_fields(1 << 235)
    # An order field beyond its width cannot be sent at all.
    with pytest.raises(inbox.MessageError):
        inbox.entry_plaintext(order(price=1 << 40))


def test_message_checks_and_json_errors() -> None:
    msg = inbox.encrypt_entry(order(), OPERATOR.public_key)
    with pytest.raises(inbox.MessageError, match="below 2"):
        inbox.Message((P - msg.eph[0], msg.eph[1]), msg.ciphertext).check()
    with pytest.raises(inbox.MessageError, match="not on Baby Jubjub"):
        inbox.Message((2, 3), msg.ciphertext).check()
    with pytest.raises(inbox.MessageError):
        inbox.Message(msg.eph, (P, 0, 0, 0))
    with pytest.raises(inbox.MessageError):
        inbox.Message.from_json({"eph": ["1"]})
    with pytest.raises(inbox.MessageError):
        inbox.encrypt_entry(order(), (1, 2))


def test_decode_of_bad_messages_never_raises() -> None:
    good = inbox.encrypt_entry(order(), OPERATOR.public_key, 11)
    other = PrivateKey.from_seed("other-operator")
    assert inbox.decode(good, secret_scalar(other)).reason == "authentication failed"
    bad_ct = inbox.Message(good.eph, (good.ciphertext[0] ^ 1, *good.ciphertext[1:]))
    assert not inbox.decode(bad_ct, S_OP).authenticated
    assert inbox.decode(inbox.Message((0, 1), (1, 2, 3, 4)), S_OP).entry is None


def rejection(entry, *, pubkey=None, slot_order_id=0, timestamp=100, account_bits=4):
    d = inbox.decode(inbox.encrypt_entry(entry, OPERATOR.public_key, 3), S_OP)
    return inbox.rejection(
        d,
        account_bits=account_bits,
        pubkey=pubkey or TRADER.public_key,
        slot_order_id=slot_order_id,
        markets=MARKETS,
        timestamp=timestamp,
    )


def test_rejection_reasons() -> None:
    assert rejection(order()) is None
    assert rejection(SignedCancel.sign(Cancel(2, 13), TRADER)) is None
    cases = [
        (order(market=1), Reject.UNKNOWN_MARKET),
        (order(price=1005), Reject.OFF_TICK),
        (order(price=0), Reject.BAD_PRICE),
        (order(size=0), Reject.BAD_SIZE),
        (order(tif=3), Reject.MALFORMED),
        (order(max_fee_ppm=10**6 + 1), Reject.MALFORMED),
        (order(max_fee_ppm=400), Reject.FEE_TOO_HIGH),
        (order(expiry=99), Reject.EXPIRED),
        (order(account=16), Reject.UNKNOWN_ACCOUNT),
        (order(account=1), Reject.MALFORMED),
        (order(order_id=0), Reject.MALFORMED),
    ]
    for entry, reason in cases:
        assert rejection(entry) == reason, entry
    assert rejection(order(), pubkey=(0, 0)) == Reject.UNKNOWN_ACCOUNT
    assert rejection(order(), pubkey=PrivateKey.from_seed("x").public_key) == Reject.BAD_SIGNATURE
    assert rejection(order(), slot_order_id=9) == Reject.STALE_ORDER_ID
    assert rejection(order(), slot_order_id=8) is None
    assert rejection(order(expiry=100)) is None  # expiry = t is still live
    d = inbox.decode(inbox.encrypt_entry(order(), PrivateKey.from_seed("y").public_key), S_OP)
    assert (
        inbox.rejection(
            d,
            account_bits=4,
            pubkey=TRADER.public_key,
            slot_order_id=0,
            markets=MARKETS,
            timestamp=0,
        )
        == Reject.MALFORMED
    )
