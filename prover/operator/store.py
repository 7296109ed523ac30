"""The operator's store: state, resting books and a journal of batches in one SQLite file.

Tables (schema version 1):

- ``meta(key, value)``: ``format = zkmatch-store``, ``version``, the batch ``config``
  (JSON), ``account_bits``, ``slot_bits``, ``next_batch`` and the state ``root`` (a
  check value: a reopened store rebuilds the trees and compares).
- ``markets(id, body)``: market parameters (JSON, ``Market.to_json``).
- ``accounts(idx, body)``: an account's leaf contents (``Account.to_json``).
- ``slots(account, slot, body, order_body)``: written order slots, with the order body
  of an open slot.
- ``book(account, order_id, market, arrival, filled, seq, body)``: resting orders in
  book priority (``arrival`` orders each price level).
- ``batches(number, old_root, new_root, config_hash, params, fills, rejections,
  witness)``: the journal. ``witness`` is the circuit input JSON of the batch
  (``BatchWitness.as_circuit_inputs``), enough to prove it later.

The file runs in WAL mode with ``synchronous = FULL``. Each :meth:`Store.commit_batch`
is a single ``BEGIN IMMEDIATE ... COMMIT`` transaction (journal row, touched accounts
and their slots, the whole book, ``next_batch`` and ``root``), so a crash at any point
leaves either the old or the new state, never a mix. :meth:`Store.load_state`
rebuilds the Merkle trees from the rows and refuses a store whose rebuilt root differs
from the recorded one. Errors are :class:`StoreError` with a message naming the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prover.errors import ProtocolError, StoreError
from prover.exchange.domain import BatchConfig, Market, Order, PriceSet, parse_int
from prover.exchange.engine import BatchReport, Engine, Prices
from prover.exchange.state import ExchangeState

FORMAT = "zkmatch-store"
VERSION = 2

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE markets (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE accounts (idx INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE slots (
    account INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    body TEXT NOT NULL,
    order_body TEXT,
    PRIMARY KEY (account, slot)
);
CREATE TABLE book (
    account INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    market INTEGER NOT NULL,
    arrival INTEGER NOT NULL,
    filled INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (account, order_id)
);
CREATE TABLE batches (
    number INTEGER PRIMARY KEY,
    old_root TEXT NOT NULL,
    new_root TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    params TEXT NOT NULL,
    fills TEXT NOT NULL,
    rejections TEXT NOT NULL,
    witness TEXT NOT NULL
);
"""


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


