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

/// The rules of one fill and its maker's order-slot write (docs/protocol.md, section 7,
/// step 4).
///
/// The taker is an order that entered in this batch (the batch hands over its fields
/// from that entry, whose signature and ranges OrderEntry checked, and sums the fill's
/// quantity into the entry's `filled`, which OrderEntry bounds by the size and writes to
/// the slot once). So only the maker's slot is opened and rewritten here.
///
/// Proves, when `used = 1`:
///  (1) the maker's slot leaf `H_SLOT(slotOrderId, slotOrderHash, slotFilled, slotSeq)`
///      is at slot `slotOrderId mod 2^S` of `makerOrdersRoot` and holds this order:
///      `slotOrderHash = H_ORDER(makerAccountIndex, maker fields...)`,
///      `slotOrderId = makerOrderId`;
///  (2) same market; opposite sides; distinct accounts;
///  (3) the taker is not post-only, the maker is not IOC;
///  (4) the maker is not expired: `expiry >= t` (the taker's expiry was checked at
///      entry against the same t);
///  (5) prices cross (`buy.price >= sell.price`) and `price = maker's price`;
///  (6) `1 <= qty < 2^32` and `makerSlotFilled + qty <= makerSize`;
///  (7) the maker entered before the taker: `makerSlotSeq < takerSeq`;
///  (8) fees: `fee = floor(qty * price * ratePpm / 10^6)` with the market's taker /
///      maker rate, the maker's rate at most its `maxFeePpm` (the taker's cap was
///      checked at entry against the same rates);
///  (9) the maker's slot is rewritten with `filled + qty`: `makerOrdersRootAfter`.
/// When `used = 0`: `qty = 0`, so the rewritten leaf equals the old one and the root
/// does not move; (1)'s opening must still be valid (the builder pads with a real
/// opening, docs/batch-witness.md), every other rule is off.
///
/// @param  S  order-slot tree bits, even, 2..16
/// @param  M  markets, 1..8
/// @input  used                      0 or 1 (checked)
/// @input  timestamp                 t (range-checked by the batch)
/// @input  takerSeq                  the taker entry's seq `n * 2^16 + e` (the batch computes it)
/// @input  takerAccountIndex, makerAccountIndex   from the account slots
/// @input  makerOrdersRoot           the maker account's current order root
/// @input  taker{Market,Side,Price,Tif}           from the taker's entry
/// @input  maker{Market,Side,Price,Size,OrderId,Expiry,MaxFeePpm,Tif}
/// @input  makerSlot{OrderId,OrderHash,Filled,Seq}, makerSlotSiblings[S/2][3]
/// @input  qty, price                the fill
/// @input  makerFeePpm[M], takerFeePpm[M]  market fee rates (range-checked by the batch)
/// @output makerOrdersRootAfter
/// @output marketSel[M]              one-hot of the market
/// @output takerIsSell               the taker's side (0 buy, 1 sell)
/// @output notional                  qty * price
/// @output takerFee, makerFee
///
/// Assumptions: the taker's fields were range-checked by OrderEntry (market < M, side a
/// bit, tif in {0, 1, 2}, price < 2^40) and the batch binds them to a used order entry
/// of this batch; order fields behind a slot's order hash were range-checked when that
/// order entered, and a slot's filled <= size and seq < 2^56 hold because only
/// OrderEntry and FillCheck write slots. `t`, `n` (< 2^40) and the fee rates are
/// range-checked by the batch. The batch checks that both account slots are opened ones.
/// Constraint count (circom --O2): S = 2, M = 2: 2,229; S = 8, M = 8: 4,074
/// (tests/circuits/test_fill_check.py asserts it).
template FillCheck(S, M) {
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    assert(M >= 1 && M <= MAX_MARKETS());
    var LS = S \ 2;

    signal input used;
    signal input timestamp;
    signal input takerSeq;
    signal input takerAccountIndex;
    signal input makerAccountIndex;
    signal input makerOrdersRoot;
    signal input takerMarket;
    signal input takerSide;
    signal input takerPrice;
    signal input takerTif;
    signal input makerMarket;
    signal input makerSide;
    signal input makerPrice;
    signal input makerSize;
    signal input makerOrderId;
    signal input makerExpiry;
    signal input makerMaxFeePpm;
    signal input makerTif;
    signal input makerSlotOrderId;
    signal input makerSlotOrderHash;
    signal input makerSlotFilled;
    signal input makerSlotSeq;
    signal input makerSlotSiblings[LS][3];
    signal input qty;
    signal input price;
    signal input makerFeePpm[M];
    signal input takerFeePpm[M];
    signal output makerOrdersRootAfter;
    signal output marketSel[M];
    signal output takerIsSell;
    signal output notional;
    signal output takerFee;
    signal output makerFee;

    used * (used - 1) === 0;

    // --- Check (1): the maker's slot holds this order ---------------------------------
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
    used * (makerSlotOrderHash - makerHash.out) === 0;
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

    // --- Check (4): the maker is not expired -----------------------------------------
    component makerLive = UnsignedRange(TIME_BITS());
    makerLive.in <== used * (makerExpiry - timestamp);

    // --- Check (5): prices cross; the fill is at the maker's price -------------------
    // buy - sell = (1 - 2*takerSide) * (takerPrice - makerPrice), |.| < 2^40.
    component cross = UnsignedRange(PRICE_BITS());
    signal buyMinusSell <== (1 - 2 * takerSide) * (takerPrice - makerPrice);
    cross.in <== used * buyMinusSell;
    used * (price - makerPrice) === 0;

    // --- Check (6): 1 <= qty < 2^32; the maker's filled + qty <= size ----------------
    component qtyRange = UnsignedRange(SIZE_BITS());
    qtyRange.in <== qty;
    component qtyNonZero = UnsignedRange(SIZE_BITS());
    qtyNonZero.in <== used * (qty - 1);
    (1 - used) * qty === 0;
    component makerRoom = UnsignedRange(SIZE_BITS());
    makerRoom.in <== used * (makerSize - makerSlotFilled - qty);

    // --- Check (7): the maker entered before the taker --------------------------------
    component makerFirst = UnsignedRange(TIME_BITS() + SEQ_ENTRY_BITS());
    makerFirst.in <== used * (takerSeq - makerSlotSeq - 1);

    // --- Check (8): fees, the maker's within its cap --------------------------------
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
    component makerCap = UnsignedRange(FEE_SCALE_BITS());
    makerCap.in <== used * (makerMaxFeePpm - makerRate.out);

    // --- Check (9): the maker's slot rewritten with filled + qty ---------------------
    component makerIdBits = Num2Bits(ORDER_ID_BITS());
    makerIdBits.in <== makerSlotOrderId;
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

    component makerWrite = QuadMerkleUpdate(LS);
    makerWrite.oldLeaf <== makerOld.leaf;
    makerWrite.newLeaf <== makerNew.leaf;
    makerWrite.siblings <== makerSlotSiblings;
    for (var l = 0; l < LS; l++) {
        makerWrite.pathIndex[l] <== makerIdBits.out[2 * l] + 2 * makerIdBits.out[2 * l + 1];
    }
    makerWrite.oldRoot === makerOrdersRoot;
    makerOrdersRootAfter <== makerWrite.newRoot;
}
