pragma circom 2.1.0;

include "Constants.circom";
include "OneHot.circom";
include "SelectOne.circom";

/// The two sides of one market among the venue's running book sides (docs/book.md,
/// "In the state"): the taker's own side and the opposite one.
///
/// Proves: `market < M`, `side` a bit, `ownSel` is the one-hot of `2 * market + side`
/// and `oppSel` that of `2 * market + 1 - side`; the outputs are those sides' fields.
/// The batch writes a side back as `new_i = old_i + ownSel_i * (ownAfter - old_i) +
/// oppSel_i * (oppAfter - old_i)` (the two selectors never share an index).
///
/// @param  M          markets, 1..8
/// @param  capLevels  as BookHeader
/// @input  market, side   the taker's (masked by the batch: 0 for a no-op message)
/// @input  cap[2M][4^capLevels], headPtr[2M], headRank[2M], freePtr[2M], frontier[2M]
/// @output ownSel[2M], oppSel[2M]
/// @output ownCap[..], ownHeadPtr, ownHeadRank, ownFreePtr, ownFrontier
/// @output oppCap[..], oppHeadPtr, oppHeadRank, oppFreePtr
///
/// Assumptions: none.
/// Constraint count (circom --O2): see docs/circuits.md (tests/circuits/test_book_state.py
/// asserts it).
template BookSideSelect(M, capLevels) {
    assert(M >= 1 && M <= MAX_MARKETS());
    var N = 4 ** capLevels;
    signal input market;
    signal input side;
    signal input cap[2 * M][N];
    signal input headPtr[2 * M];
    signal input headRank[2 * M];
    signal input freePtr[2 * M];
    signal input frontier[2 * M];
    signal output ownSel[2 * M];
    signal output oppSel[2 * M];
    signal output ownCap[N];
    signal output ownHeadPtr;
    signal output ownHeadRank;
    signal output ownFreePtr;
    signal output ownFrontier;
    signal output oppCap[N];
    signal output oppHeadPtr;
    signal output oppHeadRank;
    signal output oppFreePtr;

    // Check (1): market < M, side is a bit (so 2 * market + side < 2M).
    component marketRange = OneHot(M);
    marketRange.index <== market;
    side * (side - 1) === 0;
    component index = OneHot(2 * M);
    index.index <== 2 * market + side;
    for (var m = 0; m < M; m++) {
        ownSel[2 * m] <== index.sel[2 * m];
        ownSel[2 * m + 1] <== index.sel[2 * m + 1];
        oppSel[2 * m] <== index.sel[2 * m + 1];
        oppSel[2 * m + 1] <== index.sel[2 * m];
    }

    // Check (2): the selected fields.
    component own[N + 4];
    component opp[N + 3];
    for (var j = 0; j < N + 4; j++) {
        own[j] = SelectOne(2 * M);
        own[j].sel <== ownSel;
        if (j < N + 3) {
            opp[j] = SelectOne(2 * M);
            opp[j].sel <== oppSel;
        }
    }
    for (var i = 0; i < 2 * M; i++) {
        for (var j = 0; j < N; j++) {
            own[j].values[i] <== cap[i][j];
            opp[j].values[i] <== cap[i][j];
        }
        own[N].values[i] <== headPtr[i];
        own[N + 1].values[i] <== headRank[i];
        own[N + 2].values[i] <== freePtr[i];
        own[N + 3].values[i] <== frontier[i];
        opp[N].values[i] <== headPtr[i];
        opp[N + 1].values[i] <== headRank[i];
        opp[N + 2].values[i] <== freePtr[i];
    }
    for (var j = 0; j < N; j++) {
        ownCap[j] <== own[j].out;
        oppCap[j] <== opp[j].out;
    }
    ownHeadPtr <== own[N].out;
    ownHeadRank <== own[N + 1].out;
    ownFreePtr <== own[N + 2].out;
    ownFrontier <== own[N + 3].out;
    oppHeadPtr <== opp[N].out;
    oppHeadRank <== opp[N + 1].out;
    oppFreePtr <== opp[N + 2].out;
}
