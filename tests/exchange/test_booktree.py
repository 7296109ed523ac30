"""The committed book (prover/exchange/booktree.py) against an independent price-time
reference: a plain list sorted by (better price, earlier seq).

Random flows of insertions and pops (fills that take the head) on both sides; after every
step the list the tree's links spell equals the reference, the header's pointers agree
with the leaves, the free stack and the frontier account for every leaf, and the cap folds
to the tree's root.
"""

from __future__ import annotations

import random

import pytest

from prover.errors import ProtocolError
from prover.exchange.booktree import (
    FREE_LEAF_HASH,
    NULL,
    RANK_BITS,
    BookFullError,
    BookSide,
    book_ref,
    crossing_limit,
    order_rank,
    rank_price,
    ref_parts,
)
from prover.exchange.constants import PRICE_BITS, SIDE_BUY, SIDE_SELL
from prover.exchange.domain import SEQ_BITS, make_seq


def _reference_key(side: int, price: int, seq: int) -> tuple[int, int]:
    return (-price if side == SIDE_BUY else price, seq)


def _check(book: BookSide, reference: list[tuple[int, int, int]]) -> None:
    """``reference``: (price, seq, ref) in priority order."""
    walked = [
        (rank_price(book.side, leaf.rank), leaf.rank & ((1 << SEQ_BITS) - 1), leaf.ref)
        for _, leaf in book.walk()
    ]
    assert walked == reference
    assert len(book) == len(reference)
    best = book.best()
    if reference:
        assert best is not None and book.head_rank == best[1].rank
    else:
        assert best is None and book.head_ptr == NULL and book.head_rank == 0
    # Every leaf below the frontier is live or on the free stack, exactly once.
    free = []
    ptr = book.free_ptr
    while ptr != NULL:
        free.append(ptr - 1)
        ptr = book.leaf(ptr - 1).next_ptr
    live = [index for index, _ in book.walk()]
    assert sorted(free + live) == list(range(book.frontier))
    for _, leaf in book.walk():
        assert (leaf.next_ptr == NULL) == (leaf.next_rank == 0)
    header = book.header()
    assert header.tree_root == book.tree.root


@pytest.mark.parametrize("side", [SIDE_BUY, SIDE_SELL])
@pytest.mark.parametrize("seed", range(6))
def test_random_flow_matches_reference(side, seed):
    rng = random.Random(seed * 7 + side)
    book = BookSide(side, bits=8)
    reference: list[tuple[int, int, int]] = []
    batch = 0
    for step in range(120):
        if step % 9 == 0:
            batch += 1
        if reference and rng.random() < 0.4:
            stepped = book.pop()
            assert stepped.pop and stepped.leaf.ref == reference[0][2]
            reference.pop(0)
        else:
            price = rng.choice([100, 101, 102, 103, 105, 1, (1 << PRICE_BITS) - 1])
            seq = make_seq(batch, step)
            ref = book_ref(rng.randrange(2, 50), rng.randrange(1, 1 << 20))
            book.insert(order_rank(side, price, seq), ref)
            reference.append((price, seq, ref))
            reference.sort(key=lambda o: _reference_key(side, o[0], o[1]))
        _check(book, reference)


def test_freed_leaves_are_reused_before_the_frontier():
    book = BookSide(SIDE_SELL, bits=4, cap_levels=1)
    for i in range(5):
        book.insert(order_rank(SIDE_SELL, 100 + i, make_seq(1, i)), book_ref(2, i + 1))
    assert book.frontier == 5
    first = book.pop()  # frees leaf 0
    second = book.pop()  # frees leaf 1, on top of the stack
    assert (first.leaf.ref, second.leaf.ref) == (book_ref(2, 1), book_ref(2, 2))
    assert book.free_ptr == 2
    step = book.insert(order_rank(SIDE_SELL, 99, make_seq(2, 0)), book_ref(3, 1))
    assert step.index == 1 and step.alloc_next_free == 1 and book.free_ptr == 1
    assert book.frontier == 5
    step = book.insert(order_rank(SIDE_SELL, 98, make_seq(2, 1)), book_ref(3, 2))
    assert step.index == 0 and book.free_ptr == NULL
    step = book.insert(order_rank(SIDE_SELL, 97, make_seq(2, 2)), book_ref(3, 3))
    assert step.index == 5 and book.frontier == 6


