"""The state part of an inbox message: EdDSAPoseidonValid and MessageEntry (docs/inbox.md).

Honest cases come from the Python model (prover/exchange/inbox.py). Every kind of invalid
message is checked to be *satisfiable* with the flag the model predicts (a bad message is a
no-op; it can never make the proof fail). The prover's freedom is checked where it has
some: each ``<--`` hint of these templates is replaced by the one a cheating operator would
compute (a copy of circuits/ with that hint changed, every other signal computed by the
circuit), and the witness must be rejected by that template's own constraint.
"""

from __future__ import annotations

import pytest

from prover.crypto import babyjub, eddsa
from prover.crypto.babyjub import BASE8, SUBORDER
from prover.crypto.eddsa import PrivateKey, Signature, secret_scalar
from prover.crypto.poseidon_hash import poseidon
from prover.exchange import inbox
from prover.exchange.constants import TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import Cancel, Order, OrderSlot, SignedCancel, SignedOrder
from prover.field import SNARK_FIELD
from prover.merkle import compute_root
from tests.circuits import mutants
from tests.circuits.harness import compile_main, expect_count
from tests.circuits.scenario import KEY_A, MARKETS, SLOT, M, S, entry_inputs, two_trader_batches

P = SNARK_FIELD
OPERATOR = PrivateKey.from_seed("test-operator")
OP_SCALAR = secret_scalar(OPERATOR)
OP_PUB = OPERATOR.public_key
OTHER = PrivateKey.from_seed("someone-else")
#: The S at which circomlib's EscalarMulFix(253, BASE8) divides by zero in its last adder
#: (its 249-bit first segment wraps past l); found by the adversarial review of issue 10.
#: Any S = S_STAR (mod 2^249) below 2^253 does too.
S_STAR = SUBORDER - 2**250 - (8**83 - 1) // 7
SECRET_BITS = [(OP_SCALAR >> i) & 1 for i in range(253)]


@pytest.fixture(scope="module")
def entry():
    return compile_main("lib/MessageEntry.circom", f"MessageEntry({S}, {M})")


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
        assert w["maxFeePpm"] == fields["max_fee_ppm"]
        sig = d.entry.signature
        assert w["r8Ok"] == int(sig.r8 != (0, 0))
        if sig.r8 != (0, 0):
            assert (w["r8x"], w["r8y"]) == sig.r8
        assert w["sigS"] == sig.s
    return {"w": w, "decoded": d}


# --- EdDSAPoseidonValid ----------


@pytest.fixture(scope="module")
def sigcheck():
    return compile_main("lib/EdDSAPoseidonValid.circom", "EdDSAPoseidonValid()")


def _sig_inputs(pub, sig: Signature, msg: int) -> dict:
    return {"Ax": pub[0], "Ay": pub[1], "R8x": sig.r8[0], "R8y": sig.r8[1], "S": sig.s, "M": msg}


def test_signature_validity_is_a_bit(sigcheck):
    key = KEY_A
    msg = 424242
    sig = key.sign(msg)
    cases = [
        (_sig_inputs(key.public_key, sig, msg), 1),
        (_sig_inputs(key.public_key, sig, msg + 1), 0),
        (_sig_inputs(OTHER.public_key, sig, msg), 0),
        # S + l gives the same point: malleable unless S < l is checked.
        (_sig_inputs(key.public_key, Signature(sig.r8, sig.s + SUBORDER), msg), 0),
        (_sig_inputs(key.public_key, Signature(sig.r8, P - 1), msg), 0),
        # A trader's S that stalls circomlib's 253-bit fixed-base multiplication.
        (_sig_inputs(key.public_key, Signature(sig.r8, S_STAR), msg), 0),
        (_sig_inputs(key.public_key, Signature(sig.r8, S_STAR + 2**249), msg), 0),
        (_sig_inputs(key.public_key, Signature(sig.r8, 2**253 - 1), msg), 0),
        (_sig_inputs(key.public_key, Signature(sig.r8, 0), msg), 0),
        # An empty account's key (0, 0): 8*A has x = 0, so h*A is the identity, and
        # S*BASE8 = R8 is "valid" by the equation alone (R8 = BASE8, S = 1).
        (_sig_inputs((0, 0), Signature(BASE8, 1), msg), 0),
    ]
    # R8 = identity (nonce r = 0): a valid signature, as circomlib and eddsa.verify say.
    h_r = secret_scalar(key)

    hm = poseidon([0, 1, key.public_key[0], key.public_key[1], msg])
    zero_nonce = Signature((0, 1), 8 * hm * h_r % SUBORDER)
    cases.append((_sig_inputs(key.public_key, zero_nonce, msg), 1))

    for inputs, valid in cases:
        w = sigcheck.witness(inputs)
        assert w.ok, w.failing()
        assert w["valid"] == valid, inputs
        sig_ = Signature((inputs["R8x"], inputs["R8y"]), inputs["S"])
        assert eddsa.verify((inputs["Ax"], inputs["Ay"]), inputs["M"], sig_) is bool(valid)


