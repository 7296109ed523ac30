"""The witness of ``circuits/main/BatchBook.circom`` (the batch with the committed book),
built from a :class:`BatchBuilder` that took the batch's messages and no fills
(docs/book.md, "What is left": the switch).

NOT YET THE PRODUCT'S PATH: the operator still proves ``Batch.circom`` with the fills
its engine chooses. This module replays a builder's messages in BatchBook's order, every
valid order matched by the rules on the running state (:class:`RunningState`), and
returns the inputs with the new state root, so the book-carrying batch is tested end to
end before the builder, the engine and the store move to it.

The replay, in the circuit's order: phases 1 and 2 as the builder did them (the same
account slots, funding); then per message slot its order-slot write (a valid order's
with what it fills, a cancel's, none for a no-op), opened in the account's order root as
it stands after the earlier entries' steps, and a valid order's steps
(:meth:`RunningState.enter`); then the account writes in slot order (phase 5), each
opened in the account tree after the earlier writes; the roots are
``H_STATE(accountsRoot, booksRoot)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from prover.exchange.batch import PAD_MESSAGE, BatchBuilder
from prover.exchange.booktree import Books, state_root
from prover.exchange.constants import FEE_ACCOUNT, INSURANCE_ACCOUNT
from prover.exchange.domain import Account, OrderSlot, Position, SignedCancel, SignedOrder
from prover.exchange.entrybook import AccountSlot, EntryResult, RunningState
from prover.field import encode_signed
from prover.proving.batch_circuit import BATCH_INPUTS

#: EntryBook's per-entry inputs and their BatchBook names.
_ENTRY_INPUTS = {
    "stepAct": "eStepAct",
    "stepPop": "eStepPop",
    "stepQty": "eStepQty",
    "stepCancel": "eStepCancel",
    "stepTryQty": "eStepTryQty",
    "stepMakerAccount": "eStepMakerAccount",
    "stepMakerOrderId": "eStepMakerOrderId",
    "stepMakerSlot": "eStepMakerSlot",
    "stepLeafRef": "eStepLeafRef",
    "stepLeafNextPtr": "eStepLeafNextPtr",
    "stepLeafNextRank": "eStepLeafNextRank",
    "stepSiblings": "eStepSiblings",
    "makerSlotOrderId": "eMakerSlotOrderId",
    "makerSlotOrderHash": "eMakerSlotOrderHash",
    "makerSlotFilled": "eMakerSlotFilled",
    "makerSlotSeq": "eMakerSlotSeq",
    "makerSlotSiblings": "eMakerSlotSiblings",
    "makerMarket": "eMakerMarket",
    "makerSide": "eMakerSide",
    "makerPrice": "eMakerPrice",
    "makerSize": "eMakerSize",
    "makerExpiry": "eMakerExpiry",
    "makerMaxFeePpm": "eMakerMaxFeePpm",
    "makerTif": "eMakerTif",
    "rest": "eRest",
    "insAtHead": "eInsAtHead",
    "insAllocNextFree": "eInsAllocNextFree",
    "insAllocSiblings": "eInsAllocSiblings",
    "insPredPtr": "eInsPredPtr",
    "insPredRank": "eInsPredRank",
    "insPredRef": "eInsPredRef",
    "insPredNextPtr": "eInsPredNextPtr",
    "insPredNextRank": "eInsPredNextRank",
    "insPredSiblings": "eInsPredSiblings",
}
_FILL_INPUTS = {name for name in BATCH_INPUTS if name.startswith("fill")}


@dataclass(frozen=True)
class BookBatch:
    """BatchBook's inputs, the state it ends in and the matching of each entry."""

    inputs: dict[str, Any]
    old_root: int
    new_root: int
    books: Books
    accounts: dict[int, Account]
    filled: tuple[int, ...]


def _zeros(value: Any) -> Any:
    return [_zeros(v) for v in value] if isinstance(value, list) else 0


