"""A trader's orders and cancels: built, checked, signed, encrypted, sent to the inbox.

The path of one order (docs/trader.md)::

    arguments --build_order--> Order --Order.check, check_market--> (refused here, or)
      --SignedOrder.sign (account key)--> --encrypt_entry (operator's key)--> Message
      --post_message (sending key)--> Rollup.sendMessage --> MessageSent(index, chain)

Everything above :func:`post_message` is pure: it takes a :class:`Venue` (what the chain
says: markets, operator key, last batch time, optionally the state's shape from an
operator's data folder) and returns values. An order that can never be a valid inbox
entry (docs/inbox.md, "Validity") is refused with a :class:`TraderError` *before* anything
is signed or sent: a malformed argument, a price off the tick, a fee cap below the market's
fee, an expiry that has passed, an account beyond the tree, a cancel id that would not
replace the order. What only the state decides at processing time (the order-id slot, the
margin) is left to the operator, as it must be.

:func:`post_message` is the only chain call; :func:`open_venue` finds the chain and the
Rollup (``--rpc-url`` and ``--rollup``, or an operator's data folder), with errors that
name the URL or the address.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.errors import ProtocolError, ToolError, ZkmatchError
from prover.exchange.constants import (
    FEE_SCALE,
    INSURANCE_ACCOUNT,
    MAX_ACCOUNT_BITS,
    MAX_SLOT_BITS,
    MIN_SLOT_BITS,
    ORDER_ID_BITS,
    PRICE_BITS,
    SIDE_BUY,
    SIDE_SELL,
    SIZE_BITS,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    TIME_BITS,
)
from prover.exchange.domain import (
    ZERO_PUBKEY,
    Cancel,
    Entry,
    Market,
    Order,
    OrderRejected,
    SignedCancel,
    SignedOrder,
)
from prover.exchange.inbox import Message, MessageError, encrypt_entry
from prover.trader.keys import TraderKey

SIDES = {"buy": SIDE_BUY, "sell": SIDE_SELL}
TIFS = {"gtc": TIF_GTC, "ioc": TIF_IOC, "post-only": TIF_POST_ONLY}
#: Kind tag of a message file written by ``--out``.
MESSAGE_FILE_KIND = "zkmatch-inbox-message"


class TraderError(ZkmatchError):
    """An order or cancel refused before sending, or a chain the trader cannot use."""


# --------------------------------------------------------------------------- what the chain says


@dataclass(frozen=True)
class Venue:
    """What a trader needs to know about the venue before sending.

    ``markets``, ``operator_key`` and ``last_timestamp`` come from the Rollup. The state's
    shape (``account_bits``, ``slot_bits``) and the genesis accounts' keys are not on chain;
    they come from an operator's data folder when one is given (``None``/empty otherwise).
    """

    markets: tuple[Market, ...]
    operator_key: tuple[int, int]
    last_timestamp: int
    rollup: str = ""
    chain_id: int = 0
    rpc_url: str = ""
    account_bits: int | None = None
    slot_bits: int | None = None
    account_keys: dict[int, tuple[int, int]] = field(default_factory=dict)


# --------------------------------------------------------------------------- building (pure)


def _whole(value: object, what: str, lo: int, hi: int, hint: str = "") -> int:
    """``lo <= value < hi`` as an int, or a TraderError that says so."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TraderError(f"{what} must be a whole number, got {value!r}")
    if not lo <= value < hi:
        limit = f"below 2^{hi.bit_length() - 1}" if hi & (hi - 1) == 0 else f"below {hi}"
        raise TraderError(f"{what} must be at least {lo} and {limit}, got {value}{hint}")
    return value


def parse_side(text: str) -> int:
    try:
        return SIDES[text.strip().lower()]
    except KeyError:
        raise TraderError(f"unknown side {text!r}: use buy or sell") from None


def parse_tif(text: str) -> int:
    name = text.strip().lower().replace("_", "-")
    try:
        return TIFS[name]
    except KeyError:
        raise TraderError(f"unknown time in force {text!r}: use gtc, ioc or post-only") from None


