"""WithdrawEntry: one withdrawal message on its account (docs/flows.md, "Withdrawals"):
the nonce it uses, whether it is paid, the debit, the exit.

Honest cases come from the model (``flows.withdrawal_outcome``'s margin rule, the exits'
chain). The tamper tests are the witnesses of an operator who wants another outcome: it
sets the outcome it wants (paid, consumed) and recomputes everything that follows from it
(the debit, the exits' chain), so the rule's own constraint is what refuses it. ``--O0``
build for the rule names.
"""

from __future__ import annotations

import pytest

from prover.exchange.flows import Exit, exits_hash
from prover.exchange.margin import weighed_fill_ok
from prover.field import encode_signed
from tests.circuits.harness import Circuit, compile_main, expect_count
from tests.circuits.scenario import MARKETS

M = 2
MARKS = (1000, 500)
TO = 0xC0FFEE0000000000000000000000000000000001


@pytest.fixture(scope="module")
def entry() -> Circuit:
    return compile_main("lib/WithdrawEntry.circom", f"WithdrawEntry({M})", optimize=0)


@pytest.fixture(scope="module")
def entry2() -> Circuit:
    return compile_main("lib/WithdrawEntry.circom", f"WithdrawEntry({M})")


def _inputs(amount: int, coll: int = 1_000_000, pos=(0, 0), *, enabled=1, sig=1, to=TO):
    return {
        "enabled": enabled,
        "sigOk": sig,
        "amount": amount,
        "recipient": to,
        "coll": encode_signed(coll),
        "pos": [encode_signed(p) for p in pos],
        "mark": list(MARKS),
        "imrBps": [m.imr_bps for m in MARKETS],
        "mmrBps": [m.mmr_bps for m in MARKETS],
        "exitsBefore": 77,
    }


def _legal(amount: int, coll: int, pos) -> bool:
    return weighed_fill_ok(coll, list(pos), coll - amount, list(pos), MARKETS, MARKS)


def test_constraint_count(entry2):
    expect_count(entry2, 1_079)  # documented in the template's /// block


CASES = [
    # amount, collateral, positions, enabled, sigOk, recipient
    (1, 1_000_000, (0, 0), 1, 1, TO),
    (1_000_000, 1_000_000, (0, 0), 1, 1, TO),       # everything, no position
    (1_000_001, 1_000_000, (0, 0), 1, 1, TO),       # one more than everything
    (600_000, 1_000_000, (-5_000, 0), 1, 1, TO),    # a short position's margin
    (900_000, 1_000_000, (-5_000, 0), 1, 1, TO),
    (10, 1_000_000, (0, 0), 1, 0, TO),              # not its key's signature
    (10, 1_000_000, (0, 0), 0, 1, TO),              # not a withdrawal (disabled)
    (0, 1_000_000, (0, 0), 1, 1, TO),               # zero
    (10, 1_000_000, (0, 0), 1, 1, 0),               # to address zero
    ((1 << 56) - 1, (1 << 63) - 1, (0, 0), 1, 1, (1 << 160) - 1),  # widest fields
    (10, -(1 << 62), (40_000, 0), 1, 1, TO),        # negative collateral, long position
]


@pytest.mark.parametrize("case", CASES)
def test_each_case_is_the_models(entry, case):
    amount, coll, pos, enabled, sig, to = case
    w = entry.witness(_inputs(amount, coll, pos, enabled=enabled, sig=sig, to=to))
    assert w.ok, w.failing()
    consumed = enabled * sig
    paid = int(bool(consumed and amount and to and _legal(amount, coll, pos)))
    assert (w["main.consumed"], w["main.paid"]) == (consumed, paid)
    assert w["main.debit"] == paid * amount
    want = exits_hash([Exit(to, amount)], 77) if paid else 77
    assert w["main.exitsAfter"] == want


def _cheat(entry, inputs, paid: int):
    """The honest witness with ``paid`` set to what the operator wants and everything that
    follows from it recomputed (debit, exits' chain)."""
    w = entry.witness(inputs)
    amount, to = inputs["amount"], inputs["recipient"]
    exits = exits_hash([Exit(to, amount)], 77) if paid else 77
    return w.tamper({"paid": paid, "debit": paid * amount, "exitsAfter": exits})


def test_paying_a_withdrawal_that_breaks_the_margin_is_refused(entry):
    inputs = _inputs(900_000, 1_000_000, (-5_000, 0))
    assert not _legal(900_000, 1_000_000, (-5_000, 0))
    _cheat(entry, inputs, 1).assert_rejected_only_by("main.paid")


def test_paying_more_than_everything_is_refused(entry):
    _cheat(entry, _inputs(1_000_001), 1).assert_rejected_only_by("main.paid")


def test_refusing_a_payable_withdrawal_is_refused(entry):
    """The operator would rather keep Alice's collateral: paid = 0 for a withdrawal the
    rule pays."""
    _cheat(entry, _inputs(500_000), 0).assert_rejected_only_by("main.paid")


@pytest.mark.parametrize(("sig", "enabled"), [(0, 1), (1, 0)])
def test_paying_without_the_signature_or_a_withdrawal_is_refused(entry, sig, enabled):
    inputs = _inputs(10, enabled=enabled, sig=sig)
    w = _cheat(entry, inputs, 1)
    w.assert_rejected_only_by("main.paid", "main.p1", "main.p2")


def test_a_debit_other_than_the_amount_is_refused(entry):
    w = entry.witness(_inputs(500_000))
    w.tamper({"debit": 400_000}).assert_rejected_only_by("main.debit")


def test_an_exit_for_another_recipient_is_refused(entry):
    w = entry.witness(_inputs(500_000))
    other = exits_hash([Exit(TO + 1, 500_000)], 77)
    w.tamper({"exitsAfter": other}).assert_rejected_only_by("main.exitsAfter")


def test_keeping_the_nonce_is_refused(entry):
    """A signed withdrawal uses its nonce whether or not it is paid: consumed = 0 for a
    signed one (so that the same ciphertext could be replayed later) is refused."""
    w = entry.witness(_inputs(1_000_001))
    assert w["main.consumed"] == 1 and w["main.paid"] == 0
    w.tamper({"consumed": 0}).assert_rejected_only_by("main.consumed", "main.p1")


def test_the_amount_reaches_the_margin_check(entry):
    """The margin is weighed at C - amount: a witness whose margin check saw C - 1 (so the
    whole collateral could leave from a short position) is refused by that wiring."""
    inputs = _inputs(900_000, 1_000_000, (-5_000, 0))
    w = entry.witness(inputs)
    wrong = entry.witness({**inputs, "amount": 1})
    # Take every signal of the margin check from the amount-1 witness.
    changes = {}
    for name, wire in entry.symbols.items():
        if name.startswith("main.margin.") and wire >= 0:
            changes[name] = wrong.values[wire]
    bad = w.tamper({**changes, "paid": 1, "debit": 900_000,
                    "exitsAfter": exits_hash([Exit(TO, 900_000)], 77)})
    assert not bad.ok
    assert any(v.involves("main.margin.collAfter") for v in bad.violations())
