"""BatchParams(M): paramsHash as the model computes it, and every parameter range."""

from __future__ import annotations

import pytest

from prover.exchange.domain import PriceSet
from prover.field import SNARK_FIELD
from tests.circuits.harness import compile_main, expect_count
from tests.circuits.scenario import MARKETS

P = SNARK_FIELD
PRICES = PriceSet(7, 2**40 - 1, (1, 2**40 - 1), (-(2**63 - 1), 2**63 - 1))


@pytest.fixture(scope="module")
def params():
    return compile_main("lib/BatchParams.circom", "BatchParams(2)")


def _inputs(prices: PriceSet = PRICES) -> dict:
    raw = prices.as_circuit_inputs(MARKETS)
    return {
        "batchNumber": raw["batchNumber"],
        "timestamp": raw["timestamp"],
        "tickSize": raw["marketTickSize"],
        "imrBps": raw["marketImrBps"],
        "mmrBps": raw["marketMmrBps"],
        "makerFeePpm": raw["marketMakerFeePpm"],
        "takerFeePpm": raw["marketTakerFeePpm"],
        "mark": raw["mark"],
        "fundingIndex": raw["fundingIndex"],
    }


def test_constraint_count(params):
    expect_count(params, 2457)


def test_hash_matches_model_at_boundaries(params):
    w = params.witness(_inputs())
    assert w.ok and w["paramsHash"] == PRICES.params_hash(MARKETS)


@pytest.fixture(scope="module")
def params0():
    return compile_main("lib/BatchParams.circom", "BatchParams(2)", optimize=0)


@pytest.mark.parametrize(
    ("field", "index", "value", "rule"),
    [
        ("batchNumber", None, 2**40, "nRange"),
        ("timestamp", None, 2**40, "tRange"),
        ("tickSize", 0, 0, "tick[0]"),
        ("tickSize", 0, 2**40, "tickMax[0]"),
        ("mmrBps", 0, 0, "mmrPos[0]"),
        ("mmrBps", 0, 1000, "mmrLtImr[0]"),  # mmr == imr
        ("imrBps", 0, 10**4 + 1, "imrMax[0]"),
        ("makerFeePpm", 0, 10**6 + 1, "makerMax[0]"),
        ("takerFeePpm", 1, P - 1, "takerMin[1]"),
        ("mark", 0, 0, "markMin[0]"),
        ("mark", 1, 2**40, "markMax[1]"),
        ("fundingIndex", 0, 2**63, "fundingRange[0]"),
        ("fundingIndex", 1, P - 2**63, "fundingRange[1]"),
    ],
)
def test_out_of_range_parameter_is_rejected(params0, field, index, value, rule):
    """Each parameter one past its range, the hash recomputed from it (the circuit computes
    it): rejected by that parameter's own range check and nothing else."""
    inputs = _inputs()
    if index is None:
        inputs[field] = value
    else:
        inputs[field] = list(inputs[field])
        inputs[field][index] = value
    params0.witness(inputs).assert_rejected_only_by(rule)


def test_edge_values_in_range_are_accepted(params):
    """Every parameter at both ends of its range (with PRICES: marks 1 and 2^40 - 1,
    funding indices -(2^63 - 1) and 2^63 - 1, time 2^40 - 1)."""
    for n, fees in ((2**40 - 1, [0, 10**6]), (0, [10**6, 0])):
        inputs = _inputs()
        inputs["batchNumber"] = n
        inputs["imrBps"] = [10**4, 2]
        inputs["mmrBps"] = [10**4 - 1, 1]
        inputs["makerFeePpm"] = fees
        inputs["takerFeePpm"] = fees[::-1]
        inputs["tickSize"] = [1, 2**40 - 1]
        assert params.accepts(inputs)
    zero_time = _inputs(PriceSet(0, 0, (1, 1), (0, 0)))
    assert params.accepts(zero_time)
