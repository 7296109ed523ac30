"""The committed book's templates (BookLeaf, BookCapWrite, BookHeader, BookPop, BookInsert)
against prover/exchange/booktree.py, on small trees (8 bits: two levels below a cap of 16).

Honest steps from random model flows give the model's side after each step. Tamper tests
build the step a cheating operator would (prover's ``BookSide._insert_at`` writes an order
at a place of the test's choosing, every root and opening recomputed from those writes)
and assert that only the rule's own constraints reject it, on ``--O0`` builds.
"""

from __future__ import annotations

import random

import pytest

from prover.exchange.booktree import (
    BookHeader,
    BookLeaf,
    BookSide,
    book_ref,
    free_leaf,
    order_rank,
)
from prover.exchange.constants import SIDE_BUY, SIDE_SELL
from prover.exchange.domain import make_seq
from tests.circuits.harness import MUTATION_RUN, compile_main, expect_count

BITS = 8
CAP = 2
LOWER = BITS // 2 - CAP


@pytest.fixture(scope="module")
def pop_circuit():
    return compile_main("lib/BookPop.circom", f"BookPop({LOWER}, {CAP})")


@pytest.fixture(scope="module")
def insert_circuit():
    return compile_main("lib/BookInsert.circom", f"BookInsert({LOWER}, {CAP})")


@pytest.fixture(scope="module")
def pop0():
    return compile_main("lib/BookPop.circom", f"BookPop({LOWER}, {CAP})", optimize=0)


@pytest.fixture(scope="module")
def insert0():
    return compile_main("lib/BookInsert.circom", f"BookInsert({LOWER}, {CAP})", optimize=0)


@pytest.mark.slow  # a production-size compile; the cost target (docs/circuits.md)
@pytest.mark.skipif(MUTATION_RUN, reason="counts are not asserted in mutation runs")
def test_constraint_counts_at_the_production_size():
    # 2^16 leaves per side: six levels below a cap of 16 (docs/book.md, "Cost").
    expect_count(compile_main("lib/BookLeaf.circom", "BookLeaf()"), 297)
    expect_count(compile_main("lib/BookCapWrite.circom", "BookCapWrite(6, 2)"), 3720)
    expect_count(compile_main("lib/BookHeader.circom", "BookHeader(2)"), 1806)
    expect_count(compile_main("lib/BookPop.circom", "BookPop(6, 2)"), 4313)
    expect_count(compile_main("lib/BookInsert.circom", "BookInsert(6, 2)"), 8946)


def test_leaf_and_header_match_the_model():
    leaf = compile_main("lib/BookLeaf.circom", "BookLeaf()")
    value = BookLeaf(order_rank(SIDE_SELL, 5, 9), book_ref(3, 4), 7, 11)
    w = leaf.witness({"rank": value.rank, "ref": value.ref, "nextPtr": 7, "nextRank": 11})
    assert w.ok and w["leaf"] == value.hash()
    header = compile_main("lib/BookHeader.circom", f"BookHeader({CAP})")
    book = _book(SIDE_BUY, 1)
    h = book.header()
    w = header.witness(h.circuit_inputs())
    assert w.ok and w["header"] == h.hash()


def _book(side: int, seed: int, orders: int = 12, pops: int = 3) -> BookSide:
    rng = random.Random(seed)
    book = BookSide(side, bits=BITS, cap_levels=CAP)
    for i in range(orders):
        price = rng.choice([100, 101, 102, 104])
        book.insert(order_rank(side, price, make_seq(1, i)), book_ref(2 + i, i + 1))
    for _ in range(pops):
        book.pop()
    return book


def _expect_after(w, after: BookHeader) -> None:
    assert [w[f"capAfter[{i}]"] for i in range(len(after.cap))] == list(after.cap)
    assert w["headPtrAfter"] == after.head_ptr
    assert w["headRankAfter"] == after.head_rank
    assert w["freePtrAfter"] == after.free_ptr


