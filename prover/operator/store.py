"""The operator's store: state, resting books, the message queue and a journal of batches
in one SQLite file (docs/operator.md).

Tables (schema version 5):

- ``meta(key, value)``: ``format = zkmatch-store``, ``version``, the batch ``config``
  (JSON), ``account_bits``, ``slot_bits``, ``venue``, and, for the last *confirmed*
  batch, ``next_batch``, the state ``root``, ``last_timestamp`` and ``books`` (the
  committed book, JSON, or null for a venue whose batches take the operator's fills; a
  reopened store rebuilds the trees and compares the root).
- ``markets(id, body)``: market parameters (JSON, ``Market.to_json``).
- ``accounts(idx, body)`` and ``slots(account, slot, body, order_body)``: the confirmed
  state's accounts and written order slots.
- ``book(account, order_id, market, arrival, filled, seq, body)``: resting orders of the
  confirmed state, in book priority (with the committed book, meta ``books`` holds the
  book itself, part of the state and its root, and this table is a view of its live
  orders).
- ``messages(seq, key, body, received, status, batch, outcome)``: the queue of signed
  orders and cancels, in arrival order; ``status`` is ``pending``, ``batched`` (taken by
  batch ``batch``) or ``rejected`` (refused before any batch).
- ``batches(number, ..., step, ...)``: the journal. Each batch moves through the steps
  ``matched`` (its witness, the messages it took and the state it leads to, as
  ``delta``) -> ``proven`` (proof, public signals) -> ``sent`` (the signed transaction
  and its hash, recorded *before* broadcast) -> ``confirmed`` (block, gas; the ``delta``
  is applied in the same transaction). ``simulated`` marks batches of ``zkmatch sim
  --store``, applied at once with no chain.

The file runs in WAL mode with ``synchronous = FULL``; every step is one ``BEGIN
IMMEDIATE ... COMMIT``, so a crash at any point leaves the step before or the step
after, never a mix. Until a batch is confirmed the stored state (and root) is the
chain's; :meth:`Store.abandon` drops an unconfirmed batch and returns its messages to the
queue. Errors are :class:`StoreError` with a message naming the file.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prover.errors import ProtocolError, StoreError
from prover.exchange.domain import (
    BatchConfig,
    Market,
    Order,
    PriceSet,
    parse_int,
)
from prover.exchange.engine import BatchReport, Engine, Prices
from prover.exchange.inbox import Message
from prover.exchange.inbox import chain_step as inbox_chain_step
from prover.exchange.state import ExchangeState
from prover.proving.batch_circuit import without_secrets

FORMAT = "zkmatch-store"
VERSION = 5

STEP_MATCHED = "matched"
STEP_PROVEN = "proven"
STEP_SENT = "sent"
STEP_CONFIRMED = "confirmed"
STEP_SIMULATED = "simulated"
STEPS = (STEP_MATCHED, STEP_PROVEN, STEP_SENT, STEP_CONFIRMED, STEP_SIMULATED)

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
CREATE TABLE inbox (
    idx INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    chain TEXT NOT NULL,
    block INTEGER NOT NULL
);
CREATE TABLE batches (
    number INTEGER PRIMARY KEY,
    old_root TEXT NOT NULL,
    new_root TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    params TEXT NOT NULL,
    fills TEXT NOT NULL,
    rejections TEXT NOT NULL,
    witness TEXT NOT NULL,
    step TEXT NOT NULL,
    timestamp INTEGER NOT NULL,
    messages TEXT NOT NULL,
    delta TEXT NOT NULL,
    proof TEXT,
    public TEXT,
    timings TEXT,
    tx_hash TEXT,
    raw_tx TEXT,
    nonce INTEGER,
    block INTEGER,
    gas_used INTEGER
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
            # Another process (``zkmatch orders add``) may be writing the queue.
            conn.execute("PRAGMA busy_timeout=10000")
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
                "inbox_count": str(state.inbox_count),
                "inbox_chain": str(state.inbox_chain),
                "deposit_count": str(state.deposit_count),
                "deposit_chain": str(state.deposit_chain),
                "books": _dumps(state.books.to_json() if state.books is not None else None),
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

    def _meta(self, key: str, default: str | None = None) -> str:
        try:
            row = self._conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: unreadable ({exc})") from exc
        if row is None and default is not None:
            return default
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
                "inbox_count": self._meta("inbox_count"),
                "inbox_chain": self._meta("inbox_chain"),
                # A store made before deposits existed has consumed none.
                "deposit_count": self._meta("deposit_count", "0"),
                "deposit_chain": self._meta("deposit_chain", "0"),
                "accounts": accounts,
                "books": json.loads(self._meta("books")),
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

    def engine(
        self,
        prices: Prices,
        on_seal: Callable[[BatchReport, Engine], None] | None = None,
        operator_secret: int | None = None,
    ) -> Engine:
        """An engine continuing from the store: its state, its books, its next batch
        (``operator_secret``: the operator's inbox scalar, to open inbox messages)."""
        state = self.load_state()
        engine = Engine(
            state, state.markets, self.config, prices, first_batch=self.next_batch,
            on_seal=on_seal, operator_secret=operator_secret,
        )
        if engine.book_mode:
            return engine  # the committed book is in the state (the book table is a view)
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
        """The journal, oldest first, without witnesses, deltas and raw transactions."""
        out = []
        for row in self._batch_rows("ORDER BY number"):
            out.append(
                {
                    "batch_number": row["number"],
                    "step": row["step"],
                    "old_root": row["old_root"],
                    "new_root": row["new_root"],
                    "config_hash": row["config_hash"],
                    "timestamp": row["timestamp"],
                    "params": json.loads(row["params"]),
                    "fills": json.loads(row["fills"]),
                    "rejections": json.loads(row["rejections"]),
                    "messages": json.loads(row["messages"]),
                    "inbox_end": int(json.loads(row["delta"])["inbox_count"]),
                    "deposit_end": int(json.loads(row["delta"]).get("deposit_count", 0)),
                    "exits": json.loads(row["delta"]).get("exits", []),
                    "tx_hash": row["tx_hash"],
                    "block": row["block"],
                    "gas_used": row["gas_used"],
                    "timings": json.loads(row["timings"]) if row["timings"] else {},
                }
            )
        return out

    def witness(self, number: int) -> dict[str, Any]:
        """The circuit inputs recorded for batch ``number``, less the operator's inbox
        secret (never stored: the prover adds it from the key file)."""
        rows = self._rows("SELECT witness FROM batches WHERE number = ?", (number,))
        if not rows:
            raise StoreError(f"{self.path}: no batch {number} in the journal")
        result: dict[str, Any] = json.loads(rows[0][0])
        return result

    # --- the message queue ------------------------------------------------------------

    # --- the inbox, as read from the chain ------------------------------------------

    def inbox_length(self) -> int:
        """How many inbox messages the store has read from the chain (indices 0..n-1)."""
        row = self._conn.execute("SELECT COUNT(*), MAX(idx) FROM inbox").fetchone()
        count, last = int(row[0]), row[1]
        if count and last != count - 1:
            raise StoreError(f"{self.path}: corrupt store, the inbox has a gap")
        return count

    def add_inbox(self, events: Sequence[tuple[int, Message, int, int]]) -> int:
        """Record messages read from the Rollup's ``MessageSent`` log, ``(index, message,
        chain after it, block)``, in index order from :meth:`inbox_length` on; one already
        recorded must be identical (a reorg or another chain is a :class:`StoreError`).
        Checks each chain value against the hash chain. Returns the new length."""
        with self._transaction() as conn:
            count = self.inbox_length()
            previous = "0"
            if count:
                previous = conn.execute(
                    "SELECT chain FROM inbox WHERE idx = ?", (count - 1,)
                ).fetchone()[0]
            for index, message, chain, block in events:
                if index < count:
                    row = conn.execute(
                        "SELECT body, chain FROM inbox WHERE idx = ?", (index,)
                    ).fetchone()
                    if row != (_dumps(message.to_json()), str(chain)):
                        raise StoreError(
                            f"{self.path}: inbox message {index} differs from the recorded one"
                        )
                    continue
                if index != count:
                    raise StoreError(f"{self.path}: inbox message {index} after {count - 1}")
                if inbox_chain_step(int(previous), message) != chain:
                    raise StoreError(f"{self.path}: inbox message {index}: chain mismatch")
                conn.execute(
                    "INSERT INTO inbox VALUES (?, ?, ?, ?)",
                    (index, _dumps(message.to_json()), str(chain), block),
                )
                previous, count = str(chain), count + 1
        return count

    def inbox(self, start: int, end: int) -> list[Message]:
        """Inbox messages ``[start, end)``, in order."""
        rows = self._rows(
            "SELECT idx, body FROM inbox WHERE idx >= ? AND idx < ? ORDER BY idx", (start, end)
        )
        if [r[0] for r in rows] != list(range(start, end)):
            raise StoreError(f"{self.path}: inbox messages {start}..{end - 1} are not all read")
        try:
            return [Message.from_json(json.loads(body)) for _, body in rows]
        except (ValueError, ProtocolError) as exc:
            raise StoreError(f"{self.path}: corrupt store, inbox message: {exc}") from exc

    def _ranges(self) -> list[tuple[int, int, int, str]]:
        """``(batch, start, end, step)`` of every recorded batch's inbox range, in order."""
        out = []
        start = 0
        for number, step, delta in self._rows(
            "SELECT number, step, delta FROM batches ORDER BY number"
        ):
            end = int(json.loads(delta)["inbox_count"])
            out.append((int(number), start, end, step))
            start = end
        return out

    def pending(self) -> list[int]:
        """Inbox messages read from the chain that no recorded batch takes, in order."""
        ranges = self._ranges()
        taken = ranges[-1][2] if ranges else self.load_state().inbox_count
        return list(range(taken, self.inbox_length()))

    def messages(self) -> list[dict[str, Any]]:
        """Every inbox message read so far: ``pending`` (no batch yet), or ``batched`` in a
        batch (in flight or confirmed), with its outcome (entered, its fills, or a no-op
        and why)."""
        where: dict[int, int] = {}
        for number, start, end, _step in self._ranges():
            where.update({i: number for i in range(start, end)})
        outcomes: dict[int, dict[str, Any]] = {}
        for (body,) in self._rows("SELECT messages FROM batches"):
            for outcome in json.loads(body):
                if isinstance(outcome, dict) and "index" in outcome:
                    outcomes[int(outcome["index"])] = outcome
        return [
            {
                "index": index,
                "status": "batched" if index in where else "pending",
                "batch": where.get(index),
                "block": block,
                "outcome": outcomes.get(index),
            }
            for index, block in self._rows("SELECT idx, block FROM inbox ORDER BY idx")
        ]

    # --- batches through their steps ----------------------------------------------------

    def _batch_rows(self, where: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        cursor = self._conn.execute(f"SELECT * FROM batches {where}", args)
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def batch(self, number: int) -> dict[str, Any] | None:
        """Batch ``number``'s journal row (every column), or None."""
        rows = self._batch_rows("WHERE number = ?", (number,))
        return rows[0] if rows else None

    def in_flight(self) -> dict[str, Any] | None:
        """The batch matched but not yet confirmed on chain (at most one), or None."""
        rows = self._batch_rows(
            "WHERE step IN ('matched', 'proven', 'sent') ORDER BY number"
        )
        if len(rows) > 1:
            raise StoreError(
                f"{self.path}: corrupt store, batches {[r['number'] for r in rows]} are all "
                "in flight (the operator keeps one)"
            )
        return rows[0] if rows else None

    def record_matched(
        self,
        report: BatchReport,
        book: Sequence[tuple[Order, int, int]],
        outcomes: Sequence[dict[str, Any]],
        *,
        step: str = STEP_MATCHED,
        timings: dict[str, float] | None = None,
    ) -> None:
        """Record a sealed batch at step ``matched``: its journal row, the state it leads
        to (applied by :meth:`confirm`), ``book`` (``(order, filled, seq)`` at seal time),
        and what became of each inbox message of its range (``outcomes``, each with its
        inbox ``index``), all in one transaction.

        The stored state does not move until the batch is confirmed: until then the
        store's root is the chain's."""
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
        if self.in_flight() is not None:
            raise StoreError(f"{self.path}: a batch is already in flight")
        state = result.state
        # A message may name an account that does not exist (its empty leaf is opened, not
        # written): no row for it.
        touched = sorted(
            {a.index for a in result.witness.accounts if a.used and state.exists(a.index)}
        )
        delta = {
            "accounts": [self._account_rows(state, idx) for idx in touched],
            "book": [
                [o.account, str(o.order_id), o.market, arrival, filled, seq, _dumps(o.to_json())]
                for arrival, (o, filled, seq) in enumerate(book)
            ],
            "root": str(result.new_root),
            "last_timestamp": str(state.last_timestamp),
            "entries": len(result.entries),
            "inbox_count": str(state.inbox_count),
            "inbox_chain": str(state.inbox_chain),
            "deposit_count": str(state.deposit_count),
            "deposit_chain": str(state.deposit_chain),
            # What submitBatch takes besides the proof (docs/flows.md).
            "exits": [x.to_json() for x in result.witness.exits],
            "books": state.books.to_json() if state.books is not None else None,
        }
        params = result.witness.params
        with self._transaction() as conn:
            conn.execute(
                "INSERT INTO batches (number, old_root, new_root, config_hash, params, fills, "
                "rejections, witness, step, timestamp, messages, delta, timings) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    number,
                    str(result.old_root),
                    str(result.new_root),
                    str(result.config_hash),
                    _dumps(params.to_json()),
                    _dumps([f.to_json() for f in result.fills]),
                    _dumps([r.to_json() for r in report.rejections]),
                    _dumps(without_secrets(result.witness.as_circuit_inputs())),
                    step,
                    result.timestamp,
                    _dumps(list(outcomes)),
                    _dumps(delta),
                    _dumps(timings or {}),
                ),
            )
            if step == STEP_SIMULATED:
                self._apply(conn, number, delta)

    def _step(self, number: int, want: Sequence[str]) -> dict[str, Any]:
        row = self.batch(number)
        if row is None:
            raise StoreError(f"{self.path}: no batch {number} in the journal")
        if row["step"] not in want:
            raise StoreError(
                f"{self.path}: batch {number} is {row['step']}, expected {' or '.join(want)}"
            )
        return row

    def record_proven(
        self, number: int, proof: Mapping[str, Any], public: Sequence[str],
        timings: dict[str, float],
    ) -> None:
        """matched -> proven, with the proof (snarkjs's proof.json) and public signals;
        ``timings`` are merged into the batch's recorded timings."""
        row = self._step(number, (STEP_MATCHED,))
        merged = {**(json.loads(row["timings"]) if row["timings"] else {}), **timings}
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET step = ?, proof = ?, public = ?, timings = ? WHERE number = ?",
                (STEP_PROVEN, _dumps(dict(proof)), _dumps(list(public)), _dumps(merged), number),
            )

    def record_sent(self, number: int, tx_hash: str, raw: bytes, nonce: int) -> None:
        """proven -> sent: the signed transaction, recorded *before* it is broadcast."""
        self._step(number, (STEP_PROVEN,))
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET step = ?, tx_hash = ?, raw_tx = ?, nonce = ? WHERE number = ?",
                (STEP_SENT, tx_hash, raw.hex(), nonce, number),
            )

    def unsend(self, number: int) -> None:
        """sent -> proven: the transaction failed or vanished; it will be signed anew."""
        self._step(number, (STEP_SENT,))
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET step = ?, tx_hash = NULL, raw_tx = NULL, nonce = NULL "
                "WHERE number = ?",
                (STEP_PROVEN, number),
            )

    def confirm(
        self, number: int, tx_hash: str, block: int, gas_used: int | None,
        timings: dict[str, float] | None = None,
    ) -> None:
        """-> confirmed: the chain accepted the batch; the stored state moves to its new
        root (accounts, slots, book, next batch, root, time) in the same transaction.
        ``timings`` are merged into the batch's recorded timings."""
        row = self._step(number, (STEP_MATCHED, STEP_PROVEN, STEP_SENT))
        delta = json.loads(row["delta"])
        merged = {**(json.loads(row["timings"]) if row["timings"] else {}), **(timings or {})}
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET step = ?, tx_hash = ?, block = ?, gas_used = ?, raw_tx = NULL, "
                "timings = ? WHERE number = ?",
                (STEP_CONFIRMED, tx_hash, block, gas_used, _dumps(merged), number),
            )
            self._apply(conn, number, delta)

    def confirm_again(self, number: int, tx_hash: str, block: int, gas_used: int | None) -> None:
        """A confirmed batch the chain had lost was accepted again: its new transaction."""
        self._step(number, (STEP_CONFIRMED,))
        with self._transaction() as conn:
            conn.execute(
                "UPDATE batches SET tx_hash = ?, block = ?, gas_used = ? WHERE number = ?",
                (tx_hash, block, gas_used, number),
            )

    def abandon(self, number: int) -> list[int]:
        """Drop an unconfirmed batch: its inbox messages are pending again (the next batch
        starts from them); returns their indices. Only before anything was sent."""
        self._step(number, (STEP_MATCHED, STEP_PROVEN))
        ranges = {n: (start, end) for n, start, end, _ in self._ranges()}
        start, end = ranges[number]
        with self._transaction() as conn:
            conn.execute("DELETE FROM batches WHERE number = ?", (number,))
        return list(range(start, end))

    # --- writing the state --------------------------------------------------------------

    @staticmethod
    def _account_rows(state: ExchangeState, idx: int) -> dict[str, Any]:
        slots = []
        for slot_no, slot in sorted(state.slots(idx).items()):
            order = state.slot_order(idx, slot_no)
            slots.append(
                [slot_no, _dumps(slot.to_json()),
                 _dumps(order.to_json()) if order is not None else None]
            )
        return {"index": idx, "body": _dumps(state.account(idx).to_json()), "slots": slots}

    def _write_accounts(self, state: ExchangeState, indices: Sequence[int]) -> None:
        for idx in indices:
            self._write_account_rows(self._conn, self._account_rows(state, idx))

    @staticmethod
    def _write_account_rows(conn: sqlite3.Connection, rows: dict[str, Any]) -> None:
        idx = rows["index"]
        conn.execute("INSERT OR REPLACE INTO accounts VALUES (?, ?)", (idx, rows["body"]))
        conn.execute("DELETE FROM slots WHERE account = ?", (idx,))
        for slot_no, body, order_body in rows["slots"]:
            conn.execute("INSERT INTO slots VALUES (?, ?, ?, ?)", (idx, slot_no, body, order_body))

    def _apply(self, conn: sqlite3.Connection, number: int, delta: dict[str, Any]) -> None:
        for rows in delta["accounts"]:
            self._write_account_rows(conn, rows)
        conn.execute("DELETE FROM book")
        conn.executemany("INSERT INTO book VALUES (?, ?, ?, ?, ?, ?, ?)",
                         [tuple(r) for r in delta["book"]])
        conn.execute("UPDATE meta SET value = ? WHERE key = 'next_batch'", (str(number + 1),))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'root'", (delta["root"],))
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'last_timestamp'", (delta["last_timestamp"],)
        )
        for key in ("inbox_count", "inbox_chain"):
            conn.execute("UPDATE meta SET value = ? WHERE key = ?", (delta[key], key))
        for key in ("deposit_count", "deposit_chain"):
            if key in delta:
                conn.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, delta[key]))
        conn.execute("UPDATE meta SET value = ? WHERE key = 'books'", (_dumps(delta["books"]),))

    def commit_batch(self, report: BatchReport, engine: Engine) -> None:
        """Record a sealed batch and apply it at once (``zkmatch sim --store``: no chain;
        step ``simulated``). Use it as the engine's ``on_seal``.

        Raises :class:`StoreError` if the batch does not continue the stored state (wrong
        batch number or old root)."""
        book = [(order, entry.filled, entry.seq) for order, entry in engine.resting_orders()]
        self.record_matched(report, book, (), step=STEP_SIMULATED)


def params_from_journal(row: dict[str, Any]) -> PriceSet:
    """The PriceSet of a journal row from :meth:`Store.batches`."""
    return PriceSet.from_json(row["params"])


__all__ = [
    "FORMAT",
    "STEPS",
    "STEP_CONFIRMED",
    "STEP_MATCHED",
    "STEP_PROVEN",
    "STEP_SENT",
    "STEP_SIMULATED",
    "VERSION",
    "Store",
    "params_from_journal",
]
