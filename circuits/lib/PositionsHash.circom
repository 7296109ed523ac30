pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";

/// The positions of one account (docs/protocol.md, section 4).
///
/// Proves: `out = H_POSITIONS(P_0, F_0, ..., P_{M-1}, F_{M-1})`, i.e.
/// `PoseidonEx(2M, 1)` with `initialState = TAG_POSITIONS`.
///
/// @param  M              markets, 1..8
/// @input  posSize[M]     P_m, signed mod p
/// @input  posFunding[M]  F_m, signed mod p
/// @output out            the positions hash
///
/// Assumptions: none (ranges are the caller's).
/// Constraint count (circom --O2): M = 2: 297, M = 8: 609 (tests/circuits/test_leaves.py
/// and test_counts_production.py assert them).
template PositionsHash(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input posSize[M];
    signal input posFunding[M];
    signal output out;

    component h = PoseidonEx(2 * M, 1);
    h.initialState <== TAG_POSITIONS();
    for (var m = 0; m < M; m++) {
        h.inputs[2 * m] <== posSize[m];
        h.inputs[2 * m + 1] <== posFunding[m];
    }
    out <== h.out[0];
}
