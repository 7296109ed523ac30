pragma circom 2.1.0;

/// The four children of one quaternary Merkle node: the path node inserted
/// among the three siblings at the position given by a one-hot selector,
/// exactly as `prover.merkle.compute_root` does (`sibs[:d] + [node] + sibs[d:]`).
///
/// Proves: `children = [s0, s1, s2]` with `node` inserted at position d, where
/// `sel` is the one-hot encoding of d.
///
/// @input  node         the path node (child on the path)
/// @input  siblings[3]  the other three children in child order
/// @input  sel[4]       one-hot position of the path node
/// @output children[4]  the node's children in order
///
/// Assumptions: `sel` is one-hot (boolean entries summing to 1), as output by
/// QuadDigit; with any other `sel` the result is meaningless.
/// Constraint count (circom --O2): 6 (tests/circuits/test_quad_merkle.py asserts it).
template QuadChildren() {
    signal input node;
    signal input siblings[3];
    signal input sel[4];
    signal output children[4];

    // d = 0: [n, s0, s1, s2]; d = 1: [s0, n, s1, s2];
    // d = 2: [s0, s1, n, s2]; d = 3: [s0, s1, s2, n].
    children[0] <== siblings[0] + sel[0] * (node - siblings[0]);

    signal c1a <== sel[1] * (node - siblings[0]);
    children[1] <== siblings[0] + c1a + (sel[2] + sel[3]) * (siblings[1] - siblings[0]);

    signal c2a <== sel[2] * (node - siblings[1]);
    children[2] <== siblings[1] + c2a + sel[3] * (siblings[2] - siblings[1]);

    children[3] <== siblings[2] + sel[3] * (node - siblings[2]);
}
