pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "circomlib/circuits/comparators.circom";
include "Constants.circom";

/// A fee: `fee = floor(notional * ratePpm / 10^6)` (docs/protocol.md, section 7).
///
/// Proves: `notional * ratePpm = fee * 10^6 + rem` with `0 <= rem < 10^6` and
/// `0 <= fee < 2^notionalBits`; since `notional * ratePpm < 2^(notionalBits+20)`
/// is far below p, this is integer floor division.
///
/// @param  notionalBits  bound on the notional, 1..200
/// @input  notional      `N = qty * price`, `0 <= N < 2^notionalBits`
/// @input  ratePpm       fee rate, `0 <= ratePpm <= 10^6`
/// @output fee
///
/// Assumptions: the caller range-checks `notional` and `ratePpm` (the batch gets
/// them from range-checked qty, price and market parameters).
/// Constraint count (circom --O2): notionalBits + 41; notionalBits = 72: 113
/// (tests/circuits/test_fees.py asserts it).
template FeeFloor(notionalBits) {
    assert(notionalBits >= 1 && notionalBits <= 200);
    signal input notional;
    signal input ratePpm;
    signal output fee;

    signal product <== notional * ratePpm;
    signal rem;
    // Pinned by Check (1) (product = fee * 10^6 + rem) with Checks (2), (3).
    fee <-- product \ FEE_SCALE();
    rem <-- product % FEE_SCALE();

    // Check (1): the division identity.
    product === fee * FEE_SCALE() + rem;
    // Check (2): 0 <= rem < 10^6 (rem range-checked before the comparator).
    component remBits = Num2Bits(FEE_SCALE_BITS());
    remBits.in <== rem;
    component remLt = LessThan(FEE_SCALE_BITS());
    remLt.in[0] <== rem;
    remLt.in[1] <== FEE_SCALE();
    remLt.out === 1;
    // Check (3): 0 <= fee < 2^notionalBits (so fee * 10^6 + rem cannot wrap).
    component feeBits = Num2Bits(notionalBits);
    feeBits.in <== fee;
}
