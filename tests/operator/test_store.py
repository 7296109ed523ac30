"""Operator store: round trip, atomic batch commits, restart, corrupt and foreign files."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from prover.errors import StoreError
from prover.exchange import inbox
from prover.exchange.domain import OrderRef
from prover.exchange.engine import Engine
from prover.exchange.venue import DEV_OPERATOR
from prover.operator.store import Store
from tests.exchange.trading import BUY, SELL, Trader, config, make_state, prices

A, B = Trader(2), Trader(3)


def _engine_with_store(path: Path) -> tuple[Engine, Store]:
    state = make_state({2: 10**6, 3: 10**6})
    store = Store.create(path, state, config())
    engine = Engine(state, None, config(), prices, on_seal=store.commit_batch)
    return engine, store


def test_create_commit_reopen_same_root_and_book(tmp_path: Path) -> None:
    path = tmp_path / "op.db"
    engine, store = _engine_with_store(path)
    engine.submit(A.order(SELL, 100, 5, 1))
    engine.submit(A.order(SELL, 101, 5, 2))
    engine.submit(B.order(BUY, 100, 2, 1))
    report = engine.end_batch()
    assert report is not None
    assert store.next_batch == 1 and store.root == engine.state.root
    store.close()

    with Store.open(path) as again:
        state = again.load_state()
        assert state.root == report.new_root
        restored = again.engine(prices)
        assert restored.next_batch == 1
        assert [(o.ref, r.remaining) for o, r in restored.resting_orders()] == [
            (OrderRef(2, 1), 3),
            (OrderRef(2, 2), 5),
        ]
        rows = again.batches()
        assert [r["batch_number"] for r in rows] == [0]
        assert rows[0]["new_root"] == str(report.new_root)
        assert again.witness(0)["newRoot"] == str(report.new_root)
        # The restored engine continues exactly where the first one would.
        out = restored.submit(B.order(BUY, 101, 4, 2))
        assert [(f.maker, f.qty) for f in out.fills] == [(OrderRef(2, 1), 3), (OrderRef(2, 2), 1)]
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_crash_inside_commit_leaves_old_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "op.db"
    engine, store = _engine_with_store(path)
    engine.submit(A.order(SELL, 100, 5, 1))
    engine.end_batch()
    root_after_0 = store.root

    def boom(self: Store, conn: Any, number: int, delta: dict[str, Any]) -> None:
        for rows in delta["accounts"]:
            self._write_account_rows(conn, rows)
        raise RuntimeError("simulated crash between writing accounts and the book")

    engine.submit(B.order(BUY, 100, 2, 1))
    monkeypatch.setattr(Store, "_apply", boom)
    with pytest.raises(RuntimeError, match="simulated crash"):
        engine.end_batch()
    store.close()

    with Store.open(path) as again:
        assert again.next_batch == 1 and again.root == root_after_0
        assert [r["batch_number"] for r in again.batches()] == [0]
        state = again.load_state()
        assert state.root == root_after_0
        assert state.account(3).positions[0].size == 0  # batch 1's fill did not land
        monkeypatch.undo()
        restored = again.engine(prices)
        assert [(o.ref, r.remaining) for o, r in restored.resting_orders()] == [(OrderRef(2, 1), 5)]


def test_commit_refuses_batches_that_do_not_follow(tmp_path: Path) -> None:
    path = tmp_path / "op.db"
    engine, store = _engine_with_store(path)
    engine.submit(A.order(SELL, 100, 5, 1))
    report = engine.end_batch()
    assert report is not None
    with pytest.raises(StoreError, match="does not follow"):
        store.commit_batch(report, engine)
    store.close()


def test_create_refuses_existing_file_and_open_refuses_foreign(tmp_path: Path) -> None:
    path = tmp_path / "op.db"
    Store.create(path, make_state({}), config()).close()
    with pytest.raises(StoreError, match="already exists"):
        Store.create(path, make_state({}), config())
    with pytest.raises(StoreError, match="no such store"):
        Store.open(tmp_path / "missing.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a"):
        Store.open(junk)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not a zkmatch store"):
        Store.open(other)


def test_corrupt_rows_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "op.db"
    state = make_state({2: 500})
    Store.create(path, state, config()).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE accounts SET body = replace(body, '\"500\"', '\"501\"') WHERE idx = 2")
    conn.commit()
    conn.close()
    with Store.open(path) as store, pytest.raises(StoreError, match="does not rebuild"):
        store.load_state()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE meta SET value = '3' WHERE key = 'version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="version"):
        Store.open(path)


# --- the inbox and the batch steps (no chain) ------------------------------------------


def _inbox_store(path: Path) -> Store:
    """A store that has read two inbox messages (as from the Rollup's MessageSent log)."""
    store = Store.create(path, make_state({2: 10**6, 3: 10**6}), config())
    messages = [inbox.encrypt_entry(e, DEV_OPERATOR.public_key)
                for e in (A.order(SELL, 100, 5, 1), B.order(BUY, 100, 2, 1))]
    chain = 0
    events = []
    for i, m in enumerate(messages):
        chain = inbox.chain_step(chain, m)
        events.append((i, m, chain, 10 + i))
    assert store.add_inbox(events) == 2
    return store


def _match(store: Store) -> tuple[Any, list[Any], list[dict[str, Any]]]:
    sealed: list[Any] = []
    engine = store.engine(prices, on_seal=lambda r, e: sealed.append(
        (r, [(o, x.filled, x.seq) for o, x in e.resting_orders()])))
    _, outcomes = engine.submit_inbox(store.inbox(0, 2))
    report, book = sealed[0]
    return report, book, [{"index": o.message, "accepted": o.accepted} for o in outcomes]


def test_the_inbox_is_read_once_and_checked(tmp_path: Path) -> None:
    store = _inbox_store(tmp_path / "op.db")
    first = store.inbox(0, 2)
    chain = inbox.chain_of(first)
    # Reading the same events again changes nothing; a different message at a read index,
    # a gap, or a chain value that is not the hash chain's is refused.
    assert store.add_inbox([(1, first[1], chain, 11)]) == 2
    with pytest.raises(StoreError, match="differs"):
        store.add_inbox([(1, first[0], chain, 11)])
    with pytest.raises(StoreError, match="after"):
        store.add_inbox([(3, first[0], chain, 12)])
    with pytest.raises(StoreError, match="chain mismatch"):
        store.add_inbox([(2, first[0], chain, 12)])
    assert store.inbox_length() == 2 and store.pending() == [0, 1]
    with pytest.raises(StoreError, match="not all read"):
        store.inbox(0, 3)


def test_the_state_moves_only_when_the_batch_is_confirmed(tmp_path: Path) -> None:
    store = _inbox_store(tmp_path / "op.db")
    genesis_root = store.root
    report, book, outcomes = _match(store)
    store.record_matched(report, book, outcomes)
    # The operator's inbox secret is never stored (whoever reads it reads every message).
    assert "operatorSecret" not in store.witness(0)
    assert str(DEV_OPERATOR.scalar) not in (tmp_path / "op.db").read_bytes().decode("latin-1")
    assert store.pending() == [] and store.in_flight()["step"] == "matched"  # type: ignore[index]
    assert store.root == genesis_root and store.next_batch == 0
    assert store.load_state().inbox_count == 0
    store.record_proven(0, {"pi_a": []}, ["1"], {"prove": 1.0})
    store.record_sent(0, "0xabc", b"\x01", 7)
    store.unsend(0)
    store.record_sent(0, "0xdef", b"\x02", 8)
    assert store.root == genesis_root
    store.confirm(0, "0xdef", 12, 259_000, {"confirm": 0.1})
    assert store.in_flight() is None and store.next_batch == 1
    assert store.root == report.new_root == store.load_state().root
    state = store.load_state()
    assert state.inbox_count == 2 and state.inbox_chain == inbox.chain_of(store.inbox(0, 2))
    row = store.batch(0)
    assert row is not None and row["step"] == "confirmed" and row["tx_hash"] == "0xdef"
    assert [(m["status"], m["batch"]) for m in store.messages()] == [("batched", 0)] * 2
    assert [m["outcome"]["accepted"] for m in store.messages()] == [True, True]


def test_an_abandoned_batch_gives_its_messages_back_in_order(tmp_path: Path) -> None:
    store = _inbox_store(tmp_path / "op.db")
    before = store.pending()
    report, book, outcomes = _match(store)
    store.record_matched(report, book, outcomes)
    store.record_proven(0, {}, [], {})
    assert store.abandon(0) == before == [0, 1]
    assert store.pending() == before and store.batch(0) is None
    store.record_matched(report, book, outcomes)  # the same batch can be made again
    store.record_proven(0, {}, [], {})
    store.record_sent(0, "0xabc", b"\x01", 7)
    with pytest.raises(StoreError, match="is sent"):
        store.abandon(0)  # once signed, it may be on chain: never dropped


def test_a_second_batch_cannot_start_while_one_is_in_flight(tmp_path: Path) -> None:
    store = _inbox_store(tmp_path / "op.db")
    report, book, outcomes = _match(store)
    store.record_matched(report, book, outcomes)
    with pytest.raises(StoreError):
        store.record_matched(report, book, [])
