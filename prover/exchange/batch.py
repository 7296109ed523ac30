"""Batch builder and batch witness (docs/protocol.md, section 7; docs/batch-witness.md).

:class:`BatchBuilder` takes inbox messages (:meth:`BatchBuilder.add_message`: each a
valid order or cancel, or a no-op) and fills one at a
time, in inbox order and matching order, checks every rule as it goes, and
refuses what is illegal without changing anything. :meth:`BatchBuilder.seal`
then **replays** the batch in the circuit's phase order on a copy of the state:

1. open the ``K`` account slots (used ones first, increasing indices; 0 fee, 1 insurance),
2. funding: ``C -= P_m * (F*_m - F_m)``, ``F_m := F*_m``; the insurance fund gets the sum,
3. entries in inbox order, each writing ``(orderId, orderHash | 0, filled, n*2^16 + e)``
   where ``filled`` is what the order fills as the taker in this batch (its slot is
   written once, not again by each of its taker fills),
4. fills in matching order (which follows the order of entries: a fill's taker never
   entered before the previous fill's), each adding its quantity to the maker's slot,
5. close: rewrite each opened leaf in slot order, ``oldRoot -> newRoot``,

recording every Merkle opening at the moment the circuit makes it, and checks that
the replay reproduces what the builder computed incrementally (same accounts, same
slots, collateral conserved). The result is the new state and a fixed-size, padded
:class:`BatchWitness` whose :meth:`BatchWitness.as_circuit_inputs` is the input of
``circuits/main/Batch.circom``. The signal names, shapes and the padding of no-op
slots are specified in docs/batch-witness.md; in short:

- public: ``oldRoot newRoot batchInfo configHash inboxBefore inboxAfter`` (as the Rollup
  builds them);
- the operator's key: ``operatorSecret operatorKeyX operatorKeyY``;
- parameters: ``batchNumber prevTimestamp timestamp
  market{TickSize,ImrBps,MmrBps,MakerFeePpm,TakerFeePpm,FundingCap}[M] feedKey{X,Y}
  feedSig{R8x,R8y,S} mark[M] fundingIndex[M]``;
- accounts ``[K]``: ``accUsed accIndex accPubX accPubY accNonce accCollateral
  accPosSize[M] accPosFunding[M] accOrdersRoot accSiblings[L][3] accRoot[K+1]
  accCollateralAfter accPosSizeAfter[M] accPosFundingAfter[M] accOrdersRootAfter
  fundingPayment accCollateralFunded``;
- message slots ``[E]``: ``msgUsed msgEphX msgEphY msgCiphertext[4] entryAccountSlot
  entryValid entryOldSlot{OrderId,OrderHash,Filled,Seq} entrySlotSiblings[LS][3]
  entryFilled entryOrdersRootBefore entryOrdersRootAfter entrySeq`` (the order or
  cancel itself is in the ciphertext: the circuit decrypts it);
- fills ``[B]``: ``fillUsed fillTakerEntry fillTakerAccountSlot fillMakerAccountSlot
  fill{Taker,Maker}{Account,...,Tif} fillMakerSlot{OrderId,OrderHash,Filled,Seq}
  fillMakerSlotSiblings[LS][3] fillMakerOrdersRoot{Before,After}
  fillQty fillPrice fillTakerFee fillMakerFee fill{Taker,Maker}Collateral{Before,After}
  fill{Taker,Maker}Pos{Before,After} fillFeeCollateralAfter``.

Decisions of the model beyond the protocol text (also in docs/protocol.md, "Model
decisions"): the insurance fund neither places orders nor trades (its collateral
moves with every opened account's funding, which the circuit applies before all
fills); entry checks run stateless rules first and the signature before any rule
that reveals state; margin is checked after all of a fill's transfers, fees included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from prover.crypto import babyjub
from prover.crypto.poseidon_hash import poseidon
from prover.errors import ProtocolError
from prover.exchange import flows, inbox
from prover.exchange.constants import (
    COLLATERAL_BITS,
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    POSITION_BITS,
    SEQ_ENTRY_BITS,
    SIDE_BUY,
    TIF_IOC,
    TIF_POST_ONLY,
)
from prover.exchange.domain import (
    EMPTY_SLOT,
    ZERO_PUBKEY,
    Account,
    BatchConfig,
    BatchFull,
    Cancel,
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
    check_markets,
    fee_for,
    make_seq,
    pubkey_of,
    signature_parts,
)
from prover.exchange.flows import (
    Deposit,
    DepositOutcome,
    Exit,
    SignedWithdrawal,
    deposit_outcome,
    withdrawal_outcome,
)
from prover.exchange.inbox import Decoded, Message
from prover.exchange.margin import legal_transition, margin, pretrade_check
from prover.exchange.state import ExchangeState
from prover.exchange.venue import DEV_OPERATOR, VenueConfig, batch_info
from prover.field import encode_signed

Siblings = tuple[tuple[int, int, int], ...]

#: A padding message slot: the ephemeral key ``BASE8`` (its x is below 2^252, as the Rollup
#: requires) and a zero ciphertext. The circuit opens it like any message (it decodes to
#: nothing).
PAD_MESSAGE = Message(babyjub.BASE8, (0, 0, 0, 0))
_ORDER_ID_OFFSET, _ORDER_ID_BITS = inbox.FIELDS["order_id"]
#: Domain tag of the simulation path's ephemeral keys (add_entry); not a circuit tag.
TAG_SIM_EPHEMERAL = 101

#: Order fields in circuit signal order: (signal suffix, Order attribute).
ORDER_SIGNALS: tuple[tuple[str, str], ...] = (
    ("Account", "account"),
    ("Market", "market"),
    ("Side", "side"),
    ("Price", "price"),
    ("Size", "size"),
    ("OrderId", "order_id"),
    ("Expiry", "expiry"),
    ("MaxFeePpm", "max_fee_ppm"),
    ("Tif", "tif"),
)
SLOT_SIGNALS: tuple[tuple[str, str], ...] = (
    ("OrderId", "order_id"),
    ("OrderHash", "order_hash"),
    ("Filled", "filled"),
    ("Seq", "seq"),
)


# --- the witness --------------------------------------------------------------------


@dataclass(frozen=True)
class AccountSlotWitness:
    """Account slot ``k`` (phases 1, 2 and 5)."""

    used: bool
    index: int
    before: Account
    orders_root_before: int
    funding_payment: int
    funded_collateral: int
    siblings: Siblings
    root_before: int
    root_after: int
    after: Account
    orders_root_after: int


@dataclass(frozen=True)
class EntryWitness:
    """Message slot ``e`` (phase 3). ``used``: the slot holds an inbox message of the batch
    (``message`` is :data:`PAD_MESSAGE` otherwise); ``entry``: the valid order or cancel it
    carries, ``None`` for a no-op or a padded slot."""

    used: bool
    index: int
    account_slot: int
    entry: Entry | None
    message: Message
    old_slot: OrderSlot
    siblings: Siblings
    orders_root_before: int
    orders_root_after: int
    seq: int
    filled: int = 0
    """What the order fills as the taker in this batch (written to its slot at entry)."""


@dataclass(frozen=True)
class FillSide:
    """One side of a fill at the moment the circuit applies it.

    Only the maker's order slot is opened in phase 4: for the taker, ``slot`` is its
    slot as the entry wrote it, ``siblings`` is empty and the order root does not move.
    """

    account_slot: int
    order: Order | None
    slot: OrderSlot
    siblings: Siblings
    orders_root_before: int
    orders_root_after: int
    collateral_before: int
    collateral_after: int
    position_before: int
    position_after: int


@dataclass(frozen=True)
class FillWitness:
    """Fill slot ``f`` (phase 4). ``fill`` is ``None`` for a padded slot."""

    used: bool
    fill: Fill | None
    taker_entry: int
    taker: FillSide
    maker: FillSide
    qty: int
    price: int
    taker_fee: int
    maker_fee: int
    fee_collateral_after: int


def _zero_order_fields(prefix: str) -> dict[str, str]:
    return {f"{prefix}{suffix}": "0" for suffix, _ in ORDER_SIGNALS}


def _order_fields(prefix: str, order: Order | None) -> dict[str, str]:
    if order is None:
        return _zero_order_fields(prefix)
    return {f"{prefix}{suffix}": str(getattr(order, attr)) for suffix, attr in ORDER_SIGNALS}


def _slot_fields(prefix: str, slot: OrderSlot) -> dict[str, str]:
    return {f"{prefix}{suffix}": str(getattr(slot, attr)) for suffix, attr in SLOT_SIGNALS}


def _siblings(siblings: Siblings) -> list[list[str]]:
    return [[str(s) for s in level] for level in siblings]


def _s(value: int) -> str:
    """A signed value as a decimal field element."""
    return str(encode_signed(value))


@dataclass(frozen=True)
class BatchWitness:
    """Everything ``Batch(K, E, B, D, S, M)`` needs, phase by phase, padded to size."""

    config: BatchConfig
    markets: tuple[Market, ...]
    params: PriceSet
    venue: VenueConfig
    previous_timestamp: int
    old_root: int
    new_root: int
    accounts: tuple[AccountSlotWitness, ...]
    entries: tuple[EntryWitness, ...]
    fills: tuple[FillWitness, ...]
    inbox_before: int = 0
    inbox_after: int = 0
    operator_secret: int = 0
    #: The deposit queue's chain before and after the batch's deposits (docs/flows.md).
    deposits_before: int = 0
    deposits_after: int = 0
    #: The batch's deposits, in queue order, and what it did with each.
    deposits: tuple[tuple[Deposit, DepositOutcome], ...] = ()
    #: The exits (the refunded deposits, then the paid withdrawals), in order: the list
    #: ``submitBatch`` takes.
    exits: tuple[Exit, ...] = ()

    @property
    def exits_hash(self) -> int:
        return flows.exits_hash(self.exits)

    @property
    def account_roots(self) -> list[int]:
        """``accRoot[0..K]``."""
        return [self.accounts[0].root_before] + [a.root_after for a in self.accounts]

    @property
    def batch_info(self) -> int:
        """Public input [2]: ``n * 2^80 + tPrev * 2^40 + t``."""
        p = self.params
        return batch_info(p.batch_number, self.previous_timestamp, p.timestamp)

    @property
    def config_hash(self) -> int:
        return self.venue.hash()

    def public_inputs(self) -> dict[str, str]:
        """Section 10: ``oldRoot, newRoot, batchInfo, configHash, inboxBefore, inboxAfter,
        depositsBefore, depositsAfter, exitsHash``."""
        return {
            "oldRoot": str(self.old_root),
            "newRoot": str(self.new_root),
            "batchInfo": str(self.batch_info),
            "configHash": str(self.config_hash),
            "inboxBefore": str(self.inbox_before),
            "inboxAfter": str(self.inbox_after),
            "depositsBefore": str(self.deposits_before),
            "depositsAfter": str(self.deposits_after),
            "exitsHash": str(self.exits_hash),
        }

    @property
    def messages(self) -> tuple[Message, ...]:
        """The inbox messages the batch consumes, in inbox order."""
        return tuple(w.message for w in self.entries if w.used)

    def _param_inputs(self) -> dict[str, Any]:
        p, markets, signature = self.params, self.markets, self.params.signature
        if signature is None:
            raise ProtocolError("the batch's prices carry no feed signature")
        return {
            "operatorSecret": str(self.operator_secret),
            "operatorKeyX": str(self.venue.operator_key[0]),
            "operatorKeyY": str(self.venue.operator_key[1]),
            "batchNumber": str(p.batch_number),
            "prevTimestamp": str(self.previous_timestamp),
            "timestamp": str(p.timestamp),
            "marketTickSize": [str(m.tick_size) for m in markets],
            "marketImrBps": [str(m.imr_bps) for m in markets],
            "marketMmrBps": [str(m.mmr_bps) for m in markets],
            "marketMakerFeePpm": [str(m.maker_fee_ppm) for m in markets],
            "marketTakerFeePpm": [str(m.taker_fee_ppm) for m in markets],
            "marketFundingCap": [str(c) for c in self.venue.funding_caps],
            "feedKeyX": str(self.venue.feed_key[0]),
            "feedKeyY": str(self.venue.feed_key[1]),
            "feedSigR8x": str(signature.r8[0]),
            "feedSigR8y": str(signature.r8[1]),
            "feedSigS": str(signature.s),
            "mark": [str(x) for x in p.marks],
            "fundingIndex": [_s(f) for f in p.funding],
        }

    def as_circuit_inputs(self) -> dict[str, Any]:
        """The input JSON of ``circuits/main/Batch.circom`` (docs/batch-witness.md)."""
        out: dict[str, Any] = dict(self.public_inputs())
        out.update(self._param_inputs())
        out.update(self._account_inputs())
        out.update(self._entry_inputs())
        out.update(self._fill_inputs())
        return out

    def to_json(self) -> dict[str, Any]:
        return self.as_circuit_inputs()

    def _account_inputs(self) -> dict[str, Any]:
        a = self.accounts
        return {
            "accUsed": [str(int(x.used)) for x in a],
            "accIndex": [str(x.index) for x in a],
            "accPubX": [str(x.before.pubkey[0]) for x in a],
            "accPubY": [str(x.before.pubkey[1]) for x in a],
            "accNonce": [str(x.before.nonce) for x in a],
            "accCollateral": [_s(x.before.collateral) for x in a],
            "accPosSize": [[_s(p.size) for p in x.before.positions] for x in a],
            "accPosFunding": [[_s(p.funding_index) for p in x.before.positions] for x in a],
            "accOrdersRoot": [str(x.orders_root_before) for x in a],
            "accSiblings": [_siblings(x.siblings) for x in a],
            "accRoot": [str(r) for r in self.account_roots],
            "accCollateralAfter": [_s(x.after.collateral) for x in a],
            "accPosSizeAfter": [[_s(p.size) for p in x.after.positions] for x in a],
            "accPosFundingAfter": [[_s(p.funding_index) for p in x.after.positions] for x in a],
            "accOrdersRootAfter": [str(x.orders_root_after) for x in a],
            "fundingPayment": [_s(x.funding_payment) for x in a],
            "accCollateralFunded": [_s(x.funded_collateral) for x in a],
        }

    def _entry_inputs(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for w in self.entries:
            row: dict[str, Any] = {
                "msgUsed": str(int(w.used)),
                "msgEphX": str(w.message.eph[0]),
                "msgEphY": str(w.message.eph[1]),
                "msgCiphertext": [str(c) for c in w.message.ciphertext],
                "entryAccountSlot": str(w.account_slot),
                "entryValid": str(int(w.entry is not None)),
            }
            row.update(_slot_fields("entryOldSlot", w.old_slot))
            row["entrySlotSiblings"] = _siblings(w.siblings)
            row["entryFilled"] = str(w.filled)
            row["entryOrdersRootBefore"] = str(w.orders_root_before)
            row["entryOrdersRootAfter"] = str(w.orders_root_after)
            row["entrySeq"] = str(w.seq)
            rows.append(row)
        return _columns(rows)

    def _fill_inputs(self) -> dict[str, Any]:
        rows: list[dict[str, Any]] = []
        for w in self.fills:
            row: dict[str, Any] = {
                "fillUsed": str(int(w.used)),
                "fillTakerEntry": str(w.taker_entry),
                "fillTakerAccountSlot": str(w.taker.account_slot),
                "fillMakerAccountSlot": str(w.maker.account_slot),
            }
            row.update(_slot_fields("fillMakerSlot", w.maker.slot))
            row["fillMakerSlotSiblings"] = _siblings(w.maker.siblings)
            row["fillMakerOrdersRootBefore"] = str(w.maker.orders_root_before)
            row["fillMakerOrdersRootAfter"] = str(w.maker.orders_root_after)
            for name, side in (("Taker", w.taker), ("Maker", w.maker)):
                row.update(_order_fields(f"fill{name}", side.order))
                row[f"fill{name}CollateralBefore"] = _s(side.collateral_before)
                row[f"fill{name}CollateralAfter"] = _s(side.collateral_after)
                row[f"fill{name}PosBefore"] = _s(side.position_before)
                row[f"fill{name}PosAfter"] = _s(side.position_after)
            row["fillQty"] = str(w.qty)
            row["fillPrice"] = str(w.price)
            row["fillTakerFee"] = str(w.taker_fee)
            row["fillMakerFee"] = str(w.maker_fee)
            row["fillFeeCollateralAfter"] = _s(w.fee_collateral_after)
            rows.append(row)
        return _columns(rows)


def _columns(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Rows of per-slot signals to one array per signal."""
    if not rows:
        return {}
    return {key: [row[key] for row in rows] for key in rows[0]}


