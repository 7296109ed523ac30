pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";

/// Signed range check in sign-magnitude form (docs/protocol.md, section 2).
///
/// Proves: the signed value `v` encoded by `in` (`v mod p`) satisfies
/// `|v| < 2^bits`, and outputs its sign and magnitude: `in = abs` when
/// `neg = 0`, `in = -abs` (i.e. `p - abs`) when `neg = 1`, `0 <= abs < 2^bits`.
/// Exactly the protocol's `|x| < 2^bits` (both ends excluded), unlike a
/// two's-complement check, which would admit `-2^bits`.
///
/// @param  bits  1..250
/// @input  in    signed value mod p
/// @output neg   1 if the value is negative (0 or 1 for zero), else 0
/// @output abs   |value|, `0 <= abs < 2^bits`
///
/// Assumptions: none.
/// Constraint count (circom --O2): `bits` + 2; bits = 40: 42, bits = 63: 65
/// (tests/circuits/test_ranges.py asserts it).
template SignedRange(bits) {
    assert(bits >= 1 && bits <= 250);
    signal input in;
    signal output neg;
    signal output abs;

    // Pinned by Check (1) (booleanity) and Check (3) (in = abs - 2*neg*abs), with
    // abs range-checked by Check (2).
    // circom compares field elements as signed values (above p/2 is negative).
    neg <-- in < 0 ? 1 : 0;
    abs <-- neg == 1 ? -in : in;

    // Check (1): the sign is a bit.
    neg * (neg - 1) === 0;
    // Check (2): the magnitude is below 2^bits.
    component n2b = Num2Bits(bits);
    n2b.in <== abs;
    // Check (3): in = (1 - 2*neg) * abs.
    signal negAbs <== neg * abs;
    in === abs - 2 * negAbs;
}
