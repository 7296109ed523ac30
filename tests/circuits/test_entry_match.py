"""EntryMatch (one taker against the committed book) against prover/exchange/matching.py,
on small sides (4 bits: one level below a cap of 4; the full-side rule is reachable).

Honest takers from random flows (stale orders, self-trades, margin failures on either
side, every time in force, the sweep limit, a full side) must give the model's steps,
quantities, removals, remainder and both sides after. Tamper tests build the witness a
cheating operator would (the claims changed, every opening and root recomputed from the
book that results, the facts as the state would prove them) and assert that only the
rule's own constraints reject it, on ``--O0`` builds.
"""

from __future__ import annotations

import random

import pytest

from prover.exchange.booktree import BookSide, book_ref, order_rank
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import make_seq
from prover.exchange.matching import Match, Outcome, StepKind, Taker, match
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count
from tests.exchange.test_matching import View

BITS = 4
CAP = 1
LOWER = BITS // 2 - CAP
F = 3
P = 21888242871839275222246405745257298275088548364400416034343698204186575808495617


@pytest.fixture(scope="module")
def circuit():
    return compile_main("lib/EntryMatch.circom", f"EntryMatch({F}, {LOWER}, {CAP})")


@pytest.fixture(scope="module")
def circuit0():
    return compile_main("lib/EntryMatch.circom", f"EntryMatch({F}, {LOWER}, {CAP})", optimize=0)


@pytest.mark.slow  # a production-size compile; the cost target (docs/circuits.md)
@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_count_at_the_production_size():
    # 2^16 orders per side (six levels below a cap of 16), two steps per taker.
    expect_count(compile_main("lib/EntryMatch.circom", "EntryMatch(2, 6, 2)"), 18202)


#: What a step's kind decides (checks (2) and (3)): its quantity, the quantity weighed,
#: its removal and its cancel.
KIND_RULES = (
    "main.stepQty",
    "main.expectQty",
    "main.stepTryQty",
    "main.expectTry",
    "main.stepPop",
    "main.expectPop",
    "main.stepCancel",
    "main.expectCancel",
)


def _sides() -> dict[int, BookSide]:
    return {s: BookSide(s, bits=BITS, cap_levels=CAP) for s in (SIDE_BUY, SIDE_SELL)}


def _check_honest(circuit, m: Match, own: BookSide, opp: BookSide) -> None:
    w = circuit.witness(m.circuit_inputs(F))
    assert w.ok, (m.outcome, w.failing())
    for prefix, after in (("own", own.header()), ("opp", opp.header())):
        assert [w[f"{prefix}CapAfter[{i}]"] for i in range(len(after.cap))] == list(after.cap)
        assert w[f"{prefix}HeadPtrAfter"] == after.head_ptr
        assert w[f"{prefix}HeadRankAfter"] == after.head_rank
        assert w[f"{prefix}FreePtrAfter"] == after.free_ptr
    assert w["ownFrontierAfter"] == own.header().frontier
    assert w["remaining"] == (0 if m.outcome == Outcome.FILLED else m.remaining)
    assert w["filled"] == m.filled
    for i, step in enumerate(m.steps):
        assert w[f"stepFill[{i}]"] == (step.kind == StepKind.FILL)


