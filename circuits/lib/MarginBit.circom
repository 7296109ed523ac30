pragma circom 2.1.0;

include "Constants.circom";
include "SignedRange.circom";
include "IsNonNegative.circom";

/// The margin rule for one account after a fill that may not happen, as a bit
/// (docs/protocol.md, section 8; docs/book.md, "One taker, proven": rules 3 and 4 weigh a
/// fill before it is made).
///
/// With `V = C + sum_m P_m * mark_m`, `IR = sum_m |P_m| * mark_m * imrBps_m`,
/// `MR = sum_m |P_m| * mark_m * mmrBps_m`, unprimed before the fill and primed after:
///
/// Proves: `legal = 1` iff the state after the fill is one the batch may write,
/// `|C'| < 2^63` and `|P'_m| < 2^40` for every m, and the fill is legal for the account:
/// (A) `V' * 10^4 >= IR'`, or (B) `MR' < MR` and `V' * MR >= V * MR'`. Unlike
/// MarginCheck nothing is asserted about the after state: an out-of-range or illegal
/// fill gives `legal = 0` (a failure the matching rules act on), never an unprovable
/// batch.
///
/// @param  M                markets, 1..8
/// @input  collBefore       C before, signed, |C| < 2^63
/// @input  posBefore[M]     P_m before, signed, |P_m| < 2^40 (checked here)
/// @input  collAfter        C' (the fill's notional and fee applied), signed, |C'| < 2^74
/// @input  posAfter[M]      P'_m, signed, |P'_m| < 2^41 (checked here)
/// @input  mark[M]          mark prices, 1 <= mark < 2^40
/// @input  imrBps[M], mmrBps[M]  margin ratios, 0 < mmr < imr <= 10^4
/// @output legal            the bit
///
/// Assumptions: the caller's bounds on C and C' (a fill of qty < 2^32 at price < 2^40
/// moves C by its notional, below 2^72, and a fee at most that), marks and ratios
/// range-checked by BatchParams. Then |V| < 2^84, |V'| < 2^85, MR < 2^97, IR', MR' < 2^98,
/// and every compared difference fits its IsNonNegative width.
/// Constraint count (circom --O2): see docs/circuits.md (tests/circuits/test_margin_bit.py
/// asserts it).
template MarginBit(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input collBefore;
    signal input posBefore[M];
    signal input collAfter;
    signal input posAfter[M];
    signal input mark[M];
    signal input imrBps[M];
    signal input mmrBps[M];
    signal output legal;

    // Check (1): the after state's ranges, as bits (the caller's bounds asserted).
    component collAbs = SignedRange(COLLATERAL_BITS() + 11);
    collAbs.in <== collAfter;
    component collFits = IsNonNegative(COLLATERAL_BITS() + 11);
    collFits.in <== (1 << COLLATERAL_BITS()) - 1 - collAbs.abs;

    component rangeBefore[M];
    component rangeAfter[M];
    component posFits[M];
    signal fits[M + 1];
    fits[0] <== collFits.out;
    signal notionalBefore[M];
    signal notionalAfter[M];
    signal absNotionalBefore[M];
    signal absNotionalAfter[M];
    signal mmBefore[M];
    signal mmAfter[M];
    signal imAfter[M];
    var vBefore = collBefore;
    var vAfter = collAfter;
    var mrBefore = 0;
    var mrAfter = 0;
    var irAfter = 0;
    for (var m = 0; m < M; m++) {
        rangeBefore[m] = SignedRange(POSITION_BITS());
        rangeBefore[m].in <== posBefore[m];
        rangeAfter[m] = SignedRange(POSITION_BITS() + 1);
        rangeAfter[m].in <== posAfter[m];
        posFits[m] = IsNonNegative(POSITION_BITS() + 1);
        posFits[m].in <== (1 << POSITION_BITS()) - 1 - rangeAfter[m].abs;
        fits[m + 1] <== fits[m] * posFits[m].out;

        notionalBefore[m] <== posBefore[m] * mark[m];
        notionalAfter[m] <== posAfter[m] * mark[m];
        absNotionalBefore[m] <== rangeBefore[m].abs * mark[m];
        absNotionalAfter[m] <== rangeAfter[m].abs * mark[m];
        mmBefore[m] <== absNotionalBefore[m] * mmrBps[m];
        mmAfter[m] <== absNotionalAfter[m] * mmrBps[m];
        imAfter[m] <== absNotionalAfter[m] * imrBps[m];

        vBefore += notionalBefore[m];
        vAfter += notionalAfter[m];
        mrBefore += mmBefore[m];
        mrAfter += mmAfter[m];
        irAfter += imAfter[m];
    }

    // Check (2A): V' * 10^4 - IR' >= 0; |V' * 10^4| < 2^99, IR' < 2^98.
    component initialOk = IsNonNegative(100);
    initialOk.in <== vAfter * MARGIN_SCALE() - irAfter;

    // Check (2B1): MR - MR' - 1 >= 0; MR < 2^97, MR' < 2^98.
    component riskDown = IsNonNegative(99);
    riskDown.in <== mrBefore - mrAfter - 1;

    // Check (2B2): V' * MR - V * MR' >= 0; each product < 2^182.
    signal cross1 <== vAfter * mrBefore;
    signal cross2 <== vBefore * mrAfter;
    component ratioKept = IsNonNegative(183);
    ratioKept.in <== cross1 - cross2;

    // Check (3): legal = fits and (A or (B1 and B2)).
    signal reduced <== riskDown.out * ratioKept.out;
    signal rule <== initialOk.out + reduced - initialOk.out * reduced;
    legal <== fits[M] * rule;
}
