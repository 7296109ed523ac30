"""Margin (docs/protocol.md, section 8), in integers only.

With the batch's mark prices ``mark_m``::

    V  = C + sum_m P_m * mark_m
    IR = sum_m |P_m * mark_m| * imrBps_m        (scaled by MARGIN_SCALE = 10^4)
    MR = sum_m |P_m * mark_m| * mmrBps_m

8.1 A fill is legal for an account iff afterwards ``V' * 10^4 >= IR'``, **or** it
    reduced risk without lowering value over risk: ``MR' < MR`` and
    ``V' * MR >= V * MR'`` (primes: after the fill).
8.2 An account is liquidatable when ``V * 10^4 < MR``.
8.3 (Operator pre-trade check, section 5, not proven.) An order may rest only if
    the account would pass 8.1 had the order filled completely at its limit price,
    paying the highest fee rate it could pay.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prover.errors import ProtocolError
from prover.exchange.constants import COLLATERAL_BITS, MARGIN_SCALE, POSITION_BITS, SIDE_BUY
from prover.exchange.domain import Account, Market, Order, fee_for


@dataclass(frozen=True)
class MarginState:
    """``V``, ``IR`` and ``MR`` of one account at given marks."""

    value: int
    initial: int
    maintenance: int

    @property
    def meets_initial(self) -> bool:
        """``V * 10^4 >= IR``."""
        return self.value * MARGIN_SCALE >= self.initial

    @property
    def liquidatable(self) -> bool:
        """8.2: ``V * 10^4 < MR``."""
        return self.value * MARGIN_SCALE < self.maintenance


def _check(markets: Sequence[Market], marks: Sequence[int], n: int) -> None:
    if len(markets) != n or len(marks) != n:
        raise ProtocolError(
            f"account has {n} positions but there are {len(markets)} markets and {len(marks)} marks"
        )


def margin_of(
    collateral: int, sizes: Sequence[int], markets: Sequence[Market], marks: Sequence[int]
) -> MarginState:
    """``(V, IR, MR)`` of collateral ``C`` and positions ``P_m``."""
    _check(markets, marks, len(sizes))
    value = collateral
    initial = 0
    maintenance = 0
    for size, market, mark in zip(sizes, markets, marks, strict=True):
        exposure = size * mark
        value += exposure
        magnitude = abs(exposure)
        initial += magnitude * market.imr_bps
        maintenance += magnitude * market.mmr_bps
    return MarginState(value, initial, maintenance)


def margin(account: Account, markets: Sequence[Market], marks: Sequence[int]) -> MarginState:
    """``(V, IR, MR)`` of ``account``."""
    return margin_of(account.collateral, [p.size for p in account.positions], markets, marks)


def value(account: Account, marks: Sequence[int]) -> int:
    """``V = C + sum_m P_m * mark_m``."""
    if len(marks) != len(account.positions):
        raise ProtocolError("one mark per market")
    exposure = sum(p.size * m for p, m in zip(account.positions, marks, strict=True))
    return account.collateral + exposure


def initial_requirement(account: Account, markets: Sequence[Market], marks: Sequence[int]) -> int:
    """``IR`` (scaled by 10^4)."""
    return margin(account, markets, marks).initial


def maintenance_requirement(
    account: Account, markets: Sequence[Market], marks: Sequence[int]
) -> int:
    """``MR`` (scaled by 10^4)."""
    return margin(account, markets, marks).maintenance


def legal_transition(before: MarginState, after: MarginState) -> bool:
    """8.1 on precomputed margins."""
    if after.meets_initial:
        return True
    return (
        after.maintenance < before.maintenance
        and after.value * before.maintenance >= before.value * after.maintenance
    )


def fill_is_legal(
    before: Account, after: Account, markets: Sequence[Market], marks: Sequence[int]
) -> bool:
    """8.1: ``V' * 10^4 >= IR'``, or ``MR' < MR`` and ``V' * MR >= V * MR'``."""
    return legal_transition(margin(before, markets, marks), margin(after, markets, marks))


def weighed_fill_ok(
    collateral_before: int,
    sizes_before: Sequence[int],
    collateral_after: int,
    sizes_after: Sequence[int],
    markets: Sequence[Market],
    marks: Sequence[int],
) -> bool:
    """A fill the matching rules weigh before making it (docs/book.md, rules 3 and 4):
    the state after it is writable (``|C'| < 2^63``, every ``|P'_m| < 2^40``) and 8.1 holds.
    The circuit's MarginBit; a ``False`` is a failure the rules act on, not an error."""
    if abs(collateral_after) >= 1 << COLLATERAL_BITS:
        return False
    if any(abs(size) >= 1 << POSITION_BITS for size in sizes_after):
        return False
    return legal_transition(
        margin_of(collateral_before, sizes_before, markets, marks),
        margin_of(collateral_after, sizes_after, markets, marks),
    )


def liquidatable(account: Account, markets: Sequence[Market], marks: Sequence[int]) -> bool:
    """8.2: ``V * 10^4 < MR``."""
    return margin(account, markets, marks).liquidatable


def pretrade_check(
    account: Account,
    order: Order,
    markets: Sequence[Market],
    marks: Sequence[int],
    *,
    filled: int = 0,
) -> bool:
    """8.3: would ``account`` pass 8.1 had ``order`` filled its remaining ``size - filled``
    lots at its limit price, paying the highest fee rate it could pay?"""
    if not 0 <= order.market < len(markets):
        raise ProtocolError(f"order market {order.market} does not exist")
    market = markets[order.market]
    qty = order.size - filled
    if qty <= 0:
        return True
    notional = qty * order.price
    fee = fee_for(notional, market.fee_cap_needed(order.tif))
    signed_qty = qty if order.side == SIDE_BUY else -qty
    sizes = [p.size for p in account.positions]
    sizes[order.market] += signed_qty
    collateral = account.collateral - signed_qty * order.price - fee
    before = margin(account, markets, marks)
    after = margin_of(collateral, sizes, markets, marks)
    return legal_transition(before, after)


__all__ = [
    "MarginState",
    "fill_is_legal",
    "initial_requirement",
    "legal_transition",
    "liquidatable",
    "maintenance_requirement",
    "margin",
    "margin_of",
    "pretrade_check",
    "value",
]