def _flow(circuit, seed: int) -> set[Outcome]:
    rng = random.Random(seed)
    sides = _sides()
    view = View(0.15)
    outcomes = set()
    for n in range(40):
        account = rng.randrange(2, 6)
        taker = Taker(
            account,
            n + 1,
            rng.choice([SIDE_BUY, SIDE_SELL]),
            rng.choice([98, 99, 100, 101, 102]),
            rng.randrange(1, 6),
            rng.choice([TIF_GTC, TIF_GTC, TIF_GTC, TIF_IOC, TIF_POST_ONLY]),
            make_seq(1 + n // 7, n % 7),
        )
        live = [r for r, left in view.remaining_by_ref.items() if left is not None]
        if live and rng.random() < 0.2:
            view.remaining_by_ref[rng.choice(live)] = None
        own, opp = sides[taker.side], sides[1 - taker.side]
        m = match(own, opp, taker, view, F)
        _check_honest(circuit, m, own, opp)
        outcomes.add(m.outcome)
        if m.outcome == Outcome.RESTED:
            view.remaining_by_ref[taker.ref] = m.remaining
    return outcomes


@pytest.mark.parametrize("seeds", [
    range(2),
    pytest.param(range(2, 8), marks=pytest.mark.slow),  # more flows, `-m slow`
])
def test_random_flows_match_the_model(circuit, seeds):
    seen: set[Outcome] = set()
    for seed in seeds:
        seen |= _flow(circuit, seed)
    # A full side is rare in these flows: test_full_side_drops_the_remainder has it.
    assert seen | {Outcome.BOOK_FULL} == set(Outcome), set(Outcome) - seen


def test_disabled_entry_changes_nothing_whatever_its_fields(circuit):
    sides = _sides()
    view = View(0.0)
    for i in range(3):
        _rest(view, sides[SIDE_SELL], 2 + i, 1, 100 + i, 2, make_seq(1, i))
    # A taker that would trade, sent as a no-op: nothing acts, nothing rests.
    m = match(
        sides[SIDE_BUY].copy(),
        sides[SIDE_SELL].copy(),
        Taker(7, 1, SIDE_BUY, 101, 3, TIF_GTC, make_seq(2, 0)),
        view,
        F,
    )
    inputs = _idle(m)
    for name in ("takerAccount", "takerOrderId", "takerSide", "takerPrice", "takerSize"):
        inputs[name] = P - 1
    inputs.update({"takerTif": 7, "takerSeq": P - 5})
    w = circuit.witness({**inputs, "enabled": 0})
    assert w.ok, w.failing()
    assert w["oppHeadPtrAfter"] == sides[SIDE_SELL].head_ptr
    assert w["ownFrontierAfter"] == 0 and w["filled"] == 0


def _idle(m: Match) -> dict:
    """The inputs of ``m``'s taker with no step and nothing resting."""
    empty = Match(m.taker, m.own_before, m.opp_before, m.depth)
    return empty.circuit_inputs(F)


def _rest(view, side: BookSide, account: int, oid: int, price: int, size: int, seq: int) -> int:
    ref = book_ref(account, oid)
    side.insert(order_rank(side.side, price, seq), ref)
    view.remaining_by_ref[ref] = size
    return ref


class FixedView(View):
    """Margin facts by ref: the refs in ``maker_fails`` fail as makers, every fill of a
    taker in ``taker_fails`` fails for the taker."""

    def __init__(self, maker_fails=(), taker_fails=()) -> None:
        super().__init__(0.0)
        self.maker_fails = set(maker_fails)
        self.taker_fails = bool(taker_fails)

    def margin_ok(self, ref, qty, price):
        return ref not in self.maker_fails, not self.taker_fails


def _asks(view, sizes_prices: list[tuple[int, int]], first_account: int = 2) -> BookSide:
    asks = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    for i, (size, price) in enumerate(sizes_prices):
        _rest(view, asks, first_account + i, 1, price, size, make_seq(1, i))
    return asks


def _buy(size: int, price: int = 105, tif: int = TIF_IOC, account: int = 9) -> Taker:
    return Taker(account, 1, SIDE_BUY, price, size, tif, make_seq(2, 0))


def _bids() -> BookSide:
    return BookSide(SIDE_BUY, bits=BITS, cap_levels=CAP)


def test_taker_cannot_stop_while_the_book_crosses(circuit0):
    """Three asks of 1 that all cross; the operator stops the taker after one fill."""
    view = View(0.0)
    asks = _asks(view, [(1, 100), (1, 101), (1, 102)])
    cheat = match(_bids(), asks, _buy(3), view, 1)  # what a one-step taker does
    assert cheat.outcome == Outcome.SWEEP_LIMIT
    circuit0.witness(cheat.circuit_inputs(F)).assert_rejected_only_by(
        "main.stepAct", "main.expectAct"
    )


def test_taker_cannot_step_on_a_head_that_does_not_cross(circuit0):
    view = View(0.0)
    asks = _asks(view, [(1, 100), (1, 104)])
    # The operator fills the buy at 101 against the 104 ask too (a real opening).
    cheat_view = View(0.0)
    cheat_view.remaining_by_ref = dict(view.remaining_by_ref)
    cheat = match(_bids(), asks.copy(), _buy(2, price=104), cheat_view, F)
    assert cheat.filled == 2
    inputs = cheat.circuit_inputs(F)
    inputs["takerPrice"] = 101
    circuit0.witness(inputs).assert_rejected_only_by("main.stepAct", "main.expectAct")


def test_fill_cannot_be_split_below_the_rule_quantity(circuit0):
    """One ask of 5; a buy of 3 must fill 3 at once, not 2 then 1 (fees are floored per
    fill, so splitting could change them)."""
    view = View(0.0)
    asks = _asks(view, [(5, 100)])
    honest = match(_bids(), asks.copy(), _buy(3), view, F)
    first = honest.steps[0]
    inputs = honest.circuit_inputs(F)
    # Step 0 fills 2 (the head stays), step 1 fills 1 from the same head (unchanged tree).
    for name, values in (
        ("stepAct", [1, 1, 0]),
        ("stepPop", [0, 0, 0]),
        ("stepQty", [2, 1, 0]),
        ("stepTryQty", [3, 1, 0]),
        ("stepCancel", [0, 0, 0]),
        ("stepMakerAccount", [inputs["stepMakerAccount"][0]] * 2 + [0]),
        ("stepMakerOrderId", [inputs["stepMakerOrderId"][0]] * 2 + [0]),
        ("makerRank", [inputs["makerRank"][0]] * 2 + [0]),
        ("makerLive", [1, 1, 0]),
        ("makerLeft", [5, 3, 0]),
        ("makerMarginOk", [1, 1, 0]),
        ("takerMarginOk", [1, 1, 0]),
        ("stepLeafRef", [first.book.leaf.ref] * 2 + [0]),
        ("stepLeafNextPtr", [first.book.leaf.next_ptr] * 2 + [0]),
        ("stepLeafNextRank", [first.book.leaf.next_rank] * 2 + [0]),
    ):
        inputs[name] = values
    inputs["stepSiblings"] = [inputs["stepSiblings"][0]] * 2 + [inputs["stepSiblings"][2]]
    circuit0.witness(inputs).assert_rejected_only_by("main.stepQty", "main.expectQty")


def test_filled_out_maker_cannot_stay_to_be_matched_twice(circuit0):
    view = View(0.0)
    asks = _asks(view, [(2, 100), (2, 101)])
    honest = match(_bids(), asks.copy(), _buy(2), view, F)
    assert honest.steps[0].book.pop
    inputs = honest.circuit_inputs(F)
    inputs["stepPop"] = [0, 0, 0]
    circuit0.witness(inputs).assert_rejected_only_by("main.stepPop", "main.expectPop")


def test_stale_head_is_removed_not_kept_or_filled(circuit0):
    view = View(0.0)
    asks = _asks(view, [(2, 100), (2, 101)])
    stale = asks.best()[1]
    view.remaining_by_ref[stale.ref] = None  # cancelled in its slot
    honest = match(_bids(), asks.copy(), _buy(2), view, F)
    assert [s.kind for s in honest.steps] == [StepKind.STALE, StepKind.FILL]
    # Keep the stale order at the head: every step meets it again and keeps it, and the
    # taker ends at the sweep limit (so the fill behind it never happens).
    kept = honest.circuit_inputs(F)
    opening = honest.steps[0].book
    kept.update(
        {
            "stepAct": [1] * F,
            "stepPop": [0] * F,
            "stepQty": [0] * F,
            "stepCancel": [0] * F,
            "stepTryQty": [0] * F,
            "stepMakerAccount": [stale.ref >> 64] * F,
            "stepMakerOrderId": [stale.ref % (1 << 64)] * F,
            "makerRank": [0] * F,
            "makerLive": [0] * F,
            "makerLeft": [0] * F,
            "makerMarginOk": [0] * F,
            "takerMarginOk": [0] * F,
            "stepLeafRef": [stale.ref] * F,
            "stepLeafNextPtr": [stale.next_ptr] * F,
            "stepLeafNextRank": [stale.next_rank] * F,
            "stepSiblings": [[list(lv) for lv in opening.siblings]] * F,
        }
    )
    circuit0.witness(kept).assert_rejected_only_by("main.stepPop", "main.expectPop")


def test_post_only_taker_cannot_trade(circuit0):
    view = View(0.0)
    asks = _asks(view, [(5, 100)])
    traded = match(_bids(), asks.copy(), _buy(3, tif=TIF_GTC), view, F)
    assert traded.filled == 3 and not traded.steps[0].book.pop
    inputs = traded.circuit_inputs(F)
    inputs["takerTif"] = TIF_POST_ONLY
    inputs["stepTryQty"] = [0] * F  # no margin facts needed for a rejection
    circuit0.witness(inputs).assert_rejected_only_by("main.stepQty", "main.expectQty")


def test_self_trade_cancels_the_resting_order_instead_of_filling(circuit0):
    view = View(0.0)
    asks = _asks(view, [(5, 100)], first_account=9)  # the taker's own ask
    cross_account = match(_bids(), asks.copy(), _buy(3, account=8), view, F)
    assert cross_account.filled == 3
    inputs = cross_account.circuit_inputs(F)
    inputs["takerAccount"] = 9
    circuit0.witness(inputs).assert_rejected_only_by(*KIND_RULES)


def test_maker_failing_margin_is_cancelled_not_filled(circuit0):
    view = View(0.0)
    asks = _asks(view, [(5, 100), (5, 101)])
    honest = match(_bids(), asks.copy(), _buy(3), view, F)
    inputs = honest.circuit_inputs(F)
    inputs["makerMarginOk"] = [0, 0, 0]  # the state proves the maker would fail
    circuit0.witness(inputs).assert_rejected_only_by(*KIND_RULES)


def test_taker_failing_margin_stops(circuit0):
    view = View(0.0)
    asks = _asks(view, [(5, 100)])
    honest = match(_bids(), asks.copy(), _buy(3), view, F)
    inputs = honest.circuit_inputs(F)
    inputs["takerMarginOk"] = [0, 0, 0]
    circuit0.witness(inputs).assert_rejected_only_by("main.stepQty", "main.expectQty")


def test_gtc_remainder_must_rest(circuit0):
    view = View(0.0)
    asks = _asks(view, [(1, 100), (1, 104)])
    honest = match(_bids(), asks.copy(), _buy(3, price=101, tif=TIF_GTC), view, F)
    assert honest.outcome == Outcome.RESTED
    dropped = Match(
        honest.taker, honest.own_before, honest.opp_before, honest.depth, steps=honest.steps
    )
    circuit0.witness(dropped.circuit_inputs(F)).assert_rejected_only_by(
        "main.rest", "main.expectRest"
    )


def test_remainder_cannot_rest_while_the_book_still_crosses(circuit0):
    """A GTC buy that hit the sweep limit with a crossing ask left: resting it would
    leave a crossed book."""
    view = View(0.0)
    asks = _asks(view, [(1, 100), (1, 101), (1, 102), (1, 103)])
    bids = _bids()
    honest = match(bids, asks.copy(), _buy(5, tif=TIF_GTC), view, F)
    assert honest.outcome == Outcome.SWEEP_LIMIT
    crossed = Match(
        honest.taker,
        honest.own_before,
        honest.opp_before,
        honest.depth,
        steps=honest.steps,
        insert=bids.copy().insert(honest.taker.rank, honest.taker.ref),
    )
    circuit0.witness(crossed.circuit_inputs(F)).assert_rejected_only_by(
        "main.rest", "main.expectRest"
    )


def test_ioc_remainder_cannot_rest(circuit0):
    view = View(0.0)
    asks = _asks(view, [(1, 100)])
    bids = _bids()
    honest = match(bids, asks.copy(), _buy(3, price=101, tif=TIF_IOC), view, F)
    assert honest.outcome == Outcome.DROPPED
    rested = Match(
        honest.taker,
        honest.own_before,
        honest.opp_before,
        honest.depth,
        steps=honest.steps,
        insert=bids.copy().insert(honest.taker.rank, honest.taker.ref),
    )
    circuit0.witness(rested.circuit_inputs(F)).assert_rejected_only_by(
        "main.rest", "main.expectRest"
    )


def test_fill_against_a_maker_that_is_not_the_best(circuit0):
    view = View(0.0)
    asks = _asks(view, [(1, 100), (1, 101)])
    honest = match(_bids(), asks.copy(), _buy(1), view, F)
    inputs = honest.circuit_inputs(F)
    # Open the second-best ask at the head pointer (its fields, the head's path).
    second = asks.leaf([i for i, _ in asks.walk()][1])
    inputs["stepLeafRef"] = [second.ref, 0, 0]
    inputs["stepLeafNextPtr"] = [second.next_ptr, 0, 0]
    inputs["stepLeafNextRank"] = [second.next_rank, 0, 0]
    inputs["stepMakerAccount"] = [second.ref >> 64, 0, 0]
    inputs["stepMakerOrderId"] = [second.ref % (1 << 64), 0, 0]
    inputs["makerRank"] = [second.rank, 0, 0]
    # The head pointer's opening fails, and so does the rank: the second order's slot
    # gives its own rank, not the head's.
    circuit0.witness(inputs).assert_rejected_only_by("main.pop[0].write", "main.makerRank")


def test_later_order_at_the_same_price_rests_behind(circuit):
    view = View(0.0)
    bids = _bids()
    _rest(view, bids, 3, 1, 100, 2, make_seq(1, 0))
    asks = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    m = match(bids, asks, _buy(2, price=100, tif=TIF_GTC), view, F)
    assert m.outcome == Outcome.RESTED and m.insert is not None and m.insert.pred_ptr != 0
    _check_honest(circuit, m, bids, asks)


def test_full_side_drops_the_remainder(circuit):
    view = View(0.0)
    bids = _bids()
    for i in range(1 << BITS):
        _rest(view, bids, 2 + i, 1, 50, 1, make_seq(1, i))
    asks = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    m = match(bids, asks, _buy(2, price=60, tif=TIF_GTC), view, F)
    assert m.outcome == Outcome.BOOK_FULL
    _check_honest(circuit, m, bids, asks)


def test_head_one_tick_past_the_limit_does_not_cross(circuit):
    """An ask one tick above a buy's price, at the smallest seq (0): its rank is the
    crossing limit itself, the first rank that does not cross."""
    view = View(0.0)
    asks = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    _rest(view, asks, 2, 1, 101, 2, 0)
    bids = _bids()
    m = match(bids, asks, _buy(2, price=100, tif=TIF_GTC), view, F)
    assert m.outcome == Outcome.RESTED and not m.steps
    _check_honest(circuit, m, bids, asks)
    # One tick lower it crosses.
    asks2 = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    _rest(view, asks2, 3, 1, 100, 2, 0)
    bids2 = _bids()
    m2 = match(bids2, asks2, _buy(2, price=100, tif=TIF_GTC), view, F)
    assert m2.filled == 2
    _check_honest(circuit, m2, bids2, asks2)


def test_enabled_flag_is_a_bit(circuit0):
    """enabled = 2 on an IOC taker facing an empty side: nothing else notices."""
    sides = _sides()
    m = match(sides[SIDE_BUY], sides[SIDE_SELL], _buy(2), View(0.0), F)
    assert m.outcome == Outcome.DROPPED
    inputs = m.circuit_inputs(F)
    inputs["enabled"] = 2
    circuit0.witness(inputs).assert_rejected_only_by("main.enabled")


CLAIMS = (
    ("stepAct", "expectAct"),
    ("stepPop", "expectPop"),
    ("stepQty", "expectQty"),
    ("stepCancel", "expectCancel"),
    ("stepTryQty", "expectTry"),
)


def _follow_the_rules(circuit, inputs: dict) -> dict:
    """Set every claim to what the rules give on these inputs (repeated until stable: a
    claim feeds the next step's state): the cheater's claims for its chosen facts."""
    for _ in range(2 * F + 2):
        w = circuit.witness(inputs)
        changed = False
        for claim, expect in CLAIMS:
            values = [w[f"{expect}[{s}]"] for s in range(F)]
            if values != [int(v) % P for v in inputs[claim]]:
                inputs[claim], changed = values, True
        if w["expectRest"] != int(inputs["rest"]):
            inputs["rest"], changed = w["expectRest"], True
        if not changed:
            return inputs
    raise AssertionError("the claims do not settle")


@pytest.mark.parametrize("fact", ["makerLive", "makerMarginOk", "takerMarginOk"])
def test_facts_are_bits(circuit0, fact):
    """A fact of 2: the rules would then fill a different quantity (twice the taker's
    remainder at the last step). With every claim following those rules, only the
    fact's booleanity objects."""
    view = View(0.0)
    # The last step is a partial fill of a large ask (elsewhere a non-bit taker fact
    # would also break a later step's flags).
    asks = _asks(view, [(1, 100), (1, 101), (50, 102)])
    honest = match(_bids(), asks.copy(), _buy(10), view, F)
    assert [s.qty for s in honest.steps] == [1, 1, 8]
    inputs = honest.circuit_inputs(F)
    step = F - 1 if fact == "takerMarginOk" else 0
    inputs[fact] = [2 if s == step else v for s, v in enumerate(inputs[fact])]
    cheat = _follow_the_rules(circuit0, inputs)
    assert cheat["stepQty"] != [1, 1, 8]
    circuit0.witness(cheat).assert_rejected_only_by(f"main.{fact}")


@pytest.mark.parametrize("claim", ["stepMakerAccount", "stepMakerOrderId"])
def test_maker_claims_are_the_heads_ref(circuit0, claim):
    view = View(0.0)
    asks = _asks(view, [(2, 100)])
    inputs = match(_bids(), asks.copy(), _buy(1), view, F).circuit_inputs(F)
    inputs[claim] = [inputs[claim][0] + 1, 0, 0]  # another order (whose slot the batch opens)
    circuit0.witness(inputs).assert_rejected_only_by(f"main.{claim}")


def test_live_head_is_at_its_orders_rank(circuit0):
    view = View(0.0)
    asks = _asks(view, [(2, 100)])
    inputs = match(_bids(), asks.copy(), _buy(1), view, F).circuit_inputs(F)
    inputs["makerRank"] = [order_rank(SIDE_SELL, 99, make_seq(1, 0)), 0, 0]
    circuit0.witness(inputs).assert_rejected_only_by("main.makerRank")


def test_cancel_claim_is_the_rules(circuit0):
    """A self-trade whose claim does not cancel the resting order (its slot would stay
    open in the batch's state)."""
    view = View(0.0)
    asks = _asks(view, [(5, 100)], first_account=9)
    m = match(_bids(), asks.copy(), _buy(3, account=9), view, F)
    assert m.steps[0].kind == StepKind.SELF_TRADE
    inputs = m.circuit_inputs(F)
    inputs["stepCancel"] = [0] * F
    circuit0.witness(inputs).assert_rejected_only_by("main.stepCancel", "main.expectCancel")


def test_weighed_quantity_is_the_fill(circuit0):
    """The margin facts weighed for a smaller fill than the one made."""
    view = View(0.0)
    asks = _asks(view, [(5, 100)])
    inputs = match(_bids(), asks.copy(), _buy(3), view, F).circuit_inputs(F)
    inputs["stepTryQty"] = [1, 0, 0]
    circuit0.witness(inputs).assert_rejected_only_by("main.stepTryQty", "main.expectTry")
