"""BatchBook against the operator who breaks one matching rule (issue 14's list), at the
batch level: each witness is what that operator would build (prover/exchange/bookbatch.py
with the cheat, every slot, side, account and root recomputed from the cheat's own
state), and only the rule's constraints reject it (an ``--O0`` build). The makers rest in
the fee account (account slot 0 is always opened) so both message slots are takers.

The rules' template-level tamper tests are in test_entry_match.py (every rule),
test_head_slot.py (the facts) and test_book.py (the book's operations); these check that
the batch wires them so that the same cheats fail in a whole batch.
"""

from __future__ import annotations

import pytest

from prover.exchange.batch import BatchBuilder
from prover.exchange.bookbatch import book_batch
from prover.exchange.booktree import Books, BookSide, book_ref, order_rank
from prover.exchange.constants import FEE_ACCOUNT, SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import OrderSlot
from prover.exchange.entrybook import RunningState
from prover.exchange.matching import Outcome
from tests.circuits.harness import compile_main
from tests.circuits.scenario import B_ACC, CONFIG, KEY_A, KEY_B, MARKETS, A, order, sign
from tests.venue import dev_state, prices

F = 2
BB, CL = 4, 1
INSTANCE = f"BatchBook(4, 2, {F}, 4, 2, 2, {BB}, {CL}, 1)"


@pytest.fixture(scope="module")
def circuit0():
    return compile_main("main/BatchBook.circom", INSTANCE, optimize=0)


def _setup(asks: list[tuple[int, int]]):
    """A and B funded; the fee account funded with ``asks`` ((price, size)) resting."""
    state = dev_state(MARKETS, 4, 2)
    state.create_account(A, KEY_A.public_key, 10_000_000)
    state.create_account(B_ACC, KEY_B.public_key, 10_000_000)
    state.deposit(FEE_ACCOUNT, 10_000_000)
    books = Books(2, bits=BB, cap_levels=CL)
    for i, (price, size) in enumerate(asks):
        o = order(FEE_ACCOUNT, SIDE_SELL, price, size, i + 1)
        state.set_slot(FEE_ACCOUNT, o.slot(2), OrderSlot(o.order_id, o.hash(), 0, i), o)
        books.side(0, SIDE_SELL).insert(order_rank(SIDE_SELL, price, i), book_ref(0, i + 1))
    return state, books


def _cheat(state, books, takers, **cheat):
    builder = BatchBuilder(state, CONFIG, prices(0, 1000, (1000, 500), (0, 0)))
    for o in takers:
        builder.add_entry(sign(o))
    return book_batch(builder, books, F, **cheat)


def _buy(account, size, order_id, price=1010, tif=TIF_IOC):
    return order(account, SIDE_BUY, price, size, order_id, tif=tif)


def test_honest_batch_is_accepted(circuit0):
    state, books = _setup([(1000, 1), (1000, 1), (1010, 5)])
    result = _cheat(state, books, [_buy(A, 2, 10), _buy(B_ACC, 3, 11)])
    assert result.filled == (2, 3)
    assert circuit0.witness(result.inputs).ok


def test_taker_cannot_stop_while_the_book_crosses(circuit0):
    """A's buy of 2 stops after one fill though the second ask still crosses."""
    state, books = _setup([(1000, 1), (1000, 1)])
    result = _cheat(state, books, [_buy(A, 2, 10), _buy(B_ACC, 1, 11, price=900)],
                    max_steps={0: 1})
    assert result.filled == (1, 0)
    circuit0.witness(result.inputs).assert_rejected_only_by(
        "main.match[0].rules.stepAct", "main.match[0].rules.expectAct"
    )


class LiveForever(RunningState):
    """A maker view that calls every order of the fee account live, with one more lot
    than its slot leaves (an expired, cancelled or filled-out order still matched)."""

    def live_left(self, ref):
        account, order_id = divmod(ref, 1 << 64)
        if account != FEE_ACCOUNT:
            return super().live_left(ref)
        _, _, slot, body = self._order_slot(ref)
        assert body is not None
        return body.size - slot.filled + 1


def test_filled_out_order_cannot_be_matched_again(circuit0):
    """A takes the whole ask of 5 but the operator keeps it in the book (it claims one
    more lot), then B takes that lot from the done order."""
    state, books = _setup([(1000, 5)])
    result = _cheat(state, books, [_buy(A, 5, 10), _buy(B_ACC, 1, 11)], running=LiveForever)
    assert result.filled == (5, 1)
    circuit0.witness(result.inputs).assert_rejected_only_by(
        "main.match[0].rules.stepPop",
        "main.match[0].rules.expectPop",
        "main.match[1].head[0].qty",
        "main.match[1].head[0].live",
        *(f"main.match[1].rules.{n}" for n in RULES),
    )


RULES = ("stepQty", "expectQty", "stepTryQty", "expectTry", "stepPop", "expectPop")


def test_expired_order_cannot_be_matched(circuit0):
    state, books = _setup([])
    o = order(FEE_ACCOUNT, SIDE_SELL, 1000, 5, 1, expiry=999)
    state.set_slot(FEE_ACCOUNT, 1, OrderSlot(1, o.hash(), 4, 0), o)  # one lot left
    books.side(0, SIDE_SELL).insert(order_rank(SIDE_SELL, 1000, 0), book_ref(0, 1))

    class ExpiredLive(LiveForever):
        def live_left(self, ref):
            return super().live_left(ref) - 1  # the true remainder, expiry ignored

    result = _cheat(state, books, [_buy(A, 1, 10), _buy(B_ACC, 1, 11, price=900)],
                    running=ExpiredLive)
    assert result.filled == (1, 0)
    circuit0.witness(result.inputs).assert_rejected_only_by(
        "main.match[0].head[0].qty",
        "main.match[0].head[0].live",
        *(f"main.match[0].rules.{n}" for n in RULES),
    )


