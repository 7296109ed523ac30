"""EntryBook (one entry's matching on the batch's running state) against
prover/exchange/entrybook.RunningState: random flows of orders from a few accounts (one
thinly funded, so margin failures happen on both sides; the fee account trades too) on
small books (4 bits, a cap of 4), every entry's witness built from the state before it
and its outputs compared with the state after it: collateral, positions, order roots,
both sides, what the taker filled.
"""

from __future__ import annotations

import random

import pytest

from prover.crypto.eddsa import PrivateKey
from prover.exchange.booktree import Books
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import Account, Market, Order, OrderSlot, Position, make_seq
from prover.exchange.entrybook import AccountSlot, RunningState
from prover.exchange.matching import Outcome, StepKind
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count
from tests.circuits.scenario import MARKETS

F = 2
BITS = 4
CAP = 1
LOWER = BITS // 2 - CAP
K = 5
S = 2
M = 2
T = 5_000
MARKS = (1_000, 500)


@pytest.fixture(scope="module")
def circuit():
    return compile_main(
        "lib/EntryBook.circom", f"EntryBook({F}, {LOWER}, {CAP}, {K}, {S}, {M})"
    )


@pytest.mark.slow  # a production-size compile; the cost target (docs/circuits.md)
@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_count_at_the_production_size():
    # F = 2 steps, 2^16 orders per side, K = 4, S = 8, M = 2.
    expect_count(compile_main("lib/EntryBook.circom", "EntryBook(2, 6, 2, 4, 8, 2)"), 29671)


def _state(poor: int = 3_000) -> RunningState:
    key = PrivateKey.from_seed("entry-book").public_key
    collateral = [10**9, 0, 10**9, 10**9, poor]
    accounts = [
        AccountSlot(i, Account.new(key, c, M), S) for i, c in enumerate(collateral)
    ]
    return RunningState(accounts, Books(M, bits=BITS, cap_levels=CAP), MARKETS, MARKS, T, S)


def _check(circuit, state: RunningState, result) -> None:
    w = circuit.witness(result.circuit_inputs(F))
    assert w.ok, (result.match.outcome, w.failing())
    for k, slot in enumerate(state.accounts):
        assert w[f"collOut[{k}]"] == slot.account.collateral % circuit.r1cs.prime
        for m in range(M):
            assert w[f"posOut[{k}][{m}]"] == slot.account.positions[m].size % circuit.r1cs.prime
        assert w[f"ordersRootOut[{k}]"] == slot.orders_root
    for i, h in enumerate(state.headers()):
        assert [w[f"sideCapOut[{i}][{j}]"] for j in range(len(h.cap))] == list(h.cap)
        got = tuple(
            w[f"side{n}Out[{i}]"] for n in ("HeadPtr", "HeadRank", "FreePtr", "Frontier")
        )
        assert got == (h.head_ptr, h.head_rank, h.free_ptr, h.frontier)
    assert w["filled"] == result.match.filled


