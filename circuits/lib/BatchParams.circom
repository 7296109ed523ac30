pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/eddsaposeidon.circom";
include "Constants.circom";
include "UnsignedRange.circom";
include "SignedRange.circom";
include "OnCurveIfEnabled.circom";
include "PubKeyCheck.circom";

/// The batch parameters, bound to the Rollup's public inputs (docs/protocol.md, sections 2
/// and 6; docs/settlement.md).
///
/// Proves:
///  (1) `batchInfo = n * 2^80 + tPrev * 2^40 + t` with n, tPrev, t each below 2^40 (so the
///      split is unique) and `tPrev < t`;
///  (2) `1 <= tickSize < 2^40`; (3) `0 < mmrBps < imrBps <= 10^4`; (4) fees in `[0, 10^6]`;
///  (5) `1 <= mark < 2^40`, `|F*| < 2^63`, `fundingCap < 2^64`;
///  (6) `configHash` is the Rollup's hash of these markets, their funding caps and the
///      feed key (zero-capacity Poseidon, tag first): `h_0 = P(TAG_CONFIG, Ax, Ay)`,
///      `h_{m+1} = P(TAG_CONFIG_MARKET, h_m, packed_m)` with `packed_m = tick + imr * 2^40
///      + mmr * 2^54 + makerFee * 2^68 + takerFee * 2^88 + cap * 2^108` (below 2^172 and
///      unique: checks (2) to (5) bound every field to its width);
///  (7) the feed key is in the prime-order subgroup and not the identity (PubKeyCheck),
///      and `(R8, S)` is its EdDSA-Poseidon signature (circomlib EdDSAPoseidonVerifier,
///      R8 on the curve) of `H_PRICES(t, H_PRICES(mark_*), H_PRICES(F*_*))`;
///  (8) every market's funding index moves by at most its cap since the last batch:
///      `|F*_m - prevFunding_m| * 10^9 <= cap_m * mark_m * (t - tPrev)`.
///
/// @param  M  markets, 1..8
/// @input  batchNumber, prevTimestamp, timestamp
/// @input  tickSize[M], imrBps[M], mmrBps[M], makerFeePpm[M], takerFeePpm[M], fundingCap[M]
/// @input  feedKeyX, feedKeyY, feedSigR8x, feedSigR8y, feedSigS
/// @input  mark[M], fundingIndex[M] (signed mod p), prevFunding[M] (signed mod p)
/// @output batchInfo, configHash
///
/// Assumptions: `|prevFunding| < 2^63` (the caller passes the insurance fund's opened
/// funding indices, in range by the state invariant).
/// Constraint count (circom --O2): M = 2: 7,153 (tests/circuits/test_batch_params.py
/// asserts it).
template BatchParams(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input batchNumber;
    signal input prevTimestamp;
    signal input timestamp;
    signal input tickSize[M];
    signal input imrBps[M];
    signal input mmrBps[M];
    signal input makerFeePpm[M];
    signal input takerFeePpm[M];
    signal input fundingCap[M];
    signal input feedKeyX;
    signal input feedKeyY;
    signal input feedSigR8x;
    signal input feedSigR8y;
    signal input feedSigS;
    signal input mark[M];
    signal input fundingIndex[M];
    signal input prevFunding[M];
    signal output batchInfo;
    signal output configHash;

    // Check (1): n, tPrev, t below 2^40, tPrev < t, packed into batchInfo.
    component nRange = UnsignedRange(TIME_BITS());
    nRange.in <== batchNumber;
    component tPrevRange = UnsignedRange(TIME_BITS());
    tPrevRange.in <== prevTimestamp;
    component tRange = UnsignedRange(TIME_BITS());
    tRange.in <== timestamp;
    component forward = UnsignedRange(TIME_BITS());
    forward.in <== timestamp - prevTimestamp - 1;
    batchInfo <== batchNumber * (1 << 80) + prevTimestamp * (1 << 40) + timestamp;

    component tick[M];
    component mmrPos[M];
    component mmrLtImr[M];
    component imrMax[M];
    component makerMax[M];
    component makerMin[M];
    component takerMin[M];
    component takerMax[M];
    component markMin[M];
    component markMax[M];
    component tickMax[M];
    component fundingRange[M];
    component capRange[M];
    component fold[M];
    component marksHash = PoseidonEx(M, 1);
    component fundingHash = PoseidonEx(M, 1);
    marksHash.initialState <== TAG_PRICES();
    fundingHash.initialState <== TAG_PRICES();
    component head = Poseidon(3);
    head.inputs[0] <== TAG_CONFIG();
    head.inputs[1] <== feedKeyX;
    head.inputs[2] <== feedKeyY;
    for (var m = 0; m < M; m++) {
        // Check (2): 1 <= tickSize < 2^40.
        tick[m] = UnsignedRange(PRICE_BITS());
        tick[m].in <== tickSize[m] - 1;
        tickMax[m] = UnsignedRange(PRICE_BITS());
        tickMax[m].in <== tickSize[m];
        // Check (3): 0 < mmr < imr <= 10^4.
        mmrPos[m] = UnsignedRange(MARGIN_SCALE_BITS());
        mmrPos[m].in <== mmrBps[m] - 1;
        mmrLtImr[m] = UnsignedRange(MARGIN_SCALE_BITS());
        mmrLtImr[m].in <== imrBps[m] - mmrBps[m] - 1;
        imrMax[m] = UnsignedRange(MARGIN_SCALE_BITS());
        imrMax[m].in <== MARGIN_SCALE() - imrBps[m];
        // Check (4): fees in [0, 10^6] (fee and 10^6 - fee both in [0, 2^20)).
        makerMin[m] = UnsignedRange(FEE_SCALE_BITS());
        makerMin[m].in <== makerFeePpm[m];
        takerMin[m] = UnsignedRange(FEE_SCALE_BITS());
        takerMin[m].in <== takerFeePpm[m];
        makerMax[m] = UnsignedRange(FEE_SCALE_BITS());
        makerMax[m].in <== FEE_SCALE() - makerFeePpm[m];
        takerMax[m] = UnsignedRange(FEE_SCALE_BITS());
        takerMax[m].in <== FEE_SCALE() - takerFeePpm[m];
        // Check (5): 1 <= mark < 2^40, |F*| < 2^63, cap < 2^64.
        markMin[m] = UnsignedRange(PRICE_BITS());
        markMin[m].in <== mark[m] - 1;
        markMax[m] = UnsignedRange(PRICE_BITS());
        markMax[m].in <== mark[m];
        fundingRange[m] = SignedRange(FUNDING_BITS());
        fundingRange[m].in <== fundingIndex[m];
        capRange[m] = UnsignedRange(FUNDING_CAP_BITS());
        capRange[m].in <== fundingCap[m];

        // Check (6): the configuration hash, folded market by market over the packed
        // parameters (packing is linear: no constraint).
        fold[m] = Poseidon(3);
        fold[m].inputs[0] <== TAG_CONFIG_MARKET();
        if (m == 0) {
            fold[m].inputs[1] <== head.out;
        } else {
            fold[m].inputs[1] <== fold[m - 1].out;
        }
        fold[m].inputs[2] <== tickSize[m] + imrBps[m] * (1 << 40) + mmrBps[m] * (1 << 54)
            + makerFeePpm[m] * (1 << 68) + takerFeePpm[m] * (1 << 88)
            + fundingCap[m] * (1 << 108);

        marksHash.inputs[m] <== mark[m];
        fundingHash.inputs[m] <== fundingIndex[m];
    }
    configHash <== fold[M - 1].out;

    // Check (7): the feed's key, and its signature on the prices of time t.
    component feedKey = PubKeyCheck();
    feedKey.enabled <== 1;
    feedKey.x <== feedKeyX;
    feedKey.y <== feedKeyY;
    component r8OnCurve = OnCurveIfEnabled();
    r8OnCurve.enabled <== 1;
    r8OnCurve.x <== feedSigR8x;
    r8OnCurve.y <== feedSigR8y;
    component prices = PoseidonEx(3, 1);
    prices.initialState <== TAG_PRICES();
    prices.inputs[0] <== timestamp;
    prices.inputs[1] <== marksHash.out[0];
    prices.inputs[2] <== fundingHash.out[0];
    component signature = EdDSAPoseidonVerifier();
    signature.enabled <== 1;
    signature.Ax <== feedKeyX;
    signature.Ay <== feedKeyY;
    signature.S <== feedSigS;
    signature.R8x <== feedSigR8x;
    signature.R8y <== feedSigR8y;
    signature.M <== prices.out[0];

    // Check (8): |F* - prevFunding| * 10^9 <= cap * mark * (t - tPrev). Both sides are
    // below 2^144 (|dF| < 2^64 times 10^9 < 2^30; cap < 2^64, mark < 2^40, dt < 2^40), so
    // the difference is in [0, 2^144) exactly when the bound holds.
    component moveRange[M];
    component capBound[M];
    signal capMark[M];
    signal allowance[M];
    for (var m = 0; m < M; m++) {
        moveRange[m] = SignedRange(FUNDING_BITS() + 1);
        moveRange[m].in <== fundingIndex[m] - prevFunding[m];
        capMark[m] <== fundingCap[m] * mark[m];
        allowance[m] <== capMark[m] * (timestamp - prevTimestamp);
        capBound[m] = UnsignedRange(FUNDING_CAP_BITS() + PRICE_BITS() + TIME_BITS());
        capBound[m].in <== allowance[m] - moveRange[m].abs * FUNDING_RATE_SCALE();
    }
}
