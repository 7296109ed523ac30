"""Domain objects of the exchange (docs/protocol.md, sections 2 and 4 to 7).

Every object is a frozen dataclass that knows its own encodings: ``hash()`` exactly
as the protocol lays it out (the domain tag in Poseidon's capacity element),
``to_json()`` / ``from_json()`` (integers as decimal strings, public keys as
``[x, y]``) and, where a circuit consumes it, ``as_circuit_inputs()`` (decimal
strings, signed values encoded mod p).

Validation happens in two layers:

- Construction checks that the object is *well formed*: every field is an
  integer, and every hashed field is a canonical field element (or, for signed
  quantities, inside its protocol range). A malformed object raises
  :class:`ProtocolError` (for orders and cancels, :class:`OrderRejected` with
  ``Reject.MALFORMED``).
- :meth:`Order.check` and :meth:`Order.check_market` apply the ranges and rules
  of section 5 and raise :class:`OrderRejected` with the reason code. An order
  outside its ranges can exist (someone signed it); it just cannot enter the
  state, and the circuit treats it as a no-op.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from prover.crypto import eddsa, poseidon
from prover.crypto.eddsa import PrivateKey, Signature
from prover.errors import ProtocolError, ZkmatchError
from prover.exchange.constants import (
    COLLATERAL_BITS,
    FEE_SCALE,
    FUNDING_BITS,
    MARGIN_SCALE,
    MAX_ACCOUNT_BITS,
    MAX_MARKETS,
    MAX_SLOT_BITS,
    MIN_ACCOUNT_BITS,
    MIN_SLOT_BITS,
    ORDER_ID_BITS,
    POSITION_BITS,
    PRICE_BITS,
    SEQ_ENTRY_BITS,
    SIDE_BUY,
    SIDE_SELL,
    SIZE_BITS,
    TAG_ACCOUNT,
    TAG_CANCEL,
    TAG_MARKET,
    TAG_ORDER,
    TAG_POSITIONS,
    TAG_PRICES,
    TAG_SLOT,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    TIME_BITS,
)
from prover.field import SNARK_FIELD, encode_signed

#: A Baby Jubjub public key as its affine coordinates ``(x, y)``.
PubKey = tuple[int, int]

#: Batch numbers are below ``2^BATCH_NUMBER_BITS`` (docs/protocol.md, section 7,
#: "Decisions of the model"), so ``seq = n * 2^16 + e`` stays below ``2^56``.
BATCH_NUMBER_BITS = 40
SEQ_BITS = BATCH_NUMBER_BITS + SEQ_ENTRY_BITS

#: The all-zero public key of an empty account leaf (it is not on the curve, so
#: nothing verifies under it).
ZERO_PUBKEY: PubKey = (0, 0)

_VALID_SIDES = (SIDE_BUY, SIDE_SELL)
_VALID_TIFS = (TIF_GTC, TIF_IOC, TIF_POST_ONLY)


# --- errors -------------------------------------------------------------------------


class Reject(StrEnum):
    """Why an order, cancel or fill was refused (the operator tells the trader this)."""

    BAD_SIGNATURE = "BAD_SIGNATURE"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    UNKNOWN_MARKET = "UNKNOWN_MARKET"
    OFF_TICK = "OFF_TICK"
    BAD_PRICE = "BAD_PRICE"
    BAD_SIZE = "BAD_SIZE"
    EXPIRED = "EXPIRED"
    STALE_ORDER_ID = "STALE_ORDER_ID"
    FEE_TOO_HIGH = "FEE_TOO_HIGH"
    INSUFFICIENT_MARGIN = "INSUFFICIENT_MARGIN"
    POST_ONLY_WOULD_CROSS = "POST_ONLY_WOULD_CROSS"
    SELF_TRADE = "SELF_TRADE"
    UNKNOWN_ORDER = "UNKNOWN_ORDER"
    MALFORMED = "MALFORMED"


class OrderRejected(ProtocolError):
    """An order, cancel or fill breaks a protocol rule; ``reason`` says which.

    ``order`` names the order at fault when one side of a fill is (for example the
    maker whose margin would fail), so the engine knows which order to drop.
    """

    def __init__(self, reason: Reject, message: str = "", *, order: OrderRef | None = None):
        self.reason = reason
        self.order = order
        self.detail = message
        super().__init__(f"{reason.value}: {message}" if message else reason.value)


class BatchFull(ProtocolError):
    """The batch cannot take this entry or fill: seal it and retry in the next batch.

    Raised when a capacity (K accounts, E entries, B fills) is used up, and by the
    slot-conflict rule of section 7 (an entry would overwrite an order slot that a
    fill of the current batch used as the maker).
    """


# --- small helpers ------------------------------------------------------------------


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _require_int(value: object, what: str) -> int:
    if not _is_int(value):
        raise ProtocolError(f"{what} must be an integer, got {type(value).__name__}")
    return value  # type: ignore[return-value]


def _require_range(value: object, lo: int, hi: int, what: str) -> int:
    """``lo <= value < hi`` or ProtocolError."""
    v = _require_int(value, what)
    if not lo <= v < hi:
        raise ProtocolError(f"{what} = {v} is outside [{lo}, {hi})")
    return v


def _require_signed(value: object, bits: int, what: str) -> int:
    """``|value| < 2^bits`` or ProtocolError."""
    v = _require_int(value, what)
    if not -(1 << bits) < v < (1 << bits):
        raise ProtocolError(f"{what} = {v} is outside |x| < 2^{bits}")
    return v


def _require_field(value: object, what: str) -> int:
    return _require_range(value, 0, SNARK_FIELD, what)


def parse_int(value: object, what: str = "value") -> int:
    """An integer from JSON: an int, or a decimal string (optionally negative)."""
    if _is_int(value):
        return value  # type: ignore[return-value]
    if isinstance(value, str):
        text = value.strip()
        digits = text[1:] if text.startswith("-") else text
        if digits.isdigit() and digits.isascii():
            return int(text)
    raise ProtocolError(f"{what}: expected an integer or a decimal string, got {value!r}")


def _get(data: Mapping[str, Any], key: str) -> int:
    if not isinstance(data, Mapping):
        raise ProtocolError(f"expected a JSON object, got {type(data).__name__}")
    if key not in data:
        raise ProtocolError(f"missing field {key!r}")
    return parse_int(data[key], key)


def pubkey_of(value: Any) -> PubKey:
    """Normalise a public key: ``(x, y)``, ``[x, y]`` (ints or decimal strings), or an
    object with ``.x``/``.y`` or ``.public_key``."""
    if hasattr(value, "public_key"):
        value = value.public_key
    if hasattr(value, "x") and hasattr(value, "y"):
        value = (value.x, value.y)
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise ProtocolError(f"a public key is a pair [x, y], got {value!r}")
    x = _require_field(parse_int(value[0], "pubkey.x"), "pubkey.x")
    y = _require_field(parse_int(value[1], "pubkey.y"), "pubkey.y")
    return (x, y)


def pubkey_to_json(pubkey: PubKey) -> list[str]:
    return [str(pubkey[0]), str(pubkey[1])]


def make_seq(batch_number: int, entry_index: int) -> int:
    """``seq = n * 2^16 + e`` (section 4): the entry sequence number of an order."""
    if not 0 <= entry_index < (1 << SEQ_ENTRY_BITS):
        raise ProtocolError(f"entry index {entry_index} does not fit {SEQ_ENTRY_BITS} bits")
    if not 0 <= batch_number < (1 << BATCH_NUMBER_BITS):
        raise ProtocolError(f"batch number {batch_number} does not fit {BATCH_NUMBER_BITS} bits")
    return (batch_number << SEQ_ENTRY_BITS) + entry_index


def fee_for(notional: int, fee_ppm: int) -> int:
    """``floor(N * feePpm / 10^6)`` (section 7, step 4)."""
    return notional * fee_ppm // FEE_SCALE


# --- markets ------------------------------------------------------------------------


@dataclass(frozen=True)
class Market:
    """Market ``m`` (section 6): tick size, margin ratios (bps), fee rates (ppm).

    Rules: ``0 <= id < 8``, ``1 <= tickSize < 2^40``, ``0 < mmr < imr <= 10^4``,
    ``0 <= fees <= 10^6``.
    """

    id: int
    tick_size: int
    imr_bps: int
    mmr_bps: int
    maker_fee_ppm: int
    taker_fee_ppm: int

    def __post_init__(self) -> None:
        _require_range(self.id, 0, MAX_MARKETS, "market id")
        _require_range(self.tick_size, 1, 1 << PRICE_BITS, "tick size")
        _require_int(self.imr_bps, "imr_bps")
        _require_int(self.mmr_bps, "mmr_bps")
        if not 0 < self.mmr_bps < self.imr_bps <= MARGIN_SCALE:
            raise ProtocolError(
                f"market {self.id}: need 0 < mmr < imr <= {MARGIN_SCALE}, "
                f"got mmr={self.mmr_bps} imr={self.imr_bps}"
            )
        _require_range(self.maker_fee_ppm, 0, FEE_SCALE + 1, "maker fee ppm")
        _require_range(self.taker_fee_ppm, 0, FEE_SCALE + 1, "taker fee ppm")

    def fields(self) -> list[int]:
        return [self.tick_size, self.imr_bps, self.mmr_bps, self.maker_fee_ppm, self.taker_fee_ppm]

    def hash(self) -> int:
        """``marketHash = H_MARKET(tickSize, imrBps, mmrBps, makerFeePpm, takerFeePpm)``."""
        return poseidon(self.fields(), init_state=TAG_MARKET)

    def fee_cap_needed(self, tif: int) -> int:
        """The highest fee rate an order with this ``tif`` could pay (section 5).

        Post-only orders are only ever makers, IOC orders only ever takers (a maker
        may not be IOC, section 7), GTC orders can be either.
        """
        if tif == TIF_POST_ONLY:
            return self.maker_fee_ppm
        if tif == TIF_IOC:
            return self.taker_fee_ppm
        return max(self.maker_fee_ppm, self.taker_fee_ppm)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "tick_size": str(self.tick_size),
            "imr_bps": str(self.imr_bps),
            "mmr_bps": str(self.mmr_bps),
            "maker_fee_ppm": str(self.maker_fee_ppm),
            "taker_fee_ppm": str(self.taker_fee_ppm),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Market:
        return cls(
            _get(data, "id"),
            _get(data, "tick_size"),
            _get(data, "imr_bps"),
            _get(data, "mmr_bps"),
            _get(data, "maker_fee_ppm"),
            _get(data, "taker_fee_ppm"),
        )

    def as_circuit_inputs(self) -> dict[str, str]:
        return {
            "tickSize": str(self.tick_size),
            "imrBps": str(self.imr_bps),
            "mmrBps": str(self.mmr_bps),
            "makerFeePpm": str(self.maker_fee_ppm),
            "takerFeePpm": str(self.taker_fee_ppm),
        }


def check_markets(markets: Sequence[Market]) -> tuple[Market, ...]:
    """``1 <= M <= 8`` markets, market ``m`` at position ``m``."""
    ms = tuple(markets)
    if not 1 <= len(ms) <= MAX_MARKETS:
        raise ProtocolError(f"need 1 to {MAX_MARKETS} markets, got {len(ms)}")
    for position, market in enumerate(ms):
        if not isinstance(market, Market):
            raise ProtocolError(f"markets[{position}] is not a Market")
        if market.id != position:
            raise ProtocolError(
                f"markets[{position}] has id {market.id}; ids must be 0..M-1 in order"
            )
    return ms


# --- orders and cancels -------------------------------------------------------------


@dataclass(frozen=True)
class OrderRef:
    """Names an order: ``(account index, order id)``."""

    account: int
    order_id: int

    def to_json(self) -> dict[str, str]:
        return {"account": str(self.account), "order_id": str(self.order_id)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderRef:
        return cls(_get(data, "account"), _get(data, "order_id"))


_ORDER_FIELDS = (
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


@dataclass(frozen=True)
class Order:
    """A limit order, the value a trader signs (section 5).

    ``orderHash = H_ORDER(accountIndex, market, side, price, size, orderId, expiry,
    maxFeePpm, tif)``; ``side`` 0 buy / 1 sell, ``tif`` 0 GTC / 1 IOC / 2 post-only.
    Construction only requires canonical field elements (else ``MALFORMED``);
    :meth:`check` and :meth:`check_market` apply the protocol's ranges.
    """

    account: int
    market: int
    side: int
    price: int
    size: int
    order_id: int
    expiry: int
    max_fee_ppm: int
    tif: int

    def __post_init__(self) -> None:
        for name in _ORDER_FIELDS:
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value < SNARK_FIELD:
                raise OrderRejected(
                    Reject.MALFORMED, f"order field {name} = {value!r} is not a field element"
                )

    @property
    def ref(self) -> OrderRef:
        return OrderRef(self.account, self.order_id)

    @property
    def is_buy(self) -> bool:
        return self.side == SIDE_BUY

    def fields(self) -> list[int]:
        return [getattr(self, name) for name in _ORDER_FIELDS]

    def hash(self) -> int:
        """``H_ORDER(account, market, side, price, size, orderId, expiry, maxFeePpm, tif)``."""
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = poseidon(self.fields(), init_state=TAG_ORDER)
            object.__setattr__(self, "_hash", cached)  # memo; not a dataclass field
        return cached

    def slot(self, slot_bits: int) -> int:
        """``slot = orderId mod 2^S`` (section 5)."""
        return self.order_id & ((1 << slot_bits) - 1)

    def check(self) -> None:
        """5. The order's own ranges, independent of state and market.

        MALFORMED: side not 0/1, tif not 0/1/2, account or market index beyond any
        tree / market count, order id not in ``[1, 2^64)``, expiry not below 2^40,
        maxFeePpm above 10^6. BAD_PRICE: not ``1 <= price < 2^40``. BAD_SIZE: not
        ``1 <= size < 2^32``.
        """
        if self.side not in _VALID_SIDES:
            raise OrderRejected(Reject.MALFORMED, f"side {self.side} is not 0 (buy) or 1 (sell)")
        if self.tif not in _VALID_TIFS:
            raise OrderRejected(Reject.MALFORMED, f"tif {self.tif} is not 0, 1 or 2")
        if self.account >= 1 << MAX_ACCOUNT_BITS:
            raise OrderRejected(Reject.UNKNOWN_ACCOUNT, f"account {self.account} is beyond 2^32")
        if self.market >= MAX_MARKETS:
            raise OrderRejected(Reject.UNKNOWN_MARKET, f"market {self.market} does not exist")
        if not 1 <= self.order_id < 1 << ORDER_ID_BITS:
            raise OrderRejected(Reject.MALFORMED, f"order id {self.order_id} not in [1, 2^64)")
        if self.expiry >= 1 << TIME_BITS:
            raise OrderRejected(Reject.MALFORMED, f"expiry {self.expiry} not below 2^40")
        if self.max_fee_ppm > FEE_SCALE:
            raise OrderRejected(Reject.MALFORMED, f"max fee {self.max_fee_ppm} ppm above 10^6")
        if not 1 <= self.price < 1 << PRICE_BITS:
            raise OrderRejected(Reject.BAD_PRICE, f"price {self.price} not in [1, 2^40)")
        if not 1 <= self.size < 1 << SIZE_BITS:
            raise OrderRejected(Reject.BAD_SIZE, f"size {self.size} not in [1, 2^32)")

    def check_market(self, markets: Sequence[Market]) -> Market:
        """5. Market exists (UNKNOWN_MARKET), ``price % tickSize == 0`` (OFF_TICK) and
        ``maxFeePpm >=`` the rate this order could pay (FEE_TOO_HIGH). Returns the market."""
        if self.market >= len(markets):
            raise OrderRejected(Reject.UNKNOWN_MARKET, f"market {self.market} does not exist")
        market = markets[self.market]
        if self.price % market.tick_size:
            raise OrderRejected(
                Reject.OFF_TICK, f"price {self.price} is not a multiple of tick {market.tick_size}"
            )
        needed = market.fee_cap_needed(self.tif)
        if self.max_fee_ppm < needed:
            raise OrderRejected(
                Reject.FEE_TOO_HIGH,
                f"order caps fees at {self.max_fee_ppm} ppm; market {market.id} may take {needed}",
            )
        return market

    def to_json(self) -> dict[str, str]:
        return {name: str(getattr(self, name)) for name in _ORDER_FIELDS}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Order:
        return cls(*(_get(data, name) for name in _ORDER_FIELDS))

    def as_circuit_inputs(self) -> dict[str, str]:
        return {
            "account": str(self.account),
            "market": str(self.market),
            "side": str(self.side),
            "price": str(self.price),
            "size": str(self.size),
            "orderId": str(self.order_id),
            "expiry": str(self.expiry),
            "maxFeePpm": str(self.max_fee_ppm),
            "tif": str(self.tif),
        }


@dataclass(frozen=True)
class Cancel:
    """A cancel, the value a trader signs: ``cancelHash = H_CANCEL(accountIndex, orderId)``.

    ``order_id`` is the cancel's *own* id: it writes ``(orderId, 0, 0, seq)`` to slot
    ``orderId mod 2^S`` and so cancels whatever order occupies that slot with a
    smaller id (section 5). To cancel order ``x``, sign a cancel with an id ``> x`` in
    the same slot, e.g. ``x + 2^S`` (see :meth:`for_order`).
    """

    account: int
    order_id: int

    def __post_init__(self) -> None:
        for name in ("account", "order_id"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value < SNARK_FIELD:
                raise OrderRejected(
                    Reject.MALFORMED, f"cancel field {name} = {value!r} is not a field element"
                )

    @classmethod
    def for_order(cls, account: int, order_id: int, slot_bits: int) -> Cancel:
        """The smallest cancel that replaces order ``order_id`` in its slot."""
        return cls(account, order_id + (1 << slot_bits))

    @property
    def ref(self) -> OrderRef:
        return OrderRef(self.account, self.order_id)

    def hash(self) -> int:
        """``H_CANCEL(accountIndex, orderId)``."""
        cached: int | None = self.__dict__.get("_hash")
        if cached is None:
            cached = poseidon([self.account, self.order_id], init_state=TAG_CANCEL)
            object.__setattr__(self, "_hash", cached)  # memo; not a dataclass field
        return cached

    def slot(self, slot_bits: int) -> int:
        return self.order_id & ((1 << slot_bits) - 1)

    def check(self) -> None:
        """5. MALFORMED unless ``1 <= orderId < 2^64``; UNKNOWN_ACCOUNT beyond 2^32."""
        if self.account >= 1 << MAX_ACCOUNT_BITS:
            raise OrderRejected(Reject.UNKNOWN_ACCOUNT, f"account {self.account} is beyond 2^32")
        if not 1 <= self.order_id < 1 << ORDER_ID_BITS:
            raise OrderRejected(Reject.MALFORMED, f"order id {self.order_id} not in [1, 2^64)")

    def to_json(self) -> dict[str, str]:
        return {"account": str(self.account), "order_id": str(self.order_id)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Cancel:
        return cls(_get(data, "account"), _get(data, "order_id"))


def signature_to_json(signature: Signature) -> dict[str, Any]:
    """``{"R8": [x, y], "S": s}`` (the format of :meth:`Signature.to_json`)."""
    return signature.to_json()


def signature_from_json(data: Any) -> Signature:
    try:
        return Signature.from_json(data)
    except ZkmatchError as exc:
        raise ProtocolError(f"malformed signature: {exc}") from exc


def signature_parts(signature: Signature) -> tuple[int, int, int]:
    """``(R8x, R8y, S)`` as the circuit's EdDSAPoseidonVerifier takes them."""
    return int(signature.r8[0]), int(signature.r8[1]), int(signature.s)


