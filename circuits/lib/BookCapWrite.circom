pragma circom 2.1.0;

include "circomlib/circuits/bitify.circom";
include "OneHot.circom";
include "SelectOne.circom";
include "QuadMerkleUpdate.circom";

/// One leaf write in a book side's tree held as a cap (docs/book.md, "The cap").
///
/// The tree has `levels + capLevels` quaternary levels; its top `capLevels` levels are
/// not hashed here: the caller holds the `N = 4^capLevels` subtree roots at depth
/// `capLevels` (the cap) and hashes them once per batch (BookHeader).
///
/// Proves: `index < 4^(levels + capLevels)`; when `enabled = 1`, `oldLeaf` at `index`
/// folds through `siblings` to the cap entry `cap[index >> 2 * levels]`, and `capAfter` is
/// `cap` with that entry replaced by the fold of `newLeaf` along the same path; when
/// `enabled = 0`, `capAfter = cap` and nothing else is checked.
///
/// @param  levels      levels folded below the cap, >= 1
/// @param  capLevels   levels held as the cap, >= 0
/// @input  enabled     0 or 1 (the caller's bit; not checked here)
/// @input  cap[N]      the cap before
/// @input  index       leaf index (range-checked here)
/// @input  oldLeaf, newLeaf   leaf hashes before and after
/// @input  siblings[levels][3]
/// @output capAfter[N]
///
/// Assumptions: `enabled` is a bit.
/// Constraint count (circom --O2): QuadMerkleUpdate's 609 per level plus the index and cap
/// selection; (6, 2): 3,720, (8, 0): 4,890 (tests/circuits/test_book.py asserts it).
template BookCapWrite(levels, capLevels) {
    assert(levels >= 1);
    assert(capLevels >= 0);
    var N = 4 ** capLevels;
    var BITS = 2 * (levels + capLevels);

    signal input enabled;
    signal input cap[N];
    signal input index;
    signal input oldLeaf;
    signal input newLeaf;
    signal input siblings[levels][3];
    signal output capAfter[N];

    // Check (1): the index fits the tree; its low digits are the path, its top the cap entry.
    component bits = Num2Bits(BITS);
    bits.in <== index;
    var top = 0;
    for (var b = 2 * levels; b < BITS; b++) {
        top += bits.out[b] * (2 ** (b - 2 * levels));
    }
    component entry = OneHot(N);
    entry.index <== top;

    // Check (2): both leaves fold along one path.
    component update = QuadMerkleUpdate(levels);
    update.oldLeaf <== oldLeaf;
    update.newLeaf <== newLeaf;
    for (var l = 0; l < levels; l++) {
        update.pathIndex[l] <== bits.out[2 * l] + 2 * bits.out[2 * l + 1];
    }
    update.siblings <== siblings;

    // Check (3): the old fold is the cap entry, when enabled.
    component read = SelectOne(N);
    read.sel <== entry.sel;
    read.values <== cap;
    enabled * (read.out - update.oldRoot) === 0;

    // Check (4): the entry takes the new fold, when enabled; the others stay.
    signal delta <== enabled * (update.newRoot - update.oldRoot);
    for (var i = 0; i < N; i++) {
        capAfter[i] <== cap[i] + entry.sel[i] * delta;
    }
}