# --- MessageEntry ----------


def _entry_inputs(signed, *, base=(0, 0), decodable=1, account_ok=1, pub=None, old=None):
    """MessageEntry inputs for ``signed`` on the slot opening of scenario entry ``base``."""
    inputs, _ = entry_inputs(*base)
    d = inbox.decode(inbox.encrypt_entry(signed, OP_PUB, 7), OP_SCALAR)
    assert d.fields is not None
    f = d.fields
    out = {
        "decodable": decodable,
        "accountOk": account_ok,
        "kind": f["kind"],
        "account": f["account"],
        "market": f["market"],
        "side": f["side"],
        "price": f["price"],
        "size": f["size"],
        "orderId": f["order_id"],
        "orderIdBits": [(f["order_id"] >> i) & 1 for i in range(64)],
        "expiry": f["expiry"],
        "maxFeePpm": f["max_fee_ppm"],
        "tif": f["tif"],
        "tifBits": [f["tif"] & 1, f["tif"] >> 1],
        "r8x": d.entry.signature.r8[0],
        "r8y": d.entry.signature.r8[1],
        "r8Ok": int(d.entry.signature.r8 != (0, 0)),
        "sigS": d.entry.signature.s,
        "pubX": (pub or KEY_A.public_key)[0],
        "pubY": (pub or KEY_A.public_key)[1],
        "filled": 0,
    }
    for k in ("slotSiblings", "ordersRootBefore", "seq", "timestamp", "tickSize"):
        out[k] = inputs[k]
    out["makerFeePpm"] = inputs["makerFeePpm"]
    out["takerFeePpm"] = inputs["takerFeePpm"]
    # Not a withdrawal (tests/circuits/test_withdraw_entry.py has those).
    out["isWithdrawal"] = 0
    out["withdrawHash"] = 0
    for name in SLOT:
        out[f"oldSlot{name}"] = inputs[f"oldSlot{name}"]
    return out, d


def _model_rejection(inputs: dict, d: inbox.Decoded, account_bits: int = 32):
    if not inputs["decodable"] or not inputs["accountOk"]:
        return "no"
    return inbox.rejection(
        d,
        account_bits=account_bits,
        pubkey=(inputs["pubX"], inputs["pubY"]),
        slot_order_id=int(inputs["oldSlotOrderId"]),
        markets=MARKETS,
        timestamp=int(inputs["timestamp"]),
    )


def test_honest_scenario_entry_is_valid(entry):
    inputs, root_after = entry_inputs(0, 0)
    # Scenario batch 0, entry 0: trader A's resting sell (the same order, re-encrypted).

    signed = two_trader_batches().batches[0].witness.entries[0].entry
    x, d = _entry_inputs(signed)
    assert _model_rejection(x, d) is None
    w = entry.witness(x)
    assert w.ok, w.failing()
    assert w["valid"] == 1
    assert w["ordersRootAfter"] == root_after
    assert w["orderHash"] == signed.order.hash()


def test_honest_cancel_is_valid(entry):
    """A signed cancel writes (orderId, 0, 0, seq) to its slot (the opening of entry 0)."""
    x0, _ = entry_inputs(0, 0)
    order_id = int(x0["orderId"]) + (1 << S)  # same slot, a larger id
    cancel = SignedCancel.sign(Cancel(int(x0["accountIndex"]), order_id), KEY_A)
    x, d = _entry_inputs(cancel)
    assert _model_rejection(x, d) is None
    w = entry.witness(x)
    assert w.ok, w.failing()
    assert w["valid"] == 1
    siblings = tuple(tuple(int(v) for v in level) for level in x["slotSiblings"])
    leaf = OrderSlot(order_id, 0, 0, int(x["seq"])).hash()
    assert w["ordersRootAfter"] == compute_root(leaf, order_id % (1 << S), siblings)
    # Signed by someone else, or as an order hash: a no-op.
    for bad in (
        SignedCancel.sign(Cancel(int(x0["accountIndex"]), order_id), OTHER),
        SignedCancel(
            cancel.cancel, KEY_A.sign(Cancel(int(x0["accountIndex"]), order_id + 1).hash())
        ),
    ):
        x, d = _entry_inputs(bad)
        assert _model_rejection(x, d) is not None
        w = entry.witness(x)
        assert w.ok and w["valid"] == 0


