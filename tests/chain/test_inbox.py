"""The Rollup's inbox on anvil: ``sendMessage``, checkpoints, ``sealInbox``, ``inboxChainAt``
(verifier_contracts/Rollup.sol, docs/inbox.md).

Messages are real: signed orders and cancels encrypted to the operator's key with
``inbox.encrypt_entry``. The contract's chain is compared with the model's
(``inbox.chain_of``), its Poseidon libraries with zkmatch's Poseidon, and every refusal
names its ``Rollup__Reason`` and leaves the inbox as it was.
"""

from __future__ import annotations

import random

import pytest

from prover.chain.contracts import ROLLUP_LIBRARIES, compile_rollup_contracts, link
from prover.chain.rollup import RollupRevert, _send, deploy, deploy_mock_usdc
from prover.crypto import babyjub, poseidon
from prover.crypto.eddsa import PrivateKey
from prover.exchange import inbox
from prover.exchange.domain import Cancel, Order, SignedCancel, SignedOrder
from prover.field import SNARK_FIELD
from tests.chain.conftest import (
    ACCOUNT_BITS,
    CONFIG,
    DEPOSITS_PER_BATCH,
    GENESIS_ROOT,
    MESSAGES_PER_BATCH,
    OPERATOR_KEY,
)

P = SNARK_FIELD
TRADER = PrivateKey.from_seed("zkmatch-test-inbox-trader")
#: Gas of one sendMessage transaction that stores no checkpoint (21,000 base and calldata
#: included): the inbox issue's budget was 150,000; the forced-inclusion deadline each
#: message stores (a new slot, 22,100: docs/flows.md) brings it to 160,000.
MESSAGE_GAS_BUDGET = 160_000
#: Storage slot of (batchNumber, lastTimestamp, mode, inboxCount, inboxConsumed), low bits
#: first, and where each field starts and how wide it is.
PACKED_SLOT = 1
FIELDS = {"batchNumber": (0, 40), "lastTimestamp": (40, 64), "mode": (104, 8),
          "inboxCount": (112, 64), "inboxConsumed": (176, 64)}


def packed_field(word: int, name: str) -> int:
    offset, bits = FIELDS[name]
    return (word >> offset) & ((1 << bits) - 1)


def entry(i: int) -> SignedOrder | SignedCancel:
    """The i-th signed entry of a small run: orders, and a cancel every fourth."""
    if i % 4 == 3:
        return SignedCancel.sign(Cancel(2, 100 + i - 1), TRADER)
    order = Order(2, i % 2, i % 2, 1000 + 5 * i, 7 + i, 100 + i, 10_000, 1000, 0)
    return SignedOrder.sign(order, TRADER)


def message(i: int) -> inbox.Message:
    return inbox.encrypt_entry(entry(i), OPERATOR_KEY.public_key, eph_scalar=1_000 + i)


def send(rollup, i: int):
    return rollup.client.send_message(message(i), sender=rollup.stranger)


def raw_send(rollup, eph_x: int, eph_y: int, ciphertext: list[int]):
    """``sendMessage`` with any words (a :class:`inbox.Message` holds only field elements)."""
    call = rollup.client.contract.functions.sendMessage(eph_x, eph_y, ciphertext)
    return _send(rollup.w3, call, rollup.stranger, rollup.client.abi)


def inbox_state(rollup) -> tuple[int, int, int]:
    c = rollup.client
    return c.inbox_count(), c.inbox_head(), len(c.messages())


def library(rollup, name: str):
    address = {"PoseidonT4": rollup.deployment.poseidon_t4,
               "PoseidonT5": rollup.deployment.poseidon_t5}[name]
    return rollup.w3.eth.contract(address=address, abi=compile_rollup_contracts()[name].abi)