@dataclass(frozen=True)
class BatchResult:
    """What :meth:`BatchBuilder.seal` returns."""

    state: ExchangeState
    witness: BatchWitness
    fills: tuple[Fill, ...]
    entries: tuple[Entry, ...]
    old_root: int
    new_root: int
    funding: Mapping[int, int]

    @property
    def batch_number(self) -> int:
        return self.witness.params.batch_number

    @property
    def timestamp(self) -> int:
        return self.witness.params.timestamp

    @property
    def config_hash(self) -> int:
        return self.witness.config_hash

    @property
    def batch_info(self) -> int:
        return self.witness.batch_info


# --- pure rules ---------------------------------------------------------------------


def _check_prices(state: ExchangeState, params: PriceSet) -> VenueConfig:
    """The batch's prices against the venue (docs/settlement.md): signed by its feed for
    a time after the last batch, each funding index within its cap of the last one (the
    insurance fund's). Returns the venue; raises :class:`ProtocolError` otherwise."""
    venue = state.venue
    if venue is None:
        raise ProtocolError(
            "the state has no registered venue (funding caps and price feed): "
            "a batch needs one"
        )
    if not params.signed_by(venue.feed_key):
        raise ProtocolError("the batch's prices are not signed by the registered price feed")
    elapsed = params.timestamp - state.last_timestamp
    if elapsed <= 0:
        raise ProtocolError(
            f"batch time {params.timestamp} is not after the last batch's "
            f"{state.last_timestamp}"
        )
    previous = state.account(INSURANCE_ACCOUNT).positions
    for m, index in enumerate(params.funding):
        if not venue.check_funding(m, previous[m].funding_index, index, params.marks[m],
                                   elapsed):
            raise ProtocolError(
                f"market {m}: funding index moves from {previous[m].funding_index} to "
                f"{index} in {elapsed} s, above its cap of {venue.funding_caps[m]} "
                f"(10^-9 of the mark {params.marks[m]} per second)"
            )
    return venue


