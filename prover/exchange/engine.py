"""The matching engine: a time-ordered stream of signed orders and cancels in, batches out.

For every message, in arrival order (docs/scenario.md, "Matching rules"):

1. **Validate** through :meth:`BatchBuilder.check_entry` / :meth:`BatchBuilder.add_entry`
   (signature over the order hash, market, tick, size, expiry, order id above the
   slot's, fee cap, the operator's pre-trade margin check). A post-only order that
   would cross the book is refused with ``POST_ONLY_WOULD_CROSS``. A refused message
   changes nothing (no entry, no book change) and is reported with its reason code.
2. **Enter** it (``add_entry``). The entry overwrites its order slot, so an order of
   the same account still resting in that slot leaves the book (that is how a cancel,
   or a larger order id in the same slot, cancels).
3. **Match** an order against the opposite book of its market, best price first and
   oldest first at one price. Fill price = the resting (maker) order's price, quantity
   = the smaller remainder. Rules beyond the protocol text:

   - *Self-trade prevention, cancel-taker*: when the next maker belongs to the taker's
     own account, the taker's remainder is cancelled (reported as ``SELF_TRADE``);
     the resting order stays. Fills made before that point stand.
   - A fill the builder refuses **for the maker** (margin, expiry, fee cap, ...)
     removes that maker from the book (reported with the reason) and matching goes
     on with the next maker. Refused **for the taker**: the taker stops and its
     remainder is dropped (reported); fills made before stand.
   - An IOC remainder never rests; a GTC remainder rests at its limit price; a
     post-only order (which crossed nothing) rests whole.
4. **Batch boundaries**: when the builder raises :class:`BatchFull` for an entry, the
   current batch is sealed and the message retried in a fresh batch with the next
   :class:`PriceSet`. Before a taker enters, the engine walks the book to count the
   fills and new account slots its sweep would need; if they do not fit the current
   batch but would fit an empty one, it seals first, so a sweep is not cut in two
   (a taker can only fill in the batch it entered). If a sweep needs more than an
   empty batch holds, it fills what fits and its remainder is dropped (reported as
   ``BATCH_CAPACITY``). :meth:`Engine.end_batch` seals explicitly.
5. At the start of every batch, resting orders with ``expiry < timestamp`` leave the
   book (the circuit would refuse them as makers).

**With the committed book** (``config.book``: docs/book.md) the engine chooses nothing:
each message goes to :class:`BookBatchBuilder`, which matches it by the rules the batch
circuit proves, and the engine reports what the rules did (fills, a resting remainder, a
removed self-trading or under-margined maker, a stopped taker: ``POST_ONLY_WOULD_CROSS``,
``INSUFFICIENT_MARGIN``, ``SWEEP_LIMIT``, ``BOOK_FULL``). Rules 3 to 5 above are then the
book's (a self-trade cancels the resting order; a post-only order that would trade enters
and stops), and expired or cancelled orders leave the book when they reach its head.
Batch boundaries are as in 4: a message whose makers do not fit the open batch's account
slots seals it first.

Everything is deterministic: the same state, markets, config, prices and messages
give the same fills, rejections and roots. The module does no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from prover.errors import ProtocolError
from prover.exchange.batch import BatchBuilder, BatchResult
from prover.exchange.book import OrderBook, RestingOrder, crosses, opposite
from prover.exchange.bookbatch import BookBatchBuilder, BookEntry, fills_of
from prover.exchange.booktree import book_ref, ref_parts
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import (
    BatchConfig,
    BatchFull,
    Entry,
    Fill,
    Market,
    Order,
    OrderRef,
    OrderRejected,
    PriceSet,
    Reject,
    SignedOrder,
)
from prover.exchange.flows import Deposit
from prover.exchange.inbox import Message
from prover.exchange.matching import Outcome as MatchOutcome
from prover.exchange.matching import StepKind
from prover.exchange.state import ExchangeState

#: Reason reported when a sweep needs more fill or account slots than an empty batch has.
BATCH_CAPACITY = "BATCH_CAPACITY"
#: With the committed book: a taker that used its ``F`` steps while the book still crosses
#: (rule 6), and a GTC remainder whose side is full; the remainder is dropped.
SWEEP_LIMIT = "SWEEP_LIMIT"
BOOK_FULL = "BOOK_FULL"

#: What a price provider is: batch number -> that batch's PriceSet.
PriceProvider = Callable[[int], PriceSet]


@dataclass(frozen=True)
class Rejection:
    """Something the engine refused or cut short, with its reason code.

    ``kind``: ``"order"`` / ``"cancel"`` (the message was refused and changed nothing),
    ``"maker"`` (a resting order left the book because its fill was refused),
    ``"taker"`` (a taker stopped early; its earlier fills stand; ``reason`` is
    ``SELF_TRADE``, a builder reason such as ``INSUFFICIENT_MARGIN``, or
    ``BATCH_CAPACITY``). ``message`` is the index of the message being processed.
    """

    message: int
    batch_number: int
    kind: str
    ref: OrderRef
    reason: str
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "batch_number": self.batch_number,
            "kind": self.kind,
            "account": self.ref.account,
            "order_id": str(self.ref.order_id),
            "reason": str(self.reason),
            "detail": self.detail,
        }


@dataclass
class Outcome:
    """What happened to one message.

    ``batch_number`` is the batch that took it (or, for a refused message, the batch
    open when it was refused); ``entry`` its entry index; ``rested`` whether (part of)
    it now rests in the book; ``cancelled`` the order of the same account that its
    entry replaced in the order slot and so removed from the book.
    """

    message: int
    ref: OrderRef
    accepted: bool
    batch_number: int | None = None
    entry: int | None = None
    fills: list[Fill] = field(default_factory=list)
    rested: bool = False
    cancelled: OrderRef | None = None
    rejections: list[Rejection] = field(default_factory=list)
    withdrawal: dict[str, Any] | None = None
    """A withdrawal message's request and outcome (amount, recipient, nonce_used, paid)."""

    @property
    def filled(self) -> int:
        return sum(f.qty for f in self.fills)


