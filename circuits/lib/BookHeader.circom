pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";

/// The hash of a committed book side (docs/book.md, "Header").
///
/// Proves: `treeRoot` is the root folded from the `4^capLevels` cap entries (`H_NODE` of
/// four children, `capLevels` levels) and `header = H_BOOK(treeRoot, headPtr, headRank,
/// freePtr, frontier)` (`PoseidonEx(5, 1)`, `initialState = TAG_BOOK`).
///
/// @param  capLevels  levels held as the cap, >= 0
/// @input  cap[4^capLevels], headPtr, headRank, freePtr, frontier
/// @output header
///
/// Assumptions: none (ranges are the caller's).
/// Constraint count (circom --O2): 321 + 297 * (4^capLevels - 1) / 3; capLevels = 2:
/// 1,806 (tests/circuits/test_book.py asserts it).
template BookHeader(capLevels) {
    assert(capLevels >= 0);
    var N = 4 ** capLevels;
    signal input cap[N];
    signal input headPtr;
    signal input headRank;
    signal input freePtr;
    signal input frontier;
    signal output header;

    var HASHES = (N - 1) \ 3;
    component node[HASHES + 1];
    // nodes[] lists the cap, then each level's parents, in order.
    signal nodes[N + HASHES];
    for (var i = 0; i < N; i++) {
        nodes[i] <== cap[i];
    }
    var read = 0;
    for (var h = 0; h < HASHES; h++) {
        node[h] = PoseidonEx(4, 1);
        node[h].initialState <== TAG_NODE();
        for (var j = 0; j < 4; j++) {
            node[h].inputs[j] <== nodes[read + j];
        }
        read += 4;
        nodes[N + h] <== node[h].out[0];
    }
    component top = PoseidonEx(5, 1);
    top.initialState <== TAG_BOOK();
    top.inputs[0] <== nodes[N + HASHES - 1];
    top.inputs[1] <== headPtr;
    top.inputs[2] <== headRank;
    top.inputs[3] <== freePtr;
    top.inputs[4] <== frontier;
    header <== top.out[0];
}
