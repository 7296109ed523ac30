pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";

/// An order-slot leaf (docs/protocol.md, section 4).
///
/// Proves: `leaf = H_SLOT(orderId, orderHash, filled, seq)` (`PoseidonEx(4, 1)`,
/// `initialState = TAG_SLOT`). The empty slot is `H_SLOT(0, 0, 0, 0)`.
///
/// @input  orderId, orderHash, filled, seq
/// @output leaf
///
/// Assumptions: none (ranges are the caller's).
/// Constraint count (circom --O2): 297 (tests/circuits/test_leaves.py asserts it).
template SlotLeaf() {
    signal input orderId;
    signal input orderHash;
    signal input filled;
    signal input seq;
    signal output leaf;

    component h = PoseidonEx(4, 1);
    h.initialState <== TAG_SLOT();
    h.inputs[0] <== orderId;
    h.inputs[1] <== orderHash;
    h.inputs[2] <== filled;
    h.inputs[3] <== seq;
    leaf <== h.out[0];
}
