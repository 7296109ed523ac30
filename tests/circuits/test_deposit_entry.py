"""DepositEntry: one slot of the deposit queue, credited, opening its account, or refunded
(docs/flows.md, "Deposits").

Honest cases come from the model (``flows.deposit_outcome``): every case of the rule, with
the outputs (keys, collateral, both chains) compared with the model's. Tamper tests are the
witnesses of an operator who wants another outcome: the hints (the account slot, the key's
decomposition) are the only inputs it chooses, so each tries the hint its lie needs, and
the rule's own constraint refuses it. ``--O0`` build for the rule names.
"""

from __future__ import annotations

import pytest

from prover.crypto import babyjub
from prover.crypto.eddsa import PrivateKey
from prover.exchange.flows import (
    TORSION,
    Deposit,
    DepositOutcome,
    Exit,
    deposit_outcome,
    exits_hash,
    key_decomposition,
)
from prover.field import SNARK_FIELD, encode_signed
from tests.circuits.harness import Circuit, compile_main, expect_count

K = 5
ALICE = PrivateKey.from_seed("deposit-alice").public_key
BOB = PrivateKey.from_seed("deposit-bob").public_key
DEPOSITOR = 0x1234567890ABCDEF1234567890ABCDEF12345678
#: Account slots: fee account, insurance fund, Alice's account 2, empty leaves 3 and 5.
INDEX = [0, 1, 2, 3, 5]
KEYS = [(0, 0), (0, 0), ALICE, (0, 0), (0, 0)]
COLL = [10, 20, 1_000, 0, 0]


@pytest.fixture(scope="module")
def entry() -> Circuit:
    return compile_main("lib/DepositEntry.circom", f"DepositEntry({K})", optimize=0)


@pytest.fixture(scope="module")
def entry2() -> Circuit:
    return compile_main("lib/DepositEntry.circom", f"DepositEntry({K})")


def _inputs(dep: Deposit | None, slot: int, *, coll=COLL, hint=None, chain=7, exits=11) -> dict:
    if dep is None:
        key, amount, index, depositor = (0, 1), 0, 0, 0
    else:
        key, amount, index, depositor = dep.key, dep.amount, dep.account, dep.depositor
    q, t = key_decomposition(key) if hint is None else hint
    return {
        "used": int(dep is not None),
        "chainBefore": chain,
        "exitsBefore": exits,
        "index": index,
        "keyX": key[0],
        "keyY": key[1],
        "amount": amount,
        "depositor": depositor,
        "slot": slot,
        "keyQx": q[0],
        "keyQy": q[1],
        "keyTorsion": t,
        "accUsed": [1] * K,
        "accIndex": INDEX,
        "keyXIn": [k[0] for k in KEYS],
        "keyYIn": [k[1] for k in KEYS],
        "collIn": [encode_signed(c) for c in coll],
    }


def _dep(account: int, key, amount: int = 500) -> Deposit:
    return Deposit(0, account, key, amount, DEPOSITOR)


def _check_against_model(w, dep: Deposit, slot: int, coll=COLL) -> DepositOutcome:
    exists = KEYS[slot][0] != 0 or dep.account in (0, 1)
    outcome = deposit_outcome(dep, KEYS[slot], coll[slot], exists)
    ok = outcome is not DepositOutcome.REFUNDED
    assert w["main.ok"] == int(ok)
    assert w["main.chainAfter"] == dep.chain_step(7)
    refund = exits_hash([Exit(dep.depositor, dep.amount)], 11)
    assert w["main.exitsAfter"] == (11 if ok else refund)
    for k in range(K):
        want_coll = coll[k] + (dep.amount if ok and k == slot else 0)
        assert w[f"main.collOut[{k}]"] == want_coll % SNARK_FIELD
        want_key = dep.key if outcome is DepositOutcome.CREATED and k == slot else KEYS[k]
        assert (w[f"main.keyXOut[{k}]"], w[f"main.keyYOut[{k}]"]) == tuple(want_key)
    return outcome


def test_constraint_count(entry2):
    expect_count(entry2, 944)  # documented in the template's /// block


