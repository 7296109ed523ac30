"""BatchBook's withdrawals (docs/flows.md, "Withdrawals"): a signed, encrypted inbox
message that uses the account's nonce, is paid when the account keeps its initial margin
after it, debits the account and becomes an exit; every other case is a no-op the proof
shows. The model (``flows.withdrawal_outcome``, the builders) decides, BatchBook agrees,
and the tamper tests are the witnesses of an operator who wants another outcome.
"""

from __future__ import annotations

import pytest

from prover.crypto.eddsa import PrivateKey
from prover.exchange.bookbatch import BookBatchBuilder
from prover.exchange.booktree import Books
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_IOC
from prover.exchange.domain import BatchConfig, Reject, SignedOrder
from prover.exchange.flows import (
    Deposit,
    Exit,
    SignedWithdrawal,
    Withdrawal,
    exits_hash,
)
from prover.exchange.inbox import encrypt_entry
from prover.exchange.venue import DEV_OPERATOR
from tests.circuits.harness import compile_main
from tests.circuits.scenario import MARKETS, order
from tests.venue import dev_state, prices

BB, CL, P = 4, 1, 2
INSTANCE = f"BatchBook(5, 2, 2, 4, 2, 2, {BB}, {CL}, {P})"
CONFIG = BatchConfig(4, 2, 2, 5, 2, 2, book_bits=BB, book_cap_levels=CL, deposits=P)
ALICE = PrivateKey.from_seed("wd-alice")
BOB = PrivateKey.from_seed("wd-bob")
TO = 0xC0FFEE0000000000000000000000000000000001
FUNDS = 50_000_000


@pytest.fixture(scope="module")
def circuit():
    return compile_main("main/BatchBook.circom", INSTANCE)


def _builder(state, n):
    return BookBatchBuilder(state, CONFIG, prices(n, 1000 + 10 * n, (1000, 500), (0, 0)))


def _prove(circuit, builder):
    result = builder.seal()
    inputs = result.witness.as_circuit_inputs()
    w = circuit.witness(inputs)
    assert w.ok, w.failing()
    return result, inputs


@pytest.fixture(scope="module")
def funded(circuit):
    """Batch 0: Alice and Bob deposit; the state after it."""
    state = dev_state(MARKETS, 4, 2, books=Books(2, bits=BB, cap_levels=CL))
    b = _builder(state, 0)
    b.add_deposit(Deposit(0, 2, ALICE.public_key, FUNDS, 1))
    b.add_deposit(Deposit(1, 3, BOB.public_key, FUNDS, 2))
    result, _ = _prove(circuit, b)
    return result.state


def _withdraw(key, account, amount, nonce=0, to=TO):
    signed = SignedWithdrawal.sign(Withdrawal(account, amount, to, nonce), key)
    return encrypt_entry(signed, DEV_OPERATOR.public_key, 12345 + amount + nonce)


def test_a_withdrawal_is_paid_debited_and_an_exit(circuit, funded):
    b = _builder(funded, 1)
    added = b.add_message(_withdraw(ALICE, 2, 1_000_000))
    assert added.outcome.paid and added.outcome.consumed and added.outcome.valid
    result, inputs = _prove(circuit, b)
    assert result.state.account(2).collateral == FUNDS - 1_000_000
    assert result.state.account(2).nonce == 1
    assert result.witness.exits == (Exit(TO, 1_000_000),)
    assert int(inputs["exitsHash"]) == exits_hash([Exit(TO, 1_000_000)])
    assert result.state.total_collateral() == 2 * FUNDS - 1_000_000


def test_the_same_message_again_is_a_no_op(circuit, funded):
    """A copy of a paid withdrawal's ciphertext posted again: its signature is at nonce 0,
    the leaf's nonce is 1 now; nothing moves."""
    first = _builder(funded, 1)
    first.add_message(_withdraw(ALICE, 2, 1_000_000))
    after, _ = _prove(circuit, first)
    b = _builder(after.state, 2)
    again = b.add_message(_withdraw(ALICE, 2, 1_000_000))
    assert not again.outcome.consumed and again.outcome.reason == Reject.BAD_SIGNATURE
    result, inputs = _prove(circuit, b)
    assert result.state.account(2).collateral == FUNDS - 1_000_000
    assert result.witness.exits == () and int(inputs["exitsHash"]) == 0
    # The next one, signed at nonce 1, is paid.
    c = _builder(after.state, 2)
    assert c.add_message(_withdraw(ALICE, 2, 5, nonce=1)).outcome.paid


@pytest.mark.parametrize(("name", "amount", "key", "account", "to", "reason", "consumed"), [
    ("more than the collateral", FUNDS + 1, ALICE, 2, TO, Reject.INSUFFICIENT_MARGIN, True),
    ("Bob signs for Alice's account", 5, BOB, 2, TO, Reject.BAD_SIGNATURE, False),
    ("an account nobody holds", 5, ALICE, 9, TO, Reject.UNKNOWN_ACCOUNT, False),
    ("zero", 0, ALICE, 2, TO, Reject.MALFORMED, True),
    ("to address zero", 5, ALICE, 2, 0, Reject.MALFORMED, True),
])
def test_withdrawals_that_may_not_be_paid(circuit, funded, name, amount, key, account, to,
                                          reason, consumed):
    b = _builder(funded, 1)
    got = b.add_message(_withdraw(key, account, amount, to=to))
    assert (got.outcome.paid, got.outcome.consumed, got.outcome.reason) == (
        False, consumed, reason)
    result, inputs = _prove(circuit, b)
    assert result.state.total_collateral() == 2 * FUNDS
    assert int(inputs["exitsHash"]) == 0
    if account == 2:
        assert result.state.account(2).nonce == int(consumed)


def test_a_withdrawal_that_would_break_the_initial_margin_is_not_paid(circuit, funded):
    """Alice sells 40,000 lots to Bob in batch 1; in batch 2 she asks for all but one unit
    of her collateral, which would leave her short position below its initial requirement:
    not paid (her nonce is used all the same); the next withdrawal, smaller, signed at the
    next nonce, is paid."""
    b = _builder(funded, 1)
    b.add_entry(SignedOrder.sign(order(3, SIDE_BUY, 1000, 40_000, 1), BOB))
    b.add_entry(SignedOrder.sign(order(2, SIDE_SELL, 1000, 40_000, 1, tif=TIF_IOC), ALICE))
    traded, _ = _prove(circuit, b)
    assert traded.state.account(2).positions[0].size == -40_000
    c = _builder(traded.state, 2)
    keep = traded.state.account(2).collateral
    refused = c.add_message(_withdraw(ALICE, 2, keep - 1_000_000))
    assert refused.outcome.reason == Reject.INSUFFICIENT_MARGIN and refused.outcome.consumed
    ok = c.add_message(_withdraw(ALICE, 2, 1_000_000, nonce=1))
    assert ok.outcome.paid
    result, _ = _prove(circuit, c)
    assert result.state.account(2).collateral == keep - 1_000_000
    assert result.state.account(2).nonce == 2
