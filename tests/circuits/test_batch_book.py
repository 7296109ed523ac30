"""BatchBook (the batch with the committed book, not yet the product's) end to end on
small batches: the builder takes the messages, prover/exchange/bookbatch.py replays them
as BatchBook proves them (every valid order matched by the rules on the running state),
and the circuit accepts the witness with the new state root the model computes.
"""

from __future__ import annotations

import re

import pytest

from prover.exchange.batch import BatchBuilder
from prover.exchange.bookbatch import book_batch
from prover.exchange.booktree import Books, book_ref, order_rank
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_IOC
from prover.exchange.domain import Cancel, OrderSlot, SignedCancel
from prover.proving.batch_circuit import BATCHBOOK_INPUTS
from tests.circuits.harness import MUTATION_RUN, circuits_dir, compile_main, expect_count
from tests.circuits.scenario import B_ACC, CONFIG, KEY_A, KEY_B, MARKETS, A, order, sign
from tests.venue import dev_state, prices

K, E, D, S, M = 4, 2, 4, 2, 2
F = 2
BB, CL = 4, 1
INSTANCE = f"BatchBook({K}, {E}, {F}, {D}, {S}, {M}, {BB}, {CL}, 1)"


@pytest.fixture(scope="module")
def circuit():
    return compile_main("main/BatchBook.circom", INSTANCE)


@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_count_at_the_demo_size(circuit):
    expect_count(circuit, 78157)


def _state():
    state = dev_state(MARKETS, D, S)
    state.create_account(A, KEY_A.public_key, 10_000_000)
    state.create_account(B_ACC, KEY_B.public_key, 10_000_000)
    return state


def _run(circuit, entries, books=None):
    builder = BatchBuilder(_state(), CONFIG, prices(0, 1000, (1000, 500), (0, 0)))
    for entry in entries:
        builder.add_entry(entry)
    result = book_batch(builder, books or Books(M, bits=BB, cap_levels=CL), F)
    w = circuit.witness(result.inputs)
    assert w.ok, w.failing()
    return result


def test_resting_order_then_a_taker_that_fills_from_it(circuit):
    sell = order(A, SIDE_SELL, 1000, 50, 1)
    buy = order(B_ACC, SIDE_BUY, 1010, 30, 2, tif=TIF_IOC)
    result = _run(circuit, [sign(sell), sign(buy)])
    assert result.filled == (0, 30)
    asks = result.books.side(0, SIDE_SELL)
    assert len(asks) == 1
    assert result.accounts[B_ACC].positions[0].size == 30
    assert result.accounts[A].positions[0].size == -30


def test_two_resting_orders_on_both_sides(circuit):
    bid = order(A, SIDE_BUY, 990, 20, 1)
    ask = order(B_ACC, SIDE_SELL, 1010, 20, 2)
    result = _run(circuit, [sign(bid), sign(ask)])
    assert result.filled == (0, 0)
    assert len(result.books.side(0, SIDE_BUY)) == len(result.books.side(0, SIDE_SELL)) == 1


def test_a_wrong_new_root_is_refused(circuit):
    sell = order(A, SIDE_SELL, 1000, 50, 1)
    buy = order(B_ACC, SIDE_BUY, 1010, 30, 2, tif=TIF_IOC)
    builder = BatchBuilder(_state(), CONFIG, prices(0, 1000, (1000, 500), (0, 0)))
    for entry in (sign(sell), sign(buy)):
        builder.add_entry(entry)
    result = book_batch(builder, Books(M, bits=BB, cap_levels=CL), F)
    inputs = dict(result.inputs)
    inputs["newRoot"] = str(int(inputs["newRoot"]) + 1)
    assert not circuit.witness(inputs).ok


def _resting(state, books, o, seq=0):
    """``o`` resting before the batch: in its slot and in its book side."""
    state.set_slot(o.account, o.slot(S), OrderSlot(o.order_id, o.hash(), 0, seq), o)
    books.side(o.market, o.side).insert(
        order_rank(o.side, o.price, seq), book_ref(o.account, o.order_id)
    )


def _run_on(circuit, state, books, entries, params=None):
    builder = BatchBuilder(state, CONFIG, params or prices(0, 1000, (1000, 500), (0, 0)))
    for entry in entries:
        builder.add_entry(entry)
    result = book_batch(builder, books, F)
    w = circuit.witness(result.inputs)
    assert w.ok, w.failing()
    return result


def test_self_trade_cancels_the_resting_order(circuit):
    state, books = _state(), Books(M, bits=BB, cap_levels=CL)
    own = order(A, SIDE_SELL, 1000, 20, 1)
    _resting(state, books, own)
    buy = order(A, SIDE_BUY, 1000, 5, 2, tif=TIF_IOC)
    other = SignedCancel.sign(Cancel(B_ACC, 7), KEY_B)
    result = _run_on(circuit, state, books, [sign(buy), other])
    assert result.filled == (0, 0)
    assert len(result.books.side(0, SIDE_SELL)) == 0


def test_cancelled_head_is_removed_by_the_next_taker(circuit):
    state, books = _state(), Books(M, bits=BB, cap_levels=CL)
    ask = order(A, SIDE_SELL, 1000, 20, 1)
    _resting(state, books, ask)
    cancel = SignedCancel.sign(Cancel(A, 1 + (1 << S)), KEY_A)  # the same slot, a larger id
    buy = order(B_ACC, SIDE_BUY, 1000, 5, 2, tif=TIF_IOC)
    result = _run_on(circuit, state, books, [cancel, sign(buy)])
    assert result.filled == (0, 0)
    assert len(result.books.side(0, SIDE_SELL)) == 0


def test_expired_head_is_removed_and_the_next_fills(circuit):
    state, books = _state(), Books(M, bits=BB, cap_levels=CL)
    _resting(state, books, order(A, SIDE_SELL, 990, 20, 1, expiry=999))
    _resting(state, books, order(A, SIDE_SELL, 1000, 20, 2))
    # The makers' accounts must be in the batch's account slots: A sends a cancel of an
    # unused slot (the operator's way to open them: docs/book.md, "What is left").
    opener = SignedCancel.sign(Cancel(A, 7), KEY_A)
    buy = order(B_ACC, SIDE_BUY, 1000, 5, 3, tif=TIF_IOC)
    result = _run_on(circuit, state, books, [opener, sign(buy)])
    assert result.filled == (0, 5)
    assert len(result.books.side(0, SIDE_SELL)) == 1  # the 1000 ask, 15 left


def test_the_input_list_is_the_circuits():
    """prover/proving/batch_circuit.py's BATCHBOOK_INPUTS, in declaration order."""
    src = (circuits_dir() / "main" / "BatchBook.circom").read_text()
    assert tuple(re.findall(r"signal input (\w+)", src)) == BATCHBOOK_INPUTS
