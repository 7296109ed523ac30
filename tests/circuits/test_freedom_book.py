"""BatchBook: no wire of an honest witness can change alone, except the reviewed harmless
ones (tests/circuits/freedom.py, ``BATCHBOOK_ALLOWLIST``; the method is test_freedom.py's):
batches of several shapes (an empty one, orders that rest, IOC orders with nothing to meet,
takers sweeping two makers), the ``--O2`` R1CS (what is proven) and the ``--O0`` one.
"""

from __future__ import annotations

import pytest

from tests.circuits import test_batch_book_rules as rules
from tests.circuits import test_batch_book_tampers as tampers
from tests.circuits.freedom import BATCH_ALLOWLIST, BATCHBOOK_ALLOWLIST, unexplained
from tests.circuits.harness import MUTATION_RUN, Circuit, compile_main


@pytest.fixture(scope="module")
def book():
    return compile_main("main/BatchBook.circom", tampers.INSTANCE)


@pytest.fixture(scope="module")
def book0():
    return compile_main("main/BatchBook.circom", tampers.INSTANCE, optimize=0)


def _sweep():
    state, books = tampers._setup([(1000, 1), (1000, 1), (1010, 5)])
    return tampers._cheat(
        state, books, [tampers._buy(tampers.A, 2, 10), tampers._buy(tampers.B_ACC, 3, 11)]
    )


BATCHES = {
    "an empty batch": lambda: rules._batch()[1],
    "two orders rest": lambda: rules._rest_two()[1],
    "two IOC orders, nothing to meet": lambda: rules._two_iocs()[1],
    "two takers sweep the fee account's asks": _sweep,
}


def _check(circuit: Circuit, name: str) -> None:
    w = circuit.witness(BATCHES[name]().inputs)
    assert w.ok, w.failing()
    bad = unexplained(circuit.r1cs, w.values, circuit.names_by_wire(), w, BATCHBOOK_ALLOWLIST)
    assert not bad, "free wires no allowlist entry explains:\n" + "\n".join(
        f"  wire {f.wire} {', '.join(f.names[:3])}: change {f.delta}" for f in bad[:20]
    )


@pytest.mark.parametrize("name", BATCHES)
def test_no_unexplained_free_wire_at_o2(book, name):
    _check(book, name)


@pytest.mark.parametrize("name", BATCHES)
def test_no_unexplained_free_wire_at_o0(book0, name):
    _check(book0, name)


@pytest.mark.slow  # a review of the list (one freedom pass per entry and batch)
@pytest.mark.skipif(MUTATION_RUN, reason="a review of the list, not a rule of the circuit")
def test_the_matchings_entries_are_needed(book, book0):
    """Each of the entries BatchBook adds explains a wire of some batch above."""
    added = BATCHBOOK_ALLOWLIST[len(BATCH_ALLOWLIST):]
    used = set()
    for circuit in (book, book0):
        for name in BATCHES:
            w = circuit.witness(BATCHES[name]().inputs)
            for allowed in added:
                rest = tuple(a for a in BATCHBOOK_ALLOWLIST if a is not allowed)
                if unexplained(circuit.r1cs, w.values, circuit.names_by_wire(), w, rest):
                    used.add(allowed.pattern)
    assert used == {a.pattern for a in added}
