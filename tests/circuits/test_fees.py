"""FeeFloor (floor division by 10^6) and FundingPayment."""

from __future__ import annotations

import pytest

from prover.exchange.domain import fee_for
from prover.field import SNARK_FIELD
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


def _bits(prefix: str, value: int, n: int, circuit) -> dict[str, int]:
    names = {f"{prefix}.out[{i}]": (value >> i) & 1 for i in range(n)}
    return {k: v for k, v in names.items() if circuit.symbols.get(f"main.{k}", -1) > 0}


def test_fee_one_low_with_remainder_exactly_scale_is_rejected(fee):
    """fee = 2 for N * rate = 3 * 10^6 needs rem = 10^6: 20-bit, so only LessThan stops it."""
    w = fee.witness({"notional": 10**6, "ratePpm": 3})
    assert w.ok and w["fee"] == 3
    forged = {"fee": 2}
    forged.update(_bits("remBits", 10**6, 20, fee))
    forged.update(_bits("remLt.n2b", 10**6 + 2**20 - 10**6, 21, fee))
    assert not w.tamper(forged).ok


def test_fee_one_high_with_negative_remainder_is_rejected(fee):
    w = fee.witness({"notional": 10**6, "ratePpm": 3})
    assert not w.tamper({"fee": 4}).ok


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
