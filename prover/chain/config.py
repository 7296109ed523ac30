"""The Rollup's view of the venue configuration, and the packing of public input [2].

:class:`RollupConfig` is :class:`prover.exchange.venue.VenueConfig` (markets, funding caps,
feed key, operator key, and the ``configHash`` the contract computes).
"""

from __future__ import annotations

from prover.exchange.venue import TAG_CONFIG, TAG_CONFIG_MARKET, VenueConfig, batch_info

RollupConfig = VenueConfig


__all__ = ["TAG_CONFIG", "TAG_CONFIG_MARKET", "RollupConfig", "batch_info"]
