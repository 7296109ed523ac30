pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";
include "UnsignedRange.circom";
include "SignedRange.circom";

/// The batch parameters and their hash (docs/protocol.md, sections 2 and 6).
///
/// Proves: `paramsHash = H_PARAMS(n, t, H_PARAMS(marketHash_0..M-1),
/// H_PARAMS(mark_0..M-1), H_PARAMS(F*_0..M-1))` with
/// `marketHash_m = H_MARKET(tickSize, imrBps, mmrBps, makerFeePpm, takerFeePpm)`, and
/// every parameter is in its protocol range: `n < 2^40`, `t < 2^40`,
/// `1 <= tickSize < 2^40`, `0 < mmrBps < imrBps <= 10^4`, fees in `[0, 10^6]`,
/// `1 <= mark < 2^40`, `|F*| < 2^63`.
///
/// @param  M  markets, 1..8
/// @input  batchNumber, timestamp
/// @input  tickSize[M], imrBps[M], mmrBps[M], makerFeePpm[M], takerFeePpm[M]
/// @input  mark[M], fundingIndex[M] (signed mod p)
/// @output paramsHash
///
/// Assumptions: none.
/// Constraint count (circom --O2): M = 2: 2457 (tests/circuits/test_batch_params.py asserts it).
template BatchParams(M) {
    assert(M >= 1 && M <= MAX_MARKETS());
    signal input batchNumber;
    signal input timestamp;
    signal input tickSize[M];
    signal input imrBps[M];
    signal input mmrBps[M];
    signal input makerFeePpm[M];
    signal input takerFeePpm[M];
    signal input mark[M];
    signal input fundingIndex[M];
    signal output paramsHash;

    // Check (1): n and t below 2^40.
    component nRange = UnsignedRange(TIME_BITS());
    nRange.in <== batchNumber;
    component tRange = UnsignedRange(TIME_BITS());
    tRange.in <== timestamp;

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
    component marketHash[M];
    component marketsHash = PoseidonEx(M, 1);
    component marksHash = PoseidonEx(M, 1);
    component fundingHash = PoseidonEx(M, 1);
    marketsHash.initialState <== TAG_PARAMS();
    marksHash.initialState <== TAG_PARAMS();
    fundingHash.initialState <== TAG_PARAMS();
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
        // Check (5): 1 <= mark < 2^40, |F*| < 2^63.
        markMin[m] = UnsignedRange(PRICE_BITS());
        markMin[m].in <== mark[m] - 1;
        markMax[m] = UnsignedRange(PRICE_BITS());
        markMax[m].in <== mark[m];
        fundingRange[m] = SignedRange(FUNDING_BITS());
        fundingRange[m].in <== fundingIndex[m];

        // Check (6): the hash.
        marketHash[m] = PoseidonEx(5, 1);
        marketHash[m].initialState <== TAG_MARKET();
        marketHash[m].inputs[0] <== tickSize[m];
        marketHash[m].inputs[1] <== imrBps[m];
        marketHash[m].inputs[2] <== mmrBps[m];
        marketHash[m].inputs[3] <== makerFeePpm[m];
        marketHash[m].inputs[4] <== takerFeePpm[m];
        marketsHash.inputs[m] <== marketHash[m].out[0];
        marksHash.inputs[m] <== mark[m];
        fundingHash.inputs[m] <== fundingIndex[m];
    }
    component top = PoseidonEx(5, 1);
    top.initialState <== TAG_PARAMS();
    top.inputs[0] <== batchNumber;
    top.inputs[1] <== timestamp;
    top.inputs[2] <== marketsHash.out[0];
    top.inputs[3] <== marksHash.out[0];
    top.inputs[4] <== fundingHash.out[0];
    paramsHash <== top.out[0];
}
