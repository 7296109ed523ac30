"""MarginCheck(M) against prover.exchange.margin (protocol section 8)."""

from __future__ import annotations

import random

import pytest

from prover.exchange.margin import legal_transition, margin_of
from prover.field import SNARK_FIELD
from tests.circuits.harness import compile_main, expect_count
from tests.circuits.scenario import MARKETS

P = SNARK_FIELD
MARKS = (1000, 500)


@pytest.fixture(scope="module")
def margin():
    return compile_main("lib/MarginCheck.circom", "MarginCheck(2)")


def _inputs(enabled, c0, p0, c1, p1):
    return {
        "enabled": enabled,
        "collBefore": c0 % P,
        "posBefore": [x % P for x in p0],
        "collAfter": c1 % P,
        "posAfter": [x % P for x in p1],
        "mark": list(MARKS),
        "imrBps": [m.imr_bps for m in MARKETS],
        "mmrBps": [m.mmr_bps for m in MARKETS],
    }


def _model(c0, p0, c1, p1) -> bool:
    return legal_transition(margin_of(c0, p0, MARKETS, MARKS), margin_of(c1, p1, MARKETS, MARKS))


def test_constraint_count(margin):
    expect_count(margin, 569)


CASES = [
    # (C, P) before -> after, expected legality. Market 0: mark 1000, imr 10%, mmr 5%.
    ((0, [0, 0]), (-9_000, [10, 0]), True),  # exactly at initial: V*1e4 = IR = 1e7
    ((0, [0, 0]), (-9_001, [10, 0]), False),  # one below initial, risk grew
    ((-9_600, [10, 0]), (-4_600, [5, 0]), True),  # below initial, reduces risk, ratio kept
    ((-9_600, [10, 0]), (-4_900, [5, 0]), False),  # reduces risk but V/MR falls
    ((-9_600, [10, 0]), (-10_600, [11, 0]), False),  # adds risk below initial
    ((0, [0, 0]), (-1, [0, 0]), False),  # debit 1: C = p - 1 is -1, not huge
    # Risk halves and V' * MR = V * MR' exactly, with V' < 0 (-100 and -200): legal at the
    # equality, illegal one unit below. Any error in MR (before) tips it.
    ((-10_200, [10, 0]), (-5_100, [5, 0]), True),
    ((-10_200, [10, 0]), (-5_101, [5, 0]), False),
    # The same with V > 0: V' * MR = V * MR' at V' = 100, V = 200.
    ((-9_800, [10, 0]), (-4_900, [5, 0]), True),
    ((-9_800, [10, 0]), (-4_901, [5, 0]), False),
    ((2**63 - 1, [2**40 - 1, -(2**40 - 1)]), (2**63 - 1, [2**40 - 1, -(2**40 - 1)]), True),
    ((-(2**63 - 1), [-(2**40 - 1), 0]), (-(2**63 - 1), [-(2**40 - 1), 0]), False),
]


@pytest.mark.parametrize(("before", "after", "legal"), CASES)
def test_cases_match_model(margin, before, after, legal):
    assert _model(*before, *after) is legal
    w = margin.witness(_inputs(0, *before, *after))
    assert w.ok and w["legal"] == int(legal)
    # enabled: the constraints hold exactly for legal fills
    assert margin.accepts(_inputs(1, *before, *after)) is legal


def test_random_agrees_with_model(margin):
    rng = random.Random(7)
    for _ in range(25):
        c0 = rng.randrange(-(10**9), 10**9)
        p0 = [rng.randrange(-(10**4), 10**4) for _ in range(2)]
        c1 = c0 + rng.randrange(-(10**8), 10**8)
        p1 = [p + rng.randrange(-50, 50) for p in p0]
        w = margin.witness(_inputs(0, c0, p0, c1, p1))
        assert w.ok and w["legal"] == int(_model(c0, p0, c1, p1))


def test_position_out_of_range_is_rejected(margin):
    for before, after in (
        ([0, 0], [2**40, 0]),
        ([0, 0], [-(2**40), 0]),
        ([2**40, 0], [0, 0]),
        ([0, -(2**40)], [0, 0]),
    ):
        assert not margin.accepts(_inputs(0, 0, before, 10**9, after)), (before, after)
    assert margin.accepts(_inputs(0, 0, [2**40 - 1, 0], 10**9, [0, -(2**40 - 1)]))


def test_legal_output_cannot_lie(margin):
    w = margin.witness(_inputs(1, 0, [0, 0], -9_001, [10, 0]))
    assert not w.ok
    w0 = margin.witness(_inputs(0, 0, [0, 0], -9_001, [10, 0]))
    assert w0.ok and w0["legal"] == 0
    assert not w0.tamper({"legal": 1}).ok


def test_extreme_magnitudes_do_not_overflow(margin):
    """Largest positions at the largest marks and ratios: every comparison still fits."""
    top = 2**40 - 1
    inputs = _inputs(0, -(2**63 - 1), [top, -top], 2**63 - 1, [-top, top])
    inputs["mark"] = [top, top]
    inputs["imrBps"] = [10**4, 10**4]
    inputs["mmrBps"] = [10**4 - 1, 10**4 - 1]
    w = margin.witness(inputs)
    assert w.ok
