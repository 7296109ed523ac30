"""Poseidon: constants, fixed vectors, circomlibjs cross-checks, circuit cross-check."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from prover.crypto import MAX_INPUTS, poseidon, poseidon_many, poseidon_permutation
from prover.crypto.poseidon_constants import N_ROUNDS_P, optimized_params, params
from prover.crypto.poseidon_hash import poseidon_permutation_reference
from prover.errors import FieldError
from prover.field import SNARK_FIELD as P
from tests.crypto.jsref import NODE_MODULES, compile_circuit, dec, node, reference, witness_outputs

WIDTHS = range(2, 18)


# --- constants ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def circomlibjs_constants() -> dict[str, list]:
    node()  # fails with "run make setup" when node_modules is missing
    src = NODE_MODULES / "circomlibjs" / "src"
    return {
        "plain": json.loads((src / "poseidon_constants.json").read_text()),
        "opt": json.loads((src / "poseidon_constants_opt.json").read_text()),
    }


def _ints(values: list) -> list:
    return [_ints(v) if isinstance(v, list) else int(v, 16) for v in values]


@pytest.mark.parametrize("width", WIDTHS)
def test_grain_constants_match_circomlibjs(width: int, circomlibjs_constants: dict) -> None:
    """Our Grain LFSR regenerates circomlibjs' round constants and MDS for every width."""
    prm = params(width)
    plain = circomlibjs_constants["plain"]
    assert list(prm.round_constants) == _ints(plain["C"][width - 2])
    assert [list(row) for row in prm.mds] == _ints(plain["M"][width - 2])
    assert prm.rounds_p == N_ROUNDS_P[width - 2] and prm.rounds_f == 8


@pytest.mark.parametrize("width", [3, 5, 17])
def test_optimized_constants_agree_with_circomlibjs_opt(
    width: int, circomlibjs_constants: dict
) -> None:
    """Our sparse-round derivation is an independent factorisation: its partial-round
    constants and sparse rows/columns differ in form from circomlibjs' "opt" file, but
    both start from the same matrix and the same first constants."""
    opt = optimized_params(width)
    theirs = circomlibjs_constants["opt"]
    assert _ints(theirs["M"][width - 2]) == [list(col) for col in zip(*opt.mds, strict=True)]
    assert list(opt.first_constants) == _ints(theirs["C"][width - 2])[:width]


# --- fixed vectors -------------------------------------------------------------------------

# Known vectors (circomlib test/poseidoncircuit.js and circomlibjs tests); also
# confirmed against circomlibjs by test_matches_circomlibjs_all_widths below.
FIXED = [
    ([1, 2], 0, 7853200120776062878684798364095072458815029376092732009249414926327459813530),
    ([3, 4], 0, 14763215145315200506921711489642608356394854266165572616578112107564877678998),
    ([1], 0, 18586133768512220936620570745912940619677854269274689475585506675881198879027),
    (
        [1, 2, 3, 4],
        0,
        18821383157269793795438455681495246036402687001665670618754263018637548127333,
    ),
    (
        [1, 2, 0, 0, 0],
        0,
        1018317224307729531995786483840663576608797660851238720571059489595066344487,
    ),
    (
        [3, 4, 5, 10, 23],
        0,
        13034429309846638789535561449942021891039729847501137143363028890275222221409,
    ),
    (
        list(range(1, 17)),
        0,
        9989051620750914585850546081941653841776809718687451684622678807385399211877,
    ),
    (
        [1, 2, 3, 4],
        7,
        1569211601569591254857354699102545060324851338714426496554851741114291465006,
    ),
]


@pytest.mark.parametrize(("inputs", "init", "expected"), FIXED)
def test_fixed_vectors(inputs: list[int], init: int, expected: int) -> None:
    assert poseidon(inputs, init) == expected
    assert poseidon_many([inputs], init) == [expected]
    assert poseidon_permutation([init, *inputs])[0] == expected


# --- Python-internal properties -----------------------------------------------------------

field = st.integers(min_value=0, max_value=P - 1)


@settings(max_examples=25, deadline=None)
@given(st.lists(field, min_size=1, max_size=MAX_INPUTS), field)
def test_optimized_equals_textbook(inputs: list[int], init: int) -> None:
    state = [init, *inputs]
    assert poseidon_permutation(state) == poseidon_permutation_reference(state)
    assert poseidon(inputs, init) == poseidon_permutation_reference(state)[0]


def test_poseidon_many_mixed_widths() -> None:
    rng = random.Random(7)
    rows = [[rng.randrange(P) for _ in range(rng.randint(1, 16))] for _ in range(40)]
    assert poseidon_many(rows, 3) == [poseidon(r, 3) for r in rows]
    assert poseidon_many([]) == []


@pytest.mark.parametrize(
    "bad",
    [[P], [-1], [1, P + 5], [1.0], ["1"], [True], [None]],
)
def test_rejects_non_canonical_inputs(bad: list) -> None:
    with pytest.raises(FieldError):
        poseidon(bad)
    with pytest.raises(FieldError):
        poseidon_many([[1], bad])