CASES = {
    # name: (deposit, slot, outcome)
    "new key opens an empty leaf": (_dep(3, BOB), 3, DepositOutcome.CREATED),
    "same key credits": (_dep(2, ALICE), 2, DepositOutcome.CREDITED),
    "another key's account": (_dep(2, BOB), 2, DepositOutcome.REFUNDED),
    "key outside the subgroup": (_dep(3, babyjub.add(BOB, TORSION[1])), 3, DepositOutcome.REFUNDED),
    "key of order 2": (_dep(5, TORSION[4]), 4, DepositOutcome.REFUNDED),
    "identity": (_dep(5, (0, 1)), 4, DepositOutcome.REFUNDED),
    "the fee account": (_dep(0, BOB), 0, DepositOutcome.REFUNDED),
    "the insurance fund": (_dep(1, BOB), 1, DepositOutcome.REFUNDED),
    "largest amount": (_dep(2, ALICE, (1 << 56) - 1), 2, DepositOutcome.CREDITED),
}


@pytest.mark.parametrize("name", list(CASES))
def test_each_case_is_the_models(entry, name):
    dep, slot, want = CASES[name]
    w = entry.witness(_inputs(dep, slot))
    assert w.ok, w.failing()
    assert _check_against_model(w, dep, slot) is want


@pytest.mark.parametrize(("start", "want"), [
    ((1 << 62) - 501, DepositOutcome.CREDITED),
    ((1 << 62) - 500, DepositOutcome.REFUNDED),
    ((1 << 63) - 1, DepositOutcome.REFUNDED),
    (-((1 << 63) - 1), DepositOutcome.CREDITED),
])
def test_collateral_range_edge(entry, start, want):
    coll = list(COLL)
    coll[2] = start
    dep = _dep(2, ALICE)
    w = entry.witness(_inputs(dep, 2, coll=coll))
    assert w.ok, w.failing()
    assert _check_against_model(w, dep, 2, coll) is want


def test_unused_slot_moves_nothing(entry):
    w = entry.witness(_inputs(None, 0))
    assert w.ok, w.failing()
    assert (w["main.chainAfter"], w["main.exitsAfter"], w["main.ok"]) == (7, 11, 0)
    for k in range(K):
        assert w[f"main.collOut[{k}]"] == COLL[k]


# --- tamper tests: the hints an operator would choose for another outcome ---------------

def test_refusing_a_valid_key_needs_a_torsion_part_it_does_not_have(entry):
    """To refund Bob's valid deposit the operator claims his key has a torsion part: the
    decomposition (8Q + T_i = key) refuses every Q it could pick with i != 0."""
    dep = _dep(3, BOB)
    q, _ = key_decomposition(BOB)
    for i in range(1, 8):
        hint_q = babyjub.add(q, babyjub.neg(babyjub.mul(TORSION[i], pow(8, -1, babyjub.SUBORDER))))
        w = entry.witness(_inputs(dep, 3, hint=(hint_q, i)))
        w.assert_rejected_only_by("main.sum")


def test_accepting_a_bad_key_needs_a_decomposition_it_does_not_have(entry):
    """To open an account with a key outside the subgroup (which circomlib's EdDSA would
    verify signatures for), the operator claims i = 0: no Q has 8Q = that key."""
    bad = babyjub.add(BOB, TORSION[3])
    dep = _dep(3, bad)
    for hint_q in (babyjub.mul(bad, pow(8, -1, babyjub.SUBORDER)), key_decomposition(bad)[0]):
        w = entry.witness(_inputs(dep, 3, hint=(hint_q, 0)))
        w.assert_rejected_only_by("main.sum")


def test_an_off_curve_hint_is_refused(entry):
    dep = _dep(3, BOB)
    _, i = key_decomposition(BOB)
    w = entry.witness(_inputs(dep, 3, hint=((1, 1), i)))
    assert not w.ok
    assert any(v.startswith("main.qOnCurve") for v in w.failing_signals())


@pytest.mark.parametrize("slot", [2, 4])
def test_crediting_another_slot_is_refused(entry, slot):
    """The deposit names account 3; the operator points it at slot 2 (Alice) or slot 4
    (account 5): the selected slot's index must be the deposit's."""
    w = entry.witness(_inputs(_dep(3, BOB), slot))
    w.assert_rejected_only_by("main.selIndex")


def test_an_unused_account_slot_is_refused(entry):
    inputs = _inputs(_dep(3, BOB), 3)
    inputs["accUsed"] = [1, 1, 1, 0, 0]
    w = entry.witness(inputs)
    w.assert_rejected_only_by("main.selUsed")


