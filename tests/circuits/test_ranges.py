"""UnsignedRange, SignedRange, IsNonNegative: boundary values and tampered hints."""

from __future__ import annotations

import pytest

from prover.field import SNARK_FIELD
from tests.circuits.harness import compile_main, expect_count

P = SNARK_FIELD


@pytest.fixture(scope="module")
def unsigned():
    return compile_main("lib/UnsignedRange.circom", "UnsignedRange(32)")


@pytest.fixture(scope="module")
def signed():
    return compile_main("lib/SignedRange.circom", "SignedRange(40)")


@pytest.fixture(scope="module")
def nonneg():
    return compile_main("lib/IsNonNegative.circom", "IsNonNegative(99)")


def test_constraint_counts(unsigned, signed, nonneg):
    expect_count(unsigned, 32)
    expect_count(signed, 42)
    expect_count(compile_main("lib/SignedRange.circom", "SignedRange(63)"), 65)
    expect_count(nonneg, 100)


@pytest.mark.parametrize(
    ("value", "ok"),
    [(0, True), (1, True), (2**32 - 1, True), (2**32, False), (P - 1, False), (2**253, False)],
)
def test_unsigned_boundaries(unsigned, value, ok):
    assert unsigned.accepts({"in": value % P}) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        (0, True),
        (1, True),
        (-1, True),
        (2**40 - 1, True),
        (-(2**40 - 1), True),
        (2**40, False),
        (-(2**40), False),
        (2**41, False),
        ((P - 1) // 2, False),
    ],
)
def test_signed_boundaries(signed, value, ok):
    w = signed.witness({"in": value % P})
    assert w.ok is ok
    if ok:
        assert w["abs"] == abs(value)
        assert w["neg"] == (1 if value < 0 else 0)


def test_signed_sign_cannot_be_flipped(signed):
    w = signed.witness({"in": 5})
    assert w.ok
    assert not w.tamper({"neg": 1}).ok
    assert not w.tamper({"abs": P - 5}).ok  # abs must be a 40-bit magnitude
    assert not w.tamper({"neg": 2}).ok


@pytest.mark.parametrize(
    ("value", "ok", "out"),
    [
        (0, True, 1),
        (5, True, 1),
        (-1, True, 0),
        (2**99 - 1, True, 1),
        (-(2**99), True, 0),
        (2**99, False, None),
        (-(2**99) - 1, False, None),
    ],
)
def test_is_non_negative_boundaries(nonneg, value, ok, out):
    w = nonneg.witness({"in": value % P})
    assert w.ok is ok
    if ok:
        assert w["out"] == out


def test_is_non_negative_output_cannot_lie(nonneg):
    w = nonneg.witness({"in": P - 3})
    assert w.ok and w["out"] == 0
    assert not w.tamper({"out": 1}).ok
