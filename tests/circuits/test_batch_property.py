"""Property: random order flow through the Python model is proven by the batch circuit.

Hypothesis draws a small venue (two markets with random parameters within the protocol's
ranges, two to four traders with random deposits, sometimes the fee account trading too)
and one to three batches of random order flow: orders of every tif at and around the
mark, cancels, random marks and funding indices (which also go negative and move both
ways between batches), partial fills of random quantity, several fills per taker, makers
resting from an earlier batch. The flow runs through :class:`BatchBuilder` at the circuit
instance of the other batch tests, ``Batch(K, E, B, D, S, M) = Batch(4, 2, 2, 4, 2, 2)``
(``tests/circuits/scenario.py``; same compiled artifacts, cached in build/circuit-tests/).
Every rule the model refuses is skipped, or (sometimes) sent all the same as an inbox
message, which anyone may post: the model then judges it as the circuit does, a no-op for a
broken rule, a valid entry when only the operator's pre-trade margin check refused it.
:class:`BatchFull` seals the batch.
(It found one disagreement, now fixed: the fee account's margin with or without the fill's
fee income; ``test_fee_account_margin_excludes_fee_income`` pins the rule.)

For every sealed batch:

(a) the witness of ``circuit_inputs(witness.as_circuit_inputs())`` satisfies every R1CS
    constraint (:mod:`prover.proving.r1cs`);
(b) the public inputs ``oldRoot, newRoot, batchInfo, configHash, inboxBefore, inboxAfter``
    (and ``depositsBefore, depositsAfter, exitsHash``: no deposit, no exit in ``Batch``)
    are the model's, the circuit's own running root after the last account write is
    ``newRoot`` and its inbox chain ends at ``inboxAfter``, and the batches chain (``oldRoot``
    and ``inboxBefore`` of one are ``newRoot`` and ``inboxAfter`` of the one before);
(d) no wire of the witness can change alone except those the reviewed allowlist of
    test_freedom.py explains (at ``--O2``, what is proven; test_freedom.py checks fixed
    batches at ``--O0`` too);

and for one fill of the flow:

(c) overfill, as a cheating operator would build it: the fill's quantity raised to one lot
    past what its tighter side (maker or taker) has open, its taker entry's ``filled``
    with it, every opening and root repaired (tests/circuits/cheat.py). The ``--O0``
    circuit rejects it, by a size bound (the maker's room at this or a later fill of the
    same maker, or the taker entry's ``filled <= size``) and by nothing but the rules a
    larger quantity can also break (both accounts' margin and ranges).

Every entry reaches the batch as an inbox message (``BatchBuilder.add_entry`` encrypts it
to the development operator; a refused one goes through ``add_message``); the invalid
messages are those a random order or cancel can be (every kind, and the chain cheats,
are test_batch_inbox.py's).

Default run: 8 examples; ``-m slow`` runs 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from prover.crypto.eddsa import PrivateKey
from prover.errors import ProtocolError
from prover.exchange import inbox
from prover.exchange.batch import BatchBuilder, BatchResult
from prover.exchange.constants import (
    FEE_ACCOUNT,
    FEE_SCALE,
    MARGIN_SCALE,
    ORDER_ID_BITS,
    PRICE_BITS,
    SIDE_BUY,
    SIDE_SELL,
    SIZE_BITS,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
    TIME_BITS,
)
from prover.exchange.domain import (
    BatchFull,
    Cancel,
    Market,
    Order,
    OrderRejected,
    Reject,
    SignedCancel,
    SignedOrder,
    fee_for,
)
from prover.exchange.margin import legal_transition, margin, margin_of
from prover.exchange.state import ExchangeState
from prover.proving.batch_circuit import PUBLIC_INPUTS, circuit_inputs
from tests.circuits.cheat import inputs_of, message, repair
from tests.circuits.harness import Circuit
from tests.circuits.scenario import CONFIG, B, D, M, S
from tests.circuits.test_freedom import check_freedom
from tests.venue import dev_state, prices

pytestmark = pytest.mark.circuit

SLOTS = 1 << S
TRADERS = range(2, 1 << D)  # account 0 is the fee account, 1 the insurance fund
MAX_BATCHES = 3
MAX_STEPS = 8  # actions drawn per batch (entries, matches, cancels) before it is sealed


@cache
def key(account: int) -> PrivateKey:
    return PrivateKey.from_seed(f"zkmatch-batch-property-{account}")


@cache
def pubkey(account: int) -> Any:
    return key(account).public_key


# --- strategies -------------------------------------------------------------------------


@st.composite
def markets(draw: st.DrawFn) -> tuple[Market, ...]:
    out = []
    for m in range(M):
        tick = draw(st.one_of(st.sampled_from([1, 5, 10, 100]), st.integers(1, 10**4)))
        mmr = draw(st.integers(1, MARGIN_SCALE - 1))
        imr = draw(st.integers(mmr + 1, MARGIN_SCALE))
        fee = st.one_of(
            st.integers(0, 2_000),
            st.integers(0, 2_000),
            st.integers(0, 10**5),
            st.integers(0, FEE_SCALE),
        )
        out.append(Market(m, tick, imr, mmr, draw(fee), draw(fee)))
    return tuple(out)


SIZE = st.one_of(
    st.integers(1, 20),
    st.integers(1, 20),
    st.integers(1, 10**3),
    st.integers(1, (1 << SIZE_BITS) - 1),
)
TIF = st.sampled_from([TIF_GTC, TIF_GTC, TIF_POST_ONLY, TIF_IOC])


# --- the fee account's margin (protocol section 11, item 4) ----------------------------


def fee_income_decides(b: BatchBuilder, taker: Order, maker: Order, qty: int) -> bool:
    """Whether ``qty`` of ``taker`` x ``maker`` has the fee account on a side whose margin
    rule (section 8) holds only when its fee income from this fill is counted."""
    if FEE_ACCOUNT not in (taker.account, maker.account):
        return False
    market = b.markets[taker.market]
    notional = qty * maker.price
    income = fee_for(notional, market.taker_fee_ppm) + fee_for(notional, market.maker_fee_ppm)
    before = b.account(FEE_ACCOUNT)
    own_fee = fee_for(
        notional, market.taker_fee_ppm if taker.account == FEE_ACCOUNT else market.maker_fee_ppm
    )
    is_buyer = (taker.account == FEE_ACCOUNT) == (taker.side == SIDE_BUY)
    signed_qty = qty if is_buyer else -qty
    sizes = [p.size for p in before.positions]
    sizes[taker.market] += signed_qty
    collateral = before.collateral - signed_qty * maker.price - own_fee  # no income
    old = margin(before, b.markets, b.marks)
    without = margin_of(collateral, sizes, b.markets, b.marks)
    with_income = margin_of(collateral + income, sizes, b.markets, b.marks)
    return legal_transition(old, with_income) and not legal_transition(old, without)


# --- the flow -----------------------------------------------------------------------------


@dataclass
class Flow:
    """A random flow run through the model: its sealed batches and a log for failures."""

    draw: st.DrawFn
    markets: tuple[Market, ...]
    traders: list[int]
    state: ExchangeState
    results: list[BatchResult] = field(default_factory=list)
    orders: list[Order] = field(default_factory=list)
    next_id: dict[int, int] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    batch_number: int = 0
    timestamp: int = 0
    base: list[int] = field(default_factory=list)  # per market, a price in ticks
    funding: list[int] = field(default_factory=list)
    builder: BatchBuilder | None = None
    max_batches: int = MAX_BATCHES
    fee_trades: bool = False
    pre_states: list[ExchangeState] = field(default_factory=list)

    # --- batches --------------------------------------------------------------------------

    def open(self) -> bool:
        """Open the next batch with fresh marks and funding; False if no more batches."""
        if len(self.results) >= self.max_batches:
            return False
        draw = self.draw
        if self.results:
            self.batch_number += 1
            self.timestamp += draw(st.integers(0, 1_000), label="dt")
        marks = []
        for m, market in enumerate(self.markets):
            drift = draw(st.integers(-5, 5), label=f"mark drift {m}")
            marks.append(
                max(
                    1,
                    (self.base[m] + drift) * market.tick_size
                    + draw(st.integers(0, market.tick_size - 1), label="mark off tick"),
                )
            )
            step = draw(
                st.one_of(st.integers(-(10**4), 10**4), st.integers(-(10**9), 10**9)),
                label=f"funding step {m}",
            )
            self.funding[m] += step
        params = prices(self.batch_number, self.timestamp, tuple(marks), tuple(self.funding))
        self.log.append(f"batch {params}")
        try:
            self.builder = BatchBuilder(self.state, CONFIG, params)
            self.pre_states.append(self.state)
        except ProtocolError as exc:  # funding moved a collateral out of range
            self.log.append(f"  cannot open: {exc}")
            self.builder = None
            return False
        return True

    def seal(self) -> None:
        assert self.builder is not None
        result = self.builder.seal()
        self.results.append(result)
        self.state = result.state
        self.builder = None
        fills = [(f.taker, f.maker, f.qty) for f in result.fills]
        self.log.append(f"  sealed: {len(result.entries)} entries, fills {fills}")

    # --- messages -------------------------------------------------------------------------

    def new_id(self, account: int, *, slot: int | None = None) -> int:
        step = self.draw(st.one_of(st.integers(1, 4), st.integers(1, 2**40)), label="order id step")
        order_id = self.next_id.get(account, 0) + step
        if slot is not None:
            order_id += (slot - order_id) % SLOTS
        self.next_id[account] = order_id
        return order_id

    def accounts(self) -> list[int]:
        return self.traders + ([FEE_ACCOUNT] if self.fee_trades else [])

    def random_order(self, maker: Order | None = None) -> SignedOrder:
        """A random order near the mark; with ``maker``, one that crosses it (another
        account, the other side, a price at or through the maker's)."""
        assert self.builder is not None
        draw = self.draw
        accounts = self.accounts()
        if maker is not None:
            # Another account, and preferably one for which the batch has an account slot.
            others = [a for a in accounts if a != maker.account] or accounts
            room = self.builder.room()[0]
            opened = self.builder.is_opened
            fits = [a for a in others if sum(not opened(i) for i in {a, maker.account}) <= room]
            accounts = fits or others
        else:
            # Often an account with a position, so that later batches charge it funding.
            holders = [
                a for a in accounts if any(p.size for p in self.builder.account(a).positions)
            ]
            if holders and draw(st.booleans(), label="a position holder"):
                accounts = holders
        account = draw(st.sampled_from(accounts), label="account")
        resting = self.open_makers()
        if maker is None and resting and draw(st.booleans(), label="join a resting side"):
            # Another resting order on the same side: later takers sweep several makers.
            join = draw(st.sampled_from(resting), label="joined")
            m, side = join.market, join.side
            if draw(st.booleans(), label="same account"):  # K = 4: two trader slots only
                account = join.account
            tif = draw(st.sampled_from([TIF_GTC, TIF_POST_ONLY]), label="tif")
        elif maker is None:
            m = draw(st.sampled_from([0, 0, 0, 1][: 4 if M > 1 else 1]), label="market")
            side = draw(st.sampled_from([SIDE_BUY, SIDE_SELL]), label="side")
            tif = draw(TIF, label="tif")
        else:
            m, side = maker.market, SIDE_SELL if maker.side == SIDE_BUY else SIDE_BUY
            tif = draw(st.sampled_from([TIF_GTC, TIF_IOC]), label="tif")
        market = self.markets[m]
        tick = market.tick_size
        if maker is None:
            ticks = self.builder.marks[m] // tick + draw(st.integers(-3, 3), label="price off")
        else:
            # At the maker's price or a little through it, or through the whole book.
            through = draw(st.one_of(st.integers(0, 2), st.just(10**6)), label="through")
            ticks = maker.price // tick + (through if side == SIDE_BUY else -through)
        price = min(max(1, ticks), ((1 << PRICE_BITS) - 1) // tick) * tick
        how = draw(st.sampled_from(["maker", "book", "random"]), label="size") if maker else ""
        if how == "maker":  # a multiple of the maker's remainder
            size = self.builder.remaining(maker.ref) * draw(st.integers(1, 3), label="factor")
        elif how == "book":  # everything open on the maker's side of the market
            size = sum(
                self.builder.remaining(o.ref)
                for o in self.open_makers()
                if (o.market, o.side) == (maker.market, maker.side)
            )
        else:
            size = draw(SIZE, label="size")
        size = max(1, size)
        size = min(size, (1 << SIZE_BITS) - 1)
        t = self.builder.timestamp
        expiry = draw(
            st.one_of(st.just((1 << TIME_BITS) - 1), st.integers(t, t + 2_000)), label="expiry"
        )
        cap = market.fee_cap_needed(tif)
        slack = draw(st.one_of(st.just(0), st.integers(0, FEE_SCALE)), label="fee slack")
        max_fee = min(FEE_SCALE, cap + slack)
        order_id = min(self.new_id(account), (1 << ORDER_ID_BITS) - 1)
        order = Order(account, m, side, price, size, order_id, expiry, max_fee, tif)
        return SignedOrder.sign(order, key(account))

    def open_makers(self) -> list[Order]:
        """Orders open in their slots now with lots left, that may make (not IOC)."""
        b = self.builder
        assert b is not None
        return [
            o
            for o in self.orders
            if o.tif != TIF_IOC
            and o.expiry >= b.timestamp
            and b.order(o.account, o.order_id) == o
            and b.remaining(o.ref)
        ]

    def random_cancel(self) -> SignedCancel:
        """A cancel of one of the account's orders (an id above it in the same slot), or a
        fresh id in a random slot."""
        draw = self.draw
        account = draw(st.sampled_from(self.accounts()), label="cancel account")
        own = [o for o in self.orders if o.account == account]
        # Orders of this batch too: a taker trades at its entry, so a later entry may
        # replace its slot (protocol section 7, order of events).
        recent = [o for o in self.takers() if o.account == account]
        slot = (
            draw(st.sampled_from(recent), label="cancel an order of this batch").order_id % SLOTS
            if recent and draw(st.booleans(), label="recent target")
            else draw(st.sampled_from(own), label="cancel target").order_id % SLOTS
            if own and draw(st.booleans(), label="targeted")
            else None
        )
        order_id = min(self.new_id(account, slot=slot), (1 << ORDER_ID_BITS) - 1)
        return SignedCancel.sign(Cancel(account, order_id), key(account))

    def enter(self, signed: SignedOrder | SignedCancel) -> bool:
        """Add an entry, sealing and retrying in a new batch when full. True if it entered."""
        for _ in range(2):
            assert self.builder is not None
            try:
                self.builder.add_entry(signed)
            except BatchFull as exc:
                self.log.append(f"  full: {exc}")
                self.seal()
                if not self.open():
                    return False
                continue
            except ProtocolError as exc:  # OrderRejected and range errors
                self.log.append(f"  refused {_short(signed)}: {exc}")
                if self.draw(st.booleans(), label="send it anyway"):
                    return self.send_anyway(signed)
                return False
            self.log.append(f"  entered {_short(signed)}")
            if isinstance(signed, SignedOrder):
                self.orders.append(signed.order)
            return True
        return False

    def send_anyway(self, signed: SignedOrder | SignedCancel) -> bool:
        """Post a refused entry as an inbox message all the same (sealing and retrying in a
        new batch when full); True if the model found it valid."""
        for _ in range(2):
            assert self.builder is not None
            try:
                outcome = self.builder.add_message(message(signed))
            except BatchFull as exc:
                self.log.append(f"  full: {exc}")
                self.seal()
                if not self.open():
                    return False
                continue
            except ProtocolError as exc:  # a field that does not fit; a maker's slot
                self.log.append(f"  not sent {_short(signed)}: {exc}")
                return False
            self.log.append(f"  sent anyway {_short(signed)}: {outcome.reason or 'valid'}")
            if outcome.valid and isinstance(signed, SignedOrder):
                self.orders.append(signed.order)
            return outcome.valid
        return False

    def match(self, taker: Order, first: Order | None = None) -> None:
        """Fill ``taker`` against crossing resting orders (``first`` first, the others in a
        random order, each maybe), each with a random quantity (partial fills)."""
        b = self.builder
        assert b is not None
        if taker.tif == TIF_POST_ONLY:
            return
        makers = [
            o
            for o in self.orders
            if o.market == taker.market
            and o.side != taker.side
            and o.account != taker.account
            and o.tif != TIF_IOC
            and o.ref != taker.ref
            and (o.price <= taker.price if taker.side == SIDE_BUY else o.price >= taker.price)
        ]
        if not makers:
            return
        ordered = self.draw(st.permutations(makers), label="makers")
        if first in ordered:
            ordered = [first] + [o for o in ordered if o != first]
        for maker in ordered:
            left_t, left_m = b.remaining(taker.ref), b.remaining(maker.ref)
            if left_t == 0:
                return
            if left_m == 0 or (
                maker != first and not self.draw(st.integers(0, 3), label="fill this maker")
            ):
                continue
            most = min(left_t, left_m)
            qty = self.draw(st.one_of(st.just(most), st.integers(1, most)), label="qty")
            try:
                b.add_fill(taker.ref, maker.ref, qty)
            except BatchFull as exc:
                self.log.append(f"  fill full: {exc}")
                return
            except ProtocolError as exc:
                self.log.append(f"  fill refused {taker.ref}x{maker.ref} {qty}: {exc}")
                continue
            self.log.append(f"  fill {taker.ref} x {maker.ref} qty {qty} @ {maker.price}")

    def takers(self) -> list[Order]:
        """Orders entered in the open batch (the only possible takers)."""
        b = self.builder
        assert b is not None
        refs = {e.order.ref for e in b.entries if isinstance(e, SignedOrder)}
        return [o for o in self.orders if o.ref in refs]

    # --- the run --------------------------------------------------------------------------

    def run(self) -> None:
        if not self.open():
            return
        while self.builder is not None:
            steps = self.draw(st.integers(2, MAX_STEPS), label="steps")
            for _ in range(steps):
                if self.builder is None:
                    break
                makers = self.open_makers()
                action = self.draw(
                    st.sampled_from(
                        ["take", "take", "take", "order", "cancel", "match"]
                        if makers
                        else ["order", "order", "order", "order", "cancel"]
                    ),
                    label="action",
                )
                if action in ("order", "take"):
                    maker = (
                        self.draw(st.sampled_from(makers), label="maker")
                        if action == "take"
                        else None
                    )
                    signed = self.random_order(maker)
                    if self.enter(signed) and self.builder is not None:
                        self.match(signed.order, maker)
                elif action == "cancel":
                    self.enter(self.random_cancel())
                else:
                    takers = self.takers()
                    if takers:
                        self.match(self.draw(st.sampled_from(takers), label="taker"))
            if self.builder is not None:
                self.seal()
                self.open()


def _short(signed: SignedOrder | SignedCancel) -> str:
    if isinstance(signed, SignedCancel):
        return f"cancel({signed.cancel.account}, {signed.cancel.order_id})"
    o = signed.order
    return (
        f"order(acc {o.account} m{o.market} {'buy' if o.side == SIDE_BUY else 'sell'} "
        f"{o.size}@{o.price} id {o.order_id} exp {o.expiry} fee {o.max_fee_ppm} tif {o.tif})"
    )


def make_flow(draw: st.DrawFn) -> Flow:
    mkts = draw(markets(), label="markets")
    traders = draw(
        st.lists(st.sampled_from(list(TRADERS)), min_size=2, max_size=4, unique=True),
        label="traders",
    )
    fee_trades = draw(st.booleans(), label="fee account trades")
    state = dev_state(mkts, D, S, **({"fee_pubkey": pubkey(FEE_ACCOUNT)} if fee_trades else {}))
    batches = draw(st.sampled_from([2, 3, 1]), label="batches")
    flow = Flow(draw, mkts, traders, state, max_batches=batches, fee_trades=fee_trades)
    flow.batch_number = draw(
        st.one_of(st.integers(0, 3), st.integers(0, (1 << 40) - 1 - MAX_BATCHES)),
        label="first batch",
    )
    flow.timestamp = draw(
        st.one_of(st.integers(0, 10**4), st.integers(0, (1 << TIME_BITS) - 10**5)),
        label="first time",
    )
    for market in mkts:
        top = ((1 << PRICE_BITS) - 1) // market.tick_size - 10
        prices = [st.integers(1, 10**3), st.integers(1, 10**3), st.integers(1, 10**6)]
        if market.id == M - 1:  # the other market (a quarter of the orders): up to 2^40
            prices.append(st.integers(1, max(1, top)))
        flow.base.append(draw(st.one_of(prices), label="price"))
        flow.funding.append(
            draw(st.one_of(st.integers(-(10**6), 10**6), st.integers(-(2**40), 2**40)), label="F")
        )
    # Deposits in units of the dearest market's lot: from nothing to far more than needed.
    lot = max(b * m.tick_size for b, m in zip(flow.base, mkts, strict=True))
    deposit = st.builds(
        lambda lots, extra: min(lots * lot + extra, 2**62),
        st.sampled_from([10**7, 10**5, 3_000, 300, 30, 3, 0, 2**62]),  # rich first
        st.integers(0, 10**5),
    )
    for index in traders:
        state.create_account(index, pubkey(index), draw(deposit, label=f"deposit {index}"))
    if fee_trades:
        amount = draw(deposit, label="fee deposit")
        if amount:
            state.deposit(FEE_ACCOUNT, amount)
    flow.log.append(f"markets {mkts}")
    flow.log.append(f"deposits { ({i: state.account(i).collateral for i in flow.accounts()}) }")
    return flow


# --- the property -----------------------------------------------------------------------

def public_of(result: BatchResult) -> list[int]:
    """The model's public inputs, in PUBLIC_INPUTS order."""
    w = result.witness
    return [
        result.old_root,
        result.new_root,
        result.batch_info,
        result.config_hash,
        w.inbox_before,
        w.inbox_after,
        w.deposits_before,
        w.deposits_after,
        w.exits_hash,
    ]


def check_flow(batch: Circuit, batch0: Circuit, data: st.DataObject) -> None:
    flow = make_flow(data.draw)
    flow.run()
    results = flow.results
    if not results:
        return
    report = "\n".join(flow.log)
    for label in coverage(results):
        event(label)
    previous: BatchResult | None = None
    for n, result in enumerate(results):
        inputs = circuit_inputs(result.witness.as_circuit_inputs())
        if not result.witness.messages:
            event("a batch with no message")
        w = batch.witness(inputs)
        # (a) every constraint holds.
        assert w.ok, f"batch {n}: constraints {w.failing()} fail\n{report}"
        # (b) the public inputs are the model's; the circuit's own last root is newRoot.
        assert [w[name] for name in PUBLIC_INPUTS] == public_of(result)
        assert result.new_root == result.state.root
        assert result.witness.inbox_after == inbox.chain_of(
            result.witness.messages, result.witness.inbox_before
        )
        if previous is not None:
            assert result.old_root == previous.new_root
            assert result.witness.inbox_before == previous.witness.inbox_after
        previous = result
        # (d) no wire can change alone but the reviewed harmless ones (test_freedom.py).
        check_freedom(batch, inputs)
    # (c) an overfill, as a consistent malicious witness.
    used = [(n, f) for n, r in enumerate(results) for f in range(B) if r.witness.fills[f].used]
    if not used:
        event("(c): no fill")
        return
    n, f = data.draw(st.sampled_from(used), label="overfilled fill")
    if check_overfill(batch0, flow.pre_states[n], results[n], f, report):
        event("(c): rejected by the size bound alone")


def check_overfill(
    batch0: Circuit, pre: ExchangeState, result: BatchResult, f: int, report: str = ""
) -> bool:
    """(c) for fill ``f`` of ``result`` (built on ``pre``); whether the size bounds alone
    rejected it (the larger quantity broke no margin or range)."""
    x = inputs_of(result)
    fill = result.witness.fills[f]
    e = fill.taker_entry
    taker_open = fill.taker.order.size - int(x["entryFilled"][e])
    maker = fill.fill.maker
    maker_slot = result.state.slot(maker.account, maker.order_id % SLOTS)
    maker_open = fill.maker.order.size - maker_slot.filled
    delta = min(taker_open, maker_open) + 1
    x["fillQty"][f] = str(int(x["fillQty"][f]) + delta)
    x["entryFilled"][e] = str(int(x["entryFilled"][e]) + delta)
    w = batch0.witness(repair(batch0, pre, x))
    size_rules = [f"fill[{g}].makerRoom" for g in range(f, B)]
    size_rules += [f"entry[{e}].filledRoom", f"entry[{e}].filledRange", f"fill[{f}].qtyRange"]
    found = w.violations()
    assert found, f"overfill of fill {f} by {delta} accepted\n{report}"
    assert any(v.involves(f"main.{r}") for v in found for r in size_rules), report
    also = [f"{side}{what}[{g}]" for g in range(f, B) for side in ("taker", "maker")
            for what in ("Margin", "CollRange")]
    also += [f"feeCollRange[{g}]" for g in range(f, B)] + [f"collFinalRange[{k}]" for k in range(4)]
    w.assert_rejected_only_by(*size_rules, *also)
    return all(any(v.involves(f"main.{r}") for r in size_rules) for v in found)


def coverage(results: list[BatchResult]) -> list[str]:
    """What a flow exercised (``--hypothesis-show-statistics``)."""
    out = [f"batches: {len(results)}", f"fills: {sum(len(r.fills) for r in results)}"]
    for r in results:
        n0 = r.batch_number << 16
        fills = [w for w in r.witness.fills if w.used]
        takers = [w.fill.taker for w in fills]
        if len(set(takers)) < len(takers):
            out.append("a taker with several fills")
        for w in fills:
            if w.qty < w.taker.order.size or (w.qty < w.maker.order.size - w.maker.slot.filled):
                out.append("partial fill")
            if w.maker.slot.seq < n0:
                out.append("maker from an earlier batch")
            if FEE_ACCOUNT in (w.fill.taker.account, w.fill.maker.account):
                out.append("fee account trades")
        # Per message slot (a fill's taker_entry is one): the order slot a valid entry wrote.
        slot_of = [
            None
            if (e := m.entry) is None
            else (
                e.order.account if isinstance(e, SignedOrder) else e.cancel.account,
                (e.order.order_id if isinstance(e, SignedOrder) else e.cancel.order_id) % SLOTS,
            )
            for m in r.witness.entries
        ]
        if any(slot_of[w.taker_entry] in slot_of[w.taker_entry + 1 :] for w in fills):
            out.append("a taker's slot replaced by a later entry")
        if any(m.used and m.entry is None for m in r.witness.entries):
            out.append("a no-op message")
        if any(isinstance(e, SignedCancel) for e in r.entries):
            out.append("cancel")
        if any(p != 0 for p in r.funding.values()):
            out.append("funding paid")
        if any(f < 0 for f in r.witness.params.funding):
            out.append("negative funding index")
        if not all(a.used for a in r.witness.accounts):
            out.append("unused account slot")
    return sorted(set(out))


SUPPRESS = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much]


@settings(max_examples=8, deadline=None, suppress_health_check=SUPPRESS)
@given(data=st.data())
def test_random_flow_is_proven(batch: Circuit, batch0: Circuit, data: st.DataObject) -> None:
    check_flow(batch, batch0, data)


@pytest.mark.slow
@settings(max_examples=100, deadline=None, suppress_health_check=SUPPRESS)
@given(data=st.data())
def test_random_flow_is_proven_many(
    batch: Circuit, batch0: Circuit, data: st.DataObject
) -> None:
    check_flow(batch, batch0, data)


# --- reproductions --------------------------------------------------------------------------


def test_fee_account_margin_excludes_fee_income(batch: Circuit) -> None:
    """Minimal: the fee account (collateral 10,000) rests a post-only sell of 100 @ 1,000
    in batch 0 (mark 1,000: it needs exactly 10,000 at IMR 10 %). In batch 1 the mark is
    1,010 and trader 2 buys the 100 lots with an IOC. The fee account's margin after the
    fill: V' = 10,000 + 100,000 - 101,000 = 9,000 against IR' / 10^4 = 10,100, so it fails
    on its own; with the taker's fee of 2 % (2,000) counted, V' = 11,000 passes. The model
    once accepted the fill, which the circuit rejects (MarginCheck of the maker, fill 0);
    both now judge the fee account before this fill's fee income, so the model refuses it,
    and a batch of the same flow without that fill is proven."""
    mkts = (Market(0, 1, 1000, 500, 0, 20_000), Market(1, 1, 1000, 500, 0, 0))
    state = dev_state(mkts, D, S, fee_pubkey=pubkey(FEE_ACCOUNT))
    state.deposit(FEE_ACCOUNT, 10_000)
    state.create_account(2, pubkey(2), 10**9)
    b0 = BatchBuilder(state, CONFIG, prices(0, 100, (1000, 1000), (0, 0)))
    sell = Order(FEE_ACCOUNT, 0, SIDE_SELL, 1000, 100, 1, 10**6, 0, TIF_POST_ONLY)
    b0.add_entry(SignedOrder.sign(sell, key(FEE_ACCOUNT)))
    first = b0.seal()
    b1 = BatchBuilder(first.state, CONFIG, prices(1, 200, (1010, 1000), (0, 0)))
    buy = Order(2, 0, SIDE_BUY, 1000, 100, 1, 10**6, 20_000, TIF_IOC)
    b1.add_entry(SignedOrder.sign(buy, key(2)))
    assert fee_income_decides(b1, buy, sell, 100), "the case must sit on the fee income"
    with pytest.raises(OrderRejected) as rejected:
        b1.add_fill(buy.ref, sell.ref, 100)
    assert rejected.value.reason == Reject.INSUFFICIENT_MARGIN
    second = b1.seal()
    w = batch.witness(circuit_inputs(second.witness.as_circuit_inputs()))
    assert w.ok, w.failing()


def test_taker_sweeps_two_resting_makers(batch: Circuit, batch0: Circuit) -> None:
    """Fixed case of what the random flow reaches rarely at E = B = 2: one taker with two
    fills against makers resting from an earlier batch, the second partial, with negative
    funding indices moving between the batches; then the same (a)-(c) checks. (K = 4 leaves two
    trader slots, so both makers are one account: two orders in two slots.)"""
    mkts = (Market(0, 5, 1000, 500, 200, 500), Market(1, 1, 2000, 1000, 0, 1000))
    state = dev_state(mkts, D, S)
    for index in (2, 5):
        state.create_account(index, pubkey(index), 10**9)
    b0 = BatchBuilder(state, CONFIG, prices(7, 1_000, (1_000, 50), (-40, 3)))
    asks = [
        Order(2, 0, SIDE_SELL, 1_000, 30, 1, 5_000, 500, TIF_GTC),
        Order(2, 0, SIDE_SELL, 1_005, 50, 2, 5_000, 200, TIF_POST_ONLY),
    ]
    for o in asks:
        b0.add_entry(SignedOrder.sign(o, key(o.account)))
    first = b0.seal()
    b1 = BatchBuilder(first.state, CONFIG, prices(8, 1_100, (1_010, 50), (-55, 3)))
    bid = Order(5, 0, SIDE_BUY, 1_010, 60, 1, 5_000, 500, TIF_IOC)
    b1.add_entry(SignedOrder.sign(bid, key(5)))
    b1.add_fill(bid.ref, asks[0].ref, 30)
    b1.add_fill(bid.ref, asks[1].ref, 30)  # 20 of the 50 stay open
    second = b1.seal()
    for result in (first, second):
        w = batch.witness(circuit_inputs(result.witness.as_circuit_inputs()))
        assert w.ok, w.failing()
        assert [w[name] for name in PUBLIC_INPUTS] == public_of(result)
    assert second.old_root == first.new_root
    for f in range(2):  # (c) on both fills: each overfills by one lot, by the size alone
        assert check_overfill(batch0, first.state, second, f)