def _scenario_order(**changes):

    signed = two_trader_batches().batches[0].witness.entries[0].entry
    fields = {n: getattr(signed.order, n) for n in inbox._ORDER_NAMES}
    fields.update(changes)
    return SignedOrder.sign(Order(**fields), KEY_A)


INVALID = [
    ("S that stalls a 253-bit EscalarMulFix", dict(_s=S_STAR)),
    ("market beyond M", dict(market=M)),
    ("tif 3", dict(tif=3)),
    ("price 0", dict(price=0)),
    ("off tick", dict(price=1005)),
    ("size 0", dict(size=0)),
    ("expired", dict(expiry=0)),
    ("fee cap above 10^6", dict(max_fee_ppm=10**6 + 1)),
    ("fee cap below the maker fee", dict(max_fee_ppm=100, tif=TIF_POST_ONLY)),
    ("fee cap below the taker fee", dict(max_fee_ppm=300, tif=TIF_IOC)),
    ("order id 0", dict(order_id=0)),
]


@pytest.mark.parametrize(("name", "changes"), INVALID, ids=[n for n, _ in INVALID])
def test_invalid_orders_are_no_ops(entry, name, changes):
    changes = dict(changes)
    s_value = changes.pop("_s", None)
    signed = _scenario_order(**changes)
    if s_value is not None:
        signed = SignedOrder(signed.order, Signature(signed.signature.r8, s_value))
    x, d = _entry_inputs(signed)
    assert _model_rejection(x, d) is not None
    w = entry.witness(x)
    assert w.ok, w.failing()
    assert w["valid"] == 0
    assert w["ordersRootAfter"] == int(x["ordersRootBefore"])


def test_valid_edge_orders(entry):
    for changes in (
        dict(max_fee_ppm=10**6),
        dict(max_fee_ppm=200, tif=TIF_POST_ONLY),  # market 0: maker 200, taker 500
        dict(max_fee_ppm=500, tif=TIF_IOC),
        dict(expiry=int(entry_inputs(0, 0)[0]["timestamp"])),
    ):
        x, d = _entry_inputs(_scenario_order(**changes))
        assert _model_rejection(x, d) is None, changes
        w = entry.witness(x)
        assert w.ok and w["valid"] == 1, changes


def test_bad_signature_stale_id_unknown_account_are_no_ops(entry):
    signed = _scenario_order()
    forged = SignedOrder(signed.order, eddsa.sign_compact(OTHER, signed.order.hash()))
    stale = _scenario_order(order_id=int(entry_inputs(0, 0)[0]["oldSlotOrderId"]))
    cases = [
        _entry_inputs(forged),
        _entry_inputs(signed, pub=(0, 0)),
        _entry_inputs(signed, decodable=0),
        _entry_inputs(signed, account_ok=0),
    ]
    if int(entry_inputs(0, 0)[0]["oldSlotOrderId"]) > 0:
        cases.append(_entry_inputs(stale))
    for x, d in cases:
        assert _model_rejection(x, d) is not None
        w = entry.witness(x)
        assert w.ok, w.failing()
        assert w["valid"] == 0
        assert w["ordersRootAfter"] == int(x["ordersRootBefore"])


def test_stale_order_id(entry):
    """A slot holding order 5: id 5 is stale, 6 is fine (the slot opening is rebuilt)."""

    signed = _scenario_order(order_id=5 + 4)  # same slot as 5 when S = 2
    stale = _scenario_order(order_id=5)
    for s, valid in ((signed, 1), (stale, 0)):
        x, d = _entry_inputs(s)
        x["oldSlotOrderId"] = 5 if s.order.order_id % 4 == 1 else x["oldSlotOrderId"]
        x["oldSlotOrderHash"] = 0
        x["oldSlotFilled"] = 0
        x["oldSlotSeq"] = 0
        leaf = OrderSlot(int(x["oldSlotOrderId"]), 0, 0, 0).hash()
        siblings = tuple(tuple(int(v) for v in level) for level in x["slotSiblings"])
        x["ordersRootBefore"] = compute_root(leaf, s.order.order_id % (1 << S), siblings)
        assert (_model_rejection(x, d) is None) is bool(valid)
        w = entry.witness(x)
        assert w.ok, w.failing()
        assert w["valid"] == valid