def test_remainder_cannot_rest_while_the_book_crosses(circuit0):
    """A's GTC buy of 3 at 1010 uses its two steps on two asks; the 1010 ask still
    crosses, so its remainder is dropped; the operator rests it (a crossed book)."""
    state, books = _setup([(1000, 1), (1000, 1), (1010, 1)])

    def rest_anyway(e, result, running):
        if e == 0:
            assert result.match.outcome == Outcome.SWEEP_LIMIT
            own = running.books.side(0, SIDE_BUY)
            result.match.insert = own.insert(result.match.taker.rank, result.match.taker.ref)

    result = _cheat(state, books, [_buy(A, 3, 10, price=1010, tif=TIF_GTC),
                                   _buy(B_ACC, 1, 11, price=900)], after_entry=rest_anyway)
    circuit0.witness(result.inputs).assert_rejected_only_by(
        "main.match[0].rules.rest", "main.match[0].rules.expectRest"
    )


def test_remainder_cannot_rest_out_of_place(circuit0, monkeypatch):
    """B's bid at 980 (after A's at 990) written at the head of the bids."""
    state, books = _setup([(1100, 1)])
    original = BookSide.insert

    def at_head(self, rank, ref):
        if ref == book_ref(B_ACC, 11):
            return self._insert_at(rank, ref, 0, 0)
        return original(self, rank, ref)

    monkeypatch.setattr(BookSide, "insert", at_head)
    result = _cheat(state, books, [_buy(A, 1, 10, price=990, tif=TIF_GTC),
                                   _buy(B_ACC, 1, 11, price=980, tif=TIF_GTC)])
    circuit0.witness(result.inputs).assert_rejected_only_by(
        "main.match[1].rules.insert.beatsHead", "main.match[1].rules.insert.headLive"
    )


def _fake_book_batch(asks, worse_first, takers):
    """The operator proves ``takers`` on a book it made up against the true state:
    ``asks`` ((price, size)) rest as orders 1, 2, ... with their true ranks, but the one
    at ``worse_first`` is linked in at the head, ahead of a better one."""
    state, true_books = _setup(asks)
    fake = Books(2, bits=BB, cap_levels=CL)
    side = fake.side(0, SIDE_SELL)
    for i, (price, _) in enumerate(asks):
        if i != worse_first:
            side.insert(order_rank(SIDE_SELL, price, i), book_ref(0, i + 1))
    price = asks[worse_first][0]
    side._insert_at(order_rank(SIDE_SELL, price, worse_first), book_ref(0, worse_first + 1),
                    0, 0)
    result = _cheat(state, fake, takers)
    true_root = _cheat(state, true_books, takers).old_root
    assert result.old_root != true_root
    return result, dict(result.inputs, oldRoot=str(true_root))  # the root on chain


def test_maker_must_be_the_best(circuit0):
    """Asks at 1000 (order 1) and 990 (order 2): the operator links the 1000 ask in at the
    head and fills A from it. In the committed book the best order is the head by the
    book's invariant (every insertion proven at its place, test_book.py's insert tests)
    and a step can only open the head (test_book.py::test_pop_opens_the_head_leaf_only);
    so the operator's only way is another book, and this shows the batch refuses one
    whose root is not the state's."""
    result, inputs = _fake_book_batch(
        [(1000, 1), (990, 1)], 0, [_buy(A, 1, 10), _buy(B_ACC, 1, 11, price=900)]
    )
    assert result.books.side(0, SIDE_SELL).head_rank == order_rank(SIDE_SELL, 990, 1)
    circuit0.witness(inputs).assert_rejected_only_by("main.stateOld")


def test_later_order_cannot_go_first(circuit0):
    """Two asks at 1000, order 1 first: the operator links order 2 in ahead of it (as
    above: the queue rule itself is test_book.py's
    test_later_order_at_the_same_price_cannot_jump_the_queue)."""
    result, inputs = _fake_book_batch(
        [(1000, 1), (1000, 1)], 1, [_buy(A, 1, 10), _buy(B_ACC, 1, 11, price=900)]
    )
    assert result.books.side(0, SIDE_SELL).head_rank == order_rank(SIDE_SELL, 1000, 0)
    circuit0.witness(inputs).assert_rejected_only_by("main.stateOld")


def test_cancelled_order_cannot_be_matched(circuit0):
    """The fee account's ask of 5 was cancelled before the batch (its slot holds the
    cancel); the operator matches A against it all the same, opening the slot as if it
    still held the order (the body it knows)."""
    state, books = _setup([])
    o = order(FEE_ACCOUNT, SIDE_SELL, 1000, 5, 1)
    state.set_slot(FEE_ACCOUNT, 1, OrderSlot(1 + (1 << 2), 0, 0, 1), None)  # the cancel
    books.side(0, SIDE_SELL).insert(order_rank(SIDE_SELL, 1000, 0), book_ref(0, 1))

    class CancelledLive(RunningState):
        def _order_slot(self, ref):
            k, slot_no, slot, body = super()._order_slot(ref)
            return k, slot_no, slot, (o if ref == book_ref(0, 1) else body)

    result = _cheat(state, books, [_buy(A, 1, 10), _buy(B_ACC, 1, 11, price=900)],
                    running=CancelledLive)
    assert result.filled == (1, 0)
    circuit0.witness(result.inputs).assert_rejected_only_by(
        "main.match[0].head[0].qty",
        "main.match[0].head[0].live",
        *(f"main.match[0].rules.{n}" for n in RULES),
    )
