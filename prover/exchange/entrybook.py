"""One entry matched on the batch's running state, as the circuit's EntryBook proves it
(docs/book.md, "One entry in the batch").

:class:`RunningState` is what a batch holds between its entries: ``K`` account slots (an
account index, its :class:`Account` and its order slots with their tree), every book side
(:class:`Books`) and the batch's parameters. :meth:`RunningState.enter` writes a valid
order's slot, matches it by the rules (:func:`matching.match`, with the state as the
maker view: a head is live iff its slot holds it unexpired and not done, a fill is
weighed with :func:`margin.weighed_fill_ok` on both sides) and applies every fill and
cancel, recording each step's slot opening at the moment the circuit makes it; the
result's :meth:`EntryResult.circuit_inputs` are EntryBook's inputs.

The taker's own slot is written (with what it fills) before its steps, as the batch does.
What it fills is known only after matching, so :meth:`enter` decides on a copy first and
then replays on the state; a head never names the taker's new slot (its order is not in
the book yet), so the two passes decide alike (checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from prover.errors import ProtocolError
from prover.exchange.booktree import BookHeader, Books, ref_parts
from prover.exchange.constants import FEE_ACCOUNT, SIDE_BUY
from prover.exchange.domain import Account, Market, Order, OrderSlot, Position, fee_for
from prover.exchange.margin import weighed_fill_ok
from prover.exchange.matching import Match, Step, StepKind, Taker, match
from prover.merkle import QuadTree

EMPTY_SLOT_HASH = OrderSlot().hash()


@dataclass
class AccountSlot:
    """One account slot of the batch: the account and its order slots."""

    index: int
    account: Account
    slot_bits: int
    used: bool = True
    slots: dict[int, OrderSlot] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    tree: QuadTree | None = None

    def __post_init__(self) -> None:
        if self.tree is None:
            self.tree = QuadTree(self.slot_bits, EMPTY_SLOT_HASH)
            for slot_no, slot in self.slots.items():
                self.tree.set(slot_no, slot.hash())

    @property
    def orders_root(self) -> int:
        assert self.tree is not None
        return self.tree.root

    def slot(self, slot_no: int) -> OrderSlot:
        return self.slots.get(slot_no, OrderSlot())

    def write(self, slot_no: int, slot: OrderSlot, order: Order | None) -> None:
        assert self.tree is not None
        self.slots[slot_no] = slot
        if order is None:
            self.orders.pop(slot_no, None)
        else:
            self.orders[slot_no] = order
        self.tree.set(slot_no, slot.hash())

    def copy(self) -> AccountSlot:
        assert self.tree is not None
        return AccountSlot(
            self.index,
            self.account,
            self.slot_bits,
            self.used,
            dict(self.slots),
            dict(self.orders),
            self.tree.copy(),
        )


@dataclass(frozen=True)
class Opening:
    """The maker's order slot as a step opens it (HeadSlot's inputs)."""

    account_slot: int
    slot: OrderSlot
    siblings: tuple[tuple[int, int, int], ...]
    body: Order | None  # the order the slot holds when it holds the head's id


@dataclass
class EntryResult:
    """One entry's match and what its witness needs."""

    taker_slot: int
    order: Order
    seq: int
    match: Match
    openings: list[Opening]
    before: RunningState  # the state the steps start from (the taker's slot written)

    def circuit_inputs(self, steps: int) -> dict[str, object]:
        """EntryBook's inputs (``steps`` = F)."""
        m = self.match
        inputs = m.circuit_inputs(steps)
        for name in (
            "takerAccount",
            "ownCap",
            "ownHeadPtr",
            "ownHeadRank",
            "ownFreePtr",
            "ownFrontier",
            "oppCap",
            "oppHeadPtr",
            "oppHeadRank",
            "oppFreePtr",
            "makerLive",
            "makerLeft",
            "makerRank",
            "makerMarginOk",
            "takerMarginOk",
        ):
            del inputs[name]
        o = self.order
        state = self.before
        inputs.update(
            {
                "takerSlot": self.taker_slot,
                "takerMarket": o.market,
                **state.circuit_inputs(),
            }
        )
        depth = state.slot_bits // 2
        rows: dict[str, list[object]] = {
            name: []
            for name in (
                "stepMakerSlot",
                "makerSlotOrderId",
                "makerSlotOrderHash",
                "makerSlotFilled",
                "makerSlotSeq",
                "makerSlotSiblings",
                "makerMarket",
                "makerSide",
                "makerPrice",
                "makerSize",
                "makerExpiry",
                "makerMaxFeePpm",
                "makerTif",
            )
        }
        for i in range(steps):
            if i < len(self.openings):
                op = self.openings[i]
                body = op.body
                row: dict[str, object] = {
                    "stepMakerSlot": op.account_slot,
                    "makerSlotOrderId": op.slot.order_id,
                    "makerSlotOrderHash": op.slot.order_hash,
                    "makerSlotFilled": op.slot.filled,
                    "makerSlotSeq": op.slot.seq,
                    "makerSlotSiblings": [list(level) for level in op.siblings],
                    "makerMarket": body.market if body else 0,
                    "makerSide": body.side if body else 0,
                    "makerPrice": body.price if body else 0,
                    "makerSize": body.size if body else 0,
                    "makerExpiry": body.expiry if body else 0,
                    "makerMaxFeePpm": body.max_fee_ppm if body else 0,
                    "makerTif": body.tif if body else 0,
                }
            else:  # a step that does not act opens nothing: zeros
                row = {name: 0 for name in rows}
                row["makerSlotSiblings"] = [[0, 0, 0]] * depth
            for name in rows:
                rows[name].append(row[name])
        inputs.update(rows)
        return inputs