@pytest.mark.parametrize("side", [SIDE_BUY, SIDE_SELL])
@pytest.mark.parametrize("seed", range(3))
def test_honest_random_flow_matches_model(pop_circuit, insert_circuit, side, seed):
    rng = random.Random(100 + seed)
    book = BookSide(side, bits=BITS, cap_levels=CAP)
    for step in range(18):
        roll = rng.random()
        if len(book) and roll < 0.3:
            s = book.pop()
            w = pop_circuit.witness({"enabled": 1, **s.circuit_inputs()})
            assert w.ok, w.failing()
            _expect_after(w, s.after)
            assert w["headRef"] == s.leaf.ref
        elif len(book) and roll < 0.45:
            s = book.touch()
            w = pop_circuit.witness({"enabled": 1, **s.circuit_inputs()})
            assert w.ok, w.failing()
            _expect_after(w, s.after)
        else:
            price = rng.choice([100, 101, 102, 103])
            rank = order_rank(side, price, make_seq(2, step))
            s = book.insert(rank, book_ref(rng.randrange(2, 9), step + 1))
            w = insert_circuit.witness({"enabled": 1, **s.circuit_inputs()})
            assert w.ok, w.failing()
            _expect_after(w, s.after)
            assert w["frontierAfter"] == s.after.frontier
            assert w["full"] == 0


def _zero_inputs(step_inputs: dict) -> dict:
    def zero(v):
        return [zero(x) for x in v] if isinstance(v, list) else "0"

    return {k: zero(v) for k, v in step_inputs.items()}


def test_disabled_steps_leave_the_side_unchanged(pop_circuit, insert_circuit):
    book = _book(SIDE_SELL, 2)
    header = book.header()
    pop_in = _zero_inputs(book.copy().pop().circuit_inputs())
    insert_in = _zero_inputs(book.copy().insert(order_rank(SIDE_SELL, 90, 999), 5).circuit_inputs())
    for circuit, inputs, frontier in (
        (pop_circuit, pop_in, False),
        (insert_circuit, insert_in, True),
    ):
        inputs.update(header.circuit_inputs(frontier=frontier))
        w = circuit.witness({"enabled": 0, **inputs})
        assert w.ok, w.failing()
        _expect_after(w, header)


def test_every_insert_position_and_allocation_source(insert_circuit):
    """Head of an empty side, new head, middle, tail, same price behind; stack and frontier."""
    book = BookSide(SIDE_BUY, bits=BITS, cap_levels=CAP)
    cases = [
        (100, "head of empty"),
        (101, "new head"),
        (90, "tail"),
        (95, "middle"),
        (100, "same price, behind"),
    ]
    for i, (price, _) in enumerate(cases):
        s = book.insert(order_rank(SIDE_BUY, price, make_seq(1, i)), book_ref(2, i + 1))
        assert insert_circuit.witness({"enabled": 1, **s.circuit_inputs()}).ok
    book.pop()
    s = book.insert(order_rank(SIDE_BUY, 99, make_seq(2, 0)), book_ref(3, 1))
    assert s.before.free_ptr != 0 and s.after.free_ptr == 0
    w = insert_circuit.witness({"enabled": 1, **s.circuit_inputs()})
    assert w.ok
    _expect_after(w, s.after)


def test_full_side_sets_full_and_cannot_insert(insert0):
    book = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    for i in range(book.capacity - 1):
        book.insert(order_rank(SIDE_SELL, 100, make_seq(1, i)), book_ref(2, i + 1))
    last = book.insert(order_rank(SIDE_SELL, 100, make_seq(1, 300)), book_ref(2, 300))
    assert insert0.witness({"enabled": 1, **last.circuit_inputs()}).ok
    assert book.full
    # The cheat: pretend there is room; the allocation index 2^bits is out of range.
    inputs = dict(last.circuit_inputs())
    inputs.update(book.header().circuit_inputs())
    inputs["rank"] = str(order_rank(SIDE_SELL, 100, make_seq(1, 301)))
    w = insert0.witness({"enabled": 1, **inputs})
    assert w["full"] == 1
    # The allocation's index range; the second write, folded on the failed first, follows.
    found = w.assert_rejected_only_by("main.alloc", "main.link")
    assert any(v.involves("main.alloc.bits") for v in found)


