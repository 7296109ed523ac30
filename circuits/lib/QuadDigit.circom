pragma circom 2.1.0;

/// One base-4 path digit of a quaternary Merkle path, as a one-hot selector.
///
/// Proves: `digit` is in {0, 1, 2, 3} (it equals `b0 + 2*b1` with both bits
/// boolean) and `sel[j] = (digit == j)` for j = 0..3, so exactly one `sel[j]` is 1.
///
/// @input  digit   field element, must be 0..3 (enforced here)
/// @output sel[4]  one-hot: sel[digit] = 1, the others 0
///
/// Assumptions: none.
/// Constraint count (circom --O2): 3 non-linear; 4 as a main component (the
/// sum Check (2) stays linear); test_quad_merkle.py asserts 4.
template QuadDigit() {
    signal input digit;
    signal output sel[4];

    signal b0;
    signal b1;
    // Pinned by Check (1) (booleanity) and Check (2) (recomposition).
    b0 <-- digit & 1;
    b1 <-- (digit >> 1) & 1;

    // Check (1): both bits are boolean.
    b0 * (b0 - 1) === 0;
    b1 * (b1 - 1) === 0;
    // Check (2): the digit is exactly b0 + 2*b1, hence in {0, 1, 2, 3}.
    digit === b0 + 2 * b1;

    signal both <== b0 * b1;
    sel[0] <== 1 - b0 - b1 + both;
    sel[1] <== b0 - both;
    sel[2] <== b1 - both;
    sel[3] <== both;
}