def test_full_side_refuses_an_insertion_and_changes_nothing():
    book = BookSide(SIDE_BUY, bits=2, cap_levels=0)
    for i in range(4):
        book.insert(order_rank(SIDE_BUY, 50, make_seq(1, i)), book_ref(2, i + 1))
    assert book.full
    root = book.header().hash()
    with pytest.raises(BookFullError):
        book.insert(order_rank(SIDE_BUY, 60, make_seq(1, 9)), book_ref(2, 9))
    assert book.header().hash() == root
    book.pop()
    assert not book.full
    book.insert(order_rank(SIDE_BUY, 60, make_seq(1, 9)), book_ref(2, 9))
    assert [leaf.ref for _, leaf in book.walk()][0] == book_ref(2, 9)


def test_ranks_order_price_then_time_and_fit():
    low, high = 1, (1 << PRICE_BITS) - 1
    seq_max = (1 << SEQ_BITS) - 1
    for side in (SIDE_BUY, SIDE_SELL):
        for price in (low, 7, high):
            for seq in (0, seq_max):
                rank = order_rank(side, price, seq)
                assert 1 << SEQ_BITS <= rank < 1 << RANK_BITS
                assert rank_price(side, rank) == price
    assert (
        order_rank(SIDE_SELL, 10, 5) < order_rank(SIDE_SELL, 10, 6) < order_rank(SIDE_SELL, 11, 0)
    )
    assert order_rank(SIDE_BUY, 11, 6) < order_rank(SIDE_BUY, 10, 5) < order_rank(SIDE_BUY, 10, 6)


@pytest.mark.parametrize("taker_side", [SIDE_BUY, SIDE_SELL])
def test_crossing_limit(taker_side):
    maker_side = 1 - taker_side
    for taker_price in (1, 100, (1 << PRICE_BITS) - 1):
        for maker_price in (1, 99, 100, 101, (1 << PRICE_BITS) - 1):
            for seq in (0, (1 << SEQ_BITS) - 1):
                crosses = (
                    (maker_price <= taker_price)
                    if taker_side == SIDE_BUY
                    else (maker_price >= taker_price)
                )
                rank = order_rank(maker_side, maker_price, seq)
                assert (rank < crossing_limit(taker_side, taker_price)) == crosses
                assert crossing_limit(taker_side, taker_price) < 1 << (RANK_BITS + 1)


def test_refs_and_bad_values():
    ref = book_ref(5, 2**64 - 1)
    assert ref_parts(ref) == (5, 2**64 - 1)
    with pytest.raises(ProtocolError):
        book_ref(5, 2**64)
    with pytest.raises(ProtocolError):
        order_rank(SIDE_BUY, 0, 1)
    with pytest.raises(ProtocolError):
        order_rank(2, 5, 1)
    book = BookSide(SIDE_SELL, bits=4, cap_levels=1)
    with pytest.raises(ProtocolError):
        book.pop()
    with pytest.raises(ProtocolError):
        book.touch()
    book.insert(order_rank(SIDE_SELL, 5, 1), 7)
    with pytest.raises(ProtocolError, match="already"):
        book.insert(order_rank(SIDE_SELL, 5, 1), 8)
    assert book.tree.get(3) == FREE_LEAF_HASH


def test_books_survive_json_with_their_root_and_priority():
    import json

    from prover.exchange.booktree import Books

    books = Books(2, bits=4, cap_levels=1)
    asks = books.side(0, SIDE_SELL)
    for seq, price in enumerate([1000, 990, 1010, 990]):
        asks.insert(order_rank(SIDE_SELL, price, seq), book_ref(2 + seq, 1))
    asks.pop()  # a freed leaf on the free stack
    again = Books.from_json(json.loads(json.dumps(books.to_json())))
    assert again.root == books.root
    assert [leaf.ref for _, leaf in again.side(0, SIDE_SELL).walk()] == [
        leaf.ref for _, leaf in asks.walk()
    ]
    step, step_again = (b.side(0, SIDE_SELL).insert(order_rank(SIDE_SELL, 995, 9), 7)
                        for b in (books, again))
    assert step_again == step and again.root == books.root  # the free stack came back too
    data = books.to_json()
    data["sides"][1]["leaves"][0][2] = "5"  # a damaged ref
    with pytest.raises(ProtocolError, match="root does not match"):
        Books.from_json(data)
