pragma circom 2.1.0;

include "circomlib/circuits/babyjub.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/escalarmulany.circom";

/// The operator's side of an inbox message's key exchange: `shared = s * (8 * E)`
/// (cofactor Diffie-Hellman, docs/inbox.md, "Keys").
///
/// Proves: `E = (ephX, ephY)` is on Baby Jubjub with `ephX < 2^252` (Check (1)), and
/// `shared = s * (8 * E)` where `s = sum secretBits[i] * 2^i` (Check (2)). Three doublings
/// put `8 * E` in the prime-order subgroup (or make it the identity, which circomlib's
/// EscalarMulAny maps to the identity), so the scalar multiplication never meets an
/// exceptional case whatever point a sender posts.
///
/// @input  secretBits[253]  the operator's secret scalar, little-endian bits (the caller
///                          range-checks them once per batch and proves `s * BASE8` is the
///                          registered operator key)
/// @input  ephX, ephY       the ephemeral key; `ephY` is bound by the inbox chain and `ephX`
///                          is the prover's hint, pinned here to the root below 2^252
/// @output shared[2]        the cipher key
///
/// Assumptions: the Rollup accepted the message only with `(ephX, ephY)` on the curve and
/// `ephX < 2^252`, so an honest prover can always satisfy Check (1); it is a hard
/// constraint because `ephY` alone fixes that `ephX` (of the two roots `x`, `p - x`, at
/// most one is below 2^252, since `p > 2^253`).
/// Constraint count (circom --O2): 2,574 (tests/circuits/test_inbox_message.py asserts it).
template CofactorEcdh() {
    signal input secretBits[253];
    signal input ephX;
    signal input ephY;
    signal output shared[2];

    // Check (1): on the curve, and the small root (252 bits: below 2^252 < p, so exact).
    component onCurve = BabyCheck();
    onCurve.x <== ephX;
    onCurve.y <== ephY;
    component xRange = Num2Bits(252);
    xRange.in <== ephX;

    // Check (2): shared = s * (8 * E).
    component dbl[3];
    dbl[0] = BabyDbl();
    dbl[0].x <== ephX;
    dbl[0].y <== ephY;
    for (var i = 1; i < 3; i++) {
        dbl[i] = BabyDbl();
        dbl[i].x <== dbl[i - 1].xout;
        dbl[i].y <== dbl[i - 1].yout;
    }
    component mul = EscalarMulAny(253);
    mul.e <== secretBits;
    mul.p[0] <== dbl[2].xout;
    mul.p[1] <== dbl[2].yout;
    shared <== mul.out;
}