@dataclass(frozen=True)
class BatchReport:
    """One sealed batch: its result (state, witness, roots) and what the engine saw."""

    result: BatchResult
    rejections: tuple[Rejection, ...]
    messages: tuple[int, ...]

    @property
    def batch_number(self) -> int:
        return self.result.batch_number

    @property
    def fills(self) -> tuple[Fill, ...]:
        return self.result.fills

    @property
    def old_root(self) -> int:
        return self.result.old_root

    @property
    def new_root(self) -> int:
        return self.result.new_root

    def to_json(self) -> dict[str, Any]:
        params = self.result.witness.params
        return {
            "batch_number": self.batch_number,
            "timestamp": params.timestamp,
            "old_root": str(self.old_root),
            "new_root": str(self.new_root),
            "config_hash": str(self.result.config_hash),
            "entries": len(self.result.entries),
            "fills": [f.to_json() for f in self.fills],
            "rejections": [r.to_json() for r in self.rejections],
        }


Prices = PriceProvider | Mapping[int, PriceSet] | Sequence[PriceSet]


def _prices_from(prices: Prices) -> PriceProvider:
    if callable(prices):
        return prices
    table: dict[int, PriceSet] = (
        dict(prices) if isinstance(prices, Mapping) else {p.batch_number: p for p in prices}
    )

    def lookup(n: int) -> PriceSet:
        try:
            return table[n]
        except KeyError:
            raise ProtocolError(f"no prices (PriceSet) for batch {n}") from None

    return lookup


