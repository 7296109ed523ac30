pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

/// Sign of a bounded signed value, as a bit (a comparator: `a >= b` is
/// `IsNonNegative(bits)(a - b)`).
///
/// Proves: the signed value `v` encoded by `in` satisfies `-2^bits <= v < 2^bits`
/// (otherwise there is no witness) and `out = 1` iff `v >= 0`. It decomposes
/// `in + 2^bits` into `bits + 1` bits; the top bit is the answer.
///
/// @param  bits  1..251
/// @input  in    signed value mod p
/// @output out   1 if `v >= 0`, else 0
///
/// Assumptions: the caller has a bound `|v| < 2^bits` from range-checked
/// operands; a larger `|v|` makes the proof fail (never a wrong answer).
/// Constraint count (circom --O2): `bits` + 1; bits = 99: 100
/// (tests/circuits/test_ranges.py asserts it).
template IsNonNegative(bits) {
    assert(bits >= 1 && bits <= 251);
    signal input in;
    signal output out;

    // Check (1): in + 2^bits is in [0, 2^(bits+1)).
    component n2b = Num2Bits(bits + 1);
    n2b.in <== in + (1 << bits);
    out <== n2b.out[bits];
}