def test_filled_only_for_a_valid_order(entry):
    x, _ = _entry_inputs(_scenario_order(price=0))
    x["filled"] = 1
    assert not entry.accepts(x)
    x, _ = _entry_inputs(_scenario_order())
    x["filled"] = int(x["size"])
    assert entry.accepts(x)
    x["filled"] = int(x["size"]) + 1
    assert not entry.accepts(x)


def test_tick_division_hint_is_pinned():
    """A cheat that claims a remainder (price = (q - 1) * tick + tick) is refused by the
    remainder bound, so an order on its tick cannot be declared off tick."""
    cheat = compile_main(
        "lib/MessageEntry.circom",
        f"MessageEntry({S}, {M})",
        optimize=0,
        sources=mutants.apply(
            mutants.replace(
                "lib/MessageEntry.circom",
                "q <-- price \\ tickSafe;\n    rem <-- price % tickSafe;",
                "q <-- price \\ tickSafe - 1;\n    rem <-- price % tickSafe + tickSafe;",
            )
        ),
    )
    x, _ = _entry_inputs(_scenario_order())
    cheat.witness(x).assert_rejected_only_by("remBelowTick")


# --- counts ----------


def test_constraint_counts(entry, sigcheck):
    expect_count(sigcheck, 4479)
    expect_count(entry, 6738)
    expect_count(compile_main("lib/MessageEntry.circom", "MessageEntry(8, 8)"), 8595)


def _division_cheat(q: str, rem: str):
    return compile_main(
        "lib/MessageEntry.circom",
        f"MessageEntry({S}, {M})",
        optimize=0,
        sources=mutants.apply(
            mutants.replace(
                "lib/MessageEntry.circom",
                "q <-- price \\ tickSafe;\n    rem <-- price % tickSafe;",
                f"q <-- {q};\n    rem <-- {rem};",
            )
        ),
    )


def test_off_tick_cannot_be_declared_on_tick():
    """An off-tick price with remainder 0: either the division fails (q honest) or q is the
    field quotient price / tick, far above 2^40 (the quotient's range check)."""
    x, d = _entry_inputs(_scenario_order(price=1005))
    assert _model_rejection(x, d) is not None
    w = _division_cheat("price \\ tickSafe", "0").witness(x)
    assert w["valid"] == 1
    w.assert_rejected_only_by("price", "q", "rem", "tickSafe")
    assert not any(v.involves("qRange") or v.involves("remRange") for v in w.violations())
    w = _division_cheat("price / tickSafe", "0").witness(x)
    assert w["valid"] == 1
    w.assert_rejected_only_by("qRange")


def test_on_tick_cannot_be_declared_off_tick():
    """q + 1 and a remainder of -tick: the equation holds in the field, the remainder bound
    (a LessThan fed a value near p) passes; only the remainder's range check refuses it."""
    x, d = _entry_inputs(_scenario_order())
    assert _model_rejection(x, d) is None
    w = _division_cheat("price \\ tickSafe + 1", "price % tickSafe - tickSafe").witness(x)
    assert w["valid"] == 0
    w.assert_rejected_only_by("remRange")


@pytest.fixture(scope="module")
def entry0():
    return compile_main("lib/MessageEntry.circom", f"MessageEntry({S}, {M})", optimize=0)


def test_the_slot_opening_is_checked(entry0):
    """An opening of another root: the slot write would start from a leaf that is not there."""
    x, _ = _entry_inputs(_scenario_order())
    x["ordersRootBefore"] = int(x["ordersRootBefore"]) + 1
    entry0.witness(x).assert_rejected_only_by("update", "ordersRootBefore")


def test_filled_is_not_negative(entry0):
    """filled = -1 keeps size - filled in range; filled's own range check refuses it."""
    x, _ = _entry_inputs(_scenario_order())
    x["filled"] = P - 1
    entry0.witness(x).assert_rejected_only_by("filledRange")


def test_kind_is_a_bit(entry0):
    """kind = 2 would mix the order and cancel hashes (the batch feeds a bit from InboxMessage;
    the template checks it itself)."""
    x, _ = _entry_inputs(_scenario_order())
    x["kind"] = 2
    w = entry0.witness(x)
    assert any(v.involves("main.kind") for v in w.violations())
    assert not w.ok