class Engine:
    """Price-time matching over a stream of :data:`Entry` messages, cut into batches.

    ``prices`` gives each batch's :class:`PriceSet` by batch number (a callable, a
    mapping, or a sequence of PriceSets); ``first_batch`` is the number of the first
    batch. The engine owns ``state`` from here on (it is replaced by each sealed
    batch's new state; the object passed in is not mutated). ``on_seal(report, engine)``
    runs right after each batch is sealed, before the next message is taken (the
    operator store commits there: the books then hold exactly the sealed batches). If
    it raises, the exception propagates and this engine is ahead of the store: restart
    from the store (``Store.engine``).
    """

    def __init__(
        self,
        state: ExchangeState,
        markets: Sequence[Market] | None,
        config: BatchConfig,
        prices: Prices,
        *,
        first_batch: int = 0,
        on_seal: Callable[[BatchReport, Engine], None] | None = None,
        operator_secret: int | None = None,
    ) -> None:
        self.state = state
        if config.book:
            config.check_live()
            if state.books is None:
                raise ProtocolError("a venue that matches by the rules needs a state with books")
        elif state.books is not None:
            raise ProtocolError(
                "the state carries the committed book but the batch config has no book_bits"
            )
        self._operator_secret = operator_secret
        self.markets = tuple(markets) if markets is not None else state.markets
        self.config = config
        self._prices = _prices_from(prices)
        self.books: dict[int, OrderBook] = {m.id: OrderBook(m.id) for m in self.markets}
        #: Bodies of resting orders, by ref.
        self.resting: dict[OrderRef, Order] = {}
        self.reports: list[BatchReport] = []
        self.next_batch = first_batch
        self._builder: BatchBuilder | BookBatchBuilder | None = None
        self._pending: list[Rejection] = []
        self._pending_messages: list[int] = []
        self._message = 0
        self._on_seal = on_seal

    # --- batches --------------------------------------------------------------------

    @property
    def book_mode(self) -> bool:
        """True when batches match by the rules on the committed book (docs/book.md)."""
        return self.config.book

    @property
    def book_builder(self) -> BookBatchBuilder:
        """The open batch of a venue that matches by the rules."""
        builder = self.builder
        assert isinstance(builder, BookBatchBuilder)
        return builder

    @property
    def builder(self) -> Any:
        """The open batch (opened on first use with the next batch's prices): a
        :class:`BatchBuilder`, or with the book a :class:`BookBatchBuilder`."""
        if self._builder is None:
            params = self._prices(self.next_batch)
            if params.batch_number != self.next_batch:
                raise ProtocolError(
                    f"prices for batch {self.next_batch} carry batch number {params.batch_number}"
                )
            if self.book_mode:
                self._builder = BookBatchBuilder(
                    self.state, self.config, params, self.markets,
                    operator_secret=self._operator_secret,
                )
                return self._builder
            self._builder = BatchBuilder(
                self.state,
                self.config,
                params,
                self.markets,
                operator_secret=self._operator_secret,
            )
            self._expire(params.timestamp)
        return self._builder

    @property
    def batch_open(self) -> bool:
        """True while a batch holds at least one entry."""
        return self._builder is not None and bool(self._builder.entries)

    def end_batch(self) -> BatchReport | None:
        """Seal the open batch; None if it holds no message (nothing is sealed then)."""
        if self._builder is None or not (
            self._builder.messages or getattr(self._builder, "deposits", ())
        ):
            return None
        result = self._builder.seal()
        report = BatchReport(result, tuple(self._pending), tuple(self._pending_messages))
        self.reports.append(report)
        self.state = result.state
        self.next_batch += 1
        self._builder = None
        self._pending = []
        self._pending_messages = []
        if self._on_seal is not None:
            self._on_seal(report, self)
        return report

    def finish(self) -> list[BatchReport]:
        """Seal what is open and return every report so far."""
        self.end_batch()
        return list(self.reports)

    def _expire(self, timestamp: int) -> None:
        for ref, order in list(self.resting.items()):
            if order.expiry < timestamp:
                self._unrest(ref)

    # --- the book -----------------------------------------------------------------

    def rest(self, order: Order, *, filled: int = 0, seq: int = 0) -> RestingOrder:
        """Put ``order`` (``filled`` lots already done) in its book; used to restore a
        saved book too. The order must be open in the state's slot. (With the committed
        book, orders rest only by the rules: :class:`ProtocolError`.)"""
        if self.book_mode:
            raise ProtocolError("the committed book is in the state: orders rest by the rules")
        ref = order.ref
        entry = self.books[order.market].add(
            ref,
            order.side,
            order.price,
            order.size,
            seq=seq,
            filled=filled,
            account=order.account,
        )
        self.resting[ref] = order
        return entry

    def _unrest(self, ref: OrderRef) -> RestingOrder | None:
        order = self.resting.pop(ref, None)
        if order is None:
            return None
        return self.books[order.market].remove(ref)

    def resting_orders(self) -> list[tuple[Order, RestingOrder]]:
        """Every resting order with its book entry, by market then book arrival (with the
        committed book: each side in priority order, bids first, orders still live in
        their slots; a stale leaf waits in the book until it reaches the head)."""
        if self.book_mode:
            return self._committed_resting()
        out: list[tuple[Order, RestingOrder]] = []
        for market in sorted(self.books):
            book = self.books[market]
            entries = sorted(book, key=lambda r: r.arrival)
            out.extend((self.resting[r.ref], r) for r in entries)  # type: ignore[index]
        return out

    def _committed_resting(self) -> list[tuple[Order, RestingOrder]]:
        state = self.state
        books = (
            self._builder.books if isinstance(self._builder, BookBatchBuilder) else state.books
        )
        assert books is not None
        out: list[tuple[Order, RestingOrder]] = []
        arrival = 0
        slot_mask = (1 << state.slot_bits) - 1
        view = self._builder if isinstance(self._builder, BookBatchBuilder) else None
        now = view.params.timestamp if view is not None else state.last_timestamp
        for market in range(books.num_markets):
            for side in (SIDE_BUY, SIDE_SELL):
                for _, leaf in books.side(market, side).walk():
                    account, order_id = ref_parts(leaf.ref)
                    slot_no = order_id & slot_mask
                    slot = view.slot(account, slot_no) if view else state.slot(account, slot_no)
                    body = view.order(account, order_id) if view else state.order(
                        account, order_id
                    )
                    if (
                        body is None
                        or slot.order_id != order_id
                        or slot.filled >= body.size
                        or body.expiry < now
                    ):
                        continue
                    out.append((body, RestingOrder(
                        OrderRef(account, order_id), side, body.price, body.size,
                        body.size - slot.filled, slot.seq, arrival, account,
                    )))
                    arrival += 1
        return out

    # --- inbox messages -----------------------------------------------------------

    def submit_inbox(
        self, messages: Sequence[Message], deposits: Sequence[Deposit] = ()
    ) -> tuple[BatchReport | None, list[Outcome]]:
        """One batch that consumes exactly ``deposits`` (the next of the Rollup's queue, at
        most ``P``; a venue with the book only: docs/flows.md), then ``messages``, an inbox
        range in inbox order
        (at most ``E``; the Rollup fixes where it ends): each valid order or cancel enters
        and an order is matched at its entry; every other message is a no-op, reported
        as an ``order`` rejection with the circuit's reason. Returns the sealed batch
        (None for an empty range) and one outcome per message.

        The batch is planned first (:meth:`BatchBuilder.plan`): a resting order whose
        slot a later message of the range names does not make in this batch, and account
        slots are kept for the accounts the messages name. A post-only order that would
        cross rests all the same (the circuit has no rule against it yet: the slot is
        written, so the order is open) and takes nothing.
        """
        if self._builder is not None and (self._builder.messages or self._builder.fills):
            raise ProtocolError("a batch is open: seal it before an inbox range")
        if not messages and not deposits:
            return None, []
        if self.book_mode:
            return self._submit_inbox_book(messages, deposits)
        if deposits:
            raise ProtocolError("the fill-list batch (Batch.circom) takes no deposit")
        builder = self.builder
        builder.plan(messages)
        mask = (1 << self.state.slot_bits) - 1
        outcomes: list[Outcome] = []
        first = self.state.inbox_count
        for position, message in enumerate(messages):
            index = first + position  # the message's index in the inbox
            self._message += 1
            added = builder.add_message(message)
            self._pending_messages.append(index)
            fields = added.decoded.fields
            ref = (
                OrderRef(fields["account"], fields.get("order_id", 0)) if fields
                else OrderRef(0, 0)
            )
            outcome = Outcome(index, ref, added.valid, builder.params.batch_number, added.index)
            outcomes.append(outcome)
            if added.entry is None:
                kind = "cancel" if fields and fields["kind"] == 1 else "order"
                reason = added.reason or Reject.MALFORMED
                self._reject(outcome, kind, ref, reason, f"message {index} is a no-op: {reason}")
                continue
            # The entry overwrote its slot: an order of this account resting there leaves.
            for old in [r for r in self.resting if r.account == ref.account]:
                if old != ref and old.order_id & mask == ref.order_id & mask:
                    self._unrest(old)
                    outcome.cancelled = old
            order = added.entry.order if isinstance(added.entry, SignedOrder) else None
            if order is None:
                continue
            self._take_then_rest(builder, order, outcome, ref.order_id & mask)
        return self.end_batch(), outcomes

    def _submit_inbox_book(
        self, messages: Sequence[Message], deposits: Sequence[Deposit] = ()
    ) -> tuple[BatchReport | None, list[Outcome]]:
        if len(messages) > self.config.range_limit:
            raise ProtocolError(
                f"an inbox range of {len(messages)} messages may not fit a batch that matches "
                f"by the rules: at most (K - 2) / (F + 1) = {self.config.range_limit}"
            )
        builder = self.book_builder
        for deposit in deposits:
            builder.add_deposit(deposit)
        builder.plan(messages)  # BatchFull when the deposits' accounts leave too few slots
        outcomes: list[Outcome] = []
        first = self.state.inbox_count
        for position, message in enumerate(messages):
            index = first + position
            self._message += 1
            decoded_fields = builder.builder.judge_message(message).decoded.fields
            ref = (
                OrderRef(decoded_fields["account"], decoded_fields.get("order_id", 0))
                if decoded_fields else OrderRef(0, 0)
            )
            previous = self._slot_before(ref)
            try:
                added = builder.add_message(message)
            except BatchFull as exc:
                if deposits:
                    # The deposits' accounts took the slots the range needs: the caller
                    # takes them in another batch (docs/flows.md, the operator's policy).
                    raise
                # The range is the Rollup's; one within range_limit always fits.
                raise AssertionError(
                    f"inbox message {index} does not fit the batch ({exc}) within the range "
                    "limit"
                ) from exc
            self._pending_messages.append(index)
            outcome = Outcome(
                index, ref, added.outcome.valid, builder.params.batch_number, added.outcome.index
            )
            outcomes.append(outcome)
            judged = added.outcome
            if judged.withdrawal is not None:
                w = judged.withdrawal.withdrawal
                outcome.withdrawal = {
                    "account": w.account, "amount": str(w.amount), "recipient": hex(w.recipient),
                    "nonce_used": judged.consumed, "paid": judged.paid,
                }
                if not judged.paid:
                    reason = judged.reason or Reject.MALFORMED
                    self._reject(outcome, "withdrawal", ref, reason,
                                 f"message {index}: withdrawal not paid: {reason}")
                continue
            if added.outcome.entry is None:
                kind = "cancel" if decoded_fields and decoded_fields["kind"] == 1 else "order"
                reason = added.outcome.reason or Reject.MALFORMED
                self._reject(outcome, kind, ref, reason, f"message {index} is a no-op: {reason}")
                continue
            self._book_outcome(added, outcome, previous)
        return self.end_batch(), outcomes

    def _slot_before(self, ref: OrderRef) -> OrderRef | None:
        """The open order the slot of ``ref`` holds before its entry (the entry replaces
        it), if any."""
        builder = self.book_builder
        if ref.account >= self.state.capacity or not self.state.exists(ref.account):
            return None
        slot_no = ref.order_id & ((1 << self.state.slot_bits) - 1)
        slot = builder.slot(ref.account, slot_no)
        if not slot.is_open or slot.order_id == ref.order_id:
            return None
        order = builder.order(ref.account, slot.order_id)
        if order is None or not self._rests(order, slot.filled, builder.params.timestamp):
            return None
        return OrderRef(ref.account, slot.order_id)

    def _rests(self, order: Order, filled: int, timestamp: int) -> bool:
        """``order`` is live in the committed book: unfilled, unexpired at ``timestamp``,
        and in its side (a dropped IOC remainder or a stopped taker never rested)."""
        if filled >= order.size or order.expiry < timestamp:
            return False
        books = (
            self._builder.books if isinstance(self._builder, BookBatchBuilder)
            else self.state.books
        )
        assert books is not None
        return books.side(order.market, order.side).holds(book_ref(order.account, order.order_id))

    def _book_outcome(self, added: BookEntry, outcome: Outcome, previous: OrderRef | None) -> None:
        """Report what the rules did with an entry: fills, resting, stops, removed heads."""
        outcome.cancelled = previous
        result = added.result
        if result is None:  # a cancel
            return
        m = result.match
        outcome.fills.extend(fills_of(added, self.markets))
        outcome.rested = m.outcome == MatchOutcome.RESTED
        for step in m.steps:
            maker = OrderRef(*ref_parts(step.maker))
            if step.kind == StepKind.SELF_TRADE:
                self._reject(outcome, "maker", maker, Reject.SELF_TRADE,
                             f"resting order {maker} of the taker's own account cancelled")
            elif step.kind == StepKind.MAKER_MARGIN:
                self._reject(outcome, "maker", maker, Reject.INSUFFICIENT_MARGIN,
                             f"resting order {maker} cancelled: its fill breaks its margin")
        stops = {
            MatchOutcome.REJECTED: (Reject.POST_ONLY_WOULD_CROSS, "post-only order would trade"),
            MatchOutcome.TAKER_MARGIN: (
                Reject.INSUFFICIENT_MARGIN, "the next fill breaks the taker's margin"
            ),
            MatchOutcome.SWEEP_LIMIT: (
                SWEEP_LIMIT, f"the book still crosses after {self.config.steps} steps"
            ),
            MatchOutcome.BOOK_FULL: (BOOK_FULL, "the order's book side is full"),
        }
        if m.outcome in stops:
            reason, detail = stops[m.outcome]
            self._reject(outcome, "taker", outcome.ref, reason,
                         f"{detail}: the remainder of {m.remaining} lots is dropped")

    def _process_book(self, signed: Entry, outcome: Outcome) -> None:
        builder = self.book_builder
        kind = "order" if isinstance(signed, SignedOrder) else "cancel"
        ref = outcome.ref
        try:
            builder.check_entry(signed)
        except OrderRejected as exc:
            self._pending_messages.append(outcome.message)
            outcome.batch_number = builder.params.batch_number
            self._reject(outcome, kind, ref, exc.reason, exc.detail)
            return
        previous = self._slot_before(ref)
        added = builder.add_entry(signed)  # BatchFull: submit() seals and retries
        self._pending_messages.append(outcome.message)
        outcome.accepted = True
        outcome.batch_number = builder.params.batch_number
        outcome.entry = added.outcome.index
        self._book_outcome(added, outcome, previous)

    # --- messages -----------------------------------------------------------------

    def submit_all(self, messages: Iterable[Entry]) -> list[Outcome]:
        """:meth:`submit` each message in order."""
        return [self.submit(m) for m in messages]

    def submit(self, signed: Entry) -> Outcome:
        """Process one message; returns what happened to it."""
        index = self._message
        self._message += 1
        body = signed.order if isinstance(signed, SignedOrder) else signed.cancel
        outcome = Outcome(index, body.ref, False)
        for _attempt in range(2):
            try:
                self._process(signed, outcome)
                return outcome
            except BatchFull:
                if not self.batch_open:
                    raise ProtocolError(
                        f"message {index} does not fit an empty batch "
                        f"(K={self.config.accounts}, E={self.config.entries}): the batch "
                        "config is too small"
                    ) from None
                self.end_batch()
        raise AssertionError("unreachable: a message was refused by two fresh batches")

    def _reject(self, outcome: Outcome, kind: str, ref: OrderRef, reason: str, detail: str) -> None:
        rejection = Rejection(
            outcome.message, self.builder.params.batch_number, kind, ref, reason, detail
        )
        outcome.rejections.append(rejection)
        self._pending.append(rejection)

    def _process(self, signed: Entry, outcome: Outcome) -> None:
        if self.book_mode:
            self._process_book(signed, outcome)
            return
        builder = self.builder
        kind = "order" if isinstance(signed, SignedOrder) else "cancel"
        order = signed.order if isinstance(signed, SignedOrder) else None
        ref = outcome.ref
        slot_no = ref.order_id & ((1 << self.state.slot_bits) - 1)
        try:
            if order is not None and order.tif == TIF_POST_ONLY:
                builder.check_entry(signed)
                if self.books[order.market].would_cross(order.side, order.price):
                    raise OrderRejected(
                        Reject.POST_ONLY_WOULD_CROSS,
                        f"post-only at {order.price} would cross the book of market {order.market}",
                    )
            elif order is not None and self._needs_fresh_batch(builder, order):
                # Validate first, so a refused order does not cut a batch short.
                builder.check_entry(signed)
                self.end_batch()
                builder = self.builder
            exists = self.state.exists(ref.account)
            previous = builder.slot(ref.account, slot_no) if exists else None
            entry = builder.add_entry(signed)
        except OrderRejected as exc:
            self._pending_messages.append(outcome.message)
            outcome.batch_number = builder.params.batch_number
            self._reject(outcome, kind, ref, exc.reason, exc.detail)
            return
        self._pending_messages.append(outcome.message)
        outcome.accepted = True
        outcome.batch_number = builder.params.batch_number
        outcome.entry = entry
        # The entry overwrote its slot: an order of this account resting there is cancelled.
        if previous is not None and previous.is_open:
            old = OrderRef(ref.account, previous.order_id)
            if self._unrest(old) is not None:
                outcome.cancelled = old
        if order is None:
            return
        self._take_then_rest(builder, order, outcome, slot_no)

    def _take_then_rest(
        self, builder: BatchBuilder, order: Order, outcome: Outcome, slot_no: int
    ) -> None:
        """An order just entered: take from the book (unless post-only), then rest what is
        left (unless IOC, or the taker was stopped)."""
        remaining, stopped = order.size, False
        if order.tif != TIF_POST_ONLY:
            remaining, stopped = self._match(builder, order, outcome)
        if remaining > 0 and order.tif != TIF_IOC and not stopped:
            seq = builder.slot(order.account, slot_no).seq
            self.rest(order, filled=order.size - remaining, seq=seq)
            outcome.rested = True

    def _needs_fresh_batch(self, builder: BatchBuilder, order: Order) -> bool:
        """True if the open, non-empty batch cannot hold the order's whole sweep."""
        if not builder.entries or order.market not in self.books:
            return False  # nothing to gain, or add_entry refuses the order anyway
        fills, accounts = self._sweep_needs(builder, order)
        room_accounts, room_entries, room_fills = builder.room()
        return room_entries < 1 or fills > room_fills or accounts > room_accounts

    def _sweep_needs(self, builder: BatchBuilder, order: Order) -> tuple[int, int]:
        """(fills, new account slots) the order's sweep would need, ignoring margin."""
        book = self.books[order.market]
        qty = order.size
        fills = 0
        accounts: set[int] = set()
        if not builder.is_opened(order.account):
            accounts.add(order.account)
        for maker in book.walk(opposite(order.side)):
            if qty <= 0 or not crosses(order.side, order.price, maker.price):
                break
            if maker.account == order.account:
                break
            fills += 1
            qty -= maker.remaining
            if not builder.is_opened(maker.account):
                accounts.add(maker.account)
        return fills, len(accounts)

    def _match(self, builder: BatchBuilder, order: Order, outcome: Outcome) -> tuple[int, bool]:
        """Fill ``order`` (entered as taker) against its book.

        Returns its remainder and whether the taker was stopped (self-trade, a refusal
        for the taker, batch capacity), in which case the remainder must not rest.
        """
        book = self.books[order.market]
        other = opposite(order.side)
        taker = order.ref
        remaining = order.size
        while remaining > 0:
            maker = book.best(other)
            if maker is None or not crosses(order.side, order.price, maker.price):
                break
            if maker.account == order.account:
                self._reject(
                    outcome,
                    "taker",
                    taker,
                    Reject.SELF_TRADE,
                    f"next maker {maker.ref} is the same account: taker remainder cancelled",
                )
                return remaining, True
            qty = min(remaining, maker.remaining)
            maker_ref = maker.ref
            assert isinstance(maker_ref, OrderRef)
            try:
                fill = builder.add_fill(taker, maker_ref, qty)
            except BatchFull as exc:
                self._reject(outcome, "taker", taker, BATCH_CAPACITY, str(exc))
                return remaining, True
            except OrderRejected as exc:
                if exc.order == maker_ref:
                    self._unrest(maker_ref)
                    self._reject(outcome, "maker", maker_ref, exc.reason, exc.detail)
                    continue
                self._reject(outcome, "taker", taker, exc.reason, exc.detail)
                return remaining, True
            book.fill(maker_ref, qty)
            if maker_ref not in book:
                self.resting.pop(maker_ref, None)
            remaining -= qty
            outcome.fills.append(fill)
        return remaining, False
