"""BatchBook's deposits (phase 2b, docs/flows.md): the builder takes the next deposits of
the Rollup's queue before the batch's messages, BatchBook proves each was credited,
opened its account or refunded, and the roots, the queue's chain and the exits' hash are
the model's.

A trader who never had an account deposits with a fresh key and trades in the same
batch; a deposit with a key outside the subgroup is refunded (its leaf stays empty); a
cheating operator who skips a deposit, takes one twice, or swaps two, is refused by the
queue's chain (the Rollup gives the circuit ``depositsBefore``/``depositsAfter`` from its
storage); one who credits a refunded deposit or refunds a valid one must lie in the key's
decomposition, refused by DepositEntry (tests/circuits/test_deposit_entry.py).
"""

from __future__ import annotations

import pytest

from prover.crypto import babyjub
from prover.crypto.eddsa import PrivateKey
from prover.errors import ProtocolError
from prover.exchange.bookbatch import BookBatchBuilder
from prover.exchange.booktree import Books
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_IOC
from prover.exchange.domain import BatchConfig, BatchFull, SignedOrder
from prover.exchange.flows import (
    TORSION,
    Deposit,
    DepositOutcome,
    Exit,
    deposit_chain,
    exits_hash,
)
from tests.circuits.harness import compile_main
from tests.circuits.scenario import MARKETS, order
from tests.venue import dev_state, prices

BB, CL, P = 4, 1, 2
INSTANCE = f"BatchBook(5, 2, 2, 4, 2, 2, {BB}, {CL}, {P})"
CONFIG = BatchConfig(4, 2, 2, 5, 2, 2, book_bits=BB, book_cap_levels=CL, deposits=P)
ALICE = PrivateKey.from_seed("flows-alice")
BOB = PrivateKey.from_seed("flows-bob")
DEPOSITOR = 0xA11CE0000000000000000000000000000000B0B


@pytest.fixture(scope="module")
def circuit():
    return compile_main("main/BatchBook.circom", INSTANCE)


def _state():
    """Genesis: the fee account and the insurance fund only (no trader is funded)."""
    return dev_state(MARKETS, 4, 2, books=Books(2, bits=BB, cap_levels=CL))


def _builder(state, n=0):
    return BookBatchBuilder(state, CONFIG, prices(n, 1000 + 10 * n, (1000, 500), (0, 0)))


def _prove(circuit, builder):
    result = builder.seal()
    inputs = result.witness.as_circuit_inputs()
    w = circuit.witness(inputs)
    assert w.ok, w.failing()
    return result, inputs


def test_new_traders_deposit_and_trade_in_the_same_batch(circuit):
    state = _state()
    deps = [
        Deposit(0, 2, ALICE.public_key, 5_000_000, DEPOSITOR),
        Deposit(1, 3, BOB.public_key, 7_000_000, DEPOSITOR + 1),
    ]
    b = _builder(state)
    assert [b.add_deposit(d) for d in deps] == [DepositOutcome.CREATED] * 2
    b.add_entry(SignedOrder.sign(order(2, SIDE_SELL, 1000, 10, 1), ALICE))
    b.add_entry(SignedOrder.sign(order(3, SIDE_BUY, 1000, 4, 1, tif=TIF_IOC), BOB))
    result, inputs = _prove(circuit, b)
    new = result.state
    assert new.account(2).pubkey == ALICE.public_key
    assert new.account(3).positions[0].size == 4
    assert new.account(2).positions[0].size == -4
    assert new.total_collateral() == 12_000_000
    assert (new.deposit_count, new.deposit_chain) == (2, deposit_chain(deps))
    assert int(inputs["depositsBefore"]) == 0
    assert int(inputs["depositsAfter"]) == deposit_chain(deps)
    assert int(inputs["exitsHash"]) == 0 and result.witness.exits == ()


