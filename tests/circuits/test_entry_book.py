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
from prover.exchange.domain import Account, Order, OrderSlot, make_seq
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
