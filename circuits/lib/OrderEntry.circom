pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/eddsaposeidon.circom";
include "Constants.circom";
include "UnsignedRange.circom";
include "OneHot.circom";
include "SelectOne.circom";
include "OrderHash.circom";
include "SlotLeaf.circom";
include "QuadMerkleUpdate.circom";
include "OnCurveIfEnabled.circom";

/// One entry of a batch: an order or a cancel enters its account's order slot
/// (docs/protocol.md, sections 5 and 7 phase 3).
///
/// Proves, when `used = 1`:
///  (1) the signature `(R8, S)` is a valid EdDSA-Poseidon signature (circomlib
///      EdDSAPoseidonVerifier: S < subgroup order, A not small-order) by
///      `(pubX, pubY)` over `orderHash` (an order) or `cancelHash` (a cancel),
///      with both `A` and `R8` on the curve;
///  (2) for an order: market < M, side in {0, 1}, tif in {0, 1, 2},
///      1 <= price < 2^40 and price = tickSize[market] * q, 1 <= size < 2^32,
///      t <= expiry < 2^40, maxFeePpm <= 10^6, maxFeePpm >= makerFeePpm[market]
///      unless IOC, maxFeePpm >= takerFeePpm[market] unless post-only;
///  (3) 1 <= orderId < 2^64 and orderId > the old slot's orderId;
///  (4) the old slot leaf `H_SLOT(oldSlot...)` is at slot `orderId mod 2^S` of
///      `ordersRootBefore`, and `ordersRootAfter` is that tree with the slot
///      replaced by `H_SLOT(orderId, orderHash or 0 for a cancel, filled, seq)`;
///  (5) `0 <= filled <= size` for an order, `filled = 0` otherwise (a cancel or
///      padding). `filled` is what the order fills as the taker in this batch: the batch
///      proves it is the sum of the quantities of the fills that name this entry as
///      their taker, so the slot is written once, here, and not again by every taker
///      fill; and since a used fill moves at least one lot, `filled = 0` is what keeps a
///      cancel or a padding entry from being any fill's taker.
/// When `used = 0` the slot is rewritten with its old leaf: `ordersRootAfter =
/// ordersRootBefore` (the opening must still be valid: the batch builder pads with
/// a real opening, docs/batch-witness.md).
///
/// @param  S   order-slot tree bits, even, 2..16 (S/2 levels)
/// @param  M   markets, 1..8
/// @input  used, isCancel          0 or 1 (checked)
/// @input  accountIndex            index of the signer's account (from the account slot)
/// @input  pubX, pubY              its key (from its leaf)
/// @input  market, side, price, size, orderId, expiry, maxFeePpm, tif   order fields
///                                 (for a cancel only orderId; the others 0)
/// @input  sigR8x, sigR8y, sigS    the signature
/// @input  oldSlotOrderId, oldSlotOrderHash, oldSlotFilled, oldSlotSeq  the replaced leaf
/// @input  slotSiblings[S/2][3]    its opening
/// @input  filled                  the order's taker fills in this batch (the batch sums them)
/// @input  ordersRootBefore        the account's order root before the entry
/// @input  seq                     `n * 2^16 + e` (the batch computes it)
/// @input  timestamp               batch time t (range-checked by the batch)
/// @input  tickSize[M], makerFeePpm[M], takerFeePpm[M]  market parameters (range-checked by the batch)
/// @output ordersRootAfter
/// @output orderHash               H_ORDER of the fields (whether or not used)
///
/// Assumptions: the slot leaf opened (`oldSlot...`) was written by an earlier entry
/// or fill (so `oldSlotOrderId < 2^64`); market parameters and t are range-checked.
/// Constraint count (circom --O2): S = 2, M = 2: 6,651; S = 8, M = 8: 8,502
/// (EdDSAPoseidonVerifier alone: 4,217) (tests/circuits/test_order_entry.py asserts it).
template OrderEntry(S, M) {
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    assert(M >= 1 && M <= MAX_MARKETS());
    var LS = S \ 2;

    signal input used;
    signal input isCancel;
    signal input accountIndex;
    signal input pubX;
    signal input pubY;
    signal input market;
    signal input side;
    signal input price;
    signal input size;
    signal input orderId;
    signal input expiry;
    signal input maxFeePpm;
    signal input tif;
    signal input sigR8x;
    signal input sigR8y;
    signal input sigS;
    signal input oldSlotOrderId;
    signal input oldSlotOrderHash;
    signal input oldSlotFilled;
    signal input oldSlotSeq;
    signal input slotSiblings[LS][3];
    signal input filled;
    signal input ordersRootBefore;
    signal input seq;
    signal input timestamp;
    signal input tickSize[M];
    signal input makerFeePpm[M];
    signal input takerFeePpm[M];
    signal output ordersRootAfter;
    signal output orderHash;

    // Check (0): the flags are bits; isOrder = used and not a cancel.
    used * (used - 1) === 0;
    isCancel * (isCancel - 1) === 0;
    signal isOrder <== used * (1 - isCancel);

    // --- Check (1): the signature -------------------------------------------------
    component oh = OrderHash();
    oh.accountIndex <== accountIndex;
    oh.market <== market;
    oh.side <== side;
    oh.price <== price;
    oh.size <== size;
    oh.orderId <== orderId;
    oh.expiry <== expiry;
    oh.maxFeePpm <== maxFeePpm;
    oh.tif <== tif;
    orderHash <== oh.out;

    component ch = PoseidonEx(2, 1);
    ch.initialState <== TAG_CANCEL();
    ch.inputs[0] <== accountIndex;
    ch.inputs[1] <== orderId;

    signal message <== oh.out + isCancel * (ch.out[0] - oh.out);

    component keyOnCurve = OnCurveIfEnabled();
    keyOnCurve.enabled <== used;
    keyOnCurve.x <== pubX;
    keyOnCurve.y <== pubY;
    component rOnCurve = OnCurveIfEnabled();
    rOnCurve.enabled <== used;
    rOnCurve.x <== sigR8x;
    rOnCurve.y <== sigR8y;

    component sig = EdDSAPoseidonVerifier();
    sig.enabled <== used;
    sig.Ax <== pubX;
    sig.Ay <== pubY;
    sig.S <== sigS;
    sig.R8x <== sigR8x;
    sig.R8y <== sigR8y;
    sig.M <== message;

    // --- Check (2): the order's fields --------------------------------------------
    // (2a) market < M (padding and cancels carry market 0).
    component marketSel = OneHot(M);
    marketSel.index <== market;
    // (2b) side is a bit, tif in {0, 1, 2}.
    side * (side - 1) === 0;
    component tifSel = OneHot(3);
    tifSel.index <== tif;
    // (2c) 1 <= price < 2^40, price = tickSize[market] * q with 0 <= q < 2^40.
    component priceRange = UnsignedRange(PRICE_BITS());
    priceRange.in <== price;
    component priceNonZero = UnsignedRange(PRICE_BITS());
    priceNonZero.in <== isOrder * (price - 1);
    component tick = SelectOne(M);
    tick.sel <== marketSel.sel;
    tick.values <== tickSize;
    signal ticks;
    // Pinned by (2c) when isOrder = 1: price = tick * ticks, ticks range-checked below
    // (otherwise only range-checked, and unused).
    ticks <-- tick.out == 0 ? 0 : price \ tick.out;
    component ticksRange = UnsignedRange(PRICE_BITS());
    ticksRange.in <== ticks;
    signal onTick <== tick.out * ticks;
    isOrder * (price - onTick) === 0;
    // (2d) 1 <= size < 2^32.
    component sizeRange = UnsignedRange(SIZE_BITS());
    sizeRange.in <== size;
    component sizeNonZero = UnsignedRange(SIZE_BITS());
    sizeNonZero.in <== isOrder * (size - 1);
    // (2e) t <= expiry < 2^40.
    component expiryRange = UnsignedRange(TIME_BITS());
    expiryRange.in <== expiry;
    component notExpired = UnsignedRange(TIME_BITS());
    notExpired.in <== isOrder * (expiry - timestamp);
    // (2f) 0 <= maxFeePpm <= 10^6, and it covers the fees the order could pay.
    component feeRange = UnsignedRange(FEE_SCALE_BITS());
    feeRange.in <== maxFeePpm;
    component feeCap = UnsignedRange(FEE_SCALE_BITS());
    feeCap.in <== FEE_SCALE() - maxFeePpm;
    component makerFee = SelectOne(M);
    makerFee.sel <== marketSel.sel;
    makerFee.values <== makerFeePpm;
    component takerFee = SelectOne(M);
    takerFee.sel <== marketSel.sel;
    takerFee.values <== takerFeePpm;
    signal asMaker <== isOrder * (1 - tifSel.sel[TIF_IOC()]);
    signal asTaker <== isOrder * (1 - tifSel.sel[TIF_POST_ONLY()]);
    component coversMaker = UnsignedRange(FEE_SCALE_BITS());
    coversMaker.in <== asMaker * (maxFeePpm - makerFee.out);
    component coversTaker = UnsignedRange(FEE_SCALE_BITS());
    coversTaker.in <== asTaker * (maxFeePpm - takerFee.out);

    // --- Check (3): 1 <= orderId < 2^64 and orderId > the old slot's id -----------
    component idBits = Num2Bits(ORDER_ID_BITS());
    idBits.in <== orderId;
    component idIncreases = UnsignedRange(ORDER_ID_BITS());
    idIncreases.in <== used * (orderId - oldSlotOrderId - 1);

    // --- Check (4): the slot write --------------------------------------------------
    component oldLeaf = SlotLeaf();
    oldLeaf.orderId <== oldSlotOrderId;
    oldLeaf.orderHash <== oldSlotOrderHash;
    oldLeaf.filled <== oldSlotFilled;
    oldLeaf.seq <== oldSlotSeq;
    component newLeaf = SlotLeaf();
    newLeaf.orderId <== orderId;
    newLeaf.orderHash <== (1 - isCancel) * oh.out;
    newLeaf.filled <== filled;
    newLeaf.seq <== seq;

    component update = QuadMerkleUpdate(LS);
    update.oldLeaf <== oldLeaf.leaf;
    update.newLeaf <== oldLeaf.leaf + used * (newLeaf.leaf - oldLeaf.leaf);
    for (var l = 0; l < LS; l++) {
        update.pathIndex[l] <== idBits.out[2 * l] + 2 * idBits.out[2 * l + 1];
    }
    update.siblings <== slotSiblings;
    update.oldRoot === ordersRootBefore;
    ordersRootAfter <== update.newRoot;

    // --- Check (5): 0 <= filled <= size for an order, 0 otherwise -------------------
    component filledRange = UnsignedRange(SIZE_BITS());
    filledRange.in <== filled;
    (1 - isOrder) * filled === 0;
    component filledRoom = UnsignedRange(SIZE_BITS());
    filledRoom.in <== isOrder * (size - filled);
}
