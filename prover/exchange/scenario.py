"""Scenarios: a whole trading session in one JSON file, run through the engine without proving.

The format is specified, with a complete example, in docs/scenario.md. In short::

    {
      "config":  {"account_bits": 4, "slot_bits": 4, "accounts": 6, "entries": 8, "fills": 8},
      "markets": [{"name": "BTC", "tick_size": 10, "imr_bps": 1000, "mmr_bps": 500,
                   "maker_fee_ppm": 200, "taker_fee_ppm": 500}, ...],
      "traders": [{"name": "alice", "deposit": 1000000}, ...],
      "batches": [{"timestamp": 1700000000, "marks": {"BTC": 30000}, "funding": {"BTC": 0},
                   "messages": [{"trader": "alice", "order": {...}},
                                {"trader": "bob", "cancel": 3}, ...]}, ...]
    }

Each element of ``batches`` is an explicit batch boundary: its messages are processed
in order and the batch is sealed at its end. If the batch capacity (``accounts``,
``entries``, ``fills``) splits one, the engine seals early and the extra batch uses the
same marks and funding one second later (batch times strictly increase).

An optional ``"venue": {"funding_caps": {"BTC": 1000000}, "feed_seed": "..."}`` sets each
market's funding-rate cap (10^-9 of the mark per second; default
:data:`DEFAULT_FUNDING_CAP`) and the price feed whose key signs every batch's prices
(default seed :data:`DEMO_FEED_SEED`: a development feed anyone can sign for).

Traders get account indices 2, 3, ... in the order listed; each trader's key is
``derive_private_key("zkmatch-sim:" + name)`` and every message is signed with it
automatically.

Pure: :func:`parse_scenario` takes the decoded JSON, :func:`run_scenario` returns a
:class:`SimResult`; reading the file and printing are the CLI's job.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prover.crypto import eddsa
from prover.crypto.eddsa import PrivateKey
from prover.errors import ProtocolError
from prover.exchange.booktree import Books
from prover.exchange.constants import (
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    SIDE_BUY,
    SIDE_SELL,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    TIME_BITS,
)
from prover.exchange.domain import (
    BatchConfig,
    Cancel,
    Entry,
    Fill,
    Market,
    Order,
    PriceSet,
    SignedCancel,
    SignedOrder,
)
from prover.exchange.engine import BatchReport, Engine, Outcome, Rejection
from prover.exchange.flows import Deposit
from prover.exchange.state import ExchangeState
from prover.exchange.venue import DEFAULT_FUNDING_CAP, DEV_FEED_SEED, VenueConfig

#: Prefix of the seed a trader's key is derived from.
KEY_SEED_PREFIX = "zkmatch-sim:"
#: The scenarios' price feed unless one names its own (prover/exchange/venue.py).
DEMO_FEED_SEED = DEV_FEED_SEED
#: Expiry of an order that gives none: the largest protocol time (never expires).
NO_EXPIRY = (1 << TIME_BITS) - 1

_SIDES = {"buy": SIDE_BUY, "sell": SIDE_SELL}
_TIFS = {"gtc": TIF_GTC, "ioc": TIF_IOC, "post_only": TIF_POST_ONLY}
_CONFIG_DEFAULTS = {"account_bits": 4, "slot_bits": 4, "accounts": 8, "entries": 16, "fills": 16}
#: Optional: the committed book (docs/book.md); ``fills`` is then F, the steps per entry.
_BOOK_CONFIG = ("book_bits", "book_cap_levels", "deposits")
FUNDING_GENESIS = "genesis"
FUNDING_DEPOSITS = "deposits"


def trader_seed(name: str) -> str:
    """The development seed of trader ``name``'s key: ``zkmatch trader keygen --seed`` with
    it makes the key file of the scenario's account (prover/trader/keys.py)."""
    return KEY_SEED_PREFIX + name


def trader_key(name: str) -> bytes:
    """The private key of trader ``name`` (deterministic; for simulations only)."""
    return eddsa.derive_private_key(trader_seed(name))


