pragma circom 2.1.0;

include "BookLeaf.circom";
include "BookCapWrite.circom";

/// A fill's step on the best order of a book side (docs/book.md, "Fill").
///
/// Proves, when `enabled = 1`: the side is not empty (`headPtr != 0`) and its head leaf,
/// `H_BOOK_LEAF(headRank, leafRef, leafNextPtr, leafNextRank)` at index `headPtr - 1`, is
/// in the tree (so `headRef = leafRef` names the best order, and `headRank` is its rank);
/// with `pop = 1` the leaf is freed onto the free stack (`H_BOOK_LEAF(0, 0, freePtr, 0)`,
/// `freePtr := headPtr`) and its successor becomes the head (`headPtr := leafNextPtr`,
/// `headRank := leafNextRank`); with `pop = 0` nothing changes (a partial fill).
/// When `enabled = 0`: `pop = 0` and the side is unchanged (the inputs are ignored; the
/// builder sends zeros).
///
/// @param  levels, capLevels   as BookCapWrite
/// @input  enabled, pop        bits (checked)
/// @input  cap[4^capLevels], headPtr, headRank, freePtr   the side before
/// @input  leafRef, leafNextPtr, leafNextRank, siblings[levels][3]   the head leaf's opening
/// @output capAfter[4^capLevels], headPtrAfter, headRankAfter, freePtrAfter
/// @output headRef             the head's ref (`account * 2^64 + orderId`)
///
/// Assumptions: the side's header and leaves were written by earlier proofs (docs/book.md,
/// "Invariants"), so `headPtr` and `headRank` describe the best live leaf.
/// Constraint count (circom --O2): (6, 2): 4,313; without a cap, (8, 0): 5,483 (tests/circuits/test_book.py asserts it).
template BookPop(levels, capLevels) {
    var N = 4 ** capLevels;
    signal input enabled;
    signal input pop;
    signal input cap[N];
    signal input headPtr;
    signal input headRank;
    signal input freePtr;
    signal input leafRef;
    signal input leafNextPtr;
    signal input leafNextRank;
    signal input siblings[levels][3];
    signal output capAfter[N];
    signal output headPtrAfter;
    signal output headRankAfter;
    signal output freePtrAfter;
    signal output headRef;

    // Check (1): flags; a disabled step does not pop.
    enabled * (enabled - 1) === 0;
    pop * (pop - 1) === 0;
    pop * (1 - enabled) === 0;

    // Check (2): an enabled step has a head to act on: with headPtr = 0 the index
    // headPtr - 1 is -1, which BookCapWrite's range refuses.

    // Check (3): the head leaf is in the tree; a pop frees it (BookCapWrite).
    component oldLeaf = BookLeaf();
    oldLeaf.rank <== headRank;
    oldLeaf.ref <== leafRef;
    oldLeaf.nextPtr <== leafNextPtr;
    oldLeaf.nextRank <== leafNextRank;
    component freed = BookLeaf();
    freed.rank <== 0;
    freed.ref <== 0;
    freed.nextPtr <== freePtr;
    freed.nextRank <== 0;
    component write = BookCapWrite(levels, capLevels);
    write.enabled <== enabled;
    write.cap <== cap;
    write.index <== enabled * (headPtr - 1);
    write.oldLeaf <== oldLeaf.leaf;
    write.newLeaf <== oldLeaf.leaf + pop * (freed.leaf - oldLeaf.leaf);
    write.siblings <== siblings;
    capAfter <== write.capAfter;

    // Check (4): a pop moves the head to its successor and pushes the leaf on the free stack.
    headPtrAfter <== headPtr + pop * (leafNextPtr - headPtr);
    headRankAfter <== headRank + pop * (leafNextRank - headRank);
    freePtrAfter <== freePtr + pop * (headPtr - freePtr);
    headRef <== leafRef;
}
