"""One taker against the committed book, by the rules the batch will prove
(docs/book.md, "The matching rules").

:func:`match` is a function of the two book sides, the taker and what the state says of
each maker (a :class:`MakerView`): it leaves the operator no choice. Each step it takes is
one the circuit checks with ``BookPop`` (and each resting remainder one ``BookInsert``), and
it returns their witnesses with the outcome.

The view answers from the state: whether a maker's order is still in its slot and not
expired (else it is *stale*), its remaining size, and whether the margin rule holds for
each side of a fill of a given quantity. It is told of every fill and every removal, so a
later step of the same taker sees the state that step will see in the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from prover.errors import ProtocolError
from prover.exchange.booktree import (
    BookFullError,
    BookSide,
    InsertStep,
    PopStep,
    book_ref,
    crossing_limit,
    order_rank,
    rank_price,
    ref_parts,
)
from prover.exchange.constants import TIF_GTC, TIF_IOC, TIF_POST_ONLY


class StepKind(StrEnum):
    """What one step on the opposite head did."""

    FILL = "fill"
    STALE = "stale"  # cancelled, replaced or expired: removed, nothing traded
    SELF_TRADE = "self-trade"  # the taker's own resting order: cancelled
    MAKER_MARGIN = "maker-margin"  # the maker would fail the margin rule: its order cancelled


class Outcome(StrEnum):
    """How the taker's matching ended."""

    FILLED = "filled"  # nothing left
    RESTED = "rested"  # the GTC remainder is in its own side
    DROPPED = "dropped"  # an IOC remainder
    REJECTED = "rejected"  # a post-only order that would have traded: nothing happened
    BOOK_FULL = "book-full"  # a GTC remainder with no room in its side: dropped
    SWEEP_LIMIT = "sweep-limit"  # `max_steps` steps taken and the book still crosses
    TAKER_MARGIN = "taker-margin"  # the next fill would break the taker's margin: dropped


@dataclass(frozen=True, slots=True)
class Taker:
    """The order being matched (it entered at ``seq``)."""

    account: int
    order_id: int
    side: int
    price: int
    size: int
    tif: int
    seq: int

    @property
    def ref(self) -> int:
        return book_ref(self.account, self.order_id)

    @property
    def rank(self) -> int:
        return order_rank(self.side, self.price, self.seq)


class MakerView(Protocol):
    """What the state says of a resting order, for the steps of one taker."""

    def remaining(self, ref: int) -> int | None:
        """The order's unfilled size, or ``None`` when it is stale."""

    def margin_ok(self, ref: int, qty: int, price: int) -> tuple[bool, bool]:
        """``(maker passes, taker passes)`` the margin rule after this fill."""

    def on_fill(self, ref: int, qty: int, price: int) -> None:
        """A fill happened (the view updates slots, positions, collateral)."""

    def on_cancel(self, ref: int) -> None:
        """A resting order was cancelled by a rule (self-trade, maker margin)."""


@dataclass(frozen=True, slots=True)
class Step:
    """One step on the opposite head, with the book witness the circuit checks."""

    kind: StepKind
    maker: int  # the head's ref
    qty: int
    price: int
    book: PopStep


@dataclass(slots=True)
class Match:
    """Everything one taker did."""

    taker: Taker
    steps: list[Step] = field(default_factory=list)
    outcome: Outcome = Outcome.FILLED
    remaining: int = 0
    insert: InsertStep | None = None

    @property
    def filled(self) -> int:
        return sum(step.qty for step in self.steps if step.kind == StepKind.FILL)


def match(
    own: BookSide,
    opposite: BookSide,
    taker: Taker,
    view: MakerView,
    max_steps: int,
) -> Match:
    """Match ``taker`` against ``opposite`` and rest its remainder in ``own`` if it may.

    Mutates both sides (a post-only order that would trade leaves the sides as the steps
    before the rejection left them: removals of stale and self-trade heads stand).
    """
    if own.side != taker.side or opposite.side == taker.side:
        raise ProtocolError("the taker's side and the book sides do not agree")
    if taker.tif not in (TIF_GTC, TIF_IOC, TIF_POST_ONLY):
        raise ProtocolError(f"unknown time in force {taker.tif}")
    if max_steps < 1:
        raise ProtocolError("a taker needs at least one step")
    limit = crossing_limit(taker.side, taker.price)
    result = Match(taker, remaining=taker.size)
    while result.remaining > 0:
        # Rule 1: an empty side, or a head that does not cross, ends the matching.
        if opposite.head_ptr == 0 or opposite.head_rank >= limit:
            break
        if len(result.steps) == max_steps:  # rule 6
            result.outcome = Outcome.SWEEP_LIMIT
            return result
        head = opposite.best()
        assert head is not None
        ref = head[1].ref
        price = rank_price(opposite.side, head[1].rank)
        left = view.remaining(ref)
        if left is None:  # rule 2
            result.steps.append(Step(StepKind.STALE, ref, 0, price, opposite.pop()))
            continue
        if ref_parts(ref)[0] == taker.account:  # rule 3
            view.on_cancel(ref)
            result.steps.append(Step(StepKind.SELF_TRADE, ref, 0, price, opposite.pop()))
            continue
        if taker.tif == TIF_POST_ONLY:  # it would trade: rejected
            result.outcome = Outcome.REJECTED
            return result
        qty = min(result.remaining, left)  # rule 4
        maker_ok, taker_ok = view.margin_ok(ref, qty, price)
        if not maker_ok:
            view.on_cancel(ref)
            result.steps.append(Step(StepKind.MAKER_MARGIN, ref, 0, price, opposite.pop()))
            continue
        if not taker_ok:
            result.outcome = Outcome.TAKER_MARGIN
            return result
        view.on_fill(ref, qty, price)
        book = opposite.pop() if qty == left else opposite.touch()
        result.steps.append(Step(StepKind.FILL, ref, qty, price, book))
        result.remaining -= qty
    if result.remaining == 0:
        result.outcome = Outcome.FILLED
    elif taker.tif == TIF_IOC:
        result.outcome = Outcome.DROPPED
    else:  # GTC, or post-only that did not cross: rule 5 when the side is full
        try:
            result.insert = own.insert(taker.rank, taker.ref)
            result.outcome = Outcome.RESTED
        except BookFullError:
            result.outcome = Outcome.BOOK_FULL
    return result
