pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";

/// A leaf of a committed book side (docs/book.md, "Leaves").
///
/// Proves: `leaf = H_BOOK_LEAF(rank, ref, nextPtr, nextRank)` (`PoseidonEx(4, 1)`,
/// `initialState = TAG_BOOK_LEAF`). A free leaf is `H_BOOK_LEAF(0, 0, nextFree, 0)`; a leaf
/// never written is the free leaf with `nextFree = 0`.
///
/// @input  rank, ref, nextPtr, nextRank
/// @output leaf
///
/// Assumptions: none (ranges are the caller's).
/// Constraint count (circom --O2): 297 (tests/circuits/test_book.py asserts it).
template BookLeaf() {
    signal input rank;
    signal input ref;
    signal input nextPtr;
    signal input nextRank;
    signal output leaf;

    component h = PoseidonEx(4, 1);
    h.initialState <== TAG_BOOK_LEAF();
    h.inputs[0] <== rank;
    h.inputs[1] <== ref;
    h.inputs[2] <== nextPtr;
    h.inputs[3] <== nextRank;
    leaf <== h.out[0];
}
