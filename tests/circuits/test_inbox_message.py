"""The inbox message templates before the state: InboxChainStep, CofactorEcdh,
PoseidonDecrypt3, PointFromY and InboxMessage (docs/inbox.md).

Honest cases come from the Python model (prover/exchange/inbox.py). Every kind of invalid
message is checked to be *satisfiable* with the flag the model predicts (a bad message is a
no-op; it can never make the proof fail). The prover's freedom is checked where it has
some: each ``<--`` hint of these templates is replaced by the one a cheating operator would
compute (a copy of circuits/ with that hint changed, every other signal computed by the
circuit), and the witness must be rejected by that template's own constraint.
"""

from __future__ import annotations

import random

import pytest

from prover.crypto import babyjub
from prover.crypto.babyjub import SUBORDER
from prover.crypto.eddsa import PrivateKey, secret_scalar
from prover.exchange import inbox
from prover.exchange.domain import Cancel, Order, SignedCancel, SignedOrder
from prover.field import SNARK_FIELD
from tests.circuits import mutants
from tests.circuits.harness import compile_main, expect_count
from tests.circuits.scenario import KEY_A

P = SNARK_FIELD
OPERATOR = PrivateKey.from_seed("test-operator")
OP_SCALAR = secret_scalar(OPERATOR)
OP_PUB = OPERATOR.public_key
OTHER = PrivateKey.from_seed("someone-else")
SECRET_BITS = [(OP_SCALAR >> i) & 1 for i in range(253)]


@pytest.fixture(scope="module")
def message():
    return compile_main("lib/InboxMessage.circom", "InboxMessage()")


def signed_order(**changes: int) -> SignedOrder:
    fields = dict(
        account=2,
        market=0,
        side=1,
        price=1000,
        size=7,
        order_id=3,
        expiry=10_000,
        max_fee_ppm=1000,
        tif=0,
    )
    fields.update(changes)
    return SignedOrder.sign(Order(**fields), KEY_A)


def message_inputs(msg: inbox.Message, *, used: int = 1, chain: int = 12345) -> dict:
    return {
        "used": used,
        "chainBefore": chain,
        "secretBits": SECRET_BITS,
        "ephX": msg.eph[0],
        "ephY": msg.eph[1],
        "c": list(msg.ciphertext),
    }


def raw_message(plaintext: list[int], *, eph_scalar: int = 99) -> inbox.Message:
    """A message whose plaintext is whatever a sender chose (authenticated, to the operator)."""
    k, eph = inbox.ephemeral_key(eph_scalar)
    shared = babyjub.mul(OP_PUB, 8 * k % SUBORDER)
    return inbox.Message(eph, inbox.encrypt_plaintext(plaintext, shared))


def check_against_model(circuit, msg: inbox.Message, *, used: int = 1) -> dict:
    w = circuit.witness(message_inputs(msg, used=used))
    assert w.ok, w.failing()
    d = inbox.decode(msg, OP_SCALAR)
    assert w["chainAfter"] == (inbox.chain_step(12345, msg) if used else 12345)
    expected = used and d.entry is not None
    assert w["decodable"] == int(bool(expected))
    if expected:
        fields = d.fields
        assert fields is not None
        for name in ("kind", "account", "market", "side", "price", "size", "expiry", "tif"):
            assert w[name] == fields[name], name
        assert w["orderId"] == fields["order_id"]
        for name, field, width in (
            ("accountBits", "account", 32),
            ("orderIdBits", "order_id", 64),
            ("tifBits", "tif", 2),
        ):
            assert [w[f"{name}[{i}]"] for i in range(width)] == [
                (fields[field] >> i) & 1 for i in range(width)
            ], name
        assert w["maxFeePpm"] == fields["max_fee_ppm"]
        sig = d.entry.signature
        assert w["r8Ok"] == int(sig.r8 != (0, 0))
        if sig.r8 != (0, 0):
            assert (w["r8x"], w["r8y"]) == sig.r8
        assert w["sigS"] == sig.s
    return {"w": w, "decoded": d}


# --- InboxMessage: honest and invalid messages, all satisfiable ----------


def test_honest_order_and_cancel(message):
    order = signed_order()
    r = check_against_model(message, inbox.encrypt_entry(order, OP_PUB, 7))
    assert r["decoded"].entry == order
    cancel = SignedCancel.sign(Cancel(2, 3 + 4), KEY_A)
    r = check_against_model(message, inbox.encrypt_entry(cancel, OP_PUB, 8))
    assert r["decoded"].entry == cancel