def test_the_linked_libraries_hash_as_circomlib_poseidon(rollup):
    rng = random.Random(10)
    for name, n in (("PoseidonT4", 3), ("PoseidonT5", 4)):
        hash_ = library(rollup, name).functions.hash
        cases = [[0] * n, [P - 1] * n, list(range(1, n + 1))]
        cases += [[rng.randrange(P) for _ in range(n)] for _ in range(4)]
        for xs in cases:
            assert hash_(xs).call() == poseidon(xs), (name, xs)
        # They reduce their inputs mod p: x and x + p collide, so sendMessage refuses
        # every value outside the field.
        assert hash_([1 + P] + [0] * (n - 1)).call() == poseidon([1] + [0] * (n - 1))
    # The Rollup's code calls these addresses: linking wrote them in.
    code = bytes(rollup.w3.eth.get_code(rollup.deployment.rollup)).hex()
    assert rollup.deployment.poseidon_t4[2:].lower() in code
    assert rollup.deployment.poseidon_t5[2:].lower() in code


def test_linking_refuses_a_missing_library():
    rollup = compile_rollup_contracts()["Rollup"]
    with pytest.raises(Exception, match="PoseidonT5"):
        link(rollup, {ROLLUP_LIBRARIES["PoseidonT4"]: "0x" + "11" * 20})
    linked = link(rollup, {ROLLUP_LIBRARIES[n]: "0x" + "11" * 20 for n in ROLLUP_LIBRARIES})
    assert "__$" not in linked.bytecode and len(linked.bytecode) == len(rollup.bytecode)


def test_the_contract_chains_messages_as_the_model_does(rollup):
    client = rollup.client
    assert client.operator_key() == OPERATOR_KEY.public_key
    assert client.messages_per_batch() == MESSAGES_PER_BATCH
    assert (client.inbox_count(), client.inbox_head(), client.chain_at(0)) == (0, 0, 0)
    sent = []
    for i in range(7):
        receipt = send(rollup, i)
        sent.append(message(i))
        assert client.inbox_count() == i + 1
        assert client.inbox_head() == inbox.chain_of(sent)
        (log,) = client.contract.events.MessageSent().process_receipt(receipt)
        assert (log["args"]["index"], log["args"]["chain"]) == (i, inbox.chain_of(sent))
    events = client.messages()
    assert [e.index for e in events] == list(range(7))
    assert [e.message for e in events] == sent  # events decode back to equal messages
    assert [e.chain for e in events] == [inbox.chain_of(sent[: i + 1]) for i in range(7)]
    assert all(e.tx_hash.startswith("0x") and e.block_number > 0 for e in events)
    assert [e.index for e in client.messages(from_index=4)] == [4, 5, 6]
    # What the chain holds is what the operator opens: the signed entries themselves.
    for i, event in enumerate(events):
        assert inbox.decode(event.message, OPERATOR_KEY.scalar).entry == entry(i)


def test_a_checkpoint_every_messages_per_batch_messages(rollup):
    sent = [message(i) for i in range(2 * MESSAGES_PER_BATCH + 1)]
    for m in sent:
        rollup.client.send_message(m, sender=rollup.stranger)
    checkpoints = rollup.client.contract.functions.checkpoints
    count = len(sent)
    for n in range(count + 2):
        expected = inbox.chain_of(sent[:n]) if n <= count else None
        if n not in (0, count) and n % MESSAGES_PER_BATCH:
            expected = None  # neither a multiple of E nor the head: not stored
        assert rollup.client.chain_at(n) == expected, n
        stored = checkpoints(n).call()
        assert stored == (expected if n and n % MESSAGES_PER_BATCH == 0 else 0), n


