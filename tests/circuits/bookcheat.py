"""The witness a cheating operator would build for ``BatchBook``, for the rules of the
batch's own phases (parameters, the operator's key, account slots, the inbox chain, the
public bindings): consistent malicious witnesses, as tests/circuits/cheat.py builds them
for ``Batch``.

A test changes the inputs its cheat is about (an account slot's index or used bit, the
operator's secret, a message slot) on a batch of the model (prover/exchange/bookbatch.py)
whose matching the cheat leaves alone, then :func:`repair` recomputes what follows, as a
cheating prover must so that nothing but the rule under test breaks:

- each account slot's opened leaf: a used slot's as given (a forged pre-state then gets
  the ``oldRoot`` it implies), an unused one's the account as the tree holds it when that
  slot's write comes (the pre-state's, or an earlier slot's final state for its index);
- ``accountsRoot`` from the leaves the circuit opens, each write's ``accSiblings``, and the
  public ``oldRoot`` and ``newRoot`` the circuit computes (over the books as opened and as
  the entries leave them);
- the public ``batchInfo``, ``configHash`` and ``inboxAfter`` of the inputs given.

The matching's own inputs (EntryBook's openings and claims) are the model's: a cheat that
would change them is test_batch_book_tampers.py's, built by the model itself.
"""

from __future__ import annotations

import copy
from typing import Any

from prover.exchange.domain import Account
from prover.exchange.state import ExchangeState
from tests.circuits.cheat import _siblings, open_as_written
from tests.circuits.harness import Circuit


def repair(circuit: Circuit, pre: ExchangeState, inputs: dict[str, Any]) -> dict[str, Any]:
    """``inputs`` with the account openings, roots and public inputs made consistent
    (``circuit``: an ``--O0`` build of ``BatchBook`` of the shape of ``inputs``)."""
    x = copy.deepcopy(inputs)
    K, E = len(x["accUsed"]), len(x["msgUsed"])  # noqa: N806
    M = len(x["mark"])  # noqa: N806
    index = [int(v) for v in x["accIndex"]]
    used = [int(v) != 0 for v in x["accUsed"]]

    # Unused slots open the account as the tree holds it at their write.
    first = circuit.witness(x)
    for k in range(K):
        if used[k]:
            continue
        j = max((j for j in range(k) if used[j] and index[j] == index[k]), default=None)
        if j is not None:  # an earlier used slot wrote it: that slot's final state
            open_as_written(x, k, j, first, E, E)
        else:
            account = pre.account(index[k]) if pre.exists(index[k]) else Account.zero(M)
            x["accPubX"][k], x["accPubY"][k] = (str(c) for c in account.pubkey)
            x["accNonce"][k] = str(account.nonce)
            x["accCollateral"][k] = str(account.collateral)
            x["accPosSize"][k] = [str(p.size) for p in account.positions]
            x["accPosFunding"][k] = [str(p.funding_index) for p in account.positions]
            x["accOrdersRoot"][k] = str(pre.orders_root(index[k]))

    # The account tree: the leaves opened first for each index, then the writes in order.
    second = circuit.witness(x)
    tree = pre.account_tree()
    seen: set[int] = set()
    for k in range(K):
        if index[k] not in seen:
            seen.add(index[k])
            tree.set(index[k], second[f"leafBefore[{k}].leaf"])
    x["accountsRoot"] = str(tree.root)
    for k in range(K):
        x["accSiblings"][k] = _siblings(tree, index[k])
        tree.set(index[k], second[f"written[{k}]"])
    third = circuit.witness(x)
    x["oldRoot"] = str(third["stateOld.out[0]"])
    x["newRoot"] = str(third["stateNew.out[0]"])
    x["batchInfo"] = str(third["params.batchInfo"])
    x["configHash"] = str(third["fullConfig.out"])
    x["inboxAfter"] = str(third[f"chain[{E}]"])
    return x
