pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "Constants.circom";
include "UnsignedRange.circom";
include "OneHot.circom";
include "SelectOne.circom";
include "OrderHash.circom";
include "SlotLeaf.circom";
include "QuadMerkleUpdate.circom";
include "FeeFloor.circom";

/// The rules of one fill and its two order-slot writes (docs/protocol.md, section 7, step 4).
///
/// Proves, when `used = 1`:
///  (1) each side's slot leaf `H_SLOT(slotOrderId, slotOrderHash, slotFilled, slotSeq)`
///      is at slot `slotOrderId mod 2^S` of that account's `ordersRoot`, and holds
///      this order: `slotOrderHash = H_ORDER(accountIndex, fields...)`, `slotOrderId = orderId`;
///  (2) same market; opposite sides; distinct accounts;
///  (3) the taker is not post-only, the maker is not IOC;
///  (4) neither is expired: `expiry >= t`;
///  (5) prices cross (`buy.price >= sell.price`) and `price = maker's price`;
///  (6) `1 <= qty < 2^32` and `filled + qty <= size` for both orders;
///  (7) the taker entered in this batch (`n*2^16 <= seq_t < (n+1)*2^16`) and
///      `seq_maker < seq_taker`;
///  (8) fees: `fee = floor(qty * price * ratePpm / 10^6)` with the market's taker /
///      maker rate, each rate at most that order's `maxFeePpm`;
///  (9) each slot is rewritten with `filled + qty`: `ordersRootAfter` for both sides.
/// When `used = 0`: `qty = 0`, so both rewritten leaves equal the old ones and the
/// roots do not move; (1)'s opening must still be valid (the builder pads with real
/// openings, docs/batch-witness.md), every other rule is off.
///
/// @param  S  order-slot tree bits, even, 2..16
/// @param  M  markets, 1..8
/// @input  used                      0 or 1 (checked)
/// @input  timestamp, batchNumber    t and n (range-checked by the batch)
/// @input  takerAccountIndex, makerAccountIndex   from the account slots
/// @input  takerOrdersRoot, makerOrdersRoot       the accounts' current order roots
/// @input  taker{Market,Side,Price,Size,OrderId,Expiry,MaxFeePpm,Tif}, same for maker
/// @input  takerSlot{OrderId,OrderHash,Filled,Seq}, takerSlotSiblings[S/2][3], same for maker
/// @input  qty, price                the fill
/// @input  makerFeePpm[M], takerFeePpm[M]  market fee rates (range-checked by the batch)
/// @output takerOrdersRootAfter, makerOrdersRootAfter
/// @output marketSel[M]              one-hot of the market
/// @output takerIsSell               the taker's side (0 buy, 1 sell)
/// @output notional                  qty * price
/// @output takerFee, makerFee
///
/// Assumptions: order fields behind a slot's order hash were range-checked when the
/// order entered (OrderEntry), so price, size < 2^40 and 2^32, side, tif valid; a
/// slot's filled <= size and seq < 2^56 hold because only OrderEntry and FillCheck
/// write slots. `t`, `n` (< 2^40) and the fee rates are range-checked by the batch.
/// The batch checks that both account slots are opened ones.
/// Constraint count (circom --O2): S = 2, M = 2: 4027; S = 16, M = 8: 12571 (tests/circuits/test_fill_check.py asserts it).
template FillCheck(S, M) {
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    assert(M >= 1 && M <= MAX_MARKETS());
    var LS = S \ 2;

    signal input used;
    signal input timestamp;
    signal input batchNumber;
    signal input takerAccountIndex;
    signal input makerAccountIndex;
    signal input takerOrdersRoot;
    signal input makerOrdersRoot;
    // order fields: 0 market, 1 side, 2 price, 3 size, 4 orderId, 5 expiry, 6 maxFeePpm, 7 tif
    signal input takerMarket;
    signal input takerSide;
    signal input takerPrice;
    signal input takerSize;
    signal input takerOrderId;
    signal input takerExpiry;
    signal input takerMaxFeePpm;
    signal input takerTif;
    signal input makerMarket;
    signal input makerSide;
    signal input makerPrice;
    signal input makerSize;
    signal input makerOrderId;
    signal input makerExpiry;
    signal input makerMaxFeePpm;
    signal input makerTif;
    signal input takerSlotOrderId;
    signal input takerSlotOrderHash;
    signal input takerSlotFilled;
    signal input takerSlotSeq;
    signal input takerSlotSiblings[LS][3];
    signal input makerSlotOrderId;
    signal input makerSlotOrderHash;
    signal input makerSlotFilled;
    signal input makerSlotSeq;
    signal input makerSlotSiblings[LS][3];
    signal input qty;
    signal input price;
    signal input makerFeePpm[M];
    signal input takerFeePpm[M];
    signal output takerOrdersRootAfter;
    signal output makerOrdersRootAfter;
    signal output marketSel[M];
    signal output takerIsSell;
    signal output notional;
    signal output takerFee;
    signal output makerFee;

    used * (used - 1) === 0;

    // --- Check (1): both slots hold these orders --------------------------------------
    component takerHash = OrderHash();
    takerHash.accountIndex <== takerAccountIndex;
    takerHash.market <== takerMarket;
    takerHash.side <== takerSide;
    takerHash.price <== takerPrice;
    takerHash.size <== takerSize;
    takerHash.orderId <== takerOrderId;
    takerHash.expiry <== takerExpiry;
    takerHash.maxFeePpm <== takerMaxFeePpm;
    takerHash.tif <== takerTif;
    component makerHash = OrderHash();
    makerHash.accountIndex <== makerAccountIndex;
    makerHash.market <== makerMarket;
    makerHash.side <== makerSide;
    makerHash.price <== makerPrice;
    makerHash.size <== makerSize;
    makerHash.orderId <== makerOrderId;
    makerHash.expiry <== makerExpiry;
    makerHash.maxFeePpm <== makerMaxFeePpm;
    makerHash.tif <== makerTif;
    used * (takerSlotOrderHash - takerHash.out) === 0;
    used * (makerSlotOrderHash - makerHash.out) === 0;
    used * (takerSlotOrderId - takerOrderId) === 0;
    used * (makerSlotOrderId - makerOrderId) === 0;

    // --- Check (2): same market, opposite sides, distinct accounts --------------------
    component market = OneHot(M);
    market.index <== takerMarket;
    marketSel <== market.sel;
    used * (makerMarket - takerMarket) === 0;
    used * (takerSide + makerSide - 1) === 0;
    takerIsSell <== takerSide;
    signal accountGapInverse;
    // Pinned by the constraint below: (taker - maker) * inverse = used (when used = 0
    // and the indices differ it must be 0; otherwise it is unused).
    accountGapInverse <-- (used == 0 || takerAccountIndex == makerAccountIndex) ? 0 : 1 / (takerAccountIndex - makerAccountIndex);
    (takerAccountIndex - makerAccountIndex) * accountGapInverse === used;

    // --- Check (3): taker not post-only (tif in {0, 1}), maker not IOC (tif in {0, 2})
    signal takerNotPostOnly <== takerTif * (takerTif - TIF_IOC());
    signal makerNotIoc <== makerTif * (makerTif - TIF_POST_ONLY());
    used * takerNotPostOnly === 0;
    used * makerNotIoc === 0;

    // --- Check (4): neither expired ------------------------------------------------
    component takerLive = UnsignedRange(TIME_BITS());
    takerLive.in <== used * (takerExpiry - timestamp);
    component makerLive = UnsignedRange(TIME_BITS());
    makerLive.in <== used * (makerExpiry - timestamp);

    // --- Check (5): prices cross; the fill is at the maker's price -------------------
    // buy - sell = (1 - 2*takerSide) * (takerPrice - makerPrice), |.| < 2^40.
    component cross = UnsignedRange(PRICE_BITS());
    signal buyMinusSell <== (1 - 2 * takerSide) * (takerPrice - makerPrice);
    cross.in <== used * buyMinusSell;
    used * (price - makerPrice) === 0;

    // --- Check (6): 1 <= qty < 2^32; filled + qty <= size on both sides --------------
    component qtyRange = UnsignedRange(SIZE_BITS());
    qtyRange.in <== qty;
    component qtyNonZero = UnsignedRange(SIZE_BITS());
    qtyNonZero.in <== used * (qty - 1);
    (1 - used) * qty === 0;
    component takerRoom = UnsignedRange(SIZE_BITS());
    takerRoom.in <== used * (takerSize - takerSlotFilled - qty);
    component makerRoom = UnsignedRange(SIZE_BITS());
    makerRoom.in <== used * (makerSize - makerSlotFilled - qty);

    // --- Check (7): the taker entered in this batch, after the maker ------------------
    component takerThisBatch = UnsignedRange(SEQ_ENTRY_BITS());
    takerThisBatch.in <== used * (takerSlotSeq - batchNumber * (1 << SEQ_ENTRY_BITS()));
    component makerFirst = UnsignedRange(TIME_BITS() + SEQ_ENTRY_BITS());
    makerFirst.in <== used * (takerSlotSeq - makerSlotSeq - 1);

    // --- Check (8): fees, each within its order's cap ------------------------------
    // qty < 2^32 and price (the maker's, or 0 when unused) < 2^40: N < 2^72.
    component priceRange = UnsignedRange(PRICE_BITS());
    priceRange.in <== price;
    notional <== qty * price;
    component takerRate = SelectOne(M);
    takerRate.sel <== market.sel;
    takerRate.values <== takerFeePpm;
    component makerRate = SelectOne(M);
    makerRate.sel <== market.sel;
    makerRate.values <== makerFeePpm;
    component takerFeeCalc = FeeFloor(PRICE_BITS() + SIZE_BITS());
    takerFeeCalc.notional <== notional;
    takerFeeCalc.ratePpm <== takerRate.out;
    takerFee <== takerFeeCalc.fee;
    component makerFeeCalc = FeeFloor(PRICE_BITS() + SIZE_BITS());
    makerFeeCalc.notional <== notional;
    makerFeeCalc.ratePpm <== makerRate.out;
    makerFee <== makerFeeCalc.fee;
    component takerCap = UnsignedRange(FEE_SCALE_BITS());
    takerCap.in <== used * (takerMaxFeePpm - takerRate.out);
    component makerCap = UnsignedRange(FEE_SCALE_BITS());
    makerCap.in <== used * (makerMaxFeePpm - makerRate.out);

    // --- Check (9): both slots rewritten with filled + qty ---------------------------
    component takerIdBits = Num2Bits(ORDER_ID_BITS());
    takerIdBits.in <== takerSlotOrderId;
    component makerIdBits = Num2Bits(ORDER_ID_BITS());
    makerIdBits.in <== makerSlotOrderId;

    component takerOld = SlotLeaf();
    takerOld.orderId <== takerSlotOrderId;
    takerOld.orderHash <== takerSlotOrderHash;
    takerOld.filled <== takerSlotFilled;
    takerOld.seq <== takerSlotSeq;
    component takerNew = SlotLeaf();
    takerNew.orderId <== takerSlotOrderId;
    takerNew.orderHash <== takerSlotOrderHash;
    takerNew.filled <== takerSlotFilled + qty;
    takerNew.seq <== takerSlotSeq;
    component makerOld = SlotLeaf();
    makerOld.orderId <== makerSlotOrderId;
    makerOld.orderHash <== makerSlotOrderHash;
    makerOld.filled <== makerSlotFilled;
    makerOld.seq <== makerSlotSeq;
    component makerNew = SlotLeaf();
    makerNew.orderId <== makerSlotOrderId;
    makerNew.orderHash <== makerSlotOrderHash;
    makerNew.filled <== makerSlotFilled + qty;
    makerNew.seq <== makerSlotSeq;

    component takerWrite = QuadMerkleUpdate(LS);
    takerWrite.oldLeaf <== takerOld.leaf;
    takerWrite.newLeaf <== takerNew.leaf;
    takerWrite.siblings <== takerSlotSiblings;
    component makerWrite = QuadMerkleUpdate(LS);
    makerWrite.oldLeaf <== makerOld.leaf;
    makerWrite.newLeaf <== makerNew.leaf;
    makerWrite.siblings <== makerSlotSiblings;
    for (var l = 0; l < LS; l++) {
        takerWrite.pathIndex[l] <== takerIdBits.out[2 * l] + 2 * takerIdBits.out[2 * l + 1];
        makerWrite.pathIndex[l] <== makerIdBits.out[2 * l] + 2 * makerIdBits.out[2 * l + 1];
    }
    takerWrite.oldRoot === takerOrdersRoot;
    makerWrite.oldRoot === makerOrdersRoot;
    takerOrdersRootAfter <== takerWrite.newRoot;
    makerOrdersRootAfter <== makerWrite.newRoot;
}
