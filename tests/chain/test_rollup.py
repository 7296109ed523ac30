"""The Rollup contract (verifier_contracts/Rollup.sol) on anvil, with real Groth16 proofs.

The verifier is snarkjs's export for ``RollupShape``, a stand-in with the batch circuit's
nine public inputs: each test proves for the inputs a cheating operator would want
accepted and checks the contract rebuilds its own (so the proof is rejected) or refuses the
call before verifying. Every rejection names its ``Rollup__Reason``. The batches here
consume no inbox message (inbox end = inboxConsumed) and no deposit, and have no exit;
test_rollup_inbox.py has the inbox ranges, test_flows.py deposits, exits and claims.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_utils import keccak

from prover.chain.config import RollupConfig, batch_info
from prover.chain.rollup import RollupRevert, proof_words
from prover.chain.vkey import key_hash, missing_from_code
from prover.crypto.poseidon_hash import poseidon
from prover.exchange.constants import TAG_CONFIG_OPERATOR, TAG_OPERATOR_KEY
from prover.exchange.venue import DEV_OPERATOR_KEY
from prover.field import SNARK_FIELD
from tests.chain.conftest import CONFIG, GENESIS_ROOT, MARKETS, OPERATOR_KEY

BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583
#: Gas of a whole submitBatch transaction with no exit (21,000 base and calldata included)
#: once the inboxConsumedChain slot is non-zero: 260,000 with four public inputs, raised to
#: 285,000 for the two inbox inputs (about 6,200 each in the verifier) and the inbox range's
#: reads and writes (BENCHMARKS.md, "Inbox (on chain)"), then to 315,000 for the three
#: inputs of deposits and exits and the deposit range's reads (docs/settlement.md).
SUBMIT_GAS_BUDGET = 315_000


def _inputs(
    rollup,
    new_root: int,
    timestamp: int,
    *,
    number: int | None = None,
    old_root: int | None = None,
    previous: int | None = None,
    config_hash: int | None = None,
    inbox_before: int | None = None,
    inbox_after: int | None = None,
    deposits_before: int | None = None,
    deposits_after: int | None = None,
    exits_hash: int | None = None,
) -> list[int]:
    """The nine public inputs of the next batch with empty inbox and deposit ranges and no
    exit, or with lies."""
    state = rollup.client.state()
    chain = rollup.client.inbox_consumed_chain()
    deposits = rollup.client.deposit_chain_at(rollup.client.deposits_consumed())
    return [
        state.root if old_root is None else old_root,
        new_root,
        batch_info(
            state.batch_number if number is None else number,
            state.last_timestamp if previous is None else previous,
            timestamp,
        ),
        state.config_hash if config_hash is None else config_hash,
        chain if inbox_before is None else inbox_before,
        chain if inbox_after is None else inbox_after,
        deposits if deposits_before is None else deposits_before,
        deposits if deposits_after is None else deposits_after,
        0 if exits_hash is None else exits_hash,
    ]


def _submit(rollup, new_root: int, timestamp: int, proof, sender: str):
    """``submitBatch`` of a batch that consumes no message and no deposit and has no exit."""
    return rollup.client.submit_batch(new_root, timestamp, 0, 0, (), proof, sender)


def _rejects(reason: str, call) -> RollupRevert:
    with pytest.raises(RollupRevert) as caught:
        call()
    assert caught.value.reason == reason, caught.value
    return caught.value


def test_an_honest_batch_moves_the_root_and_is_logged(rollup, shape):
    t = rollup.now() - 60
    inputs = _inputs(rollup, 777, t)
    assert rollup.client.next_public_inputs(777, t, 0, 0, ()) == inputs
    proof = shape.prove(inputs)
    receipt = rollup.client.submit_batch(777, t, 0, 0, (), proof, rollup.operator)
    state = rollup.client.state()
    assert (state.root, state.batch_number, state.last_timestamp) == (777, 1, t)
    (event,) = rollup.client.batches()
    assert (event.number, event.old_root, event.new_root) == (0, GENESIS_ROOT, 777)
    assert (event.previous_timestamp, event.timestamp) == (rollup.genesis_timestamp, t)
    assert event.config_hash == CONFIG.hash()
    assert (event.inbox_start, event.inbox_end, event.inbox_after) == (0, 0, 0)
    assert (event.deposit_start, event.deposit_end, event.deposits_after) == (0, 0, 0)
    assert (event.exits_hash, event.exits) == (0, ())
    assert list(event.proof) == proof_words(proof)
    # Verification plus the root update within the budget (BENCHMARKS.md).
    print(f"submitBatch gas: {receipt['gasUsed']}")
    assert receipt["gasUsed"] <= SUBMIT_GAS_BUDGET, receipt["gasUsed"]


def test_three_batches_chain_their_roots(rollup, shape):
    t = rollup.now() - 300
    for n, root in enumerate((11, 22, 33), start=1):  # n: a time offset
        rollup.client.submit_batch(
            root, t + n, 0, 0, (), shape.prove(_inputs(rollup, root, t + n)), rollup.operator
        )
    events = rollup.client.batches()
    assert [e.number for e in events] == [0, 1, 2]
    assert [e.old_root for e in events] == [GENESIS_ROOT, 11, 22]


def test_a_proof_replayed_for_the_next_batch_is_rejected(rollup, shape):
    t = rollup.now() - 60
    proof = shape.prove(_inputs(rollup, 5, t))
    rollup.client.submit_batch(5, t, 0, 0, (), proof, rollup.operator)
    # The same proof again (same new root, a later time): oldRoot and batchInfo moved on.
    _rejects(
        "Rollup__InvalidProof",
        lambda: rollup.client.submit_batch(5, t + 1, 0, 0, (), proof, rollup.operator),
    )


@pytest.mark.parametrize(
    "what",
    ["old_root", "number", "previous", "config_hash", "inbox_before", "inbox_after",
     "deposits_before", "deposits_after", "exits_hash"],
)
def test_inputs_the_operator_would_choose_are_rebuilt_by_the_contract(rollup, shape, what):
    t = rollup.now() - 60
    lie = {"old_root": 999, "number": 7, "previous": t - 1, "config_hash": 42,
           "inbox_before": 43, "inbox_after": 44, "deposits_before": 45, "deposits_after": 46,
           "exits_hash": 47}[what]
    proof = shape.prove(_inputs(rollup, 5, t, **{what: lie}))
    _rejects(
        "Rollup__InvalidProof", lambda: _submit(rollup, 5, t, proof, rollup.operator)
    )
    assert rollup.client.state().batch_number == 0


def test_only_the_operator_submits(rollup, shape):
    t = rollup.now() - 60
    proof = shape.prove(_inputs(rollup, 5, t))
    error = _rejects(
        "Rollup__NotOperator", lambda: _submit(rollup, 5, t, proof, rollup.stranger)
    )
    assert error.args_[0].lower() == rollup.stranger.lower()


def test_timestamps_must_move_forward_and_not_into_the_future(rollup, shape):
    now = rollup.now()
    past = rollup.genesis_timestamp
    proof = shape.prove(_inputs(rollup, 5, past))
    _rejects(
        "Rollup__TimestampNotAfterLast",
        lambda: _submit(rollup, 5, past, proof, rollup.operator),
    )
    future = now + 3600
    proof = shape.prove(_inputs(rollup, 5, future))
    _rejects(
        "Rollup__TimestampInFuture",
        lambda: _submit(rollup, 5, future, proof, rollup.operator),
    )
    rollup.mine_at(future + 1)  # once the chain's time has come, the same proof is good
    rollup.client.submit_batch(5, future, 0, 0, (), proof, rollup.operator)


def test_a_new_root_plus_the_field_modulus_is_refused(rollup, shape):
    t = rollup.now() - 60
    proof = shape.prove(_inputs(rollup, 5, t))
    _rejects(
        "Rollup__NotInField",
        lambda: rollup.client.submit_batch(5 + SNARK_FIELD, t, 0, 0, (), proof, rollup.operator),
    )


def test_a_proof_coordinate_plus_the_base_field_is_refused(rollup, shape):
    t = rollup.now() - 60
    words = proof_words(shape.prove(_inputs(rollup, 5, t)))
    words[0] += BASE_FIELD
    _rejects(
        "Rollup__NotInField", lambda: _submit(rollup, 5, t, words, rollup.operator)
    )


def test_a_point_off_the_curve_is_rejected(rollup, shape):
    t = rollup.now() - 60
    words = proof_words(shape.prove(_inputs(rollup, 5, t)))
    words[7] = (words[7] + 1) % BASE_FIELD  # C moves off y^2 = x^3 + 3
    _rejects(
        "Rollup__InvalidProof", lambda: _submit(rollup, 5, t, words, rollup.operator)
    )


@pytest.mark.parametrize("byte", [0, 31, 64, 100, 200, 255])
def test_a_changed_byte_of_the_proof_is_rejected(rollup, shape, byte):
    t = rollup.now() - 60
    words = proof_words(shape.prove(_inputs(rollup, 5, t)))
    raw = bytearray(b"".join(w.to_bytes(32, "big") for w in words))
    raw[byte] ^= 0x01
    changed = [int.from_bytes(raw[i : i + 32], "big") for i in range(0, 256, 32)]
    with pytest.raises(RollupRevert) as caught:
        rollup.client.submit_batch(5, t, 0, 0, (), changed, rollup.operator)
    assert caught.value.reason in ("Rollup__InvalidProof", "Rollup__NotInField")
    assert rollup.client.state().batch_number == 0


def test_the_contract_hashes_the_configuration_as_python_does(rollup):
    assert rollup.client.state().config_hash == CONFIG.hash()
    assert rollup.client.config() == CONFIG
    (registered,) = rollup.client.configs()
    assert (registered.config_hash, registered.from_batch) == (CONFIG.hash(), 0)
    assert registered.config == CONFIG


def test_the_configuration_hash_binds_the_deployed_operator_key(rollup):
    functions = rollup.client.contract.functions
    key = OPERATOR_KEY.public_key
    assert rollup.client.operator_key() == key
    assert functions.operatorKeyHash().call() == CONFIG.operator_key_hash()
    expected = RollupConfig(MARKETS, CONFIG.funding_caps, CONFIG.feed_key, operator_key=key)
    assert rollup.client.state().config_hash == expected.hash()
    # configHash = Poseidon(13, h_markets, Poseidon(14, Ox, Oy)), tags as first inputs.
    assert expected.hash() == poseidon(
        [TAG_CONFIG_OPERATOR, CONFIG.markets_hash(), poseidon([TAG_OPERATOR_KEY, *key])]
    )
    # Another operator key, the same markets and feed: another configHash.
    assert replace(CONFIG, operator_key=DEV_OPERATOR_KEY).hash() != expected.hash()
    assert CONFIG.markets_hash() != expected.hash()


def test_market_changes_are_the_admins_explicit_logged_call(rollup, shape):
    changed = RollupConfig(MARKETS, (1_000, 9_999), CONFIG.feed_key, CONFIG.operator_key)
    _rejects("Rollup__NotAdmin", lambda: rollup.client.register_markets(changed, rollup.operator))
    t = rollup.now() - 60
    stale = shape.prove(_inputs(rollup, 5, t))  # made for the configuration in force
    rollup.client.register_markets(changed, rollup.admin)
    assert rollup.client.state().config_hash == changed.hash() != CONFIG.hash()
    assert [c.config for c in rollup.client.configs()] == [CONFIG, changed]
    _rejects(
        "Rollup__InvalidProof", lambda: _submit(rollup, 5, t, stale, rollup.operator)
    )
    rollup.client.submit_batch(5, t, 0, 0, (), shape.prove(_inputs(rollup, 5, t)), rollup.operator)


def test_markets_outside_the_protocol_rules_are_refused(rollup):
    contract = rollup.client.contract.functions
    x, y, markets = CONFIG.as_contract_args()
    bad = [list(markets[0]), list(markets[1])]
    bad[1][2] = bad[1][1]  # mmr == imr
    call = contract.registerMarkets(x, y, [tuple(m) for m in bad])
    from prover.chain.rollup import _send

    error = _rejects(
        "Rollup__BadMarket", lambda: _send(rollup.w3, call, rollup.admin, rollup.client.abi)
    )
    assert error.args_ == (1,)


def test_the_rollup_binds_the_verification_key_its_verifier_embeds(rollup, shape):
    assert rollup.client.verification_key_hash() == key_hash(shape.vk)
    code = bytes(rollup.w3.eth.get_code(rollup.client.verifier_address()))
    assert missing_from_code(shape.vk, code) == []
    other = dict(shape.vk)
    other["vk_delta_2"] = [
        list(reversed(c)) if i < 2 else c for i, c in enumerate(shape.vk["vk_delta_2"])
    ]
    assert missing_from_code(other, code) == []  # same words, another order: the hash differs
    assert key_hash(other) != key_hash(shape.vk)
    other["IC"] = [*shape.vk["IC"][:-1], ["1", "2", "1"]]
    assert missing_from_code(other, code) != []
    assert keccak(b"") != key_hash(shape.vk)
