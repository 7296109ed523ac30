"""The engine with the committed book (docs/book.md): the rules choose every fill, the
engine reports what they did. One test per reported behaviour, then the store round trip
(the book is part of the stored state and its root)."""

from __future__ import annotations

import pytest

from prover.errors import ProtocolError
from prover.exchange import inbox
from prover.exchange.booktree import Books
from prover.exchange.constants import SIDE_SELL, TIF_IOC, TIF_POST_ONLY
from prover.exchange.domain import BatchConfig, OrderRef, Reject
from prover.exchange.engine import BOOK_FULL, SWEEP_LIMIT, Engine, Outcome
from prover.exchange.state import ExchangeState
from prover.exchange.venue import DEV_OPERATOR
from prover.operator.store import Store
from tests.exchange.trading import (
    ACCOUNT_BITS,
    BUY,
    MARKETS,
    SELL,
    SLOT_BITS,
    Trader,
    config,
    make_state,
    prices,
)

A, B, C, D = Trader(2), Trader(3), Trader(4), Trader(5)


def book_config(accounts: int = 8, entries: int = 4, steps: int = 2, bits: int = 4):
    return BatchConfig(
        ACCOUNT_BITS, SLOT_BITS, len(MARKETS), accounts, entries, steps,
        book_bits=bits, book_cap_levels=1 if bits > 2 else 0,
    )


def book_state(cfg: BatchConfig) -> ExchangeState:
    state = make_state({2: 10**6, 3: 10**6, 4: 10**6, 5: 10**6})
    state.books = Books(len(MARKETS), cfg.book_bits, cfg.book_cap_levels)
    return state


def make(cfg: BatchConfig | None = None, **kw) -> Engine:
    cfg = cfg or book_config()
    return Engine(book_state(cfg), MARKETS, cfg, prices, **kw)


def refs(outcome: Outcome) -> list[tuple[int, int, int, int]]:
    return [(f.maker.account, f.maker.order_id, f.price, f.qty) for f in outcome.fills]


def reasons(outcome: Outcome) -> list[tuple[str, str]]:
    return [(r.kind, str(r.reason)) for r in outcome.rejections]


def test_fills_come_from_the_rules_best_price_then_time() -> None:
    eng = make()
    eng.submit(A.order(SELL, 101, 2, 1))
    eng.submit(C.order(SELL, 100, 2, 1))
    eng.submit(A.order(SELL, 100, 2, 2))  # same price as C's, later
    out = eng.submit(B.order(BUY, 101, 3, 1, tif=TIF_IOC))
    assert refs(out) == [(4, 1, 100, 2), (2, 2, 100, 1)] and not out.rested
    report = eng.end_batch()
    assert report is not None and report.new_root == eng.state.root
    assert report.fills == tuple(out.fills)
    assert eng.state.account(3).positions[0].size == 3
    assert eng.state.account(2).positions[0].size == -1


def test_a_self_trade_cancels_the_resting_order_and_goes_on() -> None:
    eng = make()
    eng.submit(A.order(SELL, 100, 2, 1))
    eng.submit(B.order(SELL, 100, 2, 1))
    out = eng.submit(A.order(BUY, 100, 1, 2, tif=TIF_IOC))
    assert reasons(out) == [("maker", str(Reject.SELF_TRADE))]
    assert out.rejections[0].ref == OrderRef(2, 1)
    assert refs(out) == [(3, 1, 100, 1)]
    assert [o.ref for o, _ in eng.resting_orders()] == [OrderRef(3, 1)]


def test_post_only_that_would_trade_is_stopped_and_does_not_rest() -> None:
    eng = make()
    eng.submit(A.order(SELL, 100, 2, 1))
    out = eng.submit(B.order(BUY, 100, 1, 1, tif=TIF_POST_ONLY))
    assert out.accepted and not out.fills and not out.rested
    assert reasons(out) == [("taker", str(Reject.POST_ONLY_WOULD_CROSS))]
    out = eng.submit(B.order(BUY, 99, 1, 2, tif=TIF_POST_ONLY))
    assert out.rested and not out.rejections


def test_the_sweep_limit_drops_the_remainder() -> None:
    eng = make(book_config(steps=2))
    for i in range(3):
        eng.submit(A.order(SELL, 100, 1, i + 1))
    out = eng.submit(B.order(BUY, 100, 5, 1))  # GTC, but the book still crosses
    assert len(out.fills) == 2 and not out.rested
    assert reasons(out) == [("taker", SWEEP_LIMIT)]


def test_a_full_side_drops_a_gtc_remainder() -> None:
    eng = make(book_config(bits=2))  # 4 orders per side
    for i in range(4):
        assert eng.submit(A.order(BUY, 90 + i, 1, i + 1)).rested
    out = eng.submit(B.order(BUY, 80, 1, 1))
    assert not out.rested and reasons(out) == [("taker", BOOK_FULL)]


