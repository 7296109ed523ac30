pragma circom 2.1.0;

/// One-hot selector over `n` slots.
///
/// Proves: `index` is in `{0, ..., n-1}` and `sel[i] = (index == i)`.
///
/// @param  n       number of slots, >= 1
/// @input  index   field element
/// @output sel[n]  booleans, exactly one is 1, `sum_i i * sel[i] = index`
///
/// Assumptions: none.
/// Constraint count (circom --O2): n + 2 (n booleanity checks, the sum, the
/// recomposition); n = 4 with a public index: 6 (tests/circuits/test_selectors.py
/// asserts it). --O2 folds one linear check when it can substitute the index.
template OneHot(n) {
    assert(n >= 1);
    signal input index;
    signal output sel[n];

    var total = 0;
    var weighted = 0;
    for (var i = 0; i < n; i++) {
        // Pinned by Checks (1) to (3).
        sel[i] <-- index == i ? 1 : 0;
        // Check (1): each selector is a bit.
        sel[i] * (sel[i] - 1) === 0;
        total += sel[i];
        weighted += i * sel[i];
    }
    // Check (2): exactly one is set.
    total === 1;
    // Check (3): the set one is at `index` (so index < n).
    weighted === index;
}
