pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "Constants.circom";
include "BookHeader.circom";

/// The root of every book side of the venue (docs/book.md, "In the state").
///
/// Proves: `root = H_BOOKS(H_BOOK(side 0), ..., H_BOOK(side 2M - 1))` (`PoseidonEx(2M, 1)`,
/// `initialState = TAG_BOOKS`), side `2m + s` being market m's bids (`s = 0`) or asks
/// (`s = 1`), each header hashed from its cap (BookHeader).
///
/// @param  M          markets, 1..8 (so at most 16 sides: one Poseidon)
/// @param  capLevels  as BookHeader
/// @input  cap[2M][4^capLevels], headPtr[2M], headRank[2M], freePtr[2M], frontier[2M]
/// @output root
///
/// Assumptions: none (the batch opens the sides once against the old root and closes
/// them once into the new one).
/// Constraint count (circom --O2): see docs/circuits.md (tests/circuits/test_book_state.py
/// asserts it).
template BookRoot(M, capLevels) {
    assert(M >= 1 && M <= MAX_MARKETS());
    var N = 4 ** capLevels;
    signal input cap[2 * M][N];
    signal input headPtr[2 * M];
    signal input headRank[2 * M];
    signal input freePtr[2 * M];
    signal input frontier[2 * M];
    signal output root;

    component header[2 * M];
    component all = PoseidonEx(2 * M, 1);
    all.initialState <== TAG_BOOKS();
    for (var i = 0; i < 2 * M; i++) {
        header[i] = BookHeader(capLevels);
        header[i].cap <== cap[i];
        header[i].headPtr <== headPtr[i];
        header[i].headRank <== headRank[i];
        header[i].freePtr <== freePtr[i];
        header[i].frontier <== frontier[i];
        all.inputs[i] <== header[i].header;
    }
    root <== all.out[0];
}
