"""Forced inclusion and the frozen mode (docs/flows.md): every inbox message and deposit
must be consumed by an accepted batch by its deadline (``forcedDelay`` after it arrived,
plus ``batchInterval`` for each full batch of its queue ahead of it, so a flood delays what
comes behind it but cannot freeze an operator that keeps pace); past it anyone may
``freeze``, after which no batch, message or deposit is accepted, and every deposit no
batch consumed goes back to its depositor (``refundDeposit``, once each). The stand-in
circuit (tests/chain/conftest.py) proves the batches.
"""

from __future__ import annotations

import pytest

from prover.chain.rollup import MODE_ACTIVE, MODE_FROZEN
from prover.crypto.eddsa import PrivateKey
from prover.exchange import inbox
from prover.exchange.domain import Cancel, SignedCancel
from tests.chain.conftest import OPERATOR_KEY
from tests.chain.test_flows import KEYS, Ledger, _rejects, batch, deposit

DELAY = 600
INTERVAL = 60


@pytest.fixture
def rollup(rollup_with):
    return rollup_with(forced_delay=DELAY, batch_interval=INTERVAL)


def _later(rollup, seconds: int) -> None:
    rollup.w3.provider.make_request("evm_increaseTime", [seconds])
    rollup.w3.provider.make_request("evm_mine", [])


def _message(rollup) -> None:
    cancel = SignedCancel.sign(Cancel(2, 7), PrivateKey.from_seed("freeze-test"))
    rollup.client.send_message(
        inbox.encrypt_entry(cancel, OPERATOR_KEY.public_key), sender=rollup.stranger
    )


def test_a_deposit_served_in_time_cannot_freeze(rollup, shape):
    ledger = Ledger()
    deposit(rollup, ledger, rollup.stranger, KEYS[0], 1_000)
    assert rollup.client.deposit_deadline(0) == rollup.now() + DELAY
    assert not rollup.client.overdue()
    _rejects("Rollup__NotOverdue", lambda: rollup.client.freeze(sender=rollup.stranger))
    _later(rollup, DELAY - 5)
    batch(rollup, shape, ledger, 99, rollup.now() - 1, 1)
    _later(rollup, 10 * DELAY)
    assert not rollup.client.overdue()  # nothing waits
    _rejects("Rollup__NotOverdue", lambda: rollup.client.freeze(sender=rollup.stranger))
    assert rollup.client.mode() == MODE_ACTIVE


def test_a_message_past_its_deadline_freezes_the_rollup(rollup, shape):
    _message(rollup)
    deadline = rollup.client.message_deadline(0)
    assert deadline == rollup.now() + DELAY
    rollup.mine_at(deadline)
    assert not rollup.client.overdue()  # at the deadline: still in time
    rollup.mine_at(deadline + 1)
    assert rollup.client.overdue()
    state = rollup.client.state()
    receipt = rollup.client.freeze(sender=rollup.stranger)  # anyone
    (log,) = rollup.client.contract.events.Frozen().process_receipt(receipt)
    assert (log["args"]["stateRoot"], log["args"]["inboxConsumed"]) == (state.root, 0)
    assert rollup.client.mode() == MODE_FROZEN
    _rejects("Rollup__Frozen", lambda: rollup.client.freeze(sender=rollup.stranger))
    # Nothing moves any more: no batch, no message, no deposit.
    ledger = Ledger()
    _rejects("Rollup__Frozen", lambda: batch(rollup, shape, ledger, 5, rollup.now() - 1, 0))
    _rejects("Rollup__Frozen", lambda: _message(rollup))
    _rejects("Rollup__Frozen",
             lambda: rollup.client.deposit(KEYS[0], 1, sender=rollup.stranger))
    assert rollup.client.state() == state