def fund(account: Account, funding: Sequence[int]) -> tuple[Account, int]:
    """7.2 for one account: returns the account with ``C -= P_m * (F*_m - F_m)`` and
    ``F_m := F*_m``, and its payment ``sum_m P_m * (F*_m - F_m)`` (to the insurance fund).
    """
    payment = 0
    positions = []
    for position, index in zip(account.positions, funding, strict=True):
        payment += position.size * (index - position.funding_index)
        positions.append(Position(position.size, index))
    funded = replace(account, collateral=account.collateral - payment, positions=tuple(positions))
    return funded, payment


def _in_range(value: int, bits: int) -> bool:
    return -(1 << bits) < value < (1 << bits)


def margin_view(after: Mapping[int, Account], index: int, fee_income: int) -> Account:
    """The account whose margin section 8 checks after a fill: ``after[index]``, except that
    the fee account is judged *before* this fill's fee income (protocol section 11, item 4),
    as the circuit credits fees only after both sides' margin checks."""
    account = after[index]
    if index == FEE_ACCOUNT:
        return account.with_collateral(account.collateral - fee_income)
    return account


def apply_fill(
    accounts: Mapping[int, Account],
    *,
    taker: int,
    maker: int,
    taker_side: int,
    market: int,
    qty: int,
    price: int,
    taker_fee: int,
    maker_fee: int,
    taker_ref: OrderRef | None = None,
    maker_ref: OrderRef | None = None,
) -> dict[int, Account]:
    """7.4 transfers: buyer ``C -= N, P += qty``; seller ``C += N, P -= qty``; the taker
    pays ``taker_fee``, the maker ``maker_fee``, both to the fee account.

    Returns the new accounts of ``taker``, ``maker`` and the fee account (which may be
    one of the two). Raises :class:`OrderRejected` (``BAD_SIZE``, ``order`` = that side's
    ``*_ref``) when a position would leave ``|P| < 2^40`` or a collateral ``|C| < 2^63``.
    """
    notional = qty * price
    buyer, seller = (taker, maker) if taker_side == SIDE_BUY else (maker, taker)
    collateral = {i: accounts[i].collateral for i in (taker, maker, FEE_ACCOUNT)}
    sizes = {i: accounts[i].positions[market].size for i in (taker, maker)}
    collateral[buyer] -= notional
    collateral[seller] += notional
    sizes[buyer] += qty
    sizes[seller] -= qty
    collateral[taker] -= taker_fee
    collateral[maker] -= maker_fee
    collateral[FEE_ACCOUNT] += taker_fee + maker_fee
    for who, index, ref in (("taker", taker, taker_ref), ("maker", maker, maker_ref)):
        if not _in_range(sizes[index], POSITION_BITS):
            raise OrderRejected(
                Reject.BAD_SIZE,
                f"{who} account {index}: position would reach 2^{POSITION_BITS}",
                order=ref,
            )
        if not _in_range(collateral[index], COLLATERAL_BITS):
            raise OrderRejected(
                Reject.BAD_SIZE,
                f"{who} account {index}: collateral would reach 2^{COLLATERAL_BITS}",
                order=ref,
            )
    if not _in_range(collateral[FEE_ACCOUNT], COLLATERAL_BITS):
        raise OrderRejected(
            Reject.BAD_SIZE,
            f"fee account: collateral would reach 2^{COLLATERAL_BITS}",
            order=taker_ref,
        )
    out: dict[int, Account] = {}
    for index, c in collateral.items():
        account = accounts[index].with_collateral(c)
        if index in sizes:
            old = account.positions[market]
            account = account.with_position(market, Position(sizes[index], old.funding_index))
        out[index] = account
    return out


# --- the builder --------------------------------------------------------------------


@dataclass(frozen=True)
class MessageOutcome:
    """What :meth:`BatchBuilder.add_message` made of one inbox message.

    ``entry`` is the valid order or cancel the message carries (it entered its slot), or
    ``None``: the message is a no-op and ``reason`` says why (the circuit proves it)."""

    index: int
    message: Message
    decoded: Decoded
    entry: Entry | None
    reason: Reject | None
    account: int | None = None
    """The account the message names (it takes an account slot), if any."""
    slot_no: int = 0
    """The order slot the circuit opens for it."""
    withdrawal: SignedWithdrawal | None = None
    """A withdrawal message's request (with the book's batch; ``entry`` is then None)."""
    consumed: bool = False
    """The withdrawal used the account's nonce (its signature is the account key's)."""
    paid: bool = False
    """The withdrawal is paid: debited and an exit of the batch."""

    @property
    def valid(self) -> bool:
        return self.entry is not None or self.paid


@dataclass(frozen=True)
class _EntryRecord:
    index: int
    message: Message
    entry: Entry | None
    reason: Reject | None
    account: int | None
    """The account the message names (opened in an account slot), if it names one."""
    slot_no: int
    """The order slot the circuit opens for it (``orderId mod 2^S``)."""
    seq: int
    withdrawal: SignedWithdrawal | None = None
    consumed: bool = False
    paid: bool = False

    @property
    def order(self) -> Order | None:
        return self.entry.order if isinstance(self.entry, SignedOrder) else None

    @property
    def account_or_fee(self) -> int:
        return FEE_ACCOUNT if self.account is None else self.account


@dataclass(frozen=True)
class _FillRecord:
    fill: Fill
    taker_entry: int
    taker_order: Order
    maker_order: Order
    taker_slot_no: int
    maker_slot_no: int