def test_seal_inbox_cuts_at_the_current_count(rollup):
    client = rollup.client
    receipt = client.seal_inbox(sender=rollup.stranger)  # empty: only the event
    (log,) = client.contract.events.InboxSealed().process_receipt(receipt)
    assert (log["args"]["count"], log["args"]["chain"]) == (0, 0)
    assert inbox_state(rollup) == (0, 0, 0)
    sent = [message(i) for i in range(MESSAGES_PER_BATCH + 1)]
    for m in sent:
        client.send_message(m, sender=rollup.stranger)
    cut = len(sent)  # one past a checkpoint: known only while it is the head
    receipt = client.seal_inbox(sender=rollup.stranger)
    (log,) = client.contract.events.InboxSealed().process_receipt(receipt)
    assert (log["args"]["count"], log["args"]["chain"]) == (cut, inbox.chain_of(sent))
    # Messages keep arriving; the cut stays known, the count after it is not.
    for i in range(MESSAGES_PER_BATCH - 1):
        m = message(100 + i)
        client.send_message(m, sender=rollup.admin)
        sent.append(m)
    assert client.inbox_count() == 2 * MESSAGES_PER_BATCH  # a checkpoint again
    assert client.chain_at(cut) == inbox.chain_of(sent[:cut])
    assert client.chain_at(cut + 1) is None
    assert client.chain_at(cut - 2) is None
    assert client.chain_at(len(sent)) == client.inbox_head() == inbox.chain_of(sent)
    client.seal_inbox(sender=rollup.stranger)  # at a checkpoint: the same value again
    assert client.chain_at(len(sent)) == inbox.chain_of(sent)


def _valid_words(i: int = 0) -> list[int]:
    m = message(i)
    return [m.eph[0], m.eph[1], *m.ciphertext]


@pytest.mark.parametrize("position", range(6))
def test_a_value_outside_the_field_is_refused(rollup, position):
    send(rollup, 0)
    before = inbox_state(rollup)
    words = _valid_words(1)
    words[position] += P  # the same value mod p: the hash alone would not see it
    with pytest.raises(RollupRevert) as caught:
        raw_send(rollup, words[0], words[1], words[2:])
    assert caught.value.reason == "Rollup__NotInField"
    assert caught.value.args_ == (words[position],)
    assert inbox_state(rollup) == before


@pytest.mark.parametrize("value", [0, 1, P - 1])
def test_ciphertext_elements_at_the_field_bounds_are_accepted(rollup, value):
    m = message(0)
    raw_send(rollup, m.eph[0], m.eph[1], [value] * 4)
    bounds = inbox.Message(m.eph, (value,) * 4)
    assert rollup.client.inbox_head() == inbox.chain_of([bounds])


def test_an_ephemeral_x_above_the_bound_is_refused(rollup):
    m = message(0)
    large = (P - m.eph[0], m.eph[1])  # -E: on the curve, x the large root
    assert babyjub.on_curve(large) and large[0] >= inbox.SMALL_X_BOUND
    with pytest.raises(inbox.MessageError):
        inbox.Message(large, m.ciphertext).check()  # the model refuses it too
    with pytest.raises(RollupRevert) as caught:
        raw_send(rollup, large[0], large[1], list(m.ciphertext))
    assert caught.value.reason == "Rollup__EphemeralKeyXTooLarge"
    assert inbox_state(rollup) == (0, 0, 0)


@pytest.mark.parametrize("where", ["y+1", "zero x, y 2"])
def test_an_ephemeral_key_off_the_curve_is_refused(rollup, where):
    m = message(0)
    point = (m.eph[0], m.eph[1] + 1) if where == "y+1" else (0, 2)
    assert not babyjub.on_curve(point) and point[0] < inbox.SMALL_X_BOUND
    with pytest.raises(inbox.MessageError):
        inbox.Message(point, m.ciphertext).check()
    with pytest.raises(RollupRevert) as caught:
        raw_send(rollup, point[0], point[1], list(m.ciphertext))
    assert caught.value.reason == "Rollup__NotOnCurve"
    assert caught.value.args_ == point
    assert inbox_state(rollup) == (0, 0, 0)


