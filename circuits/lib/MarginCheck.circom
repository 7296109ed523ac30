pragma circom 2.1.0;

include "Constants.circom";
include "SignedRange.circom";
include "IsNonNegative.circom";

/// The margin rule for one account after one fill (docs/protocol.md, section 8).
///
/// With `V = C + sum_m P_m * mark_m`, `IR = sum_m |P_m| * mark_m * imrBps_m`,
/// `MR = sum_m |P_m| * mark_m * mmrBps_m`, unprimed before the fill and primed after:
///
/// Proves: if `enabled = 1`, the fill is legal for the account:
/// (A) `V' * 10^4 >= IR'`, or
/// (B) `MR' < MR` and `V' * MR >= V * MR'` (it reduced risk without lowering
///     value over risk).
/// Also range-checks every position, before and after: `|P_m| < 2^40`.
///
/// @param  M                markets, 1..8
/// @input  enabled          0 or 1 (0: no check; the batch passes `fillUsed`)
/// @input  collBefore       C before the fill, signed, |C| < 2^63
/// @input  posBefore[M]     P_m before, signed mod p
/// @input  collAfter        C after the fill (fees included), signed, |C| < 2^63
/// @input  posAfter[M]      P_m after, signed mod p
/// @input  mark[M]          mark prices, 1 <= mark < 2^40
/// @input  imrBps[M], mmrBps[M]  margin ratios, 0 < mmr < imr <= 10^4
/// @output legal            1 if (A) or (B) holds (constrained to 1 when enabled)
///
/// Assumptions: the caller range-checks `enabled` (boolean), both collaterals
/// (|C| < 2^63), marks and ratios. Then |V| < 2^84, IR, MR < 2^97, and every
/// compared difference fits its IsNonNegative width (below p/2: nothing wraps).
/// Constraint count (circom --O2): M = 2: 569; M = 8: 1115 (tests/circuits/test_margin.py asserts it).
template MarginCheck(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input enabled;
    signal input collBefore;
    signal input posBefore[M];
    signal input collAfter;
    signal input posAfter[M];
    signal input mark[M];
    signal input imrBps[M];
    signal input mmrBps[M];
    signal output legal;

    component rangeBefore[M];
    component rangeAfter[M];
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
        // Check (1): |P_m| < 2^40 before and after (gives |P_m| for the risk sums).
        rangeBefore[m] = SignedRange(POSITION_BITS());
        rangeBefore[m].in <== posBefore[m];
        rangeAfter[m] = SignedRange(POSITION_BITS());
        rangeAfter[m].in <== posAfter[m];

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

    // (A): V' * 10^4 - IR' >= 0; |V' * 10^4| < 2^98, IR' < 2^97.
    component initialOk = IsNonNegative(99);
    initialOk.in <== vAfter * MARGIN_SCALE() - irAfter;

    // (B1): MR - MR' - 1 >= 0, i.e. MR' < MR; both in [0, 2^97).
    component riskDown = IsNonNegative(98);
    riskDown.in <== mrBefore - mrAfter - 1;

    // (B2): V' * MR - V * MR' >= 0; each product < 2^84 * 2^97 = 2^181.
    signal cross1 <== vAfter * mrBefore;
    signal cross2 <== vBefore * mrAfter;
    component ratioKept = IsNonNegative(182);
    ratioKept.in <== cross1 - cross2;

    // Check (2): legal = A or (B1 and B2), and enabled => legal.
    signal reduced <== riskDown.out * ratioKept.out;
    legal <== initialOk.out + reduced - initialOk.out * reduced;
    enabled * (1 - legal) === 0;
}
