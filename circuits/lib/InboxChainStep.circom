pragma circom 2.1.0;

include "circomlib/circuits/poseidon.circom";

/// One step of the Rollup's inbox hash chain (docs/inbox.md, "Chain").
///
/// Proves: `next = Poseidon3(Poseidon4(chain, ephY, c[0], c[1]), c[2], c[3])`, circomlib's
/// `Poseidon(n)` with zero capacity, exactly what `Rollup.sendMessage` computes on chain
/// (poseidon-solidity's PoseidonT5 and PoseidonT4). The chain hashes only the ephemeral
/// key's y: its x is the even root the Rollup checked exists (CofactorEcdh pins it).
///
/// @input  chain     the chain before the message
/// @input  ephY      the message's ephemeral key, y
/// @input  c[4]      the ciphertext (c[3] the authentication element)
/// @output next      the chain after the message
///
/// Assumptions: none (any field elements).
/// Constraint count (circom --O2): 558 (tests/circuits/test_inbox_message.py asserts it).
template InboxChainStep() {
    signal input chain;
    signal input ephY;
    signal input c[4];
    signal output next;

    component inner = Poseidon(4);
    inner.inputs <== [chain, ephY, c[0], c[1]];
    component outer = Poseidon(3);
    outer.inputs <== [inner.out, c[2], c[3]];
    next <== outer.out;
}
