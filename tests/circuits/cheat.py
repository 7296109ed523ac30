"""The witness a cheating operator would build for ``Batch``: consistent malicious witnesses.

A tamper test chooses what the cheat is about (a fill's quantity, the order of two fills,
an entry that breaks a rule, a forged pre-state leaf) by changing the batch's *semantic*
inputs: accounts opened, entries, fills, parameters. It then hands them to :func:`repair`,
which recomputes every input that follows from them, as a cheating prover must so that
nothing but the rule under test breaks:

- every order-slot opening (``entryOldSlot*``, ``entrySlotSiblings``, ``fillMakerSlot*``,
  ``fillMakerSlotSiblings``) from the pre-batch slot trees and the slot leaves the circuit
  itself writes, message by message (a valid one writes its slot, a no-op does not) and
  fill by fill, and each account's ``accOrdersRoot``;
- an account slot whose index an earlier used slot wrote (the model's padding slots, or
  an account opened twice) opens what that write left: its fields are set to that slot's
  final state as the circuit computes it;
- the account tree: the leaves the circuit opens are put into the pre-batch tree (so a
  forged pre-state gets the ``oldRoot`` it implies), then each phase-5 write's siblings
  (``accSiblings``) and the public ``newRoot`` from the leaves the circuit writes;
- the public ``batchInfo`` and ``configHash`` of the parameters in ``inputs``, and
  ``inboxAfter``, the inbox chain through the messages in ``inputs`` (``inboxBefore`` is
  the Rollup's and stays as given: a cheat that changes the messages changes
  ``inboxAfter``, which the Rollup also fixes, so such a cheat is shown against the
  Rollup's value by the test itself).

Order-slot trees are kept per account index, so an account opened twice must not enter
orders or make fills through both slots (no tamper here needs that).

Everything else is computed by the circuit's own code (the harness runs the wasm with its
checks patched to carry on), so in the resulting witness the only violated constraints are
the ones that enforce the broken rule, which :meth:`Witness.assert_rejected_only_by` then
names. On honest inputs :func:`repair` changes nothing
(``test_batch_tampers.py::test_honest_batches_need_no_repair``).
"""

from __future__ import annotations

import copy
from collections.abc import Collection
from typing import Any

from prover.crypto import babyjub, poseidon
from prover.exchange import inbox
from prover.exchange.batch import BatchResult
from prover.exchange.constants import SEQ_ENTRY_BITS, TAG_SLOT
from prover.exchange.domain import Entry, OrderSlot
from prover.exchange.inbox import Message
from prover.exchange.state import ExchangeState
from prover.exchange.venue import DEV_OPERATOR
from prover.field import SNARK_FIELD
from prover.merkle import QuadTree
from prover.proving.batch_circuit import circuit_inputs
from tests.circuits.harness import Circuit, Witness

SLOT_FIELDS = ("OrderId", "OrderHash", "Filled", "Seq")


def inputs_of(result: BatchResult) -> dict[str, Any]:
    """A model batch's circuit inputs, every array a fresh (nested) list to edit."""
    return copy.deepcopy(dict(circuit_inputs(result.witness.as_circuit_inputs())))


def _slot_leaf(fields: list[int]) -> int:
    return poseidon([f % SNARK_FIELD for f in fields], init_state=TAG_SLOT)


def _siblings(tree: QuadTree, position: int) -> list[list[str]]:
    return [[str(v) for v in level] for level in tree.prove(position).siblings]


