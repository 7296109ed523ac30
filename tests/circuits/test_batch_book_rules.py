"""BatchBook's own batch-level rules (the phases it has beside the matching: parameters,
the operator's key, account slots, the inbox chain, the public bindings), each broken by
the witness a cheating operator would build: a batch of the model, the cheat, then every
account opening and root recomputed (tests/circuits/bookcheat.py), so that only the
rule's constraints reject it (an ``--O0`` build, the one test_batch_book_tampers.py uses).

These are the rules Batch's tamper tests (test_batch_tampers.py, test_batch_inbox.py)
break in the fill-list batch; the matching's are test_batch_book_tampers.py's.
"""

from __future__ import annotations

import copy
from dataclasses import replace

import pytest

from prover.crypto import babyjub
from prover.exchange.batch import BatchBuilder
from prover.exchange.bookbatch import book_batch
from prover.exchange.booktree import Books
from prover.exchange.constants import FEE_ACCOUNT, SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import Position, SignedOrder
from prover.exchange.venue import DEV_OPERATOR
from prover.field import SNARK_FIELD
from tests.circuits.bookcheat import repair
from tests.circuits.harness import compile_main
from tests.circuits.scenario import B_ACC, CONFIG, KEY_A, KEY_B, MARKETS, A, order, sign
from tests.circuits.test_batch_book_tampers import BB, CL, INSTANCE, F, _buy, _cheat, _setup
from tests.venue import dev_state, prices


@pytest.fixture(scope="module")
def circuit0():
    return compile_main("main/BatchBook.circom", INSTANCE, optimize=0)


def _batch(entries=(), funding=(0, 0)):
    """A and B funded; ``entries`` (signed orders) in message slots 0, 1; the feed's
    funding indices ``funding``."""
    state = dev_state(MARKETS, 4, 2)
    state.create_account(A, KEY_A.public_key, 10_000_000)
    state.create_account(B_ACC, KEY_B.public_key, 10_000_000)
    builder = BatchBuilder(state, CONFIG, prices(0, 1000, (1000, 500), funding))
    for entry in entries:
        builder.add_entry(entry)
    return state, book_batch(builder, Books(2, bits=BB, cap_levels=CL), F)


def _rests():
    """A's bid rests (account slots: fee account, insurance fund, A, padding)."""
    return _batch([sign(order(A, SIDE_BUY, 990, 10, 1, tif=TIF_GTC))])


def _rest_two():
    """A's bid and B's ask rest (slots: fee account, insurance fund, A, B)."""
    return _batch([
        sign(order(A, SIDE_BUY, 990, 10, 1, tif=TIF_GTC)),
        sign(order(B_ACC, SIDE_SELL, 1010, 10, 2, tif=TIF_GTC)),
    ])


def test_the_repair_changes_nothing_on_honest_batches(circuit0):
    for pre, result in (_batch(), _rests(), _rest_two()):
        assert repair(circuit0, pre, result.inputs) == result.inputs
        assert circuit0.witness(result.inputs).ok


@pytest.mark.parametrize("name", ["oldRoot", "newRoot", "batchInfo", "configHash", "inboxAfter"])
def test_a_public_input_other_than_the_batchs(circuit0, name):
    """The prover claims another value for one public input (everything else the
    batch's): only that input's binding rejects it."""
    _, result = _rests()
    x = copy.deepcopy(result.inputs)
    x[name] = str((int(x[name]) + 1) % SNARK_FIELD)
    circuit0.witness(x).assert_rejected_only_by(name)


def test_an_operator_secret_that_is_not_the_registered_keys(circuit0):
    """A batch of no messages proven with another secret than the registered key's."""
    pre, result = _batch()
    x = copy.deepcopy(result.inputs)
    x["operatorSecret"] = str(int(x["operatorSecret"]) + 1)
    x = repair(circuit0, pre, x)  # nothing depends on the secret but its own check
    circuit0.witness(x).assert_rejected_only_by("operatorPub")


def test_the_negated_operator_secret(circuit0):
    """The secret -s mod l, whose key -O = (-Ox, Oy) has the registered key's y (with it
    every message would decrypt to garbage: the inbox censored). Only the x equality
    refuses it; the y one cannot, since within the prime-order subgroup x fixes y."""
    negated = -DEV_OPERATOR.scalar % babyjub.SUBORDER
    ox, oy = DEV_OPERATOR.public_key
    assert babyjub.mul_base8(negated) == (babyjub.P - ox, oy)
    pre, result = _batch()
    x = copy.deepcopy(result.inputs)
    x["operatorSecret"] = str(negated)
    circuit0.witness(repair(circuit0, pre, x)).assert_rejected_only_by("operatorKeyX")