def _flow(circuit, seed: int) -> tuple[set, set]:
    rng = random.Random(seed)
    state = _state()
    outcomes, kinds = set(), set()
    next_id = 1
    for n in range(24):
        if n and n % 6 == 0:  # a new batch: later time, so some resting orders expire
            state.timestamp += 4
        k = rng.choice([0, 2, 3, 4, 4])
        market = rng.randrange(M)
        order = Order(
            k,
            market,
            rng.choice([SIDE_BUY, SIDE_SELL]),
            MARKETS[market].tick_size * rng.choice([98, 99, 100, 101, 102]),
            rng.randrange(1, 40),
            next_id,
            state.timestamp + rng.choice([1, 5, 50, 50]),
            1_000,
            rng.choice([TIF_GTC, TIF_GTC, TIF_IOC, TIF_POST_ONLY]),
        )
        next_id += 1
        result = state.enter(k, order, make_seq(1 + n // 6, n % 6), F)
        _check(circuit, state, result)
        outcomes.add(result.match.outcome)
        kinds |= {s.kind for s in result.match.steps}
        if result.match.stop:
            kinds.add(result.match.stop.kind)
        # Now and then a resting order is cancelled in its slot (a cancel's larger id).
        if rng.random() < 0.15:
            slot = state.accounts[rng.choice([2, 3, 4])]
            if slot.slots:
                slot_no = rng.choice(sorted(slot.slots))
                cancel_id = slot.slot(slot_no).order_id + (1 << S)
                next_id = max(next_id, cancel_id + 1)
                slot.write(slot_no, OrderSlot(cancel_id, 0, 0, make_seq(9, n)), None)
    return outcomes, kinds


@pytest.mark.parametrize("seeds", [
    range(2),
    pytest.param(range(2, 8), marks=pytest.mark.slow),  # more flows, `-m slow`
])
def test_random_flows_match_the_model(circuit, seeds):
    outcomes, kinds = set(), set()
    for seed in seeds:
        o, k = _flow(circuit, seed)
        outcomes |= o
        kinds |= k
    # A full side needs 16 resting orders (test_entry_match.py has it); the margin stops
    # have their own tests below.
    rare = {Outcome.BOOK_FULL, Outcome.TAKER_MARGIN}
    assert outcomes | rare == set(Outcome), set(Outcome) - outcomes
    assert kinds | {StepKind.TAKER_MARGIN} == set(StepKind), set(StepKind) - kinds


def _order(account, side, size, order_id, tif=TIF_GTC, price=1_000):
    return Order(account, 0, side, price, size, order_id, T + 50, 1_000, tif)


def test_taker_failing_its_margin_stops_without_trading(circuit):
    state = _state(poor=3_000)
    _check(circuit, state, state.enter(2, _order(2, SIDE_SELL, 50, 1), make_seq(1, 0), F))
    result = state.enter(4, _order(4, SIDE_BUY, 40, 2, TIF_IOC), make_seq(1, 1), F)
    assert result.match.outcome == Outcome.TAKER_MARGIN and result.match.filled == 0
    _check(circuit, state, result)


def test_maker_failing_its_margin_is_cancelled_and_the_next_fills(circuit):
    state = _state(poor=3_000)
    # The poor account's ask rests first (nothing to match), then a rich one behind it.
    _check(circuit, state, state.enter(4, _order(4, SIDE_SELL, 40, 1), make_seq(1, 0), F))
    _check(circuit, state, state.enter(3, _order(3, SIDE_SELL, 40, 1), make_seq(1, 1), F))
    result = state.enter(2, _order(2, SIDE_BUY, 30, 2, TIF_IOC), make_seq(1, 2), F)
    assert [s.kind for s in result.match.steps] == [StepKind.MAKER_MARGIN, StepKind.FILL]
    _check(circuit, state, result)
    # The cancelled order's slot is done: filled = size.
    assert state.accounts[4].slot(1).filled == 40


@pytest.fixture(scope="module")
def circuit0():
    return compile_main(
        "lib/EntryBook.circom", f"EntryBook({F}, {LOWER}, {CAP}, {K}, {S}, {M})", optimize=0
    )


def test_maker_slot_must_hold_the_heads_account(circuit0):
    """A live maker made to look stale: its slot opened in another account's order tree
    (where that slot holds nothing), so the head is popped and the taker trades nothing."""
    state = _state()
    state.enter(3, _order(3, SIDE_SELL, 20, 1), make_seq(1, 0), F)
    result = state.enter(2, _order(2, SIDE_BUY, 5, 2, TIF_IOC), make_seq(1, 1), F)
    assert result.match.filled == 5
    inputs = result.circuit_inputs(F)
    other = result.before.accounts[2]
    slot_no = 1  # order id 1's slot
    opening = other.slot(slot_no)
    assert other.tree is not None
    inputs["stepMakerSlot"][0] = 2
    inputs["makerSlotOrderId"][0] = opening.order_id
    inputs["makerSlotOrderHash"][0] = opening.order_hash
    inputs["makerSlotFilled"][0] = opening.filled
    inputs["makerSlotSeq"][0] = opening.seq
    inputs["makerSlotSiblings"][0] = [list(lv) for lv in other.tree.prove(slot_no).siblings]
    for name in ("makerMarket", "makerSide", "makerPrice", "makerSize", "makerExpiry"):
        inputs[name][0] = 0
    inputs["makerMaxFeePpm"][0] = inputs["makerTif"][0] = 0
    inputs["stepPop"][0] = 1
    inputs["stepQty"][0] = inputs["stepTryQty"][0] = 0
    circuit0.witness(inputs).assert_rejected_only_by("main.makerIndex")


def test_margin_is_weighed_on_the_fill_made(circuit0):
    """The poor taker fails its margin buying 40; the operator weighs 1 lot (which
    passes) and fills 40 anyway."""
    state = _state(poor=3_000)
    state.enter(2, _order(2, SIDE_SELL, 50, 1), make_seq(1, 0), F)
    result = state.enter(4, _order(4, SIDE_BUY, 40, 2, TIF_IOC), make_seq(1, 1), F)
    assert result.match.outcome == Outcome.TAKER_MARGIN
    inputs = result.circuit_inputs(F)
    inputs["stepTryQty"][0] = 1
    inputs["stepQty"][0] = 40
    w = circuit0.witness(inputs)
    assert w["rules.takerMarginOk[0]"] == 1  # the weighed lot passes
    w.assert_rejected_only_by("main.rules.stepTryQty", "main.rules.expectTry")


def test_maker_slot_must_be_a_used_one(circuit0):
    """The maker's account copied into an unused (padding) account slot, whose writes the
    batch never makes: a fill read from there would move the maker's money nowhere. Only
    the used check refuses it (found by the mutation run)."""
    state = _state()
    state.enter(3, _order(3, SIDE_SELL, 20, 1), make_seq(1, 0), F)
    padding = state.accounts[3].copy()
    padding.used = False
    state.accounts[4] = padding
    result = state.enter(2, _order(2, SIDE_BUY, 5, 2, TIF_IOC), make_seq(1, 1), F)
    assert result.match.filled == 5
    inputs = result.circuit_inputs(F)
    assert inputs["stepMakerSlot"][0] == 3
    inputs["stepMakerSlot"][0] = 4
    circuit0.witness(inputs).assert_rejected_only_by("main.makerUsed")


# Margin and expiry at their exact boundaries. An off-by-one in the wiring of the weighed
# fill into the two MarginBits (its fee's notional or rate, its position move, the
# collateral before and after) or of the batch time into HeadSlot changes a fact only
# here: the mutation run found that no flow above reaches these edges.
#
# Market 0 here has a tick of 1 and fees of 1,000 ppm on both sides, so that one lot at
# 1,999 pays a fee of 1 and a notional or rate one higher pays 2 (1,999 * 1,001 / 10^6 >= 2).
EDGE_MARKETS = (
    Market(0, tick_size=1, imr_bps=1000, mmr_bps=500, maker_fee_ppm=1000, taker_fee_ppm=1000),
    MARKETS[1],
)
EDGE_MARKS = (2_000, 500)


def _edge_state(coll4: int, pos4: int = 0) -> RunningState:
    """Accounts 2 and 3 rich, account 4 with collateral ``coll4`` and ``pos4`` lots long in
    market 0."""
    key = PrivateKey.from_seed("entry-book").public_key
    accounts = []
    for i, c in enumerate([10**9, 0, 10**9, 10**9, coll4]):
        positions = [Position(pos4 if i == 4 else 0), Position()]
        accounts.append(AccountSlot(i, Account(key, 0, c, positions), S))
    return RunningState(
        accounts, Books(M, bits=BITS, cap_levels=CAP), EDGE_MARKETS, EDGE_MARKS, T, S
    )


def _least(lo: int, hi: int, passes) -> int:
    """The least c in (lo, hi] with passes(c), passes monotone, not passes(lo), passes(hi)."""
    assert not passes(lo) and passes(hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if passes(mid) else (mid, hi)
    return hi


def _edge_order(account, side, size, order_id, price, tif=TIF_GTC, expiry=T + 50):
    return Order(account, 0, side, price, size, order_id, expiry, 1_000, tif)


def _edge_fill(c: int, role: str, maker: int, maker_side: int, taker: int, size: int,
               price: int, pos4: int = 0, circuit=None):
    """Account 4 (collateral c, ``pos4`` lots long) trades ``size`` at ``price`` with a rich
    account: ``maker`` rests its order (GTC), then ``taker`` takes it (IOC). Returns how
    account 4 (the ``role``) came out: the taker's outcome, or the maker's step kinds.
    With ``circuit``, each entry's witness is checked against the model."""
    state = _edge_state(c, pos4)
    taker_side = SIDE_BUY if maker_side == SIDE_SELL else SIDE_SELL
    entries = ((maker, maker_side, 1, TIF_GTC), (taker, taker_side, 2, TIF_IOC))
    for n, (account, side, order_id, tif) in enumerate(entries):
        o = _edge_order(account, side, size, order_id, price, tif)
        result = state.enter(account, o, make_seq(1, n), F)
        if circuit is not None:
            _check(circuit, state, result)
    if role == "taker":
        return result.match.outcome
    return tuple(s.kind for s in result.match.steps)


PASSES = {"taker": Outcome.FILLED, "maker": (StepKind.FILL,)}
FAILS = {"taker": Outcome.TAKER_MARGIN, "maker": (StepKind.MAKER_MARGIN,)}

#: Account 4 at its exact margin edge, as (role, maker, its side, taker, size, price, pos4,
#: bisection range, the edge's closed form). Market 0 here: the mark 2,000, IR' of a lot
#: 2,000 * 1,000 bps.
#: - taker, initial: buying 1 at 1,999 with its fee of 1 leaves V' = c, so it passes from
#:   c = 200 on (V' * 10^4 = IR'). At 200 a fee one higher (its notional or rate off by
#:   one) fails it; at 199 a collateral after or a position move one higher passes it.
#: - maker, initial: selling 1 at 1,999 with its fee of 1 leaves V' = c - 2: from 202 on;
#:   a maker fee one higher fails it at 202.
#: - taker, ratio: selling 10 of 40 lots at the mark, fee 20: V = c + 80,000,
#:   V' = c + 79,980, MR = 4 * 10^7, MR' = 3 * 10^7, so V' * MR >= V * MR' from c = -79,920
#:   on, with V' * 10^4 under IR' (rule B alone). At -79,920 the two sides are equal: a
#:   collateral before one higher fails it; at -79,921 a collateral after one higher passes.
#: - maker, ratio: the same numbers on the maker's side (its fee rate is the taker's here);
#:   a maker's collateral or position before, off by one, moves V and MR and so this edge.
EDGES = [
    pytest.param("taker", 3, SIDE_SELL, 4, 1, 1_999, 0, (0, 10_000), 200, id="taker-initial"),
    pytest.param("maker", 4, SIDE_SELL, 2, 1, 1_999, 0, (0, 10_000), 202, id="maker-initial"),
    pytest.param(
        "taker", 3, SIDE_BUY, 4, 10, 2_000, 40, (-100_000, -74_000), -79_920, id="taker-ratio"
    ),
    pytest.param(
        "maker", 4, SIDE_SELL, 2, 10, 2_000, 40, (-100_000, -74_000), -79_920, id="maker-ratio"
    ),
]


@pytest.mark.parametrize(
    ("role", "maker", "maker_side", "taker", "size", "price", "pos4", "bounds", "edge"), EDGES
)
def test_margin_at_its_exact_edge(circuit, role, maker, maker_side, taker, size, price, pos4,
                                  bounds, edge):
    """The model's edge (by bisection) is the closed form's, and the circuit agrees with
    the model on both sides of it: the last collateral that fails and the first that
    passes."""
    trade = (role, maker, maker_side, taker, size, price, pos4)
    assert _least(*bounds, lambda c: _edge_fill(c, *trade) == PASSES[role]) == edge
    assert _edge_fill(edge, *trade, circuit=circuit) == PASSES[role]
    assert _edge_fill(edge - 1, *trade, circuit=circuit) == FAILS[role]


def test_a_maker_expiring_at_the_batch_time_still_fills(circuit):
    """An order is live while t <= expiry: at t = expiry it fills, one second later it is
    stale (a batch time off by one in HeadSlot would make the first stale)."""
    for later, kinds in ((0, [StepKind.FILL]), (1, [StepKind.STALE])):
        state = _edge_state(10**9)
        rest = state.enter(3, _edge_order(3, SIDE_SELL, 5, 1, 1_999, expiry=T), make_seq(1, 0), F)
        _check(circuit, state, rest)
        state.timestamp += later
        result = state.enter(
            2, _edge_order(2, SIDE_BUY, 5, 2, 1_999, TIF_IOC, expiry=T + 50), make_seq(2, 0), F
        )
        assert [s.kind for s in result.match.steps] == kinds
        _check(circuit, state, result)


def test_fee_account_at_its_collateral_bound(circuit0):
    """The fee account (slot 0) receiving the fees of a fill (1 + 1 here) up to exactly
    2^63 - 1 is accepted; one more unit over the bound is refused by the fee account's
    range alone (the model refuses such a fill: Account's collateral bound)."""
    state = _edge_state(10**9)
    state.enter(3, _edge_order(3, SIDE_SELL, 1, 1, 1_999), make_seq(1, 0), F)
    result = state.enter(2, _edge_order(2, SIDE_BUY, 1, 2, 1_999, TIF_IOC), make_seq(1, 1), F)
    assert result.match.filled == 1
    inputs = result.circuit_inputs(F)
    fees = 2
    inputs["collIn"][0] = (1 << 63) - 1 - fees
    assert circuit0.witness(inputs).ok
    inputs["collIn"][0] = (1 << 63) - fees
    circuit0.witness(inputs).assert_rejected_only_by("main.feeRange")
