"""MarginBit(M) against prover.exchange.margin.weighed_fill_ok (protocol section 8 as a
bit, for fills the matching rules weigh before making them)."""

from __future__ import annotations

import random

import pytest

from prover.exchange.domain import Market
from prover.exchange.margin import weighed_fill_ok
from prover.field import SNARK_FIELD
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count
from tests.circuits.scenario import MARKETS

P = SNARK_FIELD
MARKS = (1000, 500)
C_MAX = 2**63 - 1
P_MAX = 2**40 - 1


@pytest.fixture(scope="module")
def circuit():
    return compile_main("lib/MarginBit.circom", "MarginBit(2)")


@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_count(circuit):
    expect_count(circuit, 811)


def _inputs(c0, p0, c1, p1, marks=MARKS, markets=MARKETS):
    return {
        "collBefore": c0 % P,
        "posBefore": [x % P for x in p0],
        "collAfter": c1 % P,
        "posAfter": [x % P for x in p1],
        "mark": list(marks),
        "imrBps": [m.imr_bps for m in markets],
        "mmrBps": [m.mmr_bps for m in markets],
    }


def _check(circuit, c0, p0, c1, p1, marks=MARKS, markets=MARKETS) -> bool:
    w = circuit.witness(_inputs(c0, p0, c1, p1, marks, markets))
    assert w.ok, w.failing()
    want = weighed_fill_ok(c0, p0, c1, p1, markets, marks)
    assert w["legal"] == int(want), (c0, p0, c1, p1)
    return want


CASES = [
    # (C, P) before -> after, legal. Market 0: mark 1000, imr 10%, mmr 5%.
    ((0, [0, 0]), (-9_000, [10, 0]), True),  # exactly at initial
    ((0, [0, 0]), (-9_001, [10, 0]), False),  # one below initial, risk grew
    ((-9_600, [10, 0]), (-4_600, [5, 0]), True),  # below initial, reduces risk, ratio kept
    ((-9_600, [10, 0]), (-4_900, [5, 0]), False),  # reduces risk but V/MR falls
    ((-10_200, [10, 0]), (-5_100, [5, 0]), True),  # the ratio kept exactly (V < 0)
    ((-10_200, [10, 0]), (-5_101, [5, 0]), False),
    # The after state out of its ranges: illegal whatever the margin says.
    ((C_MAX, [0, 0]), (C_MAX, [0, 0]), True),
    ((C_MAX, [0, 0]), (C_MAX + 1, [0, 0]), False),  # |C'| = 2^63
    ((-C_MAX, [0, 0]), (-C_MAX - 1, [0, 0]), False),
    ((C_MAX, [0, 0]), (-(2**73), [0, 0]), False),  # a huge debit, still within the bound
    ((C_MAX, [P_MAX, 0]), (C_MAX, [P_MAX, 0]), True),
    ((C_MAX, [P_MAX, 0]), (C_MAX - 10**6, [P_MAX + 1, 0]), False),  # |P'| = 2^40
    ((C_MAX, [-P_MAX, 0]), (C_MAX, [-P_MAX - 1, 0]), False),
    ((C_MAX, [0, P_MAX]), (C_MAX, [0, P_MAX + 2**32]), False),  # a buy of 2^32 - 1 past it
]


@pytest.mark.parametrize(("before", "after", "legal"), CASES)
def test_cases_match_the_model(circuit, before, after, legal):
    assert _check(circuit, *before, *after) == legal


# Unit boundaries: with imr 3 bps and mmr 1 bp, each check's quantity can be exactly -1 or
# 0, which MARKETS' round rates never give (found by the mutation run: a check's input
# off by one went unnoticed).
FINE = (Market(0, 1, 3, 1, 0, 0), Market(1, 1, 3, 1, 0, 0))
UNIT_CASES = [
    # (2A) V' * 10^4 - IR' = 2 * 10^4 - 20,001 = -1: one short of initial, risk grew.
    ((0, [0, 0]), (-6_665, [1, 0]), (6_667, 1), False),
    ((0, [0, 0]), (-6_664, [1, 0]), (6_667, 1), True),  # = 10^4 - 1 above it
    # (2B1) MR' = MR (a flip at the same size): risk did not fall, so not legal.
    ((-6_667, [1, 0]), (6_667, [-1, 0]), (6_667, 1), False),
    # (2B2) V' * MR - V * MR' = 0 * 2 - 1 * 1 = -1: the ratio falls by one unit.
    ((-1, [2, 0]), (-1, [1, 0]), (1, 1), False),
    # (2B1) and (2B2) exactly at 0: risk falls by one unit, the ratio is kept.
    ((-2, [2, 0]), (-1, [1, 0]), (1, 1), True),
]


@pytest.mark.parametrize(("before", "after", "marks", "legal"), UNIT_CASES)
def test_unit_boundaries_match_the_model(circuit, before, after, marks, legal):
    assert _check(circuit, *before, *after, marks=marks, markets=FINE) == legal


def test_random_fills_match_the_model(circuit):
    rng = random.Random(7)
    seen = set()
    for _ in range(60):
        c0 = rng.randrange(-(10**7), 10**8)
        p0 = [rng.randrange(-200, 200), rng.randrange(-200, 200)]
        qty = rng.randrange(1, 100)
        price = rng.choice([900, 1000, 1100])
        sign = rng.choice([1, -1])
        c1 = c0 - sign * qty * price - qty * price // 1000
        p1 = [p0[0] + sign * qty, p0[1]]
        seen.add(_check(circuit, c0, p0, c1, p1))
    assert seen == {True, False}


def test_caller_bounds_are_asserted(circuit):
    # |C'| < 2^74 and |P'| < 2^41 are the caller's: beyond them there is no witness.
    assert not circuit.witness(_inputs(0, [0, 0], 2**74, [0, 0])).ok
    assert not circuit.witness(_inputs(0, [0, 0], 0, [2**41, 0])).ok
    assert not circuit.witness(_inputs(0, [2**40, 0], 0, [0, 0])).ok
