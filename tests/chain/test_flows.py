"""Collateral in and out of the Rollup (verifier_contracts/Rollup.sol, docs/settlement.md,
"Deposits and exits"): ``deposit`` through an ERC-20, the deposit queue batches consume,
exits credited by an accepted batch, ``claim``.

The token is MockUSDC (verifier_contracts/MockUSDC.sol) unless a test deploys one of the
hostile tokens of verifier_contracts/test/. The stand-in circuit proves any nine public
inputs, so each batch here is proven for the values the model computes
(``flows.deposit_chain``, ``flows.exits_hash``) and the tests check the contract builds the
same ones, or refuses the call, naming its ``Rollup__Reason`` and leaving everything as it
was. The stand-in proves nothing about the state, so the exits here are whatever a test
chooses; conservation against the state is the batch circuit's (see the last tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest
from web3.logs import DISCARD

from prover.chain.config import batch_info
from prover.chain.contracts import compile_mock_usdc, compile_test_tokens
from prover.chain.rollup import ChainError, RollupRevert, _deploy, _send, _simulate, mint
from prover.crypto import babyjub
from prover.crypto.eddsa import PrivateKey
from prover.exchange import flows
from prover.field import SNARK_FIELD
from prover.verifier.audit import audit_chain
from tests.chain.conftest import DEPOSITS_PER_BATCH, FIRST_ACCOUNT
from tests.chain.test_rollup import SUBMIT_GAS_BUDGET

P = SNARK_FIELD
KEYS = [PrivateKey.from_seed(f"zkmatch-test-depositor-{i}").public_key for i in range(6)]
#: Gas of a deposit transaction (21,000 base and calldata included) that opens a new
#: account: three new slots (the key's index, the queue's chain and the deposit's
#: forced-inclusion deadline), the token's transfer and two balance reads, one PoseidonT5
#: hash. A known key skips one new slot.
DEPOSIT_GAS_BUDGET = 195_000
#: What each exit adds to a submitBatch transaction (a PoseidonT4 hash, a new claimable
#: slot, an ExitCredited event, a calldata word), for a recipient with nothing owed yet. The
#: first exit ever also turns totalClaimable from zero to non-zero (17,100 more, once).
EXIT_GAS_BUDGET = 63_000
#: Gas of a claim transaction (claimable cleared, totalClaimable lowered, the token's
#: transfer to a recipient that held none).
CLAIM_GAS_BUDGET = 65_000


@dataclass
class Ledger:
    """What the tests expect the Rollup to hold: every deposit, every exit, every claim."""

    deposits: list[flows.Deposit] = field(default_factory=list)
    credited: dict[int, int] = field(default_factory=dict)
    claimed: int = 0
    consumed: int = 0
    exited: int = 0

    def chain(self, count: int) -> int:
        return flows.deposit_chain(self.deposits[:count])


def _logs(client, event: str, receipt) -> list:
    """The Rollup's ``event`` logs in ``receipt`` (the token's own logs skipped)."""
    return list(getattr(client.contract.events, event)().process_receipt(receipt, errors=DISCARD))


def _addr(address: str) -> int:
    return int(address, 16)


def fund(rollup, who: str, amount: int) -> None:
    """Mint ``amount`` to ``who`` and approve the Rollup for it."""
    mint(rollup.w3, rollup.deployment.token, who, amount, sender=rollup.admin)
    rollup.client.approve(amount, sender=who)


def deposit(rollup, ledger: Ledger, who: str, key, amount: int):
    fund(rollup, who, amount)
    receipt = rollup.client.deposit(key, amount, sender=who)
    (log,) = _logs(rollup.client, "Deposited", receipt)
    made = flows.Deposit(
        len(ledger.deposits), int(log["args"]["account"]), tuple(key), amount, _addr(who)
    )
    ledger.deposits.append(made)
    return receipt


def _rejects(reason: str, call) -> RollupRevert:
    with pytest.raises(RollupRevert) as caught:
        call()
    assert caught.value.reason == reason, caught.value
    return caught.value


def _queue(rollup) -> tuple[int, int, int, int]:
    c = rollup.client
    return c.deposit_count(), c.next_account(), c.token_balance(c.address), len(c.deposits())


def _inputs(
    rollup, ledger: Ledger, new_root: int, timestamp: int, end: int, exits, **lies
) -> list[int]:
    """The nine inputs of the next batch (no inbox message), chain values from the model."""
    state = rollup.client.state()
    start = rollup.client.deposits_consumed()
    chain = rollup.client.inbox_consumed_chain()
    values = [
        state.root,
        new_root,
        batch_info(state.batch_number, state.last_timestamp, timestamp),
        state.config_hash,
        chain,
        chain,
        lies.get("before", ledger.chain(start)),
        lies.get("after", ledger.chain(end)),
        lies.get("exits_hash", flows.exits_hash(exits)),
    ]
    return values


def batch(rollup, shape, ledger: Ledger, new_root: int, timestamp: int, end: int, exits=()):
    """Prove and submit a batch consuming deposits up to ``end`` with ``exits``."""
    exits = tuple(exits)
    proof = shape.prove(_inputs(rollup, ledger, new_root, timestamp, end, exits))
    receipt = rollup.client.submit_batch(
        new_root, timestamp, rollup.client.inbox_consumed(), end, exits, proof, rollup.operator
    )
    ledger.consumed = end
    for x in exits:
        ledger.credited[x.recipient] = ledger.credited.get(x.recipient, 0) + x.amount
        ledger.exited += x.amount
    return receipt


def check_conservation(rollup, ledger: Ledger) -> None:
    """The token balance is every deposit less every claim; and, with the state's collateral
    as the stand-in's batches left it (each consumed deposit in, each exit out), the
    balance is that collateral + totalClaimable + the queued deposits."""
    client = rollup.client
    balance = client.token_balance(client.address)
    assert balance == sum(d.amount for d in ledger.deposits) - ledger.claimed
    queued = sum(d.amount for d in ledger.deposits[ledger.consumed :])
    in_state = sum(d.amount for d in ledger.deposits[: ledger.consumed]) - ledger.exited
    assert client.total_claimable() == ledger.exited - ledger.claimed
    assert balance == in_state + client.total_claimable() + queued
    for recipient, amount in ledger.credited.items():
        assert client.claimable(hex(recipient)) <= amount


# --- deposit ---------------------------------------------------------------------------


def test_deposits_name_accounts_and_chain_as_the_model_does(rollup):
    client, ledger = rollup.client, Ledger()
    accounts = rollup.w3.eth.accounts
    assert (client.first_account(), client.next_account()) == (FIRST_ACCOUNT, FIRST_ACCOUNT)
    assert client.deposits_per_batch() == DEPOSITS_PER_BATCH
    assert (client.deposit_count(), client.deposit_chain_at(0), client.account_of(KEYS[0])) == (
        0, 0, None
    )
    gas = []
    plan = [(accounts[3], KEYS[0], 1_000), (accounts[4], KEYS[0], 5),
            (accounts[4], KEYS[1], 2**56 - 1), (accounts[3], KEYS[2], 1)]
    for who, key, amount in plan:
        gas.append(int(deposit(rollup, ledger, who, key, amount)["gasUsed"]))
        n = len(ledger.deposits)
        assert client.deposit_count() == n
        assert client.deposit_chain_at(n) == ledger.chain(n)
    # A new key: the first free index; the same key again: its index; the next: the next.
    assert [d.account for d in ledger.deposits] == [
        FIRST_ACCOUNT, FIRST_ACCOUNT, FIRST_ACCOUNT + 1, FIRST_ACCOUNT + 2
    ]
    assert [client.account_of(k) for k in KEYS[:4]] == [
        FIRST_ACCOUNT, FIRST_ACCOUNT + 1, FIRST_ACCOUNT + 2, None
    ]
    assert client.next_account() == FIRST_ACCOUNT + 3
    # The events read back as the model's deposits, their chain checked on the way.
    assert client.deposits() == ledger.deposits
    assert client.deposits(from_number=2) == ledger.deposits[2:]
    assert [d.depositor for d in ledger.deposits] == [_addr(a) for a, _, _ in plan]
    logs = client.contract.events.Deposited().get_logs(from_block=0)
    assert [int(log["args"]["chain"]) for log in logs] == [ledger.chain(n) for n in (1, 2, 3, 4)]
    assert client.token_balance(client.address) == sum(d.amount for d in ledger.deposits)
    assert client.deposits_consumed() == 0
    print(f"deposit gas: new key {gas[0]}, known key {gas[1]}, all {gas}")
    assert max(gas) <= DEPOSIT_GAS_BUDGET, gas


def test_mock_usdc_is_a_development_token_anyone_mints(rollup):
    token = rollup.w3.eth.contract(address=rollup.deployment.token,
                                   abi=compile_mock_usdc().abi)
    f = token.functions
    assert (f.name().call(), f.symbol().call(), f.decimals().call()) == (
        "Mock USD Coin", "USDC", 6
    )
    assert rollup.client.collateral_token() == rollup.deployment.token
    mint(rollup.w3, rollup.deployment.token, rollup.admin, 5, sender=rollup.stranger)
    assert (f.totalSupply().call(), rollup.client.token_balance(rollup.admin)) == (5, 5)


def test_deposits_reads_refuse_a_gap_or_another_chain(rollup, monkeypatch):
    ledger, who = Ledger(), rollup.stranger
    deposit(rollup, ledger, who, KEYS[0], 1)
    receipt = deposit(rollup, ledger, who, KEYS[1], 2)
    client = rollup.client
    # Logs from the second deposit's block on, read as if from deposit 0: a gap.
    with pytest.raises(ChainError, match="give deposit 1 where 0 belongs"):
        client.deposits(0, from_block=int(receipt["blockNumber"]))
    assert client.deposits(1, from_block=int(receipt["blockNumber"])) == ledger.deposits[1:]
    # A chain that does not follow from the stored one.
    monkeypatch.setattr(type(client), "deposit_chain_at", lambda self, n: 12345)
    with pytest.raises(ChainError, match="deposit 0: the Rollup logged the chain"):
        client.deposits()


def test_approve_and_deposit_and_a_depositor_without_allowance(rollup):
    client, who = rollup.client, rollup.w3.eth.accounts[3]
    mint(rollup.w3, rollup.deployment.token, who, 100, sender=who)  # anyone may mint
    before = _queue(rollup)
    _rejects("Rollup__TransferFailed", lambda: client.deposit(KEYS[0], 100, sender=who))
    assert _queue(rollup) == before
    client.approve_and_deposit(KEYS[0], 60, sender=who)
    assert client.token_balance(who) == 40
    # 60 more than the 40 left: MockUSDC reverts, the Rollup names it a failed transfer.
    client.approve(60, sender=who)
    _rejects("Rollup__TransferFailed", lambda: client.deposit(KEYS[0], 60, sender=who))
    assert (client.deposit_count(), client.token_balance(client.address)) == (1, 60)


def test_a_key_outside_the_subgroup_is_queued_the_circuit_refunds_it(rollup):
    # On the curve, plus a point of order 2: the contract checks the curve only.
    key = babyjub.add(KEYS[0], flows.TORSION[4])
    assert babyjub.on_curve(key) and not flows.key_valid(key)
    ledger = Ledger()
    deposit(rollup, ledger, rollup.stranger, key, 7)
    assert rollup.client.deposits() == ledger.deposits


@pytest.mark.parametrize("where", ["x = p", "y = p", "x + p", "off the curve", "zero"])
def test_a_bad_key_is_refused_and_changes_nothing(rollup, where):
    x, y = KEYS[0]
    key = {"x = p": (P, y), "y = p": (x, P), "x + p": (x + P, y),
           "off the curve": (x, y + 1), "zero": (0, 0)}[where]
    who = rollup.stranger
    fund(rollup, who, 10)
    before = _queue(rollup)
    call = rollup.client.contract.functions.deposit(key[0], key[1], 10)
    reason = "Rollup__NotOnCurve" if where in ("off the curve", "zero") else "Rollup__NotInField"
    error = _rejects(reason, lambda: _send(rollup.w3, call, who, rollup.client.abi))
    assert error.args_ == (key if reason == "Rollup__NotOnCurve" else (max(key),))
    assert _queue(rollup) == before and rollup.client.token_balance(who) == 10


@pytest.mark.parametrize("amount", [0, 2**56, 2**56 + 1, 2**255])
def test_an_amount_outside_1_to_2_56_is_refused(rollup, amount):
    who = rollup.stranger
    fund(rollup, who, min(amount, 2**60))
    before = _queue(rollup)
    error = _rejects("Rollup__BadDepositAmount",
                     lambda: rollup.client.deposit(KEYS[0], amount, sender=who))
    assert error.args_ == (amount,)
    assert _queue(rollup) == before


def test_a_full_tree_takes_no_new_key(rollup_with):
    rollup = rollup_with(account_bits=2, first_account=2)  # indices 2 and 3 only
    ledger, who = Ledger(), rollup.stranger
    deposit(rollup, ledger, who, KEYS[0], 1)
    deposit(rollup, ledger, who, KEYS[1], 1)
    assert rollup.client.next_account() == 4
    fund(rollup, who, 1)
    before = _queue(rollup)
    _rejects("Rollup__TreeFull", lambda: rollup.client.deposit(KEYS[2], 1, sender=who))
    assert _queue(rollup) == before and rollup.client.account_of(KEYS[2]) is None
    # A known key still deposits, to its account.
    deposit(rollup, ledger, who, KEYS[1], 1)
    assert [d.account for d in ledger.deposits] == [2, 3, 3]
    assert rollup.client.deposits() == ledger.deposits


def _token(chain, name: str) -> str:
    """Deploy one of the hostile test tokens."""
    return _deploy(chain, compile_test_tokens()[name], chain.eth.accounts[0])


def test_a_token_that_returns_false_is_refused(chain, rollup_with):
    bad = rollup_with(token=_token(chain, "FalseToken"))
    who = bad.stranger
    fund(bad, who, 50)
    before = _queue(bad)
    _rejects("Rollup__TransferFailed", lambda: bad.client.deposit(KEYS[0], 50, sender=who))
    assert _queue(bad) == before and bad.client.token_balance(who) == 50
    assert bad.client.account_of(KEYS[0]) is None


def test_a_fee_on_transfer_token_is_refused(chain, rollup_with):
    bad = rollup_with(token=_token(chain, "FeeToken"))
    who = bad.stranger
    fund(bad, who, 1_000)
    before = _queue(bad)
    error = _rejects("Rollup__TransferShortfall",
                     lambda: bad.client.deposit(KEYS[0], 1_000, sender=who))
    assert error.args_ == (1_000, 990)
    assert _queue(bad) == before and bad.client.token_balance(who) == 1_000


def test_a_token_that_returns_nothing_is_accepted(chain, shape, rollup_with):
    usdt = rollup_with(token=_token(chain, "NoReturnToken"))
    ledger, who = Ledger(), usdt.stranger
    deposit(usdt, ledger, who, KEYS[0], 300)
    t = usdt.now() - 300
    batch(usdt, shape, ledger, 11, t, 1, [flows.Exit(_addr(who), 120)])
    usdt.client.claim(who, sender=usdt.admin)
    ledger.claimed += 120
    assert usdt.client.token_balance(who) == 120
    check_conservation(usdt, ledger)


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("token", "0x" + "00" * 20, "Rollup__ZeroAddress"),
        ("token", "0x" + "12" * 20, "Rollup__TokenNotContract"),
        ("deposits_per_batch", 0, "Rollup__ZeroDepositsPerBatch"),
        ("account_bits", 1, "Rollup__BadAccountBits"),
        ("account_bits", 33, "Rollup__BadAccountBits"),
        ("first_account", 1, "Rollup__BadFirstAccount"),
        ("first_account", 2**4, "Rollup__BadFirstAccount"),  # ACCOUNT_BITS = 4
    ],
)
def test_the_constructor_refuses_bad_flow_parameters(rollup_with, name, value, reason):
    _rejects(reason, lambda: rollup_with(**{name: value}))


def test_the_last_index_of_the_tree_is_a_first_account(rollup_with):
    rollup = rollup_with(account_bits=4, first_account=15)
    ledger = Ledger()
    deposit(rollup, ledger, rollup.stranger, KEYS[0], 1)
    assert ledger.deposits[0].account == 15
    fund(rollup, rollup.stranger, 1)
    _rejects("Rollup__TreeFull", lambda: rollup.client.deposit(KEYS[1], 1, sender=rollup.stranger))


# --- batches consume the queue ---------------------------------------------------------


def test_batches_consume_deposits_in_order(rollup, shape):
    client, ledger = rollup.client, Ledger()
    who = rollup.w3.eth.accounts[3]
    for i, amount in enumerate((10, 20, 30)):
        deposit(rollup, ledger, who, KEYS[i], amount)
    t = rollup.now() - 300
    proof = shape.prove(_inputs(rollup, ledger, 11, t, 3, ()))
    error = _rejects("Rollup__DepositRangeTooLong",
                     lambda: client.submit_batch(11, t, 0, 3, (), proof, rollup.operator))
    assert error.args_ == (0, 3, DEPOSITS_PER_BATCH)
    _rejects("Rollup__DepositRangeTooLong", lambda: client.next_public_inputs(11, t, 0, 3, ()))
    error = _rejects("Rollup__DepositEndAfterCount",
                     lambda: client.submit_batch(11, t, 0, 4, (), proof, rollup.operator))
    assert error.args_ == (4, 3)
    _rejects("Rollup__DepositEndAfterCount", lambda: client.next_public_inputs(11, t, 0, 4, ()))
    assert client.deposits_consumed() == 0
    inputs = _inputs(rollup, ledger, 11, t, 2, ())
    assert client.next_public_inputs(11, t, 0, 2, ()) == inputs
    assert inputs[6:8] == [0, ledger.chain(2)]
    gas = [int(batch(rollup, shape, ledger, 11, t, 2)["gasUsed"])]
    assert client.deposits_consumed() == 2
    proof = shape.prove(_inputs(rollup, ledger, 22, t + 1, 1, ()))
    error = _rejects("Rollup__DepositEndBeforeConsumed",
                     lambda: client.submit_batch(22, t + 1, 0, 1, (), proof, rollup.operator))
    assert error.args_ == (1, 2)
    _rejects("Rollup__DepositEndBeforeConsumed",
             lambda: client.next_public_inputs(22, t + 1, 0, 1, ()))
    gas.append(int(batch(rollup, shape, ledger, 22, t + 1, 3)["gasUsed"]))
    gas.append(int(batch(rollup, shape, ledger, 33, t + 2, 3)["gasUsed"]))  # none left
    events = client.batches()
    assert [(e.deposit_start, e.deposit_end, e.deposits_after) for e in events] == [
        (0, 2, ledger.chain(2)), (2, 3, ledger.chain(3)), (3, 3, ledger.chain(3))
    ]
    print(f"submitBatch gas: 2 deposits {gas[0]}, 1 deposit {gas[1]}, none {gas[2]}")
    assert max(gas) <= SUBMIT_GAS_BUDGET, gas
    check_conservation(rollup, ledger)


@pytest.mark.parametrize("lie", ["before", "after", "fewer", "other order"])
def test_a_proof_for_other_deposit_chain_values_is_rejected(rollup, shape, lie):
    ledger, who = Ledger(), rollup.stranger
    for i in range(3):
        deposit(rollup, ledger, who, KEYS[i], 5 + i)
    t = rollup.now() - 300
    batch(rollup, shape, ledger, 11, t, 1)  # so that depositsBefore is not 0
    swapped = [ledger.deposits[0], ledger.deposits[2], ledger.deposits[1]]
    values = {
        "before": {"before": 0},
        "after": {"after": ledger.chain(2)},  # the operator skipped the last deposit
        "fewer": {},  # made for [1, 2), submitted for [1, 3)
        "other order": {"after": flows.deposit_chain(swapped)},
    }[lie]
    proof = shape.prove(_inputs(rollup, ledger, 22, t + 1, 2 if lie == "fewer" else 3, (),
                                **values))
    _rejects("Rollup__InvalidProof",
             lambda: rollup.client.submit_batch(22, t + 1, 0, 3, (), proof, rollup.operator))
    assert (rollup.client.deposits_consumed(), rollup.client.state().batch_number) == (1, 1)


# --- exits and claims ------------------------------------------------------------------


def test_exits_are_credited_and_claimed_once_by_anyone_for_the_recipient(rollup, shape):
    client, ledger = rollup.client, Ledger()
    alice, bob, carol = rollup.w3.eth.accounts[3:6]
    deposit(rollup, ledger, alice, KEYS[0], 1_000)
    deposit(rollup, ledger, bob, KEYS[1], 500)
    t = rollup.now() - 300
    gas = [int(batch(rollup, shape, ledger, 11, t, 2)["gasUsed"])]  # no exit
    check_conservation(rollup, ledger)
    exits = [flows.Exit(_addr(alice), 300), flows.Exit(_addr(bob), 2**56 - 1 - 2**55)]
    inputs = _inputs(rollup, ledger, 22, t + 1, 2, exits)
    assert client.next_public_inputs(22, t + 1, 0, 2, exits) == inputs
    assert inputs[8] == flows.exits_hash(exits) != 0
    receipt = batch(rollup, shape, ledger, 22, t + 1, 2, exits)
    gas.append(int(receipt["gasUsed"]))
    assert [client.claimable(a) for a in (alice, bob, carol)] == [300, 2**55 - 1, 0]
    assert client.total_claimable() == 300 + 2**55 - 1
    logs = _logs(client, "ExitCredited", receipt)
    assert [(log["args"]["batchNumber"], _addr(log["args"]["recipient"]), log["args"]["amount"])
            for log in logs] == [(1, x.recipient, x.amount) for x in exits]
    events = client.batches()
    assert [e.exits for e in events] == [(), tuple(exits)]
    assert [e.exits_hash for e in events] == [0, flows.exits_hash(exits)]
    # (The stand-in proves any exit; bob's exceeds what the Rollup holds: see below.)
    # A second batch owing alice again: her claimable adds up.
    receipt = batch(rollup, shape, ledger, 33, t + 2, 2, [flows.Exit(_addr(alice), 50)])
    gas.append(int(receipt["gasUsed"]))
    assert client.claimable(alice) == 350
    # Carol claims for alice: the tokens go to alice, carol pays only the gas.
    carol_before = client.token_balance(carol)
    receipt = client.claim(alice, sender=carol)
    ledger.claimed += 350
    (log,) = _logs(client, "Claimed", receipt)
    assert (log["args"]["recipient"], log["args"]["amount"]) == (alice, 350)
    assert client.token_balance(alice) == 350 and client.token_balance(carol) == carol_before
    assert client.claimable(alice) == 0
    error = _rejects("Rollup__NothingToClaim", lambda: client.claim(alice, sender=carol))
    assert error.args_[0].lower() == alice.lower()
    _rejects("Rollup__NothingToClaim", lambda: client.claim(carol, sender=alice))
    claim_gas = int(receipt["gasUsed"])
    print(f"submitBatch gas: no exit {gas[0]}, 2 exits (the first ever) {gas[1]}, 1 exit to "
          f"a recipient owed already {gas[2]}; claim gas {claim_gas}")
    assert gas[0] <= SUBMIT_GAS_BUDGET
    assert gas[1] - gas[0] <= 17_100 + 2 * EXIT_GAS_BUDGET, gas
    assert gas[2] - gas[0] <= EXIT_GAS_BUDGET, gas
    assert claim_gas <= CLAIM_GAS_BUDGET
    # Bob's exit is more than the Rollup holds (only a real proof keeps exits within the
    # collateral): his claim cannot be paid, fails as a transfer and stays owed.
    _rejects("Rollup__TransferFailed", lambda: client.claim(bob, sender=bob))
    assert client.claimable(bob) == 2**55 - 1


@pytest.mark.parametrize(
    ("packed", "index"),
    [
        (0, 0),  # amount 0, recipient 0
        (0x1234, 1),  # amount 0
        (2**56 << 160, 1),  # amount 2^56
        (1 << 255, 0),
    ],
)
def test_an_exit_outside_1_to_2_56_is_refused(rollup, shape, packed, index):
    good = flows.Exit(_addr(rollup.stranger), 5).packed()
    words = [good, packed] if index == 1 else [packed, good]
    t = rollup.now() - 60
    functions = rollup.client.contract.functions
    call = functions.submitBatch(11, t, 0, 0, words, [0] * 8)  # refused before the proof
    error = _rejects("Rollup__BadExit",
                     lambda: _send(rollup.w3, call, rollup.operator, rollup.client.abi))
    assert error.args_ == (index, packed)
    call = functions.nextPublicInputs(11, t, 0, 0, words)
    _rejects("Rollup__BadExit", lambda: _simulate(call, {}, rollup.client.abi))
    assert rollup.client.total_claimable() == 0


@pytest.mark.parametrize("lie", ["other order", "one fewer", "other amount"])
def test_a_proof_for_other_exits_is_rejected(rollup, shape, lie):
    ledger = Ledger()
    deposit(rollup, ledger, rollup.stranger, KEYS[0], 100)
    a, b = (_addr(x) for x in rollup.w3.eth.accounts[3:5])
    exits = [flows.Exit(a, 10), flows.Exit(b, 20)]
    proven = {"other order": exits[::-1], "one fewer": exits[:1],
              "other amount": [flows.Exit(a, 10), flows.Exit(b, 21)]}[lie]
    t = rollup.now() - 60
    proof = shape.prove(_inputs(rollup, ledger, 11, t, 1, proven))
    _rejects("Rollup__InvalidProof",
             lambda: rollup.client.submit_batch(11, t, 0, 1, exits, proof, rollup.operator))
    assert rollup.client.total_claimable() == 0 and rollup.client.deposits_consumed() == 0


def test_a_claim_the_token_refuses_stays_owed(chain, shape, rollup_with):
    token = _token(chain, "FalseToken")
    bad = rollup_with(token=token)
    false_token = bad.w3.eth.contract(address=token, abi=compile_test_tokens()["FalseToken"].abi)
    _send(bad.w3, false_token.functions.setRefusing(False), bad.admin, false_token.abi)
    ledger, who = Ledger(), bad.stranger
    deposit(bad, ledger, who, KEYS[0], 40)
    batch(bad, shape, ledger, 11, bad.now() - 60, 1, [flows.Exit(_addr(who), 40)])
    _send(bad.w3, false_token.functions.setRefusing(True), bad.admin, false_token.abi)
    _rejects("Rollup__TransferFailed", lambda: bad.client.claim(who, sender=who))
    assert (bad.client.claimable(who), bad.client.total_claimable()) == (40, 40)
    _send(bad.w3, false_token.functions.setRefusing(False), bad.admin, false_token.abi)
    bad.client.claim(who, sender=who)
    ledger.claimed += 40
    assert bad.client.token_balance(who) == 40
    check_conservation(bad, ledger)


# --- conservation and the audit --------------------------------------------------------


def test_the_token_balance_is_conserved_and_the_audit_accepts_the_batches(rollup, shape):
    client, ledger = rollup.client, Ledger()
    alice, bob = rollup.w3.eth.accounts[3:5]
    t = rollup.now() - 600
    check_conservation(rollup, ledger)
    steps = [
        ("deposit", alice, KEYS[0], 1_000),
        ("deposit", bob, KEYS[1], 400),
        ("deposit", alice, KEYS[0], 250),
        ("batch", 2, [flows.Exit(_addr(bob), 100)]),
        ("claim", bob),
        ("deposit", bob, KEYS[2], 75),
        ("batch", 4, [flows.Exit(_addr(alice), 900), flows.Exit(_addr(bob), 25)]),
        ("claim", alice),
        ("batch", 4, []),
    ]
    root = 100
    for step in steps:
        if step[0] == "deposit":
            _, who, key, amount = step
            deposit(rollup, ledger, who, key, amount)
        elif step[0] == "batch":
            _, end, exits = step
            root += 1
            t += 1
            batch(rollup, shape, ledger, root, t, end, exits)
        else:
            _, who = step
            ledger.claimed += client.claimable(who)
            client.claim(who, sender=rollup.stranger)
        check_conservation(rollup, ledger)
    assert client.claimable(bob) == 25 and client.total_claimable() == 25
    report = audit_chain(client, shape.artifacts.vkey)
    assert report.ok, report.failure
    assert [b.number for b in report.batches] == [0, 1, 2]


def test_the_audit_refuses_exits_that_do_not_hash_to_the_batch(rollup, shape, monkeypatch):
    ledger = Ledger()
    deposit(rollup, ledger, rollup.stranger, KEYS[0], 100)
    exits = [flows.Exit(_addr(rollup.stranger), 9)]
    batch(rollup, shape, ledger, 11, rollup.now() - 60, 1, exits)
    real = type(rollup.client).batches

    def dropped(self, from_block=0):  # a node that lost an ExitCredited log
        return [replace(e, exits=()) for e in real(self, from_block)]

    monkeypatch.setattr(type(rollup.client), "batches", dropped)
    report = audit_chain(rollup.client, shape.artifacts.vkey)
    assert not report.ok and "exits hash" in report.failure