def test_a_second_deposit_credits_and_a_bad_key_is_refunded(circuit):
    first = _builder(_state())
    first.add_deposit(Deposit(0, 2, ALICE.public_key, 1_000, DEPOSITOR))
    before, _ = _prove(circuit, first)
    bad_key = babyjub.add(BOB.public_key, TORSION[1])
    deps = [
        Deposit(1, 2, ALICE.public_key, 2_000, DEPOSITOR),
        Deposit(2, 3, bad_key, 3_000, DEPOSITOR + 5),
    ]
    b = _builder(before.state, 1)
    assert [b.add_deposit(d) for d in deps] == [
        DepositOutcome.CREDITED, DepositOutcome.REFUNDED,
    ]
    result, inputs = _prove(circuit, b)
    assert result.state.account(2).collateral == 3_000
    assert not result.state.exists(3)
    assert result.witness.exits == (Exit(DEPOSITOR + 5, 3_000),)
    assert int(inputs["exitsHash"]) == exits_hash([Exit(DEPOSITOR + 5, 3_000)])
    assert int(inputs["depositsBefore"]) == before.state.deposit_chain
    assert result.state.deposit_chain == deposit_chain(deps, before.state.deposit_chain)


def test_deposit_to_another_keys_account_is_refunded(circuit):
    first = _builder(_state())
    first.add_deposit(Deposit(0, 2, ALICE.public_key, 1_000, DEPOSITOR))
    before, _ = _prove(circuit, first)
    b = _builder(before.state, 1)
    assert b.add_deposit(Deposit(1, 2, BOB.public_key, 9, DEPOSITOR)) is DepositOutcome.REFUNDED
    result, _ = _prove(circuit, b)
    assert result.state.account(2).collateral == 1_000
    assert result.witness.exits == (Exit(DEPOSITOR, 9),)


def test_the_builder_refuses_deposits_out_of_order_or_too_many():
    b = _builder(_state())
    with pytest.raises(ProtocolError, match="not the next"):
        b.add_deposit(Deposit(1, 2, ALICE.public_key, 1, DEPOSITOR))
    b.add_deposit(Deposit(0, 2, ALICE.public_key, 1, DEPOSITOR))
    b.add_deposit(Deposit(1, 3, BOB.public_key, 1, DEPOSITOR))
    with pytest.raises(BatchFull, match="deposit slots"):
        b.add_deposit(Deposit(2, 3, BOB.public_key, 1, DEPOSITOR))
    from prover.exchange.batch import BatchBuilder

    legacy = BatchBuilder(
        _state(), BatchConfig(4, 2, 2, 5, 2, 2), prices(0, 1000, (1000, 500), (0, 0))
    )
    with pytest.raises(ProtocolError, match="takes no deposit"):
        legacy.add_deposit(Deposit(0, 2, ALICE.public_key, 1, DEPOSITOR))
    late = _builder(_state())
    late.add_deposit(Deposit(0, 2, ALICE.public_key, 1_000_000, DEPOSITOR))
    late.add_entry(SignedOrder.sign(order(2, SIDE_SELL, 1000, 1, 1), ALICE))
    with pytest.raises(ProtocolError, match="before its messages"):
        late.add_deposit(Deposit(1, 3, BOB.public_key, 1, DEPOSITOR))


# --- the queue's chain: what a cheating operator cannot do with the Rollup's inputs -----

def _two_deposit_batch():
    deps = [
        Deposit(0, 2, ALICE.public_key, 5_000, DEPOSITOR),
        Deposit(1, 3, BOB.public_key, 6_000, DEPOSITOR),
    ]
    b = _builder(_state())
    for d in deps:
        b.add_deposit(d)
    return deps, b.seal().witness.as_circuit_inputs()


def _only(deps, n: int):
    """The honest witness of a batch that takes ``deps[:n]`` only (every signal computed
    by the builder from that choice)."""
    b = _builder(_state())
    for d in deps[:n]:
        b.add_deposit(d)
    return b.seal().witness.as_circuit_inputs()