@pytest.mark.parametrize(("name", "k", "value"), [
    pytest.param("accUsed", 0, "0", id="slot 0 unused: the fee account dropped"),
    pytest.param("accUsed", 1, "0", id="slot 1 unused: the insurance fund dropped"),
    # Slot 0 (where fees are credited) opens the empty account 5 instead.
    pytest.param("accIndex", 0, "5", id="slot 0 not the fee account"),
    # Slot 1 (which receives the funding paid, and whose leaf holds the last funding
    # index) opens B's account instead.
    pytest.param("accIndex", 1, str(B_ACC), id="slot 1 not the insurance fund"),
])
def test_slots_0_and_1_are_the_fee_account_and_the_insurance_fund(circuit0, name, k, value):
    """On an empty batch (no used slot follows, so the prefix rule stays out of it), slot
    ``k``'s ``name`` changed: only its own rule refuses it."""
    pre, result = _batch()
    x = copy.deepcopy(result.inputs)
    x[name][k] = value
    circuit0.witness(repair(circuit0, pre, x)).assert_rejected_only_by(f"{name}[{k}]")


def test_an_account_slot_used_twice_would_brick_its_leaf(circuit0):
    """A's account opened in slot 2 with used = 2 (named by no message, so no other rule
    reads the bit): the write is before + 2 * (after - before), a leaf no key opens (the
    funding index moved, so after is not before)."""
    pre, result = _batch(funding=(1, 0))
    x = copy.deepcopy(result.inputs)
    account = pre.account(A)
    x["accUsed"][2], x["accIndex"][2] = "2", str(A)
    x["accPubX"][2], x["accPubY"][2] = (str(c) for c in account.pubkey)
    x["accNonce"][2], x["accCollateral"][2] = str(account.nonce), str(account.collateral)
    x["accPosSize"][2] = [str(p.size) for p in account.positions]
    x["accPosFunding"][2] = [str(p.funding_index) for p in account.positions]
    x["accOrdersRoot"][2] = str(pre.orders_root(A))
    w = circuit0.witness(repair(circuit0, pre, x))
    assert w["written[2]"] not in (w["leafBefore[2].leaf"], w["leafAfter[2].leaf"])
    w.assert_rejected_only_by("accUsed[2]")


def test_a_used_account_slot_after_an_unused_one(circuit0):
    """A's account in slot 3 behind an unused slot 2 (its message names slot 3)."""
    pre, result = _rests()
    x = copy.deepcopy(result.inputs)
    for name in ("accUsed", "accIndex", "accPubX", "accPubY", "accNonce", "accCollateral",
                 "accPosSize", "accPosFunding", "accOrdersRoot"):
        x[name][2], x[name][3] = x[name][3], x[name][2]
    x["entryAccountSlot"][0] = "3"
    circuit0.witness(repair(circuit0, pre, x)).assert_rejected_only_by(
        "accUsed[2]", "accUsed[3]"
    )


def test_a_used_message_slot_after_a_padding_one(circuit0):
    """A's IOC order (nothing to meet, so it only writes its slot) moved to message
    slot 1 behind a padding slot 0, every per-message input with it: the same inbox
    chain, but the order's sequence number is not its place."""
    pre, result = _batch([sign(order(A, SIDE_BUY, 990, 10, 1, tif=TIF_IOC))])
    x = copy.deepcopy(result.inputs)
    E = len(x["msgUsed"])  # noqa: N806
    for name, values in x.items():
        if name.startswith(("msg", "entry", "eStep", "eMaker", "eRest", "eIns")) and (
            isinstance(values, list) and len(values) == E
        ):
            values[0], values[1] = values[1], values[0]
    x = repair(circuit0, pre, x)
    assert x["inboxAfter"] == result.inputs["inboxAfter"]
    circuit0.witness(x).assert_rejected_only_by("msgUsed")


def _two_iocs():
    """A's and B's IOC orders on an empty book: each only writes its own slot (slots:
    fee account, insurance fund, A, B)."""
    return _batch([
        sign(order(A, SIDE_BUY, 990, 10, 1, tif=TIF_IOC)),
        sign(order(B_ACC, SIDE_SELL, 1010, 10, 2, tif=TIF_IOC)),
    ])


def test_a_message_named_into_another_accounts_slot(circuit0):
    """Censorship: A's valid order read against B's account slot, where A's signature
    does not verify under B's key, so the order would be a no-op."""
    pre, result = _two_iocs()
    x = copy.deepcopy(result.inputs)
    assert x["entryAccountSlot"][:2] == ["2", "3"]
    x["entryAccountSlot"][0] = "3"
    w = circuit0.witness(repair(circuit0, pre, x))
    assert w["entry[0].valid"] == 0
    w.assert_rejected_only_by("named[0]")


def test_a_message_named_into_an_unused_slot(circuit0):
    """A's valid order read against an unused account slot that holds A's own account:
    the order's slot write goes to a slot the batch never writes back, so it is lost."""
    pre, result = _batch([sign(order(A, SIDE_BUY, 990, 10, 1, tif=TIF_IOC))])
    x = copy.deepcopy(result.inputs)
    assert x["accIndex"][2] == str(A) and x["accUsed"][3] == "0"
    x["accIndex"][3] = str(A)
    x["entryAccountSlot"][0] = "3"
    w = circuit0.witness(repair(circuit0, pre, x))
    assert w["entry[0].valid"] == 1
    w.assert_rejected_only_by("named[0]", "entryUsedSlot[0]")