def test_random_honest_orders(message):
    rng = random.Random(5)
    for _ in range(4):
        order = signed_order(
            price=rng.randrange(1, 2**40),
            size=rng.randrange(1, 2**32),
            order_id=rng.randrange(1, 2**64),
            expiry=rng.randrange(2**40),
            side=rng.randrange(2),
            tif=rng.randrange(3),
            market=rng.randrange(8),
            account=rng.randrange(2**32),
            max_fee_ppm=rng.randrange(2**20),
        )
        msg = inbox.encrypt_entry(order, OP_PUB, rng.randrange(1, SUBORDER))
        r = check_against_model(message, msg)
        assert r["decoded"].entry == order


def test_padding_slot_leaves_the_chain(message):
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    r = check_against_model(message, msg, used=0)
    assert r["w"]["decodable"] == 0
    # The builder's padding: BASE8 (even x? then as is) and a zero ciphertext.
    k, eph = inbox.ephemeral_key(1)
    check_against_model(message, inbox.Message(eph, (0, 0, 0, 0)), used=0)


def test_encrypted_to_another_key(message):
    msg = inbox.encrypt_entry(signed_order(), OTHER.public_key, 7)
    r = check_against_model(message, msg)
    assert r["decoded"].reason == "authentication failed"


@pytest.mark.parametrize("i", range(4))
def test_altered_ciphertext(message, i):
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    ct = list(msg.ciphertext)
    ct[i] = (ct[i] + 1) % P
    r = check_against_model(message, inbox.Message(msg.eph, tuple(ct)))
    assert not r["decoded"].authenticated


def test_packed_fields_too_wide(message):
    good = inbox.entry_plaintext(signed_order())
    for bit in (inbox.PACKED_BITS, 253):
        r = check_against_model(message, raw_message([good[0] | 1 << bit, good[1], good[2]]))
        assert r["decoded"].reason == "packed fields too wide"
    # p - 1: 254 bits, its strict decomposition is unique.
    check_against_model(message, raw_message([P - 1, good[1], good[2]]))


def test_r8_without_a_point_and_the_x_zero_points(message):
    good = inbox.entry_plaintext(signed_order())
    y = next(y for y in range(2, 100) if inbox.x_from_y(y, 0) is None)
    r = check_against_model(message, raw_message([good[0], y, good[2]]))
    assert r["decoded"].entry.signature.r8 == (0, 0)
    parity = 1 << inbox.FIELDS["r8_parity"][0]
    for y, sign, ok in ((1, 0, True), (1, 1, False), (P - 1, 0, True), (P - 1, 1, False)):
        packed = (good[0] & ~parity) | (parity if sign else 0)
        r = check_against_model(message, raw_message([packed, y, good[2]]))
        assert (r["w"]["r8Ok"] == 1) is ok


@pytest.mark.parametrize("eph", [(0, 1), (0, P - 1)], ids=["identity", "order-2"])
def test_low_order_ephemeral_keys(message, eph):
    """The Rollup accepts any on-curve point with even x: 8 * E is the identity, the shared
    key is the identity, the message decrypts to garbage; nothing fails."""
    msg = inbox.Message(eph, tuple(inbox.encrypt_plaintext([1, 2, 3], (0, 1))))
    r = check_against_model(message, msg)
    assert r["decoded"].shared == (0, 1)


def test_ephemeral_key_with_a_small_order_part(message):
    """E = k * BASE8 + T with T of order 4 (even x kept): 8 * E = 8k * BASE8, so the
    message still decrypts (to the operator, E and E - T are the same key)."""
    x4 = babyjub.sqrt(pow(babyjub.A, -1, P))
    assert x4 is not None
    t4 = (x4, 0)
    assert babyjub.on_curve(t4) and babyjub.mul(t4, 4) == (0, 1)
    _, eph = inbox.ephemeral_key(1234)
    e = babyjub.add(eph, t4)
    if e[0] & 1:
        e = babyjub.add(eph, babyjub.neg(t4))
    assert e[0] % 2 == 0 and not babyjub.in_subgroup(e)
    order = signed_order()
    shared = inbox.operator_shared_key(OP_SCALAR, e)
    msg = inbox.Message(e, inbox.encrypt_plaintext(inbox.entry_plaintext(order), shared))
    r = check_against_model(message, msg)
    assert r["decoded"].entry == order


# --- InboxMessage: the prover's hints ----------


def _cheat(file: str, old: str, new: str):
    return compile_main(
        "lib/InboxMessage.circom",
        "InboxMessage()",
        optimize=0,
        sources=mutants.apply(mutants.replace(file, old, new)),
    )