def test_a_replaced_slot_reports_the_cancelled_order_which_stays_until_it_is_the_head() -> None:
    eng = make()
    eng.submit(A.order(SELL, 100, 2, 1))
    out = eng.submit(A.cancel(1))
    assert out.cancelled == OrderRef(2, 1)
    assert eng.resting_orders() == []  # not live any more
    assert len(eng.book_builder.books.side(0, SIDE_SELL)) == 1  # its leaf waits at the head
    out = eng.submit(B.order(BUY, 100, 1, 1, tif=TIF_IOC))
    assert not out.fills  # the stale head is removed, the taker finds nothing else
    assert len(eng.book_builder.books.side(0, SIDE_SELL)) == 0


def test_makers_that_do_not_fit_seal_the_batch_first() -> None:
    eng = make(book_config(accounts=5, steps=2))  # fee, insurance, 3 more
    eng.submit(A.order(SELL, 100, 1, 1))
    eng.submit(B.order(SELL, 100, 1, 1))
    eng.end_batch()
    eng.submit(C.order(BUY, 100, 1, 1, tif=TIF_IOC))  # meets A: fee, ins, C, A
    out = eng.submit(D.order(BUY, 100, 1, 1, tif=TIF_IOC))  # D and B: a fresh batch
    assert out.batch_number == 2 and refs(out) == [(3, 1, 100, 1)]
    assert [r.batch_number for r in eng.finish()] == [0, 1, 2]


def test_a_config_that_cannot_take_every_message_is_refused() -> None:
    with pytest.raises(ProtocolError, match=r"K >= F \+ 3"):
        make(book_config(accounts=4, steps=2))
    with pytest.raises(ProtocolError, match="books"):
        Engine(make_state({2: 10**6}), MARKETS, book_config(), prices)


def test_the_legacy_book_cannot_be_loaded_into_a_committed_one() -> None:
    eng = make()
    o = A.order(SELL, 100, 1, 1).order
    with pytest.raises(ProtocolError, match="by the rules"):
        eng.rest(o)


def test_the_store_keeps_the_book_in_the_state(tmp_path) -> None:
    cfg = book_config()
    state = book_state(cfg)
    store = Store.create(tmp_path / "s.db", state, cfg)
    eng = Engine(state, MARKETS, cfg, prices, on_seal=store.commit_batch)
    eng.submit(A.order(SELL, 100, 3, 1))
    eng.submit(B.order(BUY, 100, 1, 1, tif=TIF_IOC))
    eng.end_batch()
    again = store.engine(prices)
    assert again.state.root == eng.state.root == store.root
    assert again.state.books is not None and again.state.books.root == eng.state.books.root
    assert [(o.ref, r.remaining) for o, r in again.resting_orders()] == [(OrderRef(2, 1), 2)]
    out = again.submit(C.order(BUY, 100, 2, 1, tif=TIF_IOC))
    assert refs(out) == [(2, 1, 100, 2)]


def _messages(entries):
    return [inbox.encrypt_entry(e, DEV_OPERATOR.public_key) for e in entries]


@pytest.mark.parametrize("book", [True, False])
def test_a_message_naming_an_unknown_account_is_recorded(tmp_path, book) -> None:
    """Anyone may post one: its empty leaf is opened, not written, and the store records
    the batch (the account gets no row). Found by review; the fill-list venue had it too."""
    cfg = book_config() if book else config()
    state = book_state(cfg) if book else make_state({2: 10**6})
    store = Store.create(tmp_path / "s.db", state, cfg)
    eng = Engine(state, MARKETS, cfg, prices, on_seal=store.commit_batch)
    _, (out,) = eng.submit_inbox(_messages([Trader(9).order(SELL, 100, 5, 1)]))
    assert not out.accepted and reasons(out) == [("order", str(Reject.UNKNOWN_ACCOUNT))]
    assert store.root == eng.state.root and store.next_batch == 1


def test_the_pre_trade_check_sees_this_batchs_fills() -> None:
    """A, short 90 after a fill, buys 150 (long 60 if it fills): the check weighs the
    account as the batch left it, as the next batch would."""
    eng = make()
    eng.submit(B.order(BUY, 100, 90, 1))
    assert refs(eng.submit(A.order(SELL, 100, 90, 1, tif=TIF_IOC))) == [(3, 1, 100, 90)]
    out = eng.submit(A.order(BUY, 100, 150, 2))
    assert out.accepted and out.rested, reasons(out)


def test_only_an_order_that_rests_is_reported_cancelled() -> None:
    eng = make()
    eng.submit(A.order(SELL, 100, 2, 1, tif=TIF_IOC))  # dropped: never rested
    out = eng.submit(A.order(SELL, 101, 2, 1 + (1 << SLOT_BITS)))  # the same slot
    assert out.cancelled is None and out.rested
    out = eng.submit(A.cancel(1 + (1 << SLOT_BITS)))
    assert out.cancelled == OrderRef(2, 1 + (1 << SLOT_BITS))


def test_a_state_with_books_needs_a_book_config() -> None:
    with pytest.raises(ProtocolError, match="no book_bits"):
        Engine(book_state(book_config()), MARKETS, config(), prices)