# --- the parsed scenario -------------------------------------------------------------


@dataclass(frozen=True)
class Trader:
    name: str
    account: int
    deposit: int


@dataclass(frozen=True)
class OrderSpec:
    """An order as the scenario gives it (``order_id`` None: assigned when run)."""

    trader: str
    market: int
    side: int
    price: int
    size: int
    tif: int
    order_id: int | None
    expiry: int
    max_fee_ppm: int | None


@dataclass(frozen=True)
class CancelSpec:
    """A cancel of the trader's order ``target`` (or, with ``raw``, a cancel whose own
    id is ``target``)."""

    trader: str
    target: int
    raw: bool = False


@dataclass(frozen=True)
class Round:
    """One explicit batch of the scenario: its prices and its messages."""

    timestamp: int
    marks: tuple[int, ...]
    funding: tuple[int, ...]
    messages: tuple[OrderSpec | CancelSpec, ...]


@dataclass(frozen=True)
class Scenario:
    config: BatchConfig
    markets: tuple[Market, ...]
    market_names: tuple[str, ...]
    traders: tuple[Trader, ...]
    rounds: tuple[Round, ...]
    first_batch: int = 0
    funding_caps: tuple[int, ...] = ()
    feed_seed: str = DEMO_FEED_SEED
    funding: str = "genesis"
    """``genesis``: each trader's account holds its deposit before batch 0; ``deposits``:
    only the fee account and the insurance fund exist, and each trader brings its deposit
    in through the Rollup's deposit queue (docs/flows.md) before the first round."""

    withdrawals: tuple[tuple[str, int], ...] = ()
    """``(trader, amount)``: withdrawals the operator demo sends after the last round (each
    paid by a batch, then claimed; docs/flows.md); the simulation does not send them."""

    @property
    def by_deposits(self) -> bool:
        return self.funding == FUNDING_DEPOSITS

    @property
    def feed(self) -> PrivateKey:
        """The key that signs the scenario's prices."""
        return PrivateKey.from_seed(self.feed_seed)

    @property
    def venue(self) -> VenueConfig:
        caps = self.funding_caps or (DEFAULT_FUNDING_CAP,) * len(self.markets)
        return VenueConfig(self.markets, caps, self.feed.public_key)

    def trader(self, name: str) -> Trader:
        for t in self.traders:
            if t.name == name:
                return t
        raise ProtocolError(f"scenario: unknown trader {name!r}")


# --- parsing ------------------------------------------------------------------------


def _fail(where: str, message: str) -> ProtocolError:
    return ProtocolError(f"scenario: {where}: {message}")


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"expected a JSON object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail(where, f"expected a JSON list, got {type(value).__name__}")
    return value


