"""Margin rule (protocol §8): value, requirements, the legal-fill rule and its exception."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.errors import ProtocolError
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_POST_ONLY
from prover.exchange.domain import Account, Market, Order, Position
from prover.exchange.margin import (
    MarginState,
    fill_is_legal,
    initial_requirement,
    legal_transition,
    liquidatable,
    maintenance_requirement,
    margin,
    pretrade_check,
    value,
)

# Market 0: IMR 10 %, MMR 5 %, maker 200 ppm, taker 500 ppm; market 1: 20 % / 10 %.
MARKETS = (Market(0, 1, 1000, 500, 200, 500), Market(1, 1, 2000, 1000, 0, 1000))
MARKS = (100, 50)
KEY = (1, 2)


def acct(c: int, p0: int = 0, p1: int = 0) -> Account:
    return Account(KEY, 0, c, (Position(p0, 0), Position(p1, 0)))


def test_value_and_requirements_by_hand() -> None:
    a = acct(1000, 10, -4)
    # V = 1000 + 10*100 - 4*50 = 1800
    assert value(a, MARKS) == 1800
    # IR = |1000|*1000 + |-200|*2000 = 1_400_000; MR = 1000*500 + 200*1000 = 700_000
    assert initial_requirement(a, MARKETS, MARKS) == 1_400_000
    assert maintenance_requirement(a, MARKETS, MARKS) == 700_000
    assert margin(a, MARKETS, MARKS) == MarginState(1800, 1_400_000, 700_000)
    with pytest.raises(ProtocolError):
        margin(a, MARKETS[:1], MARKS[:1])


def test_initial_margin_boundary() -> None:
    # P = 10 at 100: IR = 10^6, so V = 100 is exactly enough.
    flat = acct(0)
    assert fill_is_legal(flat, acct(-900, 10), MARKETS, MARKS)  # V*10^4 == IR
    assert not fill_is_legal(flat, acct(-901, 10), MARKETS, MARKS)  # one unit short
    # Short positions count by magnitude.
    assert fill_is_legal(flat, acct(1100, -10), MARKETS, MARKS)
    assert not fill_is_legal(flat, acct(1099, -10), MARKETS, MARKS)


def test_risk_reducing_exception() -> None:
    under = acct(-950, 10)  # V = 50 < IR / 10^4 = 100; MR = 500_000
    assert not margin(under, MARKETS, MARKS).meets_initial
    # Sell 2 at the mark: MR 500k -> 400k, V stays 50: legal although IR is missed.
    assert fill_is_legal(under, acct(-750, 8), MARKETS, MARKS)
    # Sell 2 at 90: MR falls but V/MR falls too (30/400k < 50/500k): illegal.
    assert not fill_is_legal(under, acct(-770, 8), MARKETS, MARKS)
    # Equality of the ratios is allowed: V' * MR == V * MR'.
    assert fill_is_legal(under, acct(-760, 8), MARKETS, MARKS)  # 40 * 500k == 50 * 400k
    assert not fill_is_legal(under, acct(-761, 8), MARKETS, MARKS)
    # Adding risk while under the requirement is illegal.
    assert not fill_is_legal(under, acct(-1050, 11), MARKETS, MARKS)
    # Risk unchanged is not a reduction.
    assert not fill_is_legal(under, under, MARKETS, MARKS)


def test_liquidatable_boundary() -> None:
    assert not liquidatable(acct(-950, 10), MARKETS, MARKS)  # V*10^4 == MR
    assert liquidatable(acct(-951, 10), MARKETS, MARKS)
    assert not liquidatable(acct(0), MARKETS, MARKS)
    assert liquidatable(acct(-1), MARKETS, MARKS)


def _order(side: int, size: int, price: int = 100, tif: int = TIF_GTC, market: int = 0) -> Order:
    return Order(2, market, side, price, size, 1, 10**6, 10**6, tif)


def test_pretrade_includes_the_fee() -> None:
    # Buy 100 at 100: N = 10_000, taker fee 5; needs C - fee >= 10 * 100.
    assert pretrade_check(acct(1005), _order(SIDE_BUY, 100), MARKETS, MARKS)
    assert not pretrade_check(acct(1004), _order(SIDE_BUY, 100), MARKETS, MARKS)
    # Post-only pays at most the maker rate (fee 2).
    assert pretrade_check(acct(1002), _order(SIDE_BUY, 100, tif=TIF_POST_ONLY), MARKETS, MARKS)
    assert not pretrade_check(acct(1001), _order(SIDE_BUY, 100, tif=TIF_POST_ONLY), MARKETS, MARKS)


def test_pretrade_limit_price_matters() -> None:
    # Buying above the mark loses value at once.
    assert pretrade_check(acct(1005), _order(SIDE_BUY, 100, price=100), MARKETS, MARKS)
    assert not pretrade_check(acct(1005), _order(SIDE_BUY, 100, price=101), MARKETS, MARKS)


def test_pretrade_allows_reducing_orders_when_under_margin() -> None:
    under = acct(-950, 10)
    assert pretrade_check(under, _order(SIDE_SELL, 2), MARKETS, MARKS)
    assert not pretrade_check(under, _order(SIDE_BUY, 1), MARKETS, MARKS)
    assert pretrade_check(under, _order(SIDE_SELL, 1), MARKETS, MARKS, filled=0)
    assert pretrade_check(under, _order(SIDE_BUY, 5), MARKETS, MARKS, filled=5)  # nothing left


def test_pretrade_other_market() -> None:
    # Market 1 (IMR 20 %), mark 50: sell 10 at 50 => exposure 500, IR 10^6, V = C.
    assert pretrade_check(acct(100), _order(SIDE_SELL, 10, price=50, market=1), MARKETS, MARKS)
    assert not pretrade_check(acct(99), _order(SIDE_SELL, 10, price=50, market=1), MARKETS, MARKS)


small = st.integers(-(10**6), 10**6)


@settings(max_examples=200, deadline=None)
@given(small, small, small, small, small, small)
def test_rule_matches_the_formula(c: int, p0: int, p1: int, c2: int, q0: int, q1: int) -> None:
    before, after = acct(c, p0, p1), acct(c2, q0, q1)
    v, v2 = c + 100 * p0 + 50 * p1, c2 + 100 * q0 + 50 * q1
    ir2 = abs(100 * q0) * 1000 + abs(50 * q1) * 2000
    mr = abs(100 * p0) * 500 + abs(50 * p1) * 1000
    mr2 = abs(100 * q0) * 500 + abs(50 * q1) * 1000
    expected = v2 * 10_000 >= ir2 or (mr2 < mr and v2 * mr >= v * mr2)
    assert fill_is_legal(before, after, MARKETS, MARKS) is expected
    assert legal_transition(margin(before, MARKETS, MARKS), margin(after, MARKETS, MARKS)) is (
        expected
    )
