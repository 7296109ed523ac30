pragma circom 2.1.0;

/// A stand-in with the batch circuit's four public inputs, for the Rollup's contract tests:
/// a valid proof exists for any values, so what the tests check is that the contract
/// rebuilds exactly these inputs (a proof made for other values is rejected).
/// @input oldRoot, newRoot, batchInfo, configHash   public (the batch circuit's order)
template RollupShape() {
    signal input oldRoot;
    signal input newRoot;
    signal input batchInfo;
    signal input configHash;
    signal a <== oldRoot * newRoot;
    signal b <== batchInfo * configHash;
    signal c <== a * b;
}
