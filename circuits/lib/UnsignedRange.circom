pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

/// Unsigned range check.
///
/// Proves: `0 <= in < 2^bits` (as an integer: the canonical representative of `in`).
///
/// @param  bits  1..252 (below the field size, so the bit decomposition is unique)
/// @input  in    field element
///
/// Assumptions: none.
/// Constraint count (circom --O2): `bits`; bits = 32: 32 (tests/circuits/test_ranges.py asserts it).
template UnsignedRange(bits) {
    assert(bits >= 1 && bits <= 252);
    signal input in;

    // Check (1): `in` is the sum of `bits` boolean bits.
    component n2b = Num2Bits(bits);
    n2b.in <== in;
}
