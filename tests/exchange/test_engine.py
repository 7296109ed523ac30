"""Matching engine: one test per rule, then property tests on random order flow."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover.errors import ProtocolError
from prover.exchange.batch import BatchBuilder
from prover.exchange.constants import TIF_GTC, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import Fill, OrderRef, OrderRejected, PriceSet, Reject, SignedOrder
from prover.exchange.engine import BATCH_CAPACITY, BatchReport, Engine, Outcome
from prover.exchange.margin import margin
from tests.exchange.trading import (
    BUY,
    SELL,
    Trader,
    config,
    make_engine,
    make_state,
    prices,
)

A, B, C = Trader(2), Trader(3), Trader(4)


def refs(outcome: Outcome) -> list[tuple[int, int, int, int]]:
    return [(f.maker.account, f.maker.order_id, f.price, f.qty) for f in outcome.fills]


def reasons(outcome: Outcome) -> list[str]:
    return [str(r.reason) for r in outcome.rejections]


# --- matching rules -----------------------------------------------------------------


def test_fill_at_maker_price_and_partial_maker() -> None:
    eng = make_engine()
    assert eng.submit(A.order(SELL, 100, 5, 1)).rested
    out = eng.submit(B.order(BUY, 103, 3, 1))
    assert out.accepted and refs(out) == [(2, 1, 100, 3)]
    assert not out.rested
    assert eng.books[0].get(OrderRef(2, 1)).remaining == 2  # type: ignore[union-attr]
    fill = out.fills[0]
    assert fill.taker == OrderRef(3, 1) and fill.taker_fee == 300 * 500 // 10**6
    report = eng.end_batch()
    assert report is not None and report.fills == (fill,)
    assert eng.state.account(3).positions[0].size == 3
    assert eng.state.account(2).positions[0].size == -3


def test_price_then_time_priority() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 101, 2, 1))
    eng.submit(C.order(SELL, 100, 2, 1))
    eng.submit(A.order(SELL, 100, 2, 2))
    out = eng.submit(B.order(BUY, 101, 5, 1))
    assert refs(out) == [(4, 1, 100, 2), (2, 2, 100, 2), (2, 1, 101, 1)]
    assert not eng.books[0].is_crossed()


def test_gtc_remainder_rests_ioc_remainder_does_not() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1))
    gtc = eng.submit(B.order(BUY, 100, 5, 1))
    assert gtc.filled == 2 and gtc.rested
    assert eng.books[0].get(OrderRef(3, 1)).remaining == 3  # type: ignore[union-attr]
    eng.submit(A.order(BUY, 99, 2, 2))
    ioc = eng.submit(C.order(SELL, 99, 10, 1, tif=TIF_IOC))
    assert ioc.filled == 5 and not ioc.rested
    assert OrderRef(4, 1) not in eng.books[0]
    assert len(eng.books[0]) == 0


def test_post_only_crossing_is_rejected_and_changes_nothing() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1))
    entries = len(eng.builder.entries)
    out = eng.submit(B.order(BUY, 100, 1, 1, tif=TIF_POST_ONLY))
    assert not out.accepted and reasons(out) == ["POST_ONLY_WOULD_CROSS"]
    assert len(eng.builder.entries) == entries and len(eng.books[0]) == 1
    ok = eng.submit(B.order(BUY, 99, 1, 1, tif=TIF_POST_ONLY))
    assert ok.accepted and ok.rested and not ok.fills


def test_self_trade_cancels_taker_remainder_and_keeps_resting() -> None:
    eng = make_engine()
    eng.submit(B.order(SELL, 100, 2, 1))
    eng.submit(A.order(SELL, 101, 2, 1))
    eng.submit(B.order(SELL, 102, 2, 2))
    out = eng.submit(A.order(BUY, 102, 6, 2))
    # Fills B at 100, then meets its own order at 101: remainder cancelled.
    assert refs(out) == [(3, 1, 100, 2)]
    assert reasons(out) == ["SELF_TRADE"] and not out.rested
    assert OrderRef(2, 1) in eng.books[0] and OrderRef(3, 2) in eng.books[0]
    assert not eng.books[0].is_crossed()


def test_maker_failing_margin_leaves_book_and_matching_goes_on() -> None:
    # Maker 2 has just enough for 10 lots short at mark 100; the mark then jumps to 150.
    eng = make_engine(
        {2: 200, 3: 10**6, 4: 10**6},
        prices=lambda n: prices(n, (100, 1000) if n == 0 else (150, 1000)),
    )
    assert eng.submit(A.order(SELL, 100, 10, 1)).rested
    eng.submit(C.order(SELL, 100, 4, 1))
    eng.end_batch()
    out = eng.submit(B.order(BUY, 100, 6, 1))
    assert refs(out) == [(4, 1, 100, 4)]
    maker_rej = [r for r in out.rejections if r.kind == "maker"]
    assert [(r.ref, str(r.reason)) for r in maker_rej] == [(OrderRef(2, 1), "INSUFFICIENT_MARGIN")]
    assert OrderRef(2, 1) not in eng.books[0]
    assert out.rested  # the rest of the taker rests: nothing crosses it any more
    assert not eng.books[0].is_crossed()


def test_taker_refused_stops_and_drops_remainder(monkeypatch: pytest.MonkeyPatch) -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1))
    eng.submit(C.order(SELL, 100, 2, 1))
    real = BatchBuilder.add_fill
    calls = []

    def flaky(self: BatchBuilder, taker: OrderRef, maker: OrderRef, qty: int) -> Fill:
        calls.append(maker)
        if len(calls) == 2:
            raise OrderRejected(Reject.INSUFFICIENT_MARGIN, "test", order=taker)
        return real(self, taker, maker, qty)

    monkeypatch.setattr(BatchBuilder, "add_fill", flaky)
    out = eng.submit(B.order(BUY, 100, 4, 1))
    assert out.filled == 2 and not out.rested
    assert [(r.kind, str(r.reason)) for r in out.rejections] == [("taker", "INSUFFICIENT_MARGIN")]
    assert OrderRef(4, 1) in eng.books[0]  # the second maker stays


def test_cancel_removes_from_book_and_enters() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1))
    out = eng.submit(A.cancel(1))
    assert out.accepted and out.cancelled == OrderRef(2, 1)
    assert len(eng.books[0]) == 0 and len(eng.builder.entries) == 2
    # A cancel of nothing is still a valid entry; a lower id in that slot is stale.
    assert eng.submit(A.cancel(5)).cancelled is None
    stale = eng.submit(A.order(SELL, 100, 1, 5))
    assert reasons(stale) == ["STALE_ORDER_ID"]


def test_larger_id_in_same_slot_replaces_resting_order() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1))
    out = eng.submit(A.order(SELL, 105, 3, 17))  # slot 1 again (S = 4)
    assert out.cancelled == OrderRef(2, 1)
    assert [o.ref for o in eng.books[0]] == [OrderRef(2, 17)]


def test_rejections_change_nothing() -> None:
    eng = make_engine()
    root = eng.state.root
    forged = SignedOrder(A.order(SELL, 100, 1, 1).order, B.order(SELL, 100, 1, 1).signature)
    cases = [
        (forged, "BAD_SIGNATURE"),
        (A.order(SELL, 105, 1, 1, market=1), "OFF_TICK"),
        (A.order(SELL, 100, 0, 1), "BAD_SIZE"),
        (A.order(SELL, 100, 1, 1, expiry=5), "EXPIRED"),
        (A.order(SELL, 100, 1, 1, max_fee_ppm=100), "FEE_TOO_HIGH"),
        (A.order(SELL, 100, 10**5, 1), "INSUFFICIENT_MARGIN"),
        (Trader(9).order(SELL, 100, 1, 1), "UNKNOWN_ACCOUNT"),
    ]
    for signed, reason in cases:
        out = eng.submit(signed)
        assert not out.accepted and reasons(out) == [reason], (reason, reasons(out))
    assert len(eng.books[0]) == 0 and eng.end_batch() is None
    assert eng.state.root == root


def test_unknown_market_in_an_open_batch() -> None:
    eng = make_engine()
    assert eng.submit(A.order(SELL, 100, 1, 1)).accepted
    assert reasons(eng.submit(B.order(BUY, 100, 1, 1, market=5))) == ["UNKNOWN_MARKET"]
    assert reasons(eng.submit(B.order(BUY, 100, 1, 2, market=5, tif=TIF_POST_ONLY))) == [
        "UNKNOWN_MARKET"
    ]


def test_replayed_and_lower_ids_rejected_across_batches() -> None:
    eng = make_engine()
    first = A.order(SELL, 100, 1, 6)
    assert eng.submit(first).accepted
    assert reasons(eng.submit(first)) == ["STALE_ORDER_ID"]
    eng.end_batch()
    assert reasons(eng.submit(first)) == ["STALE_ORDER_ID"]
    assert eng.submit(A.order(SELL, 100, 1, 22)).accepted  # slot 6, larger id


def test_batch_full_on_entries_seals_and_retries() -> None:
    eng = make_engine(cfg=config(entries=2))
    outs = [eng.submit(A.order(SELL, 100 + i, 1, i + 1)) for i in range(5)]
    assert [o.batch_number for o in outs] == [0, 0, 1, 1, 2]
    assert [o.entry for o in outs] == [0, 1, 0, 1, 0]
    assert [r.batch_number for r in eng.reports] == [0, 1]
    eng.end_batch()
    assert eng.reports[-1].new_root == eng.state.root
    assert eng.reports[1].old_root == eng.reports[0].new_root


def test_sweep_that_does_not_fit_moves_to_a_fresh_batch() -> None:
    eng = make_engine(cfg=config(fills=3))
    for i in range(3):
        eng.submit(A.order(SELL, 100, 1, i + 1))
    out = eng.submit(B.order(BUY, 100, 3, 1))
    assert out.batch_number == 0 and out.filled == 3
    for i in range(3):
        eng.submit(C.order(SELL, 101, 1, i + 1))
    # Batch 0 has no fill slot left: the taker goes to batch 1 and sweeps there.
    out = eng.submit(B.order(BUY, 101, 3, 2))
    assert out.batch_number == 1 and out.filled == 3
    assert [r.batch_number for r in eng.reports] == [0]


def test_sweep_larger_than_a_batch_is_cut_with_a_reason() -> None:
    eng = make_engine(cfg=config(fills=2))
    for i in range(3):
        eng.submit(A.order(SELL, 100, 1, i + 1))
    out = eng.submit(B.order(BUY, 100, 3, 1))
    assert out.filled == 2 and not out.rested
    assert reasons(out) == [BATCH_CAPACITY]
    assert not eng.books[0].is_crossed()


def test_slot_used_by_a_fill_forces_a_new_batch() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1))
    eng.submit(B.order(BUY, 100, 1, 1))
    out = eng.submit(A.order(SELL, 100, 2, 17))  # overwrites slot 1, used by the fill
    assert out.accepted and out.batch_number == 1 and out.cancelled == OrderRef(2, 1)


def test_expired_orders_leave_the_book_at_the_next_batch() -> None:
    eng = make_engine()
    eng.submit(A.order(SELL, 100, 2, 1, expiry=1000))  # batch 0 has t = 1000
    eng.end_batch()
    out = eng.submit(B.order(BUY, 100, 2, 1))  # batch 1, t = 1001
    assert out.filled == 0 and out.rested


def test_end_batch_without_entries_and_missing_prices() -> None:
    eng = make_engine()
    assert eng.end_batch() is None
    eng2 = Engine(make_state({2: 10}), None, config(), [prices(0)])
    eng2.submit(A.order(SELL, 100, 1, 1))
    eng2.end_batch()
    with pytest.raises(ProtocolError, match="no prices"):
        eng2.submit(A.order(SELL, 100, 1, 2))


def test_config_too_small_is_an_error() -> None:
    eng = make_engine(cfg=config(accounts=2))
    with pytest.raises(ProtocolError, match="too small"):
        eng.submit(A.order(SELL, 100, 1, 1))


# --- property tests on random flow -----------------------------------------------------


def _flow(seed: int, length: int) -> list[tuple[Any, ...]]:
    """A random message flow (hypothesis draws the seed: varied books beat shrinkable
    lists here, where most small lists never cross)."""
    rng = random.Random(seed)
    flow: list[tuple[Any, ...]] = []
    for _ in range(length):
        kind = rng.choices(["order", "cancel", "end", "replay"], [14, 2, 2, 1])[0]
        if kind == "order":
            side = rng.choice([BUY, SELL])
            price = rng.randint(98, 103) if side == BUY else rng.randint(97, 102)
            tif = rng.choice([TIF_GTC, TIF_GTC, TIF_GTC, TIF_IOC, TIF_POST_ONLY])
            flow.append(("order", rng.randint(2, 4), side, price, rng.randint(1, 6), tif))
        elif kind == "cancel":
            flow.append(("cancel", rng.randint(2, 4), rng.randint(1, 3)))
        elif kind == "end":
            flow.append(("end",))
        else:
            flow.append(("replay", rng.randint(0, 50)))
    return flow


DEPOSITS = {2: 10**6, 3: 10**6, 4: 150}  # account 4 is short of margin


def _run(flow: list[tuple[Any, ...]]) -> tuple[Engine, list[Any]]:
    eng = make_engine(DEPOSITS, cfg=config(accounts=5, entries=6, fills=4), prices=_moving)
    total = eng.state.total_collateral()
    accepted: list[SignedOrder] = []
    last_id = dict.fromkeys(DEPOSITS, 0)
    placed: dict[int, list[int]] = {a: [] for a in DEPOSITS}
    log = []
    for step in flow:
        if step[0] == "end":
            report = eng.end_batch()
            if report is not None:
                _check_batch(eng, report, total)
            continue
        if step[0] == "replay":
            if accepted:
                signed = accepted[step[1] % len(accepted)]
                if step[1] % 2 and signed.order.order_id > 16:
                    # A fresh order with a lower id in the same slot (S = 4).
                    o = signed.order
                    signed = Trader(o.account).order(o.side, o.price, o.size, o.order_id - 16)
                out = eng.submit(signed)
                assert not out.accepted and reasons(out) == ["STALE_ORDER_ID"]
            continue
        if step[0] == "cancel":
            acct = step[1]
            if len(placed[acct]) < step[2]:
                continue
            signed = Trader(acct).cancel(placed[acct][-step[2]])
            last_id[acct] = max(last_id[acct], signed.cancel.order_id)
        else:
            _, acct, side, price, size, tif = step
            last_id[acct] += 1
            placed[acct].append(last_id[acct])
            signed = Trader(acct).order(side, price, size, last_id[acct], tif=tif)
        book = eng.books[0]
        before = book.orders(SELL if step[0] == "order" and step[2] == BUY else BUY)
        batches = len(eng.reports)
        out = eng.submit(signed)
        log.append((out.accepted, reasons(out), refs(out)))
        for report in eng.reports[batches:]:
            _check_batch(eng, report, total)
        assert not book.is_crossed()
        if out.accepted and isinstance(signed, SignedOrder):
            accepted.append(signed)
            # Price-time priority: makers are the best resting orders, in order, less any
            # removed for a refused fill and the order this entry replaced in its slot.
            dropped = {r.ref for r in out.rejections if r.kind == "maker"} | {out.cancelled}
            queue = [o for o in before if o.ref not in dropped]
            assert [(f.maker, f.price) for f in out.fills] == [
                (o.ref, o.price) for o in queue[: len(out.fills)]
            ]
    eng.end_batch()
    return eng, log


def _moving(n: int) -> PriceSet:
    """Marks that move between batches (so resting makers can fail margin later)."""
    return prices(n, (95 + (n * 7) % 11, 1000))


def _check_batch(eng: Engine, report: BatchReport, total: int) -> None:
    """Conservation, and: an account that trades and was not liquidatable at the batch's
    marks before it is not liquidatable after (the margin rule, fill by fill)."""
    state, old = report.result.state, report.result.witness.accounts
    assert state.total_collateral() == total  # fees and funding included
    marks = report.result.witness.params.marks
    before = {a.index: a.before for a in old if a.used}
    traded = {f.taker.account for f in report.fills} | {f.maker.account for f in report.fills}
    for index in traded:
        if not margin(before[index], state.markets, marks).liquidatable:
            assert not margin(state.account(index), state.markets, marks).liquidatable


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(1, 30))
def test_random_flow_invariants(seed: int, length: int) -> None:
    eng, log = _run(_flow(seed, length))
    pairs = zip(eng.reports, eng.reports[1:], strict=False)
    assert all(r.new_root == n.old_root for r, n in pairs)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 2**32), st.integers(5, 20))
def test_same_input_same_roots(seed: int, length: int) -> None:
    flow = _flow(seed, length)
    one, log_one = _run(flow)
    two, log_two = _run(flow)
    assert log_one == log_two
    assert [r.new_root for r in one.reports] == [r.new_root for r in two.reports]
    assert one.state.root == two.state.root
