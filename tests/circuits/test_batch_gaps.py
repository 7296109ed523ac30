"""The two gaps an independent review demonstrated in Batch, now closed.

Each test builds the consistent malicious witness of the review (inputs a cheating
operator would choose, every opening and root repaired, every other signal computed by the
circuit: tests/circuits/cheat.py), shows that the circuit *without* the fix (a mutant with
exactly the new constraints removed: tests/circuits/mutants.py) accepts it, that the
circuit with the fix rejects it at the new constraint and nowhere else, and that the
Python model refuses the same batch. Default instance ``Batch(4, 2, 2, 4, 2, 2)``,
``--O0``.

Gap 1: the fee account's running collateral was range-checked only at the end of the
batch (Batch check (9b) now bounds it after every fill).
Gap 2: fills could appear in any order, so the margin rule was checked along a path the
operator picks (Batch check (6a) now makes the taker entry indices of the used fills
non-decreasing, with the used fills first).
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from prover.crypto.eddsa import PrivateKey
from prover.exchange.batch import BatchBuilder, BatchResult
from prover.exchange.constants import FEE_ACCOUNT, SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import Market, Order, OrderRejected, Reject, SignedOrder
from prover.exchange.margin import legal_transition, margin, margin_of
from prover.exchange.state import ExchangeState
from tests.circuits import mutants
from tests.circuits.cheat import inputs_of, repair, swap_entries, swap_fills
from tests.circuits.conftest import BATCH, PUBLIC
from tests.circuits.harness import Circuit, compile_main
from tests.circuits.scenario import CONFIG, MARKETS, D, S
from tests.venue import dev_state, prices

KEY_F = PrivateKey.from_seed("gap-fee-operator")
KEYS = {FEE_ACCOUNT: KEY_F, **{i: PrivateKey.from_seed(f"gap-trader-{i}") for i in (2, 3)}}
MARK = 1000


def _order(account: int, side: int, size: int, order_id: int, tif: int, cap: int) -> Order:
    return Order(account, 0, side, 1000, size, order_id, 10**6, cap, tif)


def _sign(order: Order) -> SignedOrder:
    return SignedOrder.sign(order, KEYS[order.account])


def _batch(state: ExchangeState, n: int, orders, fills=()) -> BatchResult:
    builder = BatchBuilder(state, CONFIG, prices(n, 1000 * (n + 1), (MARK, MARK), (0, 0)))
    for o in orders:
        builder.add_entry(_sign(o))
    for taker, maker, qty in fills:
        builder.add_fill(taker.ref, maker.ref, qty)
    return builder.seal()


def _mutant(*cuts: str) -> Circuit:
    """Batch compiled without the given source text (the circuit before the fix)."""
    cut = [mutants.replace("main/Batch.circom", c) for c in cuts]
    return compile_main(*BATCH, public=PUBLIC, optimize=0, sources=mutants.apply(*cut))


# --- gap 1: the fee account's collateral after every fill -------------------------------

FEE_MARKETS = (Market(0, 10, 1000, 500, 0, 100_000), MARKETS[1])  # taker fee 10 %
FEE_START = 2**63 - 50
F_BID = _order(FEE_ACCOUNT, SIDE_BUY, 1, 1, TIF_GTC, 100_000)
X_BID = _order(2, SIDE_BUY, 1, 1, TIF_GTC, 100_000)
T_SELL = _order(3, SIDE_SELL, 2, 1, TIF_IOC, 100_000)


@lru_cache(maxsize=1)
def _fee_case() -> tuple[ExchangeState, BatchResult]:
    """The fee account (collateral 2^63 - 50) and trader 2 rest a 1-lot bid each at 1,000;
    trader 3 sells 2 lots into both with an IOC, paying a 10 % taker fee (100 per fill).
    Filling the fee account's bid first (it pays 1,000, then collects 100 and 100) keeps
    its collateral below 2^63 all the way: 2^63 - 950, then 2^63 - 850."""
    state = dev_state(FEE_MARKETS, D, S, fee_pubkey=KEY_F.public_key)
    state.deposit(FEE_ACCOUNT, FEE_START)
    for index in (2, 3):
        state.create_account(index, KEYS[index].public_key, 10**9)
    pre = _batch(state, 0, [F_BID, X_BID]).state
    return pre, _batch(pre, 1, [T_SELL], [(T_SELL, F_BID, 1), (T_SELL, X_BID, 1)])


def test_fee_account_overflow_between_fills_is_refused_by_the_model():
    """The other order of the same two fills takes the fee account to 2^63 + 50 after the
    first (100 of fees, before it pays for its own bid): the model refuses it."""
    pre, _ = _fee_case()
    builder = BatchBuilder(pre, CONFIG, prices(1, 2000, (MARK, MARK), (0, 0)))
    builder.add_entry(_sign(T_SELL))
    with pytest.raises(OrderRejected, match="fee account: collateral would reach 2"):
        builder.add_fill(T_SELL.ref, X_BID.ref, 1)


@pytest.fixture(scope="module")
def fee_overflow(batch0):
    """The swapped batch as a consistent witness: the fills of one taker entry may come in
    either order (check (6a) holds), so only the fee account's range can object."""
    pre, honest = _fee_case()
    inputs = repair(batch0, pre, swap_fills(inputs_of(honest), 0, 1))
    w = batch0.witness(inputs)
    assert w["coll[1][0]"] == 2**63 + 50 and w["coll[2][0]"] == FEE_START - 1000 + 200
    return inputs


