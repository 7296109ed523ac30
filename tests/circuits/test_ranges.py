"""UnsignedRange, SignedRange, IsNonNegative: boundary values and tampered hints."""

from __future__ import annotations

import pytest

from prover.field import SNARK_FIELD
from tests.circuits import mutants
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


@pytest.fixture(scope="module")
def cheat_sign():
    """SignedRange(40) whose hints claim |in| = 1 for any input: neg = (1 - in) / 2 in the
    field, so in = abs - 2 * neg * abs holds; every other signal computed from them."""
    file = "lib/SignedRange.circom"
    cuts = [
        mutants.replace(file, "    neg <-- in < 0 ? 1 : 0;\n", "    neg <-- (1 - in) / 2;\n"),
        mutants.replace(file, "    abs <-- neg == 1 ? -in : in;\n", "    abs <-- 1;\n"),
    ]
    return compile_main(file, "SignedRange(40)", optimize=0, sources=mutants.apply(*cuts))


@pytest.mark.parametrize("value", [2**40, -(2**40), 2**63, (P - 1) // 2])
def test_a_non_boolean_sign_would_pass_any_value(cheat_sign, value):
    """Without the sign's booleanity every value would pass as |v| = 1 (and MarginCheck,
    which reads abs, would see a position of one lot): only that check refuses it."""
    w = cheat_sign.witness({"in": value % P})
    assert w["abs"] == 1
    w.assert_rejected_only_by("neg")
