"""The batch with the committed book (``circuits/main/BatchBook.circom``, docs/book.md):
its builder, which takes messages only, and its witness.

:class:`BookBatchBuilder` is what the engine uses for a venue configured with the book
(``BatchConfig.book``): each valid order is matched by the rules when its message is added,
on the running state (:class:`RunningState`), the accounts of the makers it meets opened in
account slots (or :class:`BatchFull`); :meth:`BookBatchBuilder.seal` returns a
:class:`BatchResult` whose witness (:class:`BookBatchWitness`) gives BatchBook's inputs.

:func:`book_batch` replays a :class:`BatchBuilder` that took the batch's messages and no
fills in BatchBook's order: phases 1 and 2 as the builder did them (the same account
slots, funding); then per message slot its order-slot write (a valid order's with what it
fills, a cancel's, none for a no-op), opened in the account's order root as it stands
after the earlier entries' steps, and a valid order's steps (:meth:`RunningState.enter`);
then the account writes in slot order (phase 5), each opened in the account tree after the
earlier writes; the roots are ``H_STATE(accountsRoot, booksRoot)``. Its keyword hooks build
the witnesses of cheating operators for the tamper tests.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from prover.errors import ProtocolError
from prover.exchange.batch import (
    PAD_MESSAGE,
    BatchBuilder,
    BatchResult,
    BatchWitness,
    MessageOutcome,
)
from prover.exchange.booktree import Books, ref_parts, state_root
from prover.exchange.constants import FEE_ACCOUNT, INSURANCE_ACCOUNT
from prover.exchange.domain import (
    Account,
    BatchConfig,
    BatchFull,
    Entry,
    Fill,
    Market,
    Order,
    OrderRef,
    OrderRejected,
    OrderSlot,
    Position,
    PriceSet,
    Reject,
    SignedCancel,
    SignedOrder,
    fee_for,
    make_seq,
    pubkey_of,
)
from prover.exchange.entrybook import AccountSlot, EntryResult, RunningState
from prover.exchange.flows import (
    Deposit,
    DepositOutcome,
    Exit,
    SignedWithdrawal,
    deposit_outcome,
    key_decomposition,
)
from prover.exchange.inbox import Message
from prover.exchange.margin import pretrade_check
from prover.exchange.matching import StepKind
from prover.exchange.state import ExchangeState
from prover.field import encode_signed
from prover.proving.batch_circuit import BATCH_INPUTS, DEPOSIT_INPUTS

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
    slots: dict[int, AccountSlot]
    """The account slots' order slots after the batch (account index -> its slot)."""


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

    # Phase 2b: the deposits, on the funded slots (DepositEntry's rows).
    slot_of = {a.index: k for k, a in enumerate(witness.accounts) if a.used}
    dep_rows: list[dict[str, Any]] = []
    for dep, outcome in builder.deposits:
        k = slot_of[dep.account]
        holder = slots[k]
        acct = holder.account
        exists = dep.account in (FEE_ACCOUNT, INSURANCE_ACCOUNT) or acct.pubkey[0] != 0
        if deposit_outcome(dep, acct.pubkey, acct.collateral, exists) != outcome:
            raise AssertionError(f"replay: deposit {dep.number} decided otherwise")
        if outcome is DepositOutcome.CREATED:
            holder.account = replace(
                acct, pubkey=pubkey_of(dep.key), collateral=acct.collateral + dep.amount
            )
        elif outcome is DepositOutcome.CREDITED:
            holder.account = acct.with_collateral(acct.collateral + dep.amount)
        dep_rows.append(_deposit_row(dep, k))
    for _ in range(len(dep_rows), cfg.deposits):
        dep_rows.append(_deposit_row(None, 0))
    for name in DEPOSIT_INPUTS:
        inputs[name] = [r[name] for r in dep_rows]

    state = running(
        slots, books.copy(), builder.markets, builder.params.marks, builder.timestamp,
        base.slot_bits,
    )
    old_root = state_root(base.accounts_root, books.root)

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
            if rec is not None and rec.withdrawal is not None and rec.account is not None:
                # WithdrawEntry, on the account as the earlier entries left it.
                got = _withdrawal_fields(builder, rec, holder.account)
                if (got["consumed"], got["paid"]) != (rec.consumed, rec.paid):
                    raise AssertionError(f"replay: withdrawal {e} decided otherwise")
                if rec.consumed:
                    holder.account = _withdrawn(holder.account, rec.withdrawal, rec.paid)
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
    inputs["accountsRoot"] = base.accounts_root
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

    # A padding account slot names the fee account as the batch leaves it (its write
    # then rewrites the same leaf): the book's fee account, fees included.
    fee = state.accounts[state.slot_of(FEE_ACCOUNT)]
    for k, a in enumerate(witness.accounts):
        if not a.used:
            inputs["accPubX"][k] = str(fee.account.pubkey[0])
            inputs["accPubY"][k] = str(fee.account.pubkey[1])
            inputs["accNonce"][k] = str(fee.account.nonce)
            inputs["accCollateral"][k] = str(fee.account.collateral)
            inputs["accPosSize"][k] = [p.size for p in fee.account.positions]
            inputs["accPosFunding"][k] = [p.funding_index for p in fee.account.positions]
            inputs["accOrdersRoot"][k] = str(fee.orders_root)

    # Phase 5: the account writes in slot order.
    tree = base.account_tree()
    siblings_k = []
    final: dict[int, Account] = {}
    for a, slot in zip(witness.accounts, state.accounts, strict=True):
        siblings_k.append([list(level) for level in tree.prove(a.index).siblings])
        empty = a.index not in (FEE_ACCOUNT, INSURANCE_ACCOUNT) and slot.account.pubkey[0] == 0
        if a.used and not empty:
            tree.set(a.index, slot.account.hash(slot.orders_root))
            final[a.index] = slot.account
    inputs["accSiblings"] = siblings_k
    new_root = state_root(tree.root, state.books.root)
    inputs["oldRoot"] = old_root
    inputs["newRoot"] = new_root
    written = {slot.index: slot for slot in state.accounts if slot.used and slot.index in final}
    return BookBatch(
        _strings(inputs), old_root, new_root, state.books, final, tuple(filled), written
    )