def book_batch(
    builder: BatchBuilder,
    books: Books,
    steps: int,
    *,
    running: type[RunningState] = RunningState,
    max_steps: Mapping[int, int] | None = None,
    after_entry: Callable[[int, EntryResult, RunningState], None] | None = None,
) -> BookBatch:
    """Replay ``builder``'s messages (it must hold no fill) as BatchBook proves them on
    ``books`` (the sides before the batch, not changed); ``steps`` is ``F``.

    The keywords are for tamper tests, which build the witness of an operator who
    breaks one rule and recompute everything else from it: ``running`` a RunningState
    subclass (a maker view that lies), ``max_steps`` per message slot fewer steps than
    ``F``, ``after_entry`` a change to an entry's result and the state before its witness
    is taken."""
    if builder.fills:
        raise ValueError("the book-carrying batch matches by the rules: give no fills")
    base = builder._base  # noqa: SLF001 - the prototype reads the builder's records
    records = builder._entries  # noqa: SLF001
    witness = builder.seal().witness
    old_inputs = witness.as_circuit_inputs()
    inputs: dict[str, Any] = {
        name: old_inputs[name] for name in BATCH_INPUTS if name not in _FILL_INPUTS
    }
    cfg = builder.config
    funding = builder.params.funding

    # Phases 1 and 2: the builder's account slots, funded.
    slots: list[AccountSlot] = []
    for a in witness.accounts:
        positions = tuple(
            Position(p.size, f) for p, f in zip(a.before.positions, funding, strict=True)
        )
        funded = Account(a.before.pubkey, a.before.nonce, a.funded_collateral, positions)
        slot = AccountSlot(a.index, funded, base.slot_bits, a.used)
        if a.used and base.exists(a.index):
            for slot_no, s in base.slots(a.index).items():
                slot.write(slot_no, s, base.slot_order(a.index, slot_no))
        slots.append(slot)
    state = running(
        slots, books.copy(), builder.markets, builder.params.marks, builder.timestamp,
        base.slot_bits,
    )
    old_root = state_root(base.root, books.root)

    # Phase 3 and 3': each message slot's write, then its steps.
    rows: list[dict[str, Any]] = []
    entry_rows: list[dict[str, Any]] = []
    filled: list[int] = []
    for e in range(cfg.entries):
        rec = records[e] if e < len(records) else None
        k = 0 if rec is None else witness.entries[e].account_slot
        slot_no = builder._pad_slot if rec is None else rec.slot_no  # noqa: SLF001
        holder = state.accounts[k]
        old = holder.slot(slot_no)
        assert holder.tree is not None
        siblings = holder.tree.prove(slot_no).siblings
        row: dict[str, Any] = {
            "entryOldSlotOrderId": old.order_id,
            "entryOldSlotOrderHash": old.order_hash,
            "entryOldSlotFilled": old.filled,
            "entryOldSlotSeq": old.seq,
            "entrySlotSiblings": [list(level) for level in siblings],
        }
        entry = None if rec is None else rec.entry
        if isinstance(entry, SignedOrder):
            limit = steps if max_steps is None else max_steps.get(e, steps)
            result = state.enter(k, entry.order, rec.seq, limit)  # type: ignore[union-attr]
            if after_entry is not None:
                after_entry(e, result, state)
            matched = result.circuit_inputs(steps)
            row["entryFilled"] = result.match.filled
            filled.append(result.match.filled)
            entry_rows.append({new: matched[old_name] for old_name, new in _ENTRY_INPUTS.items()})
        else:
            if isinstance(entry, SignedCancel):
                assert rec is not None
                holder.write(slot_no, OrderSlot(entry.cancel.order_id, 0, 0, rec.seq), None)
            row["entryFilled"] = 0
            filled.append(0)
            entry_rows.append({})
        rows.append(row)
    template = next((r for r in entry_rows if r), None)
    for i, r in enumerate(entry_rows):
        if not r:
            entry_rows[i] = (
                {name: _zeros(v) for name, v in template.items()}
                if template is not None
                else _idle_entry(steps, base.slot_bits, books)
            )
    for name in rows[0]:
        inputs[name] = [r[name] for r in rows]
    for name in entry_rows[0]:
        inputs[name] = [r[name] for r in entry_rows]
    inputs["accountsRoot"] = base.root
    sides = books.circuit_inputs("book")
    inputs.update(
        {
            "bookCap": sides["bookcap"],
            "bookHeadPtr": sides["bookheadPtr"],
            "bookHeadRank": sides["bookheadRank"],
            "bookFreePtr": sides["bookfreePtr"],
            "bookFrontier": sides["bookfrontier"],
        }
    )

    # Phase 5: the account writes in slot order.
    tree = base.account_tree()
    siblings_k = []
    final: dict[int, Account] = {}
    for a, slot in zip(witness.accounts, state.accounts, strict=True):
        siblings_k.append([list(level) for level in tree.prove(a.index).siblings])
        empty = a.index not in (FEE_ACCOUNT, INSURANCE_ACCOUNT) and a.before.pubkey[0] == 0
        if a.used and not empty:
            tree.set(a.index, slot.account.hash(slot.orders_root))
            final[a.index] = slot.account
    inputs["accSiblings"] = siblings_k
    new_root = state_root(tree.root, state.books.root)
    inputs["oldRoot"] = old_root
    inputs["newRoot"] = new_root
    return BookBatch(_strings(inputs), old_root, new_root, state.books, final, tuple(filled))


def _idle_entry(steps: int, slot_bits: int, books: Books) -> dict[str, Any]:
    lower = books.sides[0].lower_levels
    out: dict[str, Any] = {new: [0] * steps for new in _ENTRY_INPUTS.values()}
    out["eStepSiblings"] = [[[0, 0, 0]] * lower] * steps
    out["eMakerSlotSiblings"] = [[[0, 0, 0]] * (slot_bits // 2)] * steps
    for name in ("eRest", "eInsAtHead", "eInsAllocNextFree", "eInsPredPtr", "eInsPredRank"):
        out[name] = 0
    for name in ("eInsPredRef", "eInsPredNextPtr", "eInsPredNextRank"):
        out[name] = 0
    out["eInsAllocSiblings"] = out["eInsPredSiblings"] = [[0, 0, 0]] * lower
    return out


def _strings(value: Any) -> Any:
    if isinstance(value, list):
        return [_strings(v) for v in value]
    if isinstance(value, dict):
        return {k: _strings(v) for k, v in value.items()}
    if isinstance(value, int):
        return str(encode_signed(value)) if value < 0 else str(value)
    return value


__all__ = ["BookBatch", "PAD_MESSAGE", "book_batch"]
