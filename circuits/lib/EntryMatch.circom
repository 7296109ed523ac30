pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "Constants.circom";
include "BookPop.circom";
include "BookInsert.circom";

/// One taker against the committed book, by the matching rules (docs/book.md, "The
/// matching rules"; docs/protocol.md, section 12): every step, its quantity, every
/// removal, where the taker stops and whether its remainder rests are functions of the
/// book and of the facts the caller proves about each head; the operator chooses nothing.
///
/// Proves, with `enabled = 1` (a valid order entering now), `r_0 = takerSize`, `g_0 = 1`
/// and, for each step s < F, `h_s` the opposite side's head before the step:
///  (1) act: `stepAct[s] = g_s * (r_s > 0) * crosses(h_s)`, where the head crosses when the
///      side is not empty and `headRank < limit` (for a buy, asks at or below the taker's
///      price; for a sell, bids at or above it): a taker neither skips a crossing head nor
///      acts on one that does not cross; a step that acts opens the head (BookPop), whose
///      `ref = account * 2^64 + orderId` names the maker;
///  (2) kind of an acting step, from the facts (caller-proven bits and size):
///      stale (`makerLive = 0`): popped, quantity 0;
///      self-trade (the maker's account is the taker's): popped and cancelled;
///      post-only taker meeting another account's live order: the taker stops (rejected);
///      else `q = min(r_s, makerLeft)` and, maker first, the margin facts for a fill of
///      `q` at the head: the maker fails: popped and cancelled; the taker fails: the
///      taker stops; both pass: a fill of `stepQty = q`, popped iff `q = makerLeft`;
///      The claims name the head: `stepMakerAccount`, `stepMakerOrderId` are its ref's
///      parts; a live head is at `makerRank` (the rank of the order its slot holds);
///  (3) quantities: `stepQty[s]` is `q` for a fill and 0 otherwise; `stepTryQty[s]` is `q`
///      whenever the margin facts are weighed (else 0); `r_{s+1} = r_s - stepQty[s]`;
///      `stepPop[s]` is exactly the removals of (2), `stepCancel[s]` the cancels;
///      `g_{s+1} = 0` after a stop;
///  (4) rest: `rest = g_F * (r_F > 0) * (1 - crosses(h_F)) * (tif != IOC) * (1 - full)`,
///      and a resting remainder is inserted at its place in the own side (BookInsert) at
///      `rank = ownKey * 2^56 + takerSeq` (`ownKey`: the price for an ask,
///      `2^40 - price` for a bid), `ref = takerAccount * 2^64 + takerOrderId`. So the
///      book does not cross after the entry: a remainder rests only below the limit, and
///      a taker that used its F steps with a crossing head left (the sweep limit) or
///      stopped on a rule drops it.
/// With `enabled = 0` nothing acts, nothing rests, and both sides are unchanged (the
/// taker's fields may be anything: a no-op message's; they are masked here).
///
/// @param  F                 steps (fills and removals) a taker may make, >= 1
/// @param  levels, capLevels as BookCapWrite (the book side's tree below its cap)
/// @input  enabled           bit (checked)
/// @input  takerAccount, takerOrderId, takerSide, takerPrice, takerSize, takerTif, takerSeq
/// @input  ownCap[4^capLevels], ownHeadPtr, ownHeadRank, ownFreePtr, ownFrontier   the
///         taker's side before
/// @input  oppCap[4^capLevels], oppHeadPtr, oppHeadRank, oppFreePtr   the opposite side
///         before
/// @input  stepAct[F], stepPop[F], stepQty[F], stepCancel[F], stepTryQty[F],
///         stepMakerAccount[F], stepMakerOrderId[F]   the operator's claims, checked by
///         (1)-(3); the batch feeds them to what proves the facts (HeadSlot, MarginCheck),
///         so no fact depends on this template's outputs
/// @input  stepLeafRef[F], stepLeafNextPtr[F], stepLeafNextRank[F], stepSiblings[F][levels][3]
///         the head leaf each acting step opens (zeros for a step that does not act)
/// @input  makerLive[F], makerLeft[F], makerRank[F], makerMarginOk[F], takerMarginOk[F]
///         facts of each acting step (bits, size, rank; the caller proves them: see
///         Assumptions)
/// @input  rest              the operator's claim, checked by (4)
/// @input  insAtHead, insAllocNextFree, insAllocSiblings[levels][3], insPredPtr,
///         insPredRank, insPredRef, insPredNextPtr, insPredNextRank,
///         insPredSiblings[levels][3]   BookInsert's witness (zeros when nothing rests)
/// @output ownCapAfter[..], ownHeadPtrAfter, ownHeadRankAfter, ownFreePtrAfter,
///         ownFrontierAfter, oppCapAfter[..], oppHeadPtrAfter, oppHeadRankAfter,
///         oppFreePtrAfter   both sides after the entry
/// @output stepFill[F]       1 when step s is a fill (of stepQty[s])
/// @output remaining, filled the taker's size left and filled after its steps
///
/// Assumptions: both sides' headers and leaves were written by earlier proofs
/// (docs/book.md, "Invariants"); with `enabled = 1` the taker's fields were checked by its
/// entry (MessageEntry: price in [1, 2^40), side a bit, size in [1, 2^32), tif in
/// {0, 1, 2}, account < 2^32, orderId < 2^64) and `takerSeq` is its arrival,
/// `n * 2^16 + e`, the seq MessageEntry writes into its slot (a seq of the operator's
/// choosing would let an order jump the queue at its price, and one unlike its slot's
/// would make it unpoppable: HeadSlot ranks it by the slot's); the own and opposite sides
/// are the two sides of the taker's market, selected by the masked side
/// (`enabled * takerSide`) so a no-op message's fields select nothing that fails;
/// for each acting step the caller binds the facts to the state as it is at that step (the
/// earlier steps' and entries' writes applied) (HeadSlot): `makerLive`
/// is 1 iff the slot of `(stepMakerAccount, stepMakerOrderId)` holds that order unexpired
/// and not done, `makerLeft` is its unfilled size (< 2^32, > 0 when live), `makerRank`
/// its rank from its price and seq; and `makerMarginOk`, `takerMarginOk` are the margin
/// rule (MarginBit's `legal`) after a fill of `stepTryQty[s]` at the maker's price, for
/// each side. Margin facts are read only for a live order of another account met by a
/// taker that is not post-only.
/// Constraint count (circom --O2): see docs/circuits.md (tests/circuits/test_entry_match.py
/// asserts it).
template EntryMatch(F, levels, capLevels) {
    assert(F >= 1);
    var N = 4 ** capLevels;
    var RANK_BITS = PRICE_BITS() + 56;
    var REF_BITS = ORDER_ID_BITS() + 32;

    signal input enabled;
    signal input takerAccount;
    signal input takerOrderId;
    signal input takerSide;
    signal input takerPrice;
    signal input takerSize;
    signal input takerTif;
    signal input takerSeq;
    signal input ownCap[N];
    signal input ownHeadPtr;
    signal input ownHeadRank;
    signal input ownFreePtr;
    signal input ownFrontier;
    signal input oppCap[N];
    signal input oppHeadPtr;
    signal input oppHeadRank;
    signal input oppFreePtr;
    signal input stepAct[F];
    signal input stepPop[F];
    signal input stepQty[F];
    signal input stepCancel[F];
    signal input stepTryQty[F];
    signal input stepMakerAccount[F];
    signal input stepMakerOrderId[F];
    signal input stepLeafRef[F];
    signal input stepLeafNextPtr[F];
    signal input stepLeafNextRank[F];
    signal input stepSiblings[F][levels][3];
    signal input makerLive[F];
    signal input makerLeft[F];
    signal input makerRank[F];
    signal input makerMarginOk[F];
    signal input takerMarginOk[F];
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
    signal output ownCapAfter[N];
    signal output ownHeadPtrAfter;
    signal output ownHeadRankAfter;
    signal output ownFreePtrAfter;
    signal output ownFrontierAfter;
    signal output oppCapAfter[N];
    signal output oppHeadPtrAfter;
    signal output oppHeadRankAfter;
    signal output oppFreePtrAfter;
    signal output stepFill[F];
    signal output remaining;
    signal output filled;

    enabled * (enabled - 1) === 0;

    // ---- the taker: masked, so a no-op message's fields reach no range check ----
    signal side <== enabled * takerSide;
    signal price <== enabled * takerPrice;
    signal size <== enabled * takerSize;
    signal seq <== enabled * takerSeq;
    // ownKey = price for an ask, 2^40 - price for a bid; the opposite side's key of the
    // taker's price is 2^40 - ownKey, and a head crosses iff its rank is below limit.
    signal sidePart <== side * (2 * price - (1 << PRICE_BITS()));
    signal ownKey <== (1 << PRICE_BITS()) - price + sidePart;
    signal takerRank <== ownKey * (1 << 56) + seq;
    signal limit <== enabled * ((1 << PRICE_BITS()) - ownKey + 1) * (1 << 56);
    component tifIoc = IsEqual();
    tifIoc.in <== [takerTif, TIF_IOC()];
    component tifPost = IsEqual();
    tifPost.in <== [takerTif, TIF_POST_ONLY()];

    // ---- running state ----
    signal cap[F + 1][N];
    signal headPtr[F + 1];
    signal headRank[F + 1];
    signal freePtr[F + 1];
    signal r[F + 1];
    signal g[F + 1];
    cap[0] <== oppCap;
    headPtr[0] <== oppHeadPtr;
    headRank[0] <== oppHeadRank;
    freePtr[0] <== oppFreePtr;
    r[0] <== size;
    g[0] <== enabled;

    component headEmpty[F + 1];
    component headBelow[F + 1];
    component rZero[F + 1];
    signal crosses[F + 1];
    signal going[F + 1];
    component pop[F];
    component refBits[F];
    component self[F];
    component leftFits[F];
    signal expectAct[F];
    signal actLive[F];
    signal actLiveOther[F];
    signal trades[F];
    signal minQty[F];
    signal expectQty[F];
    signal expectCancel[F];
    signal expectTry[F];
    signal stale[F];
    signal selfTrade[F];
    signal makerFails[F];
    signal fillOut[F];
    signal expectPop[F];
    signal rejects[F];
    signal takerHeld[F];
    signal takerFails[F];
    for (var s = 0; s < F; s++) {
        headEmpty[s] = IsZero();
        headEmpty[s].in <== headPtr[s];
        headBelow[s] = LessThan(RANK_BITS + 2);
        headBelow[s].in <== [headRank[s], limit];
        crosses[s] <== (1 - headEmpty[s].out) * headBelow[s].out;
        rZero[s] = IsZero();
        rZero[s].in <== r[s];
        going[s] <== g[s] * (1 - rZero[s].out);
        // Check (1): the step acts exactly when the taker goes on and the head crosses.
        expectAct[s] <== going[s] * crosses[s];
        stepAct[s] === expectAct[s];
        makerLive[s] * (makerLive[s] - 1) === 0;
        makerMarginOk[s] * (makerMarginOk[s] - 1) === 0;
        takerMarginOk[s] * (takerMarginOk[s] - 1) === 0;

        pop[s] = BookPop(levels, capLevels);
        pop[s].enabled <== stepAct[s];
        pop[s].pop <== stepPop[s];
        pop[s].cap <== cap[s];
        pop[s].headPtr <== headPtr[s];
        pop[s].headRank <== headRank[s];
        pop[s].freePtr <== freePtr[s];
        pop[s].leafRef <== stepLeafRef[s];
        pop[s].leafNextPtr <== stepLeafNextPtr[s];
        pop[s].leafNextRank <== stepLeafNextRank[s];
        pop[s].siblings <== stepSiblings[s];
        cap[s + 1] <== pop[s].capAfter;
        headPtr[s + 1] <== pop[s].headPtrAfter;
        headRank[s + 1] <== pop[s].headRankAfter;
        freePtr[s + 1] <== pop[s].freePtrAfter;

        // The maker: ref = account * 2^64 + orderId (written by an earlier proof, < 2^96).
        refBits[s] = Num2Bits(REF_BITS);
        refBits[s].in <== stepAct[s] * pop[s].headRef;
        var orderId = 0;
        for (var i = 0; i < ORDER_ID_BITS(); i++) {
            orderId += refBits[s].out[i] * (1 << i);
        }
        var account = 0;
        for (var i = ORDER_ID_BITS(); i < REF_BITS; i++) {
            account += refBits[s].out[i] * (1 << (i - ORDER_ID_BITS()));
        }
        stepAct[s] * (stepMakerOrderId[s] - orderId) === 0;
        stepAct[s] * (stepMakerAccount[s] - account) === 0;
        self[s] = IsEqual();
        self[s].in <== [account, takerAccount];

        // Check (2): the kind of an acting step.
        actLive[s] <== stepAct[s] * makerLive[s];
        // A live head is the order its slot holds, at that order's rank.
        actLive[s] * (headRank[s] - makerRank[s]) === 0;
        stale[s] <== stepAct[s] - actLive[s];
        selfTrade[s] <== actLive[s] * self[s].out;
        actLiveOther[s] <== actLive[s] - selfTrade[s];
        rejects[s] <== actLiveOther[s] * tifPost.out;
        trades[s] <== actLiveOther[s] - rejects[s];
        makerFails[s] <== trades[s] * (1 - makerMarginOk[s]);
        takerHeld[s] <== trades[s] - makerFails[s];
        takerFails[s] <== takerHeld[s] * (1 - takerMarginOk[s]);
        stepFill[s] <== takerHeld[s] - takerFails[s];
        expectCancel[s] <== selfTrade[s] + makerFails[s];
        stepCancel[s] === expectCancel[s];

        // Check (3): the quantity of a fill is min(r_s, makerLeft); removals pop.
        leftFits[s] = LessThan(SIZE_BITS() + 1);
        leftFits[s].in <== [stepAct[s] * makerLeft[s], r[s] + 1];
        minQty[s] <== r[s] + leftFits[s].out * (makerLeft[s] - r[s]);
        // The quantity the margin facts weigh: min(r_s, makerLeft) when a fill is weighed.
        expectTry[s] <== trades[s] * minQty[s];
        stepTryQty[s] === expectTry[s];
        expectQty[s] <== stepFill[s] * minQty[s];
        stepQty[s] === expectQty[s];
        fillOut[s] <== stepFill[s] * leftFits[s].out;
        expectPop[s] <== stale[s] + expectCancel[s] + fillOut[s];
        stepPop[s] === expectPop[s];
        r[s + 1] <== r[s] - stepQty[s];
        g[s + 1] <== g[s] - rejects[s] - takerFails[s];
    }
    // The head after the last step (the same tests, for the rest rule).
        headEmpty[F] = IsZero();
        headEmpty[F].in <== headPtr[F];
        headBelow[F] = LessThan(RANK_BITS + 2);
        headBelow[F].in <== [headRank[F], limit];
        crosses[F] <== (1 - headEmpty[F].out) * headBelow[F].out;
        rZero[F] = IsZero();
        rZero[F].in <== r[F];
        going[F] <== g[F] * (1 - rZero[F].out);
    oppCapAfter <== cap[F];
    oppHeadPtrAfter <== headPtr[F];
    oppHeadRankAfter <== headRank[F];
    oppFreePtrAfter <== freePtr[F];
    remaining <== r[F];
    filled <== size - r[F];

    // Check (4): the remainder rests exactly when the rules say so, at its place.
    component insert = BookInsert(levels, capLevels);
    insert.enabled <== rest;
    insert.atHead <== insAtHead;
    insert.cap <== ownCap;
    insert.headPtr <== ownHeadPtr;
    insert.headRank <== ownHeadRank;
    insert.freePtr <== ownFreePtr;
    insert.frontier <== ownFrontier;
    insert.rank <== rest * takerRank;
    insert.ref <== takerAccount * (1 << ORDER_ID_BITS()) + takerOrderId;
    insert.allocNextFree <== insAllocNextFree;
    insert.allocSiblings <== insAllocSiblings;
    insert.predPtr <== insPredPtr;
    insert.predRank <== insPredRank;
    insert.predRef <== insPredRef;
    insert.predNextPtr <== insPredNextPtr;
    insert.predNextRank <== insPredNextRank;
    insert.predSiblings <== insPredSiblings;
    signal endOpen <== going[F] * (1 - crosses[F]);
    signal endKeeps <== endOpen * (1 - tifIoc.out);
    signal expectRest <== endKeeps * (1 - insert.full);
    rest === expectRest;
    ownCapAfter <== insert.capAfter;
    ownHeadPtrAfter <== insert.headPtrAfter;
    ownHeadRankAfter <== insert.headRankAfter;
    ownFreePtrAfter <== insert.freePtrAfter;
    ownFrontierAfter <== insert.frontierAfter;
}
