"""Receipts: what the operator hands each trader after a batch (docs/trader.md, "Receipts
and `zkmatch trader state`").

A receipt is one account's leaf as it stands after batch ``n``, everything needed to hash
it (its order slots, with the order bodies of open ones), the Merkle siblings of its path in
the account tree, and the batch's fills that name the account. From it alone a trader
recomputes the account leaf and the root; ``zkmatch trader state`` then compares that root
with the ``newRoot`` the Rollup accepted for batch ``n`` (prover/trader/state.py).

Files (one folder per account, under the operator's data folder)::

    DATA/receipts/<account>/batch-<n>.json    the receipt of batch n
    DATA/receipts/<account>/latest.json       a copy of the newest

:func:`build_receipt` is pure (a state, an account, a journal row). :func:`write_receipts`
writes one per account the batch touched (its witness's used account slots that exist in
the new state), each atomically (temporary file, fsync, ``os.replace``), and only where the
file on disk differs: it is idempotent, so the operator calls it after every confirmation
and again on every start for the last confirmed batch (``Operator.reconcile``), and a kill
between the two loses nothing.

The JSON (numbers as decimal strings)::

    {"format": "zkmatch-receipt", "version": 1, "rollup": "0x...", "chain_id": "31337",
     "batch": "0", "root": "...", "tx_hash": "0x...", "block": "12", "timestamp": "...",
     "account_bits": "4", "slot_bits": "2",
     "account": {"index": "2", "pubkey": [x, y], "nonce": "0", "collateral": "...",
                 "positions": [{"size": "-3", "funding_index": "0"}, ...],
                 "orders_root": "...", "leaf": "..."},
     "slots": [{"slot": "1", "order_id": "1", "order_hash": "...", "filled": "3",
                "seq": "...", "order": {...Order.to_json...} | null}, ...],
     "siblings": [["s0", "s1", "s2"], ...],           # leaf level first
     "fills": [{...Fill.to_json...}, ...],             # this account as taker or maker
     "market_names": ["BTC-PERP", ...],                # labels only: not under the root
     "books_root": "..."}                              # with the committed book only

With the committed book (docs/book.md) the root is ``H_STATE(accountsRoot, booksRoot)``:
the receipt carries ``booksRoot`` and the trader folds it in after the account path.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import ProtocolError, ZkmatchError
from prover.exchange.booktree import state_root
from prover.exchange.constants import MAX_ACCOUNT_BITS, MAX_SLOT_BITS
from prover.exchange.domain import (
    EMPTY_SLOT,
    Account,
    Fill,
    Order,
    OrderSlot,
    parse_int,
)
from prover.exchange.state import ExchangeState
from prover.merkle import QuadTree, compute_root

FORMAT = "zkmatch-receipt"
VERSION = 1
LATEST = "latest.json"

Siblings = tuple[tuple[int, int, int], ...]


class ReceiptError(ZkmatchError):
    """A receipt that is malformed, inconsistent in itself, or not the chain's."""


# --------------------------------------------------------------------------- the format


