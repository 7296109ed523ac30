pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";
include "Constants.circom";
include "UnsignedRange.circom";
include "OrderHash.circom";
include "SlotLeaf.circom";
include "QuadMerkleUpdate.circom";
include "EdDSAPoseidonValid.circom";

/// The state part of one inbox message: is it a valid order or cancel, and if so write it
/// into its account's order slot (docs/inbox.md, "Validity"; docs/protocol.md section 5).
///
/// Proves: `valid = decodable * accountOk * sigOk * idOk * (isCancel + isOrder * orderOk)`
/// where, each a bit computed from the inputs (no hint decides one):
///  (1) sigOk (an output): `r8Ok` and EdDSAPoseidonValid(pub, R8, S) over `withdrawHash`
///      when `isWithdrawal`, else `orderHash` (kind 0) or `cancelHash` (kind 1);
///  (2) orderOk: market < M, tif != 3, 1 <= price, price = q * tick + rem with rem = 0
///      (q, rem range-checked, rem < tick: the division is unique), 1 <= size,
///      t <= expiry, maxFeePpm <= 10^6, maxFeePpm >= makerFeePpm unless IOC,
///      maxFeePpm >= takerFeePpm unless post-only;
///  (3) idOk: orderId > the opened slot's orderId;
///  (4) the old slot leaf is at `orderId mod 2^S` of `ordersRootBefore` (always: the
///      opening must hold for every message), and `ordersRootAfter` is that tree with the
///      slot replaced by `H_SLOT(orderId, orderHash or 0, filled, seq)` when valid, else
///      unchanged;
///  (5) `filled <= size` for a valid order, `filled = 0` otherwise.
///
/// @param  S, M               order-slot bits, markets
/// @input  decodable, accountOk   bits from InboxMessage and the batch (the account index
///                            fits D bits, is opened in the slot the batch selected, and is
///                            not the insurance fund)
/// @input  kind, account, market, side, price, size, orderId, orderIdBits[64], expiry,
///         maxFeePpm, tif, tifBits[2], r8x, r8y, r8Ok, sigS   from InboxMessage
/// @input  pubX, pubY         the account's key (its leaf; (0, 0) if empty)
/// @input  oldSlot{OrderId,OrderHash,Filled,Seq}, slotSiblings   the opened slot
/// @input  filled, ordersRootBefore, seq, timestamp, tickSize[M], makerFeePpm[M],
///         takerFeePpm[M]     as for OrderEntry
/// @input  isWithdrawal, withdrawHash   a withdrawal message (InboxMessage's wdDecodable,
///                            then `decodable = 0`, so `valid = 0`) and the hash its
///                            signature is over (the caller's; 0 and anything when not one)
/// @output valid, sigOk, ordersRootAfter, orderHash
///
/// Assumptions: field widths come from a bit decomposition (InboxMessage), and
/// `orderIdBits`, `tifBits` are the bits of `orderId`, `tif` (the batch wires all of them
/// from InboxMessage; this template does not check it); `r8Ok` and `isWithdrawal` are bits; market
/// parameters and t are range-checked by the batch (BatchParams), every tickSize >= 1;
/// the opened slot was written by a proof (its orderId < 2^64).
/// Constraint count (circom --O2): S = 2, M = 2: 6,738; S = 8, M = 8: 8,595
/// (tests/circuits/test_message_entry.py asserts both).
template MessageEntry(S, M) {
    assert(S >= 2 && S <= MAX_SLOT_BITS() && S % 2 == 0);
    assert(M >= 1 && M <= MAX_MARKETS());
    var LS = S \ 2;

    signal input decodable;
    signal input accountOk;
    signal input kind;
    signal input account;
    signal input market;
    signal input side;
    signal input price;
    signal input size;
    signal input orderId;
    signal input orderIdBits[64];
    signal input expiry;
    signal input maxFeePpm;
    signal input tif;
    signal input tifBits[2];
    signal input r8x;
    signal input r8y;
    signal input r8Ok;
    signal input sigS;
    signal input pubX;
    signal input pubY;
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
    signal input isWithdrawal;
    signal input withdrawHash;
    signal output valid;
    signal output sigOk;
    signal output ordersRootAfter;
    signal output orderHash;

    // --- Check (1): the signature --------------------------------------------------------
    component oh = OrderHash();
    oh.accountIndex <== account;
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
    ch.inputs[0] <== account;
    ch.inputs[1] <== orderId;
    signal orderOrCancel <== oh.out + kind * (ch.out[0] - oh.out);
    signal signed <== orderOrCancel + isWithdrawal * (withdrawHash - orderOrCancel);

    component sig = EdDSAPoseidonValid();
    sig.Ax <== pubX;
    sig.Ay <== pubY;
    // No point (r8Ok = 0): the identity goes in, so R8 is always on the curve there.
    sig.R8x <== r8Ok * r8x;
    sig.R8y <== r8y + (1 - r8Ok) * (1 - r8y);
    sig.S <== sigS;
    sig.M <== signed;
    sigOk <== r8Ok * sig.valid;

    // --- Check (2): the order's rules --------------------------------------------------------
    component isMarket[M];
    var marketOk = 0;
    var tick = 0;
    var makerFee = 0;
    var takerFee = 0;
    signal tickPart[M];
    signal makerPart[M];
    signal takerPart[M];
    for (var m = 0; m < M; m++) {
        isMarket[m] = IsEqual();
        isMarket[m].in <== [market, m];
        tickPart[m] <== isMarket[m].out * tickSize[m];
        makerPart[m] <== isMarket[m].out * makerFeePpm[m];
        takerPart[m] <== isMarket[m].out * takerFeePpm[m];
        marketOk += isMarket[m].out;
        tick += tickPart[m];
        makerFee += makerPart[m];
        takerFee += takerPart[m];
    }
    signal knownMarket <== marketOk;
    // A tick of 1 stands in for an unknown market, so the division below always exists.
    signal tickSafe <== tick + 1 - knownMarket;
    signal q;
    signal rem;
    // Pinned by price = q * tickSafe + rem with 0 <= rem < tickSafe and q < 2^40.
    q <-- price \ tickSafe;
    rem <-- price % tickSafe;
    price === q * tickSafe + rem;
    component qRange = UnsignedRange(PRICE_BITS());
    qRange.in <== q;
    component remRange = UnsignedRange(PRICE_BITS());
    remRange.in <== rem;
    component remBelowTick = LessThan(PRICE_BITS());
    remBelowTick.in <== [rem, tickSafe];
    remBelowTick.out === 1;
    component onTick = IsZero();
    onTick.in <== rem;

    component priceZero = IsZero();
    priceZero.in <== price;
    component sizeZero = IsZero();
    sizeZero.in <== size;
    component expired = LessThan(TIME_BITS());
    expired.in <== [expiry, timestamp];
    component feeTooHigh = LessThan(FEE_SCALE_BITS());
    feeTooHigh.in <== [FEE_SCALE(), maxFeePpm];
    component belowMaker = LessThan(FEE_SCALE_BITS());
    belowMaker.in <== [maxFeePpm, makerFee];
    component belowTaker = LessThan(FEE_SCALE_BITS());
    belowTaker.in <== [maxFeePpm, takerFee];
    signal isIoc <== tifBits[0] * (1 - tifBits[1]);
    signal isPostOnly <== (1 - tifBits[0]) * tifBits[1];
    signal tifBad <== tifBits[0] * tifBits[1];
    signal makerShort <== (1 - isIoc) * belowMaker.out;
    signal takerShort <== (1 - isPostOnly) * belowTaker.out;

    signal r1 <== knownMarket * (1 - tifBad);
    signal r2 <== r1 * (1 - priceZero.out);
    signal r3 <== r2 * onTick.out;
    signal r4 <== r3 * (1 - sizeZero.out);
    signal r5 <== r4 * (1 - expired.out);
    signal r6 <== r5 * (1 - feeTooHigh.out);
    signal r7 <== r6 * (1 - makerShort);
    signal orderOk <== r7 * (1 - takerShort);

    // --- Check (3): the order id rises -----------------------------------------------------
    component idRises = LessThan(ORDER_ID_BITS());
    idRises.in <== [oldSlotOrderId, orderId];

    kind * (kind - 1) === 0;
    signal v1 <== decodable * accountOk;
    signal v2 <== v1 * sigOk;
    signal v3 <== v2 * idRises.out;
    signal rules <== kind + (1 - kind) * orderOk;
    valid <== v3 * rules;
    signal validOrder <== valid * (1 - kind);

    // --- Check (4): the slot write ---------------------------------------------------------------
    component oldLeaf = SlotLeaf();
    oldLeaf.orderId <== oldSlotOrderId;
    oldLeaf.orderHash <== oldSlotOrderHash;
    oldLeaf.filled <== oldSlotFilled;
    oldLeaf.seq <== oldSlotSeq;
    component newLeaf = SlotLeaf();
    newLeaf.orderId <== orderId;
    newLeaf.orderHash <== (1 - kind) * oh.out;
    newLeaf.filled <== filled;
    newLeaf.seq <== seq;
    component update = QuadMerkleUpdate(LS);
    update.oldLeaf <== oldLeaf.leaf;
    update.newLeaf <== oldLeaf.leaf + valid * (newLeaf.leaf - oldLeaf.leaf);
    for (var l = 0; l < LS; l++) {
        update.pathIndex[l] <== orderIdBits[2 * l] + 2 * orderIdBits[2 * l + 1];
    }
    update.siblings <== slotSiblings;
    update.oldRoot === ordersRootBefore;
    ordersRootAfter <== update.newRoot;

    // --- Check (5): filled -------------------------------------------------------------------
    component filledRange = UnsignedRange(SIZE_BITS());
    filledRange.in <== filled;
    (1 - validOrder) * filled === 0;
    component filledRoom = UnsignedRange(SIZE_BITS());
    filledRoom.in <== validOrder * (size - filled);
}
