"""BookBatchBuilder (prover/exchange/bookbatch.py): the operator gives messages, the
builder matches each valid order by the rules and opens the makers it meets; batches
chain (the books and order slots carried), and every batch's witness is accepted by
BatchBook with the roots the model computes.

The property test runs random flows (three traders, both sides, every time in force,
cancels, orders that expire between batches, slots reused by later ids) through the
builder and through an independent price-time reference (the sorted-list matcher of
tests/exchange/test_matching.py, here fed from its own record of every order's slot,
size and expiry), and compares every taker's steps and outcome and both books after
every message; each sealed batch is proven (its witness satisfies BatchBook) and its
old root is the previous batch's new root.
"""

from __future__ import annotations

import random

import pytest

from prover.crypto.eddsa import PrivateKey
from prover.errors import ProtocolError
from prover.exchange.bookbatch import BookBatchBuilder
from prover.exchange.booktree import Books, book_ref, order_rank, ref_parts
from prover.exchange.constants import (
    SIDE_BUY,
    SIDE_SELL,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
)
from prover.exchange.domain import (
    BatchConfig,
    BatchFull,
    Cancel,
    OrderSlot,
    SignedCancel,
    SignedOrder,
    make_seq,
)
from prover.exchange.matching import Outcome, StepKind, Taker
from tests.circuits.harness import compile_main
from tests.circuits.scenario import MARKETS, order
from tests.circuits.test_batch_book import BB, CL, INSTANCE
from tests.exchange.test_matching import reference_match
from tests.venue import dev_state, prices

F = 2
BATCHES = 8
KEYS = {i: PrivateKey.from_seed(f"book-trader-{i}") for i in (2, 3, 4)}
A, B, C = 2, 3, 4


@pytest.fixture(scope="module")
def circuit():
    return compile_main("main/BatchBook.circom", INSTANCE)


CONFIG = BatchConfig(4, 2, 2, 4, 2, 2, book_bits=BB, book_cap_levels=CL)  # F = 2


def _state():
    state = dev_state(MARKETS, 4, 2, books=Books(2, bits=BB, cap_levels=CL))
    for i, key in KEYS.items():
        state.create_account(i, key.public_key, 100_000_000)
    return state


def _params(n: int):
    return prices(n, 1000 + 10 * n, (1000, 500), (0, 0))


def _sign(o):
    return SignedOrder.sign(o, KEYS[o.account])


def _builder(state, n):
    return BookBatchBuilder(state, CONFIG, _params(n))


def _prove(circuit, builder, old_root=None):
    result = builder.seal()
    w = circuit.witness(result.witness.as_circuit_inputs())
    assert w.ok, w.failing()
    if old_root is not None:
        assert result.old_root == old_root
    return result


def _rest_two_asks(circuit):
    """Batch 0: A and B each rest an ask of 1 at 1000 (A's first)."""
    b = _builder(_state(), 0)
    b.add_entry(_sign(order(A, SIDE_SELL, 1000, 1, 1)))
    b.add_entry(_sign(order(B, SIDE_SELL, 1000, 1, 1)))
    return _prove(circuit, b)


def test_batches_chain_with_the_books_carried(circuit):
    first = _rest_two_asks(circuit)
    assert len(first.state.books.side(0, SIDE_SELL)) == 2
    b = _builder(first.state, 1)
    got = b.add_entry(_sign(order(C, SIDE_BUY, 1000, 1, 1, tif=TIF_IOC)))
    assert got.result is not None and got.result.match.outcome == Outcome.FILLED
    assert got.makers_opened == (A,)  # time priority: A's ask came first
    second = _prove(circuit, b, first.new_root)
    assert second.state.account(C).positions[0].size == 1
    assert second.state.account(A).positions[0].size == -1
    assert second.state.slot(A, 1).filled == 1
    asks = second.state.books.side(0, SIDE_SELL)
    assert [leaf.ref for _, leaf in asks.walk()] == [book_ref(B, 1)]