@dataclass(frozen=True)
class BookEntry:
    """One consumed message of a matching batch: the builder's judgement and, for a valid
    order, its proven matching (:class:`EntryResult`: steps, outcome, resting or not)."""

    outcome: MessageOutcome
    result: EntryResult | None
    makers_opened: tuple[int, ...]
    """Accounts opened in account slots for this message's makers."""


@dataclass(frozen=True)
class BookBatchWitness(BatchWitness):
    """The witness of a matching batch: the fill-list batch's parts (parameters, account
    slots, message slots: what the operator store and the receipts read) with BatchBook's
    inputs (:attr:`book`), whose roots are the state roots."""

    book: BookBatch | None = None

    def as_circuit_inputs(self) -> dict[str, Any]:
        """The input JSON of ``circuits/main/BatchBook.circom``."""
        assert self.book is not None
        return dict(self.book.inputs)


class _Probe(RunningState):
    """A running state that opens an account slot for any account a look names, and
    records which (the makers a taker would meet)."""

    def __init__(self, *args: Any, loader: Callable[[int], AccountSlot], loaded: set[int]):
        super().__init__(*args)
        self.loader = loader
        self.loaded = loaded

    def copy(self) -> _Probe:
        return _Probe(
            [a.copy() for a in self.accounts], self.books.copy(), self.markets, self.marks,
            self.timestamp, self.slot_bits, loader=self.loader, loaded=self.loaded,
        )

    def slot_of(self, index: int) -> int:
        try:
            return super().slot_of(index)
        except ProtocolError:
            pass
        self.accounts.append(self.loader(index))
        self.loaded.add(index)
        return len(self.accounts) - 1


