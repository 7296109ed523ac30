pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";

/// The hash of an order, the value its trader signs (docs/protocol.md, section 5).
///
/// Proves: `out = H_ORDER(accountIndex, market, side, price, size, orderId, expiry,
/// maxFeePpm, tif)` (`PoseidonEx(9, 1)`, `initialState = TAG_ORDER`).
///
/// @input  accountIndex, market, side, price, size, orderId, expiry, maxFeePpm, tif
/// @output out
///
/// Assumptions: none (ranges are checked where the order enters, OrderEntry).
/// Constraint count (circom --O2): 417 (tests/circuits/test_leaves.py asserts it).
template OrderHash() {
    signal input accountIndex;
    signal input market;
    signal input side;
    signal input price;
    signal input size;
    signal input orderId;
    signal input expiry;
    signal input maxFeePpm;
    signal input tif;
    signal output out;

    component h = PoseidonEx(9, 1);
    h.initialState <== TAG_ORDER();
    h.inputs[0] <== accountIndex;
    h.inputs[1] <== market;
    h.inputs[2] <== side;
    h.inputs[3] <== price;
    h.inputs[4] <== size;
    h.inputs[5] <== orderId;
    h.inputs[6] <== expiry;
    h.inputs[7] <== maxFeePpm;
    h.inputs[8] <== tif;
    out <== h.out[0];
}
