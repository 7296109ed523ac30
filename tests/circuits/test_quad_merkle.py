"""QuadMerkleRoot / QuadMerkleUpdate (and QuadDigit, QuadChildren) against prover.merkle.

That an inner node cannot be opened as a leaf rests on the fixed depth and on the tags
(a leaf and a node hash the same four values to different results): test_leaves.py,
``test_four_input_hashes_are_separated``.
"""

from __future__ import annotations

import random

import pytest

from prover.field import SNARK_FIELD
from prover.merkle import QuadTree
from tests.circuits import mutants
from tests.circuits.harness import compile_main, expect_count

LEVELS = 2
P = SNARK_FIELD


@pytest.fixture(scope="module")
def root_circuit():
    return compile_main("lib/QuadMerkleRoot.circom", f"QuadMerkleRoot({LEVELS})")


@pytest.fixture(scope="module")
def update_circuit():
    return compile_main("lib/QuadMerkleUpdate.circom", f"QuadMerkleUpdate({LEVELS})")


def _tree(seed: int = 1) -> QuadTree:
    rng = random.Random(seed)
    tree = QuadTree(2 * LEVELS, empty_leaf=12345)
    for i in rng.sample(range(4**LEVELS), 9):
        tree.set(i, rng.randrange(P))
    return tree


def test_constraint_counts(root_circuit, update_circuit):
    # Documented in the /// blocks: 306 per level (QuadMerkleRoot), 609 (QuadMerkleUpdate).
    expect_count(root_circuit, 306 * LEVELS)
    expect_count(update_circuit, 609 * LEVELS)


def test_digit_and_children_counts():
    digit = compile_main("lib/QuadDigit.circom", "QuadDigit()")
    kids = compile_main("lib/QuadChildren.circom", "QuadChildren()")
    expect_count(digit, 4)
    expect_count(kids, 6)


@pytest.mark.parametrize("index", range(4**LEVELS))
def test_root_matches_model_every_index(root_circuit, index):
    tree = _tree()
    proof = tree.prove(index)
    w = root_circuit.witness(proof.as_circuit_inputs())
    assert w.ok
    assert w["root"] == tree.root


@pytest.mark.parametrize("leaf", [0, 1, 2**64 - 1, P - 1])
def test_boundary_leaf_values(root_circuit, leaf):
    tree = _tree(2)
    tree.set(7, leaf)
    proof = tree.prove(7)
    w = root_circuit.witness(proof.as_circuit_inputs())
    assert w.ok and w["root"] == tree.root


def test_update_matches_model(update_circuit):
    tree = _tree(3)
    for index in (0, 5, 10, 15):
        proof = tree.prove(index)
        old_root = tree.root
        new_leaf = random.Random(index).randrange(P)
        tree.set(index, new_leaf)
        inputs = {
            "oldLeaf": proof.leaf,
            "newLeaf": new_leaf,
            "pathIndex": proof.path_digits(),
            "siblings": [list(s) for s in proof.siblings],
        }
        w = update_circuit.witness(inputs)
        assert w.ok
        assert w["oldRoot"] == old_root
        assert w["newRoot"] == tree.root


def test_digit_four_is_rejected(root_circuit):
    """Digit 4 at level 0 with digit-3 children would alias index 3 + ...; the R1CS rejects it."""
    tree = _tree()
    inputs = tree.prove(3).as_circuit_inputs()
    inputs["pathIndex"][0] = "4"
    assert not root_circuit.accepts(inputs)
    # Also as a direct tamper of an honest witness: any digit outside {0..3}.
    honest = root_circuit.witness(tree.prove(3).as_circuit_inputs())
    for bad in (4, 5, P - 1, 2**32):
        assert not honest.tamper({"pathIndex[0]": bad}).ok


@pytest.fixture(scope="module")
def cheat_digit():
    """QuadDigit whose hint takes b1 = (digit - b0) / 2 in the field (a cheating prover's
    choice for a digit above 3), every other signal computed from it."""
    file = "lib/QuadDigit.circom"
    cut = mutants.replace(file, "    b1 <-- (digit >> 1) & 1;\n", "    b1 <-- (digit - b0) / 2;\n")
    return compile_main(file, "QuadDigit()", optimize=0, sources=mutants.apply(cut))


@pytest.mark.parametrize("digit", [4, 5, 7, P - 1])
def test_digit_above_three_is_rejected_by_the_bit_check(cheat_digit, digit):
    """digit = b0 + 2 * b1 with b1 = 2, 3 or (p - 2) / 2: the recomposition holds, the
    selector is not one-hot (for 4: [-1, 0, 2, 0]); only b1's booleanity refuses it."""
    w = cheat_digit.witness({"digit": digit})
    assert w["b1"] not in (0, 1)
    w.assert_rejected_only_by("b1")


def test_digit_bits_cannot_be_faked(root_circuit):
    """The digit-selection wires that survive --O2 are pinned: changing any breaks the R1CS."""
    honest = root_circuit.witness(_tree().prove(6).as_circuit_inputs())  # digits [2, 1]
    assert honest.ok
    wires = [n for n, w in root_circuit.symbols.items() if n.startswith("main.digit[0].") and w > 0]
    assert wires
    for name in wires:
        for delta in (1, -1, 2):
            assert not honest.tamper({name: honest[name] + delta}).ok, name


@pytest.mark.parametrize("signal", ["leaf", "siblings[1][2]", "pathIndex[1]", "root"])
def test_changed_signal_is_rejected(root_circuit, signal):
    honest = root_circuit.witness(_tree().prove(9).as_circuit_inputs())
    assert honest.ok
    assert not honest.tamper({signal: honest[signal] + 1}).ok


def test_update_path_digit_tamper(update_circuit):
    tree = _tree(4)
    proof = tree.prove(2)
    inputs = {
        "oldLeaf": proof.leaf,
        "newLeaf": 77,
        "pathIndex": proof.path_digits(),
        "siblings": [list(s) for s in proof.siblings],
    }
    honest = update_circuit.witness(inputs)
    assert honest.ok
    assert not honest.tamper({"pathIndex[0]": 4}).ok
    assert not honest.tamper({"newRoot": honest["newRoot"] + 1}).ok
    assert not honest.tamper({"oldRoot": honest["oldRoot"] + 1}).ok
