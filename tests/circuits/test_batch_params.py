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


@pytest.mark.parametrize(
    ("field", "index", "value"),
    [
        ("batchNumber", None, 2**40),
        ("timestamp", None, 2**40),
        ("tickSize", 0, 0),
        ("tickSize", 0, 2**40),
        ("mmrBps", 0, 0),
        ("mmrBps", 0, 1000),  # mmr == imr
        ("imrBps", 0, 10**4 + 1),
        ("makerFeePpm", 0, 10**6 + 1),
        ("takerFeePpm", 1, P - 1),
        ("mark", 0, 0),
        ("mark", 1, 2**40),
        ("fundingIndex", 0, 2**63),
        ("fundingIndex", 1, P - 2**63),
    ],
)
def test_out_of_range_parameter_is_rejected(params, field, index, value):
    inputs = _inputs()
    if index is None:
        inputs[field] = value
    else:
        inputs[field] = list(inputs[field])
        inputs[field][index] = value
    assert not params.accepts(inputs)


def test_edge_values_in_range_are_accepted(params):
    inputs = _inputs()
    inputs["imrBps"] = [10**4, 2]
    inputs["mmrBps"] = [10**4 - 1, 1]
    inputs["makerFeePpm"] = [0, 10**6]
    inputs["tickSize"] = [1, 2**40 - 1]
    assert params.accepts(inputs)