@dataclass(frozen=True)
class SlotRecord:
    """One written order slot of the account: its leaf fields and, when open, the order."""

    slot: int
    leaf: OrderSlot
    order: Order | None

    def to_json(self) -> dict[str, Any]:
        return {"slot": str(self.slot), **self.leaf.to_json(),
                "order": self.order.to_json() if self.order is not None else None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SlotRecord:
        body = data.get("order")
        return cls(parse_int(data.get("slot"), "slot"), OrderSlot.from_json(data),
                   Order.from_json(body) if body is not None else None)


@dataclass(frozen=True)
class Recomputed:
    """What a receipt's own contents hash to."""

    orders_root: int
    leaf: int
    root: int


@dataclass(frozen=True)
class Receipt:
    """One account's leaf after batch ``batch``, with its opening (module docstring)."""

    rollup: str
    chain_id: int
    batch: int
    root: int
    tx_hash: str
    block: int
    timestamp: int
    account_bits: int
    slot_bits: int
    index: int
    account: Account
    orders_root: int
    leaf: int
    slots: tuple[SlotRecord, ...]
    siblings: Siblings
    fills: tuple[Fill, ...]
    market_names: tuple[str, ...] = ()
    books_root: int | None = None
    """With the committed book: the books root, the other half of the state root
    ``H_STATE(accountsRoot, booksRoot)`` (docs/book.md); None when the root is the
    account root."""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "rollup": self.rollup,
            "chain_id": str(self.chain_id),
            "batch": str(self.batch),
            "root": str(self.root),
            "tx_hash": self.tx_hash,
            "block": str(self.block),
            "timestamp": str(self.timestamp),
            "account_bits": str(self.account_bits),
            "slot_bits": str(self.slot_bits),
            "account": {"index": str(self.index), **self.account.to_json(),
                        "orders_root": str(self.orders_root), "leaf": str(self.leaf)},
            "slots": [s.to_json() for s in self.slots],
            "siblings": [[str(s) for s in level] for level in self.siblings],
            "fills": [f.to_json() for f in self.fills],
            "market_names": list(self.market_names),
            **({"books_root": str(self.books_root)} if self.books_root is not None else {}),
        }

    @classmethod
    def from_json(cls, data: Any) -> Receipt:
        """Parse a receipt; :class:`ReceiptError` naming the first field that is wrong."""
        if not isinstance(data, Mapping):
            raise ReceiptError("not a receipt: expected a JSON object")
        if data.get("format") != FORMAT:
            raise ReceiptError(f"not a receipt: format {data.get('format')!r}, want {FORMAT!r}")
        if str(data.get("version")) != str(VERSION):
            raise ReceiptError(f"receipt version {data.get('version')!r}, this zkmatch reads "
                               f"{VERSION}")
        where = "receipt"
        try:
            where = "account"
            acc = data["account"]
            account = Account.from_json(acc)
            index = parse_int(acc.get("index"), "account.index")
            orders_root = parse_int(acc.get("orders_root"), "account.orders_root")
            leaf = parse_int(acc.get("leaf"), "account.leaf")
            where = "slots"
            slots = tuple(SlotRecord.from_json(s) for s in data["slots"])
            where = "siblings"
            siblings = tuple(_sibling_level(level) for level in data["siblings"])
            where = "fills"
            fills = tuple(Fill.from_json(f) for f in data.get("fills", ()))
            where = "header"
            names = data.get("market_names", [])
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ProtocolError("market_names must be a list of strings")
            receipt = cls(
                rollup=str(data["rollup"]),
                chain_id=parse_int(data["chain_id"], "chain_id"),
                batch=parse_int(data["batch"], "batch"),
                root=parse_int(data["root"], "root"),
                tx_hash=str(data.get("tx_hash") or ""),
                block=parse_int(data.get("block", "0"), "block"),
                timestamp=parse_int(data.get("timestamp", "0"), "timestamp"),
                account_bits=parse_int(data["account_bits"], "account_bits"),
                slot_bits=parse_int(data["slot_bits"], "slot_bits"),
                index=index, account=account, orders_root=orders_root, leaf=leaf,
                slots=slots, siblings=siblings, fills=fills, market_names=tuple(names),
                books_root=(
                    parse_int(data["books_root"], "books_root") if "books_root" in data else None
                ),
            )
        except KeyError as exc:
            raise ReceiptError(f"malformed receipt: {where}: missing field {exc}") from exc
        except (ProtocolError, TypeError, AttributeError, ValueError) as exc:
            raise ReceiptError(f"malformed receipt: {where}: {exc}") from exc
        receipt._check_shape()
        return receipt

    def _check_shape(self) -> None:
        bits, sbits = self.account_bits, self.slot_bits
        if not (2 <= bits <= MAX_ACCOUNT_BITS and bits % 2 == 0):
            raise ReceiptError(f"malformed receipt: account_bits {bits} is not even in [2, 32]")
        if not (2 <= sbits <= MAX_SLOT_BITS and sbits % 2 == 0):
            raise ReceiptError(f"malformed receipt: slot_bits {sbits} is not even in [2, 16]")
        if len(self.siblings) != bits // 2:
            raise ReceiptError(f"malformed receipt: {len(self.siblings)} levels of siblings, a "
                               f"tree of {bits} bits has {bits // 2}")
        if not 0 <= self.index < 1 << bits:
            raise ReceiptError(f"malformed receipt: account {self.index} is outside the tree "
                               f"(2^{bits})")
        seen = set()
        for s in self.slots:
            if not 0 <= s.slot < 1 << sbits or s.slot in seen:
                raise ReceiptError(f"malformed receipt: slot {s.slot} is outside [0, 2^{sbits})"
                                   " or listed twice")
            seen.add(s.slot)

    def recompute(self) -> Recomputed:
        """Hash the receipt's contents bottom up: each slot leaf, the orders root, the
        account leaf, the root at the account's index. Raises :class:`ReceiptError`
        naming what does not fit *within* the receipt (an order body that is not its
        slot's, slots that do not give the leaf's orders root); whether the root is the
        chain's is the caller's comparison."""
        tree = QuadTree(self.slot_bits, EMPTY_SLOT.hash())
        for s in self.slots:
            if s.order is not None:
                if s.order.hash() != s.leaf.order_hash:
                    raise ReceiptError(
                        f"receipt does not match: the order body in slot {s.slot} hashes to "
                        f"{s.order.hash()}, the slot holds order hash {s.leaf.order_hash}"
                    )
                if s.order.account != self.index or s.order.slot(self.slot_bits) != s.slot:
                    raise ReceiptError(
                        f"receipt does not match: slot {s.slot} holds order "
                        f"{s.order.account}/{s.order.order_id}, not one of account "
                        f"{self.index} in that slot"
                    )
            elif s.leaf.is_open:
                raise ReceiptError(f"malformed receipt: slot {s.slot} holds order hash "
                                   f"{s.leaf.order_hash} but the receipt gives no order body")
            tree.set(s.slot, s.leaf.hash())
        if tree.root != self.orders_root:
            raise ReceiptError(
                f"receipt does not match: its order slots give orders root {tree.root}, the "
                f"account leaf names {self.orders_root}"
            )
        leaf = self.account.hash(tree.root)
        root = compute_root(leaf, self.index, self.siblings)
        if self.books_root is not None:
            root = state_root(root, self.books_root)
        return Recomputed(tree.root, leaf, root)