def parse_expiry(text: str | int, now: int) -> int:
    """``UNIX_TIME`` or ``+SECONDS`` (from ``now``) as a unix time."""
    raw = str(text).strip()
    relative = raw.startswith("+")
    digits = raw[1:] if relative else raw
    if not digits.isdigit() or not digits.isascii():
        raise TraderError(f"expiry {raw!r} is neither a unix time nor +SECONDS")
    value = int(digits)
    if relative:
        if value == 0:
            raise TraderError("expiry +0 has already passed; give +SECONDS > 0")
        value += now
    return _whole(value, "expiry", 0, 1 << TIME_BITS)


def _refused(exc: OrderRejected, what: str) -> TraderError:
    return TraderError(f"{what} refused, nothing sent: {exc}")


def _check_account(account: int, key: TraderKey | None, venue: Venue) -> None:
    _whole(account, "account", 0, 1 << MAX_ACCOUNT_BITS)
    if account == INSURANCE_ACCOUNT:
        raise TraderError(f"account {account} is the insurance fund: nobody trades for it")
    if venue.account_bits is not None and account >= 1 << venue.account_bits:
        raise TraderError(
            f"account {account} does not exist: the venue's tree holds 2^{venue.account_bits}"
            f" = {1 << venue.account_bits} accounts"
        )
    known = venue.account_keys.get(account)
    if key is not None and known is not None and known != ZERO_PUBKEY and known != key.public_key:
        raise TraderError(
            f"account {account} belongs to another key (its public key in the venue's state "
            "is not this key file's): the operator would drop the message as BAD_SIGNATURE"
        )


def build_order(
    venue: Venue,
    *,
    account: int,
    market: int,
    side: int,
    price: int,
    size: int,
    order_id: int,
    expiry: int,
    tif: int = TIF_GTC,
    max_fee_ppm: int | None = None,
    key: TraderKey | None = None,
) -> Order:
    """The :class:`Order`, after every check that does not need the state: its own ranges
    (:meth:`Order.check`), its market (:meth:`Order.check_market`: market, tick, fee cap),
    its expiry against the last batch's time, its account against the venue's tree.

    ``max_fee_ppm`` defaults to the market's highest fee rate (maker or taker)."""
    _check_account(account, key, venue)
    count = len(venue.markets)
    if isinstance(market, bool) or not isinstance(market, int) or not 0 <= market < count:
        raise TraderError(
            f"unknown market {market!r}: the Rollup registers {count} markets, 0 to {count - 1}"
        )
    if side not in (SIDE_BUY, SIDE_SELL):
        raise TraderError(f"side {side} is not buy (0) or sell (1)")
    if tif not in (TIF_GTC, TIF_IOC, TIF_POST_ONLY):
        raise TraderError(f"time in force {tif} is not gtc (0), ioc (1) or post-only (2)")
    m = venue.markets[market]
    tick = m.tick_size
    _whole(price, "price", 1, 1 << PRICE_BITS, f" (ticks of {tick} in market {market})")
    if price % tick:
        lower = price - price % tick
        raise TraderError(
            f"price {price} is off the tick: market {market} trades in steps of {tick} "
            f"(try {lower or tick} or {lower + tick})"
        )
    _whole(size, "size", 1, 1 << SIZE_BITS, " lots")
    _whole(order_id, "order id", 1, 1 << ORDER_ID_BITS)
    _whole(expiry, "expiry", 0, 1 << TIME_BITS)
    if expiry <= venue.last_timestamp:
        raise TraderError(
            f"expiry {expiry} is not after the last batch's time {venue.last_timestamp}: "
            "the order would expire before any batch could take it"
        )
    if max_fee_ppm is None:
        max_fee_ppm = max(m.maker_fee_ppm, m.taker_fee_ppm)
    _whole(max_fee_ppm, "max fee", 0, FEE_SCALE + 1, " ppm")
    try:
        order = Order(account, market, side, price, size, order_id, expiry, max_fee_ppm, tif)
        order.check()
        order.check_market(venue.markets)
    except OrderRejected as exc:
        raise _refused(exc, "order") from exc
    return order