def test_makers_that_do_not_fit_start_the_next_batch(circuit):
    """K = 4: fee account, insurance, C and A; B's ask would need a fifth slot."""
    first = _rest_two_asks(circuit)
    b = _builder(first.state, 1)
    b.add_entry(_sign(order(C, SIDE_BUY, 1000, 1, 1, tif=TIF_IOC)))
    books_before = b.books.root
    second_order = _sign(order(C, SIDE_BUY, 1000, 1, 2, tif=TIF_IOC))
    with pytest.raises(BatchFull, match="account slots"):
        b.add_entry(second_order)
    assert b.books.root == books_before and len(b.entries) == 1  # nothing changed
    second = _prove(circuit, b, first.new_root)
    b3 = _builder(second.state, 2)
    got = b3.add_entry(second_order)
    assert got.makers_opened == (B,) and got.result.match.filled == 1
    third = _prove(circuit, b3, second.new_root)
    assert len(third.state.books.side(0, SIDE_SELL)) == 0


def test_a_message_that_cannot_fit_an_empty_batch_is_an_error(circuit):
    """C's buy of 2 meets A and B: five account slots, more than K = 4 even when the batch
    is empty, so no batch of this shape can take it (the venue needs K >= F + 3)."""
    first = _rest_two_asks(circuit)
    b = _builder(first.state, 1)
    with pytest.raises(ProtocolError, match=r"K >= F \+ 3") as info:
        b.add_entry(_sign(order(C, SIDE_BUY, 1000, 2, 1, tif=TIF_IOC)))
    assert not isinstance(info.value, BatchFull)


def test_a_plan_keeps_slots_for_the_later_messages(circuit):
    first = _rest_two_asks(circuit)
    b = _builder(first.state, 1)
    buy = b.builder.encrypt_entry(_sign(order(C, SIDE_BUY, 1000, 1, 1, tif=TIF_IOC)))
    cancel = b.builder.encrypt_entry(SignedCancel.sign(Cancel(B, 5), KEYS[B]))
    b.plan([buy, cancel])
    with pytest.raises(BatchFull, match="later"):
        b.add_message(buy)  # A's slot would leave none for B, whom the cancel names


# --- the property: random flows against the reference ----------------------------------


class RefView:
    """The reference's own record: ref -> (size, filled, expiry), live while its slot
    holds it; margins never fail (every trader holds far more than the flow needs)."""

    def __init__(self) -> None:
        self.orders: dict[int, list[int]] = {}
        self.in_slot: dict[tuple[int, int], int] = {}
        self.timestamp = 0

    def place(self, account, slot_no, ref, size, expiry) -> None:
        self.in_slot[(account, slot_no)] = ref
        if size:
            self.orders[ref] = [size, 0, expiry]

    def remaining(self, ref):
        account, order_id = ref_parts(ref)
        size, filled, expiry = self.orders.get(ref, (0, 0, 0))
        slot_no = order_id & 3
        if self.in_slot.get((account, slot_no)) != ref or expiry < self.timestamp:
            return None
        return size - filled if filled < size else None

    def margin_ok(self, ref, qty, price):
        return True, True

    def on_fill(self, ref, qty, price):
        self.orders[ref][1] += qty

    def on_cancel(self, ref):
        self.orders[ref][1] = self.orders[ref][0]


