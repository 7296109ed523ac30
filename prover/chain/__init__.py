"""The chain stage: the Rollup contract's build, deployment, calls and events.

* :mod:`prover.chain.config` (pure): the registered configuration (markets, funding caps,
  price-feed key, operator key) and its hash, exactly as ``Rollup._register`` computes it;
* :mod:`prover.chain.vkey` (pure): the verification key's hash the Rollup stores, and the
  check that a verifier contract's code embeds a given key;
* :mod:`prover.chain.contracts`: compiling ``verifier_contracts/Rollup.sol`` (pinned solc,
  reproducible), the development collateral token ``MockUSDC`` (and the tests' hostile
  tokens) and circomlibjs's generated Poseidon contracts, cached by content;
* :mod:`prover.chain.rollup`: deploying and driving a Rollup through web3.py (batches, the
  inbox, deposits, exits and claims).

Docs: docs/settlement.md.
"""