def default_cancel_id(order_id: int, slot_bits: int) -> int:
    """``orderId + 2^S``: the smallest id that replaces ``order_id`` in its slot."""
    return Cancel.for_order(0, order_id, slot_bits).order_id


def build_cancel(
    venue: Venue,
    *,
    account: int,
    order_id: int,
    cancel_id: int | None = None,
    slot_bits: int | None = None,
    key: TraderKey | None = None,
) -> Cancel:
    """The :class:`Cancel` that replaces order ``order_id`` in its slot: its own id is
    ``cancel_id``, by default ``order_id + 2^S`` (``slot_bits``, else the venue's ``S``).
    Refused if the id is out of range, not above ``order_id``, or (with ``S`` known) in
    another slot, where it would cancel nothing."""
    _check_account(account, key, venue)
    _whole(order_id, "order id", 1, 1 << ORDER_ID_BITS)
    bits = slot_bits if slot_bits is not None else venue.slot_bits
    if bits is not None:
        _whole(bits, "slot bits", MIN_SLOT_BITS, MAX_SLOT_BITS + 1)
    if cancel_id is None:
        if bits is None:
            raise TraderError(
                "the cancel's own id is orderId + 2^S, and the Rollup does not record S: "
                "give --cancel-id, --slot-bits, or --data (an operator's folder)"
            )
        cancel_id = default_cancel_id(order_id, bits)
    _whole(cancel_id, "cancel id", 1, 1 << ORDER_ID_BITS)
    if cancel_id <= order_id:
        raise TraderError(
            f"cancel id {cancel_id} is not above order id {order_id}: a slot only takes a "
            "larger id, so it would cancel nothing"
        )
    if bits is not None and (cancel_id - order_id) % (1 << bits):
        raise TraderError(
            f"cancel id {cancel_id} is in slot {cancel_id % (1 << bits)}, order {order_id} in "
            f"slot {order_id % (1 << bits)} (S = {bits}): it would not cancel that order"
        )
    try:
        cancel = Cancel(account, cancel_id)
        cancel.check()
    except OrderRejected as exc:
        raise _refused(exc, "cancel") from exc
    return cancel


def seal(entry_body: Order | Cancel, key: TraderKey, venue: Venue,
         eph_scalar: int | None = None) -> tuple[Entry, Message]:
    """Sign ``entry_body`` with the account key and encrypt it to the operator's key."""
    signed: Entry = (
        SignedOrder.sign(entry_body, key.account_key)
        if isinstance(entry_body, Order)
        else SignedCancel.sign(entry_body, key.account_key)
    )
    try:
        message = encrypt_entry(signed, venue.operator_key, eph_scalar)
        message.check()
    except MessageError as exc:
        raise TraderError(f"cannot encrypt to the Rollup's operator key: {exc}") from exc
    return signed, message


def message_file_json(message: Message, venue: Venue) -> dict[str, Any]:
    """What ``--out`` writes: the message as the chain will hold it, and where it goes
    (``Message.from_json`` reads it back). No plaintext field."""
    return {"kind": MESSAGE_FILE_KIND, "rollup": venue.rollup, "chain_id": str(venue.chain_id),
            **message.to_json()}


def write_message_file(path: Path, message: Message, venue: Venue) -> None:
    """Write the message file atomically (temporary file, fsync, rename)."""
    import os

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with tmp.open("w") as out:
            out.write(json.dumps(message_file_json(message, venue), indent=1) + "\n")
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TraderError(f"cannot write {path}: {exc.strerror or exc}") from exc


# --------------------------------------------------------------------------- the chain


@dataclass(frozen=True)
class Sent:
    """A message in the inbox: its index, the chain value after it, the transaction."""

    index: int
    chain: int
    tx_hash: str
    block: int
    gas_used: int
    sender: str

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "inbox_chain": str(self.chain), "tx_hash": self.tx_hash,
                "block": self.block, "gas_used": self.gas_used, "sender": self.sender}


def _hex(value: Any) -> str:
    text = value.hex() if hasattr(value, "hex") else str(value)
    return text if text.startswith("0x") else "0x" + text