def _flow(circuit, seed: int) -> set[object]:
    rng = random.Random(seed)
    state = _state()
    ref_books = {m: {SIDE_BUY: [], SIDE_SELL: []} for m in range(2)}
    view = RefView()
    next_id = dict.fromkeys(KEYS, 1)
    seen: set[object] = set()
    root = None
    pending = None
    n = 0
    for _ in range(BATCHES):
        view.timestamp = 1000 + 10 * n
        b = _builder(state, n)
        for _ in range(CONFIG.entries):
            if pending is None:
                account = rng.choice(list(KEYS))
                order_id = next_id[account]
                next_id[account] += 1
                if rng.random() < 0.15:
                    entry = SignedCancel.sign(Cancel(account, order_id), KEYS[account])
                else:
                    market = rng.choice([0, 0, 1])
                    tick = MARKETS[market].tick_size
                    mark = (1000, 500)[market]
                    entry = _sign(order(
                        account, rng.choice([SIDE_BUY, SIDE_SELL]),
                        mark + tick * rng.randrange(-1, 2), rng.randrange(1, 4), order_id,
                        market=market,
                        tif=rng.choice([TIF_GTC, TIF_GTC, TIF_IOC, TIF_POST_ONLY]),
                        expiry=view.timestamp + rng.choice([0, 10_000, 10_000]),
                    ))
                pending = entry
            try:
                got = b.add_entry(pending)
            except BatchFull:
                break
            except ProtocolError as exc:
                assert "K >= F + 3" in str(exc)
                pending = None  # no batch of this shape takes it: drop it from the flow
                continue
            entry, pending = pending, None
            seq = make_seq(n, got.outcome.index)
            if isinstance(entry, SignedCancel):
                c = entry.cancel
                view.place(c.account, c.order_id & 3, book_ref(c.account, c.order_id), 0, 0)
                continue
            o = entry.order
            ref = book_ref(o.account, o.order_id)
            view.place(o.account, o.order_id & 3, ref, o.size, o.expiry)
            taker = Taker(o.account, o.order_id, o.side, o.price, o.size, o.tif, seq)
            want_steps, want_outcome, want_left = reference_match(
                ref_books[o.market], view, taker, F, 1 << BB
            )
            m = got.result.match
            assert [(s.kind, s.maker, s.qty, s.price) for s in m.steps] == want_steps
            assert (m.outcome, m.remaining) == (want_outcome, want_left)
            view.orders[ref][1] = o.size - m.remaining
            seen.add(m.outcome)
            seen.update(s.kind for s in m.steps)
            for market in range(2):
                for side in (SIDE_BUY, SIDE_SELL):
                    assert [leaf.ref for _, leaf in b.books.side(market, side).walk()] == [
                        r["ref"] for r in ref_books[market][side]
                    ]
        result = _prove(circuit, b, root)
        state, root = result.state, result.new_root
        n += 1
    return seen


@pytest.mark.parametrize("seeds", [
    range(2),
    pytest.param(range(2, 8), marks=pytest.mark.slow),  # more flows, `-m slow`
])
def test_random_flows_match_the_reference_and_are_proven(circuit, seeds):
    seen: set[object] = set()
    for seed in seeds:
        seen |= _flow(circuit, seed)
    want = {Outcome.FILLED, Outcome.RESTED, Outcome.DROPPED, Outcome.REJECTED,
            Outcome.SWEEP_LIMIT, StepKind.FILL, StepKind.STALE, StepKind.SELF_TRADE}
    assert want <= seen, want - seen


def test_padding_slots_carry_the_fee_account_with_its_fees(circuit):
    """One taker against the fee account's ask: account slots fee, insurance, A and one
    padding slot, which names the fee account as the batch leaves it (fees included)."""
    state = _state()
    state.deposit(0, 10_000_000)
    ask = order(0, SIDE_SELL, 1000, 3, 1)  # rests before the batch (no key signs for it here)
    state.set_slot(0, 1, OrderSlot(1, ask.hash(), 0, 0), ask)
    state.books.side(0, SIDE_SELL).insert(order_rank(SIDE_SELL, 1000, 0), book_ref(0, 1))
    b = _builder(state, 1)
    got = b.add_entry(_sign(order(A, SIDE_BUY, 1000, 2, 1, tif=TIF_IOC)))
    assert got.result.match.filled == 2
    result = _prove(circuit, b)
    assert not result.witness.accounts[3].used
    fee = result.state.account(0)
    assert fee.collateral > 10_000_000 + 2 * 1000  # the sale and both fees