# ---- tamper tests: consistent malicious steps -------------------------------------------


def _misplaced(book: BookSide, rank: int, pred_ptr: int) -> dict:
    """The step that writes ``rank`` after ``pred_ptr`` (0: as the head), all roots honest."""
    return {
        "enabled": 1,
        **book.copy()._insert_at(rank, book_ref(9, 9), pred_ptr, 0).circuit_inputs(),
    }


def _ptr_of(book: BookSide, position: int) -> int:
    return [index for index, _ in book.walk()][position] + 1


def test_later_order_at_the_same_price_cannot_jump_the_queue(insert0):
    book = _book(SIDE_SELL, 3, pops=0)
    head = book.best()[1]
    price = head.rank >> 56
    later = order_rank(SIDE_SELL, price, make_seq(5, 0))
    w = insert0.witness(_misplaced(book, later, 0))
    w.assert_rejected_only_by("main.beatsHead", "main.headLive")


def _asks(prices: list[int]) -> BookSide:
    book = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    for i, price in enumerate(prices):
        book.insert(order_rank(SIDE_SELL, price, make_seq(1, i)), book_ref(2 + i, i + 1))
    return book


def test_order_cannot_be_inserted_too_late(insert0):
    """An ask at 101 placed behind the 104 ask (it belongs between 100 and 102)."""
    book = _asks([100, 102, 104])
    rank = order_rank(SIDE_SELL, 101, make_seq(2, 0))
    w = insert0.witness(_misplaced(book, rank, _ptr_of(book, 2)))
    w.assert_rejected_only_by("main.afterPred")


def test_order_cannot_be_inserted_too_early(insert0):
    """An ask at 103 placed right behind the 100 ask (ahead of the 102 ask)."""
    book = _asks([100, 102, 104])
    rank = order_rank(SIDE_SELL, 103, make_seq(2, 0))
    w = insert0.witness(_misplaced(book, rank, _ptr_of(book, 0)))
    w.assert_rejected_only_by("main.beforeNext", "main.notLast")


def test_order_cannot_hang_off_a_free_leaf(insert0):
    book = _book(SIDE_SELL, 6, pops=2)
    # The bottom of the free stack is FREE(0): a "predecessor" with no successor.
    ptr = book.free_ptr
    while book.leaf(ptr - 1).next_ptr:
        ptr = book.leaf(ptr - 1).next_ptr
    worst = list(book.walk())[-1][1]
    w = insert0.witness(_misplaced(book, worst.rank + 1, ptr))
    w.assert_rejected_only_by("main.predDead")


def test_head_insert_pins_its_no_op_write_to_the_new_leaf(insert0):
    book = _book(SIDE_SELL, 7, pops=0)
    best = order_rank(SIDE_SELL, 1, make_seq(5, 0))  # better than every ask
    s = book.copy().insert(best, book_ref(9, 9))
    inputs = {"enabled": 1, **s.circuit_inputs()}
    # Open another live leaf for the no-op write instead (a real opening after the write).
    copy = book.copy()
    copy._insert_at(best, book_ref(9, 9), 0, 0)
    other_index = [i for i, _ in copy.walk()][2]
    other = copy.leaf(other_index)
    inputs.update(
        {
            "predPtr": str(other_index + 1),
            "predRank": str(other.rank),
            "predRef": str(other.ref),
            "predNextPtr": str(other.next_ptr),
            "predNextRank": str(other.next_rank),
            "predSiblings": [[str(x) for x in lv] for lv in copy._lower(other_index)],
        }
    )
    insert0.witness(inputs).assert_rejected_only_by("main.onHead")