@pytest.mark.parametrize("used", [2, SNARK_FIELD - 1])
def test_used_is_a_bit(entry, used):
    """``used = 2`` would credit a deposit twice (``ok = 2``) if nothing else objected."""
    inputs = _inputs(_dep(2, ALICE), 2)
    inputs["used"] = used
    w = entry.witness(inputs)
    assert not w.ok
    assert "main.used" in w.failing_signals()


def _alias(dep: Deposit, amount: int, depositor: int, index: int) -> dict:
    """The inputs of ``dep`` with its packed record split otherwise: the same chain value,
    so the Rollup's chain would not object."""
    inputs = _inputs(dep, INDEX.index(index))
    inputs.update({"amount": amount % SNARK_FIELD, "depositor": depositor % SNARK_FIELD,
                   "index": index})
    packed = lambda a, d, i: (19 << 248) + (i << 216) + (a << 160) + d  # noqa: E731
    assert packed(amount, depositor, index) % SNARK_FIELD == dep.packed()
    return inputs


def test_a_larger_amount_from_an_aliased_depositor_is_refused(entry):
    """amount + 1 and depositor - 2^160 pack to the same record: only the depositor's range
    check objects."""
    dep = _dep(3, BOB)
    w = entry.witness(_alias(dep, dep.amount + 1, dep.depositor - (1 << 160), 3))
    w.assert_rejected_only_by("main.depositorBits")


def test_crediting_the_account_below_with_2_56_more_is_refused(entry):
    """amount + 2^56 at index - 1 packs to the same record (Alice's account 2 takes Bob's
    deposit to 3, 2^56 larger): only the amount's range check objects."""
    dep = _dep(3, ALICE)
    w = entry.witness(_alias(dep, dep.amount + (1 << 56), dep.depositor, 2))
    w.assert_rejected_only_by("main.amountBits")


def test_a_smaller_amount_from_a_depositor_2_160_larger_is_refused(entry):
    """amount - 1 and depositor + 2^160 (161 bits) pack to the same record: the depositor's
    check is exactly 160 bits."""
    dep = _dep(3, BOB)
    w = entry.witness(_alias(dep, dep.amount - 1, dep.depositor + (1 << 160), 3))
    w.assert_rejected_only_by("main.depositorBits")


@pytest.mark.parametrize(("name", "bits"), [("depositorBits", 160), ("amountBits", 56)])
def test_each_range_check_is_on_its_own_field(entry, name, bits):
    """The aliased witness with the range check's input and bits replaced by a small
    value's (what a prover would pick if the check were not wired to the field): only the
    wiring objects, so the check is the field's."""
    if name == "depositorBits":
        dep = _dep(3, BOB)
        w = entry.witness(_alias(dep, dep.amount - 1, dep.depositor + (1 << 160), 3))
    else:
        dep = _dep(3, ALICE)
        w = entry.witness(_alias(dep, dep.amount + (1 << 56), dep.depositor, 2))
    w.assert_rejected_only_by(f"main.{name}")
    fake = {f"{name}.in": 5, **{f"{name}.out[{i}]": (5 >> i) & 1 for i in range(bits)}}
    bad = w.tamper(fake)
    assert not bad.ok
    assert any(v.involves(f"main.{name}.in") for v in bad.violations())


def test_the_key_with_y_negated_is_not_the_key(entry):
    """(x, -y) = -(key + T_4) has torsion part T_4: decomposing it instead of Bob's valid
    key would refund him (and, the other way round, accept a key with an order-2 part).
    Only the y equality refuses it."""
    dep = _dep(3, BOB)
    twin = (BOB[0], (-BOB[1]) % SNARK_FIELD)
    assert key_decomposition(twin)[1] == 4
    w = entry.witness(_inputs(dep, 3, hint=key_decomposition(twin)))
    w.assert_rejected_only_by("main.sum")
    assert w.failing_signals() & {"main.sum.yout", "main.keyY"}


def test_an_off_curve_key_is_not_decomposed_as_a_neighbour(entry):
    """The Rollup refuses keys off the curve; the circuit does not rely on it: a key (x + 1,
    y) with the valid key's decomposition is refused by the x equality alone (y is the
    valid key's, so only x differs)."""
    bad = ((BOB[0] + 1) % SNARK_FIELD, BOB[1])
    assert not babyjub.on_curve(bad)
    dep = _dep(3, BOB)
    inputs = _inputs(dep, 3)
    inputs["keyX"] = bad[0]
    w = entry.witness(inputs)
    w.assert_rejected_only_by("main.sum")
    assert w.failing_signals() & {"main.sum.xout", "main.keyX"}