class RunningState:
    """The batch's state between entries (docs/book.md, "One entry in the batch")."""

    def __init__(
        self,
        accounts: Sequence[AccountSlot],
        books: Books,
        markets: Sequence[Market],
        marks: Sequence[int],
        timestamp: int,
        slot_bits: int,
    ) -> None:
        self.accounts = list(accounts)
        self.books = books
        self.markets = tuple(markets)
        self.marks = tuple(marks)
        self.timestamp = timestamp
        self.slot_bits = slot_bits

    def copy(self) -> RunningState:
        return type(self)(
            [a.copy() for a in self.accounts],
            self.books.copy(),
            self.markets,
            self.marks,
            self.timestamp,
            self.slot_bits,
        )

    def slot_of(self, index: int) -> int:
        for k, slot in enumerate(self.accounts):
            if slot.used and slot.index == index:
                return k
        raise ProtocolError(f"account {index} is not in the batch's account slots")

    def headers(self) -> list[BookHeader]:
        return self.books.headers()

    def circuit_inputs(self) -> dict[str, object]:
        books = self.books.circuit_inputs("side")
        return {
            "timestamp": self.timestamp,
            "makerFeePpm": [m.maker_fee_ppm for m in self.markets],
            "takerFeePpm": [m.taker_fee_ppm for m in self.markets],
            "imrBps": [m.imr_bps for m in self.markets],
            "mmrBps": [m.mmr_bps for m in self.markets],
            "mark": list(self.marks),
            "accUsed": [int(a.used) for a in self.accounts],
            "accIndex": [a.index for a in self.accounts],
            "collIn": [a.account.collateral for a in self.accounts],
            "posIn": [[p.size for p in a.account.positions] for a in self.accounts],
            "ordersRootIn": [a.orders_root for a in self.accounts],
            "sideCap": books["sidecap"],
            "sideHeadPtr": books["sideheadPtr"],
            "sideHeadRank": books["sideheadRank"],
            "sideFreePtr": books["sidefreePtr"],
            "sideFrontier": books["sidefrontier"],
        }

    # --- the maker view (matching.MakerView) --------------------------------------

    def _order_slot(self, ref: int) -> tuple[int, int, OrderSlot, Order | None]:
        account, order_id = ref_parts(ref)
        k = self.slot_of(account)
        slot_no = order_id & ((1 << self.slot_bits) - 1)
        slot = self.accounts[k].slot(slot_no)
        body = self.accounts[k].orders.get(slot_no) if slot.order_id == order_id else None
        return k, slot_no, slot, body

    def live_left(self, ref: int) -> int | None:
        """The head's unfilled size, or ``None`` when it is stale (HeadSlot's rule)."""
        _, _, slot, body = self._order_slot(ref)
        if body is None or body.expiry < self.timestamp or slot.filled >= body.size:
            return None
        return body.size - slot.filled

    def weigh(
        self, taker_k: int, maker_k: int, side: int, market: int, qty: int, price: int
    ) -> tuple[bool, bool]:
        """``(maker ok, taker ok)`` for a fill of ``qty`` at ``price`` (MarginBit)."""
        notional = qty * price
        rate = self.markets[market]
        flow = notional if side == SIDE_BUY else -notional
        out = []
        for k, delta_c, delta_p, fee_ppm in (
            (maker_k, flow, -(qty if side == SIDE_BUY else -qty), rate.maker_fee_ppm),
            (taker_k, -flow, qty if side == SIDE_BUY else -qty, rate.taker_fee_ppm),
        ):
            account = self.accounts[k].account
            sizes = [p.size for p in account.positions]
            after = list(sizes)
            after[market] += delta_p
            c_after = account.collateral + delta_c - fee_for(notional, fee_ppm)
            out.append(
                weighed_fill_ok(
                    account.collateral, sizes, c_after, after, self.markets, self.marks
                )
            )
        return out[0], out[1]

    def apply_fill(
        self, taker_k: int, maker_k: int, side: int, market: int, qty: int, price: int
    ) -> None:
        notional = qty * price
        rate = self.markets[market]
        flow = notional if side == SIDE_BUY else -notional
        move = qty if side == SIDE_BUY else -qty
        fees = 0
        for k, delta_c, delta_p, fee_ppm in (
            (taker_k, -flow, move, rate.taker_fee_ppm),
            (maker_k, flow, -move, rate.maker_fee_ppm),
        ):
            fee = fee_for(notional, fee_ppm)
            fees += fee
            slot = self.accounts[k]
            old = slot.account.positions[market]
            slot.account = slot.account.with_collateral(
                slot.account.collateral + delta_c - fee
            ).with_position(market, Position(old.size + delta_p, old.funding_index))
        fee_slot = self.accounts[self.slot_of(FEE_ACCOUNT)]
        fee_slot.account = fee_slot.account.with_collateral(fee_slot.account.collateral + fees)

    # --- one entry -----------------------------------------------------------------

    def enter(
        self, taker_slot: int, order: Order, seq: int, max_steps: int
    ) -> EntryResult:
        """Write ``order``'s slot, match it, apply its steps; returns what the witness needs."""
        index = self.accounts[taker_slot].index
        if order.account != index:
            raise ProtocolError(f"order of account {order.account} in account slot {index}")
        taker = Taker(
            index, order.order_id, order.side, order.price, order.size, order.tif, seq
        )
        slot_no = order.order_id & ((1 << self.slot_bits) - 1)
        trial = self.copy()
        # The trial writes the slot too (what it fills does not change a decision: no head
        # names the taker's new order, and a head its slot held before is now stale).
        trial.accounts[taker_slot].write(
            slot_no, OrderSlot(order.order_id, order.hash(), 0, seq), order
        )
        decided = match(
            trial.books.side(order.market, order.side),
            trial.books.side(order.market, 1 - order.side),
            taker,
            _View(trial, taker_slot, order, record=False),
            max_steps,
        )
        self.accounts[taker_slot].write(
            slot_no, OrderSlot(order.order_id, order.hash(), decided.filled, seq), order
        )
        before = self.copy()
        view = _View(self, taker_slot, order, record=True)
        m = match(
            self.books.side(order.market, order.side),
            self.books.side(order.market, 1 - order.side),
            taker,
            view,
            max_steps,
        )
        if _summary(m) != _summary(decided):
            raise AssertionError("the entry's two passes decided differently")
        return EntryResult(taker_slot, order, seq, m, view.openings, before)