def test_the_takers_slot_records_less_than_it_filled(circuit0):
    """A buys 2 from the fee account's asks, but its slot records 0 filled (so the order
    could be filled again in a later batch)."""
    pre, books = _setup([(1000, 1), (1000, 1)])
    result = _cheat(pre, books, [_buy(A, 2, 10)])
    assert result.filled[0] == 2
    x = copy.deepcopy(result.inputs)
    x["entryFilled"][0] = "0"
    circuit0.witness(repair(circuit0, pre, x)).assert_rejected_only_by("entryFilled[0]")


def test_a_forged_leaf_against_the_true_accounts_root(circuit0):
    """A's leaf opened with a million more collateral, against the true account root:
    the first write whose path holds that leaf fails to open it (the same forged leaf
    with the root it implies is an oldRoot other than the Rollup's, above)."""
    pre, result = _rests()
    x = copy.deepcopy(result.inputs)
    x["accCollateral"][2] = str(int(x["accCollateral"][2]) + 10**6)
    x = repair(circuit0, pre, x)
    assert x["oldRoot"] != result.inputs["oldRoot"]
    x["accountsRoot"], x["oldRoot"] = result.inputs["accountsRoot"], result.inputs["oldRoot"]
    circuit0.witness(x).assert_rejected_only_by(*(f"write[{k}].oldRoot" for k in range(4)))


def test_a_collateral_at_its_bound_is_accepted(circuit0):
    """The fee account at exactly 2^63 - 1 through funding and to the end: both of the
    batch's collateral range checks (after funding, and final) read the value itself, so
    either read off by one would refuse this honest batch."""
    state = dev_state(MARKETS, 4, 2)
    state.deposit(FEE_ACCOUNT, (1 << 63) - 1)
    builder = BatchBuilder(state, CONFIG, prices(0, 1000, (1000, 500), (0, 0)))
    result = book_batch(builder, Books(2, bits=BB, cap_levels=CL), F)
    w = circuit0.witness(result.inputs)
    assert w["coll[0][0]"] == (1 << 63) - 1
    assert w.ok, w.failing()


def test_an_unknown_accounts_empty_leaf_stays_empty(circuit0):
    """A message naming account 5, which has no leaf: the empty leaf is opened in a used
    account slot (the message's slot must hold that index) and written back unchanged,
    though the batch moves the funding indices every written account takes."""
    unknown = 5
    pre = dev_state(MARKETS, 4, 2)
    builder = BatchBuilder(pre, CONFIG, prices(0, 1000, (1000, 500), (1, 0)))
    signed = SignedOrder.sign(order(unknown, SIDE_BUY, 990, 10, 1, tif=TIF_GTC), KEY_A)
    builder.add_message(builder.encrypt_entry(signed))  # as the inbox holds it
    x = book_batch(builder, Books(2, bits=BB, cap_levels=CL), F).inputs
    k = [int(i) for i in x["accIndex"]].index(unknown)
    assert x["accUsed"][k] == "1" and x["entryAccountSlot"][0] == str(k)
    w = circuit0.witness(x)
    assert w.ok, w.failing()
    assert w[f"written[{k}]"] == w[f"leafBefore[{k}].leaf"] == pre.empty_leaf
    assert w[f"leafAfter[{k}].leaf"] != w[f"leafBefore[{k}].leaf"]  # a write would show


def test_funding_out_of_range_then_back(circuit0):
    """A (forged pre-state: C = 2^63 - 11, long 1 lot with F = 100 where F* = 0) receives
    100 of funding, 2^63 + 89 > 2^63 - 1; its buy of 2 lots then pays it back under, so
    only the range check after funding can see it (a final leaf in range)."""
    pre, books = _setup([(1000, 1), (1000, 1)])
    result = _cheat(pre, books, [_buy(A, 2, 10)])
    assert result.filled[0] == 2
    big = 2**63 - 11
    forged = pre.copy()
    forged.set_account(
        A, replace(pre.account(A), collateral=big, positions=(Position(1, 100), Position(0, 0)))
    )
    x = copy.deepcopy(result.inputs)
    k = int(x["entryAccountSlot"][0])
    x["accCollateral"][k] = str(big)
    x["accPosSize"][k] = ["1", "0"]
    x["accPosFunding"][k] = ["100", "0"]
    w = circuit0.witness(repair(circuit0, forged, x))
    assert w[f"collFunded[{k}]"] == 2**63 + 89
    assert w[f"coll[2][{k}]"] < 2**63
    w.assert_rejected_only_by(f"collFundedRange[{k}]")
