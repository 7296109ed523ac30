"""A trader's own state from an operator's receipt, checked against the chain:
``zkmatch trader state`` (docs/trader.md, "Receipts and `zkmatch trader state`").

::

    receipt file --Receipt.from_json--> --Receipt.recompute (pure)--> orders root, leaf, root
      --BatchSubmitted(batch).newRoot == root ?--> verified on chain (else refused)
      --Rollup.stateRoot() == root ?--> current

Everything but :func:`trader_state` is pure: :func:`check_receipt` compares a receipt with
what the chain said (the batch's event, the Rollup's state) and raises
:class:`~prover.operator.receipts.ReceiptError` naming what does not match;
:func:`describe` turns a receipt into what the trader reads (collateral, positions, open
orders, fills). What the check proves and what it does not: the account leaf is in the
root the Rollup accepted (and so proven) for that batch; not that the receipt is the
newest (``current`` only says whether the Rollup's root is still that one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.exchange.constants import SIDE_BUY, TIF_IOC
from prover.operator.receipts import (
    Receipt,
    ReceiptError,
    Recomputed,
    SlotRecord,
    read_receipt,
    receipt_path,
)
from prover.trader.keys import TraderKey
from prover.trader.send import TraderError, open_venue

TIF_NAMES = ("gtc", "ioc", "post-only")


@dataclass(frozen=True)
class ChainView:
    """What the chain says about a receipt's batch: the ``newRoot`` of its
    ``BatchSubmitted`` event (None: no such event), where it was mined, and the Rollup's
    current batch count and root."""

    rollup: str
    chain_id: int
    batch_root: int | None
    tx_hash: str | None
    block: int | None
    batch_number: int
    root: int


# --------------------------------------------------------------------------- pure


def resolve_receipt(
    receipt: Path | None, receipts_dir: Path | None, account: int | None,
    data_dir: Path | None = None,
) -> Path:
    """The receipt file: ``receipt``, or ``receipts_dir/<account>/latest.json`` (with an
    operator's ``data_dir``, ``receipts_dir`` defaults to its ``receipts/``)."""
    if receipt is not None:
        if receipts_dir is not None:
            raise TraderError("give --receipt FILE or --receipts DIR --account N, not both")
        return receipt
    if receipts_dir is None and data_dir is not None:
        receipts_dir = Path(data_dir) / "receipts"
    if receipts_dir is None or account is None:
        raise TraderError("give --receipt FILE, or --receipts DIR with --account N")
    return receipt_path(receipts_dir, account)


def check_key(receipt: Receipt, key: TraderKey) -> None:
    """Refuse a receipt whose account leaf holds another public key than ``key``'s."""
    if tuple(receipt.account.pubkey) != tuple(key.public_key):
        x, y = receipt.account.pubkey
        raise ReceiptError(
            f"the receipt's account {receipt.index} has public key ({x}, {y}), not this key "
            "file's: it is not your account's receipt"
        )


def check_receipt(receipt: Receipt, computed: Recomputed, chain: ChainView) -> None:
    """Refuse (:class:`ReceiptError`, naming what does not match) a receipt that is not the
    chain's: another Rollup or chain, a batch the Rollup never accepted, or a leaf and path
    that do not give the root the Rollup accepted for that batch."""
    if receipt.rollup.lower() != chain.rollup.lower() or receipt.chain_id != chain.chain_id:
        raise ReceiptError(
            f"receipt does not match the chain: it is for the Rollup {receipt.rollup} on "
            f"chain {receipt.chain_id}, not {chain.rollup} on chain {chain.chain_id}"
        )
    if chain.batch_root is None:
        raise ReceiptError(
            f"receipt does not match the chain: batch {receipt.batch} is not on chain (the "
            f"Rollup {chain.rollup} has no BatchSubmitted event for it; its next batch is "
            f"number {chain.batch_number})"
        )
    if computed.root != chain.batch_root:
        claimed = (f"; the receipt claims {receipt.root}" if receipt.root != computed.root
                   else "")
        raise ReceiptError(
            f"receipt does not match the chain: account {receipt.index}'s leaf (pubkey, nonce,"
            f" collateral, positions, orders root) and Merkle siblings give root "
            f"{computed.root}, the Rollup accepted root {chain.batch_root} for batch "
            f"{receipt.batch}{claimed}"
        )
    if receipt.root != chain.batch_root:  # pragma: no cover - implied by the two above
        raise ReceiptError(f"receipt does not match the chain: its root {receipt.root} is "
                           f"not batch {receipt.batch}'s {chain.batch_root}")


def _market(names: Sequence[str], market: int) -> dict[str, Any]:
    name = names[market] if market < len(names) else f"market {market}"
    return {"market": market, "market_name": name}


def slot_status(slot: SlotRecord, timestamp: int) -> str:
    """``resting`` (may still fill, until its expiry), ``filled``, ``ended`` (an IOC's rest
    is never matched again), ``expired`` (its expiry is before the batch's time),
    ``cancelled`` (a cancel's id in the slot) or ``empty``."""
    order = slot.order
    if order is None:
        return "cancelled" if slot.leaf.order_id else "empty"
    if slot.leaf.filled >= order.size:
        return "filled"
    if order.tif == TIF_IOC:
        return "ended"
    if order.expiry < timestamp:
        return "expired"
    return "resting"


def describe(receipt: Receipt) -> dict[str, Any]:
    """What the receipt says about the account, as the trader reads it."""
    names = receipt.market_names
    index = receipt.index
    slots = []
    for s in receipt.slots:
        entry: dict[str, Any] = {"slot": s.slot, "order_id": str(s.leaf.order_id),
                                 "order_hash": str(s.leaf.order_hash),
                                 "filled": str(s.leaf.filled), "seq": str(s.leaf.seq),
                                 "status": slot_status(s, receipt.timestamp)}
        if s.order is not None:
            o = s.order
            entry.update(
                **_market(names, o.market), side="buy" if o.side == SIDE_BUY else "sell",
                price=str(o.price), size=str(o.size),
                remaining=str(max(o.size - s.leaf.filled, 0)),
                tif=TIF_NAMES[o.tif] if o.tif < len(TIF_NAMES) else str(o.tif),
                expiry=str(o.expiry), max_fee_ppm=str(o.max_fee_ppm),
            )
        slots.append(entry)
    fills = []
    for f in receipt.fills:
        taker = f.taker.account == index
        side = f.taker_side if taker else 1 - f.taker_side
        fills.append({
            **_market(names, f.market), "role": "taker" if taker else "maker",
            "side": "buy" if side == SIDE_BUY else "sell", "price": str(f.price),
            "qty": str(f.qty), "fee": str(f.taker_fee if taker else f.maker_fee),
            "order_id": str((f.taker if taker else f.maker).order_id),
            "counterparty": (f.maker if taker else f.taker).account,
        })
    return {
        "account": index,
        "pubkey": [str(c) for c in receipt.account.pubkey],
        "nonce": str(receipt.account.nonce),
        "collateral": str(receipt.account.collateral),
        "positions": [
            {**_market(names, m), "size": str(p.size), "funding_index": str(p.funding_index)}
            for m, p in enumerate(receipt.account.positions)
        ],
        "slots": slots,
        "open_orders": [s for s in slots if s["status"] == "resting"],
        "fills": fills,
        "batch": receipt.batch,
        "timestamp": receipt.timestamp,
    }


def state_report(receipt: Receipt, computed: Recomputed, chain: ChainView) -> dict[str, Any]:
    """``zkmatch trader state``'s result for a receipt :func:`check_receipt` accepted."""
    return {
        **describe(receipt),
        "root": str(computed.root),
        "leaf": str(computed.leaf),
        "orders_root": str(computed.orders_root),
        "rollup": chain.rollup,
        "chain_id": chain.chain_id,
        "tx_hash": chain.tx_hash,
        "block": chain.block,
        "verified_on_chain": True,
        "chain": {"batch_number": chain.batch_number, "root": str(chain.root)},
        "current": chain.root == computed.root,
    }


# --------------------------------------------------------------------------- the chain


def _batch_event(client: Any, number: int, hint_block: int, from_block: int) -> Any:
    """Batch ``number``'s ``BatchSubmitted`` event: looked for from the receipt's block
    first (a hint: a short log query), then from ``from_block``."""
    head = int(client.w3.eth.block_number)
    if from_block < hint_block <= head:
        event = client.batch_event(number, hint_block)
        if event is not None:
            return event
    return client.batch_event(number, from_block)


def read_chain(client: Any, receipt: Receipt, from_block: int = 0) -> ChainView:
    """What the Rollup says about ``receipt``'s batch (the trader's one read of the chain)."""
    event = _batch_event(client, receipt.batch, receipt.block, from_block)
    state = client.state()
    return ChainView(
        rollup=str(client.address), chain_id=int(client.w3.eth.chain_id),
        batch_root=event.new_root if event is not None else None,
        tx_hash=event.tx_hash if event is not None else None,
        block=event.block if event is not None else None,
        batch_number=state.batch_number, root=state.root,
    )


def trader_state(
    path: Path, *, account: int | None = None, key: TraderKey | None = None,
    rpc_url: str | None = None, rollup: str | None = None, data_dir: Path | None = None,
) -> dict[str, Any]:
    """``zkmatch trader state``: read the receipt at ``path``, recompute its root, check it
    against the Rollup (``rpc_url`` and ``rollup``, or an operator's ``data_dir``) and, with
    ``key``, that the leaf is that key's account. Raises :class:`ReceiptError` (a receipt
    that is malformed or not the chain's) or :class:`TraderError` (no chain)."""
    receipt = read_receipt(path)
    if account is not None and account != receipt.index:
        raise ReceiptError(f"{path} is account {receipt.index}'s receipt, not account {account}'s")
    try:
        computed = receipt.recompute()
        if key is not None:
            check_key(receipt, key)
    except ReceiptError as exc:
        raise ReceiptError(f"{path}: {exc}") from exc
    from_block = 0
    if data_dir is not None:
        from prover.operator.data import DataDir

        from_block = int(DataDir(Path(data_dir)).read_deployment().get("block", 0))
    with open_venue(rpc_url=rpc_url, rollup=rollup, data_dir=data_dir) as (client, _venue):
        chain = read_chain(client, receipt, from_block)
    try:
        check_receipt(receipt, computed, chain)
    except ReceiptError as exc:
        raise ReceiptError(f"{path}: {exc}") from exc
    return {"receipt": str(path), **state_report(receipt, computed, chain),
            "key_checked": key is not None}


__all__ = [
    "ChainView",
    "check_key",
    "check_receipt",
    "describe",
    "read_chain",
    "resolve_receipt",
    "slot_status",
    "state_report",
    "trader_state",
]
