pragma circom 2.1.0;

/// A stand-in with the batch circuit's nine public inputs, for the Rollup's contract tests:
/// a valid proof exists for any values, so what the tests check is that the contract
/// rebuilds exactly these inputs (a proof made for other values is rejected).
/// @input oldRoot, newRoot, batchInfo, configHash, inboxBefore, inboxAfter, depositsBefore,
///        depositsAfter, exitsHash   public (the batch circuit's order: circom numbers
///        public inputs in declaration order)
template RollupShape() {
    signal input oldRoot;
    signal input newRoot;
    signal input batchInfo;
    signal input configHash;
    signal input inboxBefore;
    signal input inboxAfter;
    signal input depositsBefore;
    signal input depositsAfter;
    signal input exitsHash;
    signal a <== oldRoot * newRoot;
    signal b <== batchInfo * configHash;
    signal c <== a * b;
    // The chain values in products too (every public input is bound by the proof anyway:
    // snarkjs's setup gives each one a constraint of its own).
    signal d <== inboxBefore * inboxAfter;
    signal e <== depositsBefore * depositsAfter;
    signal f <== e * exitsHash;
}
