pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/pointbits.circom";

/// Decompress a Baby Jubjub point from `y` alone, taking the root `x < 2^252`, or show
/// there is none (docs/inbox.md, "Plaintext": the signature's R8 travels as `R8y`, and a
/// compact signature has `R8x < 2^252`).
///
/// Of the two roots `r` and `p - r` at most one is below 2^252 (both would need
/// `p < 2^253`), and if one root lies in `[2^252, 2^253)` the other is above
/// `p - 2^253 > 2^252` (`p > 3 * 2^252`): neither is small. So one 252-bit range check
/// decides both cases: `r - (1 - small) * 2^252` in `[0, 2^252)`.
///
/// Proves: with `u = (1 - y^2) / (a - d*y^2)` (the denominator is never 0: `a/d` is not a
/// square), either
///  - `isSquare = 1`, `r^2 = u`, and `small = 1` with `r < 2^252` (then `ok = 1`, `x = r`),
///    or `small = 0` with `2^252 <= r < 2^253`, which shows that no root is small
///    (`ok = 0`); `ok = small`; or
///  - `isSquare = 0` and `r^2 = 5u` with `r != 0` (5 is a non-residue, so `u` is not a
///    square, and `u != 0`), and `small = 0`: `ok = 0`.
/// Exactly one branch and one `small` are satisfiable for each `y`, and with `ok = 1` `x`
/// is unique, so the prover can neither hide a valid point nor pick the other root.
///
/// @input  y       the compressed point
/// @output x       the point's x when ok = 1 (otherwise meaningless)
/// @output ok      1 iff the curve has a point at `y` whose x is below 2^252
///
/// Constraint count (circom --O2): 262 (tests/circuits/test_inbox_message.py asserts it).
template PointFromY() {
    signal input y;
    signal output x;
    signal output ok;

    var a = 168700;
    var d = 168696;
    var NONRESIDUE = 5;
    var SMALL = 1 << 252;

    signal y2 <== y * y;
    signal u;
    // Pinned by the next line: a - d*y^2 is never 0.
    u <-- (1 - y2) / (a - d * y2);
    u * (a - d * y2) === 1 - y2;

    // The hints: is u a square, and a root r of u (or of 5u), the small one if any.
    signal isSquare;
    signal small;
    signal r;
    var rootOfU = sqrt(u);
    var isSq = 0;
    if (u == 0 || rootOfU != 0) {
        isSq = 1;
    }
    var root = rootOfU;
    if (isSq == 0) {
        root = sqrt(NONRESIDUE * u);
    }
    // Shifts read the canonical value (circom's < and >= compare signed values).
    if ((root >> 252) != 0) {
        root = -root;
    }
    var isSmall = 0;
    if (isSq == 1 && (root >> 252) == 0) {
        isSmall = 1;
    }
    if (isSq == 1 && isSmall == 0 && (root >> 252) != 1) {
        // Neither root is small: present the one in [2^252, 2^253).
        root = -root;
    }
    // Pinned by the root constraints below: only the true branch has a root.
    isSquare <-- isSq;
    isSquare * (isSquare - 1) === 0;
    // Pinned by the range check (which of the two claims holds) and, for a non-square, by
    // the next-but-one line (small = 0).
    small <-- isSmall;
    small * (small - 1) === 0;
    small * (1 - isSquare) === 0;
    // Pinned by r^2 = factor (up to sign) and the range check (the sign): for a square
    // with a small root only that root passes it, with small = 1; when neither root is
    // small, small = 0 is forced and one or both roots may pass (both when both lie in
    // [2^252, 2^253)); for a non-square r only enters the range check multiplied by
    // isSquare = 0. So with ok = 1 x is unique; with ok = 0 its sign may be free, and x
    // is then meaningless (MessageEntry uses r8Ok * r8x).
    r <-- root;

    // r^2 = u (a square) or r^2 = 5u (not one).
    signal factor <== u * (NONRESIDUE + isSquare * (1 - NONRESIDUE));
    r * r === factor;
    // Not a square: r != 0 (else u = 0, which is the square of 0).
    signal rInv;
    // Pinned by the next two lines when isSquare = 0 (free otherwise: it multiplies 0).
    rInv <-- r == 0 ? 0 : 1 / r;
    signal rTimesInv <== r * rInv;
    (1 - isSquare) * (rTimesInv - 1) === 0;

    // A square: r - (1 - small) * 2^252 in [0, 2^252). Not a square: the check is void.
    signal shifted <== isSquare * (r - SMALL + small * SMALL);
    component range = Num2Bits(252);
    range.in <== shifted;

    x <== r;
    ok <== small;
}
