"""FeeFloor (floor division by 10^6) and FundingPayment."""

from __future__ import annotations

import pytest

from prover.exchange.domain import fee_for
from prover.field import SNARK_FIELD
from tests.circuits import mutants
from tests.circuits.harness import compile_main, expect_count

P = SNARK_FIELD


@pytest.fixture(scope="module")
def fee():
    return compile_main("lib/FeeFloor.circom", "FeeFloor(72)")


def test_constraint_counts(fee):
    expect_count(fee, 113)
    expect_count(compile_main("lib/FundingPayment.circom", "FundingPayment(2)"), 2)


@pytest.mark.parametrize(
    ("notional", "rate"),
    [
        (0, 0),
        (0, 10**6),
        (1, 999_999),
        (999_999, 1),
        (10**6, 1),
        (2**72 - 1, 10**6),
        (2**72 - 1, 0),
        (123_456_789, 500),
        (2**40 * 3 + 17, 250),
    ],
)
def test_fee_matches_model(fee, notional, rate):
    w = fee.witness({"notional": notional, "ratePpm": rate})
    assert w.ok
    assert w["fee"] == fee_for(notional, rate)


def test_fee_cannot_be_rounded_the_other_way(fee):
    w = fee.witness({"notional": 1_234_567, "ratePpm": 500})  # 617.2835 -> 617
    assert w.ok and w["fee"] == 617
    for bad in (616, 618, 0):
        # rem is folded into N * rate - fee * 10^6 by --O2; its bits cannot represent the
        # new remainder (negative, or >= 2^20), whatever they are.
        assert not w.tamper({"fee": bad}).ok


def _rounding(shift: int):
    """A test build whose hint rounds ``shift`` lots of 10^6 the other way: fee + shift and
    rem - shift * 10^6 (every other signal computed from them, as a cheating prover would)."""
    file = "lib/FeeFloor.circom"
    cuts = [
        mutants.replace(file, "    fee <-- product \\ FEE_SCALE();\n",
                        f"    fee <-- product \\ FEE_SCALE() + ({shift});\n"),
        mutants.replace(file, "    rem <-- product % FEE_SCALE();\n",
                        f"    rem <-- product % FEE_SCALE() - ({shift}) * FEE_SCALE();\n"),
    ]
    return compile_main(file, "FeeFloor(72)", optimize=0, sources=mutants.apply(*cuts))


@pytest.fixture(scope="module")
def one_low():
    return _rounding(-1)


@pytest.fixture(scope="module")
def one_high():
    return _rounding(1)


@pytest.mark.parametrize("product", [3 * 10**6, 3 * 10**6 + 48_575])
def test_fee_one_low_is_rejected_by_the_remainder_bound(one_low, product):
    """fee = floor - 1 leaves rem = true rem + 10^6 < 2^20 (for a true rem below 48,576): the
    20-bit range admits it, only rem < 10^6 (LessThan) refuses."""
    w = one_low.witness({"notional": product, "ratePpm": 1})
    assert w["fee"] == product // 10**6 - 1 and w["rem"] == product % 10**6 + 10**6
    w.assert_rejected_only_by("remLt")


def test_fee_one_low_with_a_large_remainder_is_rejected(one_low):
    """With a true rem of 500,000, rem + 10^6 is past 2^20 as well."""
    w = one_low.witness({"notional": 3_500_000, "ratePpm": 1})
    w.assert_rejected_only_by("remLt", "remBits")


def test_fee_one_high_is_rejected_by_the_remainder_range(one_high):
    """fee = floor + 1 needs rem = true rem - 10^6 < 0: not 20 bits. With a true rem of
    999,999 it is -1, which LessThan(20) alone would take (it admits down to -48,576): the
    range check is what stops it."""
    w = one_high.witness({"notional": 3 * 10**6 + 999_999, "ratePpm": 1})
    w.assert_rejected_only_by("remBits")


def test_funding_payment_signed():
    c = compile_main("lib/FundingPayment.circom", "FundingPayment(2)")
    sizes, old, new = [-(2**40 - 1), 5], [2**63 - 1, -3], [-(2**63 - 1), 4]
    w = c.witness(
        {
            "posSize": [s % P for s in sizes],
            "posFunding": [f % P for f in old],
            "fundingIndex": [f % P for f in new],
        }
    )
    want = sum(s * (n - o) for s, n, o in zip(sizes, new, old, strict=True))
    assert w.ok and w["payment"] == want % P


def test_fee_of_p_minus_one_is_rejected(fee):
    """A "debit" of p - 1 would be a credit of 1: the fee's 72-bit range refuses it."""
    w = fee.witness({"notional": 10**6, "ratePpm": 3})
    assert not w.tamper({"fee": P - 1}).ok