@pytest.mark.slow  # compiles the batch as it was before the fix
def test_fee_account_overflow_between_fills_was_accepted_before_the_fix(fee_overflow):
    old = _mutant(
        """        feeCollRange[f] = SignedRange(COLLATERAL_BITS());
        feeCollRange[f].in <== coll[f + 1][FEE_ACCOUNT()];
""",
        "    component feeCollRange[B];\n",
    )
    w = old.witness(fee_overflow)
    assert w.ok, w.violations()[:3]


def test_fee_account_overflow_between_fills_is_rejected_by_its_range(batch0, fee_overflow):
    batch0.witness(fee_overflow).assert_rejected_only_by("feeCollRange[0]")


# --- gap 2: fills follow the order of entries ---------------------------------------------

A, B_ = 2, 3
A_ASK = _order(A, SIDE_SELL, 100, 2, TIF_GTC, 1000)  # rests in batch 1
B_ASK = _order(B_, SIDE_SELL, 100, 2, TIF_GTC, 1000)
A_BUY = _order(A, SIDE_BUY, 100, 3, TIF_IOC, 1000)  # batch 2: takes B's ask
B_BUY = _order(B_, SIDE_BUY, 100, 3, TIF_IOC, 1000)  # batch 2: takes A's ask


@lru_cache(maxsize=1)
def _order_case() -> tuple[ExchangeState, BatchResult]:
    """A is long 100 (value 15,000 against an initial requirement of 10,000); both A and B
    rest a 100-lot ask. In the batch, B's buy takes A's ask (A is flat) and then A's buy
    takes B's ask (A is long 100 again): legal in this order, entries in this order."""
    state = dev_state(MARKETS, D, S)
    state.create_account(A, KEYS[A].public_key, 15_050)
    state.create_account(B_, KEYS[B_].public_key, 10**9)
    w0 = _order(B_, SIDE_SELL, 100, 1, TIF_GTC, 1000)
    a0 = _order(A, SIDE_BUY, 100, 1, TIF_IOC, 1000)
    state = _batch(state, 0, [w0, a0], [(a0, w0, 100)]).state
    pre = _batch(state, 1, [A_ASK, B_ASK]).state
    builder = BatchBuilder(pre, CONFIG, prices(2, 3000, (MARK, MARK), (0, 0)))
    builder.add_entry(_sign(B_BUY))
    builder.add_fill(B_BUY.ref, A_ASK.ref, 100)
    builder.add_entry(_sign(A_BUY))
    builder.add_fill(A_BUY.ref, B_ASK.ref, 100)
    return pre, builder.seal()