class BookBatchBuilder:
    """One batch whose orders are matched by the rules (docs/book.md), as BatchBook
    proves it: the operator gives messages, never fills.

    Each valid order is matched when its message is added, on the running state (every
    account slot and book side as the earlier messages left them). The makers it meets
    (heads that fill, and stale or self-trading heads it removes) must sit in account
    slots, because the circuit reads each head's order slot from one: the builder opens
    them, and raises :class:`BatchFull` (nothing changed: the message starts the next
    batch) when they, the taker and, with a plan, the accounts the batch's later messages
    name do not fit the ``K`` slots. With ``K >= F + 3`` every message fits an empty batch
    (fee account, insurance fund, taker, ``F`` makers).

    :meth:`seal` replays the batch in the circuit's order (:func:`book_batch`), checks it
    decides as the incremental matching did, and returns the new state and books.
    """

    def __init__(
        self,
        state: ExchangeState,
        config: BatchConfig,
        params: PriceSet,
        markets: Sequence[Market] | None = None,
        *,
        operator_secret: int | None = None,
    ) -> None:
        books = state.books
        if not config.book or books is None:
            raise ProtocolError("a matching batch needs a book config and a state with books")
        if (books.bits, books.cap_levels) != (config.book_bits, config.book_cap_levels):
            raise ProtocolError(
                f"the state's books ({books.bits} bits, cap {books.cap_levels}) do not fit "
                f"the config (BB = {config.book_bits}, CL = {config.book_cap_levels})"
            )
        self.builder = BatchBuilder(
            state, config, params, markets, operator_secret=operator_secret
        )
        self.config = config
        self.params = params
        self.steps = config.steps
        self._books_before = books.copy()
        self._running = RunningState(
            [self._account_slot(i) for i in self.builder.opened],
            books.copy(),
            self.builder.markets,
            params.marks,
            params.timestamp,
            state.slot_bits,
        )
        self._entries: list[BookEntry] = []
        self._result: BatchResult | None = None

    # --- views ----------------------------------------------------------------------

    @property
    def books(self) -> Books:
        """The book sides as the messages so far left them (a copy)."""
        return self._running.books.copy()

    @property
    def entries(self) -> tuple[BookEntry, ...]:
        return tuple(self._entries)

    @property
    def messages(self) -> tuple[Message, ...]:
        """Every message consumed so far, in inbox order."""
        return self.builder.messages

    @property
    def fills(self) -> tuple[Fill, ...]:
        """The fills of the entries so far, in step order."""
        return tuple(f for b in self._entries for f in fills_of(b, self.builder.markets))

    def _holder(self, account: int) -> AccountSlot | None:
        for a in self._running.accounts:
            if a.index == account:
                return a
        return None

    def slot(self, account: int, slot_no: int) -> OrderSlot:
        """Order slot ``slot_no`` of ``account`` as the messages so far left it."""
        holder = self._holder(account)
        return holder.slot(slot_no) if holder is not None else self.builder.slot(account, slot_no)

    def order(self, account: int, order_id: int) -> Order | None:
        """The body of order ``order_id`` if its slot holds it now."""
        holder = self._holder(account)
        if holder is None:
            return self.builder.order(account, order_id)
        slot_no = order_id & ((1 << self._running.slot_bits) - 1)
        if holder.slot(slot_no).order_id != order_id:
            return None
        return holder.orders.get(slot_no)

    @property
    def sealed(self) -> bool:
        return self._result is not None

    @property
    def is_empty(self) -> bool:
        return not self._entries

    def _account_slot(self, index: int) -> AccountSlot:
        """Account ``index`` as an account slot holds it: funded, with its order slots as
        the batch found them (an account is opened before any message of the batch
        writes to it)."""
        base = self.builder._base  # noqa: SLF001 - the builder's state before the batch
        slot = AccountSlot(index, self.builder.funded_account(index), base.slot_bits)
        if base.exists(index):
            for slot_no, s in base.slots(index).items():
                slot.write(slot_no, s, base.slot_order(index, slot_no))
        return slot

    # --- deposits -------------------------------------------------------------------

    @property
    def deposits(self) -> tuple[tuple[Deposit, DepositOutcome], ...]:
        return self.builder.deposits

    @property
    def exits(self) -> tuple[Exit, ...]:
        return self.builder.exits

    def add_deposit(self, deposit: Deposit) -> DepositOutcome:
        """Take the next deposit of the queue (:meth:`BatchBuilder.add_deposit`: before any
        message); the account it credits or opens joins the running state."""
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        outcome = self.builder.add_deposit(deposit)
        index = deposit.account
        holder = self._holder(index)
        if holder is not None:
            holder.account = self.builder.account(index)
        elif outcome is not DepositOutcome.REFUNDED or self.builder._base.exists(index):  # noqa: SLF001
            self._running.accounts.append(self._account_slot(index))
        return outcome

    # --- messages -------------------------------------------------------------------

    def plan(self, messages: Sequence[Message]) -> None:
        """As :meth:`BatchBuilder.plan`: the batch's messages announced first, so that the
        makers the earlier ones meet leave account slots for the accounts later ones name."""
        self.builder.plan(messages)

    def add_message(self, message: Message) -> BookEntry:
        """Consume the next inbox message; a valid order is matched by the rules.

        Raises as :meth:`BatchBuilder.add_message`, and :class:`BatchFull` when the makers
        the order would meet do not fit the account slots; nothing changes when it raises.
        """
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        judged = self.builder.judge_message(message)
        running_before: AccountSlot | None = None
        if judged.withdrawal is not None and judged.account is not None:
            # Judged on the account as the batch's entries so far left it (fills included).
            running_before = self._holder(judged.account)
            view = (
                running_before.account if running_before is not None
                else self.builder.funded_account(judged.account)
            )
            judged = replace(judged, **_withdrawal_fields(self.builder, judged, view))
        entry = judged.entry
        seq = make_seq(self.builder.params.batch_number, judged.index)
        makers: tuple[int, ...] = ()
        if isinstance(entry, SignedOrder):
            makers = self._makers_met(judged, entry.order, seq)
        self.builder.commit_message(judged)
        for index in makers:
            self.builder.open_account(index)
        running = self._running
        opened = {a.index for a in running.accounts}
        for index in self.builder.opened:
            if index not in opened and self.builder._base.exists(index):  # noqa: SLF001
                running.accounts.append(self._account_slot(index))
        result = None
        if isinstance(entry, SignedOrder):
            taker = running.slot_of(entry.order.account)
            result = running.enter(taker, entry.order, seq, self.steps)
        elif isinstance(entry, SignedCancel):
            holder = running.accounts[running.slot_of(entry.cancel.account)]
            holder.write(judged.slot_no, OrderSlot(entry.cancel.order_id, 0, 0, seq), None)
        elif judged.withdrawal is not None and judged.consumed and running_before is not None:
            # (An account the running state did not hold yet joined it from the builder's
            # view, which commit_message already moved.)
            running_before.account = _withdrawn(
                running_before.account, judged.withdrawal, judged.paid
            )
        book_entry = BookEntry(judged, result, makers)
        self._entries.append(book_entry)
        return book_entry

    def check_entry(self, signed: Entry) -> None:
        """:meth:`BatchBuilder.check_entry`'s rules, the pre-trade margin check on the
        account as the batch's entries so far left it (fills included)."""
        try:
            self.builder.check_entry(signed)
        except OrderRejected as exc:
            # The margin check is the builder's last: every other rule passed.
            if exc.reason != Reject.INSUFFICIENT_MARGIN:
                raise
        if isinstance(signed, SignedOrder):
            order = signed.order
            holder = self._holder(order.account)
            account = (
                holder.account if holder is not None
                else self.builder.funded_account(order.account)
            )
            if not pretrade_check(account, order, self.builder.markets, self.params.marks):
                raise OrderRejected(
                    Reject.INSUFFICIENT_MARGIN,
                    f"account {order.account} would miss its initial margin if the order filled",
                    order=order.ref,
                )

    def add_entry(self, signed: Entry) -> BookEntry:
        """For tests and simulations: ``signed`` checked as :meth:`check_entry` does,
        encrypted to the operator (deterministically) and added as a message."""
        self.check_entry(signed)
        return self.add_message(self.builder.encrypt_entry(signed))

    def _makers_met(self, judged: MessageOutcome, order: Order, seq: int) -> tuple[int, ...]:
        """The accounts (not yet in slots) that ``order``'s matching reads; raises
        :class:`BatchFull` when they do not fit."""
        loaded: set[int] = set()
        probe = _Probe(
            [a.copy() for a in self._running.accounts],
            self._running.books.copy(),
            self._running.markets,
            self._running.marks,
            self._running.timestamp,
            self._running.slot_bits,
            loader=self._account_slot,
            loaded=loaded,
        )
        probe.enter(probe.slot_of(order.account), order, seq, self.steps)
        opened = set(self.builder.opened)
        new = loaded - opened
        later = self.builder.later_named() - opened - new
        later.discard(order.account)
        free = self.builder.config.accounts - len(opened)
        if len(new) + len(later) > free and not self._entries and not later:
            raise ProtocolError(
                f"order {order.order_id} of account {order.account} meets makers of "
                f"{len(new - {order.account})} accounts: with the taker, the fee account and "
                f"the insurance fund they need more than K = {self.builder.config.accounts} "
                "account slots even in an empty batch (a venue that matches by the rules "
                "needs K >= F + 3)"
            )
        if len(new) + len(later) > free:
            raise BatchFull(
                f"order {order.order_id} of account {order.account} meets makers of "
                f"{len(new - {order.account})} more accounts; with the taker and the later "
                f"messages' {len(later)} they need {len(new) + len(later)} account slots, "
                f"{free} are left"
            )
        return tuple(sorted(new - {order.account}))

    # --- sealing --------------------------------------------------------------------

    def seal(self) -> BatchResult:
        """The batch in BatchBook's order: the new state (with its books), the witness
        (:class:`BookBatchWitness`), the fills in step order. Sealing twice returns the
        same result.

        ``AssertionError`` (a bug) when the replay decides otherwise than the incremental
        matching or the new state's root is not the witness's."""
        if self._result is not None:
            return self._result
        batch = book_batch(self.builder, self._books_before, self.steps)
        incremental = tuple(
            0 if b.result is None else b.result.match.filled for b in self._entries
        )
        if batch.filled[: len(incremental)] != incremental:
            raise AssertionError("the replay matched otherwise than the builder")
        if batch.books.root != self._running.books.root:
            raise AssertionError("the replay's books differ from the builder's")
        legacy = self.builder.seal()
        state = legacy.state.copy()
        for index, account in batch.accounts.items():
            slot = batch.slots[index]
            for slot_no, s in slot.slots.items():
                state.set_slot(
                    index, slot_no, s, slot.orders.get(slot_no) if s.is_open else None,
                    sync=False,
                )
            state.set_account(index, account, sync=False)
            state.sync(index)
        state.books = batch.books.copy()
        if state.root != batch.new_root:
            raise AssertionError("the new state's root is not the witness's")
        base = legacy.witness
        witness = BookBatchWitness(
            **{f.name: getattr(base, f.name) for f in fields(BatchWitness)},
            book=batch,
        )
        witness = replace(witness, old_root=batch.old_root, new_root=batch.new_root)
        self._result = BatchResult(
            state,
            witness,
            tuple(f for b in self._entries for f in fills_of(b, self.builder.markets)),
            legacy.entries,
            batch.old_root,
            batch.new_root,
            legacy.funding,
        )
        return self._result


