"""The trader: a key file, and orders and cancels sent encrypted to the Rollup's inbox.

* :mod:`prover.trader.keys`: the trader's key file (the account's Baby Jubjub key that
  signs, and a separate Ethereum key that pays for sending), mode 0600;
* :mod:`prover.trader.send`: building and checking an order or cancel, signing and
  encrypting it to the operator's key (pure), and the one chain call that sends it;
* :mod:`prover.trader.state`: the trader's own state from an operator's receipt, its leaf
  and root recomputed and checked against the root the Rollup accepted.

Commands: ``zkmatch trader keygen/order/cancel/state`` (cli/commands/trader.py). Docs:
docs/trader.md.
"""
