pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";
include "QuadDigit.circom";
include "QuadChildren.circom";

/// Root of a quaternary Poseidon Merkle tree from one leaf and its path
/// (docs/protocol.md, section 3).
///
/// Proves: `root` is obtained by folding `leaf` up `levels` inner nodes, where
/// each inner node is `H_NODE(c0, c1, c2, c3) = PoseidonEx(4, 1)` with
/// `initialState = TAG_NODE` and children = `siblings[l]` in order with the path
/// node inserted at position `pathIndex[l]`. Each `pathIndex[l]` is constrained
/// to {0, 1, 2, 3}; the leaf index is `sum_l pathIndex[l] * 4^l`.
///
/// @param  levels            number of inner levels (tree of 2*levels bits), >= 1
/// @input  leaf              leaf hash (the caller hashes it with its own tag)
/// @input  pathIndex[levels] base-4 digits of the leaf index, leaf level first
/// @input  siblings[levels][3] the other three children at each level, in order
/// @output root              the tree root
///
/// Assumptions: the caller binds `leaf` to its preimage with a leaf tag (never
/// TAG_NODE), so an inner node cannot be opened as a leaf; the depth is fixed
/// by `levels`.
/// Constraint count (circom --O2): 306 per level (300 Poseidon, 6 selection); levels = 2: 612
/// (tests/circuits/test_quad_merkle.py asserts it).
template QuadMerkleRoot(levels) {
    assert(levels >= 1);

    signal input leaf;
    signal input pathIndex[levels];
    signal input siblings[levels][3];
    signal output root;

    component digit[levels];
    component kids[levels];
    component hash[levels];
    signal node[levels + 1];
    node[0] <== leaf;

    for (var l = 0; l < levels; l++) {
        // Check (1): the digit is in {0..3} and selects one position.
        digit[l] = QuadDigit();
        digit[l].digit <== pathIndex[l];

        // Check (2): the children are the siblings with the path node inserted.
        kids[l] = QuadChildren();
        kids[l].node <== node[l];
        kids[l].siblings <== siblings[l];
        kids[l].sel <== digit[l].sel;

        // Check (3): the parent is H_NODE of the children.
        hash[l] = PoseidonEx(4, 1);
        hash[l].inputs <== kids[l].children;
        hash[l].initialState <== TAG_NODE();
        node[l + 1] <== hash[l].out[0];
    }
    root <== node[levels];
}