def test_pop_opens_the_head_leaf_only(pop0):
    book = _book(SIDE_BUY, 8, pops=0)
    s = book.copy().pop()
    inputs = {"enabled": 1, **s.circuit_inputs()}
    # Claim the second-best order is at the head pointer: its fields, the head's path.
    second = book.leaf([i for i, _ in book.walk()][1])
    inputs.update(
        {
            "leafRef": str(second.ref),
            "leafNextPtr": str(second.next_ptr),
            "leafNextRank": str(second.next_rank),
        }
    )
    pop0.witness(inputs).assert_rejected_only_by("main.write.read", "main.write.update")


def test_disabled_step_cannot_move_the_head(pop0):
    book = _book(SIDE_SELL, 9, pops=0)
    s = book.copy().pop()
    pop0.witness({**s.circuit_inputs(), "enabled": 0}).assert_rejected_only_by("main.pop")


def test_empty_side_has_nothing_to_pop(pop0):
    book = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    inputs = {
        **book.header().circuit_inputs(frontier=False),
        "enabled": 1,
        "pop": 1,
        "leafRef": 0,
        "leafNextPtr": 0,
        "leafNextRank": 0,
        "siblings": [[str(x) for x in lv] for lv in book._lower(0)],
    }
    pop0.witness(inputs).assert_rejected_only_by("main.write.bits")


def test_freed_leaf_is_what_the_model_writes():
    book = _book(SIDE_SELL, 10, pops=0)
    free_before = book.free_ptr
    index = book.best()[0]
    book.pop()
    assert book.tree.get(index) == free_leaf(free_before).hash()


def test_pop_flag_is_a_bit(pop0):
    """pop = 2 would write a leaf that is neither the head nor a freed leaf, and move the
    head pointer past the list."""
    book = _book(SIDE_SELL, 11, pops=0)
    s = book.copy().pop()
    w = pop0.witness({"enabled": 1, **s.circuit_inputs(), "pop": 2})
    assert w["headPtrAfter"] not in (s.before.head_ptr, s.after.head_ptr)
    w.assert_rejected_only_by("main.pop")


def test_enabled_flag_is_a_bit(pop0):
    """enabled = 2 on a head at leaf 0 opens the same leaf (index 2 * 0): only the bit check
    refuses it (the caller's fill bit is boolean too)."""
    book = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    book.insert(order_rank(SIDE_SELL, 90, make_seq(1, 0)), book_ref(2, 1))
    book.insert(order_rank(SIDE_SELL, 95, make_seq(1, 1)), book_ref(3, 1))
    s = book.touch()
    w = pop0.witness({**s.circuit_inputs(), "enabled": 2})
    w.assert_rejected_only_by("main.enabled")


def test_insert_enabled_flag_is_a_bit(insert0):
    """enabled = 2 doubles every index: the order goes to the free leaf 2f past the
    frontier, the predecessor is read at 2(predPtr - 1), and both cap entries take
    `old + 2 * (new - old)`, values no tree has: the side would be bricked."""
    book = BookSide(SIDE_SELL, bits=BITS, cap_levels=CAP)
    for i in range(20):  # leaf i holds the ask at 100 + i
        book.insert(order_rank(SIDE_SELL, 100 + i, make_seq(1, i)), book_ref(2 + i, 1))
    f = book.frontier
    assert f == 20 and book.free_ptr == 0
    pred_index = 4  # read at 2 * (predPtr - 1) = 4: predPtr = 3
    pred = book.leaf(pred_index)
    rank = order_rank(SIDE_SELL, 104, make_seq(2, 0))  # right behind the 104 ask
    assert pred.rank < rank < pred.next_rank

    def path(index):
        return [[str(x) for x in lv] for lv in book._lower(index)]

    inputs = {
        **book.header().circuit_inputs(),
        "enabled": 2, "atHead": 0, "rank": str(rank), "ref": str(book_ref(30, 1)),
        "allocNextFree": "0", "allocSiblings": path(2 * f),
        "predPtr": "3", "predRank": str(pred.rank), "predRef": str(pred.ref),
        "predNextPtr": str(pred.next_ptr), "predNextRank": str(pred.next_rank),
        "predSiblings": path(pred_index),
    }
    w = insert0.witness(inputs)
    assert w["frontierAfter"] == f + 2
    w.assert_rejected_only_by("main.enabled")
