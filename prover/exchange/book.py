"""One limit order book per market, price-time priority (docs/scenario.md, "Matching").

Bids are ordered by price descending, asks by price ascending, and orders at the
same price by arrival. The book is pure bookkeeping: it knows prices, sizes and
arrival order, not signatures, margin or fees (the engine decides whether a fill
is legal; the book only records what the engine decided).

Layout (measured in ``scripts/bench_matching.py``): each side keeps a sorted list
of price keys (bids keyed by ``-price``) and a ``dict`` from price to a FIFO
``deque`` of :class:`RestingOrder`. Removal is lazy inside a level: a cancelled
order leaves the ``ref -> order`` index at once and is dropped from its deque when
it reaches the front; a level whose last live order leaves is removed at once. So
best is O(1) amortised, insert/remove O(1) within an existing level and O(log L)
search plus a memmove of the key list when a level appears or empties (L price
levels). A sorted key list was chosen over a heap with lazy deletion because it
also gives a cheap lazy walk in priority order (:meth:`OrderBook.walk`), which the
engine uses to size a taker's sweep before it enters a batch.
"""

from __future__ import annotations

import bisect
from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import dataclass, field

from prover.errors import ProtocolError
from prover.exchange.constants import SIDE_BUY, SIDE_SELL


@dataclass(slots=True, eq=False)
class RestingOrder:
    """An order resting in the book.

    ``ref`` identifies it (the engine uses ``OrderRef(account, order_id)``),
    ``remaining`` is the unfilled size in lots, ``seq`` the protocol entry sequence
    number (``batch * 2^16 + entry``) and ``arrival`` the book's own arrival counter,
    which breaks ties at one price.
    """

    ref: Hashable
    side: int
    price: int
    size: int
    remaining: int
    seq: int
    arrival: int
    account: int = -1

    @property
    def filled(self) -> int:
        """Lots filled so far."""
        return self.size - self.remaining


@dataclass(frozen=True, slots=True)
class BookFill:
    """One fill produced by :meth:`OrderBook.take` (pure matching, no margin)."""

    maker: Hashable
    price: int
    qty: int


@dataclass(slots=True)
class _Side:
    """One side of the book: sorted price keys plus FIFO levels.

    ``keys`` holds ``-price`` for bids and ``price`` for asks, ascending, so
    ``keys[0]`` is always the best level. A new level costs a ``bisect.insort``
    (O(log L) search plus a C-speed memmove), an emptied level a ``bisect`` and a
    ``del``; with a few thousand levels both are far below the cost of a dict miss
    in the matching loop (scripts/bench_matching.py).
    """

    side: int
    levels: dict[int, deque[RestingOrder]] = field(default_factory=dict)
    live: dict[int, int] = field(default_factory=dict)
    keys: list[int] = field(default_factory=list)

    def key(self, price: int) -> int:
        return -price if self.side == SIDE_BUY else price

    def push(self, order: RestingOrder) -> None:
        price = order.price
        level = self.levels.get(price)
        if level is None:
            level = self.levels[price] = deque()
            self.live[price] = 0
            bisect.insort(self.keys, self.key(price))
        level.append(order)
        self.live[price] += 1

    def release(self, price: int) -> None:
        """One order at ``price`` left; drop the level when it is empty."""
        live = self.live[price] - 1
        if live:
            self.live[price] = live
            return
        del self.levels[price]
        del self.live[price]
        keys = self.keys
        i = bisect.bisect_left(keys, self.key(price))
        del keys[i]

    def best_price(self) -> int | None:
        if not self.keys:
            return None
        k = self.keys[0]
        return -k if self.side == SIDE_BUY else k

    def prices(self) -> Iterator[int]:
        """Level prices in priority order (do not modify the side while iterating)."""
        if self.side == SIDE_BUY:
            return (-k for k in self.keys)
        return iter(self.keys)


