"""BatchParams(M): the Rollup's public inputs (batchInfo, configHash) as the model and the
contract compute them, the feed's signature on the prices, the funding cap, every range.

Tampers are consistent: each changes what a cheating operator would change and, where the
prices change, has the feed sign them (as if the feed colluded), so the only constraint
broken is the rule's own; the signature tests leave everything else honest.
"""

from __future__ import annotations

from typing import Any

import pytest

from prover.crypto import poseidon
from prover.crypto.eddsa import PrivateKey
from prover.exchange.constants import TAG_PRICES
from prover.exchange.domain import PriceSet
from prover.exchange.venue import VenueConfig
from prover.field import SNARK_FIELD, encode_signed
from tests.circuits.harness import compile_main, expect_count
from tests.circuits.scenario import MARKETS

P = SNARK_FIELD
FEED = PrivateKey.from_seed("batch-params-feed")
# Caps at both ends of their range: 0 (the index may not move) and 2^64 - 1.
VENUE = VenueConfig(MARKETS, (0, 2**64 - 1), FEED.public_key)
PREV_T = 1_000
PREV_F = (0, 2**63 - 1)


def _sign(t: int, marks: list[int], funding: list[int], key: PrivateKey = FEED) -> dict:
    """The feed's signature on ``(t, marks, funding)`` (values taken as given, so values a
    PriceSet would refuse can be signed too)."""
    mh = poseidon(list(marks), init_state=TAG_PRICES)
    fh = poseidon([encode_signed(f) for f in funding], init_state=TAG_PRICES)
    sig = key.sign(poseidon([t, mh, fh], init_state=TAG_PRICES))
    return {"feedSigR8x": str(sig.r8[0]), "feedSigR8y": str(sig.r8[1]), "feedSigS": str(sig.s)}


def _inputs(
    n: int = 7,
    prev_t: int = PREV_T,
    t: int = 2**40 - 1,
    marks: tuple[int, ...] = (1, 2**40 - 1),
    funding: tuple[int, ...] = (0, 2**63 - 1),
    prev_f: tuple[int, ...] = PREV_F,
    venue: VenueConfig = VENUE,
    signer: PrivateKey = FEED,
) -> dict[str, Any]:
    x: dict[str, Any] = {
        "batchNumber": str(n),
        "prevTimestamp": str(prev_t),
        "timestamp": str(t),
        "tickSize": [str(m.tick_size) for m in venue.markets],
        "imrBps": [str(m.imr_bps) for m in venue.markets],
        "mmrBps": [str(m.mmr_bps) for m in venue.markets],
        "makerFeePpm": [str(m.maker_fee_ppm) for m in venue.markets],
        "takerFeePpm": [str(m.taker_fee_ppm) for m in venue.markets],
        "fundingCap": [str(c) for c in venue.funding_caps],
        "feedKeyX": str(venue.feed_key[0]),
        "feedKeyY": str(venue.feed_key[1]),
        "mark": [str(v) for v in marks],
        "fundingIndex": [str(encode_signed(f)) for f in funding],
        "prevFunding": [str(encode_signed(f)) for f in prev_f],
    }
    x.update(_sign(t, list(marks), list(funding), signer))
    return x


@pytest.fixture(scope="module")
def params():
    return compile_main("lib/BatchParams.circom", "BatchParams(2)")


@pytest.fixture(scope="module")
def params0():
    return compile_main("lib/BatchParams.circom", "BatchParams(2)", optimize=0)


def test_constraint_count(params):
    expect_count(params, 7153)


def test_public_inputs_are_the_models_and_the_contracts(params):
    """batchInfo packs (n, tPrev, t); configHash is VenueConfig.markets_hash() (which the
    batch then hashes with the operator's key into the Rollup's configHash, VenueConfig.hash(),
    shown equal to the on-chain hash by tests/chain/test_rollup.py)."""
    w = params.witness(_inputs())
    assert w.ok, w.failing()
    assert w["batchInfo"] == (7 << 80) + (PREV_T << 40) + (2**40 - 1)
    assert w["configHash"] == VENUE.markets_hash()
    prices = PriceSet(7, 2**40 - 1, (1, 2**40 - 1), (0, 2**63 - 1)).signed(FEED)
    assert prices.signed_by(FEED.public_key)  # the model's message is the circuit's


def test_a_different_configuration_hashes_differently(params):
    other = VenueConfig(MARKETS, (1, 2**64 - 1), FEED.public_key)
    w = params.witness(_inputs(venue=other))
    assert w.ok and w["configHash"] == other.markets_hash() != VENUE.markets_hash()


