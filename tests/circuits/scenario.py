"""Small honest batches built by the Python model, for the circuit tests.

``two_trader_batches()`` runs two batches on D=4, S=2, M=2 (K=4, E=2, B=2): batch 0
opens two trader accounts, trader A rests a sell, trader B takes it with an IOC buy;
batch 1 moves the funding index (so both traders pay or receive funding) and trades
again, so every phase of the circuit does real work.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from prover.crypto.eddsa import PrivateKey
from prover.exchange.batch import ORDER_SIGNALS, BatchResult, build_batch
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import (
    BatchConfig,
    Cancel,
    Market,
    Order,
    SignedCancel,
    SignedOrder,
    signature_parts,
)
from tests.venue import dev_state, prices

D, S, M, K, E, B = 4, 2, 2, 4, 2, 2
CONFIG = BatchConfig(account_bits=D, slot_bits=S, markets=M, accounts=K, entries=E, fills=B)
MARKETS = (
    Market(0, tick_size=10, imr_bps=1000, mmr_bps=500, maker_fee_ppm=200, taker_fee_ppm=500),
    Market(1, tick_size=5, imr_bps=2000, mmr_bps=1000, maker_fee_ppm=0, taker_fee_ppm=1000),
)
KEY_A = PrivateKey.from_seed("trader-a")
KEY_B = PrivateKey.from_seed("trader-b")
A, B_ACC = 2, 3


@dataclass(frozen=True)
class Scenario:
    batches: tuple[BatchResult, ...]
    keys: dict[int, PrivateKey]


def order(
    account: int,
    side: int,
    price: int,
    size: int,
    order_id: int,
    *,
    market: int = 0,
    tif: int = TIF_GTC,
    expiry: int = 10_000,
    max_fee_ppm: int = 1000,
) -> Order:
    return Order(account, market, side, price, size, order_id, expiry, max_fee_ppm, tif)


def sign(o: Order) -> SignedOrder:
    key = KEY_A if o.account == A else KEY_B
    return SignedOrder.sign(o, key)


@lru_cache(maxsize=1)
def two_trader_batches() -> Scenario:
    state = dev_state(MARKETS, D, S)
    state.create_account(A, KEY_A.public_key, 10_000_000)
    state.create_account(B_ACC, KEY_B.public_key, 10_000_000)

    sell = order(A, SIDE_SELL, 1000, 50, 1)
    buy = order(B_ACC, SIDE_BUY, 1010, 30, 2, tif=TIF_IOC)
    first = build_batch(
        state,
        CONFIG,
        prices(0, 1000, (1000, 500), (0, 0)),
        [sign(sell), sign(buy)],
        [(buy.ref, sell.ref, 30)],
    )
    # Batch 1: funding moves (+3 per lot in market 0), B sells 10 back into A's bid.
    bid = order(A, SIDE_BUY, 990, 20, 5)
    hit = order(B_ACC, SIDE_SELL, 980, 10, 6, tif=TIF_IOC)
    second = build_batch(
        first.state,
        CONFIG,
        prices(1, 2000, (1000, 500), (3, -2)),
        [sign(bid), sign(hit)],
        [(hit.ref, bid.ref, 10)],
    )
    return Scenario((first, second), {A: KEY_A, B_ACC: KEY_B})


FIELDS = ("Market", "Side", "Price", "Size", "OrderId", "Expiry", "MaxFeePpm", "Tif")
SLOT = ("OrderId", "OrderHash", "Filled", "Seq")


def with_entry_fields(result: BatchResult) -> dict:
    """A batch's circuit inputs plus, per message slot, the plaintext entry the circuit
    decrypts from it, under the old per-entry names (``entryUsed`` = valid, ``entryIsCancel``,
    ``entry{Account,...,Tif}``, ``entrySig{R8x,R8y,S}``; zeros for a no-op or padding), for
    the template tests that feed one entry or fill to FillCheck or MessageEntry."""
    w = dict(result.witness.as_circuit_inputs())
    rows: list[dict] = []
    for slot in result.witness.entries:
        entry = slot.entry
        row = {f"entry{name}": "0" for name in ("Account", *FIELDS)}
        row["entryUsed"] = str(int(entry is not None))
        row["entryIsCancel"] = str(int(isinstance(entry, SignedCancel)))
        row["entrySigR8x"] = row["entrySigR8y"] = row["entrySigS"] = "0"
        if isinstance(entry, SignedOrder):
            row.update({f"entry{name}": str(getattr(entry.order, attr))
                        for name, attr in ORDER_SIGNALS})
        elif isinstance(entry, SignedCancel):
            row["entryAccount"] = str(entry.cancel.account)
            row["entryOrderId"] = str(entry.cancel.order_id)
        if entry is not None:
            r8x, r8y, sig_s = signature_parts(entry.signature)
            row["entrySigR8x"], row["entrySigR8y"], row["entrySigS"] = map(str, (r8x, r8y, sig_s))
        rows.append(row)
    for name in rows[0]:
        w[name] = [row[name] for row in rows]
    return w


def witness_inputs(batch: int) -> dict:
    return with_entry_fields(two_trader_batches().batches[batch])


TAKER_FIELDS = ("Market", "Side", "Price", "Tif")


def fill_inputs(batch: int, f: int) -> tuple[dict, dict]:
    """FillCheck(S, M) inputs for fill ``f`` of a scenario batch, and the model's outputs.

    The taker's fields are those of its entry (``fillTakerEntry``), as the batch hands
    them over; its seq is ``n * 2^16 + e``.
    """
    w = witness_inputs(batch)
    e = int(w["fillTakerEntry"][f])
    taker_slot = int(w["entryAccountSlot"][e])
    inputs: dict = {
        "used": w["fillUsed"][f],
        "timestamp": w["timestamp"],
        "takerSeq": w["entrySeq"][e],
        "takerAccountIndex": w["accIndex"][taker_slot],
        "makerAccountIndex": w["accIndex"][int(w["fillMakerAccountSlot"][f])],
        "makerOrdersRoot": w["fillMakerOrdersRootBefore"][f],
        "qty": w["fillQty"][f],
        "price": w["fillPrice"][f],
        "makerFeePpm": w["marketMakerFeePpm"],
        "takerFeePpm": w["marketTakerFeePpm"],
    }
    for name in TAKER_FIELDS:
        inputs[f"taker{name}"] = w[f"entry{name}"][e]
    for name in FIELDS:
        inputs[f"maker{name}"] = w[f"fillMaker{name}"][f]
    for name in SLOT:
        inputs[f"makerSlot{name}"] = w[f"fillMakerSlot{name}"][f]
    inputs["makerSlotSiblings"] = w["fillMakerSlotSiblings"][f]
    expected = {
        "makerOrdersRootAfter": int(w["fillMakerOrdersRootAfter"][f]),
        "takerFee": int(w["fillTakerFee"][f]),
        "makerFee": int(w["fillMakerFee"][f]),
    }
    return inputs, expected


def entry_inputs(batch: int, e: int) -> tuple[dict, int]:
    """OrderEntry(S, M) inputs for entry ``e`` of a scenario batch (batch 2 is
    ``one_order_batch``), and the model's new root."""
    w = witness_inputs(batch) if batch < 2 else with_entry_fields(one_order_batch())
    k = int(w["entryAccountSlot"][e])
    inputs: dict = {
        "used": w["entryUsed"][e],
        "isCancel": w["entryIsCancel"][e],
        "accountIndex": w["accIndex"][k],
        "pubX": w["accPubX"][k],
        "pubY": w["accPubY"][k],
        "sigR8x": w["entrySigR8x"][e],
        "sigR8y": w["entrySigR8y"][e],
        "sigS": w["entrySigS"][e],
        "slotSiblings": w["entrySlotSiblings"][e],
        "ordersRootBefore": w["entryOrdersRootBefore"][e],
        "filled": w["entryFilled"][e],
        "seq": w["entrySeq"][e],
        "timestamp": w["timestamp"],
        "tickSize": w["marketTickSize"],
        "makerFeePpm": w["marketMakerFeePpm"],
        "takerFeePpm": w["marketTakerFeePpm"],
    }
    for name in FIELDS:
        inputs[name[0].lower() + name[1:]] = w[f"entry{name}"][e]
    for name in SLOT:
        inputs[f"oldSlot{name}"] = w[f"entryOldSlot{name}"][e]
    return inputs, int(w["entryOrdersRootAfter"][e])


@lru_cache(maxsize=1)
def one_order_batch() -> BatchResult:
    """Batch 2 after the two above: trader A rests one order and cancels its partly filled
    bid (order 5, slot 1) with a cancel; no fill. Account slot 3 is unused and every fill
    slot is padding."""
    state = two_trader_batches().batches[-1].state
    rest = order(A, SIDE_SELL, 1100, 5, 10)  # slot 2
    cancel = SignedCancel.sign(Cancel.for_order(A, 5, S), KEY_A)  # id 9, slot 1
    return build_batch(
        state, CONFIG, prices(2, 3000, (1000, 500), (3, -2)), [sign(rest), cancel], []
    )