@pytest.mark.parametrize("init", [P, -1, 2**300, "0", None])
def test_rejects_bad_init_state(init: object) -> None:
    with pytest.raises(FieldError):
        poseidon([1], init)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [0, 17, 30])
def test_rejects_bad_arity(n: int) -> None:
    with pytest.raises(FieldError):
        poseidon([1] * n)
    with pytest.raises(FieldError):
        poseidon_permutation([1] * (n + 1) if n else [1])


def test_boundary_values() -> None:
    """p - 1 and 0 are accepted everywhere and agree with the textbook form."""
    for n in (1, 2, 16):
        state = [P - 1] + [P - 1, 0] * 8
        state = state[: n + 1]
        assert poseidon(state[1:], state[0]) == poseidon_permutation_reference(state)[0]


# --- circomlibjs cross-check ------------------------------------------------------------------


def _random_cases(seed: int) -> list[tuple[list[int], int]]:
    rng = random.Random(seed)
    cases: list[tuple[list[int], int]] = []
    for n in range(1, MAX_INPUTS + 1):
        for init in (0, rng.randrange(1, 10), rng.randrange(P)):
            cases.append(([rng.randrange(P) for _ in range(n)], init))
    cases.append(([P - 1] * 6, P - 1))
    cases.append(([0] * 2, 0))
    return cases


def test_matches_circomlibjs_all_widths() -> None:
    """Python and circomlibjs (wasm, reference and opt builds) agree, with init states,
    and the full permutation matches circomlibjs (nOut = t) and zk-kit's poseidonPerm."""
    cases = _random_cases(1)
    rng = random.Random(2)
    states = [[rng.randrange(P) for _ in range(t)] for t in WIDTHS] + [[0, 1, 2, 3]]
    requests = [{"op": "poseidon", "inputs": dec(x), "init": str(i)} for x, i in cases]
    requests += [{"op": "poseidon_perm", "state": dec(s)} for s in states]
    answers = reference(requests)
    ours_single = [poseidon(x, i) for x, i in cases]
    ours_batch = poseidon_many([x for x, _ in cases[:16]], 0)
    for (x, i), ours, js in zip(cases, ours_single, answers, strict=False):
        assert {js["wasm"], js["reference"], js["opt"]} == {str(ours)}, (len(x), i)
    for ours, (_x, i), js in zip(ours_batch, cases, answers, strict=False):
        if i == 0:
            assert str(ours) == js["wasm"]
    for state, js in zip(states, answers[len(cases) :], strict=True):
        mine = dec(poseidon_permutation(state))
        assert mine == js["circomlibjs"]
        if len(state) == 4:
            assert mine == js["zkkit"]


# --- circuit cross-check -------------------------------------------------------------------

POSEIDON_CIRCUIT = """
pragma circom 2.0.0;
include "circomlib/poseidon.circom";

// Test harness: PoseidonEx(n, 1) for several n with a shared initialState, plus Poseidon(2).
template PoseidonHarness() {
    signal input in1[1];
    signal input in2[2];
    signal input in5[5];
    signal input in16[16];
    signal input initialState;
    signal output out[5];

    component h1 = PoseidonEx(1, 1);
    h1.inputs <== in1;
    h1.initialState <== initialState;
    out[0] <== h1.out[0];

    component h2 = PoseidonEx(2, 1);
    h2.inputs <== in2;
    h2.initialState <== initialState;
    out[1] <== h2.out[0];

    component h5 = PoseidonEx(5, 1);
    h5.inputs <== in5;
    h5.initialState <== initialState;
    out[2] <== h5.out[0];

    component h16 = PoseidonEx(16, 1);
    h16.inputs <== in16;
    h16.initialState <== initialState;
    out[3] <== h16.out[0];

    component plain = Poseidon(2);
    plain.inputs <== in2;
    out[4] <== plain.out;
}

component main = PoseidonHarness();
"""


@pytest.mark.circuit
def test_matches_circomlib_circuit() -> None:
    build = compile_circuit("PoseidonHarness", POSEIDON_CIRCUIT)
    rng = random.Random(3)
    cases: list[dict[str, Any]] = []
    for init in (0, 1, 9, P - 1, rng.randrange(P)):
        cases.append(
            {
                "in1": [rng.randrange(P)],
                "in2": [rng.randrange(P), P - 1],
                "in5": [rng.randrange(P) for _ in range(5)],
                "in16": [rng.randrange(P) for _ in range(16)],
                "initialState": init,
            }
        )
    outputs = witness_outputs(
        build, "PoseidonHarness", [{k: dec(v) for k, v in c.items()} for c in cases], 5
    )
    for case, out in zip(cases, outputs, strict=True):
        init = case["initialState"]
        assert out == [
            poseidon(case["in1"], init),
            poseidon(case["in2"], init),
            poseidon(case["in5"], init),
            poseidon(case["in16"], init),
            poseidon(case["in2"]),
        ]