def test_the_odd_root_of_the_ephemeral_key_is_rejected(message):
    """A cheat that feeds p - ex (same y, odd x) gets another shared key and garbage: the
    even-x rule of CofactorEcdh refuses it."""
    circuit = compile_main("lib/InboxMessage.circom", "InboxMessage()", optimize=0)
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    inputs = message_inputs(msg)
    assert circuit.accepts(inputs)
    inputs["ephX"] = P - msg.eph[0]
    circuit.witness(inputs).assert_rejected_only_by("ecdh.xBits")


def test_the_other_root_of_r8_is_rejected():
    cheat = _cheat(
        "lib/PointFromY.circom", "if (root % 2 != parity) {", "if (root % 2 == parity) {"
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    w = cheat.witness(message_inputs(msg))
    w.assert_rejected_only_by("r8.parityMatters")


def test_used_is_a_bit():
    """used = 2 would scale the chain step (and decodable) by 2."""
    circuit = compile_main("lib/InboxMessage.circom", "InboxMessage()", optimize=0)
    inputs = message_inputs(inbox.encrypt_entry(signed_order(), OP_PUB, 7))
    inputs["used"] = 2
    circuit.witness(inputs).assert_rejected_only_by("used")


def test_the_curve_quantity_u_is_pinned():
    """A cheat that computes u as 5u (a non-square when u is a square) would declare the
    signature's point missing; the division constraint refuses it."""
    cheat = _cheat(
        "lib/PointFromY.circom",
        "u <-- (1 - y2) / (a - d * y2);",
        "u <-- 5 * (1 - y2) / (a - d * y2);",
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    w = cheat.witness(message_inputs(msg))
    assert w["r8Ok"] == 0
    w.assert_rejected_only_by("r8.u")


def test_a_root_must_square_to_u():
    """isSquare = 0 with a made-up non-zero root: only r^2 = 5u refuses it."""
    cheat = compile_main(
        "lib/InboxMessage.circom",
        "InboxMessage()",
        optimize=0,
        sources=mutants.apply(
            mutants.replace("lib/PointFromY.circom", "isSquare <-- isSq;", "isSquare <-- 0;"),
            mutants.replace("lib/PointFromY.circom", "r <-- root;", "r <-- 7;"),
        ),
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    cheat.witness(message_inputs(msg)).assert_rejected_only_by("r8.factor")


def test_is_square_is_a_bit():
    """isSquare = 1/4 with r = 2x satisfies r^2 = u * (5 - 4 * isSquare) = 4u and would make
    r8Ok = 1/4, a non-bit that scales the slot write; the bit constraint refuses it."""
    cheat = compile_main(
        "lib/InboxMessage.circom",
        "InboxMessage()",
        optimize=0,
        sources=mutants.apply(
            mutants.replace("lib/PointFromY.circom", "isSquare <-- isSq;", "isSquare <-- 1 / 4;"),
            mutants.replace(
                "lib/PointFromY.circom",
                "r <-- root;",
                "var twice = 2 * root;\n    if (twice % 2 != parity) {\n        twice = -twice;\n"
                "    }\n    r <-- twice;",
            ),
        ),
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    w = cheat.witness(message_inputs(msg))
    assert w["r8Ok"] == pow(4, -1, P)
    w.assert_rejected_only_by("r8.isSquare")


def test_a_point_cannot_be_declared_missing():
    cheat = _cheat(
        "lib/PointFromY.circom",
        "if (uv == 0 || rootOfU != 0) {",
        "if (uv == 0 && uv != 0) {",
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    cheat.witness(message_inputs(msg)).assert_rejected_only_by("r8")
    # y = 1 (u = 0): r = 0 satisfies r^2 = 5u, so only the "r != 0" rule stands.
    good = inbox.entry_plaintext(signed_order())
    parity = 1 << inbox.FIELDS["r8_parity"][0]
    msg = raw_message([good[0] & ~parity, 1, good[2]])
    cheat.witness(message_inputs(msg)).assert_rejected_only_by("r8.rTimesInv")


# --- counts (last: under -x the cheaper tests kill a mutant first) ----------


def test_constraint_counts(message):
    expect_count(compile_main("lib/InboxChainStep.circom", "InboxChainStep()"), 558)
    expect_count(compile_main("lib/CofactorEcdh.circom", "CofactorEcdh()"), 2835)
    expect_count(compile_main("lib/PoseidonDecrypt3.circom", "PoseidonDecrypt3()"), 524)
    expect_count(compile_main("lib/PointFromY.circom", "PointFromY()"), 527)
    expect_count(message, 4968)