def _sibling_level(level: Any) -> tuple[int, int, int]:
    if not isinstance(level, (list, tuple)) or len(level) != 3:
        raise ProtocolError(f"each level holds three siblings, got {level!r}")
    a, b, c = (parse_int(v, "sibling") for v in level)
    return (a, b, c)


def read_receipt(path: Path) -> Receipt:
    """A receipt file, parsed (:class:`ReceiptError` naming the file)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ReceiptError(f"{path}: no such receipt") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReceiptError(f"{path}: unreadable receipt ({exc})") from exc
    try:
        return Receipt.from_json(data)
    except ReceiptError as exc:
        raise ReceiptError(f"{path}: {exc}") from exc


# --------------------------------------------------------------------------- building (pure)


def _loads(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def touched_accounts(batch_row: Mapping[str, Any]) -> list[int]:
    """The accounts a journal row's batch touched: its witness's used account slots, as
    :meth:`Store.record_matched` recorded them in the row's ``delta``."""
    delta = _loads(batch_row["delta"])
    return sorted(int(rows["index"]) for rows in delta["accounts"])


def build_receipt(
    state: ExchangeState,
    index: int,
    batch_row: Mapping[str, Any],
    rollup_address: str,
    chain_id: int,
    market_names: Sequence[str] = (),
) -> dict[str, Any]:
    """Account ``index``'s receipt for the batch of ``batch_row`` (a :meth:`Store.batch`
    row, confirmed), from ``state``, the state that batch leads to (checked: its root is
    the batch's new root)."""
    number = int(batch_row["number"])
    new_root = int(batch_row["new_root"])
    if state.root != new_root:
        raise ReceiptError(f"batch {number}: the state given has root {state.root}, not the "
                           f"batch's new root {new_root}")
    account = state.account(index)
    proof = state.account_proof(index)
    slots = tuple(
        SlotRecord(slot_no, slot, state.slot_order(index, slot_no))
        for slot_no, slot in sorted(state.slots(index).items())
    )
    fills = tuple(
        fill for fill in (Fill.from_json(f) for f in _loads(batch_row["fills"]))
        if index in (fill.taker.account, fill.maker.account)
    )
    receipt = Receipt(
        rollup=rollup_address,
        chain_id=int(chain_id),
        batch=number,
        root=new_root,
        tx_hash=str(batch_row["tx_hash"] or ""),
        block=int(batch_row["block"] or 0),
        timestamp=int(batch_row["timestamp"]),
        account_bits=state.account_bits,
        slot_bits=state.slot_bits,
        index=index,
        account=account,
        orders_root=state.orders_root(index),
        leaf=proof.leaf,
        slots=slots,
        siblings=proof.siblings,
        fills=fills,
        market_names=tuple(market_names),
        books_root=state.books.root if state.books is not None else None,
    )
    return receipt.to_json()


