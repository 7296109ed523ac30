pragma circom 2.1.0;

include "circomlib/circuits/babyjub.circom";
include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "circomlib/circuits/compconstant.circom";
include "circomlib/circuits/escalarmulany.circom";
include "circomlib/circuits/escalarmulfix.circom";
include "circomlib/circuits/poseidon.circom";

/// Whether `(R8, S)` is a valid EdDSA-Poseidon signature of `M` by `A`, as a bit: the
/// equation of circomlib's EdDSAPoseidonVerifier, computed without failing on a bad
/// signature (an inbox message with a bad signature is a no-op, docs/inbox.md).
///
/// Proves: `valid = 1` iff `S < l` (the subgroup order; `S` is decomposed exactly, so any
/// field element is handled), `8*A` is not the identity's x = 0 (circomlib's small-order
/// check), and `S * BASE8 = R8 + (8*A) * h` with `h = Poseidon(R8x, R8y, Ax, Ay, M)`;
/// otherwise `valid = 0`. Every step is a function of the inputs (no hint can change
/// `valid`) and satisfiable for every input: `S * BASE8` is computed in two single-segment
/// EscalarMulFix parts (Check (3) says why not circomlib's 253-bit one), EscalarMulAny runs
/// on `8*A` (in the subgroup, or x = 0, its zero-point case), and BabyAdd is complete for
/// points on the curve.
///
/// @input  Ax, Ay        the signer's key: a subgroup point, or (0, 0) for an empty account
///                       (then `8*A = (0, 0)` and `valid = 0`)
/// @input  R8x, R8y      on the curve (the caller decompresses it with PointFromY and feeds
///                       the identity when there is no point)
/// @input  S             any field element
/// @input  M             the signed message
/// @output valid         0 or 1
///
/// Assumptions: `A` is a subgroup point or (0, 0) (account keys are checked when they enter
/// the state, docs/protocol.md section 4); `R8` is on the curve.
/// Constraint count (circom --O2): 4,479 (tests/circuits/test_message_entry.py asserts it).
template EdDSAPoseidonValid() {
    signal input Ax;
    signal input Ay;
    signal input R8x;
    signal input R8y;
    signal input S;
    signal input M;
    signal output valid;

    var BASE8[2] = [
        5299619240641551281634865583518297030282874472190772894086521144482721001553,
        16950150798460657717958625567821834550301663161624707787222815936182638968203
    ];

    // Check (1): S < l, as a bit (l - 1 is the constant CompConstant compares with).
    component sBits = Num2Bits_strict();
    sBits.in <== S;
    component sTooBig = CompConstant(2736030358979909402780800718157159386076813972158567259200215660948447373040);
    sTooBig.in <== sBits.out;

    // h = Poseidon(R8, A, M), exactly decomposed.
    component hash = Poseidon(5);
    hash.inputs <== [R8x, R8y, Ax, Ay, M];
    component hBits = Num2Bits_strict();
    hBits.in <== hash.out;

    // Check (2): 8*A is not x = 0 (a small-order or empty key).
    component dbl[3];
    dbl[0] = BabyDbl();
    dbl[0].x <== Ax;
    dbl[0].y <== Ay;
    for (var i = 1; i < 3; i++) {
        dbl[i] = BabyDbl();
        dbl[i].x <== dbl[i - 1].xout;
        dbl[i].y <== dbl[i - 1].yout;
    }
    component aZero = IsZero();
    aZero.in <== dbl[2].xout;

    // Check (3): S * BASE8 = R8 + h * (8*A). S * BASE8 in two fixed-base parts, bits 0..245
    // and bits 246..252 (base 2^246 * BASE8), added with the complete BabyAdd: each part is
    // one EscalarMulFix segment whose running sum stays below l, so no adder meets equal or
    // opposite inputs. (circomlib's EscalarMulFix(253, BASE8) builds a 249-bit first
    // segment whose sum wraps past l: S = l - 2^250 - (8^83 - 1) / 7 (mod 2^249) makes
    // its last adder divide by zero; a trader could post that S and stall the batch.)
    // When S >= 2^253, Check (1) already fails.
    component hA = EscalarMulAny(254);
    hA.e <== hBits.out;
    hA.p[0] <== dbl[2].xout;
    hA.p[1] <== dbl[2].yout;
    component right = BabyAdd();
    right.x1 <== R8x;
    right.y1 <== R8y;
    right.x2 <== hA.out[0];
    right.y2 <== hA.out[1];
    var BASE8_2_246[2] = [
        8448361671856611094368094893873528300213448016874278049008935486981108396466,
        3719130040286663224590128240427185068966755285258175280098621282171226423213
    ];
    component leftLow = EscalarMulFix(246, BASE8);
    for (var i = 0; i < 246; i++) {
        leftLow.e[i] <== sBits.out[i];
    }
    component leftHigh = EscalarMulFix(7, BASE8_2_246);
    for (var i = 0; i < 7; i++) {
        leftHigh.e[i] <== sBits.out[246 + i];
    }
    component left = BabyAdd();
    left.x1 <== leftLow.out[0];
    left.y1 <== leftLow.out[1];
    left.x2 <== leftHigh.out[0];
    left.y2 <== leftHigh.out[1];
    component eqX = IsEqual();
    eqX.in <== [left.xout, right.xout];
    component eqY = IsEqual();
    eqY.in <== [left.yout, right.yout];

    signal okKey <== (1 - sTooBig.out) * (1 - aZero.out);
    signal okEq <== eqX.out * eqY.out;
    valid <== okKey * okEq;
}
