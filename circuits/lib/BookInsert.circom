pragma circom 2.1.0;

include "circomlib/circuits/comparators.circom";
include "Constants.circom";
include "BookLeaf.circom";
include "BookCapWrite.circom";

/// A resting order written at its place in a book side (docs/book.md, "Insertion").
///
/// Proves, when `enabled = 1`:
///  (1) the side is not full (`freePtr != 0` or `frontier < 2^(2 * (levels + capLevels))`):
///      a full side allocates `f = frontier = 2^bits`, which BookCapWrite's index range
///      refuses; `full` tells the caller, which must then not enable the insertion;
///  (2) allocation: the leaf `f` is the top of the free stack (`f = freePtr - 1`, whose leaf
///      is `H_BOOK_LEAF(0, 0, allocNextFree, 0)`; `freePtr := allocNextFree`) when the stack
///      is not empty, else the frontier leaf (`f = frontier`, leaf `H_BOOK_LEAF(0, 0, 0, 0)`;
///      `frontier := frontier + 1`); it is rewritten with the order,
///      `H_BOOK_LEAF(rank, ref, succPtr, succRank)`;
///  (3) place: with `atHead = 1` the order is better than the head (`headPtr = 0` or
///      `rank < headRank`), its successor is the old head and it becomes the head
///      (`headPtr := f + 1`, `headRank := rank`), and the second write is a no-op on the
///      new leaf itself (`predPtr = f + 1`); with `atHead = 0` the leaf at `predPtr - 1`
///      (opened after the allocation) is live (`predRank != 0`) with
///      `predRank < rank` and (`predNextPtr = 0` or `rank < predNextRank`), the order's
///      successor is the predecessor's, and the predecessor is rewritten to point at it
///      (`nextPtr := f + 1`, `nextRank := rank`).
/// When `enabled = 0`: the side is unchanged (the inputs are ignored; zeros from the builder).
///
/// @param  levels, capLevels   as BookCapWrite
/// @input  enabled, atHead     bits (checked)
/// @input  cap[4^capLevels], headPtr, headRank, freePtr, frontier   the side before
/// @input  rank, ref           the order (rank in [1, 2^96): the caller's range check)
/// @input  allocNextFree, allocSiblings[levels][3]   the allocated leaf's opening
/// @input  predPtr, predRank, predRef, predNextPtr, predNextRank, predSiblings[levels][3]
/// @output capAfter[4^capLevels], headPtrAfter, headRankAfter, freePtrAfter, frontierAfter
/// @output full                 1 when the side has no free leaf (then enabled must be 0)
///
/// Assumptions: the side's header and leaves were written by earlier proofs (docs/book.md,
/// "Invariants": the live leaves are exactly the list, sorted by rank, every rank below
/// 2^96, `frontier <= 2^bits`); the caller's `rank` is below 2^96 and differs from every
/// rank in the side (ranks carry the entry's unique seq).
/// Constraint count (circom --O2): (6, 2): 8,946; (7, 1): 10,092; without a cap, (8, 0): 11,286 (tests/circuits/test_book.py asserts it).
template BookInsert(levels, capLevels) {
    var N = 4 ** capLevels;
    var BITS = 2 * (levels + capLevels);
    var RANK_BITS = PRICE_BITS() + 56;

    signal input enabled;
    signal input atHead;
    signal input cap[N];
    signal input headPtr;
    signal input headRank;
    signal input freePtr;
    signal input frontier;
    signal input rank;
    signal input ref;
    signal input allocNextFree;
    signal input allocSiblings[levels][3];
    signal input predPtr;
    signal input predRank;
    signal input predRef;
    signal input predNextPtr;
    signal input predNextRank;
    signal input predSiblings[levels][3];
    signal output capAfter[N];
    signal output headPtrAfter;
    signal output headRankAfter;
    signal output freePtrAfter;
    signal output frontierAfter;
    signal output full;

    enabled * (enabled - 1) === 0;
    atHead * (atHead - 1) === 0;
    signal onHead <== enabled * atHead;
    signal behind <== enabled - onHead;

    // ---- Check (1): room ----
    component stackEmpty = IsZero();
    stackEmpty.in <== freePtr;
    component atEnd = IsEqual();
    atEnd.in <== [frontier, 2 ** BITS];
    full <== stackEmpty.out * atEnd.out;

    // ---- Check (2): allocation ----
    signal fromStack <== 1 - stackEmpty.out;
    // With an empty stack the frontier leaf is FREE(0) (Invariants), so its opening pins
    // allocNextFree = 0; it is not used then.
    signal stackPart <== fromStack * (freePtr - 1);
    signal f <== stackPart + stackEmpty.out * frontier;
    signal succPtrDelta <== atHead * (headPtr - predNextPtr);
    signal succPtr <== predNextPtr + succPtrDelta;
    signal succRankDelta <== atHead * (headRank - predNextRank);
    signal succRank <== predNextRank + succRankDelta;
    component allocOld = BookLeaf();
    allocOld.rank <== 0;
    allocOld.ref <== 0;
    allocOld.nextPtr <== allocNextFree;
    allocOld.nextRank <== 0;
    component order = BookLeaf();
    order.rank <== rank;
    order.ref <== ref;
    order.nextPtr <== succPtr;
    order.nextRank <== succRank;
    component alloc = BookCapWrite(levels, capLevels);
    alloc.enabled <== enabled;
    alloc.cap <== cap;
    alloc.index <== enabled * f;
    alloc.oldLeaf <== allocOld.leaf;
    alloc.newLeaf <== order.leaf;
    alloc.siblings <== allocSiblings;

    // ---- Check (3): place ----
    component headEmpty = IsZero();
    headEmpty.in <== headPtr;
    component beatsHead = LessThan(RANK_BITS + 1);
    beatsHead.in <== [rank, headRank];
    signal headLive <== onHead * (1 - headEmpty.out);
    headLive * (1 - beatsHead.out) === 0;
    // At the head the second write is a no-op on the new leaf itself.
    onHead * (predPtr - f - 1) === 0;

    component predDead = IsZero();
    predDead.in <== predRank;
    behind * predDead.out === 0;
    component afterPred = LessThan(RANK_BITS + 1);
    afterPred.in <== [predRank, rank];
    behind * (1 - afterPred.out) === 0;
    component predLast = IsZero();
    predLast.in <== predNextPtr;
    component beforeNext = LessThan(RANK_BITS + 1);
    beforeNext.in <== [rank, predNextRank];
    signal notLast <== behind * (1 - predLast.out);
    notLast * (1 - beforeNext.out) === 0;

    component predOld = BookLeaf();
    predOld.rank <== predRank;
    predOld.ref <== predRef;
    predOld.nextPtr <== predNextPtr;
    predOld.nextRank <== predNextRank;
    component predLinked = BookLeaf();
    predLinked.rank <== predRank;
    predLinked.ref <== predRef;
    predLinked.nextPtr <== f + 1;
    predLinked.nextRank <== rank;
    component link = BookCapWrite(levels, capLevels);
    link.enabled <== enabled;
    link.cap <== alloc.capAfter;
    link.index <== enabled * (predPtr - 1);
    link.oldLeaf <== predOld.leaf;
    link.newLeaf <== predOld.leaf + (1 - atHead) * (predLinked.leaf - predOld.leaf);
    link.siblings <== predSiblings;
    capAfter <== link.capAfter;

    // ---- the side after ----
    headPtrAfter <== headPtr + onHead * (f + 1 - headPtr);
    headRankAfter <== headRank + onHead * (rank - headRank);
    signal stackMove <== enabled * fromStack;
    freePtrAfter <== freePtr + stackMove * (allocNextFree - freePtr);
    frontierAfter <== frontier + enabled * stackEmpty.out;
}
