"""Batch: no wire of an honest witness can change alone, except the reviewed harmless ones.

For honest batches of several shapes (fills and padding fills, a cancel, an unused account
slot, funding, the fee account trading, an order that takes and then makes), every wire
that can take another value without breaking a constraint (tests/circuits/freedom.py,
exact: the allowed changes are solved per constraint) must be on the reviewed allowlist
``freedom.BATCH_ALLOWLIST``, which says why each kind is harmless. Both the ``--O2`` R1CS
(what is proven) and the ``--O0`` one (every signal on its own wire). The property test
(test_batch_property.py) runs the same check on random batches; a mutant whose price rule
is gone shows the check finds an unconstrained wire.
"""

from __future__ import annotations

import pytest

from prover.proving.batch_circuit import circuit_inputs
from tests.circuits import mutants
from tests.circuits.conftest import BATCH, PUBLIC
from tests.circuits.freedom import BATCH_ALLOWLIST, unexplained
from tests.circuits.harness import MUTATION_RUN, Circuit, compile_main
from tests.circuits.scenario import one_order_batch, two_trader_batches
from tests.circuits.test_batch_gaps import _fee_case, _order_case
from tests.circuits.test_batch_tampers import _batch, rest_batch
from tests.circuits.test_taker_once import W, X, Y, _build, _fee_taker_batch, _sign


def _batches():
    scenario = two_trader_batches().batches
    return {
        "two traders, batch 0": scenario[0],
        "two traders, batch 1 (funding)": scenario[1],
        "a rest and a cancel, padding, unused account slot": one_order_batch(),
        "the fee account as taker": _fee_taker_batch(),
        "a taker that then makes": _build(
            [_sign(X), _sign(Y)], [(X.ref, W.ref, 2), (Y.ref, X.ref, 3)]
        ),
        "one taker, two makers (one the fee account)": _fee_case()[1],
        "two takers, each the other's maker": _order_case()[1],
        "two resting asks, no fill": rest_batch(),
        "an empty batch (funding only)": _batch([]),
    }


BATCHES = list(_batches())


def check_freedom(circuit: Circuit, inputs: dict) -> None:
    w = circuit.witness(inputs)
    assert w.ok, w.failing()
    bad = unexplained(circuit.r1cs, w.values, circuit.names_by_wire(), w)
    assert not bad, "free wires no allowlist entry explains:\n" + "\n".join(
        f"  wire {f.wire} {', '.join(f.names[:3])}: change {f.delta}" for f in bad[:20]
    )


@pytest.mark.parametrize("name", BATCHES)
def test_no_unexplained_free_wire_at_o2(batch, name):
    check_freedom(batch, circuit_inputs(_batches()[name].witness.as_circuit_inputs()))


@pytest.mark.parametrize("name", BATCHES)
def test_no_unexplained_free_wire_at_o0(batch0, name):
    check_freedom(batch0, circuit_inputs(_batches()[name].witness.as_circuit_inputs()))


@pytest.mark.slow  # a review of the list (one freedom pass per entry and batch)
@pytest.mark.skipif(MUTATION_RUN, reason="a review of the list, not a rule of the circuit")
def test_allowlist_entries_are_all_needed(batch):
    """Each reviewed entry explains a wire of some batch above (no stale entries)."""
    used = set()
    for name in BATCHES:
        inputs = circuit_inputs(_batches()[name].witness.as_circuit_inputs())
        w = batch.witness(inputs)
        for i, allowed in enumerate(BATCH_ALLOWLIST):
            rest = BATCH_ALLOWLIST[:i] + BATCH_ALLOWLIST[i + 1 :]
            if unexplained(batch.r1cs, w.values, batch.names_by_wire(), w, rest):
                used.add(allowed.pattern)
    assert used == {a.pattern for a in BATCH_ALLOWLIST}


def test_freedom_check_finds_an_unpinned_hint():
    """Without FillCheck's `(taker - maker) * accountGapInverse === used` (the constraint
    that pins the hint and proves the two accounts differ), the hint is free: reported at
    --O0. (--O2 drops a signal no constraint mentions from the R1CS altogether, which is
    why the check runs on both builds.)"""
    cut = mutants.replace(
        "lib/FillCheck.circom",
        "    (takerAccountIndex - makerAccountIndex) * accountGapInverse === used;\n",
    )
    mutant = compile_main(*BATCH, public=PUBLIC, optimize=0, sources=mutants.apply(cut))
    inputs = circuit_inputs(two_trader_batches().batches[0].witness.as_circuit_inputs())
    with pytest.raises(AssertionError, match=r"main\.fill\[0\]\.accountGapInverse"):
        check_freedom(mutant, inputs)
