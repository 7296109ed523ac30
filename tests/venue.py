"""The development venue for tests: every state the batch builder uses has one, and every
price set is signed by its feed (prover/exchange/venue.py, ``development_venue``).

``dev_state(...)`` is ``ExchangeState(...)`` with the development venue of its markets;
``prices(...)`` is ``PriceSet(...)`` signed by the development feed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prover.crypto.eddsa import PrivateKey
from prover.exchange.domain import Market, PriceSet
from prover.exchange.state import ExchangeState
from prover.exchange.venue import DEV_FEED_SEED, development_venue

FEED = PrivateKey.from_seed(DEV_FEED_SEED)


def dev_state(markets: Sequence[Market], *args: Any, **kwargs: Any) -> ExchangeState:
    venue, _ = development_venue(markets)
    return ExchangeState(markets, *args, venue=venue, **kwargs)


def prices(*args: Any, **kwargs: Any) -> PriceSet:
    return PriceSet(*args, **kwargs).signed(FEED)