def test_skipping_a_deposit_is_refused_by_the_chain(circuit):
    """The Rollup asks for both deposits (its depositsAfter); the operator's witness takes
    only the first: every other signal consistent, only the chain's end disagrees."""
    deps, full = _two_deposit_batch()
    cheat = dict(_only(deps, 1))
    cheat["depositsAfter"] = full["depositsAfter"]
    # depositsAfter enters one constraint only, depChain[P] === depositsAfter: the refusal
    # is that rule's.
    assert not circuit.witness(cheat).ok


def test_a_deposit_taken_twice_or_out_of_order_is_refused(circuit):
    """Deposit 0 twice (as if it were deposit 1), or the two swapped: the packed record
    chained is not the Rollup's."""
    deps, full = _two_deposit_batch()
    for cheat_deps in ([deps[0], Deposit(1, 2, ALICE.public_key, 5_000, DEPOSITOR)],
                       [Deposit(0, 3, BOB.public_key, 6_000, DEPOSITOR),
                        Deposit(1, 2, ALICE.public_key, 5_000, DEPOSITOR)]):
        b = _builder(_state())
        for d in cheat_deps:
            b.add_deposit(d)
        cheat = dict(b.seal().witness.as_circuit_inputs())
        assert cheat["depositsAfter"] != full["depositsAfter"]
        cheat["depositsAfter"] = full["depositsAfter"]
        assert not circuit.witness(cheat).ok


def test_used_deposit_slots_come_first(circuit):
    """A batch of one deposit with its row in slot 1 and slot 0 unused chains the same
    values; the prefix rule refuses it (the slots' order is the queue's)."""
    b = _builder(_state())
    b.add_deposit(Deposit(0, 2, ALICE.public_key, 5_000, DEPOSITOR))
    inputs = dict(b.seal().witness.as_circuit_inputs())
    for name in ("depUsed", "depIndex", "depKeyX", "depKeyY", "depAmount", "depDepositor",
                 "depSlot", "depKeyQx", "depKeyQy", "depKeyTorsion"):
        inputs[name] = [inputs[name][1], inputs[name][0]]
    assert not circuit.witness(inputs).ok


@pytest.fixture(scope="module")
def circuit0():
    return compile_main("main/BatchBook.circom", INSTANCE, optimize=0)


def _deposit_batches():
    """Batches with every deposit outcome: created (and traded), credited, refunded."""
    b = _builder(_state())
    b.add_deposit(Deposit(0, 2, ALICE.public_key, 5_000_000, DEPOSITOR))
    b.add_deposit(Deposit(1, 3, babyjub.add(BOB.public_key, TORSION[2]), 9, DEPOSITOR))
    b.add_entry(SignedOrder.sign(order(2, SIDE_SELL, 1000, 1, 1), ALICE))
    first = b.seal()
    c = _builder(first.state, 1)
    c.add_deposit(Deposit(2, 2, ALICE.public_key, 7, DEPOSITOR))
    return [first.witness.as_circuit_inputs(), c.seal().witness.as_circuit_inputs()]


@pytest.mark.parametrize("optimized", [True, False])
def test_no_unexplained_free_wire_with_deposits(circuit, circuit0, optimized):
    """The single-signal freedom check (tests/circuits/test_freedom_book.py) on batches
    with used deposit slots: nothing the deposits add can change alone."""
    from tests.circuits.freedom import BATCHBOOK_ALLOWLIST, unexplained

    c = circuit if optimized else circuit0
    for inputs in _deposit_batches():
        w = c.witness(inputs)
        assert w.ok, w.failing()
        bad = unexplained(c.r1cs, w.values, c.names_by_wire(), w, BATCHBOOK_ALLOWLIST)
        assert not bad, [(f.names[:3], f.delta) for f in bad[:10]]
