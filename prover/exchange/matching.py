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
    BookHeader,
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
    # The two looks at the head that end a taker (``Match.stop``, not in ``Match.steps``):
    REJECT = "post-only-reject"  # a post-only taker met an order it would trade with
    TAKER_MARGIN = "taker-margin"  # the fill would break the taker's margin


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
    """One step on the opposite head, with the book witness the circuit checks and the
    facts of the state it was decided on (what the batch proves of the maker's slot and
    of the margin rule; ``left`` is ``None`` for a stale order, the margin facts are
    ``False`` where no fill was weighed)."""

    kind: StepKind
    maker: int  # the head's ref
    qty: int
    price: int
    book: PopStep
    left: int | None = None
    maker_ok: bool = False
    taker_ok: bool = False
    tried: int = 0  # the quantity the margin facts were weighed for (0: none weighed)


@dataclass(slots=True)
class Match:
    """Everything one taker did.

    ``stop`` is the look at the head that ended the taker on a rule (a post-only order
    meeting a trade, or the taker's margin): the circuit spends a step slot on it (it
    opens the head to learn its maker) though the book does not change.
    ``own_before`` and ``opp_before`` are the two sides' headers before the taker.
    """

    taker: Taker
    own_before: BookHeader
    opp_before: BookHeader
    depth: int  # tree levels below the cap (each opening's length)
    steps: list[Step] = field(default_factory=list)
    outcome: Outcome = Outcome.FILLED
    remaining: int = 0
    insert: InsertStep | None = None
    stop: Step | None = None

    @property
    def filled(self) -> int:
        return sum(step.qty for step in self.steps if step.kind == StepKind.FILL)

    def circuit_inputs(self, slots: int, enabled: bool = True) -> dict[str, object]:
        """``EntryMatch(slots, ...)``'s inputs for this taker (``slots`` at least the
        steps taken, plus one for ``stop``)."""
        looks = self.steps + ([self.stop] if self.stop is not None else [])
        if len(looks) > slots:
            raise ProtocolError(f"{len(looks)} steps do not fit {slots} slots")
        t = self.taker
        out: dict[str, object] = {
            "enabled": int(enabled),
            "takerAccount": t.account,
            "takerOrderId": t.order_id,
            "takerSide": t.side,
            "takerPrice": t.price,
            "takerSize": t.size,
            "takerTif": t.tif,
            "takerSeq": t.seq,
            **_prefixed("own", self.own_before.circuit_inputs()),
            **_prefixed("opp", self.opp_before.circuit_inputs(frontier=False)),
        }
        depth = self.depth
        columns: dict[str, list[object]] = {
            name: []
            for name in (
                "stepAct",
                "stepPop",
                "stepQty",
                "stepCancel",
                "stepTryQty",
                "stepMakerAccount",
                "stepMakerOrderId",
                "stepLeafRef",
                "stepLeafNextPtr",
                "stepLeafNextRank",
                "stepSiblings",
                "makerLive",
                "makerLeft",
                "makerRank",
                "makerMarginOk",
                "takerMarginOk",
            )
        }
        for i in range(slots):
            look = looks[i] if i < len(looks) else None
            if look is None:
                row: dict[str, object] = {name: 0 for name in columns}
                row["stepSiblings"] = [[0, 0, 0]] * depth
            else:
                account, order_id = ref_parts(look.maker)
                live = look.left is not None
                row = {
                    "stepAct": 1,
                    "stepPop": int(look.book.pop),
                    "stepQty": look.qty,
                    "stepCancel": int(look.kind in _CANCELS),
                    "stepTryQty": look.tried,
                    "stepMakerAccount": account,
                    "stepMakerOrderId": order_id,
                    "stepLeafRef": look.book.leaf.ref,
                    "stepLeafNextPtr": look.book.leaf.next_ptr,
                    "stepLeafNextRank": look.book.leaf.next_rank,
                    "stepSiblings": [list(level) for level in look.book.siblings],
                    "makerLive": int(live),
                    "makerLeft": look.left or 0,
                    "makerRank": look.book.leaf.rank if live else 0,
                    "makerMarginOk": int(look.maker_ok),
                    "takerMarginOk": int(look.taker_ok),
                }
            for name in columns:
                columns[name].append(row[name])
        out.update(columns)
        out["rest"] = int(self.insert is not None)
        if self.insert is None:
            out.update(
                {
                    "insAtHead": 0,
                    "insAllocNextFree": 0,
                    "insAllocSiblings": [[0, 0, 0]] * depth,
                    "insPredPtr": 0,
                    "insPredRank": 0,
                    "insPredRef": 0,
                    "insPredNextPtr": 0,
                    "insPredNextRank": 0,
                    "insPredSiblings": [[0, 0, 0]] * depth,
                }
            )
        else:
            ins = self.insert.circuit_inputs()
            out.update(
                {
                    "insAtHead": ins["atHead"],
                    "insAllocNextFree": ins["allocNextFree"],
                    "insAllocSiblings": ins["allocSiblings"],
                    "insPredPtr": ins["predPtr"],
                    "insPredRank": ins["predRank"],
                    "insPredRef": ins["predRef"],
                    "insPredNextPtr": ins["predNextPtr"],
                    "insPredNextRank": ins["predNextRank"],
                    "insPredSiblings": ins["predSiblings"],
                }
            )
        return out


_CANCELS = (StepKind.SELF_TRADE, StepKind.MAKER_MARGIN)


def _prefixed(prefix: str, inputs: dict[str, object]) -> dict[str, object]:
    return {prefix + name[0].upper() + name[1:]: value for name, value in inputs.items()}


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
    result = Match(
        taker, own.header(), opposite.header(), opposite.lower_levels, remaining=taker.size
    )
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
            result.steps.append(Step(StepKind.SELF_TRADE, ref, 0, price, opposite.pop(), left))
            continue
        if taker.tif == TIF_POST_ONLY:  # it would trade: rejected
            result.stop = Step(StepKind.REJECT, ref, 0, price, opposite.touch(), left)
            result.outcome = Outcome.REJECTED
            return result
        qty = min(result.remaining, left)  # rule 4
        maker_ok, taker_ok = view.margin_ok(ref, qty, price)
        if not maker_ok:
            view.on_cancel(ref)
            result.steps.append(
                Step(
                    StepKind.MAKER_MARGIN, ref, 0, price, opposite.pop(), left, False, taker_ok, qty
                )
            )
            continue
        if not taker_ok:
            result.stop = Step(
                StepKind.TAKER_MARGIN, ref, 0, price, opposite.touch(), left, True, False, qty
            )
            result.outcome = Outcome.TAKER_MARGIN
            return result
        view.on_fill(ref, qty, price)
        book = opposite.pop() if qty == left else opposite.touch()
        result.steps.append(Step(StepKind.FILL, ref, qty, price, book, left, True, True, qty))
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
