pragma circom 2.1.0;

/// Funding owed by one account (docs/protocol.md, section 7, phase 2).
///
/// Proves: `payment = sum_m posSize[m] * (fundingIndex[m] - posFunding[m])`
/// (the account's `C` then decreases by `payment`).
///
/// @param  M                 markets, 1..8
/// @input  posSize[M]        P_m, signed, |P| < 2^40
/// @input  posFunding[M]     F_m last seen, signed, |F| < 2^63
/// @input  fundingIndex[M]   F*_m of the batch, signed, |F*| < 2^63
/// @output payment           signed, |payment| < 2^107
///
/// Assumptions: the ranges above (leaves carry range-checked values, the batch
/// range-checks F*), so the sum cannot wrap.
/// Constraint count (circom --O2): M; M = 2: 2 (tests/circuits/test_fees.py asserts it).
template FundingPayment(M) {
    assert(M >= 1 && M <= 8);
    signal input posSize[M];
    signal input posFunding[M];
    signal input fundingIndex[M];
    signal output payment;

    signal term[M];
    var total = 0;
    for (var m = 0; m < M; m++) {
        term[m] <== posSize[m] * (fundingIndex[m] - posFunding[m]);
        total += term[m];
    }
    payment <== total;
}