def _summary(m: Match) -> tuple[object, ...]:
    looks: list[Step] = m.steps + ([m.stop] if m.stop else [])
    return (m.outcome, m.remaining, tuple((s.kind, s.maker, s.qty, s.tried) for s in looks))


class _View:
    """The running state as :func:`matching.match`'s maker view, recording each look's
    slot opening (the first call of a look is ``remaining``)."""

    def __init__(self, state: RunningState, taker_slot: int, order: Order, record: bool):
        self.state = state
        self.taker_slot = taker_slot
        self.order = order
        self.record = record
        self.openings: list[Opening] = []

    def remaining(self, ref: int) -> int | None:
        if self.record:
            k, slot_no, slot, body = self.state._order_slot(ref)
            tree = self.state.accounts[k].tree
            assert tree is not None
            siblings = tree.prove(slot_no).siblings
            self.openings.append(Opening(k, slot, siblings, body))
        return self.state.live_left(ref)

    def margin_ok(self, ref: int, qty: int, price: int) -> tuple[bool, bool]:
        maker_k = self.state.slot_of(ref_parts(ref)[0])
        return self.state.weigh(
            self.taker_slot, maker_k, self.order.side, self.order.market, qty, price
        )

    def on_fill(self, ref: int, qty: int, price: int) -> None:
        k, slot_no, slot, body = self.state._order_slot(ref)
        self.state.apply_fill(
            self.taker_slot, k, self.order.side, self.order.market, qty, price
        )
        account = self.state.accounts[k]
        account.write(
            slot_no, OrderSlot(slot.order_id, slot.order_hash, slot.filled + qty, slot.seq), body
        )

    def on_cancel(self, ref: int) -> None:
        k, slot_no, slot, body = self.state._order_slot(ref)
        assert body is not None
        self.state.accounts[k].write(
            slot_no, OrderSlot(slot.order_id, slot.order_hash, body.size, slot.seq), body
        )


__all__ = ["AccountSlot", "EntryResult", "Opening", "RunningState", "StepKind"]