def _set_inbox_count(rollup, count: int) -> None:
    w3, address = rollup.w3, rollup.deployment.rollup
    word = int.from_bytes(bytes(w3.eth.get_storage_at(address, PACKED_SLOT)), "big")
    offset, bits = FIELDS["inboxCount"]
    word = (word & ~(((1 << bits) - 1) << offset)) | (count << offset)
    w3.provider.make_request("anvil_setStorageAt", [address, hex(PACKED_SLOT),
                                                    "0x" + word.to_bytes(32, "big").hex()])


def test_the_count_shares_the_never_zero_slot_of_mode(rollup):
    send(rollup, 0)
    word = int.from_bytes(bytes(rollup.w3.eth.get_storage_at(rollup.deployment.rollup,
                                                             PACKED_SLOT)), "big")
    assert packed_field(word, "inboxCount") == 1
    assert packed_field(word, "mode") == 1  # MODE_ACTIVE
    assert packed_field(word, "lastTimestamp") == rollup.genesis_timestamp
    assert packed_field(word, "batchNumber") == packed_field(word, "inboxConsumed") == 0
    assert word >> 240 == 0


def test_the_inbox_stops_before_its_count_reaches_2_64_minus_1(rollup):
    _set_inbox_count(rollup, 2**64 - 3)
    send(rollup, 0)
    assert rollup.client.inbox_count() == 2**64 - 2
    (event,) = rollup.client.messages()
    assert event.index == 2**64 - 3
    with pytest.raises(RollupRevert) as caught:
        send(rollup, 1)
    assert caught.value.reason == "Rollup__InboxFull"
    assert rollup.client.inbox_count() == 2**64 - 2


def test_gas_of_send_message(rollup):
    gas = [send(rollup, i)["gasUsed"] for i in range(2 * MESSAGES_PER_BATCH)]
    first, typical, checkpoint = gas[0], max(gas[1], gas[3], gas[4]), gas[MESSAGES_PER_BATCH - 1]
    print(f"sendMessage gas: first {first}, typical {typical}, checkpoint {checkpoint}, "
          f"all {gas}")
    assert typical <= MESSAGE_GAS_BUDGET, gas
    # The first message also turns inboxHead from zero to non-zero (17,100 more).
    assert first <= typical + 17_100 + 500, gas
    # A checkpoint is a new storage slot (22,100 more).
    assert checkpoint <= typical + 22_100 + 500, gas


@pytest.mark.parametrize(
    ("key", "per_batch", "reason"),
    [
        ("off the curve", 3, "Rollup__NotOnCurve"),
        ("x = p", 3, "Rollup__NotInField"),
        ("good", 0, "Rollup__ZeroMessagesPerBatch"),
    ],
)
def test_the_constructor_refuses_a_bad_operator_key_or_capacity(
    chain, shape, key, per_batch, reason
):
    x, y = OPERATOR_KEY.public_key
    operator_key = {"off the curve": (x, y + 1), "x = p": (x + P, y), "good": (x, y)}[key]
    admin, operator = chain.eth.accounts[:2]
    with pytest.raises(RollupRevert) as caught:
        deploy(chain, shape.verifier, shape.vk, CONFIG, genesis_root=GENESIS_ROOT,
               genesis_timestamp=1, operator=operator, admin=admin,
               operator_key=operator_key, messages_per_batch=per_batch,
               token=deploy_mock_usdc(chain, sender=admin),
               deposits_per_batch=DEPOSITS_PER_BATCH, account_bits=ACCOUNT_BITS)
    assert caught.value.reason == reason


def test_deploy_makes_the_operator_inbox_key_once(tmp_path):
    from prover.crypto.eddsa import load_key_file
    from prover.operator.data import DataDir
    from prover.operator.deploy import operator_babyjub_key

    data = DataDir(tmp_path / "data")
    made = operator_babyjub_key(data)
    assert data.operator_babyjub_key.stat().st_mode & 0o777 == 0o600
    assert load_key_file(data.operator_babyjub_key).public_key == made.public_key
    assert operator_babyjub_key(data).public_key == made.public_key  # reused, not replaced
