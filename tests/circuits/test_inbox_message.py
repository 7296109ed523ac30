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

from prover.crypto import babyjub, eddsa
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
    # The builder's padding: BASE8 (its x is below 2^252) and a zero ciphertext.
    k, eph = inbox.ephemeral_key(1)
    assert eph == babyjub.BASE8
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


def _curve_x(y: int) -> int | None:
    y2 = y * y % P
    return babyjub.sqrt((1 - y2) * pow((babyjub.A - babyjub.D * y2) % P, -1, P) % P)


def test_r8_without_a_point_or_a_small_root_and_the_x_zero_points(message):
    good = inbox.entry_plaintext(signed_order())
    y = next(y for y in range(2, 100) if _curve_x(y) is None)
    r = check_against_model(message, raw_message([good[0], y, good[2]]))
    assert r["decoded"].entry.signature.r8 == (0, 0) and r["w"]["r8Ok"] == 0
    # On the curve, but both roots are >= 2^252: no compact R8.
    y = next(
        y for y in range(2, 1000) if _curve_x(y) is not None and inbox.small_x_from_y(y) is None
    )
    r = check_against_model(message, raw_message([good[0], y, good[2]]))
    assert r["decoded"].entry.signature.r8 == (0, 0) and r["w"]["r8Ok"] == 0
    for y in (1, P - 1):  # x = 0: the identity and the point of order 2
        r = check_against_model(message, raw_message([good[0], y, good[2]]))
        assert r["w"]["r8Ok"] == 1 and r["w"]["r8x"] == 0


def test_a_non_compact_signature_is_a_no_op(message):
    """A valid signature by the standard nonce whose R8x is >= 2^252: the message carries
    R8y only, the circuit (and the model) take the small root, -R8, and the signature
    fails; ``entry_plaintext`` refuses to send it at all."""
    for order_id in range(3, 100):
        order = Order(2, 0, 1, 1000, 7, order_id, 10_000, 1000, 0)
        sig = eddsa.sign(KEY_A, order.hash())
        if sig.r8[0] >= inbox.SMALL_X_BOUND:
            break
    signed = SignedOrder(order, sig)
    with pytest.raises(inbox.MessageError, match="compact"):
        inbox.entry_plaintext(signed)
    values = {name: getattr(order, name) for name in inbox._ORDER_NAMES}
    values["kind"] = inbox.KIND_ORDER
    r = check_against_model(message, raw_message([inbox.pack_fields(values), sig.r8[1], sig.s]))
    entry = r["decoded"].entry
    assert entry.signature.r8 == babyjub.neg(sig.r8) and r["w"]["r8Ok"] == 1
    assert not entry.verify(KEY_A.public_key)


def _torsion_small_x() -> list[tuple[int, int]]:
    """The points of order 4 and 8 whose x is below 2^252 (the Rollup accepts them)."""
    from prover.operator.decrypt import TORSION

    return sorted(t for t in TORSION if t[0] != 0 and t[0] < inbox.SMALL_X_BOUND)


@pytest.mark.parametrize("eph", [(0, 1), (0, P - 1), *_torsion_small_x()],
                         ids=lambda e: f"x={str(e[0])[:6]},y={str(e[1])[:6]}")
def test_low_order_ephemeral_keys(message, eph):
    """The Rollup accepts any on-curve point with x below 2^252, the low-order ones included:
    8 * E is the identity, the shared key is the identity, the message decrypts to garbage;
    nothing fails."""
    msg = inbox.Message(eph, tuple(inbox.encrypt_plaintext([1, 2, 3], (0, 1))))
    r = check_against_model(message, msg)
    assert r["decoded"].shared == (0, 1)


def test_ephemeral_key_with_a_small_order_part(message):
    """E = k * BASE8 + T with T of order 4 (a small x kept): 8 * E = 8k * BASE8, so the
    message still decrypts (to the operator, E and E - T are the same key)."""
    x4 = babyjub.sqrt(pow(babyjub.A, -1, P))
    assert x4 is not None
    t4 = (x4, 0)
    assert babyjub.on_curve(t4) and babyjub.mul(t4, 4) == (0, 1)
    candidates = (
        babyjub.add(inbox.ephemeral_key(k)[1], t)
        for k in range(1234, 1300)
        for t in (t4, babyjub.neg(t4))
    )
    e = next(e for e in candidates if e[0] < inbox.SMALL_X_BOUND)
    assert not babyjub.in_subgroup(e)
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


def test_the_large_root_of_the_ephemeral_key_is_rejected(message):
    """A cheat that feeds p - ex (same y, x >= 2^252) gets another shared key and garbage:
    the small-x rule of CofactorEcdh refuses it."""
    circuit = compile_main("lib/InboxMessage.circom", "InboxMessage()", optimize=0)
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    inputs = message_inputs(msg)
    assert circuit.accepts(inputs)
    inputs["ephX"] = P - msg.eph[0]
    circuit.witness(inputs).assert_rejected_only_by("ecdh.xRange")


