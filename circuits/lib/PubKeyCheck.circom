pragma circom 2.1.0;

include "circomlib/circuits/babyjub.circom";
include "OnCurveIfEnabled.circom";

/// `k * (x, y)` on Baby Jubjub (twisted Edwards, a = 168700, d = 168696) by double and add
/// over the 251 bits of `k`: witness-time arithmetic only (vars), for the hint below.
function babyjubMul(k, x, y) {
    var a = 168700;
    var d = 168696;
    var acc[2] = [0, 1];
    var pt[2] = [x, y];
    var rest = k;
    for (var i = 0; i < 251; i++) {
        if (rest & 1 == 1) {
            var tau = d * acc[0] * pt[0] * acc[1] * pt[1];
            var nx = (acc[0] * pt[1] + acc[1] * pt[0]) / (1 + tau);
            var ny = (acc[1] * pt[1] - a * acc[0] * pt[0]) / (1 - tau);
            acc[0] = nx;
            acc[1] = ny;
        }
        var tau2 = d * pt[0] * pt[0] * pt[1] * pt[1];
        var dx = (2 * pt[0] * pt[1]) / (1 + tau2);
        var dy = (pt[1] * pt[1] - a * pt[0] * pt[0]) / (1 - tau2);
        pt[0] = dx;
        pt[1] = dy;
        rest = rest >> 1;
    }
    return acc;
}

/// A Baby Jubjub public key that may enter the state: on the curve, in the prime-order
/// subgroup of BASE8 (order l), and not the identity (docs/protocol.md, section 4; for the
/// leaves a deposit or an account creation writes).
///
/// Proves, when `enabled = 1`:
///  (1) the hint `Q` is on the curve;
///  (2) `(x, y) = 8 * Q` (three complete doublings, circomlib BabyDbl): the image of
///      multiplication by the cofactor 8 is exactly the subgroup of order l, so this holds
///      for some on-curve Q iff (x, y) is in that subgroup (and then it is on the curve);
///  (3) `x != 0`: the identity (0, 1) is excluded ((0, -1) has order 2, excluded by (2)).
/// When `enabled = 0` nothing is checked (the hint is the identity, which satisfies the
/// doubling constraints).
///
/// @input  enabled   0 or 1 (the caller range-checks it)
/// @input  x, y      the key
///
/// Assumptions: `enabled` is a bit.
/// Constraint count (circom --O2): 25 (tests/circuits/test_pubkey_check.py asserts it).
template PubKeyCheck() {
    signal input enabled;
    signal input x;
    signal input y;

    var INV8 = 2394026564107420727433200628387514462817212225638746351800188703329891451411;
    var q[2] = babyjubMul(INV8, x, y);
    signal qx;
    signal qy;
    // The hint: Q = (8^-1 mod l) * (x, y), so 8 * Q = (x, y) when (x, y) is in the
    // subgroup. Pinned by Checks (1) and (2): Q must be an on-curve point with 8Q = (x, y),
    // which (x, y) in the subgroup has exactly one of in the subgroup (the others differ
    // by a point of order 8: harmless, any of them proves the same statement).
    qx <-- enabled == 1 ? q[0] : 0;
    qy <-- enabled == 1 ? q[1] : 1;

    // Check (1): Q is on the curve.
    component qOnCurve = OnCurveIfEnabled();
    qOnCurve.enabled <== enabled;
    qOnCurve.x <== qx;
    qOnCurve.y <== qy;

    // Check (2): (x, y) = 8 * Q.
    component dbl[3];
    dbl[0] = BabyDbl();
    dbl[0].x <== qx;
    dbl[0].y <== qy;
    for (var i = 1; i < 3; i++) {
        dbl[i] = BabyDbl();
        dbl[i].x <== dbl[i - 1].xout;
        dbl[i].y <== dbl[i - 1].yout;
    }
    enabled * (dbl[2].xout - x) === 0;
    enabled * (dbl[2].yout - y) === 0;

    // Check (3): x != 0.
    signal xInverse;
    // Pinned by the constraint below: x * xInverse = enabled has a solution iff x != 0 or
    // enabled = 0 (then xInverse = 0 is the one the hint takes).
    xInverse <-- (enabled == 0 || x == 0) ? 0 : 1 / x;
    x * xInverse === enabled;
}
