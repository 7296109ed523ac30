"""prover/exchange/matching.py against an independent reference.

The reference keeps each side as a plain Python list of dicts sorted by (better price,
earlier seq) and applies the rules of docs/book.md ("The matching rules") in the most
direct way; the matcher under test walks the committed book (linked list in a Merkle
tree). Random flows with stale orders (cancelled in their slot, or expired), self-trades,
margin failures on either side, every time in force, a small sweep limit and a small
(fillable) side must give the same steps, outcomes and books.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from prover.exchange.booktree import BookSide, book_ref, order_rank
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import make_seq
from prover.exchange.matching import Match, Outcome, StepKind, Taker, match

BITS = 4  # 16 orders per side: the full-side rule is reached in random flows
CAP = 1


class View:
    """Slots: ref -> remaining (None when stale); margin failures by a fixed hash."""

    def __init__(self, fail_rate: float) -> None:
        self.remaining_by_ref: dict[int, int | None] = {}
        self.fail_rate = fail_rate
        self.log: list[tuple] = []

    def _fails(self, *key: int) -> bool:
        digest = hashlib.sha256(repr(key).encode()).digest()
        return digest[0] < 256 * self.fail_rate

    def remaining(self, ref):
        return self.remaining_by_ref.get(ref)

    def margin_ok(self, ref, qty, price):
        return (not self._fails(0, ref, qty, price), not self._fails(1, ref, qty, price))

    def on_fill(self, ref, qty, price):
        self.remaining_by_ref[ref] -= qty
        self.log.append(("fill", ref, qty, price))

    def on_cancel(self, ref):
        self.remaining_by_ref[ref] = None
        self.log.append(("cancel", ref))


def _better(side: int, a: dict, b: dict) -> bool:
    if a["price"] != b["price"]:
        return a["price"] > b["price"] if side == SIDE_BUY else a["price"] < b["price"]
    return a["seq"] < b["seq"]


def reference_match(books: dict, view: View, taker: Taker, max_steps: int, capacity: int):
    """The rules, written directly on sorted lists. Returns (steps, outcome, remaining)."""
    opp = books[1 - taker.side]
    steps = []
    left = taker.size
    crosses = (
        (lambda p: p <= taker.price) if taker.side == SIDE_BUY else (lambda p: p >= taker.price)
    )
    while left > 0 and opp and crosses(opp[0]["price"]):
        if len(steps) == max_steps:
            return steps, Outcome.SWEEP_LIMIT, left
        head = opp[0]
        maker_left = view.remaining(head["ref"])
        if maker_left is None:
            opp.pop(0)
            steps.append((StepKind.STALE, head["ref"], 0, head["price"]))
        elif head["account"] == taker.account:
            view.on_cancel(head["ref"])
            opp.pop(0)
            steps.append((StepKind.SELF_TRADE, head["ref"], 0, head["price"]))
        elif taker.tif == TIF_POST_ONLY:
            return steps, Outcome.REJECTED, left
        else:
            qty = min(left, maker_left)
            maker_ok, taker_ok = view.margin_ok(head["ref"], qty, head["price"])
            if not maker_ok:
                view.on_cancel(head["ref"])
                opp.pop(0)
                steps.append((StepKind.MAKER_MARGIN, head["ref"], 0, head["price"]))
                continue
            if not taker_ok:
                return steps, Outcome.TAKER_MARGIN, left
            view.on_fill(head["ref"], qty, head["price"])
            if qty == maker_left:
                opp.pop(0)
            left -= qty
            steps.append((StepKind.FILL, head["ref"], qty, head["price"]))
    if left == 0:
        return steps, Outcome.FILLED, 0
    if taker.tif == TIF_IOC:
        return steps, Outcome.DROPPED, left
    own = books[taker.side]
    # Stale orders stay in their side until they reach the head (lazy removal), so they
    # count against the capacity as the committed book's leaves do.
    if len(own) >= capacity:
        return steps, Outcome.BOOK_FULL, left
    entry = {"price": taker.price, "seq": taker.seq, "ref": taker.ref, "account": taker.account}
    at = 0
    while at < len(own) and _better(taker.side, own[at], entry):
        at += 1
    own.insert(at, entry)
    return steps, Outcome.RESTED, left


def _steps(m: Match) -> list[tuple]:
    return [(s.kind, s.maker, s.qty, s.price) for s in m.steps]


def _book_list(book: BookSide) -> list[int]:
    return [leaf.ref for _, leaf in book.walk()]


def _flow(seed: int) -> set[Outcome]:
    """One random flow through matcher and reference, compared at every taker."""
    rng = random.Random(seed)
    sides = {s: BookSide(s, bits=BITS, cap_levels=CAP) for s in (SIDE_BUY, SIDE_SELL)}
    ref_books: dict[int, list] = {SIDE_BUY: [], SIDE_SELL: []}
    view, ref_view = View(0.15), View(0.15)
    max_steps = rng.choice([2, 3, 8])
    outcomes = set()
    for n in range(60):
        account = rng.randrange(2, 6)
        taker = Taker(
            account,
            n + 1,
            rng.choice([SIDE_BUY, SIDE_SELL]),
            rng.choice([98, 99, 100, 101, 102]),
            rng.randrange(1, 6),
            rng.choice([TIF_GTC, TIF_GTC, TIF_IOC, TIF_POST_ONLY]),
            make_seq(1 + n // 7, n % 7),
        )
        # Cancel or expire a random resting order now and then (its slot says so).
        live = [r for r, left in view.remaining_by_ref.items() if left is not None]
        if live and rng.random() < 0.2:
            victim = rng.choice(live)
            view.remaining_by_ref[victim] = ref_view.remaining_by_ref[victim] = None
        got = match(sides[taker.side], sides[1 - taker.side], taker, view, max_steps)
        want_steps, want_outcome, want_left = reference_match(
            ref_books, ref_view, taker, max_steps, 1 << BITS
        )
        assert _steps(got) == want_steps, n
        assert (got.outcome, got.remaining) == (want_outcome, want_left), n
        outcomes.add(got.outcome)
        if got.outcome == Outcome.RESTED:
            view.remaining_by_ref[taker.ref] = ref_view.remaining_by_ref[taker.ref] = got.remaining
        for s in (SIDE_BUY, SIDE_SELL):
            assert _book_list(sides[s]) == [o["ref"] for o in ref_books[s]], (n, s)
        assert view.log == ref_view.log
    return outcomes


@pytest.mark.parametrize("seed", range(12))
def test_random_flows_agree_with_the_reference(seed):
    assert {Outcome.RESTED, Outcome.FILLED} <= _flow(seed)


def test_random_flows_reach_every_outcome():
    seen: set[Outcome] = set()
    for seed in range(12):
        seen |= _flow(seed)
    assert seen == set(Outcome)


def _resting(view: View, side: BookSide, account: int, oid: int, price: int, size: int, seq: int):
    ref = book_ref(account, oid)
    side.insert(order_rank(side.side, price, seq), ref)
    view.remaining_by_ref[ref] = size
    return ref


def _pair():
    return (
        BookSide(SIDE_BUY, bits=BITS, cap_levels=CAP),
        BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP),
        View(0.0),
    )


def test_time_priority_at_one_price_then_price():
    bids, asks, view = _pair()
    first = _resting(view, asks, 2, 1, 100, 3, make_seq(1, 0))
    second = _resting(view, asks, 3, 1, 100, 3, make_seq(1, 1))
    better = _resting(view, asks, 4, 1, 99, 1, make_seq(1, 2))
    m = match(bids, asks, Taker(5, 1, SIDE_BUY, 100, 5, TIF_GTC, make_seq(2, 0)), view, 8)
    assert _steps(m) == [
        (StepKind.FILL, better, 1, 99),
        (StepKind.FILL, first, 3, 100),
        (StepKind.FILL, second, 1, 100),
    ]
    assert m.outcome == Outcome.FILLED and _book_list(asks) == [second]
    assert not m.steps[2].book.pop and m.steps[1].book.pop


def test_stale_and_self_trade_heads_are_removed_and_the_taker_goes_on():
    bids, asks, view = _pair()
    stale = _resting(view, asks, 2, 1, 99, 3, make_seq(1, 0))
    own = _resting(view, asks, 5, 7, 99, 3, make_seq(1, 1))
    maker = _resting(view, asks, 3, 1, 100, 3, make_seq(1, 2))
    view.remaining_by_ref[stale] = None
    m = match(bids, asks, Taker(5, 8, SIDE_BUY, 100, 2, TIF_GTC, make_seq(2, 0)), view, 8)
    assert [s.kind for s in m.steps] == [StepKind.STALE, StepKind.SELF_TRADE, StepKind.FILL]
    assert view.remaining_by_ref[own] is None
    assert _book_list(asks) == [maker] and m.outcome == Outcome.FILLED


def test_post_only_rests_unless_it_would_trade():
    bids, asks, view = _pair()
    stale = _resting(view, asks, 2, 1, 99, 3, make_seq(1, 0))
    view.remaining_by_ref[stale] = None
    m = match(bids, asks, Taker(5, 1, SIDE_BUY, 99, 2, TIF_POST_ONLY, make_seq(2, 0)), view, 8)
    assert m.outcome == Outcome.RESTED and _book_list(bids) == [book_ref(5, 1)]
    _resting(view, asks, 3, 1, 100, 3, make_seq(2, 1))
    m = match(bids, asks, Taker(6, 1, SIDE_BUY, 100, 2, TIF_POST_ONLY, make_seq(2, 2)), view, 8)
    assert m.outcome == Outcome.REJECTED and m.steps == [] and len(bids) == 1


def test_sweep_limit_drops_the_remainder():
    bids, asks, view = _pair()
    for i in range(3):
        _resting(view, asks, 2 + i, 1, 100 + i, 1, make_seq(1, i))
    m = match(bids, asks, Taker(9, 1, SIDE_BUY, 105, 5, TIF_GTC, make_seq(2, 0)), view, 2)
    assert m.outcome == Outcome.SWEEP_LIMIT and m.remaining == 3 and len(bids) == 0


def test_full_side_drops_a_gtc_remainder():
    bids, asks, view = _pair()
    for i in range(1 << BITS):
        _resting(view, bids, 2, i + 1, 50, 1, make_seq(1, i))
    m = match(bids, asks, Taker(3, 1, SIDE_BUY, 60, 1, TIF_GTC, make_seq(2, 0)), view, 8)
    assert m.outcome == Outcome.BOOK_FULL and m.insert is None


class _MarginView(View):
    def __init__(self, maker_fails: set, taker_fails: bool) -> None:
        super().__init__(0.0)
        self.maker_fails, self.taker_fails = maker_fails, taker_fails

    def margin_ok(self, ref, qty, price):
        return ref not in self.maker_fails, not self.taker_fails


def test_margin_failures():
    bids, asks = (
        BookSide(SIDE_BUY, bits=BITS, cap_levels=CAP),
        BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP),
    )
    weak = book_ref(2, 1)
    view = _MarginView({weak}, taker_fails=False)
    _resting(view, asks, 2, 1, 100, 3, make_seq(1, 0))
    good = _resting(view, asks, 3, 1, 100, 3, make_seq(1, 1))
    m = match(bids, asks, Taker(4, 1, SIDE_BUY, 100, 1, TIF_GTC, make_seq(2, 0)), view, 8)
    assert [s.kind for s in m.steps] == [StepKind.MAKER_MARGIN, StepKind.FILL]
    assert view.remaining_by_ref[weak] is None
    view.taker_fails = True
    m = match(bids, asks, Taker(5, 1, SIDE_BUY, 100, 1, TIF_GTC, make_seq(2, 1)), view, 8)
    assert m.outcome == Outcome.TAKER_MARGIN and m.steps == [] and _book_list(asks) == [good]
    assert len(bids) == 0
