"""Batches consume the inbox (verifier_contracts/Rollup.sol, docs/settlement.md).

Batch n consumes messages ``[inboxConsumed, inboxEnd)``: the contract takes inboxBefore
(``inboxConsumedChain``) and inboxAfter (the chain at ``inboxEnd``: the head or a
checkpoint) from its storage, never from the call. The stand-in circuit proves any nine
inputs, so each test proves what a cheating operator would want accepted and checks the
contract refuses it, naming its ``Rollup__Reason`` and leaving the state as it was. The
expected chain values come from the model (``inbox.chain_of``).
"""

from __future__ import annotations

import pytest

from prover.chain.config import batch_info
from prover.chain.rollup import RollupRevert
from prover.exchange import inbox
from tests.chain.conftest import MESSAGES_PER_BATCH
from tests.chain.test_inbox import message
from tests.chain.test_rollup import SUBMIT_GAS_BUDGET

E = MESSAGES_PER_BATCH


def _send(rollup, count: int, first: int = 0) -> list[inbox.Message]:
    sent = [message(first + i) for i in range(count)]
    for m in sent:
        rollup.client.send_message(m, sender=rollup.stranger)
    return sent


def _inputs(
    rollup,
    new_root: int,
    timestamp: int,
    sent: list[inbox.Message],
    end: int,
    *,
    before: int | None = None,
    after: int | None = None,
) -> list[int]:
    """The nine inputs of the next batch ending at ``end`` (no deposit, no exit), chain
    values from the model."""
    state = rollup.client.state()
    start = rollup.client.inbox_consumed()
    return [
        state.root,
        new_root,
        batch_info(state.batch_number, state.last_timestamp, timestamp),
        state.config_hash,
        inbox.chain_of(sent[:start]) if before is None else before,
        inbox.chain_of(sent[:end]) if after is None else after,
        0,
        0,
        0,
    ]


def _batch(rollup, shape, new_root: int, timestamp: int, sent, end: int):
    proof = shape.prove(_inputs(rollup, new_root, timestamp, sent, end))
    return rollup.client.submit_batch(new_root, timestamp, end, 0, (), proof, rollup.operator)


def _rejects(reason: str, call) -> RollupRevert:
    with pytest.raises(RollupRevert) as caught:
        call()
    assert caught.value.reason == reason, caught.value
    return caught.value


def _unchanged(rollup, consumed: int, chain: int, batches: int) -> None:
    client = rollup.client
    assert (client.inbox_consumed(), client.inbox_consumed_chain()) == (consumed, chain)
    assert client.state().batch_number == batches


def test_batches_consume_inbox_ranges_and_the_contract_moves_its_cursor(rollup, shape):
    client = rollup.client
    assert (client.inbox_consumed(), client.inbox_consumed_chain()) == (0, 0)
    sent = _send(rollup, E + 1)  # a checkpoint at E, the head at E + 1
    t = rollup.now() - 300
    inputs = _inputs(rollup, 11, t, sent, E)
    assert inputs[4:6] == [0, inbox.chain_of(sent[:E])]
    assert client.next_public_inputs(11, t, E, 0, ()) == inputs
    receipts = [client.submit_batch(11, t, E, 0, (), shape.prove(inputs), rollup.operator)]
    assert (client.inbox_consumed(), client.inbox_consumed_chain()) == (
        E, inbox.chain_of(sent[:E])
    )
    # The next batch starts there; it ends at the head.
    receipts.append(_batch(rollup, shape, 22, t + 1, sent, E + 1))
    assert (client.inbox_consumed(), client.inbox_consumed_chain()) == (
        E + 1, inbox.chain_of(sent)
    )
    # A message more: E + 1 is no longer the head nor a checkpoint, but a batch with no
    # message ends at the stored inboxConsumedChain.
    sent += _send(rollup, 1, first=E + 1)
    assert client.chain_at(E + 1) is None
    receipts.append(_batch(rollup, shape, 33, t + 2, sent, E + 1))
    events = client.batches()
    assert [(e.inbox_start, e.inbox_end, e.inbox_after) for e in events] == [
        (0, E, inbox.chain_of(sent[:E])),
        (E, E + 1, inbox.chain_of(sent[: E + 1])),
        (E + 1, E + 1, inbox.chain_of(sent[: E + 1])),
    ]
    assert [e.old_root for e in events][1:] == [11, 22]
    gas = [int(r["gasUsed"]) for r in receipts]
    print(f"submitBatch gas: first range {gas[0]}, next range {gas[1]}, empty range {gas[2]}")
    # The first range also turns inboxConsumedChain from zero to non-zero (17,100 more).
    assert max(gas[1:]) <= SUBMIT_GAS_BUDGET and gas[0] <= SUBMIT_GAS_BUDGET + 17_100, gas


def test_an_inbox_end_below_the_consumed_count_is_refused(rollup, shape):
    sent = _send(rollup, E)
    t = rollup.now() - 300
    _batch(rollup, shape, 11, t, sent, E)
    proof = shape.prove(_inputs(rollup, 22, t + 1, sent, E - 1))
    error = _rejects(
        "Rollup__InboxEndBeforeConsumed",
        lambda: rollup.client.submit_batch(22, t + 1, E - 1, 0, (), proof, rollup.operator),
    )
    assert error.args_ == (E - 1, E)
    _rejects("Rollup__InboxEndBeforeConsumed",
             lambda: rollup.client.next_public_inputs(22, t + 1, E - 1, 0, ()))
    _unchanged(rollup, E, inbox.chain_of(sent), 1)