def fills_of(entry: BookEntry, markets: Sequence[Market]) -> list[Fill]:
    """The fills of one entry's steps, in step order."""
    if entry.result is None:
        return []
    order = entry.result.order
    market = markets[order.market]
    out = []
    for step in entry.result.match.steps:
        if step.kind != StepKind.FILL:
            continue
        notional = step.qty * step.price
        out.append(
            Fill(
                order.market,
                order.ref,
                OrderRef(*ref_parts(step.maker)),
                order.side,
                step.price,
                step.qty,
                fee_for(notional, market.taker_fee_ppm),
                fee_for(notional, market.maker_fee_ppm),
            )
        )
    return out


def _withdrawal_fields(builder: BatchBuilder, judged: Any, view: Account) -> dict[str, Any]:
    """WithdrawEntry's outcome of ``judged`` (a withdrawal message) on ``view``."""
    consumed, paid, reason = builder.withdrawal_on(judged.withdrawal, view)
    return {"consumed": consumed, "paid": paid, "reason": reason}


def _withdrawn(account: Account, signed: SignedWithdrawal, paid: bool) -> Account:
    """``account`` after a withdrawal that used its nonce (and, paid, debited it)."""
    debit = signed.withdrawal.amount if paid else 0
    return replace(account, nonce=account.nonce + 1, collateral=account.collateral - debit)


def _deposit_row(dep: Deposit | None, slot: int) -> dict[str, Any]:
    """DepositEntry's inputs for ``dep`` in account slot ``slot`` (None: an unused slot,
    which carries the identity as its key)."""
    key = (0, 1) if dep is None else dep.key
    q, torsion = key_decomposition(key)
    return {
        "depUsed": int(dep is not None),
        "depIndex": 0 if dep is None else dep.account,
        "depKeyX": key[0],
        "depKeyY": key[1],
        "depAmount": 0 if dep is None else dep.amount,
        "depDepositor": 0 if dep is None else dep.depositor,
        "depSlot": slot,
        "depKeyQx": q[0],
        "depKeyQy": q[1],
        "depKeyTorsion": torsion,
    }


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


__all__ = [
    "BookBatch", "BookBatchBuilder", "BookBatchWitness", "BookEntry", "PAD_MESSAGE", "book_batch",
    "fills_of",
]
