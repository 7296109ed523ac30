pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";
include "circomlib/circuits/comparators.circom";

/// Poseidon-cipher decryption of a 3-element plaintext with nonce 0 (zk-kit's
/// `poseidonDecrypt(c, key, 0, 3)`, docs/crypto.md), without failing on a bad one.
///
/// Proves: with `s = Perm(0, key[0], key[1], 3 * 2^128)` (the width-4 Poseidon permutation),
/// `plain[j] = c[j] - s[j + 1]` for j < 3, and `authOk = 1` iff
/// `Perm(s[0], c[0], c[1], c[2])[1] = c[3]` (the authentication element), else 0.
///
/// @input  key[2]     the shared point
/// @input  c[4]       the ciphertext
/// @output plain[3]   the plaintext (meaningless when authOk = 0)
/// @output authOk     1 iff the authentication element matches
///
/// Assumptions: none.
/// Constraint count (circom --O2): 524 (tests/circuits/test_inbox_message.py asserts it).
template PoseidonDecrypt3() {
    signal input key[2];
    signal input c[4];
    signal output plain[3];
    signal output authOk;

    component stream = PoseidonEx(3, 4);
    stream.initialState <== 0;
    stream.inputs <== [key[0], key[1], 3 * (1 << 128)];
    for (var j = 0; j < 3; j++) {
        plain[j] <== c[j] - stream.out[j + 1];
    }
    component tag = PoseidonEx(3, 2);
    tag.initialState <== stream.out[0];
    tag.inputs <== [c[0], c[1], c[2]];
    component same = IsEqual();
    same.in <== [tag.out[1], c[3]];
    authOk <== same.out;
}
