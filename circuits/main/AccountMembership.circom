pragma circom 2.1.0;

include "../lib/AccountLeaf.circom";
include "../lib/QuadMerkleRoot.circom";

/// Membership of one account in the account tree (docs/protocol.md, sections 3 and 4):
/// the demo circuit of `zkmatch demo`.
///
/// Proves: the prover knows an account (key, nonce, collateral, M positions, order-slot
/// root) and a path such that its leaf `H_ACCOUNT(...)` (AccountLeaf) folds up to the
/// public `root` (QuadMerkleRoot). Nothing about the account or its index is revealed.
///
/// @param  levels              inner levels of the tree (account tree of 2*levels bits), >= 1
/// @param  M                   markets per account, 1..8
/// @input  root                public: the account tree root
/// @input  pubX, pubY          owner's Baby Jubjub key
/// @input  nonce               account nonce
/// @input  collateral          C, signed mod p
/// @input  posSize[M]          P_m, signed mod p
/// @input  posFunding[M]       F_m, signed mod p
/// @input  ordersRoot          root of the account's order-slot tree
/// @input  pathIndex[levels]   base-4 digits of the account index, leaf level first
/// @input  siblings[levels][3] the other three children at each level
///
/// Assumptions: none beyond those of AccountLeaf and QuadMerkleRoot. The leaf fields are
/// not range-checked: membership does not need it (the batch circuit does).
/// Constraint count (circom --O2): levels = 2, M = 2: 1263 = 651 (AccountLeaf(2))
/// + 612 (QuadMerkleRoot(2)) (tests/test_demo.py asserts it).
template AccountMembership(levels, M) {
    assert(levels >= 1);

    signal input root;
    signal input pubX;
    signal input pubY;
    signal input nonce;
    signal input collateral;
    signal input posSize[M];
    signal input posFunding[M];
    signal input ordersRoot;
    signal input pathIndex[levels];
    signal input siblings[levels][3];

    // Check (1): the leaf is H_ACCOUNT of the account's fields.
    component leaf = AccountLeaf(M);
    leaf.pubX <== pubX;
    leaf.pubY <== pubY;
    leaf.nonce <== nonce;
    leaf.collateral <== collateral;
    leaf.posSize <== posSize;
    leaf.posFunding <== posFunding;
    leaf.ordersRoot <== ordersRoot;

    // Check (2): the leaf folds up its path to the public root.
    component tree = QuadMerkleRoot(levels);
    tree.leaf <== leaf.leaf;
    tree.pathIndex <== pathIndex;
    tree.siblings <== siblings;
    root === tree.root;
}