@pytest.mark.parametrize(
    ("field", "index", "value", "rule"),
    [
        ("batchNumber", None, 2**40, "nRange"),
        ("prevTimestamp", None, P - 1, "tPrevRange"),  # -1: t - tPrev - 1 is still t
        ("tickSize", 0, 0, "tick[0]"),
        ("tickSize", 0, 2**40, "tickMax[0]"),
        ("mmrBps", 0, 0, "mmrPos[0]"),
        ("mmrBps", 0, 1000, "mmrLtImr[0]"),  # mmr == imr
        ("imrBps", 0, 10**4 + 1, "imrMax[0]"),
        ("makerFeePpm", 0, 10**6 + 1, "makerMax[0]"),
        ("takerFeePpm", 1, P - 1, "takerMin[1]"),
        ("fundingCap", 1, 2**64, "capRange[1]"),
    ],
)
def test_out_of_range_parameter_is_rejected(params0, field, index, value, rule):
    """One parameter one past its range (the hashes recomputed by the circuit): rejected by
    that parameter's own range check and nothing else."""
    inputs = _inputs()
    if index is None:
        inputs[field] = str(value)
    else:
        inputs[field] = list(inputs[field])
        inputs[field][index] = str(value)
    params0.witness(inputs).assert_rejected_only_by(rule)


@pytest.mark.parametrize(
    ("kw", "rule"),
    [
        ({"t": 2**40, "prev_t": 0}, "tRange"),
        ({"t": PREV_T}, "forward"),  # not after the last batch
        ({"marks": (0, 1)}, "markMin[0]"),
        ({"marks": (1, 2**40)}, "markMax[1]"),
        ({"funding": (0, 2**63)}, "fundingRange[1]"),  # moves 1 against a huge cap
    ],
)
def test_out_of_range_prices_are_rejected(params0, kw, rule):
    """Prices (or time) out of range, signed by the feed: only the range check refuses."""
    args = {"t": 2**40 - 1, **kw}
    if "marks" in kw and "funding" not in kw:
        args["funding"] = PREV_F
    inputs = _inputs(**args)
    params0.witness(inputs).assert_rejected_only_by(rule)


def test_prices_signed_by_another_key_are_rejected(params0):
    """The operator signs the prices itself: only the feed's signature check refuses."""
    inputs = _inputs(signer=PrivateKey.from_seed("the operator"))
    params0.witness(inputs).assert_rejected_only_by("signature")


def test_the_feeds_signature_on_other_prices_is_rejected(params0):
    """The feed's signature on the honest marks, with mark[1] lowered by one."""
    inputs = _inputs()
    inputs["mark"] = [inputs["mark"][0], str(2**40 - 2)]
    params0.witness(inputs).assert_rejected_only_by("signature")


def test_the_feeds_signature_for_another_time_is_rejected(params0):
    inputs = _inputs()
    inputs["timestamp"] = str(2**40 - 2)
    params0.witness(inputs).assert_rejected_only_by("signature")


def _capped(dt: int, mark: int, move: int, cap: int = 10**6) -> dict[str, Any]:
    venue = VenueConfig(MARKETS, (cap, 2**64 - 1), FEED.public_key)
    return _inputs(prev_t=PREV_T, t=PREV_T + dt, marks=(mark, 1), funding=(-5 + move, 0),
                   prev_f=(-5, 0), venue=venue)


@pytest.mark.parametrize("sign", [1, -1])
def test_funding_moves_up_to_its_cap_and_no_further(params, params0, sign):
    """Cap 10^6 (0.1 % of the mark per second), mark 3000, 7 s: |dF| <= 21."""
    assert params.accepts(_capped(7, 3000, sign * 21))
    params0.witness(_capped(7, 3000, sign * 22)).assert_rejected_only_by("capBound[0]")


def test_a_zero_cap_freezes_the_index(params, params0):
    assert params.accepts(_capped(100, 3000, 0, cap=0))
    params0.witness(_capped(100, 3000, 1, cap=0)).assert_rejected_only_by("capBound[0]")


def test_the_largest_moves_stay_exact(params):
    """|dF| near 2^64 against the largest allowance (cap 2^64 - 1, mark and dt 2^40 - 1):
    the bound's two sides are below 2^144, nothing wraps."""
    inputs = _inputs(prev_t=0, t=2**40 - 1, marks=(1, 2**40 - 1),
                     funding=(0, 2**63 - 1), prev_f=(0, -(2**63 - 1)))
    assert params.accepts(inputs)


def test_edge_values_in_range_are_accepted(params):
    """Every market parameter at both ends of its range."""
    for n, fees in ((2**40 - 1, [0, 10**6]), (0, [10**6, 0])):
        inputs = _inputs(n=n)
        inputs["imrBps"] = ["10000", "2"]
        inputs["mmrBps"] = ["9999", "1"]
        inputs["makerFeePpm"] = [str(f) for f in fees]
        inputs["takerFeePpm"] = [str(f) for f in fees[::-1]]
        inputs["tickSize"] = ["1", str(2**40 - 1)]
        assert params.accepts(inputs)
    assert params.accepts(_inputs(prev_t=0, t=1))


def test_the_cap_bound_reads_the_products_it_should(params0):
    """The allowance the cap bound compares with is cap * mark * (t - tPrev), computed by the
    circuit itself (a prover free to choose `capMark` or `allowance` would allow any move;
    mutation testing found that the boundary tests alone do not notice a product off by a
    little)."""
    w = params0.witness(_capped(7, 3000, 21))
    assert w.ok
    assert w["capMark[0]"] == 10**6 * 3000
    assert w["allowance[0]"] == 10**6 * 3000 * 7
    assert w["moveRange[0].abs"] == 21