class Store:
    """An open operator store. Use :meth:`create` or :meth:`open`; close it (or use
    ``with``) when done."""

    def __init__(self, path: Path, conn: sqlite3.Connection) -> None:
        self.path = path
        self._conn = conn

    # --- opening ----------------------------------------------------------------------

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(str(path), isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: not a usable SQLite file ({exc})") from exc
        return conn

    @classmethod
    def create(
        cls,
        path: str | Path,
        state: ExchangeState,
        config: BatchConfig,
        *,
        first_batch: int = 0,
    ) -> Store:
        """A new store at ``path`` (which must not exist) holding ``state`` at genesis."""
        path = Path(path)
        if path.exists():
            raise StoreError(f"{path} already exists; open it, or remove it to start afresh")
        conn = cls._connect(path)
        store = cls(path, conn)
        with store._transaction():
            # One statement at a time: executescript() would commit the transaction.
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    conn.execute(statement)
            meta = {
                "format": FORMAT,
                "version": str(VERSION),
                "config": _dumps(config.to_json()),
                "account_bits": str(state.account_bits),
                "slot_bits": str(state.slot_bits),
                "next_batch": str(first_batch),
                "root": str(state.root),
                "venue": _dumps(state.venue.to_json() if state.venue is not None else None),
                "last_timestamp": str(state.last_timestamp),
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            conn.executemany(
                "INSERT INTO markets VALUES (?, ?)",
                [(m.id, _dumps(m.to_json())) for m in state.markets],
            )
            store._write_accounts(state, list(state))
        return store

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open an existing store; :class:`StoreError` if it is missing or not one."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such store")
        conn = cls._connect(path)
        store = cls(path, conn)
        try:
            rows = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"{path}: not a zkmatch store ({exc})") from exc
        if rows.get("format") != FORMAT:
            conn.close()
            raise StoreError(f"{path}: not a zkmatch store (format {rows.get('format')!r})")
        if rows.get("version") != str(VERSION):
            conn.close()
            raise StoreError(
                f"{path}: store version {rows.get('version')!r}, this zkmatch reads {VERSION}"
            )
        return store

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``, or ``ROLLBACK`` on any exception."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot start a write ({exc})") from exc
        try:
            yield conn
        except BaseException:
            self._rollback()
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            self._rollback()
            raise StoreError(f"{self.path}: commit failed ({exc})") from exc

    def _rollback(self) -> None:
        if self._conn.in_transaction:
            self._conn.execute("ROLLBACK")

    # --- reading ----------------------------------------------------------------------

    def _meta(self, key: str) -> str:
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: unreadable ({exc})") from exc
        if row is None:
            raise StoreError(f"{self.path}: corrupt store, meta key {key!r} missing")
        return str(row[0])

    def _int_meta(self, key: str) -> int:
        try:
            return parse_int(self._meta(key), key)
        except ProtocolError as exc:
            raise StoreError(f"{self.path}: corrupt store, meta {key}: {exc}") from exc

    @property
    def next_batch(self) -> int:
        """Number of the next batch to build."""
        return self._int_meta("next_batch")

    @property
    def root(self) -> int:
        """The state root recorded with the last commit."""
        return self._int_meta("root")

    @property
    def config(self) -> BatchConfig:
        try:
            return BatchConfig.from_json(json.loads(self._meta("config")))
        except (ValueError, ProtocolError) as exc:
            raise StoreError(f"{self.path}: corrupt store, batch config: {exc}") from exc

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: unreadable ({exc})") from exc

    def markets(self) -> tuple[Market, ...]:
        try:
            return tuple(
                Market.from_json(json.loads(body))
                for _, body in self._rows("SELECT id, body FROM markets ORDER BY id")
            )
        except (ValueError, ProtocolError) as exc:
            raise StoreError(f"{self.path}: corrupt store, markets: {exc}") from exc

    def load_state(self) -> ExchangeState:
        """Rebuild the state (trees included) and check it against the recorded root."""
        slots: dict[int, list[dict[str, Any]]] = {}
        try:
            for account, slot_no, body, order_body in self._rows(
                "SELECT account, slot, body, order_body FROM slots ORDER BY account, slot"
            ):
                record = json.loads(body)
                record["slot"] = str(slot_no)
                record["order"] = json.loads(order_body) if order_body is not None else None
                slots.setdefault(account, []).append(record)
            accounts = []
            for idx, body in self._rows("SELECT idx, body FROM accounts ORDER BY idx"):
                record = {"index": str(idx), **json.loads(body)}
                accounts.append({**record, "slots": slots.get(idx, [])})
            data = {
                "account_bits": self._meta("account_bits"),
                "slot_bits": self._meta("slot_bits"),
                "markets": [m.to_json() for m in self.markets()],
                "venue": json.loads(self._meta("venue")),
                "last_timestamp": self._meta("last_timestamp"),
                "accounts": accounts,
                "root": self._meta("root"),
            }
            return ExchangeState.from_json(data)
        except (ValueError, ProtocolError) as exc:
            raise StoreError(
                f"{self.path}: corrupt store, the state does not rebuild: {exc}"
            ) from exc

    def load_book(self) -> list[tuple[Order, int, int]]:
        """Resting orders as ``(order, filled, seq)`` in book arrival order."""
        try:
            return [
                (Order.from_json(json.loads(body)), filled, seq)
                for body, filled, seq in self._rows(
                    "SELECT body, filled, seq FROM book ORDER BY arrival"
                )
            ]
        except (ValueError, ProtocolError) as exc:
            raise StoreError(f"{self.path}: corrupt store, book: {exc}") from exc

    def engine(self, prices: Prices) -> Engine:
        """An engine continuing from the store: its state, its books, its next batch."""
        state = self.load_state()
        engine = Engine(state, state.markets, self.config, prices, first_batch=self.next_batch)
        for order, filled, seq in self.load_book():
            slot = state.slot(order.account, order.slot(state.slot_bits))
            if slot.order_id != order.order_id or slot.order_hash != order.hash():
                raise StoreError(
                    f"{self.path}: corrupt store, resting order {order.ref} is not in its slot"
                )
            if slot.filled != filled:
                raise StoreError(
                    f"{self.path}: corrupt store, resting order {order.ref} has filled "
                    f"{filled} in the book but {slot.filled} in its slot"
                )
            try:
                engine.rest(order, filled=filled, seq=seq)
            except ProtocolError as exc:
                raise StoreError(f"{self.path}: corrupt store, book: {exc}") from exc
        return engine

    def batches(self) -> list[dict[str, Any]]:
        """The journal, oldest first, without the witnesses."""
        out = []
        for number, old_root, new_root, config_hash, params, fills, rejections in self._rows(
            "SELECT number, old_root, new_root, config_hash, params, fills, rejections "
            "FROM batches ORDER BY number"
        ):
            out.append(
                {
                    "batch_number": number,
                    "old_root": old_root,
                    "new_root": new_root,
                    "config_hash": config_hash,
                    "params": json.loads(params),
                    "fills": json.loads(fills),
                    "rejections": json.loads(rejections),
                }
            )
        return out

    def witness(self, number: int) -> dict[str, Any]:
        """The circuit inputs recorded for batch ``number``."""
        rows = self._rows("SELECT witness FROM batches WHERE number = ?", (number,))
        if not rows:
            raise StoreError(f"{self.path}: no batch {number} in the journal")
        result: dict[str, Any] = json.loads(rows[0][0])
        return result

    # --- writing ----------------------------------------------------------------------

    def _write_accounts(self, state: ExchangeState, indices: Sequence[int]) -> None:
        conn = self._conn
        for idx in indices:
            conn.execute(
                "INSERT OR REPLACE INTO accounts VALUES (?, ?)",
                (idx, _dumps(state.account(idx).to_json())),
            )
            conn.execute("DELETE FROM slots WHERE account = ?", (idx,))
            for slot_no, slot in sorted(state.slots(idx).items()):
                order = state.slot_order(idx, slot_no)
                conn.execute(
                    "INSERT INTO slots VALUES (?, ?, ?, ?)",
                    (
                        idx,
                        slot_no,
                        _dumps(slot.to_json()),
                        _dumps(order.to_json()) if order is not None else None,
                    ),
                )

    def _write_book(self, engine: Engine) -> None:
        conn = self._conn
        conn.execute("DELETE FROM book")
        for arrival, (order, entry) in enumerate(engine.resting_orders()):
            conn.execute(
                "INSERT INTO book VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    order.account,
                    str(order.order_id),
                    order.market,
                    arrival,
                    entry.filled,
                    entry.seq,
                    _dumps(order.to_json()),
                ),
            )

    def commit_batch(self, report: BatchReport, engine: Engine) -> None:
        """Record a sealed batch, the new state and ``engine``'s books, atomically.

        Call it right after the batch is sealed (``Engine(on_seal=...)`` does), before
        the engine takes the next message. Raises :class:`StoreError` if the batch does
        not continue the stored state (wrong batch number or old root).
        """
        result = report.result
        number = result.batch_number
        if number != self.next_batch:
            raise StoreError(
                f"{self.path}: batch {number} does not follow the store (next is {self.next_batch})"
            )
        if result.old_root != self.root:
            raise StoreError(
                f"{self.path}: batch {number} starts from root {result.old_root}, the store "
                f"holds {self.root}"
            )
        state = result.state
        touched = sorted({a.index for a in result.witness.accounts if a.used})
        params = result.witness.params
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    str(result.old_root),
                    str(result.new_root),
                    str(result.config_hash),
                    _dumps(params.to_json()),
                    _dumps([f.to_json() for f in result.fills]),
                    _dumps([r.to_json() for r in report.rejections]),
                    _dumps(result.witness.as_circuit_inputs()),
                ),
            )
            self._write_accounts(state, touched)
            self._write_book(engine)
            conn.execute("UPDATE meta SET value = ? WHERE key = 'next_batch'", (str(number + 1),))
            conn.execute("UPDATE meta SET value = ? WHERE key = 'root'", (str(result.new_root),))
            conn.execute(
                "UPDATE meta SET value = ? WHERE key = 'last_timestamp'",
                (str(state.last_timestamp),),
            )


def params_from_journal(row: dict[str, Any]) -> PriceSet:
    """The PriceSet of a journal row from :meth:`Store.batches`."""
    return PriceSet.from_json(row["params"])


__all__ = ["FORMAT", "VERSION", "Store", "params_from_journal"]
