pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";
include "PositionsHash.circom";

/// An account leaf (docs/protocol.md, section 4).
///
/// Proves: `leaf = H_ACCOUNT(pubX, pubY, nonce, collateral, positionsHash, ordersRoot)`
/// with `positionsHash = H_POSITIONS(P_0, F_0, ..., P_{M-1}, F_{M-1})` (PositionsHash).
///
/// @param  M              markets, 1..8
/// @input  pubX, pubY     owner's Baby Jubjub key (0, 0 for an empty account)
/// @input  nonce          account nonce
/// @input  collateral     C, signed mod p
/// @input  posSize[M]     P_m, signed mod p
/// @input  posFunding[M]  F_m, signed mod p
/// @input  ordersRoot     root of the account's order-slot tree
/// @output leaf
///
/// Assumptions: none (ranges are the caller's).
/// Constraint count (circom --O2): M = 2: 651 (tests/circuits/test_leaves.py asserts it).
template AccountLeaf(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input pubX;
    signal input pubY;
    signal input nonce;
    signal input collateral;
    signal input posSize[M];
    signal input posFunding[M];
    signal input ordersRoot;
    signal output leaf;

    component positions = PositionsHash(M);
    positions.posSize <== posSize;
    positions.posFunding <== posFunding;

    component h = PoseidonEx(6, 1);
    h.initialState <== TAG_ACCOUNT();
    h.inputs[0] <== pubX;
    h.inputs[1] <== pubY;
    h.inputs[2] <== nonce;
    h.inputs[3] <== collateral;
    h.inputs[4] <== positions.out;
    h.inputs[5] <== ordersRoot;
    leaf <== h.out[0];
}