def test_the_takers_fill_alone_breaks_the_margin_rule():
    """With A's buy entered first, its fill comes first: A would be long 200 with value
    14,950 against 20,000. The model refuses A's order (pre-trade) and its fill."""
    pre, _ = _order_case()
    a = pre.account(A)
    after = margin_of(a.collateral - 100_000 - 50, [200, 0], MARKETS, (MARK, MARK))
    assert not legal_transition(margin(a, MARKETS, (MARK, MARK)), after)
    builder = BatchBuilder(pre, CONFIG, prices(2, 3000, (MARK, MARK), (0, 0)))
    with pytest.raises(OrderRejected) as refused:
        builder.add_entry(_sign(A_BUY))
    assert refused.value.reason == Reject.INSUFFICIENT_MARGIN


def test_fills_out_of_entry_order_are_refused_by_the_model():
    """Two buys of B (entries 0 and 1) against A's ask: entry 1's fill first, then entry
    0's is refused (each fill alone is legal)."""
    pre, _ = _order_case()
    later = _order(B_, SIDE_BUY, 1, 4, TIF_IOC, 1000)
    builder = BatchBuilder(pre, CONFIG, prices(2, 3000, (MARK, MARK), (0, 0)))
    builder.add_entry(_sign(B_BUY))
    builder.add_entry(_sign(later))
    builder.add_fill(later.ref, A_ASK.ref, 1)
    with pytest.raises(OrderRejected, match="fills follow the order of entries") as refused:
        builder.add_fill(B_BUY.ref, A_ASK.ref, 1)
    assert refused.value.reason == Reject.MALFORMED


@pytest.fixture(scope="module")
def reordered(batch0):
    """The review's witness: entries in arrival order (A's buy first), fills in the order
    that passes the margin rule (B's first): fill 0 names entry 1, fill 1 entry 0."""
    pre, honest = _order_case()
    inputs = swap_entries(inputs_of(honest), 0, 1)
    assert inputs["fillTakerEntry"] == ["1", "0"]
    return repair(batch0, pre, inputs)


@pytest.mark.slow  # compiles the batch as it was before the fix
def test_fills_out_of_entry_order_were_accepted_before_the_fix(reordered):
    old = _mutant(
        """        fillUsed[f + 1] * (1 - fillUsed[f]) === 0;
        fillOrder[f] = UnsignedRange(SEQ_ENTRY_BITS());
        fillOrder[f].in <== fillUsed[f + 1] * (fillTakerEntry[f + 1] - fillTakerEntry[f]);
""",
        "    component fillOrder[B];\n",
    )
    w = old.witness(reordered)
    assert w.ok, w.violations()[:3]


def test_fills_out_of_entry_order_are_rejected_by_the_order_rule(batch0, reordered):
    batch0.witness(reordered).assert_rejected_only_by("fillOrder[0]")


def test_used_fill_after_padding_is_rejected(batch0):
    """The used fills come first: a real fill moved behind a padding slot (the model's
    padding fill names entry 0, so the entry order itself still holds)."""
    pre, _ = _fee_case()
    single = BatchBuilder(pre, CONFIG, prices(1, 2000, (MARK, MARK), (0, 0)))
    single.add_entry(_sign(T_SELL))
    single.add_fill(T_SELL.ref, F_BID.ref, 1)
    inputs = swap_fills(inputs_of(single.seal()), 0, 1)
    assert inputs["fillUsed"] == ["0", "1"]
    w = batch0.witness(repair(batch0, pre, inputs))
    w.assert_rejected_only_by("fillUsed[0]", "fillUsed[1]")
