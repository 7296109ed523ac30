pragma circom 2.1.0;

include "circomlib/circuits/comparators.circom";
include "Constants.circom";
include "OneHot.circom";
include "SelectOne.circom";
include "SignedRange.circom";
include "FeeFloor.circom";
include "MarginBit.circom";
include "HeadSlot.circom";
include "BookSideSelect.circom";
include "EntryMatch.circom";

/// One entry's matching against the committed book, on the batch's running state
/// (docs/book.md, "One entry in the batch"): the taker's market sides selected
/// (BookSideSelect), its F steps decided by the rules (EntryMatch) on facts proven from
/// the state as it stands at each step (HeadSlot on the maker's order slot, MarginBit for
/// both sides of the fill the rules weigh), each fill applied to the account slots, and
/// both sides written back.
///
/// Proves, for step s with `q = stepQty[s]`, `w = stepTryQty[s]` (EntryMatch fixes both:
/// `q` is `w` for a fill, else 0), the maker's price `p` (HeadSlot binds it to the order),
/// `dir = 1` for a buying taker and `-1` for a selling one, the taker's account slot `kT`
/// and the maker's `kM = stepMakerSlot[s]`:
///  (1) an acting step's maker is in a used account slot holding `stepMakerAccount[s]`;
///  (2) facts: HeadSlot on slot `kM`'s current order root gives live, left and rank;
///      `takerOk` / `makerOk` are MarginBit on each side's current state and the state
///      after a fill of `w` at `p` with its fee (`floor(w * p * rate / 10^6)`, the
///      market's taker / maker rate), the fee account's own fee income left out (section
///      11, item 4);
///  (3) a fill (`q != 0`) moves `q * p` and `q` between the sides (buyer `C -= N`,
///      `P += q`), charges both fees and credits them to the fee account (slot 0), whose
///      collateral stays within `|C| < 2^63`; the maker's slot write moves its order
///      root; a step that does not fill moves no collateral or position;
///  (4) the sides after EntryMatch are written back to their places among the `2M`.
///
/// @param  F, levels, capLevels   as EntryMatch
/// @param  K, S, M                account slots, order-slot bits, markets (as Batch)
/// @input  enabled                a valid order enters (bit; 0: nothing happens)
/// @input  takerSlot              its account slot (< K, the batch's entryAccountSlot)
/// @input  takerOrderId, takerMarket, takerSide, takerPrice, takerSize, takerTif, takerSeq
/// @input  timestamp, makerFeePpm[M], takerFeePpm[M], imrBps[M], mmrBps[M], mark[M]
/// @input  accUsed[K], accIndex[K], collIn[K], posIn[K][M], ordersRootIn[K]
/// @input  sideCap[2M][..], sideHeadPtr[2M], sideHeadRank[2M], sideFreePtr[2M],
///         sideFrontier[2M]   the running book sides
/// @input  the EntryMatch claims and openings per step, `stepMakerSlot[F]`, HeadSlot's
///         slot opening and order body per step (`maker*[F]`), the insertion witness
/// @output collOut[K], posOut[K][M], ordersRootOut[K], side*Out[2M] (the running state
///         after the entry), filled (the taker's fills, for its slot's `filled`)
///
/// Assumptions: EntryMatch's and HeadSlot's, which the batch meets: the running state was
/// written by this batch's earlier steps and proofs (collateral |C| < 2^63, positions
/// |P| < 2^40, slots and sides as their templates assume); with `enabled = 1` the taker's
/// fields were range-checked by MessageEntry, its slot written (with `filled`, checked
/// by the batch against the output) before this entry's steps, `takerSeq = n * 2^16 + e`,
/// and `kT` holds the taker's account (not the insurance fund); fee rates, marks and
/// ratios are BatchParams' (range-checked), `timestamp < 2^40`; account slot 0 is used and
/// holds the fee account (fees are credited to slot 0), used slots hold distinct indices
/// (a maker is read from the one slot holding its account), and `takerSlot < K` even for
/// a no-op message (its one-hot is not masked): Batch's phase 1 and message slots give
/// all three. Every head an entry meets, stale ones included, must have its account in
/// a used slot, or there is no witness: the operator opens those accounts (or ends the
/// batch earlier).
/// Accepted limit: the fee account's collateral after a fill's fee credit is asserted
/// below 2^63 (`feeRange`), not folded into a rule, so a fee account within a fill's fees
/// of 2^63 units (about 9.2 * 10^12 of a 6-decimal token) would halt matching.
/// Constraint count (circom --O2): see docs/circuits.md (tests/circuits/test_entry_book.py
/// asserts it).
template EntryBook(F, levels, capLevels, K, S, M) {
    assert(F >= 1 && K >= 2);
    var N = 4 ** capLevels;
    var LS = S \ 2;
    signal input enabled;
    signal input takerSlot;
    signal input takerOrderId;
    signal input takerMarket;
    signal input takerSide;
    signal input takerPrice;
    signal input takerSize;
    signal input takerTif;
    signal input takerSeq;
    signal input timestamp;
    signal input makerFeePpm[M];
    signal input takerFeePpm[M];
    signal input imrBps[M];
    signal input mmrBps[M];
    signal input mark[M];
    signal input accUsed[K];
    signal input accIndex[K];
    signal input collIn[K];
    signal input posIn[K][M];
    signal input ordersRootIn[K];
    signal input sideCap[2 * M][N];
    signal input sideHeadPtr[2 * M];
    signal input sideHeadRank[2 * M];
    signal input sideFreePtr[2 * M];
    signal input sideFrontier[2 * M];
    signal input stepAct[F];
    signal input stepPop[F];
    signal input stepQty[F];
    signal input stepCancel[F];
    signal input stepTryQty[F];
    signal input stepMakerAccount[F];
    signal input stepMakerOrderId[F];
    signal input stepMakerSlot[F];
    signal input stepLeafRef[F];
    signal input stepLeafNextPtr[F];
    signal input stepLeafNextRank[F];
    signal input stepSiblings[F][levels][3];
    signal input makerSlotOrderId[F];
    signal input makerSlotOrderHash[F];
    signal input makerSlotFilled[F];
    signal input makerSlotSeq[F];
    signal input makerSlotSiblings[F][LS][3];
    signal input makerMarket[F];
    signal input makerSide[F];
    signal input makerPrice[F];
    signal input makerSize[F];
    signal input makerExpiry[F];
    signal input makerMaxFeePpm[F];
    signal input makerTif[F];
    signal input rest;
    signal input insAtHead;
    signal input insAllocNextFree;
    signal input insAllocSiblings[levels][3];
    signal input insPredPtr;
    signal input insPredRank;
    signal input insPredRef;
    signal input insPredNextPtr;
    signal input insPredNextRank;
    signal input insPredSiblings[levels][3];
    signal output collOut[K];
    signal output posOut[K][M];
    signal output ordersRootOut[K];
    signal output sideCapOut[2 * M][N];
    signal output sideHeadPtrOut[2 * M];
    signal output sideHeadRankOut[2 * M];
    signal output sideFreePtrOut[2 * M];
    signal output sideFrontierOut[2 * M];
    signal output filled;

    // ---- the taker: masked market and side (a no-op message's select nothing that fails)
    signal market <== enabled * takerMarket;
    signal side <== enabled * takerSide;
    signal dir <== 1 - 2 * side;
    component marketSel = OneHot(M);
    marketSel.index <== market;
    component takerRate = SelectOne(M);
    takerRate.sel <== marketSel.sel;
    takerRate.values <== takerFeePpm;
    component makerRate = SelectOne(M);
    makerRate.sel <== marketSel.sel;
    makerRate.values <== makerFeePpm;
    component takerSel = OneHot(K);
    takerSel.index <== takerSlot;
    component takerIndex = SelectOne(K);
    takerIndex.sel <== takerSel.sel;
    takerIndex.values <== accIndex;

    component sides = BookSideSelect(M, capLevels);
    sides.market <== market;
    sides.side <== side;
    sides.cap <== sideCap;
    sides.headPtr <== sideHeadPtr;
    sides.headRank <== sideHeadRank;
    sides.freePtr <== sideFreePtr;
    sides.frontier <== sideFrontier;

    // ---- running account state through the steps ----
    signal coll[F + 1][K];
    signal pos[F + 1][K][M];
    signal root[F + 1][K];
    coll[0] <== collIn;
    pos[0] <== posIn;
    root[0] <== ordersRootIn;

    component makerSel[F];
    component makerUsed[F];
    component makerIndex[F];
    component makerRoot[F];
    component head[F];
    component takerC[F];
    component makerC[F];
    component takerP[F][M];
    component makerP[F][M];
    component takerFeeTry[F];
    component makerFeeTry[F];
    component takerOk[F];
    component makerOk[F];
    component noFill[F];
    component feeRange[F];
    signal tryNotional[F];
    signal tryFlow[F];
    signal takerCAfter[F];
    signal makerCAfter[F];
    signal tryMove[F];
    signal takerPAfter[F][M];
    signal makerPAfter[F][M];
    signal fill[F];
    signal takerCDelta[F];
    signal makerCDelta[F];
    signal feeIncome[F];
    signal flow[F];
    signal posDelta[F][M];
    signal writeT[F][K];
    signal writeM[F][K];
    signal writeP[F][K][M];
    signal writeRoot[F][K];
    for (var s = 0; s < F; s++) {
        // Check (1): the maker's account slot.
        makerSel[s] = OneHot(K);
        makerSel[s].index <== stepMakerSlot[s];
        makerUsed[s] = SelectOne(K);
        makerUsed[s].sel <== makerSel[s].sel;
        makerUsed[s].values <== accUsed;
        stepAct[s] * (1 - makerUsed[s].out) === 0;
        makerIndex[s] = SelectOne(K);
        makerIndex[s].sel <== makerSel[s].sel;
        makerIndex[s].values <== accIndex;
        stepAct[s] * (makerIndex[s].out - stepMakerAccount[s]) === 0;

        // Check (2): the facts, from the state as it stands now.
        makerRoot[s] = SelectOne(K);
        makerRoot[s].sel <== makerSel[s].sel;
        makerRoot[s].values <== root[s];
        head[s] = HeadSlot(S);
        head[s].act <== stepAct[s];
        head[s].cancel <== stepCancel[s];
        head[s].qty <== stepQty[s];
        head[s].timestamp <== timestamp;
        head[s].bookMarket <== market;
        head[s].bookSide <== 1 - side;
        head[s].makerAccountIndex <== stepMakerAccount[s];
        head[s].makerOrderId <== stepMakerOrderId[s];
        head[s].makerOrdersRoot <== makerRoot[s].out;
        head[s].slotOrderId <== makerSlotOrderId[s];
        head[s].slotOrderHash <== makerSlotOrderHash[s];
        head[s].slotFilled <== makerSlotFilled[s];
        head[s].slotSeq <== makerSlotSeq[s];
        head[s].slotSiblings <== makerSlotSiblings[s];
        head[s].market <== makerMarket[s];
        head[s].side <== makerSide[s];
        head[s].price <== makerPrice[s];
        head[s].size <== makerSize[s];
        head[s].expiry <== makerExpiry[s];
        head[s].maxFeePpm <== makerMaxFeePpm[s];
        head[s].tif <== makerTif[s];

        takerC[s] = SelectOne(K);
        takerC[s].sel <== takerSel.sel;
        takerC[s].values <== coll[s];
        makerC[s] = SelectOne(K);
        makerC[s].sel <== makerSel[s].sel;
        makerC[s].values <== coll[s];
        for (var m = 0; m < M; m++) {
            takerP[s][m] = SelectOne(K);
            takerP[s][m].sel <== takerSel.sel;
            makerP[s][m] = SelectOne(K);
            makerP[s][m].sel <== makerSel[s].sel;
            for (var k = 0; k < K; k++) {
                takerP[s][m].values[k] <== pos[s][k][m];
                makerP[s][m].values[k] <== pos[s][k][m];
            }
        }
        // The weighed fill: w at the maker's price (w = 0 unless a fill is weighed, so a
        // stale step's body, which may be anything, moves nothing).
        tryNotional[s] <== stepTryQty[s] * makerPrice[s];
        takerFeeTry[s] = FeeFloor(PRICE_BITS() + SIZE_BITS());
        takerFeeTry[s].notional <== tryNotional[s];
        takerFeeTry[s].ratePpm <== takerRate.out;
        makerFeeTry[s] = FeeFloor(PRICE_BITS() + SIZE_BITS());
        makerFeeTry[s].notional <== tryNotional[s];
        makerFeeTry[s].ratePpm <== makerRate.out;
        tryFlow[s] <== dir * tryNotional[s];
        takerCAfter[s] <== takerC[s].out - tryFlow[s] - takerFeeTry[s].fee;
        makerCAfter[s] <== makerC[s].out + tryFlow[s] - makerFeeTry[s].fee;
        tryMove[s] <== dir * stepTryQty[s];
        for (var m = 0; m < M; m++) {
            takerPAfter[s][m] <== takerP[s][m].out + marketSel.sel[m] * tryMove[s];
            makerPAfter[s][m] <== makerP[s][m].out - marketSel.sel[m] * tryMove[s];
        }
        takerOk[s] = MarginBit(M);
        takerOk[s].collBefore <== takerC[s].out;
        takerOk[s].collAfter <== takerCAfter[s];
        takerOk[s].mark <== mark;
        takerOk[s].imrBps <== imrBps;
        takerOk[s].mmrBps <== mmrBps;
        makerOk[s] = MarginBit(M);
        makerOk[s].collBefore <== makerC[s].out;
        makerOk[s].collAfter <== makerCAfter[s];
        makerOk[s].mark <== mark;
        makerOk[s].imrBps <== imrBps;
        makerOk[s].mmrBps <== mmrBps;
        for (var m = 0; m < M; m++) {
            takerOk[s].posBefore[m] <== takerP[s][m].out;
            takerOk[s].posAfter[m] <== takerPAfter[s][m];
            makerOk[s].posBefore[m] <== makerP[s][m].out;
            makerOk[s].posAfter[m] <== makerPAfter[s][m];
        }

        // Check (3): a fill (q != 0, then q = w) applies the weighed state.
        noFill[s] = IsZero();
        noFill[s].in <== stepQty[s];
        fill[s] <== 1 - noFill[s].out;
        takerCDelta[s] <== fill[s] * (takerCAfter[s] - takerC[s].out);
        makerCDelta[s] <== fill[s] * (makerCAfter[s] - makerC[s].out);
        feeIncome[s] <== fill[s] * (takerFeeTry[s].fee + makerFeeTry[s].fee);
        flow[s] <== dir * stepQty[s];
        for (var m = 0; m < M; m++) {
            posDelta[s][m] <== marketSel.sel[m] * flow[s];
        }
        for (var k = 0; k < K; k++) {
            writeT[s][k] <== takerSel.sel[k] * takerCDelta[s];
            writeM[s][k] <== makerSel[s].sel[k] * makerCDelta[s];
            if (k == FEE_ACCOUNT()) {
                coll[s + 1][k] <== coll[s][k] + writeT[s][k] + writeM[s][k] + feeIncome[s];
            } else {
                coll[s + 1][k] <== coll[s][k] + writeT[s][k] + writeM[s][k];
            }
            for (var m = 0; m < M; m++) {
                writeP[s][k][m] <== (takerSel.sel[k] - makerSel[s].sel[k]) * posDelta[s][m];
                pos[s + 1][k][m] <== pos[s][k][m] + writeP[s][k][m];
            }
            writeRoot[s][k] <== makerSel[s].sel[k] * (head[s].ordersRootAfter - makerRoot[s].out);
            root[s + 1][k] <== root[s][k] + writeRoot[s][k];
        }
        feeRange[s] = SignedRange(COLLATERAL_BITS());
        feeRange[s].in <== coll[s + 1][FEE_ACCOUNT()];
    }

    // The rules, on those facts.
    component rules = EntryMatch(F, levels, capLevels);
    rules.enabled <== enabled;
    rules.takerAccount <== takerIndex.out;
    rules.takerOrderId <== takerOrderId;
    rules.takerSide <== takerSide;
    rules.takerPrice <== takerPrice;
    rules.takerSize <== takerSize;
    rules.takerTif <== takerTif;
    rules.takerSeq <== takerSeq;
    rules.ownCap <== sides.ownCap;
    rules.ownHeadPtr <== sides.ownHeadPtr;
    rules.ownHeadRank <== sides.ownHeadRank;
    rules.ownFreePtr <== sides.ownFreePtr;
    rules.ownFrontier <== sides.ownFrontier;
    rules.oppCap <== sides.oppCap;
    rules.oppHeadPtr <== sides.oppHeadPtr;
    rules.oppHeadRank <== sides.oppHeadRank;
    rules.oppFreePtr <== sides.oppFreePtr;
    rules.stepAct <== stepAct;
    rules.stepPop <== stepPop;
    rules.stepQty <== stepQty;
    rules.stepCancel <== stepCancel;
    rules.stepTryQty <== stepTryQty;
    rules.stepMakerAccount <== stepMakerAccount;
    rules.stepMakerOrderId <== stepMakerOrderId;
    rules.stepLeafRef <== stepLeafRef;
    rules.stepLeafNextPtr <== stepLeafNextPtr;
    rules.stepLeafNextRank <== stepLeafNextRank;
    rules.stepSiblings <== stepSiblings;
    for (var s = 0; s < F; s++) {
        rules.makerLive[s] <== head[s].live;
        rules.makerLeft[s] <== head[s].left;
        rules.makerRank[s] <== head[s].rank;
        rules.makerMarginOk[s] <== makerOk[s].legal;
        rules.takerMarginOk[s] <== takerOk[s].legal;
    }
    rules.rest <== rest;
    rules.insAtHead <== insAtHead;
    rules.insAllocNextFree <== insAllocNextFree;
    rules.insAllocSiblings <== insAllocSiblings;
    rules.insPredPtr <== insPredPtr;
    rules.insPredRank <== insPredRank;
    rules.insPredRef <== insPredRef;
    rules.insPredNextPtr <== insPredNextPtr;
    rules.insPredNextRank <== insPredNextRank;
    rules.insPredSiblings <== insPredSiblings;

    // Check (4): both sides back in their places.
    signal capOwn[2 * M][N];
    signal capOpp[2 * M][N];
    signal fieldOwn[2 * M][4];
    signal fieldOpp[2 * M][3];
    for (var i = 0; i < 2 * M; i++) {
        for (var j = 0; j < N; j++) {
            capOwn[i][j] <== sides.ownSel[i] * (rules.ownCapAfter[j] - sideCap[i][j]);
            capOpp[i][j] <== sides.oppSel[i] * (rules.oppCapAfter[j] - sideCap[i][j]);
            sideCapOut[i][j] <== sideCap[i][j] + capOwn[i][j] + capOpp[i][j];
        }
        fieldOwn[i][0] <== sides.ownSel[i] * (rules.ownHeadPtrAfter - sideHeadPtr[i]);
        fieldOwn[i][1] <== sides.ownSel[i] * (rules.ownHeadRankAfter - sideHeadRank[i]);
        fieldOwn[i][2] <== sides.ownSel[i] * (rules.ownFreePtrAfter - sideFreePtr[i]);
        fieldOwn[i][3] <== sides.ownSel[i] * (rules.ownFrontierAfter - sideFrontier[i]);
        fieldOpp[i][0] <== sides.oppSel[i] * (rules.oppHeadPtrAfter - sideHeadPtr[i]);
        fieldOpp[i][1] <== sides.oppSel[i] * (rules.oppHeadRankAfter - sideHeadRank[i]);
        fieldOpp[i][2] <== sides.oppSel[i] * (rules.oppFreePtrAfter - sideFreePtr[i]);
        sideHeadPtrOut[i] <== sideHeadPtr[i] + fieldOwn[i][0] + fieldOpp[i][0];
        sideHeadRankOut[i] <== sideHeadRank[i] + fieldOwn[i][1] + fieldOpp[i][1];
        sideFreePtrOut[i] <== sideFreePtr[i] + fieldOwn[i][2] + fieldOpp[i][2];
        sideFrontierOut[i] <== sideFrontier[i] + fieldOwn[i][3];
    }
    collOut <== coll[F];
    posOut <== pos[F];
    ordersRootOut <== root[F];
    filled <== rules.filled;
}
