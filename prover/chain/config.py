"""The Rollup's view of the venue configuration, and the packing of public input [2].

:class:`RollupConfig` is :class:`prover.exchange.venue.VenueConfig` (markets, funding caps,
feed key, and the ``configHash`` the contract computes).
"""

from __future__ import annotations

from prover.errors import ProtocolError
from prover.exchange.venue import TAG_CONFIG, TAG_CONFIG_MARKET, VenueConfig

RollupConfig = VenueConfig


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


__all__ = ["TAG_CONFIG", "TAG_CONFIG_MARKET", "RollupConfig", "batch_info"]