@pytest.mark.parametrize(
    "hints",
    [
        {"r <-- root;": "r <-- -root;"},  # the large root, claimed small
        {"small <-- isSmall;": "small <-- 0;"},  # the small root, claimed large: R8 hidden
        {"r <-- root;": "r <-- -root;", "small <-- isSmall;": "small <-- 0;"},  # hidden
    ],
    ids=["large-root", "hide-small-root", "hide-with-large-root"],
)
def test_the_other_root_of_r8_is_rejected(hints):
    """The prover can neither take R8's other root nor declare a compact R8 missing (which
    would make a valid order a no-op): the one range check refuses each."""
    cheat = compile_main(
        "lib/InboxMessage.circom",
        "InboxMessage()",
        optimize=0,
        sources=mutants.apply(
            *(mutants.replace("lib/PointFromY.circom", a, b) for a, b in hints.items())
        ),
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    w = cheat.witness(message_inputs(msg))
    w.assert_rejected_only_by("r8.range")


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
            mutants.replace("lib/PointFromY.circom", "small <-- isSmall;", "small <-- 0;"),
            mutants.replace("lib/PointFromY.circom", "r <-- root;", "r <-- 7;"),
        ),
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    cheat.witness(message_inputs(msg)).assert_rejected_only_by("r8.factor")


def test_is_square_is_a_bit():
    """A non-bit isSquare = t with r = k * x satisfies r^2 = u * (5 - 4t) for t = (5 - k^2)/4;
    small = 0 then claims "no small root", and with the range check seeing t * (r - 2^252)
    (below 2^252 for about one k in three) a valid R8 would be hidden; the bit constraint
    refuses it."""
    cheat_t = (
        "var cheatR = 0;\n    var cheatT = 0;\n"
        "    for (var k = 2; k < 200; k++) {\n"
        "        var t = (5 - k * k) / 4;\n"
        "        var sh = t * (k * root - SMALL);\n"
        "        if (cheatR == 0 && (sh >> 252) == 0) {\n"
        "            cheatR = k * root;\n            cheatT = t;\n        }\n"
        "    }\n    isSquare <-- cheatT;"
    )
    cheat = compile_main(
        "lib/InboxMessage.circom",
        "InboxMessage()",
        optimize=0,
        sources=mutants.apply(
            mutants.replace("lib/PointFromY.circom", "isSquare <-- isSq;", cheat_t),
            mutants.replace("lib/PointFromY.circom", "small <-- isSmall;", "small <-- 0;"),
            mutants.replace("lib/PointFromY.circom", "r <-- root;", "r <-- cheatR;"),
        ),
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    w = cheat.witness(message_inputs(msg))
    assert w["r8Ok"] == 0
    w.assert_rejected_only_by("r8.isSquare")


def test_small_is_a_bit():
    """small = 1/2 for a root in [2^251, 2^252): the range check sees r - 2^251, in range, and
    r8Ok = 1/2 would scale the slot write; the bit constraint refuses it."""
    cheat = _cheat("lib/PointFromY.circom", "small <-- isSmall;", "small <-- 1 / 2;")
    order = next(
        o
        for o in (signed_order(order_id=i) for i in range(3, 200))
        if o.signature.r8[0] >> 251 == 1
    )
    w = cheat.witness(message_inputs(inbox.encrypt_entry(order, OP_PUB, 7)))
    assert w["r8Ok"] == pow(2, -1, P)
    w.assert_rejected_only_by("r8.small")


def test_small_needs_a_square():
    """small = 1 for a y with no curve point would claim a point (r8Ok = 1, x a root of 5u);
    only small * (1 - isSquare) = 0 refuses it (the range check multiplies by isSquare)."""
    cheat = _cheat("lib/PointFromY.circom", "small <-- isSmall;", "small <-- 1;")
    good = inbox.entry_plaintext(signed_order())
    y = next(y for y in range(2, 100) if _curve_x(y) is None)
    w = cheat.witness(message_inputs(raw_message([good[0], y, good[2]])))
    assert w["r8Ok"] == 1
    w.assert_rejected_only_by("r8.small")


def test_a_point_cannot_be_declared_missing():
    cheat = _cheat(
        "lib/PointFromY.circom",
        "if (u == 0 || rootOfU != 0) {",
        "if (u == 0 && u != 0) {",
    )
    msg = inbox.encrypt_entry(signed_order(), OP_PUB, 7)
    cheat.witness(message_inputs(msg)).assert_rejected_only_by("r8")
    # y = 1 (u = 0): r = 0 satisfies r^2 = 5u, so only the "r != 0" rule stands.
    good = inbox.entry_plaintext(signed_order())
    msg = raw_message([good[0], 1, good[2]])
    cheat.witness(message_inputs(msg)).assert_rejected_only_by("r8.rTimesInv")


# --- counts (last: under -x the cheaper tests kill a mutant first) ----------


def test_constraint_counts(message):
    expect_count(compile_main("lib/InboxChainStep.circom", "InboxChainStep()"), 558)
    expect_count(compile_main("lib/CofactorEcdh.circom", "CofactorEcdh()"), 2574)
    expect_count(compile_main("lib/PoseidonDecrypt3.circom", "PoseidonDecrypt3()"), 524)
    expect_count(compile_main("lib/PointFromY.circom", "PointFromY()"), 262)
    expect_count(message, 4447)
