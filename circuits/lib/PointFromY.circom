pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/pointbits.circom";

/// Decompress a Baby Jubjub point from `y` and the parity of `x`, or show there is none
/// (docs/inbox.md, "Plaintext": the signature's R8 travels as `(R8y, parity of R8x)`).
///
/// Proves: with `u = (1 - y^2) / (a - d*y^2)` (the denominator is never 0: `a/d` is not a
/// square), either
///  - `isSquare = 1`, `x^2 = u`, and `x` has parity `parity` unless `x = 0` and
///    `parity = 1` (no odd root exists): then `ok = 1` except in that case; or
///  - `isSquare = 0` and `r^2 = 5u` with `r != 0` (5 is a non-residue, so `u` is not a
///    square, and `u != 0`): `ok = 0`.
/// Exactly one branch is satisfiable for each `(y, parity)`, and in the first `x` is
/// unique, so the prover can neither hide a valid point nor pick the other root.
///
/// @input  y, parity   the compressed point (`parity` a bit: the caller's)
/// @output x           the point's x when ok = 1 (otherwise meaningless)
/// @output ok          1 iff a point with that y and parity exists
///
/// Assumptions: `parity` is a bit (it comes from a bit decomposition).
/// Constraint count (circom --O2): 527 (tests/circuits/test_inbox_message.py asserts it).
template PointFromY() {
    signal input y;
    signal input parity;
    signal output x;
    signal output ok;

    var a = 168700;
    var d = 168696;
    var NONRESIDUE = 5;

    signal y2 <== y * y;
    signal u;
    // Pinned by the next line: a - d*y^2 is never 0.
    u <-- (1 - y2) / (a - d * y2);
    u * (a - d * y2) === 1 - y2;

    // Check (1): r^2 = u (isSquare = 1) or r^2 = 5u (isSquare = 0).
    signal isSquare;
    signal r;
    var uv = u;
    var rootOfU = sqrt(uv);
    var isSq = 0;
    if (uv == 0 || rootOfU != 0) {
        isSq = 1;
    }
    // Pinned by Check (1) and (2): only the true branch has a root.
    isSquare <-- isSq;
    isSquare * (isSquare - 1) === 0;
    var root = rootOfU;
    if (isSq == 0) {
        var shifted = NONRESIDUE * uv;
        root = sqrt(shifted);
    }
    if (root % 2 != parity) {
        root = -root;
    }
    // Pinned by Check (1) (up to sign) and Check (3) (the sign).
    r <-- root;
    signal factor <== u * (NONRESIDUE + isSquare * (1 - NONRESIDUE));
    r * r === factor;

    // Check (2): in the non-square branch r != 0 (so u != 0: u = 0 is a square).
    signal rInv;
    // Pinned by the next line when isSquare = 0 (free otherwise: it multiplies 0).
    rInv <-- r == 0 ? 0 : 1 / r;
    signal rTimesInv <== r * rInv;
    (1 - isSquare) * (rTimesInv - 1) === 0;

    // Check (3): the root with the asked parity (both roots are 0 when x = 0).
    component bits = Num2Bits_strict();
    bits.in <== r;
    component rZero = IsZero();
    rZero.in <== r;
    signal zeroOdd <== rZero.out * parity;
    signal parityMatters <== isSquare * (1 - zeroOdd);
    parityMatters * (bits.out[0] - parity) === 0;

    x <== r;
    ok <== parityMatters;
}