def test_unconsumed_deposits_are_refunded_once_after_a_freeze(rollup, shape):
    ledger = Ledger()
    alice, bob = rollup.w3.eth.accounts[5:7]
    deposit(rollup, ledger, alice, KEYS[1], 7_000)
    batch(rollup, shape, ledger, 42, rollup.now() - 1, 1)  # Alice's deposit consumed
    deposit(rollup, ledger, bob, KEYS[2], 3_000)
    deposit(rollup, ledger, alice, KEYS[1], 500)
    client = rollup.client
    queued = client.deposits(from_number=1)
    _rejects("Rollup__NotFrozen", lambda: client.refund_deposit(queued[0], sender=bob))
    _later(rollup, DELAY + 1)
    client.freeze(sender=rollup.stranger)
    consumed = client.deposits()[0]
    _rejects("Rollup__DepositConsumed", lambda: client.refund_deposit(consumed, sender=alice))
    # A made-up record (another amount) does not hash to the stored chain.
    from dataclasses import replace

    _rejects("Rollup__NoSuchDeposit",
             lambda: client.refund_deposit(replace(queued[0], amount=3_001), sender=bob))
    for d in queued:
        client.refund_deposit(d, sender=rollup.stranger)  # anyone may send it
    _rejects("Rollup__DepositAlreadyRefunded",
             lambda: client.refund_deposit(queued[0], sender=bob))
    assert client.claimable(bob) == 3_000 and client.claimable(alice) == 500
    before = client.token_balance(bob)
    client.claim(bob, sender=rollup.stranger)
    assert client.token_balance(bob) == before + 3_000
    # What stays in the Rollup is the consumed deposit (in the state) and Alice's refund.
    assert client.token_balance(client.address) == 7_000 + 500


def test_a_token_without_six_decimals_is_refused(chain, rollup_with):
    """One token unit is one collateral unit: an 18-decimal token (or one that does not
    say) would make every amount wrong by a power of ten."""
    from prover.chain.contracts import compile_test_tokens
    from prover.chain.rollup import RollupRevert, _deploy

    weird = compile_test_tokens()["EighteenDecimals"]
    token = _deploy(chain, weird, chain.eth.accounts[0])
    with pytest.raises(RollupRevert) as caught:
        rollup_with(token=token)
    assert caught.value.reason == "Rollup__TokenDecimals"


def test_an_odd_account_depth_is_refused(rollup_with):
    from prover.chain.rollup import RollupRevert

    with pytest.raises(RollupRevert) as caught:
        rollup_with(account_bits=5)
    assert caught.value.reason == "Rollup__BadAccountBits"


def test_a_flood_moves_the_deadlines_of_what_comes_behind_it(rollup):
    """Messages behind a full batch's worth of unconsumed ones get one more batchInterval
    each batch's worth (messagesPerBatch = 3 here): seven sent at once have deadlines of
    +0, +0, +0, +60, +60, +60, +120 after the delay."""
    from tests.chain.conftest import MESSAGES_PER_BATCH

    assert MESSAGES_PER_BATCH == 3
    extra = []
    for i in range(7):
        _message(rollup)
        extra.append(rollup.client.message_deadline(i) - rollup.now() - DELAY)
    assert extra == [0, 0, 0, INTERVAL, INTERVAL, INTERVAL, 2 * INTERVAL]


def test_an_overdue_deposit_must_be_in_the_next_batch(rollup, shape):
    """Past its deadline (nobody froze yet), a batch that leaves the deposit out is refused;
    one that takes it is accepted, and then nothing is overdue."""
    ledger = Ledger()
    deposit(rollup, ledger, rollup.stranger, KEYS[0], 1_000)
    rollup.mine_at(rollup.client.deposit_deadline(0) + 1)
    assert rollup.client.overdue()
    _rejects("Rollup__OverdueLeftOut",
             lambda: batch(rollup, shape, ledger, 7, rollup.now() - 1, 0))
    batch(rollup, shape, ledger, 7, rollup.now() - 1, 1)
    assert not rollup.client.overdue() and rollup.client.mode() == MODE_ACTIVE