def post_message(client: Any, message: Message, key: TraderKey) -> Sent:
    """The one chain call: ``sendMessage`` from the key file's sending account.

    A zero balance is topped up on a development node (``anvil_setBalance``); on any other
    chain it is an error naming the address to fund."""
    from prover.chain.rollup import RollupRevert
    from prover.chain.signer import fund_on_dev_chain

    signer = key.signer
    w3 = client.w3
    if int(w3.eth.get_balance(signer.address)) == 0 and not fund_on_dev_chain(
        w3, signer.address
    ):
        raise TraderError(
            f"the sending account {signer.address} has no ether on this chain; fund it "
            "(it pays for sendMessage) and send again"
        )
    try:
        receipt = client.send_message(message, signer=signer)
    except (RollupRevert, ZkmatchError):
        raise
    except Exception as exc:  # web3 raises many types (insufficient funds, rpc errors)
        raise TraderError(f"sendMessage failed: {exc}") from exc
    events = client.contract.events.MessageSent().process_receipt(receipt)
    if len(events) != 1:
        raise TraderError(
            f"transaction {_hex(receipt['transactionHash'])} emitted {len(events)} "
            "MessageSent events, expected 1"
        )
    args = events[0]["args"]
    return Sent(int(args["index"]), int(args["chain"]), _hex(receipt["transactionHash"]),
                int(receipt["blockNumber"]), int(receipt["gasUsed"]), signer.address)


def read_venue(client: Any, rpc_url: str, data_state: dict[str, Any] | None = None) -> Venue:
    """A :class:`Venue` from the Rollup (and an operator's genesis state, if given)."""
    markets = tuple(client.config().markets)
    operator_key = tuple(int(c) for c in client.operator_key())
    last = int(client.state().last_timestamp)
    extra: dict[str, Any] = {}
    if data_state is not None:
        try:
            extra["account_bits"] = int(data_state["account_bits"])
            extra["slot_bits"] = int(data_state["slot_bits"])
            extra["account_keys"] = {
                int(a["index"]): (int(a["pubkey"][0]), int(a["pubkey"][1]))
                for a in data_state.get("accounts", ()) if "pubkey" in a
            }
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise TraderError(f"the data folder's genesis state is malformed ({exc})") from exc
    return Venue(markets, (operator_key[0], operator_key[1]), last,
                 rollup=client.address, chain_id=int(client.w3.eth.chain_id), rpc_url=rpc_url,
                 **extra)


def _rollup_client(rpc_url: str, address: str) -> Any:
    from web3 import Web3

    from prover.chain.rollup import RollupClient, connect
    from prover.toolchain.anvil import check_rpc

    try:
        check_rpc(rpc_url)
    except ToolError as exc:
        cause = exc.__cause__ or exc
        reason = getattr(cause, "reason", None) or cause
        raise TraderError(f"no chain answers at {rpc_url} ({reason}); is the node running?") \
            from exc
    if not Web3.is_address(address):
        raise TraderError(f"--rollup {address!r} is not an Ethereum address")
    w3 = connect(rpc_url)
    checksum = Web3.to_checksum_address(address)
    if not bytes(w3.eth.get_code(checksum)):
        raise TraderError(f"no contract at {checksum} on {rpc_url}: wrong --rollup, or wrong "
                          "chain?")
    client = RollupClient(w3, checksum)
    try:
        client.operator_key()
    except ZkmatchError:
        raise
    except Exception as exc:  # a contract without the Rollup's inbox: web3's call errors
        raise TraderError(
            f"the contract at {checksum} on {rpc_url} is not a zkmatch Rollup with an inbox "
            f"({type(exc).__name__})"
        ) from exc
    return client