class OrderBook:
    """The resting orders of one market.

    Invariant (checked by :meth:`add`): the book is never crossed, that is the best
    bid is strictly below the best ask. Matching happens before an order rests.
    """

    def __init__(self, market: int = 0) -> None:
        self.market = market
        self._sides = (_Side(SIDE_BUY), _Side(SIDE_SELL))
        self._orders: dict[Hashable, RestingOrder] = {}
        self._arrival = 0

    # -- queries -----------------------------------------------------------

    def __len__(self) -> int:
        return len(self._orders)

    def __contains__(self, ref: object) -> bool:
        return ref in self._orders

    def get(self, ref: Hashable) -> RestingOrder | None:
        """The resting order ``ref``, or None."""
        return self._orders.get(ref)

    def best_price(self, side: int) -> int | None:
        """Best price of ``side`` (highest bid, lowest ask), or None if that side is empty."""
        return self._side(side).best_price()

    def best(self, side: int) -> RestingOrder | None:
        """The order first in priority on ``side``, or None."""
        s = self._side(side)
        price = s.best_price()
        if price is None:
            return None
        level = s.levels[price]
        orders = self._orders
        while True:
            head = level[0]
            if orders.get(head.ref) is head:
                return head
            level.popleft()  # a cancelled order reached the front: drop it now

    def walk(self, side: int) -> Iterator[RestingOrder]:
        """Live orders of ``side`` in priority order, lazily (O(1) per order yielded).

        The book must not change while the walk runs.
        """
        s = self._side(side)
        orders = self._orders
        for price in s.prices():
            for order in s.levels[price]:
                if orders.get(order.ref) is order:
                    yield order

    def is_crossed(self) -> bool:
        """True iff the best bid is at or above the best ask."""
        bid = self.best_price(SIDE_BUY)
        ask = self.best_price(SIDE_SELL)
        return bid is not None and ask is not None and bid >= ask

    def would_cross(self, side: int, price: int) -> bool:
        """True iff an order of ``side`` at ``price`` would trade against the book now."""
        other = self.best_price(opposite(side))
        if other is None:
            return False
        return price >= other if side == SIDE_BUY else price <= other

    def orders(self, side: int) -> list[RestingOrder]:
        """The live orders of ``side`` in priority order (O(n log n); for tests and saving)."""
        live = [o for o in self._orders.values() if o.side == side]
        if side == SIDE_BUY:
            live.sort(key=lambda o: (-o.price, o.arrival))
        else:
            live.sort(key=lambda o: (o.price, o.arrival))
        return live

    def depth(self, side: int) -> list[tuple[int, int]]:
        """Aggregated ``(price, total remaining)`` levels of ``side`` in priority order."""
        out: list[tuple[int, int]] = []
        for order in self.orders(side):
            if out and out[-1][0] == order.price:
                out[-1] = (order.price, out[-1][1] + order.remaining)
            else:
                out.append((order.price, order.remaining))
        return out

    def __iter__(self) -> Iterator[RestingOrder]:
        """Every live order: bids in priority order, then asks."""
        yield from self.orders(SIDE_BUY)
        yield from self.orders(SIDE_SELL)

    # -- updates -----------------------------------------------------------

    def add(
        self,
        ref: Hashable,
        side: int,
        price: int,
        size: int,
        *,
        seq: int = 0,
        filled: int = 0,
        account: int = -1,
    ) -> RestingOrder:
        """Rest an order (its unfilled part ``size - filled``) at the back of its level.

        Raises :class:`ProtocolError` if ``ref`` already rests, the numbers are not
        positive, or the order would cross the book (match it first).
        """
        if side not in (SIDE_BUY, SIDE_SELL):
            raise ProtocolError(f"side must be 0 (buy) or 1 (sell), got {side!r}")
        if price <= 0 or size <= 0 or not 0 <= filled < size:
            raise ProtocolError(
                f"resting order needs price > 0 and 0 <= filled < size "
                f"(price {price}, size {size}, filled {filled})"
            )
        orders = self._orders
        if ref in orders:
            raise ProtocolError(f"order {ref} already rests in the book of market {self.market}")
        other_keys = self._sides[1 - side].keys
        if other_keys and (price >= other_keys[0] if side == SIDE_BUY else price <= -other_keys[0]):
            raise ProtocolError(
                f"order {ref} at {price} would cross the book of market {self.market}"
            )
        order = RestingOrder(ref, side, price, size, size - filled, seq, self._arrival, account)
        self._arrival += 1
        orders[ref] = order
        self._sides[side].push(order)
        return order

    def remove(self, ref: Hashable) -> RestingOrder | None:
        """Take ``ref`` out of the book (cancel); returns it, or None if it was not resting."""
        order = self._orders.pop(ref, None)
        if order is None:
            return None
        self._sides[order.side].release(order.price)
        return order

    def fill(self, ref: Hashable, qty: int) -> RestingOrder:
        """Record a fill of ``qty`` lots against resting order ``ref``; a filled order leaves."""
        order = self._orders.get(ref)
        if order is None:
            raise ProtocolError(f"order {ref} does not rest in the book of market {self.market}")
        if not 1 <= qty <= order.remaining:
            raise ProtocolError(
                f"fill of {qty} lots does not fit order {ref} ({order.remaining} remaining)"
            )
        order.remaining -= qty
        if order.remaining == 0:
            self.remove(ref)
        return order

    def take(self, side: int, price: int, qty: int) -> tuple[list[BookFill], int]:
        """Pure matching of an incoming order against the book, no margin or self-trade rules.

        Fills at each resting order's price, best first, until ``qty`` is used or the
        prices stop crossing. Returns the fills and the unfilled remainder (which the
        caller may rest with :meth:`add`). Used by the throughput benchmark and as the
        reference the engine's richer loop is tested against.
        """
        fills: list[BookFill] = []
        if side not in (SIDE_BUY, SIDE_SELL):
            raise ProtocolError(f"side must be 0 (buy) or 1 (sell), got {side!r}")
        s = self._sides[opposite(side)]
        keys, levels, orders = s.keys, s.levels, self._orders
        buying = side == SIDE_BUY
        while qty > 0 and keys:
            best = keys[0] if buying else -keys[0]
            if (best > price) if buying else (best < price):
                break
            level = levels[best]
            head = level[0]
            if orders.get(head.ref) is not head:
                level.popleft()
                continue
            q = head.remaining if head.remaining < qty else qty
            fills.append(BookFill(head.ref, best, q))
            qty -= q
            head.remaining -= q
            if head.remaining == 0:
                level.popleft()
                del orders[head.ref]
                s.release(best)
        return fills, qty

    def _side(self, side: int) -> _Side:
        if side not in (SIDE_BUY, SIDE_SELL):
            raise ProtocolError(f"side must be 0 (buy) or 1 (sell), got {side!r}")
        return self._sides[side]


def opposite(side: int) -> int:
    """The other side."""
    return SIDE_SELL if side == SIDE_BUY else SIDE_BUY


def crosses(side: int, price: int, resting_price: int) -> bool:
    """True iff an incoming ``side`` order at ``price`` trades with a resting one at
    ``resting_price``."""
    return price >= resting_price if side == SIDE_BUY else price <= resting_price
