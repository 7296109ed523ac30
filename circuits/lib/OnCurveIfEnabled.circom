pragma circom 2.1.0;

/// A point on Baby Jubjub, checked only when enabled.
///
/// Proves: if `enabled = 1`, `(x, y)` satisfies `a*x^2 + y^2 = 1 + d*x^2*y^2`
/// with circomlib's `a = 168700`, `d = 168696` (as BabyCheck, but switchable so
/// padding slots with (0, 0) pass).
///
/// @input  enabled  0 or 1
/// @input  x, y     affine coordinates
///
/// Assumptions: `enabled` is boolean (the caller's).
/// Constraint count (circom --O2): 4 (tests/circuits/test_order_entry.py asserts it).
template OnCurveIfEnabled() {
    signal input enabled;
    signal input x;
    signal input y;

    var a = 168700;
    var d = 168696;
    signal x2 <== x * x;
    signal y2 <== y * y;
    signal x2y2 <== x2 * y2;
    // Check (1): the curve equation holds, or the check is off.
    enabled * (a * x2 + y2 - 1 - d * x2y2) === 0;
}