def _verify(pubkey: PubKey, message: int, signature: Signature) -> bool:
    try:
        return bool(eddsa.verify(pubkey, message, signature))
    except (ValueError, TypeError):  # malformed signature or key: not a valid signature
        return False


@dataclass(frozen=True)
class SignedOrder:
    """An order with the trader's EdDSA-Poseidon signature over ``order.hash()``."""

    order: Order
    signature: Signature

    @classmethod
    def sign(cls, order: Order, private_key: bytes | PrivateKey) -> SignedOrder:
        return cls(order, eddsa.sign_compact(private_key, order.hash()))

    @property
    def account(self) -> int:
        return self.order.account

    @property
    def order_id(self) -> int:
        return self.order.order_id

    def hash(self) -> int:
        return self.order.hash()

    def verify(self, pubkey: PubKey) -> bool:
        return _verify(pubkey, self.order.hash(), self.signature)

    def to_json(self) -> dict[str, Any]:
        return {"order": self.order.to_json(), "signature": signature_to_json(self.signature)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedOrder:
        if not isinstance(data, Mapping) or "order" not in data or "signature" not in data:
            raise ProtocolError("a signed order is {'order': ..., 'signature': ...}")
        return cls(Order.from_json(data["order"]), signature_from_json(data["signature"]))


@dataclass(frozen=True)
class SignedCancel:
    """A cancel with the trader's signature over ``cancel.hash()``."""

    cancel: Cancel
    signature: Signature

    @classmethod
    def sign(cls, cancel: Cancel, private_key: bytes | PrivateKey) -> SignedCancel:
        return cls(cancel, eddsa.sign_compact(private_key, cancel.hash()))

    @property
    def account(self) -> int:
        return self.cancel.account

    @property
    def order_id(self) -> int:
        return self.cancel.order_id

    def hash(self) -> int:
        return self.cancel.hash()

    def verify(self, pubkey: PubKey) -> bool:
        return _verify(pubkey, self.cancel.hash(), self.signature)

    def to_json(self) -> dict[str, Any]:
        return {"cancel": self.cancel.to_json(), "signature": signature_to_json(self.signature)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SignedCancel:
        if not isinstance(data, Mapping) or "cancel" not in data or "signature" not in data:
            raise ProtocolError("a signed cancel is {'cancel': ..., 'signature': ...}")
        return cls(Cancel.from_json(data["cancel"]), signature_from_json(data["signature"]))


#: What one entry slot of a batch carries.
Entry = SignedOrder | SignedCancel


def entry_from_json(data: Mapping[str, Any]) -> Entry:
    """A :data:`Entry` from either JSON shape."""
    if isinstance(data, Mapping) and "cancel" in data:
        return SignedCancel.from_json(data)
    return SignedOrder.from_json(data)


# --- fills --------------------------------------------------------------------------


@dataclass(frozen=True)
class Fill:
    """One fill (section 7, step 4): ``qty`` lots at the maker's ``price``.

    ``taker_fee = floor(N * takerFeePpm / 10^6)``, ``maker_fee`` likewise, with
    ``N = qty * price``.
    """

    market: int
    taker: OrderRef
    maker: OrderRef
    taker_side: int
    price: int
    qty: int
    taker_fee: int
    maker_fee: int

    @property
    def notional(self) -> int:
        return self.qty * self.price

    @property
    def buyer(self) -> OrderRef:
        return self.taker if self.taker_side == SIDE_BUY else self.maker

    @property
    def seller(self) -> OrderRef:
        return self.maker if self.taker_side == SIDE_BUY else self.taker

    def to_json(self) -> dict[str, Any]:
        return {
            "market": str(self.market),
            "taker": self.taker.to_json(),
            "maker": self.maker.to_json(),
            "taker_side": str(self.taker_side),
            "price": str(self.price),
            "qty": str(self.qty),
            "taker_fee": str(self.taker_fee),
            "maker_fee": str(self.maker_fee),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Fill:
        return cls(
            _get(data, "market"),
            OrderRef.from_json(data["taker"]),
            OrderRef.from_json(data["maker"]),
            _get(data, "taker_side"),
            _get(data, "price"),
            _get(data, "qty"),
            _get(data, "taker_fee"),
            _get(data, "maker_fee"),
        )


# --- batch parameters ---------------------------------------------------------------


@dataclass(frozen=True)
class PriceSet:
    """Per-batch parameters (section 6): number ``n``, time ``t``, marks, funding indices,
    and the price feed's signature on ``(t, marks, funding)``.

    Rules: ``0 <= n < 2^40``, ``0 <= t < 2^40``, ``1 <= mark_m < 2^40``,
    ``|F*_m| < 2^63``, one mark and one index per market.
    """

    batch_number: int
    timestamp: int
    marks: tuple[int, ...]
    funding: tuple[int, ...]
    #: The price feed's signature on :meth:`prices_hash` (docs/settlement.md).
    signature: Signature | None = None

    def __post_init__(self) -> None:
        _require_range(self.batch_number, 0, 1 << BATCH_NUMBER_BITS, "batch number")
        _require_range(self.timestamp, 0, 1 << TIME_BITS, "timestamp")
        object.__setattr__(self, "marks", tuple(self.marks))
        object.__setattr__(self, "funding", tuple(self.funding))
        if not 1 <= len(self.marks) <= MAX_MARKETS:
            raise ProtocolError(f"need 1 to {MAX_MARKETS} marks, got {len(self.marks)}")
        if len(self.funding) != len(self.marks):
            raise ProtocolError(f"{len(self.marks)} marks but {len(self.funding)} funding indices")
        for m, mark in enumerate(self.marks):
            _require_range(mark, 1, 1 << PRICE_BITS, f"mark[{m}]")
        for m, index in enumerate(self.funding):
            _require_signed(index, FUNDING_BITS, f"funding[{m}]")

    def prices_hash(self) -> int:
        """What the price feed signs: ``H_PRICES(t, H_PRICES(mark_*), H_PRICES(F*_*))``.

        The batch number is not in it: a feed signs prices for a time, not for a batch."""
        marks_hash = poseidon(list(self.marks), init_state=TAG_PRICES)
        funding_hash = poseidon([encode_signed(f) for f in self.funding], init_state=TAG_PRICES)
        return poseidon([self.timestamp, marks_hash, funding_hash], init_state=TAG_PRICES)

    def signed(self, feed: PrivateKey) -> PriceSet:
        """This price set with ``feed``'s signature on :meth:`prices_hash`."""
        return replace(self, signature=feed.sign(self.prices_hash()))

    def signed_by(self, feed_key: Sequence[int]) -> bool:
        """Whether :attr:`signature` is ``feed_key``'s on :meth:`prices_hash`."""
        if self.signature is None:
            return False
        return eddsa.verify((feed_key[0], feed_key[1]), self.prices_hash(), self.signature)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "batch_number": str(self.batch_number),
            "timestamp": str(self.timestamp),
            "marks": [str(x) for x in self.marks],
            "funding": [str(x) for x in self.funding],
        }
        if self.signature is not None:
            out["signature"] = self.signature.to_json()
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PriceSet:
        signature = data.get("signature")
        return cls(
            _get(data, "batch_number"),
            _get(data, "timestamp"),
            tuple(parse_int(x, "mark") for x in data.get("marks", ())),
            tuple(parse_int(x, "funding") for x in data.get("funding", ())),
            Signature.from_json(signature) if signature is not None else None,
        )


# --- accounts and slots -------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    """Position in one market: signed size ``P_m`` (lots, ``|P| < 2^40``) and the
    funding index ``F_m`` last applied (``|F| < 2^63``)."""

    size: int = 0
    funding_index: int = 0

    def __post_init__(self) -> None:
        _require_signed(self.size, POSITION_BITS, "position size")
        _require_signed(self.funding_index, FUNDING_BITS, "position funding index")

    def to_json(self) -> dict[str, str]:
        return {"size": str(self.size), "funding_index": str(self.funding_index)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Position:
        return cls(_get(data, "size"), _get(data, "funding_index"))


@dataclass(frozen=True)
class Account:
    """The contents of an account leaf, except its order-slot root (which the state keeps).

    ``leaf = H_ACCOUNT(pubkey.x, pubkey.y, nonce, C, positionsHash, ordersRoot)``,
    ``positionsHash = H_POSITIONS(P_0, F_0, ..., P_{M-1}, F_{M-1})`` (section 4).
    ``|C| < 2^63``; ``1 <= M <= 8`` positions.
    """

    pubkey: PubKey
    nonce: int
    collateral: int
    positions: tuple[Position, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "pubkey", pubkey_of(self.pubkey))
        object.__setattr__(self, "positions", tuple(self.positions))
        _require_field(self.nonce, "nonce")
        _require_signed(self.collateral, COLLATERAL_BITS, "collateral")
        if not 1 <= len(self.positions) <= MAX_MARKETS:
            raise ProtocolError(
                f"an account has 1 to {MAX_MARKETS} positions, got {len(self.positions)}"
            )
        for position in self.positions:
            if not isinstance(position, Position):
                raise ProtocolError("positions must be Position objects")

    @classmethod
    def zero(cls, num_markets: int) -> Account:
        """The all-zero account: the empty leaf of the account tree (section 3)."""
        return cls(ZERO_PUBKEY, 0, 0, tuple(Position() for _ in range(num_markets)))

    @classmethod
    def new(cls, pubkey: Any, collateral: int, num_markets: int) -> Account:
        return cls(pubkey_of(pubkey), 0, collateral, tuple(Position() for _ in range(num_markets)))

    def positions_fields(self) -> list[int]:
        out: list[int] = []
        for position in self.positions:
            out.append(encode_signed(position.size))
            out.append(encode_signed(position.funding_index))
        return out

    def positions_hash(self) -> int:
        """``H_POSITIONS(P_0, F_0, ..., P_{M-1}, F_{M-1})``, signed values mod p."""
        return poseidon(self.positions_fields(), init_state=TAG_POSITIONS)

    def leaf_fields(self, orders_root: int) -> list[int]:
        """The six inputs of the account leaf hash."""
        return [
            self.pubkey[0],
            self.pubkey[1],
            self.nonce,
            encode_signed(self.collateral),
            self.positions_hash(),
            orders_root,
        ]

    def hash(self, orders_root: int) -> int:
        """``H_ACCOUNT(pubkey.x, pubkey.y, nonce, C, positionsHash, ordersRoot)``."""
        return poseidon(self.leaf_fields(orders_root), init_state=TAG_ACCOUNT)

    def size(self, market: int) -> int:
        return self.positions[market].size

    def with_collateral(self, collateral: int) -> Account:
        return replace(self, collateral=collateral)

    def with_position(self, market: int, position: Position) -> Account:
        positions = list(self.positions)
        positions[market] = position
        return replace(self, positions=tuple(positions))

    def to_json(self) -> dict[str, Any]:
        return {
            "pubkey": pubkey_to_json(self.pubkey),
            "nonce": str(self.nonce),
            "collateral": str(self.collateral),
            "positions": [p.to_json() for p in self.positions],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Account:
        return cls(
            pubkey_of(data.get("pubkey")),
            _get(data, "nonce"),
            _get(data, "collateral"),
            tuple(Position.from_json(p) for p in data.get("positions", ())),
        )

    def as_circuit_inputs(self, orders_root: int) -> dict[str, Any]:
        return {
            "pubX": str(self.pubkey[0]),
            "pubY": str(self.pubkey[1]),
            "nonce": str(self.nonce),
            "collateral": str(encode_signed(self.collateral)),
            "posSize": [str(encode_signed(p.size)) for p in self.positions],
            "posFunding": [str(encode_signed(p.funding_index)) for p in self.positions],
            "ordersRoot": str(orders_root),
        }


@dataclass(frozen=True)
class OrderSlot:
    """An order-slot leaf: ``H_SLOT(orderId, orderHash, filled, seq)`` (section 4).

    ``orderHash = 0`` opens no order (an empty slot, or a cancel). Ranges:
    ``0 <= orderId < 2^64``, ``0 <= filled < 2^32``, ``0 <= seq < 2^56``.
    """

    order_id: int = 0
    order_hash: int = 0
    filled: int = 0
    seq: int = 0

    def __post_init__(self) -> None:
        _require_range(self.order_id, 0, 1 << ORDER_ID_BITS, "slot order id")
        _require_field(self.order_hash, "slot order hash")
        _require_range(self.filled, 0, 1 << SIZE_BITS, "slot filled")
        _require_range(self.seq, 0, 1 << SEQ_BITS, "slot seq")

    @property
    def is_open(self) -> bool:
        return self.order_hash != 0

    def fields(self) -> list[int]:
        return [self.order_id, self.order_hash, self.filled, self.seq]

    def hash(self) -> int:
        """``H_SLOT(orderId, orderHash, filled, seq)``."""
        return poseidon(self.fields(), init_state=TAG_SLOT)

    def to_json(self) -> dict[str, str]:
        return {
            "order_id": str(self.order_id),
            "order_hash": str(self.order_hash),
            "filled": str(self.filled),
            "seq": str(self.seq),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OrderSlot:
        order_id, order_hash = _get(data, "order_id"), _get(data, "order_hash")
        return cls(order_id, order_hash, _get(data, "filled"), _get(data, "seq"))

    def as_circuit_inputs(self) -> dict[str, str]:
        return {
            "orderId": str(self.order_id),
            "orderHash": str(self.order_hash),
            "filled": str(self.filled),
            "seq": str(self.seq),
        }


EMPTY_SLOT = OrderSlot()


@dataclass(frozen=True)
class BatchConfig:
    """Circuit template parameters (section 7): tree depths ``D``/``S``, ``M`` markets,
    ``K`` account slots, ``E`` entry slots, ``B`` fill slots.

    With ``book_bits`` (``BB``) the venue matches by the rules on the committed book
    (``circuits/main/BatchBook.circom``, docs/book.md): ``2^BB`` orders per market side,
    ``book_cap_levels`` (``CL``) levels of each side's tree kept in the state, and
    ``fills`` is ``F``, the steps one entry may take (rule 6's sweep limit). Without
    (``book_bits = 0``) the batch takes the operator's fill list (``Batch.circom``).

    Rules: ``D`` even in ``[2, 32]``; ``S`` even in ``[2, 16]``; ``1 <= M <= 8``;
    ``2 <= K <= 2^D`` (slots 0 and 1 are the fee account and the insurance fund);
    ``1 <= E <= 2^16`` (an entry index fits the 16 bits of ``seq``); ``B >= 1``; with
    the book ``BB`` even in ``[2, 32]`` and ``0 <= CL < BB / 2``. A venue with the book
    also needs enough account slots for every message (:meth:`check_live`).
    """

    account_bits: int
    slot_bits: int
    markets: int
    accounts: int
    entries: int
    fills: int
    book_bits: int = 0
    book_cap_levels: int = 0
    deposits: int = 1
    """``P``: deposit slots of the book's batch (docs/flows.md); the fill-list batch takes
    no deposit."""

    def __post_init__(self) -> None:
        d = _require_int(self.account_bits, "account_bits")
        s = _require_int(self.slot_bits, "slot_bits")
        if not (MIN_ACCOUNT_BITS <= d <= MAX_ACCOUNT_BITS and d % 2 == 0):
            raise ProtocolError(f"account_bits must be even in [2, 32], got {d}")
        if not (MIN_SLOT_BITS <= s <= MAX_SLOT_BITS and s % 2 == 0):
            raise ProtocolError(f"slot_bits must be even in [2, 16], got {s}")
        _require_range(self.markets, 1, MAX_MARKETS + 1, "markets (M)")
        _require_range(self.accounts, 2, (1 << d) + 1, "account slots (K)")
        _require_range(self.entries, 1, (1 << SEQ_ENTRY_BITS) + 1, "entry slots (E)")
        _require_range(self.fills, 1, 1 << 32, "fill slots (B)")
        bb = _require_int(self.book_bits, "book_bits")
        cl = _require_int(self.book_cap_levels, "book_cap_levels")
        if bb:
            if not (2 <= bb <= 32 and bb % 2 == 0):
                raise ProtocolError(f"book_bits must be even in [2, 32], got {bb}")
            if not 0 <= cl < bb // 2:
                raise ProtocolError(f"book_cap_levels must be in [0, {bb // 2}), got {cl}")
        elif cl:
            raise ProtocolError("book_cap_levels without book_bits")
        _require_range(self.deposits, 1, (1 << SEQ_ENTRY_BITS) + 1, "deposit slots (P)")

    def check_live(self) -> None:
        """With the book: raise unless ``K >= F + 3`` (the fee account, the insurance fund,
        a taker and the makers of its ``F`` steps), so that every message fits an empty
        batch; a smaller ``K`` could leave a message no batch can take."""
        if self.book and self.deposits > self.accounts - 2:
            raise ProtocolError(
                f"{self.deposits} deposit slots need as many account slots past the fee "
                f"account and the insurance fund (K = {self.accounts}): a batch of deposits "
                "alone must always fit"
            )
        if self.book and self.accounts < self.fills + 3:
            raise ProtocolError(
                f"a venue that matches by the rules needs K >= F + 3 account slots "
                f"(K = {self.accounts}, F = {self.fills}): the fee account, the "
                "insurance fund, a taker and the makers of its F steps"
            )

    @property
    def range_limit(self) -> int:
        """The most messages one batch is sure to take whatever they meet: ``E``, and with
        the book ``(K - 2) / (F + 1)`` (each message's taker and ``F`` makers need account
        slots; an inbox range, which the Rollup fixes, must fit whole)."""
        if not self.book:
            return self.entries
        return max(1, min(self.entries, (self.accounts - 2) // (self.fills + 1)))

    @property
    def book(self) -> bool:
        """True when the batch matches by the rules on the committed book."""
        return self.book_bits > 0

    @property
    def steps(self) -> int:
        """``F``: the steps one entry may take (the book's batch)."""
        return self.fills

    def to_json(self) -> dict[str, str]:
        return {
            "account_bits": str(self.account_bits),
            "slot_bits": str(self.slot_bits),
            "markets": str(self.markets),
            "accounts": str(self.accounts),
            "entries": str(self.entries),
            "fills": str(self.fills),
            **(
                {
                    "book_bits": str(self.book_bits),
                    "book_cap_levels": str(self.book_cap_levels),
                    "deposits": str(self.deposits),
                }
                if self.book
                else {}
            ),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BatchConfig:
        return cls(
            _get(data, "account_bits"),
            _get(data, "slot_bits"),
            _get(data, "markets"),
            _get(data, "accounts"),
            _get(data, "entries"),
            _get(data, "fills"),
            _get(data, "book_bits") if "book_bits" in data else 0,
            _get(data, "book_cap_levels") if "book_cap_levels" in data else 0,
            _get(data, "deposits") if "deposits" in data else 1,
        )

    def as_circuit_params(self) -> dict[str, int]:
        """Template parameters of ``Batch(K, E, B, D, S, M)``, or with the book of
        ``BatchBook(K, E, F, D, S, M, BB, CL, P)``."""
        if self.book:
            return {
                "K": self.accounts,
                "E": self.entries,
                "F": self.fills,
                "D": self.account_bits,
                "S": self.slot_bits,
                "M": self.markets,
                "BB": self.book_bits,
                "CL": self.book_cap_levels,
                "P": self.deposits,
            }
        return {
            "D": self.account_bits,
            "S": self.slot_bits,
            "M": self.markets,
            "K": self.accounts,
            "E": self.entries,
            "B": self.fills,
        }


__all__ = [
    "BATCH_NUMBER_BITS",
    "EMPTY_SLOT",
    "SEQ_BITS",
    "ZERO_PUBKEY",
    "Account",
    "BatchConfig",
    "BatchFull",
    "Cancel",
    "Entry",
    "Fill",
    "Market",
    "Order",
    "OrderRef",
    "OrderRejected",
    "OrderSlot",
    "Position",
    "PriceSet",
    "PubKey",
    "Reject",
    "SignedCancel",
    "SignedOrder",
    "check_markets",
    "entry_from_json",
    "fee_for",
    "make_seq",
    "parse_int",
    "pubkey_of",
    "signature_parts",
]
