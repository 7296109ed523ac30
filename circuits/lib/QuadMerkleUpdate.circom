pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";
include "QuadDigit.circom";
include "QuadChildren.circom";

/// One leaf write in a quaternary Poseidon Merkle tree (docs/protocol.md, section 3).
///
/// Proves: `oldRoot` is the root with `oldLeaf` at the path, and `newRoot` is
/// the root of the same tree with `newLeaf` at the same path (same digits, same
/// siblings). The digit selection (QuadDigit) is shared by both folds. Inner
/// nodes are `PoseidonEx(4, 1)` with `initialState = TAG_NODE`.
///
/// @param  levels              number of inner levels (tree of 2*levels bits), >= 1
/// @input  oldLeaf             leaf hash before the write
/// @input  newLeaf             leaf hash after the write
/// @input  pathIndex[levels]   base-4 digits of the leaf index, leaf level first
/// @input  siblings[levels][3] the other three children at each level, in order
/// @output oldRoot             root before
/// @output newRoot             root after
///
/// Assumptions: as QuadMerkleRoot (the caller hashes leaves with a leaf tag and
/// constrains `oldRoot` to the root it holds).
/// Constraint count (circom --O2): 609 per level; levels = 2: 1218
/// (tests/circuits/test_quad_merkle.py asserts it).
template QuadMerkleUpdate(levels) {
    assert(levels >= 1);

    signal input oldLeaf;
    signal input newLeaf;
    signal input pathIndex[levels];
    signal input siblings[levels][3];
    signal output oldRoot;
    signal output newRoot;

    component digit[levels];
    component oldKids[levels];
    component newKids[levels];
    component oldHash[levels];
    component newHash[levels];
    signal oldNode[levels + 1];
    signal newNode[levels + 1];
    oldNode[0] <== oldLeaf;
    newNode[0] <== newLeaf;

    for (var l = 0; l < levels; l++) {
        // Check (1): the digit is in {0..3}; one selector serves both folds.
        digit[l] = QuadDigit();
        digit[l].digit <== pathIndex[l];

        // Check (2): both folds insert their node at the same position among
        // the same siblings.
        oldKids[l] = QuadChildren();
        oldKids[l].node <== oldNode[l];
        oldKids[l].siblings <== siblings[l];
        oldKids[l].sel <== digit[l].sel;
        newKids[l] = QuadChildren();
        newKids[l].node <== newNode[l];
        newKids[l].siblings <== siblings[l];
        newKids[l].sel <== digit[l].sel;

        // Check (3): each parent is H_NODE of its children.
        oldHash[l] = PoseidonEx(4, 1);
        oldHash[l].inputs <== oldKids[l].children;
        oldHash[l].initialState <== TAG_NODE();
        oldNode[l + 1] <== oldHash[l].out[0];
        newHash[l] = PoseidonEx(4, 1);
        newHash[l].inputs <== newKids[l].children;
        newHash[l].initialState <== TAG_NODE();
        newNode[l + 1] <== newHash[l].out[0];
    }
    oldRoot <== oldNode[levels];
    newRoot <== newNode[levels];
}
