"""Batch builder (protocol §7): every rule, funding, conservation, and the witness."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prover.crypto import babyjub, eddsa, poseidon
from prover.errors import ProtocolError
from prover.exchange import inbox
from prover.exchange.batch import BatchBuilder, BatchResult, build_batch
from prover.exchange.constants import (
    SIDE_BUY,
    SIDE_SELL,
    TAG_ACCOUNT,
    TAG_ORDER,
    TAG_POSITIONS,
    TAG_SLOT,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
)
from prover.exchange.domain import (
    Account,
    BatchConfig,
    BatchFull,
    Cancel,
    Entry,
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
)
from prover.exchange.margin import legal_transition, margin
from prover.exchange.state import ExchangeState
from prover.field import SNARK_FIELD, decode_signed
from prover.merkle import compute_root
from tests.venue import dev_state, prices

# Market 0: tick 1, IMR 10 %, MMR 5 %, maker 200 ppm, taker 500 ppm.
# Market 1: tick 5, IMR 20 %, MMR 10 %, maker 0, taker 1000 ppm.
MARKETS = (Market(0, 1, 1000, 500, 200, 500), Market(1, 5, 2000, 1000, 0, 1000))
D, S = 4, 2
KEYS = {i: eddsa.PrivateKey.from_seed(f"zkmatch-batch-test-{i}") for i in range(8)}
CFG = BatchConfig(D, S, 2, accounts=6, entries=6, fills=4)
T = 1_000
PARAMS = prices(1, T, (100, 50), (0, 0))
RICH = 10**9


def make_state(collateral: dict[int, int] | None = None) -> ExchangeState:
    state = dev_state(
        MARKETS, D, S, fee_pubkey=KEYS[0].public_key, insurance_pubkey=KEYS[1].public_key
    )
    for index, c in (collateral or {2: RICH, 3: RICH, 4: RICH, 5: RICH}).items():
        state.create_account(index, KEYS[index].public_key, c)
    return state


def signed(
    account: int,
    side: int,
    price: int,
    size: int,
    order_id: int,
    *,
    market: int = 0,
    expiry: int = 2 * T,
    fee: int = 1000,
    tif: int = TIF_GTC,
    key: int | None = None,
) -> SignedOrder:
    order = Order(account, market, side, price, size, order_id, expiry, fee, tif)
    return SignedOrder.sign(order, KEYS[account if key is None else key])


def cancel(account: int, order_id: int) -> SignedCancel:
    return SignedCancel.sign(Cancel(account, order_id), KEYS[account])


def builder(state: ExchangeState | None = None, **kw: Any) -> BatchBuilder:
    return BatchBuilder(state or make_state(), kw.pop("config", CFG), kw.pop("params", PARAMS))


def reason(call: Any, *args: Any) -> Reject:
    with pytest.raises(OrderRejected) as info:
        call(*args)
    return info.value.reason


def ref(entry: SignedOrder) -> OrderRef:
    return entry.order.ref


# --- a witness checker: everything the circuit re-derives, from the inputs alone ---------


def _i(x: str) -> int:
    value = int(x)
    assert 0 <= value < SNARK_FIELD and x == str(value)
    return value


def _sibs(levels: list[list[str]]) -> tuple[tuple[int, int, int], ...]:
    return tuple((_i(a), _i(b), _i(c)) for a, b, c in levels)


def check_witness(w: dict[str, Any], cfg: BatchConfig) -> None:
    """Recompute every opening, leaf and root chain of ``as_circuit_inputs()``."""
    K, E, B, M = cfg.accounts, cfg.entries, cfg.fills, cfg.markets
    mask = (1 << cfg.slot_bits) - 1
    assert len(w["accRoot"]) == K + 1 and len(w["msgUsed"]) == E and len(w["fillUsed"]) == B
    assert w["accRoot"][0] == w["oldRoot"] and w["accRoot"][K] == w["newRoot"]
    assert len(w["accSiblings"][0]) == cfg.account_bits // 2
    assert len(w["entrySlotSiblings"][0]) == cfg.slot_bits // 2

    def leaf(k: int, suffix: str) -> int:
        pos: list[int] = []
        for m in range(M):
            pos += [_i(w["accPosSize" + suffix][k][m]), _i(w["accPosFunding" + suffix][k][m])]
        coll = w["accCollateral" + suffix][k]
        roots = w["accOrdersRoot" + suffix][k]
        return poseidon(
            [
                _i(w["accPubX"][k]),
                _i(w["accPubY"][k]),
                _i(w["accNonce"][k]),
                _i(coll),
                poseidon(pos, init_state=TAG_POSITIONS),
                _i(roots),
            ],
            init_state=TAG_ACCOUNT,
        )

    used = [w["accUsed"][k] == "1" for k in range(K)]
    # An unknown account a message named: its empty leaf is opened and left as it is.
    empty = [k >= 2 and w["accPubX"][k] == "0" for k in range(K)]
    assert used[0] and used[1] and used == sorted(used, reverse=True)
    indices = [_i(w["accIndex"][k]) for k in range(K) if used[k]]
    assert indices[:2] == [0, 1] and indices == sorted(set(indices))
    for k in range(K):
        sibs = _sibs(w["accSiblings"][k])
        index = _i(w["accIndex"][k])
        assert compute_root(leaf(k, ""), index, sibs) == _i(w["accRoot"][k])
        assert compute_root(leaf(k, "After"), index, sibs) == _i(w["accRoot"][k + 1])
    # Phase 2: funding and conservation.
    total_payment = 0
    funding = [decode_signed(_i(x)) for x in w["fundingIndex"]]
    for k in range(K):
        pay = sum(
            decode_signed(_i(w["accPosSize"][k][m]))
            * (funding[m] - decode_signed(_i(w["accPosFunding"][k][m])))
            for m in range(M)
        )
        assert decode_signed(_i(w["fundingPayment"][k])) == pay
        total_payment += pay
        if used[k] and not empty[k]:
            assert [decode_signed(_i(x)) for x in w["accPosFundingAfter"][k]] == funding
    for k in range(K):
        expected = decode_signed(_i(w["accCollateral"][k])) - decode_signed(
            _i(w["fundingPayment"][k])
        )
        if k == 1:
            expected += total_payment
        assert decode_signed(_i(w["accCollateralFunded"][k])) == expected
    before = sum(decode_signed(_i(w["accCollateral"][k])) for k in range(K) if used[k])
    after = sum(decode_signed(_i(w["accCollateralAfter"][k])) for k in range(K) if used[k])
    assert before == after
    # Phase 3: the inbox chain through the used message slots, each message decoded.
    secret = _i(w["operatorSecret"])
    assert babyjub.mul_base8(secret) == (_i(w["operatorKeyX"]), _i(w["operatorKeyY"]))
    msg_used = [w["msgUsed"][e] == "1" for e in range(E)]
    assert msg_used == sorted(msg_used, reverse=True)
    messages = [
        inbox.Message(
            (_i(w["msgEphX"][e]), _i(w["msgEphY"][e])), [_i(c) for c in w["msgCiphertext"][e]]
        )
        for e in range(E)
    ]
    chain = _i(w["inboxBefore"])
    for e in range(E):
        if msg_used[e]:
            chain = inbox.chain_step(chain, messages[e])
    assert chain == _i(w["inboxAfter"])
    # Phases 3 and 4: order-slot roots chain per account slot.
    running = [_i(w["accOrdersRoot"][k]) for k in range(K)]
    n = _i(w["batchNumber"])
    for e in range(E):
        k = _i(w["entryAccountSlot"][e])
        assert _i(w["entryOrdersRootBefore"][e]) == running[k]
        decoded = inbox.decode(messages[e], secret)
        order_id = (decoded.plaintext[0] >> 109) % 2**64
        entry = decoded.entry
        if w["entryValid"][e] == "1":
            assert msg_used[e] and entry is not None
            if isinstance(entry, SignedOrder):
                fields = {
                    "Account": entry.order.account,
                    "Market": entry.order.market,
                    "Side": entry.order.side,
                    "Price": entry.order.price,
                    "Size": entry.order.size,
                    "OrderId": entry.order.order_id,
                    "Expiry": entry.order.expiry,
                    "MaxFeePpm": entry.order.max_fee_ppm,
                    "Tif": entry.order.tif,
                }
            else:
                fields = {"Account": entry.cancel.account, "OrderId": entry.cancel.order_id}
            for name, value in fields.items():
                w.setdefault(f"entry{name}", [None] * E)[e] = str(value)
            w.setdefault("entryIsCancel", ["0"] * E)[e] = str(int(isinstance(entry, SignedCancel)))
            sig = entry.signature
            w.setdefault("entrySigR8x", ["0"] * E)[e] = str(sig.r8[0])
            w.setdefault("entrySigR8y", ["0"] * E)[e] = str(sig.r8[1])
            w.setdefault("entrySigS", ["0"] * E)[e] = str(sig.s)
        w.setdefault("entryUsed", ["0"] * E)[e] = w["entryValid"][e]
        old = [_i(w[f"entryOldSlot{f}"][e]) for f in ("OrderId", "OrderHash", "Filled", "Seq")]
        sibs = _sibs(w["entrySlotSiblings"][e])
        assert compute_root(poseidon(old, init_state=TAG_SLOT), order_id & mask, sibs) == running[k]
        assert _i(w["entrySeq"][e]) == n * 65536 + e
        if w["entryUsed"][e] == "1":
            assert order_id > old[0]
            pub = (_i(w["accPubX"][k]), _i(w["accPubY"][k]))
            sig = eddsa.Signature(
                (_i(w["entrySigR8x"][e]), _i(w["entrySigR8y"][e])), _i(w["entrySigS"][e])
            )
            if w["entryIsCancel"][e] == "1":
                msg = Cancel(_i(w["entryAccount"][e]), order_id).hash()
                assert w["entryFilled"][e] == "0"
                new = [order_id, 0, 0, _i(w["entrySeq"][e])]
            else:
                msg = poseidon(
                    [
                        _i(w[f"entry{f}"][e])
                        for f in (
                            "Account",
                            "Market",
                            "Side",
                            "Price",
                            "Size",
                            "OrderId",
                            "Expiry",
                            "MaxFeePpm",
                            "Tif",
                        )
                    ],
                    init_state=TAG_ORDER,
                )
                # Written once with what the order fills as the taker in this batch.
                taker_qty = sum(
                    _i(w["fillQty"][f])
                    for f in range(B)
                    if w["fillUsed"][f] == "1" and _i(w["fillTakerEntry"][f]) == e
                )
                assert _i(w["entryFilled"][e]) == taker_qty <= _i(w["entrySize"][e])
                new = [order_id, msg, taker_qty, _i(w["entrySeq"][e])]
            assert eddsa.verify(pub, msg, sig)
            assert _i(w["entryAccount"][e]) == _i(w["accIndex"][k])
        else:
            new = old
        running[k] = compute_root(poseidon(new, init_state=TAG_SLOT), order_id & mask, sibs)
        assert running[k] == _i(w["entryOrdersRootAfter"][e])
    for f in range(B):
        qty = _i(w["fillQty"][f])
        e = _i(w["fillTakerEntry"][f])
        if w["fillUsed"][f] == "1":  # the taker is an order entered in this batch
            assert w["entryValid"][e] == "1" and w["entryIsCancel"][e] == "0"
            for x in ("Account", "Market", "Side", "Price", "Size", "OrderId", "Tif"):
                assert w[f"fillTaker{x}"][f] == w[f"entry{x}"][e]
        assert w["fillTakerAccountSlot"][f] == w["entryAccountSlot"][e]
        for side in ("Maker",):  # only the maker's slot is opened in phase 4
            k = _i(w[f"fill{side}AccountSlot"][f])
            slot = [
                _i(w[f"fill{side}Slot{x}"][f]) for x in ("OrderId", "OrderHash", "Filled", "Seq")
            ]
            sibs = _sibs(w[f"fill{side}SlotSiblings"][f])
            assert _i(w[f"fill{side}OrdersRootBefore"][f]) == running[k]
            assert (
                compute_root(poseidon(slot, init_state=TAG_SLOT), slot[0] & mask, sibs)
                == running[k]
            )
            if w["fillUsed"][f] == "1":
                fields = [
                    _i(w[f"fill{side}{x}"][f])
                    for x in (
                        "Account",
                        "Market",
                        "Side",
                        "Price",
                        "Size",
                        "OrderId",
                        "Expiry",
                        "MaxFeePpm",
                        "Tif",
                    )
                ]
                assert slot[0] == fields[5] and slot[1] == poseidon(fields, init_state=TAG_ORDER)
                assert slot[2] + qty <= fields[4]
            slot[2] += qty
            running[k] = compute_root(poseidon(slot, init_state=TAG_SLOT), slot[0] & mask, sibs)
            assert running[k] == _i(w[f"fill{side}OrdersRootAfter"][f])
        if w["fillUsed"][f] == "1":
            assert _i(w["fillMakerSlotSeq"][f]) < n * 65536 + e
            assert w["fillPrice"][f] == w["fillMakerPrice"][f]
    assert running == [_i(x) for x in w["accOrdersRootAfter"]]


def seal_and_check(b: BatchBuilder) -> BatchResult:
    result = b.seal()
    check_witness(result.witness.as_circuit_inputs(), b.config)
    assert result.state.root == result.new_root
    return result


# --- the honest path ----------------------------------------------------------------


def test_fill_moves_collateral_positions_and_fees() -> None:
    state = make_state()
    old_root = state.root
    b = builder(state)
    maker = signed(2, SIDE_SELL, 100, 1000, 1)
    taker = signed(3, SIDE_BUY, 105, 1500, 1, tif=TIF_IOC)
    assert b.add_entry(maker) == 0
    assert b.add_entry(taker) == 1
    fill = b.add_fill(ref(taker), ref(maker), 1000)
    # Price is the maker's; N = 100_000; fees floor(N * 500 / 1e6) = 50, floor(N * 200 / 1e6) = 20.
    assert (fill.price, fill.qty, fill.taker_fee, fill.maker_fee) == (100, 1000, 50, 20)
    assert b.remaining(ref(taker)) == 500 and b.remaining(ref(maker)) == 0
    result = seal_and_check(b)
    new = result.state
    assert new.account(3).collateral == RICH - 100_000 - 50
    assert new.account(3).positions[0].size == 1000
    assert new.account(2).collateral == RICH + 100_000 - 20
    assert new.account(2).positions[0].size == -1000
    assert new.account(0).collateral == 70
    assert new.slot(2, 1) == OrderSlot(1, maker.order.hash(), 1000, 65536 + 0)
    assert new.slot(3, 1) == OrderSlot(1, taker.order.hash(), 1000, 65536 + 1)
    assert new.total_collateral() == state.total_collateral()
    # The input state is untouched.
    assert state.root == old_root and state.account(3).collateral == RICH
    assert state.slot(2, 1).order_id == 0
    assert result.old_root == old_root and result.fills == (fill,)
    assert result.entries == (maker, taker)
    assert result.config_hash == state.venue.hash()
    public = result.witness.public_inputs()
    assert public == {
        "oldRoot": str(old_root),
        "newRoot": str(result.new_root),
        "batchInfo": str((1 << 80) + (state.last_timestamp << 40) + PARAMS.timestamp),
        "configHash": str(state.venue.hash()),
        "inboxBefore": "0",
        "inboxAfter": str(inbox.chain_of(result.witness.messages)),
        # The fill-list batch takes no deposit and makes no exit (docs/flows.md).
        "depositsBefore": "0",
        "depositsAfter": "0",
        "exitsHash": "0",
    }
    assert result.state.inbox_count == 2
    assert result.state.inbox_chain == int(public["inboxAfter"])
    assert b.seal() is result
    with pytest.raises(ProtocolError):
        b.add_entry(signed(4, SIDE_BUY, 100, 1, 1))


def test_same_input_same_root_and_witness() -> None:
    def run() -> BatchResult:
        maker = signed(2, SIDE_SELL, 100, 10, 1)
        taker = signed(3, SIDE_BUY, 100, 10, 1)
        return build_batch(make_state(), CFG, PARAMS, [maker, taker], [(ref(taker), ref(maker), 7)])

    a, b = run(), run()
    assert a.new_root == b.new_root
    assert a.witness.as_circuit_inputs() == b.witness.as_circuit_inputs()


def test_empty_batch_is_a_valid_no_op_with_zero_funding() -> None:
    b = builder()
    assert b.is_empty
    result = seal_and_check(b)
    assert result.new_root == result.old_root


def test_state_json_after_batch_reproduces_root() -> None:
    b = builder()
    maker = signed(2, SIDE_SELL, 100, 10, 1)
    taker = signed(3, SIDE_BUY, 100, 10, 1)
    b.add_entry(maker)
    b.add_entry(taker)
    b.add_fill(ref(taker), ref(maker), 4)
    result = seal_and_check(b)
    again = ExchangeState.from_json(result.state.to_json())
    assert again.root == result.new_root
    assert again.order(2, 1) == maker.order


# --- entry rules --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, key=4), Reject.BAD_SIGNATURE),
        (lambda: signed(6, SIDE_BUY, 100, 1, 1), Reject.UNKNOWN_ACCOUNT),
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, market=2), Reject.UNKNOWN_MARKET),
        (lambda: signed(3, SIDE_BUY, 101, 1, 1, market=1), Reject.OFF_TICK),
        (lambda: signed(3, SIDE_BUY, 0, 1, 1), Reject.BAD_PRICE),
        (lambda: signed(3, SIDE_BUY, 2**40, 1, 1), Reject.BAD_PRICE),
        (lambda: signed(3, SIDE_BUY, 100, 0, 1), Reject.BAD_SIZE),
        (lambda: signed(3, SIDE_BUY, 100, 2**32, 1), Reject.BAD_SIZE),
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, expiry=T - 1), Reject.EXPIRED),
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, fee=499), Reject.FEE_TOO_HIGH),
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, fee=499, tif=TIF_IOC), Reject.FEE_TOO_HIGH),
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, fee=199, tif=TIF_POST_ONLY), Reject.FEE_TOO_HIGH),
        (lambda: signed(3, 2, 100, 1, 1), Reject.MALFORMED),
        (lambda: signed(3, SIDE_BUY, 100, 1, 1, tif=3), Reject.MALFORMED),
        (lambda: signed(3, SIDE_BUY, 100, 1, 0), Reject.MALFORMED),
        (lambda: signed(1, SIDE_BUY, 100, 1, 1), Reject.MALFORMED),  # insurance fund
        (lambda: signed(3, SIDE_BUY, 100, 10**8, 1), Reject.INSUFFICIENT_MARGIN),
        (lambda: cancel(6, 5), Reject.UNKNOWN_ACCOUNT),
        (lambda: SignedCancel(Cancel(3, 5), cancel(4, 5).signature), Reject.BAD_SIGNATURE),
    ],
)
def test_entry_rejects(entry: Any, expected: Reject) -> None:
    b = builder()
    e = entry()
    assert reason(b.check_entry, e) is expected
    assert reason(b.add_entry, e) is expected
    assert b.room() == (4, 6, 4)  # nothing changed


def test_entry_boundaries_accepted() -> None:
    b = builder()
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 1, expiry=T))  # expiry == t
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 2, fee=500))  # exactly the taker rate
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 3, fee=200, tif=TIF_POST_ONLY))
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 4, fee=500, tif=TIF_IOC))
    seal_and_check(b)


def test_rejected_entry_names_the_order() -> None:
    with pytest.raises(OrderRejected) as info:
        builder().add_entry(signed(3, SIDE_BUY, 100, 1, 9, expiry=0))
    assert info.value.order == OrderRef(3, 9)
    assert not isinstance(info.value, BatchFull)


def test_stale_and_replayed_order_ids() -> None:
    b = builder()
    first = signed(3, SIDE_BUY, 100, 1, 5)  # slot 1
    b.add_entry(first)
    assert reason(b.add_entry, first) is Reject.STALE_ORDER_ID  # replay in the batch
    assert reason(b.add_entry, signed(3, SIDE_BUY, 100, 1, 1)) is Reject.STALE_ORDER_ID
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 2))  # other slot: fine
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 9))  # larger id in slot 1 replaces 5
    assert b.order(3, 5) is None and b.order(3, 9) is not None
    state = seal_and_check(b).state
    params2 = prices(2, T + 1, (100, 50), (0, 0))
    b2 = BatchBuilder(state, CFG, params2)
    assert reason(b2.add_entry, first) is Reject.STALE_ORDER_ID  # replay next batch


def test_unsigned_garbage_learns_no_state() -> None:
    # A stale id with a bad signature reports BAD_SIGNATURE, not STALE_ORDER_ID.
    b = builder()
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 5))
    assert reason(b.add_entry, signed(3, SIDE_BUY, 100, 1, 5, key=4)) is Reject.BAD_SIGNATURE
    assert reason(b.add_entry, signed(3, SIDE_BUY, 100, 10**8, 9, key=4)) is Reject.BAD_SIGNATURE


def test_pretrade_check_uses_batch_state() -> None:
    # 2_000 collateral, IMR 10 %: buying 200 at 100 (fee 10) needs 2_010.
    state = make_state({2: RICH, 3: 2_000})
    b = builder(state)
    assert reason(b.add_entry, signed(3, SIDE_BUY, 100, 200, 1)) is Reject.INSUFFICIENT_MARGIN
    b.add_entry(signed(3, SIDE_BUY, 100, 199, 2))


def test_not_an_entry() -> None:
    assert reason(builder().add_entry, object()) is Reject.MALFORMED


# --- fill rules ---------------------------------------------------------------------


def _two(b: BatchBuilder, maker: SignedOrder, taker: SignedOrder) -> None:
    b.add_entry(maker)
    b.add_entry(taker)


def test_fill_rejects_and_changes_nothing() -> None:
    b = builder()
    maker = signed(2, SIDE_SELL, 100, 10, 1)
    taker = signed(3, SIDE_BUY, 100, 10, 1)
    _two(b, maker, taker)
    room = b.room()
    accounts = {i: b.account(i) for i in range(4)}
    assert reason(b.add_fill, ref(taker), ref(maker), 0) is Reject.BAD_SIZE
    assert reason(b.add_fill, ref(taker), ref(maker), 11) is Reject.BAD_SIZE  # overfill
    assert reason(b.add_fill, ref(maker), ref(taker), 1) is Reject.MALFORMED  # maker after taker
    assert reason(b.add_fill, ref(taker), OrderRef(2, 2), 1) is Reject.UNKNOWN_ORDER
    assert reason(b.add_fill, OrderRef(3, 2), ref(maker), 1) is Reject.UNKNOWN_ORDER
    assert reason(b.add_fill, ref(taker), OrderRef(9, 1), 1) is Reject.UNKNOWN_ORDER
    assert b.room() == room and {i: b.account(i) for i in range(4)} == accounts
    b.add_fill(ref(taker), ref(maker), 10)  # exactly the size
    assert reason(b.add_fill, ref(taker), ref(maker), 1) is Reject.BAD_SIZE
    seal_and_check(b)


@pytest.mark.parametrize(
    ("maker", "taker", "expected"),
    [
        # Self trade.
        (
            lambda: signed(3, SIDE_SELL, 100, 5, 1),
            lambda: signed(3, SIDE_BUY, 100, 5, 2),
            Reject.SELF_TRADE,
        ),
        # Same side.
        (
            lambda: signed(2, SIDE_BUY, 100, 5, 1),
            lambda: signed(3, SIDE_BUY, 100, 5, 1),
            Reject.MALFORMED,
        ),
        # Different markets.
        (
            lambda: signed(2, SIDE_SELL, 100, 5, 1, market=1),
            lambda: signed(3, SIDE_BUY, 100, 5, 1),
            Reject.MALFORMED,
        ),
        # Prices do not cross.
        (
            lambda: signed(2, SIDE_SELL, 101, 5, 1),
            lambda: signed(3, SIDE_BUY, 100, 5, 1),
            Reject.BAD_PRICE,
        ),
        (
            lambda: signed(2, SIDE_BUY, 99, 5, 1),
            lambda: signed(3, SIDE_SELL, 100, 5, 1),
            Reject.BAD_PRICE,
        ),
        # The taker is post-only.
        (
            lambda: signed(2, SIDE_SELL, 100, 5, 1),
            lambda: signed(3, SIDE_BUY, 100, 5, 1, tif=TIF_POST_ONLY),
            Reject.POST_ONLY_WOULD_CROSS,
        ),
        # The maker is IOC.
        (
            lambda: signed(2, SIDE_SELL, 100, 5, 1, tif=TIF_IOC),
            lambda: signed(3, SIDE_BUY, 100, 5, 1),
            Reject.MALFORMED,
        ),
    ],
)
def test_fill_pairing_rules(maker: Any, taker: Any, expected: Reject) -> None:
    b = builder()
    m, t = maker(), taker()
    _two(b, m, t)
    assert reason(b.add_fill, ref(t), ref(m), 1) is expected
    assert b.room()[2] == CFG.fills


def test_crossing_at_equal_price_and_price_is_the_makers() -> None:
    b = builder()
    maker = signed(2, SIDE_BUY, 103, 5, 1)
    taker = signed(3, SIDE_SELL, 97, 5, 1)
    _two(b, maker, taker)
    assert b.add_fill(ref(taker), ref(maker), 5).price == 103
    b2 = builder()
    maker = signed(2, SIDE_SELL, 100, 5, 1)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    _two(b2, maker, taker)
    assert b2.add_fill(ref(taker), ref(maker), 5).price == 100


def _rest(state: ExchangeState, order: Order, *, filled: int = 0, seq: int = 5) -> None:
    """Put an order into a state directly (as an earlier batch would have)."""
    slot = OrderSlot(order.order_id, order.hash(), filled, seq)
    state.set_slot(order.account, order.slot(S), slot, order)


def test_expired_maker_and_fee_cap_at_fill() -> None:
    state = make_state()
    _rest(state, Order(2, 0, SIDE_SELL, 100, 5, 1, T - 1, 1000, TIF_GTC))  # expired
    _rest(state, Order(4, 0, SIDE_SELL, 100, 5, 1, 2 * T, 100, TIF_GTC))  # cap below maker fee
    _rest(state, Order(5, 0, SIDE_SELL, 100, 5, 1, 2 * T, 1000, TIF_GTC), filled=4)
    b = builder(state)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    b.add_entry(taker)
    with pytest.raises(OrderRejected) as info:
        b.add_fill(ref(taker), OrderRef(2, 1), 1)
    assert info.value.reason is Reject.EXPIRED and info.value.order == OrderRef(2, 1)
    with pytest.raises(OrderRejected) as info:
        b.add_fill(ref(taker), OrderRef(4, 1), 1)
    assert info.value.reason is Reject.FEE_TOO_HIGH and info.value.order == OrderRef(4, 1)
    # A partially filled resting order: one lot left.
    assert reason(b.add_fill, ref(taker), OrderRef(5, 1), 2) is Reject.BAD_SIZE
    b.add_fill(ref(taker), OrderRef(5, 1), 1)
    result = seal_and_check(b)
    assert result.state.slot(5, 1).filled == 5


def test_taker_must_have_entered_in_this_batch() -> None:
    state = make_state()
    _rest(state, Order(2, 0, SIDE_SELL, 100, 5, 1, 2 * T, 1000, TIF_GTC))
    _rest(state, Order(3, 0, SIDE_BUY, 100, 5, 1, 2 * T, 1000, TIF_GTC), seq=6)
    b = builder(state)
    assert reason(b.add_fill, OrderRef(3, 1), OrderRef(2, 1), 1) is Reject.UNKNOWN_ORDER


def test_margin_failure_names_the_side_and_changes_nothing() -> None:
    # Account 4 has 100: it cannot sell 100 lots at 100 (IR needs 1_000 + fees).
    state = make_state({2: RICH, 3: RICH, 4: 100})
    _rest(state, Order(4, 0, SIDE_SELL, 100, 100, 1, 2 * T, 1000, TIF_GTC))
    b = builder(state)
    taker = signed(3, SIDE_BUY, 100, 100, 1)
    b.add_entry(taker)
    before = (b.room(), b.account(3), b.account(0), b.is_opened(4))
    with pytest.raises(OrderRejected) as info:
        b.add_fill(ref(taker), OrderRef(4, 1), 100)
    assert info.value.reason is Reject.INSUFFICIENT_MARGIN
    assert info.value.order == OrderRef(4, 1) and "maker" in str(info.value)
    assert (b.room(), b.account(3), b.account(0), b.is_opened(4)) == before
    assert b.remaining(OrderRef(4, 1)) == 100
    b.add_fill(ref(taker), OrderRef(4, 1), 9)  # 9 lots: IR = 900_000 <= V * 10^4 = 10^6
    seal_and_check(b)


def test_risk_reducing_fill_below_initial_margin() -> None:
    # Batch 1: account 3 (502) buys 50 at 100: N = 5_000, taker fee 2, V = 500 = IR / 10^4.
    state = make_state({2: RICH, 3: 502, 4: RICH})
    _rest(state, Order(2, 0, SIDE_SELL, 100, 100, 1, 2 * T, 1000, TIF_GTC))
    b = builder(state)
    taker = signed(3, SIDE_BUY, 100, 50, 1)
    b.add_entry(taker)
    b.add_fill(ref(taker), OrderRef(2, 1), 50)  # exactly at the initial requirement
    state2 = seal_and_check(b).state
    assert state2.account(3).collateral == -4_500
    # Batch 2: the mark falls to 99, V = 450 < IR / 10^4 = 495.
    params = prices(2, T + 1, (99, 50), (0, 0))
    _rest(state2, Order(4, 0, SIDE_BUY, 99, 10, 1, 2 * T, 1000, TIF_GTC), seq=2 * 65536 - 1)
    b2 = BatchBuilder(state2, CFG, params)
    assert not margin(b2.account(3), MARKETS, params.marks).meets_initial
    # Adding risk is refused...
    add = signed(3, SIDE_BUY, 99, 1, 2)
    assert reason(b2.add_entry, add) is Reject.INSUFFICIENT_MARGIN
    # ...reducing it is allowed although IR is still missed afterwards.
    reduce = signed(3, SIDE_SELL, 99, 2, 6)
    b2.add_entry(reduce)
    before = b2.account(3)
    b2.add_fill(ref(reduce), OrderRef(4, 1), 2)
    after = b2.account(3)
    assert after.collateral == -4_302 and after.positions[0].size == 48
    assert not margin(after, MARKETS, params.marks).meets_initial
    assert legal_transition(
        margin(before, MARKETS, params.marks), margin(after, MARKETS, params.marks)
    )
    seal_and_check(b2)


def test_fee_account_may_trade_and_pays_itself() -> None:
    state = make_state()
    state.deposit(0, RICH)
    b = builder(state)
    maker = signed(0, SIDE_SELL, 100, 1000, 1)
    taker = signed(3, SIDE_BUY, 100, 1000, 1)
    _two(b, maker, taker)
    b.add_fill(ref(taker), ref(maker), 1000)
    result = seal_and_check(b)
    # Fee account: +100_000 from the sale, -20 maker fee, +70 fee income.
    assert result.state.account(0).collateral == RICH + 100_000 + 50
    assert result.state.total_collateral() == state.total_collateral()


def test_insurance_fund_cannot_be_a_side() -> None:
    state = make_state()
    state.deposit(1, RICH)
    _rest(state, Order(1, 0, SIDE_SELL, 100, 5, 1, 2 * T, 1000, TIF_GTC))
    b = builder(state)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    b.add_entry(taker)
    assert reason(b.add_fill, ref(taker), OrderRef(1, 1), 1) is Reject.MALFORMED


def test_position_range_is_enforced() -> None:
    state = make_state()
    big = Account(KEYS[2].public_key, 0, RICH, (Position(2**40 - 1, 0), Position()))
    state.set_account(2, big)
    _rest(state, Order(3, 0, SIDE_SELL, 1, 5, 1, 2 * T, 1000, TIF_GTC))
    b = builder(state, params=prices(1, T, (1, 50), (0, 0)))
    taker = signed(2, SIDE_SELL, 1, 5, 1)  # reduces: allowed
    b.add_entry(taker)
    taker2 = signed(2, SIDE_BUY, 1, 5, 2)
    b.add_entry(taker2)
    with pytest.raises(OrderRejected) as info:
        b.add_fill(ref(taker2), OrderRef(3, 1), 1)
    assert info.value.reason is Reject.BAD_SIZE and info.value.order == ref(taker2)
    # The maker side overflowing is named too.
    state.set_account(4, Account(KEYS[4].public_key, 0, RICH, (Position(1 - 2**40), Position())))
    _rest(state, Order(4, 0, SIDE_SELL, 1, 5, 1, 2 * T, 1000, TIF_GTC))
    b = builder(state, params=prices(1, T, (1, 50), (0, 0)))
    taker3 = signed(5, SIDE_BUY, 1, 5, 1)
    b.add_entry(taker3)
    with pytest.raises(OrderRejected) as info:
        b.add_fill(ref(taker3), OrderRef(4, 1), 1)
    assert info.value.reason is Reject.BAD_SIZE and info.value.order == OrderRef(4, 1)


# --- cancels ------------------------------------------------------------------------


def test_cancel_closes_the_slot() -> None:
    b = builder()
    maker = signed(2, SIDE_SELL, 100, 5, 1)
    b.add_entry(maker)
    assert reason(b.add_entry, cancel(2, 1)) is Reject.STALE_ORDER_ID  # id must be larger
    b.add_entry(SignedCancel.sign(Cancel.for_order(2, 1, S), KEYS[2]))
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    b.add_entry(taker)
    assert reason(b.add_fill, ref(taker), ref(maker), 1) is Reject.UNKNOWN_ORDER
    result = seal_and_check(b)
    assert result.state.slot(2, 1) == OrderSlot(5, 0, 0, 65536 + 1)
    assert result.state.order(2, 1) is None and result.state.order(2, 5) is None


# --- capacity and the slot-conflict rule --------------------------------------------


def test_entry_capacity() -> None:
    b = builder(config=BatchConfig(D, S, 2, accounts=6, entries=2, fills=4))
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 1))
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 2))
    assert b.room() == (3, 0, 4)
    with pytest.raises(BatchFull):
        b.add_entry(signed(3, SIDE_BUY, 100, 1, 3))
    # Validity is judged before capacity: a bad entry is rejected, not "full".
    assert reason(b.add_entry, signed(3, SIDE_BUY, 100, 1, 3, expiry=0)) is Reject.EXPIRED
    seal_and_check(b)


def test_account_capacity_on_entries_and_fills() -> None:
    state = make_state()
    _rest(state, Order(4, 0, SIDE_SELL, 100, 5, 1, 2 * T, 1000, TIF_GTC))
    b = builder(state, config=BatchConfig(D, S, 2, accounts=3, entries=4, fills=4))
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    b.add_entry(taker)
    assert b.room()[0] == 0
    with pytest.raises(BatchFull):
        b.add_entry(signed(2, SIDE_BUY, 100, 1, 1))  # a 4th account
    with pytest.raises(BatchFull):
        b.add_fill(ref(taker), OrderRef(4, 1), 1)  # the maker would be a 4th account
    seal_and_check(b)


def test_fill_capacity() -> None:
    b = builder(config=BatchConfig(D, S, 2, accounts=6, entries=4, fills=1))
    maker = signed(2, SIDE_SELL, 100, 5, 1)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    _two(b, maker, taker)
    b.add_fill(ref(taker), ref(maker), 1)
    with pytest.raises(BatchFull):
        b.add_fill(ref(taker), ref(maker), 1)
    seal_and_check(b)


def test_slot_conflict_seals_the_batch() -> None:
    b = builder()
    maker = signed(2, SIDE_SELL, 100, 5, 1)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    _two(b, maker, taker)
    b.add_fill(ref(taker), ref(maker), 2)
    # Overwriting the maker's slot now would reorder across the fill (the circuit opens
    # makers' slots after all entries).
    with pytest.raises(BatchFull):
        b.add_entry(SignedCancel.sign(Cancel.for_order(2, 1, S), KEYS[2]))
    # The taker traded at its entry: a later entry may replace its slot.
    replacement = signed(3, SIDE_BUY, 100, 5, 5)
    b.add_entry(replacement)
    # Another slot of the maker's account is fine.
    b.add_entry(signed(2, SIDE_SELL, 100, 5, 2))
    result = seal_and_check(b)
    assert result.state.slot(3, 1) == OrderSlot(5, replacement.order.hash(), 0, 65536 + 2)
    assert result.state.account(3).positions[0].size == 2
    # In the next batch the cancel goes through.
    b2 = BatchBuilder(result.state, CFG, prices(2, T + 1, (100, 50), (0, 0)))
    b2.add_entry(SignedCancel.sign(Cancel.for_order(2, 1, S), KEYS[2]))
    seal_and_check(b2)


# --- funding ------------------------------------------------------------------------


def test_funding_flows_to_and_from_the_insurance_fund() -> None:
    state = make_state()
    state.set_account(
        2, Account(KEYS[2].public_key, 0, 1_000_000, (Position(10, 5), Position(-4, 0)))
    )
    state.set_account(3, Account(KEYS[3].public_key, 0, 1_000_000, (Position(-3, 7), Position())))
    state.set_account(5, Account(KEYS[5].public_key, 0, 1_000_000, (Position(8, 0), Position())))
    state.deposit(1, 500)
    params = prices(1, T, (100, 50), (12, -3))
    b = BatchBuilder(state, CFG, params)
    # Account 2: pays 10*(12-5) + (-4)*(-3-0) = 70 + 12 = 82.  Account 3: -3*(12-7) = -15.
    b.add_entry(signed(2, SIDE_BUY, 100, 1, 1))
    b.add_entry(signed(3, SIDE_BUY, 100, 1, 1))
    assert b.account(2).collateral == 1_000_000 - 82
    assert b.account(2).positions == (Position(10, 12), Position(-4, -3))
    result = seal_and_check(b)
    new = result.state
    assert new.account(3).collateral == 1_000_000 + 15
    assert new.account(1).collateral == 500 + 82 - 15
    assert result.funding == {0: 0, 1: 0, 2: 82, 3: -15}
    # Account 5 was not opened: its funding waits for a batch that touches it.
    assert new.account(5) == state.account(5)
    assert new.total_collateral() == state.total_collateral()
    w = result.witness.as_circuit_inputs()
    assert w["fundingIndex"] == ["12", str(SNARK_FIELD - 3)]


def test_maker_opened_by_a_fill_gets_funding_first() -> None:
    state = make_state()
    state.set_account(2, Account(KEYS[2].public_key, 0, RICH, (Position(-10, 0), Position())))
    _rest(state, Order(2, 0, SIDE_SELL, 100, 5, 1, 2 * T, 1000, TIF_GTC))
    params = prices(1, T, (100, 50), (-4, 0))  # shorts pay when the index falls
    b = BatchBuilder(state, CFG, params)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    b.add_entry(taker)
    b.add_fill(ref(taker), OrderRef(2, 1), 5)
    result = seal_and_check(b)
    # -10 * (-4 - 0) = 40 paid by the maker; then + 500 from the sale.
    assert result.state.account(2).collateral == RICH - 40 + 500
    assert result.state.account(1).collateral == 40
    assert result.state.account(2).positions[0] == Position(-15, -4)


# --- two batches in a row -----------------------------------------------------------


def test_maker_rests_across_batches() -> None:
    b1 = builder()
    maker = signed(2, SIDE_SELL, 100, 10, 1)
    b1.add_entry(maker)
    r1 = seal_and_check(b1)
    b2 = BatchBuilder(r1.state, CFG, prices(2, T + 10, (100, 50), (0, 0)))
    taker = signed(3, SIDE_BUY, 100, 4, 1, expiry=2 * T)
    b2.add_entry(taker)
    b2.add_fill(ref(taker), ref(maker), 4)
    r2 = seal_and_check(b2)
    assert r2.old_root == r1.new_root
    assert r2.state.slot(2, 1).filled == 4 and r2.state.slot(2, 1).seq == 65536
    w = r2.witness.as_circuit_inputs()
    assert w["fillMakerSlotSeq"][0] == str(65536) and w["fillTakerEntry"][0] == "0"
    assert w["entrySeq"][0] == str(2 * 65536) and w["entryFilled"][0] == "4"


def test_witness_padding_and_shapes() -> None:
    cfg = BatchConfig(D, S, 2, accounts=5, entries=3, fills=2)
    b = builder(config=cfg)
    maker = signed(2, SIDE_SELL, 100, 5, 1)
    taker = signed(3, SIDE_BUY, 100, 5, 1)
    _two(b, maker, taker)
    b.add_fill(ref(taker), ref(maker), 2)
    w = seal_and_check(b).witness.as_circuit_inputs()
    assert w["accUsed"] == ["1", "1", "1", "1", "0"]
    assert w["accIndex"] == ["0", "1", "2", "3", "0"]
    assert w["accRoot"][4:] == [w["newRoot"]] * 2
    assert w["msgUsed"] == ["1", "1", "0"] and w["entryValid"] == ["1", "1", "0"]
    assert w["fillUsed"] == ["1", "0"]
    # The padding fill names entry 0 (the maker's, account slot 2) as its taker and the
    # insurance fund's order slot 0 as its maker.
    assert w["fillTakerEntry"] == ["1", "0"] and w["fillTakerAccountSlot"] == ["3", "2"]
    assert w["fillMakerAccountSlot"] == ["2", "1"]
    assert w["entryFilled"] == ["0", "2", "0"]
    assert w["fillQty"][1] == "0"
    assert len(w["accPosSize"][0]) == 2 and len(w["accSiblings"][0][0]) == 3


# --- properties ---------------------------------------------------------------------

_ORDER = st.tuples(
    st.integers(2, 5),  # account
    st.integers(0, 1),  # side
    st.integers(95, 105),  # price
    st.integers(1, 40),  # size
    st.sampled_from([TIF_GTC, TIF_GTC, TIF_IOC, TIF_POST_ONLY]),
)


def _run_random_batch(
    orders: list[tuple[int, int, int, int, int]], collateral: int
) -> tuple[BatchResult, list[tuple[Account, Account]]]:
    state = make_state({i: collateral for i in range(2, 6)})
    b = BatchBuilder(state, BatchConfig(D, S, 2, accounts=6, entries=8, fills=8), PARAMS)
    next_id = dict.fromkeys(range(2, 6), 1)
    resting: list[Order] = []
    transitions: list[tuple[Account, Account]] = []
    for account, side, price, size, tif in orders:
        order = Order(account, 0, side, price, size, next_id[account], 2 * T, 1000, tif)
        next_id[account] += 1
        try:
            b.add_entry(SignedOrder.sign(order, KEYS[account]))
        except BatchFull:
            break
        except OrderRejected:
            continue
        if tif != TIF_POST_ONLY:
            for maker in list(resting):
                qty = min(b.remaining(order.ref), b.remaining(maker.ref))
                if qty == 0:
                    continue
                befores = (b.account(account), b.account(maker.account))
                try:
                    b.add_fill(order.ref, maker.ref, qty)
                except BatchFull:
                    break
                except OrderRejected:
                    continue
                transitions.append((befores[0], b.account(account)))
                transitions.append((befores[1], b.account(maker.account)))
        if tif != TIF_IOC:
            resting.append(order)
    return b.seal(), transitions


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.lists(_ORDER, min_size=1, max_size=8), st.sampled_from([300, 3_000, 10**6]))
def test_random_batches(orders: list[tuple[int, int, int, int, int]], collateral: int) -> None:
    result, transitions = _run_random_batch(orders, collateral)
    # Conservation (seal asserts it too) and the state/witness agree.
    assert result.state.total_collateral() == 4 * collateral
    check_witness(result.witness.as_circuit_inputs(), result.witness.config)
    # Every trading account ends a fill at or above its requirement, or reduced risk.
    for before, after in transitions:
        assert legal_transition(
            margin(before, MARKETS, PARAMS.marks), margin(after, MARKETS, PARAMS.marks)
        )
    # Same input, same root.
    again, _ = _run_random_batch(orders, collateral)
    assert again.new_root == result.new_root
    assert again.witness.as_circuit_inputs() == result.witness.as_circuit_inputs()


def test_entries_type_alias_is_usable() -> None:
    entries: list[Entry] = [signed(3, SIDE_BUY, 100, 1, 1), cancel(3, 2)]
    result = build_batch(make_state(), CFG, PARAMS, entries, [])
    assert len(result.entries) == 2


def test_bench_script_hash_counts() -> None:
    """scripts/bench_batch.py runs, and its Poseidon counts follow docs/batch-witness.md."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "scripts" / "bench_batch.py"
    spec = importlib.util.spec_from_file_location("bench_batch", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    d, s, fills = 6, 4, 3
    dense = bench.bench("dense", fills, d, s, 1)
    account = 2 + d // 2  # positions hash, leaf, D/2 nodes
    params = 0  # the prices' hash and signature are checked when the builder starts
    entry_seal = 1 + s // 2
    fill = 1 + s // 2  # the maker's slot leaf and path (the taker's is written at entry)
    # The builder's start (prices hash: 3, the feed's signature challenge: 1), then the
    # entry (order hash + signature challenge), then add_entry's message: the order hash for
    # its simulation ephemeral key, and the circuit's rules (inbox.rejection) verify the
    # signature once more.
    assert dense["hashes"]["entries"]["total"] == 4 + 2 + 2
    assert dense["hashes"]["fills"]["total"] == 0
    assert dense["hashes"]["seal"]["total"] == entry_seal + fills * fill + 4 * account + params
    spread = bench.bench("spread", fills, d, s, 1)
    assert spread["hashes"]["seal"]["total"] == (
        fills * (entry_seal + fill) + (2 + 2 * fills) * account + params
    )


# --- prices and the venue (docs/settlement.md) ------------------------------------------


def test_a_batch_needs_a_registered_venue() -> None:
    bare = ExchangeState(MARKETS, D, S)
    with pytest.raises(ProtocolError, match="no registered venue"):
        BatchBuilder(bare, CFG, PARAMS)


def test_prices_must_be_signed_by_the_registered_feed() -> None:
    state = make_state()
    with pytest.raises(ProtocolError, match="not signed by the registered price feed"):
        BatchBuilder(state, CFG, PriceSet(1, T, (100, 50), (0, 0)))
    stranger = eddsa.PrivateKey.from_seed("not the feed")
    forged = PriceSet(1, T, (100, 50), (0, 0)).signed(stranger)
    with pytest.raises(ProtocolError, match="not signed by the registered price feed"):
        BatchBuilder(state, CFG, forged)
    # The feed's signature on other prices does not carry over.
    moved = replace(PARAMS, marks=(101, 50))
    with pytest.raises(ProtocolError, match="not signed by the registered price feed"):
        BatchBuilder(state, CFG, moved)


def test_the_batch_time_moves_forward() -> None:
    state = make_state()
    state.last_timestamp = T
    with pytest.raises(ProtocolError, match="is not after the last batch"):
        BatchBuilder(state, CFG, PARAMS)
    result = builder().seal()
    assert result.state.last_timestamp == T
    with pytest.raises(ProtocolError, match="is not after the last batch"):
        BatchBuilder(result.state, CFG, prices(2, T, (100, 50), (0, 0)))


def test_funding_moves_at_most_by_its_cap() -> None:
    # Cap 10^6 (10^-9 of the mark per second) at mark 100 over 10 s: |dF| * 10^9 <= 10^9.
    state = make_state()
    state.last_timestamp = T - 10
    assert state.venue.funding_caps == (1_000_000, 1_000_000)
    BatchBuilder(state, CFG, prices(1, T, (100, 50), (1, 0)))  # exactly the cap
    with pytest.raises(ProtocolError, match="market 0: funding index moves from 0 to 2"):
        BatchBuilder(state, CFG, prices(1, T, (100, 50), (2, 0)))
    with pytest.raises(ProtocolError, match="market 1: funding index moves from 0 to -2"):
        BatchBuilder(state, CFG, prices(1, T, (100, 20), (0, -2)))  # mark 20: cap 0.2
    # The bound is from the insurance fund's index, the last batch's F*.
    fund = state.account(1)
    state.set_account(1, replace(fund, positions=(Position(0, 5), Position(0, 0))))
    BatchBuilder(state, CFG, prices(1, T, (100, 50), (6, 0)))
    with pytest.raises(ProtocolError, match="from 5 to 7"):
        BatchBuilder(state, CFG, prices(1, T, (100, 50), (7, 0)))


def test_the_venue_and_the_last_time_survive_json() -> None:
    result = builder().seal()
    again = ExchangeState.from_json(result.state.to_json())
    assert again.venue == result.state.venue and again.last_timestamp == T
