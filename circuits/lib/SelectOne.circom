pragma circom 2.1.0;

/// Inner product of a selector with values: `out = sum_i sel[i] * values[i]`.
/// With a one-hot `sel` (OneHot), it reads `values[index]`.
///
/// Proves: `out = sum_i sel[i] * values[i]`.
///
/// @param  n          number of values, >= 1
/// @input  sel[n]     selector (one-hot for a read)
/// @input  values[n]  field elements
/// @output out
///
/// Assumptions: `sel` is one-hot when the caller means "read one value".
/// Constraint count (circom --O2): n; n = 4: 4 (tests/circuits/test_selectors.py asserts it).
template SelectOne(n) {
    assert(n >= 1);
    signal input sel[n];
    signal input values[n];
    signal output out;

    signal partial[n];
    partial[0] <== sel[0] * values[0];
    for (var i = 1; i < n; i++) {
        partial[i] <== partial[i - 1] + sel[i] * values[i];
    }
    out <== partial[n - 1];
}
