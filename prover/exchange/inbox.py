"""Inbox messages: a signed order or cancel, encrypted to the operator (docs/inbox.md).

Pure: no I/O. The trader builds a :class:`Message` with :func:`encrypt_entry`; the Rollup's
inbox appends it to a hash chain (:func:`chain_step`); the operator opens it with
:func:`decode`, which computes exactly what the batch circuit's message part computes, so
an invalid message is a no-op in both (the reason is only the model's explanation).

Format (every value a BN254 field element):

* ephemeral key ``E = (ex, ey)``: a Baby Jubjub point with ``ex < 2^252`` (the *small
  root*: of the two roots ``x`` and ``p - x`` at ``ey`` at most one is below ``2^252``,
  since ``p > 2^253``; the trader negates its ephemeral scalar when ``ex`` is not small and
  draws another when neither root is; the Rollup refuses a larger ``ex`` or a point off the
  curve). The chain hashes ``ey`` only: ``ex`` is fixed by ``ey`` and the bound.
* shared key ``K = s * (8 * E)``, cofactor Diffie-Hellman (SEC 1's ECC CDH with cofactor):
  ``s`` is the operator's secret scalar; the trader computes ``8 * (k * O)`` with its
  ephemeral scalar ``k`` and the operator's public key ``O = s * BASE8``. Clearing the
  cofactor keeps the circuit's scalar multiplication in the prime-order subgroup whatever
  point a sender posts.
* plaintext ``[packed, R8y, S]``, encrypted with the Poseidon cipher (zk-kit's format,
  :mod:`prover.crypto.cipher`) under ``K`` with nonce 0 (every message has a fresh
  ephemeral key): 4 ciphertext elements ``c0..c3``, ``c3`` the authentication element.
* ``packed`` (235 bits, :data:`FIELDS` gives offsets and widths): kind (0 order, 1 cancel),
  account, market, side, price, size, orderId, expiry, maxFeePpm, tif. A cancel uses only
  account and orderId.
* the signature is EdDSA-Poseidon over ``orderHash`` / ``cancelHash`` (docs/protocol.md,
  section 5) by the account's key, a *compact* one (:func:`prover.crypto.eddsa.sign_compact`:
  ``R8x < 2^252``), with ``R8`` sent as ``R8y`` alone: ``R8x`` is its small root.
* chain: ``h_0 = 0``, ``h_{i+1} = Poseidon3(Poseidon4(h_i, ey, c0, c1), c2, c3)``
  (circomlib's ``Poseidon(n)``, zero capacity, as the Rollup computes it on chain).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prover.crypto import babyjub
from prover.crypto.babyjub import IDENTITY, SUBORDER, Point
from prover.crypto.eddsa import COMPACT_X_BOUND, Signature
from prover.crypto.poseidon_hash import permutation_function, poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import INSURANCE_ACCOUNT
from prover.exchange.domain import (
    ZERO_PUBKEY,
    Cancel,
    Entry,
    Market,
    Order,
    OrderRejected,
    Reject,
    SignedCancel,
    SignedOrder,
)
from prover.exchange.flows import SignedWithdrawal, Withdrawal, unpack_withdrawal
from prover.field import SNARK_FIELD

P = SNARK_FIELD
#: Every x this format carries without a parity bit (the ephemeral key's, ``R8``'s) is the
#: root below this bound (``eddsa.COMPACT_X_BOUND``).
SMALL_X_BOUND = COMPACT_X_BOUND
#: The Poseidon cipher's nonce for every message (each has a fresh ephemeral key).
MESSAGE_NONCE = 0
PLAINTEXT_LENGTH = 3
CIPHERTEXT_LENGTH = 4
#: The inbox hash chain before the first message.
INBOX_CHAIN_0 = 0

KIND_ORDER = 0
KIND_CANCEL = 1
#: A withdrawal (docs/flows.md): its own layout (prover/exchange/flows.py), reported as kind 2.
KIND_WITHDRAW = 2

#: ``packed`` layout: name -> (bit offset, width). Widths are the protocol's ranges
#: (docs/protocol.md, section 2); maxFeePpm's 20 bits hold up to 2^20 - 1 > 10^6, so
#: "at most 10^6" stays a rule.
FIELDS: dict[str, tuple[int, int]] = {}
_offset = 0
for _name, _width in (
    ("kind", 1),
    ("account", 32),
    ("market", 3),
    ("side", 1),
    ("price", 40),
    ("size", 32),
    ("order_id", 64),
    ("expiry", 40),
    ("max_fee_ppm", 20),
    ("tif", 2),
):
    FIELDS[_name] = (_offset, _width)
    _offset += _width
#: Bits of ``packed``; a larger value is malformed.
PACKED_BITS = _offset
del _offset, _name, _width

_ORDER_NAMES = (
    "account",
    "market",
    "side",
    "price",
    "size",
    "order_id",
    "expiry",
    "max_fee_ppm",
    "tif",
)


class MessageError(ProtocolError):
    """A message that cannot be built or parsed (a bad argument, not an invalid message)."""


def _field(value: object, what: str) -> int:
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < P:
        raise MessageError(f"{what} is not a field element: {value!r}")
    return value


@dataclass(frozen=True)
class Message:
    """One inbox message as the chain holds it: ephemeral key and ciphertext."""

    eph: Point
    ciphertext: tuple[int, int, int, int]

    def __post_init__(self) -> None:
        if len(self.eph) != 2 or len(self.ciphertext) != CIPHERTEXT_LENGTH:
            raise MessageError("a message is an ephemeral point and 4 ciphertext elements")
        values = [
            _field(v, f"message element {i}") for i, v in enumerate((*self.eph, *self.ciphertext))
        ]
        # Stored as ints whatever was given (decimal strings are accepted).
        object.__setattr__(self, "eph", (values[0], values[1]))
        object.__setattr__(self, "ciphertext", tuple(values[2:]))

    def check(self) -> None:
        """What the Rollup's ``sendMessage`` checks: ``eph`` on the curve, ``ex < 2^252``."""
        if not babyjub.on_curve(self.eph):
            raise MessageError("the ephemeral key is not on Baby Jubjub")
        if self.eph[0] >= SMALL_X_BOUND:
            raise MessageError("the ephemeral key's x must be below 2^252")

    def as_contract_args(self) -> tuple[int, int, list[int]]:
        return self.eph[0], self.eph[1], list(self.ciphertext)

    def to_json(self) -> dict[str, Any]:
        return {
            "eph": [str(self.eph[0]), str(self.eph[1])],
            "ciphertext": [str(c) for c in self.ciphertext],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Message:
        try:
            eph = data["eph"]
            ct = data["ciphertext"]
            return cls(
                (_field(eph[0], "eph x"), _field(eph[1], "eph y")),
                tuple(_field(c, "ciphertext") for c in ct),  # type: ignore[arg-type]
            )
        except (KeyError, IndexError, TypeError) as exc:
            raise MessageError(f"malformed message JSON: {exc}") from exc


def chain_step(chain: int, message: Message) -> int:
    """``h' = Poseidon3(Poseidon4(h, ey, c0, c1), c2, c3)``."""
    c = message.ciphertext
    inner = poseidon([chain, message.eph[1], c[0], c[1]])
    return poseidon([inner, c[2], c[3]])


def chain_of(messages: Sequence[Message], start: int = INBOX_CHAIN_0) -> int:
    chain = start
    for m in messages:
        chain = chain_step(chain, m)
    return chain


# --- packing ---------------------------------------------------------------------------


def pack_fields(values: Mapping[str, int]) -> int:
    """``packed`` from field values (missing ones 0); each must fit its width."""
    packed = 0
    for name, value in values.items():
        if name not in FIELDS:
            raise MessageError(f"no message field {name!r}")
        offset, width = FIELDS[name]
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 1 << width:
            raise MessageError(f"{name} = {value!r} does not fit {width} bits")
        packed |= value << offset
    return packed


def unpack_fields(packed: int) -> dict[str, int]:
    """Every field of ``packed`` (which must be below ``2^PACKED_BITS``)."""
    if not 0 <= packed < 1 << PACKED_BITS:
        raise MessageError(f"packed value has more than {PACKED_BITS} bits")
    return {name: (packed >> o) & ((1 << w) - 1) for name, (o, w) in FIELDS.items()}


def entry_plaintext(entry: Entry) -> list[int]:
    """``[packed, R8y, S]`` of a signed order or cancel.

    Raises :class:`MessageError` if a field does not fit its width (the order could never
    be valid: say so before it is sent), the signature's R8 is not a curve point, or it is
    not compact (``R8x >= 2^252``: sign with ``SignedOrder.sign``, which uses
    :func:`~prover.crypto.eddsa.sign_compact`).
    """
    sig = entry.signature
    r8x, r8y = int(sig.r8[0]), int(sig.r8[1])
    if not babyjub.on_curve((r8x, r8y)):
        raise MessageError("the signature's R8 is not a curve point")
    if r8x >= SMALL_X_BOUND:
        raise MessageError("the signature is not compact (R8x >= 2^252): it cannot be sent")
    if isinstance(entry, SignedOrder):
        values = {name: getattr(entry.order, name) for name in _ORDER_NAMES}
        values["kind"] = KIND_ORDER
    elif isinstance(entry, SignedCancel):
        values = {
            "kind": KIND_CANCEL,
            "account": entry.cancel.account,
            "order_id": entry.cancel.order_id,
        }
    else:
        raise MessageError("an entry is a SignedOrder or a SignedCancel")
    s = int(sig.s)
    if not 0 <= s < P:
        raise MessageError("the signature's S is not a field element")
    return [pack_fields(values), r8y, s]


# --- the cipher, as the circuit computes it -----------------------------------------------


def _keystream_state(key: Point) -> list[int]:
    permute = permutation_function(4)
    return list(permute(0, key[0], key[1], MESSAGE_NONCE + PLAINTEXT_LENGTH * (1 << 128)))


def encrypt_plaintext(plaintext: Sequence[int], key: Point) -> tuple[int, int, int, int]:
    """zk-kit ``poseidonEncrypt(plaintext, key, 0)`` for a 3-element plaintext."""
    state = _keystream_state(key)
    for j in range(3):
        state[j + 1] = (state[j + 1] + plaintext[j]) % P
    tag = permutation_function(4)(*state)[1]
    return state[1], state[2], state[3], tag


def decrypt_plaintext(ciphertext: Sequence[int], key: Point) -> tuple[list[int], bool]:
    """``(plaintext, authenticated)``: always a plaintext, as the circuit computes it."""
    state = _keystream_state(key)
    plain = [(ciphertext[j] - state[j + 1]) % P for j in range(3)]
    for j in range(3):
        state[j + 1] = ciphertext[j]
    tag = permutation_function(4)(*state)[1]
    return plain, tag == ciphertext[3]


def cofactor_point(point: Point) -> Point:
    """``8 * point`` (three doublings; complete on the curve)."""
    q = point
    for _ in range(3):
        q = babyjub.add(q, q)
    return q


def operator_shared_key(operator_scalar: int, eph: Point) -> Point:
    """``s * (8 * E)`` (the identity when ``8 * E`` is, as circomlib's EscalarMulAny)."""
    q = cofactor_point(eph)
    if q == IDENTITY:
        return IDENTITY
    return babyjub.mul(q, operator_scalar)


def small_x_from_y(y: int) -> int | None:
    """The ``x < 2^252`` of the curve point at ``y``, or None if there is none (``y`` is
    not on the curve, or both roots are ``>= 2^252``). At most one root is small."""
    y2 = y * y % P
    u = (1 - y2) * pow((babyjub.A - babyjub.D * y2) % P, -1, P) % P
    x = babyjub.sqrt(u)
    if x is None:
        return None
    if x >= SMALL_X_BOUND:
        x = (P - x) % P
    return x if x < SMALL_X_BOUND else None


# --- building (the trader) ---------------------------------------------------------------


def ephemeral_key(scalar: int | None = None) -> tuple[int, Point]:
    """``(k, k * BASE8)`` with the point's x below ``2^252``.

    ``k`` is the first of ``scalar`` (a random one if None), ``scalar + 1``, ... whose
    point has a small root, negated if that root is ``p - x`` (about 2 in 3 scalars work;
    the caller uses the returned ``k``).
    """
    start = secrets.randbelow(SUBORDER - 1) + 1 if scalar is None else scalar
    if isinstance(start, bool) or not isinstance(start, int) or not 0 < start < SUBORDER:
        raise MessageError("the ephemeral scalar must be in [1, SUBORDER)")
    for attempt in range(256):
        k = (start - 1 + attempt) % (SUBORDER - 1) + 1
        point = babyjub.mul_base8(k)
        if point[0] < SMALL_X_BOUND:
            return k, point
        if P - point[0] < SMALL_X_BOUND:
            return SUBORDER - k, (P - point[0], point[1])
    raise MessageError("no ephemeral key found")  # probability about 3^-256


def ephemeral_scalar_from(seed: int) -> int:
    """A deterministic ephemeral scalar from any integer (reproducible witnesses; a
    trader's client draws a random one): :func:`ephemeral_key` from ``seed mod (l-1) + 1``."""
    return ephemeral_key(seed % (SUBORDER - 1) + 1)[0]


def withdrawal_plaintext(signed: SignedWithdrawal) -> list[int]:
    """``[packed, R8y, S]`` of a signed withdrawal (the nonce it was signed at is not sent)."""
    sig = signed.signature
    r8x, r8y = int(sig.r8[0]), int(sig.r8[1])
    if not babyjub.on_curve((r8x, r8y)) or r8x >= SMALL_X_BOUND:
        raise MessageError("the signature is not a compact one (sign with SignedWithdrawal.sign)")
    return [signed.withdrawal.packed(), r8y, int(sig.s)]


def encrypt_entry(
    entry: Entry | SignedWithdrawal, operator_key: Point, eph_scalar: int | None = None
) -> Message:
    """The inbox message carrying ``entry`` (an order, a cancel or a withdrawal) to the
    operator whose public key is given."""
    if not babyjub.on_curve(operator_key) or not babyjub.in_subgroup(operator_key):
        raise MessageError("the operator key is not a Baby Jubjub subgroup point")
    if operator_key == IDENTITY:
        raise MessageError("the operator key is the identity")
    if isinstance(entry, SignedWithdrawal):
        plaintext = withdrawal_plaintext(entry)
    else:
        plaintext = entry_plaintext(entry)
    k, eph = ephemeral_key(eph_scalar)
    shared = babyjub.mul(operator_key, 8 * k % SUBORDER)
    return Message(eph, encrypt_plaintext(plaintext, shared))


# --- opening (the operator) ------------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """What the circuit learns from one message before it looks at the state.

    ``entry`` is the signed order or cancel when the message decrypts, authenticates and
    its packed fields fit; its signature may still be invalid (an ``R8y`` with no curve
    point of small x gives ``R8 = (0, 0)``, which verifies nothing). ``reason`` says why there
    is no entry. ``fields`` are the packed fields whenever ``packed`` fits.
    """

    shared: Point
    plaintext: tuple[int, int, int]
    authenticated: bool
    fields: Mapping[str, int] | None
    entry: Entry | None
    reason: str | None
    withdrawal: SignedWithdrawal | None = None
    """A withdrawal message's request, read at nonce 0 (``at_nonce`` gives it at the leaf's
    nonce, as the circuit checks its signature); ``entry`` is then None."""


def decode(message: Message, operator_scalar: int) -> Decoded:
    """Decrypt and parse ``message`` as the batch circuit does.

    Never raises on a message the Rollup accepts (any ciphertext, any on-curve ephemeral key
    with ``x < 2^252``); an off-curve ephemeral key, which the Rollup refuses, raises
    :class:`CurveError`. A sender who posts a low-order ephemeral key gets the identity as
    shared key: anyone can then read that message, which only harms the sender.
    """
    shared = operator_shared_key(operator_scalar, message.eph)
    plain, ok = decrypt_plaintext(message.ciphertext, shared)
    packed, r8y, s = plain
    plaintext = (packed, r8y, s)
    if not ok:
        return Decoded(shared, plaintext, False, None, None, "authentication failed")
    r8x = small_x_from_y(r8y)
    signature = Signature((0, 0) if r8x is None else (r8x, r8y), s)
    request = unpack_withdrawal(packed)
    if request is not None:
        account, amount, recipient = request
        fields_w = {"kind": KIND_WITHDRAW, "account": account, "amount": amount,
                    "recipient": recipient}
        signed = SignedWithdrawal(Withdrawal(account, amount, recipient, 0), signature)
        return Decoded(shared, plaintext, True, fields_w, None, None, signed)
    if packed >= 1 << PACKED_BITS:
        return Decoded(shared, plaintext, True, None, None, "packed fields too wide")
    fields = unpack_fields(packed)
    entry: Entry
    if fields["kind"] == KIND_CANCEL:
        entry = SignedCancel(Cancel(fields["account"], fields["order_id"]), signature)
    else:
        entry = SignedOrder(Order(*(fields[name] for name in _ORDER_NAMES)), signature)
    return Decoded(shared, plaintext, True, fields, entry, None)


def rejection(
    decoded: Decoded,
    *,
    account_bits: int,
    pubkey: tuple[int, int],
    slot_order_id: int,
    markets: Sequence[Market],
    timestamp: int,
) -> Reject | None:
    """Why the batch must treat ``decoded`` as a no-op, or None if it is a valid entry.

    Exactly the circuit's rule (MessageEntry with the batch's account check): the message
    decodes; its account fits ``account_bits`` and is not the insurance fund; for an order,
    the order's own ranges, its market, tick, fee cap and ``expiry >= timestamp``; the
    signature under ``pubkey`` (the account's key from its leaf, ``(0, 0)`` if the leaf is
    empty); ``orderId`` above ``slot_order_id`` (the slot ``orderId mod 2^S`` as it stands
    when the message is processed). The reason names the first rule that fails in the
    model's order (docs/protocol.md section 11, item 7); the operator's pre-trade margin
    check is not a reason: a valid order enters whatever its margin.
    """
    entry = decoded.entry
    if entry is None:
        return Reject.MALFORMED
    body: Order | Cancel = entry.order if isinstance(entry, SignedOrder) else entry.cancel
    try:
        body.check()
        if isinstance(body, Order):
            body.check_market(markets)
            if body.expiry < timestamp:
                return Reject.EXPIRED
    except OrderRejected as exc:
        return exc.reason
    if body.account >= 1 << account_bits:
        return Reject.UNKNOWN_ACCOUNT
    if pubkey == ZERO_PUBKEY:
        return Reject.UNKNOWN_ACCOUNT
    if not entry.verify(pubkey):
        return Reject.BAD_SIGNATURE
    if body.account == INSURANCE_ACCOUNT:
        return Reject.MALFORMED
    if body.order_id <= slot_order_id:
        return Reject.STALE_ORDER_ID
    return None


__all__ = [
    "CIPHERTEXT_LENGTH",
    "FIELDS",
    "INBOX_CHAIN_0",
    "KIND_CANCEL",
    "KIND_ORDER",
    "KIND_WITHDRAW",
    "MESSAGE_NONCE",
    "PACKED_BITS",
    "PLAINTEXT_LENGTH",
    "SMALL_X_BOUND",
    "Decoded",
    "Message",
    "MessageError",
    "chain_of",
    "chain_step",
    "cofactor_point",
    "decode",
    "decrypt_plaintext",
    "encrypt_entry",
    "encrypt_plaintext",
    "entry_plaintext",
    "ephemeral_key",
    "ephemeral_scalar_from",
    "operator_shared_key",
    "pack_fields",
    "rejection",
    "small_x_from_y",
    "unpack_fields",
    "withdrawal_plaintext",
]
