"""Shared helpers for the engine, store and sim tests: a small venue with signing traders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prover.crypto import eddsa
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC
from prover.exchange.domain import (
    BatchConfig,
    Cancel,
    Market,
    Order,
    PriceSet,
    SignedCancel,
    SignedOrder,
)
from prover.exchange.engine import Engine
from prover.exchange.state import ExchangeState
from tests.venue import dev_state
from tests.venue import prices as signed_prices

# Market 0: tick 1, IMR 10 %, MMR 5 %, maker 200 ppm, taker 500 ppm.
# Market 1: tick 10, IMR 20 %, MMR 10 %, maker 0, taker 1000 ppm.
MARKETS = (Market(0, 1, 1000, 500, 200, 500), Market(1, 10, 2000, 1000, 0, 1000))
MARKS = (100, 1000)
ACCOUNT_BITS = 4
SLOT_BITS = 4
FAR = 10**9
BUY, SELL = SIDE_BUY, SIDE_SELL


@cache
def key_of(account: int) -> bytes:
    return eddsa.derive_private_key(f"zkmatch-test:{account}")


@dataclass
class Trader:
    account: int

    @property
    def key(self) -> bytes:
        return key_of(self.account)

    def order(
        self,
        side: int,
        price: int,
        size: int,
        order_id: int,
        *,
        tif: int = TIF_GTC,
        market: int = 0,
        expiry: int = FAR,
        max_fee_ppm: int = 1000,
    ) -> SignedOrder:
        o = Order(self.account, market, side, price, size, order_id, expiry, max_fee_ppm, tif)
        return SignedOrder.sign(o, self.key)

    def cancel(self, order_id: int) -> SignedCancel:
        return SignedCancel.sign(Cancel.for_order(self.account, order_id, SLOT_BITS), self.key)


def make_state(deposits: dict[int, int]) -> ExchangeState:
    state = dev_state(MARKETS, ACCOUNT_BITS, SLOT_BITS)
    for index, amount in sorted(deposits.items()):
        state.create_account(index, eddsa.public_key(key_of(index)), amount)
    return state


def prices(n: int, marks: tuple[int, ...] = MARKS) -> PriceSet:
    return signed_prices(n, 1000 + n, marks, (0,) * len(marks))


def config(accounts: int = 8, entries: int = 16, fills: int = 16) -> BatchConfig:
    return BatchConfig(ACCOUNT_BITS, SLOT_BITS, len(MARKETS), accounts, entries, fills)


def make_engine(
    deposits: dict[int, int] | None = None, *, cfg: BatchConfig | None = None, **kw: object
) -> Engine:
    state = make_state(deposits if deposits is not None else {2: 10**6, 3: 10**6, 4: 10**6})
    return Engine(state, MARKETS, cfg or config(), kw.pop("prices", prices), **kw)  # type: ignore[arg-type]