# --------------------------------------------------------------------------- the files


def receipt_path(receipts_dir: Path, account: int, number: int | None = None) -> Path:
    """``receipts_dir/<account>/batch-<n>.json`` (``number`` None: ``latest.json``)."""
    name = LATEST if number is None else f"batch-{number}.json"
    return Path(receipts_dir) / str(account) / name


def _text(receipt: Mapping[str, Any]) -> str:
    return json.dumps(receipt, indent=1) + "\n"


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path``: a temporary file beside it, fsynced, ``os.replace``d."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def _same(path: Path, text: str) -> bool:
    try:
        return path.read_text() == text
    except (OSError, UnicodeDecodeError):
        return False


def _latest_batch(path: Path) -> int | None:
    try:
        return int(json.loads(path.read_text())["batch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def receipts_current(receipts_dir: Path, batch_row: Mapping[str, Any]) -> bool:
    """Whether every receipt of ``batch_row``'s batch is on disk with the row's transaction
    (cheap: reads the small files, hashes nothing)."""
    number = int(batch_row["number"])
    for index in touched_accounts(batch_row):
        try:
            data = json.loads(receipt_path(receipts_dir, index, number).read_text())
        except (OSError, ValueError):
            return False
        if (data.get("tx_hash") != str(batch_row["tx_hash"] or "")
                or data.get("block") != str(batch_row["block"] or 0)):
            return False
    return True


def write_receipts(
    receipts_dir: Path,
    store: Any,
    number: int,
    rollup_address: str,
    chain_id: int,
    market_names: Sequence[str] = (),
) -> list[Path]:
    """Write batch ``number``'s receipts from ``store`` (prover/operator/store.py), whose
    confirmed state must be the one that batch leads to (it is the last confirmed), one per
    touched account that exists, and point each account's ``latest.json`` at it unless that
    holds a later batch. Files already holding the same bytes are left alone; returns the
    paths written (empty: all were there)."""
    row = store.batch(number)
    if row is None or row["step"] != "confirmed":
        raise ReceiptError(f"{store.path}: batch {number} is not confirmed; no receipts")
    if store.next_batch != number + 1:
        raise ReceiptError(f"{store.path}: batch {number} is not the last confirmed batch "
                           f"(next is {store.next_batch}); its state is gone")
    state = store.load_state()
    written = []
    for index in touched_accounts(row):
        if not state.exists(index):
            continue  # an opened empty leaf: a message named an account that does not exist
        text = _text(build_receipt(state, index, row, rollup_address, chain_id, market_names))
        path = receipt_path(receipts_dir, index, number)
        if not _same(path, text):
            _write_atomic(path, text)
            written.append(path)
        latest = receipt_path(receipts_dir, index)
        newest = _latest_batch(latest)
        if (newest is None or newest <= number) and not _same(latest, text):
            _write_atomic(latest, text)
            written.append(latest)
    return written


def retarget_receipts(receipts_dir: Path, batch_row: Mapping[str, Any]) -> list[Path]:
    """A confirmed batch the chain had lost was accepted again (a new transaction, same
    root): rewrite the transaction hash and block in its receipts on disk (an older
    batch's state is gone, so only those two fields change). Returns the paths written."""
    number = int(batch_row["number"])
    tx_hash, block = str(batch_row["tx_hash"] or ""), str(batch_row["block"] or 0)
    written = []
    for index in touched_accounts(batch_row):
        for path in (receipt_path(receipts_dir, index, number), receipt_path(receipts_dir, index)):
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if str(data.get("batch")) != str(number):
                continue
            if (data.get("tx_hash"), data.get("block")) == (tx_hash, block):
                continue
            data.update(tx_hash=tx_hash, block=block)
            _write_atomic(path, _text(data))
            written.append(path)
    return written


__all__ = [
    "FORMAT",
    "LATEST",
    "VERSION",
    "Receipt",
    "ReceiptError",
    "Recomputed",
    "SlotRecord",
    "build_receipt",
    "read_receipt",
    "receipt_path",
    "receipts_current",
    "retarget_receipts",
    "touched_accounts",
    "write_receipts",
]