def repair(
    circuit: Circuit,
    pre: ExchangeState,
    inputs: dict[str, Any],
    keep: Collection[tuple[str, int]] = (),
) -> dict[str, Any]:
    """``inputs`` with every opening, ``oldRoot`` and ``newRoot`` made consistent.

    ``circuit`` is a build of ``Batch`` (``--O0``: the signals read here survive) of the
    shape of ``inputs``; ``pre`` is the state the batch starts from. ``keep`` names
    slot-opening inputs ``(name, index)``, for example ``("fillMakerSlotFilled", 1)``, to
    leave as given: a lie about an opening, which the repair carries forward (the slot
    leaf written next is the one the circuit computes from the lie).
    """
    x = copy.deepcopy(inputs)

    def put(name: str, i: int, value: Any) -> None:
        if (name, i) not in keep:
            x[name][i] = value
    mask = (1 << pre.slot_bits) - 1
    K, E, B = len(x["accUsed"]), len(x["msgUsed"]), len(x["fillUsed"])  # noqa: N806
    index = [int(v) for v in x["accIndex"]]

    def at(k: int) -> int:
        """The account index of account slot ``k`` (slot numbers past K: none)."""
        return index[k] if 0 <= k < K else -1

    # Order slots: contents and trees, per account, from the pre-batch state.
    contents: dict[tuple[int, int], list[int]] = {}
    trees: dict[int, QuadTree] = {}

    def tree(account: int) -> QuadTree:
        if account not in trees:
            trees[account] = pre.slot_tree(account)
        return trees[account]

    def slot(account: int, position: int) -> list[int]:
        if (account, position) not in contents:
            s = pre.slot(account, position) if pre.exists(account) else OrderSlot()
            contents[(account, position)] = [s.order_id, s.order_hash, s.filled, s.seq]
        return contents[(account, position)]

    used = [int(v) == 1 for v in x["accUsed"]]
    for k in range(K):
        if used[k]:
            x["accOrdersRoot"][k] = str(pre.orders_root(index[k]))

    # The messages' fields and order hashes do not depend on any opening; whether a
    # message is valid does (its order id must be above the opened slot's), and a valid
    # message's write moves later openings: repeat until the validity bits settle (message
    # e's validity depends on the openings before it only, so E + 1 passes suffice).
    batch_seq = int(x["batchNumber"]) << SEQ_ENTRY_BITS
    pre_contents = dict(contents)
    valid: list[int] | None = None
    for _ in range(E + 1):
        first = circuit.witness(x)
        now = [int(first[f"entry[{e}].valid"]) for e in range(E)]
        if now == valid:
            break
        valid = now
        contents.clear()
        contents.update(pre_contents)
        trees.clear()
        for e in range(E):
            account = at(int(x["entryAccountSlot"][e]))
            if account < 0:
                continue  # an account slot out of range: nothing to open
            order_id = int(first[f"msg[{e}].orderId"])
            position = order_id & mask
            for name, value in zip(SLOT_FIELDS, slot(account, position), strict=True):
                put(f"entryOldSlot{name}", e, str(value))
            put("entrySlotSiblings", e, _siblings(tree(account), position))
            if valid[e] == 1:
                is_cancel = int(first[f"msg[{e}].kind"]) == 1
                new = [
                    order_id,
                    0 if is_cancel else first[f"entry[{e}].orderHash"],
                    int(x["entryFilled"][e]),
                    batch_seq + e,
                ]
                contents[(account, position)] = new
                tree(account).set(position, _slot_leaf(new))
    for f in range(B):
        account = at(int(x["fillMakerAccountSlot"][f]))
        if account < 0:
            continue
        position = int(x["fillMakerOrderId"][f]) & mask
        for name, value in zip(SLOT_FIELDS, slot(account, position), strict=True):
            put(f"fillMakerSlot{name}", f, str(value))
        put("fillMakerSlotSiblings", f, _siblings(tree(account), position))
        old = [int(x[f"fillMakerSlot{name}"][f]) for name in SLOT_FIELDS]
        new = [old[0], old[1], old[2] + int(x["fillQty"][f]), old[3]]
        contents[(account, position)] = new
        tree(account).set(position, _slot_leaf(new))

    # A slot whose index an earlier used slot has already written opens the leaf that
    # write left: that slot's final state (the model pads unused slots with the fee
    # account's; a slot opened twice, a cheat, sees the first one's result).
    second = circuit.witness(x)
    E_B = E + B  # noqa: N806
    for k in range(K):
        j = max((j for j in range(k) if used[j] and index[j] == index[k]), default=None)
        if j is None:
            continue  # the index's pre-state leaf, as given
        open_as_written(x, k, j, second, B, E_B)

    # The account tree: the leaves the circuit opens, then its writes in slot order.
    third = circuit.witness(x)
    accounts = pre.account_tree()
    for k in range(K):
        if used[k] and not any(index[j] == index[k] for j in range(k)):
            accounts.set(index[k], third[f"leafBefore[{k}].leaf"])
    x["oldRoot"] = str(accounts.root)
    for k in range(K):
        x["accSiblings"][k] = _siblings(accounts, index[k])
        accounts.set(index[k], third[f"written[{k}]"])
    x["newRoot"] = str(accounts.root)
    # The public inputs the prover publishes for the (possibly changed) parameters.
    x["batchInfo"] = str(third["params.batchInfo"])
    x["configHash"] = str(third["fullConfig.out"])
    # The inbox chain after the batch's messages (inboxBefore is the Rollup's, as given).
    x["inboxAfter"] = str(third[f"chain[{E}]"])
    return x