def test_an_inbox_end_above_the_count_is_refused(rollup, shape):
    sent = _send(rollup, 2)
    t = rollup.now() - 60
    # The chain a cheating operator would claim for a message not posted yet.
    proof = shape.prove(_inputs(rollup, 11, t, sent, 3, after=inbox.chain_of([*sent, message(9)])))
    error = _rejects(
        "Rollup__InboxEndAfterCount",
        lambda: rollup.client.submit_batch(11, t, 3, 0, (), proof, rollup.operator),
    )
    assert error.args_ == (3, 2)
    _rejects("Rollup__InboxEndAfterCount",
             lambda: rollup.client.next_public_inputs(11, t, 3, 0, ()))
    _unchanged(rollup, 0, 0, 0)


def test_more_than_messages_per_batch_messages_are_refused(rollup, shape):
    sent = _send(rollup, 2 * E)  # checkpoints at E and 2E
    t = rollup.now() - 300
    proof = shape.prove(_inputs(rollup, 11, t, sent, 2 * E))
    error = _rejects(
        "Rollup__InboxRangeTooLong",
        lambda: rollup.client.submit_batch(11, t, 2 * E, 0, (), proof, rollup.operator),
    )
    assert error.args_ == (0, 2 * E, E)
    _rejects("Rollup__InboxRangeTooLong",
             lambda: rollup.client.next_public_inputs(11, t, 2 * E, 0, ()))
    _unchanged(rollup, 0, 0, 0)
    # In two batches of E each, both are accepted.
    _batch(rollup, shape, 11, t, sent, E)
    _batch(rollup, shape, 22, t + 1, sent, 2 * E)
    _unchanged(rollup, 2 * E, inbox.chain_of(sent), 2)


def test_an_inbox_end_at_an_unknown_chain_point_is_refused(rollup, shape):
    sent = _send(rollup, E + 2)  # a checkpoint at E, the head at E + 2
    t = rollup.now() - 300
    # Neither a checkpoint nor the head.
    assert rollup.client.chain_at(E - 1) is None
    proof = shape.prove(_inputs(rollup, 11, t, sent, E - 1))
    error = _rejects(
        "Rollup__InboxChainUnknown",
        lambda: rollup.client.submit_batch(11, t, E - 1, 0, (), proof, rollup.operator),
    )
    assert error.args_ == (E - 1,)
    _rejects("Rollup__InboxChainUnknown",
             lambda: rollup.client.next_public_inputs(11, t, E - 1, 0, ()))
    _batch(rollup, shape, 11, t, sent, E)
    # The head, until another message arrives: then the same proof is refused.
    proof = shape.prove(_inputs(rollup, 22, t + 1, sent, E + 2))
    assert rollup.client.next_public_inputs(22, t + 1, E + 2, 0, ())[5] == inbox.chain_of(sent)
    sent += _send(rollup, 1, first=E + 2)
    error = _rejects(
        "Rollup__InboxChainUnknown",
        lambda: rollup.client.submit_batch(22, t + 1, E + 2, 0, (), proof, rollup.operator),
    )
    assert error.args_ == (E + 2,)
    _unchanged(rollup, E, inbox.chain_of(sent[:E]), 1)


@pytest.mark.parametrize("lie", ["before", "after", "other end"])
def test_a_proof_for_other_inbox_chain_values_is_rejected(rollup, shape, lie):
    sent = _send(rollup, 2 * E)
    t = rollup.now() - 300
    _batch(rollup, shape, 11, t, sent, E)  # so that inboxBefore is not 0
    end = 2 * E
    values = {
        # The batch claims to start elsewhere (the genesis chain), or to end elsewhere
        # (one message fewer: the operator skipped the last one).
        "before": {"before": 0},
        "after": {"after": inbox.chain_of(sent[: end - 1])},
        # A proof made for the whole range, submitted for an empty one.
        "other end": {},
    }[lie]
    proof = shape.prove(_inputs(rollup, 22, t + 1, sent, end, **values))
    submit_end = E if lie == "other end" else end
    _rejects(
        "Rollup__InvalidProof",
        lambda: rollup.client.submit_batch(22, t + 1, submit_end, 0, (), proof, rollup.operator),
    )
    _unchanged(rollup, E, inbox.chain_of(sent[:E]), 1)


def test_a_batch_may_end_where_seal_inbox_cut(rollup, shape):
    client = rollup.client
    sent = _send(rollup, E + 1)
    client.seal_inbox(sender=rollup.stranger)  # a checkpoint at E + 1
    sent += _send(rollup, 1, first=E + 1)  # E + 2: neither a multiple of E nor the head now
    assert client.chain_at(E + 1) == inbox.chain_of(sent[: E + 1])
    t = rollup.now() - 300
    _batch(rollup, shape, 11, t, sent, E)
    _batch(rollup, shape, 22, t + 1, sent, E + 1)
    _unchanged(rollup, E + 1, inbox.chain_of(sent[: E + 1]), 2)


def test_the_batch_checks_come_before_the_inbox_range(rollup, shape):
    sent = _send(rollup, 1)
    t = rollup.now() - 60
    proof = shape.prove(_inputs(rollup, 11, t, sent, 1))
    _rejects("Rollup__NotOperator",
             lambda: rollup.client.submit_batch(11, t, 5, 0, (), proof, rollup.stranger))
    _rejects("Rollup__TimestampNotAfterLast",
             lambda: rollup.client.submit_batch(11, rollup.genesis_timestamp, 5, 0, (), proof,
                                                rollup.operator))
    rollup.client.submit_batch(11, t, 1, 0, (), proof, rollup.operator)
    _unchanged(rollup, 1, inbox.chain_of(sent), 1)
