"""The mutation tool (tests/circuits/mutants.py, scripts/mutate.py), and a few representative
mutants that the tests must kill, run here in the default suite.

The full run (every mutant of circuits/lib and Batch against the tests, hours) is
``make mutate``; its score and survivors are in docs/circuits.md. Here: the tool finds the
sites it should, every ``<--`` names what pins it, and four mutants of different kinds
(a dropped rule, an unpinned range input, a perturbed hint, a widened range) are each
killed by the witness of the test written for that rule.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.circuits import mutants
from tests.circuits.cheat import repair
from tests.circuits.conftest import BATCH, PUBLIC
from tests.circuits.harness import Circuit, compile_main
from tests.circuits.test_batch_tampers import _take, pre_state


def _mutant_batch(*mutations: mutants.Mutation) -> Circuit:
    return compile_main(*BATCH, public=PUBLIC, optimize=0, sources=mutants.apply(*mutations))


def _site(file: str, operator: str, start: str) -> mutants.Mutant:
    """The mutant ``operator`` of the statement of ``file`` that begins with ``start``."""
    text = (mutants.CIRCUITS / file).read_text()
    return next(
        m
        for m in mutants.sites(file, text)
        if m.operator == operator and m.statement.startswith(start)
    )


def test_sites_of_a_template():
    file = "lib/FeeFloor.circom"
    sites = mutants.sites(file, (mutants.CIRCUITS / file).read_text())
    assert Counter(m.operator for m in sites) == {"unpin": 5, "drop": 2, "hint": 2, "widen": 2}
    drop = next(m for m in sites if m.operator == "drop")
    assert drop.statement == "product === fee * FEE_SCALE() + rem;" and drop.mutation.new == ""


def test_statements_skip_comments_and_loop_headers():
    text = "for (var i = 0; i < 3; i++) { // a; b === c;\n  x[i] <== y; /* z === 1; */ a === b; }"
    spans = [" ".join(text[s:e].split()) for s, e in mutants.statements(text)]
    assert spans == ["x[i] <== y;", "a === b;"]


def test_every_hint_says_what_pins_it():
    assert mutants.check_hints() == []


def test_mutant_ids_are_unique():
    ids = [m.id for m in mutants.all_sites()]
    assert len(ids) == len(set(ids))


# --- representative mutants, each killed by its rule's test witness -----------------------


def test_dropped_price_rule_accepts_the_wrong_price_witness(batch0):
    """drop: FillCheck's fill-at-maker-price rule. test_fill_at_the_takers_price's witness
    is then accepted."""
    x = _take(10)
    x["fillPrice"][0] = "1010"
    cut = mutants.replace("lib/FillCheck.circom", "    used * (price - makerPrice) === 0;\n")
    mutant = _mutant_batch(cut)
    assert not batch0.witness(repair(batch0, pre_state(), x)).ok
    assert mutant.witness(repair(mutant, pre_state(), x)).ok


@pytest.mark.slow  # one more mutant batch to compile; the drop case above runs by default
def test_unpinned_taker_room_accepts_the_taker_overfill(batch0):
    """unpin: MessageEntry's `filledRoom.in <== validOrder * (size - filled)` as a hint + 1:
    the witness of test_taker_overfill (size - filled = -1) then passes the range check."""
    x = _take(10)
    x["fillQty"][0] = x["entryFilled"][0] = "11"
    mutant = _mutant_batch(
        _site("lib/MessageEntry.circom", "unpin", "filledRoom.in <==").mutation
    )
    assert not batch0.witness(repair(batch0, pre_state(), x)).ok
    assert mutant.witness(repair(mutant, pre_state(), x)).ok


@pytest.mark.slow  # one more mutant batch to compile
def test_perturbed_hint_breaks_an_honest_witness():
    """hint: SignedRange's `abs <-- ...` + 1 is pinned: the honest batch is rejected."""
    mutant = _mutant_batch(_site("lib/SignedRange.circom", "hint", "abs <--").mutation)
    assert not mutant.witness(_take(10)).ok


@pytest.mark.parametrize("bits", [40])
def test_widened_range_accepts_the_boundary(bits):
    """widen: SignedRange(40) accepting 41 bits lets |v| = 2^40 through, the boundary
    test_ranges.py checks."""
    file = "lib/SignedRange.circom"
    site = _site(file, "widen", "component n2b")
    real = compile_main(file, f"SignedRange({bits})")
    mutant = compile_main(file, f"SignedRange({bits})", sources=mutants.apply(site.mutation))
    edge = {"in": 2**bits}
    assert not real.witness(edge).ok
    assert mutant.witness(edge).ok