def open_as_written(
    x: dict[str, Any], k: int, j: int, w: Witness, last: int, last_orders: int
) -> None:
    """Account slot ``k`` opens what used slot ``j`` (the same index, earlier) wrote: its
    key and nonce, and its final state in ``w`` (collateral and positions at step
    ``last``, order root at step ``last_orders``, the batch's funding indices)."""
    M = len(x["mark"])  # noqa: N806
    for name in ("accPubX", "accPubY", "accNonce"):
        x[name][k] = x[name][j]
    x["accCollateral"][k] = str(w[f"coll[{last}][{j}]"])
    x["accPosSize"][k] = [str(w[f"pos[{last}][{j}][{m}]"]) for m in range(M)]
    x["accPosFunding"][k] = list(x["fundingIndex"])
    x["accOrdersRoot"][k] = str(w[f"ordersRoot[{last_orders}][{j}]"])


def cheat(circuit: Circuit, pre: ExchangeState, inputs: dict[str, Any]) -> Witness:
    """The full witness of the repaired ``inputs`` (:func:`repair`)."""
    return circuit.witness(repair(circuit, pre, inputs))


#: The ephemeral scalar of the messages the tests encrypt (any scalar will do: a cheat never
#: depends on it, and a fixed one keeps the witnesses reproducible).
TEST_EPH_SCALAR = 424242


def encrypt(
    plaintext: list[int],
    operator_key: tuple[int, int] = DEV_OPERATOR.public_key,
    eph_scalar: int = TEST_EPH_SCALAR,
) -> Message:
    """The message carrying any 3-element ``plaintext`` (``[packed, R8y, S]``, not
    necessarily a well-formed one) to the operator whose key is given."""
    k, eph = inbox.ephemeral_key(eph_scalar)
    shared = babyjub.mul(operator_key, 8 * k % babyjub.SUBORDER)
    return Message(eph, inbox.encrypt_plaintext(plaintext, shared))


def message(
    entry: Entry,
    operator_key: tuple[int, int] = DEV_OPERATOR.public_key,
    eph_scalar: int = TEST_EPH_SCALAR,
) -> Message:
    """``entry`` (a signed order or cancel, valid or not) as an inbox message to the
    operator (the development operator's key by default)."""
    return inbox.encrypt_entry(entry, operator_key, eph_scalar)


def set_message(x: dict[str, Any], e: int, msg: Message) -> None:
    """Put ``msg`` into message slot ``e`` of ``x`` (``msgUsed`` unchanged).

    In a used slot this says "the inbox holds ``msg`` there": :func:`repair` then recomputes
    ``inboxAfter``, and a test about the Rollup's inbox puts the Rollup's value back. In a
    padding slot (``msgUsed = 0``) the chain ignores it: the operator may put any message
    there."""
    x["msgEphX"][e], x["msgEphY"][e] = str(msg.eph[0]), str(msg.eph[1])
    x["msgCiphertext"][e] = [str(c) for c in msg.ciphertext]


def swap_fills(inputs: dict[str, Any], f: int, g: int) -> dict[str, Any]:
    """``inputs`` with fill slots ``f`` and ``g`` exchanged (every ``fill*`` array)."""
    x = copy.deepcopy(inputs)
    for name, values in x.items():
        if name.startswith("fill") and isinstance(values, list):
            values[f], values[g] = values[g], values[f]
    return x


def swap_entries(inputs: dict[str, Any], e: int, g: int) -> dict[str, Any]:
    """``inputs`` with message slots ``e`` and ``g`` exchanged (every ``msg*`` and
    ``entry*`` array), the fills' ``fillTakerEntry`` following them."""
    x = copy.deepcopy(inputs)
    for name, values in x.items():
        if name.startswith(("entry", "msg")) and isinstance(values, list):
            values[e], values[g] = values[g], values[e]
    swap = {str(e): str(g), str(g): str(e)}
    x["fillTakerEntry"] = [swap.get(v, v) for v in x["fillTakerEntry"]]
    return x
