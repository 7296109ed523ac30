"""Order book: price-time priority, cancels, partial fills, never crossed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.errors import ProtocolError
from prover.exchange.book import OrderBook, crosses, opposite
from prover.exchange.constants import SIDE_BUY, SIDE_SELL


def test_empty_book() -> None:
    book = OrderBook(3)
    assert len(book) == 0
    assert book.best(SIDE_BUY) is None
    assert book.best_price(SIDE_SELL) is None
    assert not book.is_crossed()
    assert book.take(SIDE_BUY, 100, 5) == ([], 5)


def test_bids_price_desc_then_arrival() -> None:
    book = OrderBook()
    book.add("a", SIDE_BUY, 100, 1)
    book.add("b", SIDE_BUY, 101, 1)
    book.add("c", SIDE_BUY, 100, 1)
    book.add("d", SIDE_BUY, 99, 1)
    assert [o.ref for o in book.orders(SIDE_BUY)] == ["b", "a", "c", "d"]
    assert book.best(SIDE_BUY).ref == "b"  # type: ignore[union-attr]


def test_asks_price_asc_then_arrival() -> None:
    book = OrderBook()
    book.add("a", SIDE_SELL, 100, 1)
    book.add("b", SIDE_SELL, 99, 1)
    book.add("c", SIDE_SELL, 99, 1)
    assert [o.ref for o in book.orders(SIDE_SELL)] == ["b", "c", "a"]
    assert book.depth(SIDE_SELL) == [(99, 2), (100, 1)]


def test_take_walks_levels_at_maker_prices_with_partial_fill() -> None:
    book = OrderBook()
    book.add("a", SIDE_SELL, 100, 3)
    book.add("b", SIDE_SELL, 101, 3)
    book.add("c", SIDE_SELL, 105, 3)
    fills, rest = book.take(SIDE_BUY, 102, 5)
    assert [(f.maker, f.price, f.qty) for f in fills] == [("a", 100, 3), ("b", 101, 2)]
    assert rest == 0
    b = book.get("b")
    assert b is not None and b.remaining == 1 and b.filled == 2
    assert "a" not in book
    fills, rest = book.take(SIDE_BUY, 102, 5)
    assert [(f.maker, f.qty) for f in fills] == [("b", 1)]
    assert rest == 4  # 105 does not cross 102


def test_cancel_and_lazy_deletion() -> None:
    book = OrderBook()
    book.add("a", SIDE_BUY, 100, 1)
    book.add("b", SIDE_BUY, 100, 1)
    book.add("c", SIDE_BUY, 101, 1)
    assert book.remove("c") is not None
    assert book.remove("c") is None
    assert book.best_price(SIDE_BUY) == 100
    book.remove("a")
    assert book.best(SIDE_BUY).ref == "b"  # type: ignore[union-attr]
    book.remove("b")
    assert book.best(SIDE_BUY) is None
    # A level emptied and re-created keeps working (stale heap key reused).
    book.add("d", SIDE_BUY, 101, 2)
    assert book.best(SIDE_BUY).ref == "d"  # type: ignore[union-attr]
    assert len(book) == 1


def test_add_refuses_crossing_duplicates_and_bad_numbers() -> None:
    book = OrderBook()
    book.add("a", SIDE_SELL, 100, 1)
    with pytest.raises(ProtocolError, match="cross"):
        book.add("b", SIDE_BUY, 100, 1)
    with pytest.raises(ProtocolError, match="already rests"):
        book.add("a", SIDE_SELL, 101, 1)
    with pytest.raises(ProtocolError):
        book.add("c", SIDE_SELL, 0, 1)
    with pytest.raises(ProtocolError):
        book.add("c", SIDE_SELL, 10, 1, filled=1)
    with pytest.raises(ProtocolError, match="side"):
        book.add("c", 2, 10, 1)
    book.add("b", SIDE_BUY, 99, 1)
    assert not book.is_crossed()


def test_fill_checks_quantity() -> None:
    book = OrderBook()
    book.add("a", SIDE_SELL, 100, 2, filled=0)
    with pytest.raises(ProtocolError):
        book.fill("a", 3)
    with pytest.raises(ProtocolError):
        book.fill("zz", 1)
    book.fill("a", 2)
    assert len(book) == 0


def test_helpers() -> None:
    assert opposite(SIDE_BUY) == SIDE_SELL and opposite(SIDE_SELL) == SIDE_BUY
    assert crosses(SIDE_BUY, 100, 100) and not crosses(SIDE_BUY, 99, 100)
    assert crosses(SIDE_SELL, 100, 100) and not crosses(SIDE_SELL, 101, 100)


_ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.sampled_from([SIDE_BUY, SIDE_SELL]),
            st.integers(95, 105),
            st.integers(1, 5),
        ),
        st.tuples(st.just("cancel"), st.integers(0, 60)),
    ),
    max_size=60,
)


@settings(max_examples=50, deadline=None)
@given(_ops)
def test_random_flow_matches_naive_model(ops: list[tuple]) -> None:
    """Against a naive list model: same fills, never crossed, priority holds."""
    book = OrderBook()
    naive: list[list] = []  # [ref, side, price, remaining, arrival]
    arrival = 0
    for i, op in enumerate(ops):
        if op[0] == "cancel":
            ref = op[1]
            book.remove(ref)
            naive = [o for o in naive if o[0] != ref]
            continue
        _, side, price, qty = op
        fills, rest = book.take(side, price, qty)
        # Naive matching: best price, then earliest arrival.
        expected = []
        q = qty
        while q:
            cands = [o for o in naive if o[1] != side and crosses(side, price, o[2])]
            if not cands:
                break
            best = min(cands, key=lambda o: (o[2] if side == SIDE_BUY else -o[2], o[4]))
            f = min(q, best[3])
            expected.append((best[0], best[2], f))
            best[3] -= f
            q -= f
            if best[3] == 0:
                naive.remove(best)
        assert [(f.maker, f.price, f.qty) for f in fills] == expected
        assert rest == q
        if rest:
            book.add(i, side, price, rest)
            naive.append([i, side, price, rest, arrival])
            arrival += 1
        assert not book.is_crossed()
        for s in (SIDE_BUY, SIDE_SELL):
            got = [(o.ref, o.remaining) for o in book.orders(s)]
            want = sorted(
                (o for o in naive if o[1] == s),
                key=lambda o: (-o[2] if s == SIDE_BUY else o[2], o[4]),
            )
            assert got == [(o[0], o[3]) for o in want]
            head = book.best(s)
            assert (head.ref if head else None) == (want[0][0] if want else None)
    assert len(book) == len(naive)