def _int(value: Any, where: str, *, lo: int | None = None) -> int:
    if isinstance(value, bool):
        raise _fail(where, f"expected an integer, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        body = text[1:] if text.startswith("-") else text
        if body.isdigit() and body.isascii():
            value = int(text)
    if not isinstance(value, int):
        raise _fail(where, f"expected an integer, got {value!r}")
    if lo is not None and value < lo:
        raise _fail(where, f"must be at least {lo}, got {value}")
    return value


def _unknown(data: Mapping[str, Any], allowed: set[str], where: str) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise _fail(where, f"unknown field(s) {', '.join(map(repr, extra))}")


def _enum(value: Any, table: Mapping[str, int], where: str) -> int:
    if isinstance(value, str) and value.lower() in table:
        return table[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in table.values():
        return value
    names = " or ".join(repr(k) for k in table)
    raise _fail(where, f"expected {names}, got {value!r}")


def _per_market(
    value: Any, names: tuple[str, ...], where: str, default: int | None
) -> tuple[int, ...]:
    """A list with one value per market, or an object by market name."""
    if value is None:
        if default is None:
            raise _fail(where, "missing")
        return tuple(default for _ in names)
    if isinstance(value, list):
        if len(value) != len(names):
            raise _fail(where, f"expected {len(names)} values (one per market), got {len(value)}")
        return tuple(_int(v, f"{where}[{i}]") for i, v in enumerate(value))
    data = _obj(value, where)
    _unknown(data, set(names), where)
    out = []
    for name in names:
        if name not in data:
            if default is None:
                raise _fail(f"{where}.{name}", "missing")
            out.append(default)
        else:
            out.append(_int(data[name], f"{where}.{name}"))
    return tuple(out)


def parse_scenario(data: Any) -> Scenario:
    """Check and decode a scenario (the JSON value); :class:`ProtocolError` names the
    field at fault."""
    root = _obj(data, "top level")
    _unknown(
        root,
        {
            "description", "config", "markets", "traders", "batches", "first_batch", "venue",
            "funding", "withdrawals",
        },
        "top level",
    )

    # Markets.
    raw_markets = _list(root.get("markets"), "markets")
    if not raw_markets:
        raise _fail("markets", "at least one market is needed")
    markets, names = [], []
    for i, raw in enumerate(raw_markets):
        where = f"markets[{i}]"
        m = _obj(raw, where)
        _unknown(
            m, {"name", "tick_size", "imr_bps", "mmr_bps", "maker_fee_ppm", "taker_fee_ppm"}, where
        )
        name = m.get("name", f"M{i}")
        if not isinstance(name, str) or not name:
            raise _fail(f"{where}.name", f"expected a non-empty string, got {name!r}")
        if name in names:
            raise _fail(f"{where}.name", f"duplicate market name {name!r}")
        fields = {}
        for key in ("tick_size", "imr_bps", "mmr_bps", "maker_fee_ppm", "taker_fee_ppm"):
            if key not in m:
                raise _fail(f"{where}.{key}", "missing")
            fields[key] = _int(m[key], f"{where}.{key}")
        try:
            markets.append(Market(i, **fields))
        except ProtocolError as exc:
            raise _fail(where, str(exc)) from exc
        names.append(name)
    market_names = tuple(names)

    # Config.
    raw_config = _obj(root.get("config", {}), "config")
    _unknown(raw_config, set(_CONFIG_DEFAULTS) | set(_BOOK_CONFIG), "config")
    cfg = {k: _int(raw_config.get(k, d), f"config.{k}") for k, d in _CONFIG_DEFAULTS.items()}
    cfg.update({k: _int(raw_config[k], f"config.{k}") for k in _BOOK_CONFIG if k in raw_config})
    try:
        config = BatchConfig(markets=len(markets), **cfg)
    except ProtocolError as exc:
        raise _fail("config", str(exc)) from exc

    # Traders.
    raw_traders = _list(root.get("traders"), "traders")
    traders: list[Trader] = []
    for i, raw in enumerate(raw_traders):
        where = f"traders[{i}]"
        t = _obj(raw, where)
        _unknown(t, {"name", "deposit"}, where)
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise _fail(f"{where}.name", f"expected a non-empty string, got {name!r}")
        if any(x.name == name for x in traders):
            raise _fail(f"{where}.name", f"duplicate trader {name!r}")
        account = 2 + i
        if account >= 1 << config.account_bits:
            raise _fail(
                where, f"no room: account {account} does not fit account_bits {config.account_bits}"
            )
        traders.append(Trader(name, account, _int(t.get("deposit", 0), f"{where}.deposit", lo=0)))
    trader_names = {t.name for t in traders}

    # Batches.
    rounds = []
    raw_batches = _list(root.get("batches"), "batches")
    for b, raw in enumerate(raw_batches):
        where = f"batches[{b}]"
        r = _obj(raw, where)
        _unknown(r, {"timestamp", "marks", "funding", "messages"}, where)
        if "timestamp" not in r:
            raise _fail(f"{where}.timestamp", "missing")
        timestamp = _int(r["timestamp"], f"{where}.timestamp", lo=0)
        marks = _per_market(r.get("marks"), market_names, f"{where}.marks", None)
        funding = _per_market(r.get("funding"), market_names, f"{where}.funding", 0)
        try:
            PriceSet(0, timestamp, marks, funding)
        except ProtocolError as exc:
            raise _fail(where, str(exc)) from exc
        messages: list[OrderSpec | CancelSpec] = []
        for j, raw_msg in enumerate(_list(r.get("messages", []), f"{where}.messages")):
            mwhere = f"{where}.messages[{j}]"
            msg = _obj(raw_msg, mwhere)
            _unknown(msg, {"trader", "order", "cancel", "cancel_id"}, mwhere)
            trader = msg.get("trader")
            if trader not in trader_names:
                raise _fail(f"{mwhere}.trader", f"unknown trader {trader!r}")
            kinds = [k for k in ("order", "cancel", "cancel_id") if k in msg]
            if len(kinds) != 1:
                raise _fail(mwhere, "needs exactly one of 'order', 'cancel', 'cancel_id'")
            if "cancel" in msg:
                messages.append(CancelSpec(trader, _int(msg["cancel"], f"{mwhere}.cancel", lo=1)))
                continue
            if "cancel_id" in msg:
                messages.append(
                    CancelSpec(trader, _int(msg["cancel_id"], f"{mwhere}.cancel_id", lo=0), True)
                )
                continue
            messages.append(_parse_order(msg["order"], trader, market_names, f"{mwhere}.order"))
        rounds.append(Round(timestamp, marks, funding, tuple(messages)))

    first_batch = _int(root.get("first_batch", 0), "first_batch", lo=0)
    funding = root.get("funding", FUNDING_GENESIS)
    if funding not in (FUNDING_GENESIS, FUNDING_DEPOSITS):
        raise _fail("funding", f"expected 'genesis' or 'deposits', got {funding!r}")
    if funding == FUNDING_DEPOSITS and not config.book:
        raise _fail("funding", "deposits need a venue with the book (config.book_bits)")
    if funding == FUNDING_DEPOSITS and any(not 0 < t.deposit < 1 << 56 for t in traders):
        raise _fail("traders", "funded by deposits, every trader deposits 1 to 2^56 - 1 units")
    withdrawals = []
    for i, raw in enumerate(_list(root.get("withdrawals", []), "withdrawals")):
        where = f"withdrawals[{i}]"
        w = _obj(raw, where)
        _unknown(w, {"trader", "amount"}, where)
        if w.get("trader") not in trader_names:
            raise _fail(f"{where}.trader", f"unknown trader {w.get('trader')!r}")
        withdrawals.append((str(w["trader"]), _int(w.get("amount"), f"{where}.amount", lo=1)))
    if withdrawals and funding != FUNDING_DEPOSITS:
        raise _fail("withdrawals", "withdrawals need a venue funded by deposits")
    if funding == FUNDING_DEPOSITS and not rounds:
        # The deposits' batches take the first batch's prices (and the withdrawals the last's).
        raise _fail("batches", "a scenario funded by deposits needs at least one batch")

    # Venue: funding caps and the price feed.
    raw_venue = _obj(root.get("venue", {}), "venue")
    _unknown(raw_venue, {"funding_caps", "feed_seed"}, "venue")
    raw_caps = _obj(raw_venue.get("funding_caps", {}), "venue.funding_caps")
    _unknown(raw_caps, set(market_names), "venue.funding_caps")
    caps = tuple(
        _int(raw_caps.get(name, DEFAULT_FUNDING_CAP), f"venue.funding_caps.{name}", lo=0)
        for name in market_names
    )
    feed_seed = raw_venue.get("feed_seed", DEMO_FEED_SEED)
    if not isinstance(feed_seed, str) or not feed_seed:
        raise _fail("venue.feed_seed", f"expected a non-empty string, got {feed_seed!r}")
    try:
        VenueConfig(tuple(markets), caps, (0, 0))
    except ProtocolError as exc:
        raise _fail("venue", str(exc)) from exc
    return Scenario(
        config, tuple(markets), market_names, tuple(traders), tuple(rounds), first_batch,
        caps, feed_seed, funding, tuple(withdrawals),
    )


def _parse_order(raw: Any, trader: str, names: tuple[str, ...], where: str) -> OrderSpec:
    o = _obj(raw, where)
    _unknown(o, {"market", "side", "price", "size", "tif", "id", "expiry", "max_fee_ppm"}, where)
    for key in ("market", "side", "price", "size"):
        if key not in o:
            raise _fail(f"{where}.{key}", "missing")
    market_value = o["market"]
    if isinstance(market_value, str) and market_value in names:
        market = names.index(market_value)
    elif (
        isinstance(market_value, int)
        and not isinstance(market_value, bool)
        and (0 <= market_value < len(names))
    ):
        market = market_value
    else:
        raise _fail(
            f"{where}.market", f"unknown market {market_value!r} (known: {', '.join(names)})"
        )
    # Numbers are only required to be integers here: range rules (tick, size, ...) are the
    # protocol's and produce a rejection with its reason code when the scenario runs.
    return OrderSpec(
        trader=trader,
        market=market,
        side=_enum(o["side"], _SIDES, f"{where}.side"),
        price=_int(o["price"], f"{where}.price", lo=0),
        size=_int(o["size"], f"{where}.size", lo=0),
        tif=_enum(o.get("tif", "gtc"), _TIFS, f"{where}.tif"),
        order_id=_int(o["id"], f"{where}.id", lo=0) if "id" in o else None,
        expiry=_int(o.get("expiry", NO_EXPIRY), f"{where}.expiry", lo=0),
        max_fee_ppm=_int(o["max_fee_ppm"], f"{where}.max_fee_ppm", lo=0)
        if "max_fee_ppm" in o
        else None,
    )


# --- running -------------------------------------------------------------------------


@dataclass
class SimResult:
    """Everything a scenario run produced."""

    scenario: Scenario
    state: ExchangeState
    engine: Engine
    outcomes: list[tuple[Outcome, OrderSpec | CancelSpec, int]] = field(default_factory=list)

    @property
    def reports(self) -> list[BatchReport]:
        return self.engine.reports

    def _who(self, account: int) -> str:
        if account == FEE_ACCOUNT:
            return "(fee account)"
        if account == INSURANCE_ACCOUNT:
            return "(insurance fund)"
        for t in self.scenario.traders:
            if t.account == account:
                return t.name
        return f"account {account}"

    def fill_json(self, fill: Fill) -> dict[str, Any]:
        return {
            "market": self.scenario.market_names[fill.market],
            "taker": self._who(fill.taker.account),
            "taker_order_id": fill.taker.order_id,
            "maker": self._who(fill.maker.account),
            "maker_order_id": fill.maker.order_id,
            "side": "buy" if fill.taker_side == SIDE_BUY else "sell",
            "price": fill.price,
            "qty": fill.qty,
            "taker_fee": fill.taker_fee,
            "maker_fee": fill.maker_fee,
        }

    def rejection_json(self, rejection: Rejection) -> dict[str, Any]:
        return {
            "message": rejection.message,
            "batch_number": rejection.batch_number,
            "trader": self._who(rejection.ref.account),
            "order_id": rejection.ref.order_id,
            "kind": rejection.kind,
            "reason": str(rejection.reason),
            "detail": rejection.detail,
        }

    def message_json(
        self, outcome: Outcome, spec: OrderSpec | CancelSpec, round_no: int
    ) -> dict[str, Any]:
        """One message and what became of it."""
        out: dict[str, Any] = {
            "message": outcome.message,
            "scenario_batch": round_no,
            "batch_number": outcome.batch_number,
            "trader": spec.trader,
            "order_id": outcome.ref.order_id,
            "accepted": outcome.accepted,
        }
        if isinstance(spec, OrderSpec):
            order_size = spec.size
            filled = outcome.filled
            out.update(
                {
                    "kind": "order",
                    "market": self.scenario.market_names[spec.market],
                    "side": "buy" if spec.side == SIDE_BUY else "sell",
                    "price": spec.price,
                    "size": order_size,
                    "tif": next(k for k, v in _TIFS.items() if v == spec.tif),
                    "filled": filled,
                    "rested": outcome.rested,
                    "dropped": order_size - filled
                    if outcome.accepted and not outcome.rested
                    else 0,
                }
            )
        else:
            out["kind"] = "cancel"
        out["cancelled"] = outcome.cancelled.order_id if outcome.cancelled else None
        out["reasons"] = [str(r.reason) for r in outcome.rejections]
        return out

    def to_json(self) -> dict[str, Any]:
        """The run as plain JSON (integers as numbers, roots as decimal strings)."""
        sc = self.scenario
        batches = []
        for report in self.reports:
            params = report.result.witness.params
            batches.append(
                {
                    "batch_number": report.batch_number,
                    "timestamp": params.timestamp,
                    "entries": len(report.result.entries),
                    "deposits": [
                        {**d.to_json(), "outcome": o.value}
                        for d, o in report.result.witness.deposits
                    ],
                    "exits": [x.to_json() for x in report.result.witness.exits],
                    "old_root": str(report.old_root),
                    "new_root": str(report.new_root),
                    "config_hash": str(report.result.config_hash),
                    "fills": [self.fill_json(f) for f in report.fills],
                    "rejections": [self.rejection_json(r) for r in report.rejections],
                }
            )
        accounts = []
        named = [(t.name, t.account) for t in sc.traders]
        for name, index in [
            ("(fee account)", FEE_ACCOUNT),
            ("(insurance fund)", INSURANCE_ACCOUNT),
        ] + named:
            account = self.state.account(index)
            accounts.append(
                {
                    "name": name,
                    "account": index,
                    "collateral": account.collateral,
                    "positions": {
                        sc.market_names[m]: p.size for m, p in enumerate(account.positions)
                    },
                }
            )
        book = []
        for order, entry in self.engine.resting_orders():
            book.append(
                {
                    "market": sc.market_names[order.market],
                    "trader": self._who(order.account),
                    "order_id": order.order_id,
                    "side": "buy" if order.side == SIDE_BUY else "sell",
                    "price": order.price,
                    "remaining": entry.remaining,
                }
            )
        rejections = [self.rejection_json(r) for report in self.reports for r in report.rejections]
        return {
            "messages": [self.message_json(o, spec, n) for o, spec, n in self.outcomes],
            "batches": batches,
            "rejections": rejections,
            "accounts": accounts,
            "book": book,
            "final_root": str(self.state.root),
            "total_collateral": self.state.total_collateral(),
        }


class _Ids:
    """Order ids of one trader: the next free id above every id used in its slot."""

    def __init__(self, slot_bits: int) -> None:
        self.mask = (1 << slot_bits) - 1
        self.slot_max: dict[int, int] = {}
        self.counter = 0

    def use(self, order_id: int) -> None:
        slot = order_id & self.mask
        self.slot_max[slot] = max(self.slot_max.get(slot, 0), order_id)
        self.counter = max(self.counter, order_id)

    def next(self) -> int:
        candidate = self.counter + 1
        while candidate <= self.slot_max.get(candidate & self.mask, 0):
            candidate += 1
        return candidate


def deposits(scenario: Scenario) -> list[Deposit]:
    """The deposit queue of a scenario funded by deposits: each trader's, in trader order
    (the Rollup gives them accounts 2, 3, ... in that order), from address 0 (a
    simulation; on chain the trader's sending address)."""
    if not scenario.by_deposits:
        return []
    return [
        Deposit(i, t.account, eddsa.public_key(trader_key(t.name)), t.deposit, 0)
        for i, t in enumerate(scenario.traders)
    ]


def genesis(scenario: Scenario) -> ExchangeState:
    """The state before the first batch: the traders' accounts with their deposits (funded
    by deposits: the fee account and the insurance fund only)."""
    cfg = scenario.config
    books = (
        Books(len(scenario.markets), cfg.book_bits, cfg.book_cap_levels) if cfg.book else None
    )
    state = ExchangeState(
        scenario.markets, cfg.account_bits, cfg.slot_bits, venue=scenario.venue, books=books
    )
    if scenario.by_deposits:
        return state
    for t in scenario.traders:
        state.create_account(t.account, eddsa.public_key(trader_key(t.name)), t.deposit)
    return state


def signed_rounds(scenario: Scenario) -> list[list[Entry]]:
    """Every round's messages, signed by their traders (order ids assigned in order)."""
    cfg = scenario.config
    keys = {t.name: trader_key(t.name) for t in scenario.traders}
    ids = {t.name: _Ids(cfg.slot_bits) for t in scenario.traders}
    rounds: list[list[Entry]] = []
    for rnd in scenario.rounds:
        out: list[Entry] = []
        for spec in rnd.messages:
            trader = scenario.trader(spec.trader)
            signed: Entry
            if isinstance(spec, OrderSpec):
                order_id = spec.order_id if spec.order_id is not None else ids[spec.trader].next()
                ids[spec.trader].use(order_id)
                market = scenario.markets[spec.market]
                max_fee = (
                    spec.max_fee_ppm
                    if spec.max_fee_ppm is not None
                    else market.fee_cap_needed(spec.tif)
                )
                order = Order(
                    trader.account,
                    spec.market,
                    spec.side,
                    spec.price,
                    spec.size,
                    order_id,
                    spec.expiry,
                    max_fee,
                    spec.tif,
                )
                signed = SignedOrder.sign(order, keys[spec.trader])
            else:
                cancel_id = spec.target if spec.raw else spec.target + (1 << cfg.slot_bits)
                ids[spec.trader].use(cancel_id)
                signed = SignedCancel.sign(Cancel(trader.account, cancel_id), keys[spec.trader])
            out.append(signed)
        rounds.append(out)
    return rounds


def run_scenario(
    scenario: Scenario,
    *,
    on_seal: Callable[[BatchReport, Engine], None] | None = None,
    state: ExchangeState | None = None,
) -> SimResult:
    """Sign and run every message of ``scenario`` through the engine; seal each batch.

    ``on_seal`` is passed to the :class:`Engine` (the CLI's ``--store`` commits there).
    Returns the final state, every batch report, and each message's outcome.
    """
    cfg = scenario.config
    state = state if state is not None else genesis(scenario)
    current: list[Round] = []
    feed = scenario.feed
    last_time = [state.last_timestamp]

    def prices(n: int) -> PriceSet:
        r = current[-1]
        t = max(r.timestamp, last_time[0] + 1)  # a split batch: one second later
        last_time[0] = t
        return PriceSet(n, t, r.marks, r.funding).signed(feed)

    engine = Engine(
        state, scenario.markets, cfg, prices, first_batch=scenario.first_batch, on_seal=on_seal
    )
    result = SimResult(scenario, state, engine)
    queue = deposits(scenario)[state.deposit_count:]
    if queue:
        # The deposits first, P per batch, at the first round's prices.
        current.append(scenario.rounds[0])
        for i in range(0, len(queue), cfg.deposits):
            engine.submit_inbox([], queue[i:i + cfg.deposits])
        current.pop()
    for number, (rnd, signed_messages) in enumerate(
        zip(scenario.rounds, signed_rounds(scenario), strict=True)
    ):
        current.append(rnd)
        for spec, signed in zip(rnd.messages, signed_messages, strict=True):
            result.outcomes.append((engine.submit(signed), spec, number))
        engine.end_batch()
    result.state = engine.state
    return result


__all__ = [
    "KEY_SEED_PREFIX",
    "NO_EXPIRY",
    "CancelSpec",
    "OrderSpec",
    "Round",
    "Scenario",
    "SimResult",
    "Trader",
    "deposits",
    "genesis",
    "parse_scenario",
    "run_scenario",
    "signed_rounds",
    "trader_key",
    "trader_seed",
]