class BatchBuilder:
    """Builds one batch on a copy of ``state`` (the input state is never mutated).

    ``markets`` defaults to the state's; it must equal them (the markets are part of
    ``configHash``). ``config`` must agree with the state (``D``, ``S``, ``M``).
    ``operator_secret`` is the operator's inbox scalar (``PrivateKey.scalar``), whose public
    key the venue registers; it defaults to the development operator's when the venue
    registers that one.

    The batch consumes inbox messages in order, from the state's ``inbox_count``
    (:meth:`add_message`; :meth:`add_entry` encrypts an entry to the operator and adds it
    as a message, for tests and simulations). :meth:`plan` announces the batch's messages
    first, so that a fill never uses a resting order whose slot a later message of the
    same batch writes, and account slots stay free for the accounts the messages name.
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
        self.markets = check_markets(markets if markets is not None else state.markets)
        if self.markets != state.markets:
            raise ProtocolError("the batch's markets differ from the state's")
        if (config.account_bits, config.slot_bits, config.markets) != (
            state.account_bits,
            state.slot_bits,
            state.num_markets,
        ):
            raise ProtocolError(
                f"config (D={config.account_bits}, S={config.slot_bits}, M={config.markets}) "
                f"does not fit the state (D={state.account_bits}, S={state.slot_bits}, "
                f"M={state.num_markets})"
            )
        if len(params.marks) != len(self.markets):
            raise ProtocolError(f"{len(params.marks)} marks for {len(self.markets)} markets")
        self.venue = _check_prices(state, params)
        if operator_secret is None:
            if self.venue.operator_key != DEV_OPERATOR.public_key:
                raise ProtocolError(
                    "the batch needs the operator's inbox secret: the venue registers an "
                    "operator key other than the development one"
                )
            operator_secret = DEV_OPERATOR.scalar
        if (
            isinstance(operator_secret, bool)
            or not isinstance(operator_secret, int)
            or not 0 < operator_secret < 1 << 253
            or babyjub.mul_base8(operator_secret) != self.venue.operator_key
        ):
            raise ProtocolError("the operator's inbox secret does not match the venue's key")
        self._operator_secret = operator_secret
        self.config = config
        self.params = params
        self._base = state.copy()
        self._base.root  # noqa: B018 - raises if the input state has stale leaves
        self._slot_mask = (1 << state.slot_bits) - 1
        self._batch_seq = params.batch_number << SEQ_ENTRY_BITS
        # Working view: opened accounts after funding and the fills so far.
        self._accounts: dict[int, Account] = {}
        self._payments: dict[int, int] = {}
        # Order-slot overlay over the base state: (account, slot) -> slot and order body.
        self._slots: dict[tuple[int, int], OrderSlot] = {}
        self._slot_orders: dict[tuple[int, int], Order | None] = {}
        self._fill_slots: set[tuple[int, int]] = set()
        self._entries: list[_EntryRecord] = []
        self._fills: list[_FillRecord] = []
        self._result: BatchResult | None = None
        self._verified: set[tuple[int, tuple[int, int, int], tuple[int, int]]] = set()
        # Accounts a message named that hold the empty leaf (opened, never written).
        self._empty_opened: set[int] = set()
        # The batch's deposits (before any message) and the accounts they opened.
        self._deposits: list[tuple[Deposit, DepositOutcome]] = []
        self._created: set[int] = set()
        # The batch's messages announced by plan(): (named account, slot) per message.
        self._plan: tuple[Message, ...] | None = None
        self._plan_names: tuple[tuple[int, int] | None, ...] = ()
        self._plan_decoded: list[Decoded] = []
        self._pad_slot = self._opening_slot(inbox.decode(PAD_MESSAGE, operator_secret))
        # Slots 0 and 1: the insurance fund first, so the fee account's funding lands in it.
        self._commit_open(INSURANCE_ACCOUNT, *self._funded(INSURANCE_ACCOUNT))
        self._commit_open(FEE_ACCOUNT, *self._funded(FEE_ACCOUNT))

    # --- views ------------------------------------------------------------------

    @property
    def timestamp(self) -> int:
        return self.params.timestamp

    @property
    def marks(self) -> tuple[int, ...]:
        return self.params.marks

    @property
    def entries(self) -> tuple[Entry, ...]:
        """The valid entries so far, in inbox order (no-op messages left out)."""
        return tuple(r.entry for r in self._entries if r.entry is not None)

    @property
    def messages(self) -> tuple[Message, ...]:
        """Every message consumed so far, in inbox order."""
        return tuple(r.message for r in self._entries)

    @property
    def fills(self) -> tuple[Fill, ...]:
        return tuple(r.fill for r in self._fills)

    @property
    def is_empty(self) -> bool:
        """No entry and no fill yet (an empty batch is still a valid no-op, with funding)."""
        return not self._entries and not self._fills

    @property
    def sealed(self) -> bool:
        return self._result is not None

    def room(self) -> tuple[int, int, int]:
        """``(accounts, entries, fills)`` still free."""
        return (
            self.config.accounts - len(self._accounts),
            self.config.entries - len(self._entries),
            self.config.fills - len(self._fills),
        )

    def is_opened(self, index: int) -> bool:
        return index in self._accounts

    def exists(self, index: int) -> bool:
        """Account ``index`` exists before the batch or a deposit of the batch opened it."""
        return self._base.exists(index) or index in self._created

    @property
    def deposits(self) -> tuple[tuple[Deposit, DepositOutcome], ...]:
        """The batch's deposits so far and what each did."""
        return tuple(self._deposits)

    @property
    def exits(self) -> tuple[Exit, ...]:
        """The exits so far: the refunded deposits, then the paid withdrawals, in order."""
        refunds = [
            Exit(d.depositor, d.amount) for d, o in self._deposits if o is DepositOutcome.REFUNDED
        ]
        paid = [
            Exit(r.withdrawal.withdrawal.recipient, r.withdrawal.withdrawal.amount)
            for r in self._entries
            if r.withdrawal is not None and r.paid
        ]
        return tuple(refunds + paid)

    def account(self, index: int) -> Account:
        """Account ``index`` as it stands in the batch so far (funding applied once opened)."""
        if index in self._accounts:
            return self._accounts[index]
        return self._base_account(index)

    def _base_account(self, index: int) -> Account:
        """The pre-batch account; the all-zero (empty) account where there is none."""
        if self._base.exists(index):
            return self._base.account(index)
        self._base._check_index(index)
        return Account.zero(self._base.num_markets)

    def slot(self, index: int, slot_no: int) -> OrderSlot:
        """Order slot as it stands in the batch so far."""
        key = (index, slot_no)
        if key in self._slots:
            return self._slots[key]
        if not self._base.exists(index):
            return EMPTY_SLOT
        return self._base.slot(index, slot_no)

    def order(self, account: int, order_id: int) -> Order | None:
        """The order ``order_id`` of ``account`` if its slot holds it now."""
        if not self._base.exists(account) or not isinstance(order_id, int) or order_id <= 0:
            return None
        key = (account, order_id & self._slot_mask)
        slot = self.slot(*key)
        if slot.order_id != order_id or not slot.is_open:
            return None
        if key in self._slot_orders:
            return self._slot_orders[key]
        return self._base.slot_order(*key)

    def remaining(self, ref: OrderRef) -> int:
        """Lots still open of order ``ref`` (0 if its slot no longer holds it)."""
        order = self.order(ref.account, ref.order_id)
        if order is None:
            return 0
        return order.size - self.slot(ref.account, order.slot(self._base.slot_bits)).filled

    # --- opening accounts -------------------------------------------------------

    def _funded(self, index: int) -> tuple[Account, int]:
        """7.2 for an account not yet opened: (account after funding, its payment)."""
        try:
            return fund(self._base_account(index), self.params.funding)
        except ProtocolError as exc:
            if isinstance(exc, OrderRejected):
                raise
            raise ProtocolError(f"funding account {index}: {exc}") from exc

    def _commit_open(self, index: int, funded: Account, payment: int) -> None:
        self._accounts[index] = funded
        self._payments[index] = payment
        insurance = self._accounts[INSURANCE_ACCOUNT]
        self._accounts[INSURANCE_ACCOUNT] = insurance.with_collateral(
            insurance.collateral + payment
        )

    def _view(self, index: int) -> tuple[Account, tuple[Account, int] | None]:
        """The account as a fill or entry would see it, and the opening to commit if any."""
        if index in self._accounts:
            return self._accounts[index], None
        opening = self._funded(index)
        return opening[0], opening

    def _insurance_after(self, opening: tuple[Account, int] | None) -> Account:
        insurance = self._accounts[INSURANCE_ACCOUNT]
        if opening is None:
            return insurance
        return insurance.with_collateral(insurance.collateral + opening[1])

    # --- entries ----------------------------------------------------------------

    def _check(self, signed: Entry) -> tuple[int, int]:
        """5. The entry rules; returns ``(account, slot)``. Changes nothing."""
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        body: Order | Cancel
        if isinstance(signed, SignedOrder):
            body = signed.order
        elif isinstance(signed, SignedCancel):
            body = signed.cancel
        else:
            raise OrderRejected(Reject.MALFORMED, "an entry is a SignedOrder or a SignedCancel")
        ref = body.ref
        try:
            # Stateless rules first (they reveal nothing about the state).
            body.check()
            if isinstance(body, Order):
                body.check_market(self.markets)
                if body.expiry < self.params.timestamp:
                    raise OrderRejected(
                        Reject.EXPIRED,
                        f"expiry {body.expiry} is before the batch time {self.params.timestamp}",
                    )
            index = body.account
            if index >= self._base.capacity or not self.exists(index):
                raise OrderRejected(Reject.UNKNOWN_ACCOUNT, f"no account at index {index}")
            # The signature before anything that depends on the account's state.
            pubkey = self.account(index).pubkey
            memo = (body.hash(), signature_parts(signed.signature), pubkey)
            if memo not in self._verified:  # check_entry then add_entry verifies once
                if not signed.verify(pubkey):
                    raise OrderRejected(
                        Reject.BAD_SIGNATURE,
                        f"signature does not verify under account {index}'s key",
                    )
                self._verified.add(memo)
            if index == INSURANCE_ACCOUNT:
                raise OrderRejected(Reject.MALFORMED, "the insurance fund does not trade")
            slot_no = body.order_id & self._slot_mask
            current = self.slot(index, slot_no)
            if body.order_id <= current.order_id:
                raise OrderRejected(
                    Reject.STALE_ORDER_ID,
                    f"order id {body.order_id} is not above {current.order_id} in slot {slot_no}",
                )
            if isinstance(body, Order):
                account, _ = self._view(index)
                if not pretrade_check(account, body, self.markets, self.params.marks):
                    raise OrderRejected(
                        Reject.INSUFFICIENT_MARGIN,
                        f"account {index} would miss its initial margin if the order filled",
                    )
        except OrderRejected as exc:
            if exc.order is None:
                exc.order = ref
            raise
        return index, slot_no

    def check_entry(self, signed: Entry) -> None:
        """5. Raise :class:`OrderRejected` with the reason if ``signed`` may not enter.

        Order of checks: ranges (MALFORMED, BAD_PRICE, BAD_SIZE), market (UNKNOWN_MARKET,
        OFF_TICK, FEE_TOO_HIGH), EXPIRED, UNKNOWN_ACCOUNT, BAD_SIGNATURE, then the
        stateful ones: STALE_ORDER_ID (id not above the slot's), INSUFFICIENT_MARGIN
        (the operator's pre-trade check, margin.pretrade_check).
        """
        self._check(signed)

    def add_entry(self, signed: Entry) -> int:
        """7.3 Append an entry as an inbox message; returns its entry index ``e``.

        For tests and simulations: the entry is checked as :meth:`check_entry` does (the
        operator's pre-trade margin check included, which no message gets), encrypted to
        the venue's operator key (with an ephemeral key derived from the signature: a
        simulation's witness is reproducible) and added by
        :meth:`add_message`. Raises :class:`OrderRejected` as :meth:`check_entry`, then
        :class:`BatchFull` if the ``E`` entry slots are used, the signer's account would
        need a ``K+1``-th account slot, or the entry would overwrite an order slot that a
        fill of this batch used as the maker (the circuit opens makers' slots after all
        entries; a taker trades at its entry, so replacing a taker's slot later is fine).
        """
        if self._plan is not None:
            raise ProtocolError("this batch's messages are planned: add them with add_message")
        index, slot_no = self._check(signed)
        if len(self._entries) >= self.config.entries:
            raise BatchFull(f"all {self.config.entries} entry slots are used")
        if index not in self._accounts and len(self._accounts) >= self.config.accounts:
            raise BatchFull(f"all {self.config.accounts} account slots are used")
        if (index, slot_no) in self._fill_slots:
            raise BatchFull(
                f"entry would overwrite slot {slot_no} of account {index}, "
                "used by a fill of this batch as the maker"
            )
        outcome = self.add_message(self.encrypt_entry(signed))
        if outcome.entry is None:
            raise AssertionError(f"a checked entry became a no-op message: {outcome.reason}")
        return outcome.index

    def encrypt_entry(self, signed: Entry) -> Message:
        """``signed`` as an inbox message to the venue's operator, with a deterministic
        ephemeral key (from the signature), so that the same entries give the same
        witness; a trader's client draws a fresh one (prover/trader/send.py)."""
        body_hash = signed.order.hash() if isinstance(signed, SignedOrder) else signed.cancel.hash()
        eph = poseidon([TAG_SIM_EPHEMERAL, signature_parts(signed.signature)[2], body_hash])
        eph_scalar = inbox.ephemeral_scalar_from(eph)
        return inbox.encrypt_entry(signed, self.venue.operator_key, eph_scalar)

    # --- inbox messages ---------------------------------------------------------

    def _opening_slot(self, decoded: Decoded) -> int:
        """The order slot the circuit opens for a message: its orderId bits mod 2^S, read
        from the plaintext whether or not the message decodes."""
        order_id = (decoded.plaintext[0] >> _ORDER_ID_OFFSET) & ((1 << _ORDER_ID_BITS) - 1)
        return order_id & self._slot_mask

    def _named(self, decoded: Decoded) -> int | None:
        """The account a message names: it decodes and its account fits ``D`` bits (the
        circuit then opens that account's leaf, empty or not)."""
        if decoded.fields is None:
            return None
        if decoded.withdrawal is not None and not self.config.book:
            return None  # the fill-list batch does not decode withdrawals: a no-op
        account = decoded.fields["account"]
        return account if account < self._base.capacity else None

    def _decode(self, message: Message) -> Decoded:
        if not isinstance(message, Message):
            raise ProtocolError("an inbox message is an inbox.Message")
        try:
            return inbox.decode(message, self._operator_secret)
        except ValueError as exc:
            # An off-curve ephemeral key: the Rollup refuses those, so it is not the inbox's.
            raise ProtocolError(f"not an inbox message: {exc}") from exc

    def plan(self, messages: Sequence[Message]) -> None:
        """Announce the batch's messages (in inbox order, at most ``E``) before adding them
        with :meth:`add_message`, in that order.

        With a plan, :meth:`add_fill` leaves alone a resting order whose slot a later
        message of the batch names (its slot would be replaced before the circuit opens
        makers' slots), and keeps enough account slots free for the accounts the
        remaining messages name (so every message of the range fits). Both are the
        operator's policy, not proven (docs/inbox.md, "The operator's batch range and plan").
        """
        if self._plan is not None or self._entries:
            raise ProtocolError("plan the batch's messages once, before adding any")
        messages = tuple(messages)
        if len(messages) > self.config.entries:
            raise BatchFull(f"{len(messages)} messages for {self.config.entries} entry slots")
        names: list[tuple[int, int] | None] = []
        self._plan_decoded = []
        for message in messages:
            decoded = self._decode(message)
            self._plan_decoded.append(decoded)
            account = self._named(decoded)
            names.append(None if account is None else (account, self._opening_slot(decoded)))
        accounts = {n[0] for n in names if n is not None} - set(self._accounts)
        if len(self._accounts) + len(accounts) > self.config.accounts:
            raise BatchFull(
                f"the messages name {len(accounts)} more accounts than the "
                f"{self.config.accounts - len(self._accounts)} account slots left"
            )
        self._plan = messages
        self._plan_names = tuple(names)

    def _later_names(self) -> list[tuple[int, int]]:
        return [n for n in self._plan_names[len(self._entries):] if n is not None]

    def add_message(self, message: Message) -> MessageOutcome:
        """7.3 Consume the next inbox message: a valid order or cancel enters its slot, any
        other message is a no-op (and the proof shows why: docs/inbox.md, "Validity").

        The rules are the circuit's (:func:`inbox.rejection`), without the operator's
        pre-trade margin check: a valid order enters whatever its margin. A message that
        names an account (it decodes and its index fits ``D`` bits) opens that account's
        slot, even an empty leaf. Raises :class:`BatchFull` when the ``E`` message slots are
        used or the named account needs a ``K+1``-th account slot (the message then starts
        the next batch), :class:`ProtocolError` for a message that is not the planned one
        or one that would replace a slot a fill of this batch used as the maker (plan the
        batch to avoid it). Nothing changes when it raises.
        """
        return self.commit_message(self.judge_message(message))

    def judge_message(self, message: Message) -> MessageOutcome:
        """What :meth:`add_message` would make of ``message`` (and the account it names),
        changing nothing; raises as :meth:`add_message` does. A matching builder
        (prover/exchange/bookbatch.py) judges a message, finds the makers its order meets,
        then commits it with :meth:`commit_message` and opens them."""
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        e = len(self._entries)
        if e >= self.config.entries:
            raise BatchFull(f"all {self.config.entries} entry slots are used")
        if self._plan is not None and (e >= len(self._plan) or self._plan[e] != message):
            raise ProtocolError(f"message {e} is not the one planned for this batch")
        decoded = self._plan_decoded[e] if self._plan is not None else self._decode(message)
        account = self._named(decoded)
        slot_no = self._opening_slot(decoded)
        if (
            account is not None
            and account not in self._accounts
            and len(self._accounts) >= self.config.accounts
        ):
            raise BatchFull(f"all {self.config.accounts} account slots are used")
        if account is None:
            reason = inbox.rejection(
                decoded,
                account_bits=self._base.account_bits,
                pubkey=ZERO_PUBKEY,
                slot_order_id=0,
                markets=self.markets,
                timestamp=self.params.timestamp,
            )
        else:
            reason = inbox.rejection(
                decoded,
                account_bits=self._base.account_bits,
                pubkey=self.account(account).pubkey,
                slot_order_id=self.slot(account, slot_no).order_id,
                markets=self.markets,
                timestamp=self.params.timestamp,
            )
        entry = decoded.entry if reason is None else None
        if decoded.withdrawal is not None and account is not None:
            consumed, paid, why = self.withdrawal_on(decoded.withdrawal, self.account(account))
            return MessageOutcome(
                e, message, decoded, None, why, account, slot_no, decoded.withdrawal,
                consumed, paid,
            )
        if entry is not None and account is not None and (account, slot_no) in self._fill_slots:
            raise ProtocolError(
                f"message {e} replaces slot {slot_no} of account {account}, which a fill of "
                "this batch used as the maker: plan the batch (BatchBuilder.plan)"
            )
        return MessageOutcome(e, message, decoded, entry, reason, account, slot_no)

    def withdrawal_on(
        self, signed: SignedWithdrawal, view: Account
    ) -> tuple[bool, bool, Reject | None]:
        """``(consumed, paid, reason)`` of a withdrawal on the account as ``view`` holds it
        (:func:`flows.withdrawal_outcome` at this batch's marks); a matching builder passes
        the account as its running state holds it."""
        return withdrawal_outcome(
            signed,
            account_bits=self._base.account_bits,
            pubkey=view.pubkey,
            nonce=view.nonce,
            collateral=view.collateral,
            sizes=[p.size for p in view.positions],
            markets=self.markets,
            marks=self.params.marks,
        )

    def commit_message(self, judged: MessageOutcome) -> MessageOutcome:
        """Consume the message :meth:`judge_message` just judged (nothing may change in
        between)."""
        e, message, entry, account, slot_no = (
            judged.index, judged.message, judged.entry, judged.account, judged.slot_no,
        )
        if account is not None and account not in self._accounts:
            if not self.exists(account):
                self._empty_opened.add(account)
            self._commit_open(account, *self._funded(account))
        seq = make_seq(self.params.batch_number, e)
        if judged.withdrawal is not None and account is not None and judged.consumed:
            view = self._accounts[account]
            debit = judged.withdrawal.withdrawal.amount if judged.paid else 0
            self._accounts[account] = replace(
                view, nonce=view.nonce + 1, collateral=view.collateral - debit
            )
        if entry is not None:
            assert account is not None
            if isinstance(entry, SignedOrder):
                order: Order | None = entry.order
                slot = OrderSlot(entry.order.order_id, entry.order.hash(), 0, seq)
            else:
                assert isinstance(entry, SignedCancel)
                order = None
                slot = OrderSlot(entry.cancel.order_id, 0, 0, seq)
            self._slots[(account, slot_no)] = slot
            self._slot_orders[(account, slot_no)] = order
        self._entries.append(
            _EntryRecord(
                e, message, entry, judged.reason, account, slot_no, seq, judged.withdrawal,
                judged.consumed, judged.paid,
            )
        )
        return judged

    def open_account(self, index: int) -> None:
        """Open existing account ``index`` in an account slot (funded, as phase 2 does)
        without a message naming it: a maker that a matching builder's taker meets.
        Raises :class:`BatchFull` when the ``K`` slots are used; a no-op when it is open."""
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        if index in self._accounts:
            return
        if index >= self._base.capacity or not self._base.exists(index):
            raise ProtocolError(f"no account at index {index}")
        if len(self._accounts) >= self.config.accounts:
            raise BatchFull(f"all {self.config.accounts} account slots are used")
        self._commit_open(index, *self._funded(index))

    def add_deposit(self, deposit: Deposit) -> DepositOutcome:
        """Phase 2b: take the next deposit of the Rollup's queue (docs/flows.md): credited
        to its account, opening it (a valid key on an empty leaf), or refunded as an exit.
        Deposits come before the batch's messages, in queue order, at most ``P``; the
        account is opened in an account slot. Raises :class:`BatchFull` when the ``P``
        deposit slots or the ``K`` account slots are used, :class:`ProtocolError` for a
        deposit out of order, after a message, or in a batch without the book; nothing
        changes when it raises."""
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        if not self.config.book:
            raise ProtocolError("the fill-list batch (Batch.circom) takes no deposit")
        if not isinstance(deposit, Deposit):
            raise ProtocolError("a deposit is a flows.Deposit")
        if self._entries:
            raise ProtocolError("a batch takes its deposits before its messages")
        if len(self._deposits) >= self.config.deposits:
            raise BatchFull(f"all {self.config.deposits} deposit slots are used")
        expected = self._base.deposit_count + len(self._deposits)
        if deposit.number != expected:
            raise ProtocolError(
                f"deposit {deposit.number} is not the next of the queue (deposit {expected})"
            )
        index = deposit.account
        if index >= self._base.capacity:
            raise ProtocolError(
                f"deposit {deposit.number} names account {index}, beyond the tree's "
                f"{self._base.capacity} leaves"
            )
        if index not in self._accounts and len(self._accounts) >= self.config.accounts:
            raise BatchFull(f"all {self.config.accounts} account slots are used")
        view, opening = self._view(index)
        exists = index in (FEE_ACCOUNT, INSURANCE_ACCOUNT) or view.pubkey[0] != 0
        outcome = deposit_outcome(deposit, view.pubkey, view.collateral, exists)
        if opening is not None:
            self._commit_open(index, *opening)
            view = self._accounts[index]
        if outcome is DepositOutcome.CREATED:
            self._accounts[index] = replace(
                view, pubkey=pubkey_of(deposit.key), collateral=view.collateral + deposit.amount
            )
            self._created.add(index)
            self._empty_opened.discard(index)
        elif outcome is DepositOutcome.CREDITED:
            self._accounts[index] = view.with_collateral(view.collateral + deposit.amount)
        elif not self.exists(index):
            self._empty_opened.add(index)
        self._deposits.append((deposit, outcome))
        return outcome

    @property
    def opened(self) -> tuple[int, ...]:
        """The accounts in account slots so far (opening order)."""
        return tuple(self._accounts)

    def later_named(self) -> set[int]:
        """With a plan: the accounts the batch's remaining messages name."""
        return {n[0] for n in self._later_names()}

    def funded_account(self, index: int) -> Account:
        """Existing account ``index`` after this batch's funding (7.2), opened or not."""
        return self._view(index)[0]

    # --- fills ------------------------------------------------------------------

    def _open_order(self, ref: OrderRef, who: str) -> tuple[Order, OrderSlot, int]:
        if not isinstance(ref, OrderRef):
            raise OrderRejected(Reject.MALFORMED, f"{who} must be an OrderRef")
        order = self.order(ref.account, ref.order_id)
        if order is None:
            raise OrderRejected(
                Reject.UNKNOWN_ORDER,
                f"{who} order {ref.order_id} of account {ref.account} is not open",
                order=ref,
            )
        slot_no = ref.order_id & self._slot_mask
        return order, self.slot(ref.account, slot_no), slot_no

    def add_fill(self, taker: OrderRef, maker: OrderRef, qty: int) -> Fill:
        """7.4 Fill ``qty`` lots of ``taker`` against the resting ``maker``; returns the fill.

        Rules, each an :class:`OrderRejected` naming the order at fault; nothing changes
        when one fails:

        - BAD_SIZE: ``qty < 1``; either order's ``filled + qty > size``; a position or
          collateral would leave its range.
        - UNKNOWN_ORDER: a slot does not hold that order open; the taker did not enter
          in this batch.
        - MALFORMED: the taker entered before the taker of the batch's previous fill
          (fills follow the order of entries: a taker trades at its entry); the maker did
          not enter before the taker (``seq_maker < seq_taker``); different markets; same
          side; the maker is IOC; the insurance fund trades.
        - SELF_TRADE: same account. POST_ONLY_WOULD_CROSS: the taker is post-only.
        - EXPIRED: ``expiry < t``. BAD_PRICE: prices do not cross.
        - FEE_TOO_HIGH: the market's fee rate is above the order's ``maxFeePpm``.
        - INSUFFICIENT_MARGIN: section 8 fails for the taker or the maker (after the
          fill's transfers, fees included).

        :class:`BatchFull` when the ``B`` fill slots are used or the maker's account
        would need a ``K+1``-th slot.
        """
        if self._result is not None:
            raise ProtocolError("the batch is sealed")
        if isinstance(qty, bool) or not isinstance(qty, int) or qty < 1:
            raise OrderRejected(Reject.BAD_SIZE, f"fill quantity {qty!r} is not >= 1", order=taker)
        if len(self._fills) >= self.config.fills:
            raise BatchFull(f"all {self.config.fills} fill slots are used")
        t_order, t_slot, t_slot_no = self._open_order(taker, "taker")
        m_order, m_slot, m_slot_no = self._open_order(maker, "maker")
        t = self.params.timestamp
        if t_slot.seq < self._batch_seq:
            raise OrderRejected(
                Reject.UNKNOWN_ORDER, "the taker must have entered in this batch", order=taker
            )
        taker_entry = t_slot.seq - self._batch_seq
        if self._fills and taker_entry < self._fills[-1].taker_entry:
            raise OrderRejected(
                Reject.MALFORMED,
                f"fills follow the order of entries: the taker entered at {taker_entry}, "
                f"before the taker of the previous fill ({self._fills[-1].taker_entry})",
                order=taker,
            )
        if m_slot.seq >= t_slot.seq:
            raise OrderRejected(
                Reject.MALFORMED, "the maker must have entered before the taker", order=maker
            )
        if taker.account == maker.account:
            raise OrderRejected(
                Reject.SELF_TRADE, f"account {taker.account} on both sides", order=taker
            )
        if INSURANCE_ACCOUNT in (taker.account, maker.account):
            raise OrderRejected(
                Reject.MALFORMED,
                "the insurance fund does not trade",
                order=taker if taker.account == INSURANCE_ACCOUNT else maker,
            )
        if t_order.market != m_order.market:
            raise OrderRejected(Reject.MALFORMED, "orders are in different markets", order=taker)
        if t_order.side == m_order.side:
            raise OrderRejected(Reject.MALFORMED, "orders are on the same side", order=taker)
        if t_order.tif == TIF_POST_ONLY:
            raise OrderRejected(
                Reject.POST_ONLY_WOULD_CROSS, "a post-only order cannot take", order=taker
            )
        if m_order.tif == TIF_IOC:
            raise OrderRejected(Reject.MALFORMED, "an IOC order cannot be the maker", order=maker)
        for ref, order in ((taker, t_order), (maker, m_order)):
            if order.expiry < t:
                raise OrderRejected(Reject.EXPIRED, f"expired at {order.expiry} < {t}", order=ref)
        buy, sell = (t_order, m_order) if t_order.side == SIDE_BUY else (m_order, t_order)
        if buy.price < sell.price:
            raise OrderRejected(
                Reject.BAD_PRICE, f"buy {buy.price} does not cross sell {sell.price}", order=taker
            )
        for ref, order, slot in ((taker, t_order, t_slot), (maker, m_order, m_slot)):
            if slot.filled + qty > order.size:
                raise OrderRejected(
                    Reject.BAD_SIZE,
                    f"fill of {qty} exceeds the {order.size - slot.filled} lots open",
                    order=ref,
                )
        market = self.markets[t_order.market]
        if market.taker_fee_ppm > t_order.max_fee_ppm:
            raise OrderRejected(Reject.FEE_TOO_HIGH, "taker fee above the order's cap", order=taker)
        if market.maker_fee_ppm > m_order.max_fee_ppm:
            raise OrderRejected(Reject.FEE_TOO_HIGH, "maker fee above the order's cap", order=maker)
        if maker.account not in self._accounts and len(self._accounts) >= self.config.accounts:
            raise BatchFull(f"all {self.config.accounts} account slots are used")
        if self._plan is not None:
            later = self._later_names()
            if (maker.account, m_slot_no) in later:
                raise BatchFull(
                    f"a later message of this batch names the maker's slot {m_slot_no} of "
                    f"account {maker.account}: the maker waits for the next batch"
                )
            if maker.account not in self._accounts:
                needed = {a for a, _ in later} - set(self._accounts) - {maker.account}
                if len(self._accounts) + 1 + len(needed) > self.config.accounts:
                    raise BatchFull(
                        f"the maker's account {maker.account} would take an account slot "
                        "the batch's remaining messages need"
                    )

        price = m_order.price
        notional = qty * price
        taker_fee = fee_for(notional, market.taker_fee_ppm)
        maker_fee = fee_for(notional, market.maker_fee_ppm)
        maker_before, opening = self._view(maker.account)
        view = {
            taker.account: self._accounts[taker.account],
            maker.account: maker_before,
            FEE_ACCOUNT: self._accounts[FEE_ACCOUNT],
        }
        after = apply_fill(
            view,
            taker=taker.account,
            maker=maker.account,
            taker_side=t_order.side,
            market=t_order.market,
            qty=qty,
            price=price,
            taker_fee=taker_fee,
            maker_fee=maker_fee,
            taker_ref=taker,
            maker_ref=maker,
        )
        for who, ref in (("taker", taker), ("maker", maker)):
            before_m = margin(view[ref.account], self.markets, self.params.marks)
            after_m = margin(
                margin_view(after, ref.account, taker_fee + maker_fee),
                self.markets,
                self.params.marks,
            )
            if not legal_transition(before_m, after_m):
                raise OrderRejected(
                    Reject.INSUFFICIENT_MARGIN,
                    f"{who} account {ref.account} would fail the margin rule after the fill",
                    order=ref,
                )
        # Commit.
        if opening is not None:
            self._commit_open(maker.account, *opening)
        self._accounts.update(after)
        self._slots[(taker.account, t_slot_no)] = replace(t_slot, filled=t_slot.filled + qty)
        self._slots[(maker.account, m_slot_no)] = replace(m_slot, filled=m_slot.filled + qty)
        self._slot_orders[(taker.account, t_slot_no)] = t_order
        self._slot_orders[(maker.account, m_slot_no)] = m_order
        # Only the maker's slot is opened after all entries in the circuit; a taker's
        # fills take place at its entry, so a later entry may still replace its slot.
        self._fill_slots.add((maker.account, m_slot_no))
        fill = Fill(t_order.market, taker, maker, t_order.side, price, qty, taker_fee, maker_fee)
        self._fills.append(_FillRecord(fill, taker_entry, t_order, m_order, t_slot_no, m_slot_no))
        return fill

    # --- sealing ----------------------------------------------------------------

    def seal(self) -> BatchResult:
        """Replay the batch in circuit order and return the new state and the witness.

        Checks (``AssertionError`` on failure: a bug, not an input error) that the replay
        reproduces the incremental result, that the new root is the root of the new
        state, and that total collateral is conserved (section 9). Sealing twice returns
        the same result.
        """
        if self._result is not None:
            return self._result
        cfg = self.config
        n = self.params.batch_number
        base = self._base
        new = base.copy()
        new.last_timestamp = self.params.timestamp
        old_root = new.accounts_root
        order = sorted(self._accounts)
        if order[:2] != [FEE_ACCOUNT, INSURANCE_ACCOUNT] or len(order) > cfg.accounts:
            raise AssertionError("account slots 0 and 1 must be the fee account and insurance")
        slot_of = {index: k for k, index in enumerate(order)}

        # Phase 1 and 2: open and fund.
        before = {i: self._base_account(i) for i in order}
        orders_root_before = {i: base.orders_root(i) for i in order}
        current: dict[int, Account] = {}
        payments: dict[int, int] = {}
        for i in order:
            current[i], payments[i] = fund(before[i], self.params.funding)
        insurance = current[INSURANCE_ACCOUNT]
        current[INSURANCE_ACCOUNT] = insurance.with_collateral(
            insurance.collateral + sum(payments.values())
        )
        funded = dict(current)

        # Phase 2b: deposits, as add_deposit decided them.
        credited = 0
        for dep, outcome in self._deposits:
            i = dep.account
            exists = i in (FEE_ACCOUNT, INSURANCE_ACCOUNT) or current[i].pubkey[0] != 0
            if deposit_outcome(dep, current[i].pubkey, current[i].collateral, exists) != outcome:
                raise AssertionError(f"replay: deposit {dep.number} decided otherwise")
            if outcome is DepositOutcome.CREATED:
                current[i] = replace(
                    current[i], pubkey=pubkey_of(dep.key),
                    collateral=current[i].collateral + dep.amount,
                )
                new.create_account(i, pubkey_of(dep.key), 0)
            elif outcome is DepositOutcome.CREDITED:
                current[i] = current[i].with_collateral(current[i].collateral + dep.amount)
            if outcome is not DepositOutcome.REFUNDED:
                credited += dep.amount

        # Phase 3: entries. Each order is written with what it fills as the taker.
        taker_filled = [0] * len(self._entries)
        for frec in self._fills:
            taker_filled[frec.taker_entry] += frec.fill.qty
        entry_w: list[EntryWitness] = []
        withdrawn = 0
        for rec in self._entries:
            if rec.withdrawal is not None and rec.consumed:
                assert rec.account is not None
                debit = rec.withdrawal.withdrawal.amount if rec.paid else 0
                held = current[rec.account]
                current[rec.account] = replace(
                    held, nonce=held.nonce + 1, collateral=held.collateral - debit
                )
                withdrawn += debit
            # A message that names no account opens a slot of the fee account (slot 0).
            acct = rec.account_or_fee
            old = new.slot(acct, rec.slot_no) if new.exists(acct) else EMPTY_SLOT
            proof = new.slot_proof(acct, rec.slot_no)
            root_before = new.orders_root(acct)
            if rec.entry is not None:
                slot = replace(self._entry_slot(rec), filled=taker_filled[rec.index])
                new.set_slot(acct, rec.slot_no, slot, rec.order, sync=False)
            elif taker_filled[rec.index]:
                raise AssertionError(f"replay: no-op message {rec.index} has fills")
            entry_w.append(
                EntryWitness(
                    True,
                    rec.index,
                    slot_of[acct],
                    rec.entry,
                    rec.message,
                    old,
                    proof.siblings,
                    root_before,
                    new.orders_root(acct),
                    rec.seq,
                    taker_filled[rec.index],
                )
            )
        for e in range(len(self._entries), cfg.entries):
            old = new.slot(FEE_ACCOUNT, self._pad_slot)
            proof = new.slot_proof(FEE_ACCOUNT, self._pad_slot)
            root = new.orders_root(FEE_ACCOUNT)
            entry_w.append(
                EntryWitness(
                    False,
                    e,
                    0,
                    None,
                    PAD_MESSAGE,
                    old,
                    proof.siblings,
                    root,
                    root,
                    make_seq(n, e),
                )
            )

        # Phase 4: fills. The taker's slot was written at entry; only the maker's opens.
        fill_w: list[FillWitness] = []
        for frec in self._fills:
            fill = frec.fill
            # The taker trades at its entry, whose slot write carries its fills (a later
            # entry of the batch may have replaced that slot since).
            t_rec = self._entries[frec.taker_entry]
            if t_rec.order is None or t_rec.order.ref != fill.taker or t_rec.account is None:
                raise AssertionError(f"replay: entry {frec.taker_entry} is not {fill.taker}")
            t_slot = replace(self._entry_slot(t_rec), filled=taker_filled[frec.taker_entry])
            t_root = new.orders_root(fill.taker.account)
            no_opening: Siblings = ()
            sides = [(fill.taker, frec.taker_order, t_slot, no_opening, t_root, t_root)]
            ref, slot_no, order_body = fill.maker, frec.maker_slot_no, frec.maker_order
            slot = new.slot(ref.account, slot_no)
            if slot.order_id != ref.order_id or slot.order_hash != order_body.hash():
                raise AssertionError(f"replay: slot of {ref} does not hold the order")
            proof = new.slot_proof(ref.account, slot_no)
            root_before = new.orders_root(ref.account)
            new.set_slot(
                ref.account,
                slot_no,
                replace(slot, filled=slot.filled + fill.qty),
                order_body,
                sync=False,
            )
            sides.append(
                (ref, order_body, slot, proof.siblings, root_before, new.orders_root(ref.account))
            )
            after = apply_fill(
                current,
                taker=fill.taker.account,
                maker=fill.maker.account,
                taker_side=fill.taker_side,
                market=fill.market,
                qty=fill.qty,
                price=fill.price,
                taker_fee=fill.taker_fee,
                maker_fee=fill.maker_fee,
            )
            for ref in (fill.taker, fill.maker):
                if not legal_transition(
                    margin(current[ref.account], self.markets, self.params.marks),
                    margin(
                        margin_view(after, ref.account, fill.taker_fee + fill.maker_fee),
                        self.markets,
                        self.params.marks,
                    ),
                ):
                    raise AssertionError(f"replay: margin fails for {ref}")
            fill_sides = [
                FillSide(
                    slot_of[ref.account],
                    body,
                    slot,
                    sibs,
                    rb,
                    ra,
                    current[ref.account].collateral,
                    after[ref.account].collateral,
                    current[ref.account].positions[fill.market].size,
                    after[ref.account].positions[fill.market].size,
                )
                for ref, body, slot, sibs, rb, ra in sides
            ]
            current.update(after)
            fill_w.append(
                FillWitness(
                    True,
                    fill,
                    frec.taker_entry,
                    fill_sides[0],
                    fill_sides[1],
                    fill.qty,
                    fill.price,
                    fill.taker_fee,
                    fill.maker_fee,
                    current[FEE_ACCOUNT].collateral,
                )
            )
        for _ in range(len(self._fills), cfg.fills):
            # A padding fill names entry 0 as its taker and order slot 0 of the insurance
            # fund as its maker (a real opening; nothing moves).
            taker_index = self._entries[0].account_or_fee if self._entries else FEE_ACCOUNT
            pad_sides = []
            for index, opened in ((taker_index, False), (INSURANCE_ACCOUNT, True)):
                slot = new.slot(index, 0) if new.exists(index) else EMPTY_SLOT
                sibs = new.slot_proof(index, 0).siblings if opened else ()
                root = new.orders_root(index)
                c = current[index].collateral
                p = current[index].positions[0].size
                pad_sides.append(
                    FillSide(slot_of[index], None, slot, sibs, root, root, c, c, p, p)
                )
            fill_w.append(
                FillWitness(
                    False,
                    None,
                    0,
                    pad_sides[0],
                    pad_sides[1],
                    0,
                    0,
                    0,
                    0,
                    current[FEE_ACCOUNT].collateral,
                )
            )

        # Phase 5: close, in slot order.
        acc_w: list[AccountSlotWitness] = []
        for i in order:
            root_before = new.stored_root
            if i in self._empty_opened:
                # An unknown account a message named: its empty leaf is opened, not written.
                proof = new.account_proof(i)
            else:
                new.set_account(i, current[i], sync=False)
                proof = new.sync(i)
            acc_w.append(
                AccountSlotWitness(
                    True,
                    i,
                    before[i],
                    orders_root_before[i],
                    payments[i],
                    funded[i].collateral,
                    proof.siblings,
                    root_before,
                    new.stored_root,
                    before[i] if i in self._empty_opened else current[i],
                    new.orders_root(i),
                )
            )
        new_root = new.accounts_root
        inbox_before = base.inbox_chain
        inbox_after = inbox.chain_of(self.messages, inbox_before)
        new.inbox_count = base.inbox_count + len(self._entries)
        new.inbox_chain = inbox_after
        deposits_before = base.deposit_chain
        deposits_after = flows.deposit_chain((d for d, _ in self._deposits), deposits_before)
        new.deposit_count = base.deposit_count + len(self._deposits)
        new.deposit_chain = deposits_after
        fee_final = current[FEE_ACCOUNT]
        fee_proof = new.account_proof(FEE_ACCOUNT)
        for _ in range(len(order), cfg.accounts):
            acc_w.append(
                AccountSlotWitness(
                    False,
                    FEE_ACCOUNT,
                    fee_final,
                    new.orders_root(FEE_ACCOUNT),
                    0,
                    fee_final.collateral,
                    fee_proof.siblings,
                    new_root,
                    new_root,
                    fee_final,
                    new.orders_root(FEE_ACCOUNT),
                )
            )

        # Self-checks: the replay is the incremental result; section 9.
        if current != self._accounts:
            raise AssertionError("replay: accounts differ from the incremental result")
        for (index, slot_no), slot in self._slots.items():
            if new.slot(index, slot_no) != slot:
                raise AssertionError(f"replay: slot {slot_no} of account {index} differs")
        total_before = sum(a.collateral for a in before.values())
        total_after = sum(a.collateral for a in current.values())
        if total_before + credited - withdrawn != total_after:
            raise AssertionError(
                f"collateral not conserved: {total_before} before, {total_after} after"
            )

        witness = BatchWitness(
            cfg,
            self.markets,
            self.params,
            self.venue,
            self._base.last_timestamp,
            old_root,
            new_root,
            tuple(acc_w),
            tuple(entry_w),
            tuple(fill_w),
            inbox_before,
            inbox_after,
            self._operator_secret,
            deposits_before,
            deposits_after,
            tuple(self._deposits),
            self.exits,
        )
        self._result = BatchResult(
            new,
            witness,
            self.fills,
            self.entries,
            old_root,
            new_root,
            dict(payments),
        )
        return self._result

    @staticmethod
    def _entry_slot(rec: _EntryRecord) -> OrderSlot:
        entry = rec.entry
        if isinstance(entry, SignedOrder):
            return OrderSlot(entry.order.order_id, entry.order.hash(), 0, rec.seq)
        assert isinstance(entry, SignedCancel)
        return OrderSlot(entry.cancel.order_id, 0, 0, rec.seq)


def build_batch(
    state: ExchangeState,
    config: BatchConfig,
    params: PriceSet,
    entries: Sequence[Entry],
    fills: Sequence[tuple[OrderRef, OrderRef, int]],
) -> BatchResult:
    """All entries, then all fills, then seal (raises on the first refusal)."""
    builder = BatchBuilder(state, config, params)
    for entry in entries:
        builder.add_entry(entry)
    for taker, maker, qty in fills:
        builder.add_fill(taker, maker, qty)
    return builder.seal()


__all__ = [
    "AccountSlotWitness",
    "BatchBuilder",
    "BatchResult",
    "BatchWitness",
    "EntryWitness",
    "MessageOutcome",
    "PAD_MESSAGE",
    "FillSide",
    "FillWitness",
    "apply_fill",
    "build_batch",
    "fund",
]