@contextmanager
def open_venue(
    *, rpc_url: str | None = None, rollup: str | None = None, data_dir: Path | None = None,
) -> Iterator[tuple[Any, Venue]]:
    """``(RollupClient, Venue)`` for ``--rpc-url`` and ``--rollup``, or for an operator's
    data folder (its deployment's node, ``rpc_url`` overriding it; for zkmatch's own anvil
    the folder's saved chain, under the folder's lock, written back on exit)."""
    if data_dir is None:
        if not rpc_url or not rollup:
            raise TraderError("give --rpc-url and --rollup, or --data (an operator's folder)")
        client = _rollup_client(rpc_url, rollup)
        yield client, read_venue(client, rpc_url)
        return
    from prover.chain.node import open_chain
    from prover.operator.data import DataDir

    data = DataDir(Path(data_dir))
    deployment = data.read_deployment()
    address = rollup or str(deployment["rollup"])
    url = rpc_url or deployment.get("rpc_url")
    try:
        genesis = json.loads(data.genesis.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise TraderError(f"{data.genesis} is unreadable: {exc}") from exc
    lock = nullcontext() if url else data.locked()
    with lock, open_chain(url, state_path=data.anvil_state, log_path=data.anvil_log) as node:
        client = _rollup_client(node.rpc_url, address)
        yield client, read_venue(client, node.rpc_url, genesis)


# --------------------------------------------------------------------------- the commands


@dataclass(frozen=True)
class OrderArgs:
    """``zkmatch trader order``'s arguments, as given (expiry as text: time or +SECONDS)."""

    account: int
    market: int
    side: str
    price: int
    size: int
    order_id: int
    expiry: str
    tif: str = "gtc"
    max_fee_ppm: int | None = None


@dataclass(frozen=True)
class CancelArgs:
    account: int
    order_id: int
    cancel_id: int | None = None
    slot_bits: int | None = None


def _outcome(entry: Entry, message: Message, venue: Venue, sent: Sent | None,
             out: Path | None) -> dict[str, Any]:
    body = entry.to_json()
    result: dict[str, Any] = {
        "rollup": venue.rollup,
        "chain_id": venue.chain_id,
        **{k: v for k, v in body.items() if k != "signature"},
        "hash": str(entry.hash()),
        "message": message.to_json(),
        "sent": sent is not None,
    }
    if sent is not None:
        result.update(sent.to_json())
    if out is not None:
        result["out"] = str(out)
    return result


def _deliver(entry_body: Order | Cancel, key: TraderKey, client: Any, venue: Venue,
             out: Path | None) -> dict[str, Any]:
    entry, message = seal(entry_body, key, venue)
    if out is not None:
        write_message_file(out, message, venue)
        return _outcome(entry, message, venue, None, out)
    return _outcome(entry, message, venue, post_message(client, message, key), None)


def place_order(
    key: TraderKey, args: OrderArgs, *, rpc_url: str | None = None, rollup: str | None = None,
    data_dir: Path | None = None, out: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader order``: check, sign, encrypt and send (or write to ``out``)."""
    side, tif = parse_side(args.side), parse_tif(args.tif)
    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, venue):
        expiry = parse_expiry(args.expiry, max(int(time.time()), venue.last_timestamp))
        try:
            order = build_order(
                venue, account=args.account, market=args.market, side=side, price=args.price,
                size=args.size, order_id=args.order_id, expiry=expiry, tif=tif,
                max_fee_ppm=args.max_fee_ppm, key=key,
            )
        except ProtocolError as exc:  # pragma: no cover - build_order converts its own
            raise TraderError(f"order refused, nothing sent: {exc}") from exc
        return _deliver(order, key, client, venue, out)


def place_cancel(
    key: TraderKey, args: CancelArgs, *, rpc_url: str | None = None, rollup: str | None = None,
    data_dir: Path | None = None, out: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader cancel``: a cancel replacing ``args.order_id`` in its slot."""
    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, venue):
        cancel = build_cancel(venue, account=args.account, order_id=args.order_id,
                              cancel_id=args.cancel_id, slot_bits=args.slot_bits, key=key)
        result = _deliver(cancel, key, client, venue, out)
        result["cancels_order_id"] = str(args.order_id)
        return result


__all__ = [
    "MESSAGE_FILE_KIND",
    "SIDES",
    "TIFS",
    "CancelArgs",
    "OrderArgs",
    "Sent",
    "TraderError",
    "Venue",
    "build_cancel",
    "build_order",
    "default_cancel_id",
    "message_file_json",
    "open_venue",
    "parse_expiry",
    "parse_side",
    "parse_tif",
    "place_cancel",
    "place_order",
    "post_message",
    "read_venue",
    "seal",
    "write_message_file",
]
