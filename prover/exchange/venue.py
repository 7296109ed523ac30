"""The venue's registered configuration and its hash (public input [3] of every batch).

Pure. The markets, each market's funding-rate cap and the price feed's key: what the
Rollup registers and the batch circuit's ``configHash`` binds (docs/settlement.md).
``Rollup._register`` computes the same value on chain with circomlibjs's Poseidon
contracts, which are circomlib's ``Poseidon(n)`` with a zero capacity; so the domain tag is
the first *input* here (the rest of zkmatch puts its tags in the capacity)::

    h_0       = Poseidon(TAG_CONFIG, feedKeyX, feedKeyY)
    packed_m  = tickSize + imrBps * 2^40 + mmrBps * 2^54 + makerFeePpm * 2^68
                + takerFeePpm * 2^88 + fundingRateCap * 2^108          (< 2^172)
    h_{m+1}   = Poseidon(TAG_CONFIG_MARKET, h_m, packed_m)
    h_markets  = h_M
    configHash = Poseidon(TAG_CONFIG_OPERATOR, h_markets, Poseidon(TAG_OPERATOR_KEY, Ox, Oy))

where ``(Ox, Oy)`` is the operator's Baby Jubjub key, the one inbox messages are encrypted
to (docs/inbox.md): the batch circuit proves the operator's secret scalar matches it, so a
proof can only come from whoever can read the inbox.

Packing the six fields of a market into one element (each is range-bound to its width:
40, 14, 14, 20, 20 and 64 bits) costs the circuit nothing and saves it a wide Poseidon per
market; the contract needs only circomlibjs's Poseidon(3).

A test checks the contract and this module agree (tests/chain/test_rollup.py), another
that the circuit's BatchParams does (tests/circuits/test_batch_params.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from prover.crypto.eddsa import PrivateKey
from prover.crypto.poseidon_hash import poseidon
from prover.errors import ProtocolError
from prover.exchange.constants import (
    FUNDING_CAP_BITS,
    FUNDING_RATE_SCALE,
    MAX_MARKETS,
    TAG_CONFIG,
    TAG_CONFIG_MARKET,
    TAG_CONFIG_OPERATOR,
    TAG_OPERATOR_KEY,
)
from prover.exchange.domain import Market
from prover.field import SNARK_FIELD

#: ``Rollup.Market``'s fields, in order.
MARKET_FIELDS = ("tickSize", "imrBps", "mmrBps", "makerFeePpm", "takerFeePpm", "fundingRateCap")
#: ``fundingRateCap`` is a ``uint64`` on chain.
FUNDING_CAP_LIMIT = 1 << FUNDING_CAP_BITS
#: The development price feed's seed (scenarios, benchmarks, tests): its key is public
#: knowledge, so anyone can sign prices with it; a real venue registers its feed's key.
DEV_FEED_SEED = "zkmatch-demo-feed"
#: The development operator's seed (simulations, tests): its inbox key is public knowledge,
#: so anyone can read what is sent to it; a real venue's operator makes its own key
#: (``zkmatch deploy`` writes ``keys/operator-babyjub.key``).
DEV_OPERATOR_SEED = "zkmatch-dev-operator"
DEV_OPERATOR = PrivateKey.from_seed(DEV_OPERATOR_SEED)
DEV_OPERATOR_KEY: tuple[int, int] = DEV_OPERATOR.public_key

#: A funding-rate cap where none is given: 0.1 % of the mark per second.
DEFAULT_FUNDING_CAP = 1_000_000


@dataclass(frozen=True)
class VenueConfig:
    """Markets (in id order), each one's funding-rate cap, the price feed's key and the
    operator's inbox key (the development operator's unless given).

    ``funding_caps[m]``: the most market ``m``'s funding index may move per second, in
    ``10^-9`` of the mark.
    """

    markets: tuple[Market, ...]
    funding_caps: tuple[int, ...]
    feed_key: tuple[int, int]
    operator_key: tuple[int, int] = DEV_OPERATOR_KEY

    def __post_init__(self) -> None:
        object.__setattr__(self, "markets", tuple(self.markets))
        object.__setattr__(self, "funding_caps", tuple(self.funding_caps))
        object.__setattr__(self, "feed_key", tuple(self.feed_key))
        object.__setattr__(self, "operator_key", cast(tuple[int, int], tuple(self.operator_key)))
        if not 1 <= len(self.markets) <= MAX_MARKETS:
            raise ProtocolError(f"a rollup registers 1 to {MAX_MARKETS} markets")
        if [m.id for m in self.markets] != list(range(len(self.markets))):
            raise ProtocolError("markets must be registered in id order 0, 1, ...")
        if len(self.funding_caps) != len(self.markets):
            raise ProtocolError(
                f"{len(self.markets)} markets but {len(self.funding_caps)} funding caps"
            )
        for m, cap in enumerate(self.funding_caps):
            if (
                isinstance(cap, bool)
                or not isinstance(cap, int)
                or not 0 <= cap < FUNDING_CAP_LIMIT
            ):
                raise ProtocolError(f"funding cap of market {m} must be in [0, 2^64)")
        if len(self.feed_key) != 2 or not all(0 <= c < SNARK_FIELD for c in self.feed_key):
            raise ProtocolError("the feed key is two field elements (x, y)")
        if len(self.operator_key) != 2 or not all(0 <= c < SNARK_FIELD for c in self.operator_key):
            raise ProtocolError("the operator key is two field elements (x, y)")

    def packed(self, m: int) -> int:
        """Market ``m``'s six registered fields as one element (below 2^172)."""
        k = self.markets[m]
        return (
            k.tick_size
            | k.imr_bps << 40
            | k.mmr_bps << 54
            | k.maker_fee_ppm << 68
            | k.taker_fee_ppm << 88
            | self.funding_caps[m] << 108
        )

    def markets_hash(self) -> int:
        """``h_markets``: the feed key and the markets (BatchParams' ``configHash``)."""
        h = poseidon([TAG_CONFIG, *self.feed_key])
        for m in range(len(self.markets)):
            h = poseidon([TAG_CONFIG_MARKET, h, self.packed(m)])
        return int(h)

    def operator_key_hash(self) -> int:
        return int(poseidon([TAG_OPERATOR_KEY, *self.operator_key]))

    def hash(self) -> int:
        """Public input [3], ``configHash``: the markets and the operator's inbox key."""
        return int(poseidon([TAG_CONFIG_OPERATOR, self.markets_hash(), self.operator_key_hash()]))

    def check_funding(
        self, m: int, previous: int, index: int, mark: int, elapsed: int
    ) -> bool:
        """Whether market ``m``'s index may move from ``previous`` to ``index`` in
        ``elapsed`` seconds at ``mark``: ``|index - previous| * 10^9 <= cap * mark * dt``."""
        return abs(index - previous) * FUNDING_RATE_SCALE <= (
            self.funding_caps[m] * mark * elapsed
        )

    def as_contract_args(self) -> tuple[int, int, list[tuple[int, ...]]]:
        """``(feedKeyX, feedKeyY, Market[])`` as ``Rollup`` takes them."""
        return (
            self.feed_key[0],
            self.feed_key[1],
            [(*m.fields(), cap) for m, cap in zip(self.markets, self.funding_caps, strict=True)],
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "markets": [m.to_json() for m in self.markets],
            "funding_caps": [str(c) for c in self.funding_caps],
            "feed_key": [str(c) for c in self.feed_key],
            "operator_key": [str(c) for c in self.operator_key],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> VenueConfig:
        try:
            return cls(
                tuple(Market.from_json(m) for m in data["markets"]),
                tuple(int(c) for c in data["funding_caps"]),
                (int(data["feed_key"][0]), int(data["feed_key"][1])),
                (int(data["operator_key"][0]), int(data["operator_key"][1]))
                if "operator_key" in data
                else DEV_OPERATOR_KEY,
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ProtocolError(f"malformed rollup configuration: {exc}") from exc

    @classmethod
    def from_contract(
        cls,
        feed_key: Sequence[int],
        markets: Sequence[Any],
        operator_key: Sequence[int] = DEV_OPERATOR_KEY,
    ) -> VenueConfig:
        """From ``Rollup.feedKeyX/Y``, ``Rollup.markets()`` (or a ConfigRegistered event,
        whose structs web3.py decodes as mappings) and ``Rollup.operatorKeyX/Y``."""
        markets = [
            [row[name] for name in MARKET_FIELDS] if isinstance(row, Mapping) else row
            for row in markets
        ]
        return cls(
            tuple(Market(m, *map(int, row[:5])) for m, row in enumerate(markets)),
            tuple(int(row[5]) for row in markets),
            (int(feed_key[0]), int(feed_key[1])),
            (int(operator_key[0]), int(operator_key[1])),
        )


def batch_info(batch_number: int, previous_timestamp: int, timestamp: int) -> int:
    """Public input [2]: ``n * 2^80 + tPrev * 2^40 + t`` (each below 2^40)."""
    for value, what in (
        (batch_number, "batch number"),
        (previous_timestamp, "previous time"),
        (timestamp, "timestamp"),
    ):
        if not 0 <= value < 1 << 40:
            raise ProtocolError(f"{what} {value} is not below 2^40")
    return (batch_number << 80) | (previous_timestamp << 40) | timestamp


def development_venue(
    markets: Sequence[Market],
    cap: int = DEFAULT_FUNDING_CAP,
    seed: str = DEV_FEED_SEED,
    operator_key: Sequence[int] = DEV_OPERATOR_KEY,
) -> tuple[VenueConfig, PrivateKey]:
    """A venue of ``markets`` with one cap for all and the development feed (and its key,
    to sign prices with): for simulations, benchmarks and tests, never for real funds."""
    feed = PrivateKey.from_seed(seed)
    key = (int(operator_key[0]), int(operator_key[1]))
    venue = VenueConfig(tuple(markets), (cap,) * len(markets), feed.public_key, key)
    return venue, feed


__all__ = [
    "DEFAULT_FUNDING_CAP",
    "DEV_FEED_SEED",
    "DEV_OPERATOR",
    "DEV_OPERATOR_KEY",
    "DEV_OPERATOR_SEED",
    "FUNDING_RATE_SCALE",
    "TAG_CONFIG",
    "TAG_CONFIG_MARKET",
    "VenueConfig",
    "batch_info",
    "development_venue",
]
