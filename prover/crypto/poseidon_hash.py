"""Poseidon hash over the BN254 scalar field, bit-exact with circomlib.

``poseidon(inputs, init_state)`` equals circomlib's ``PoseidonEx(n, 1)`` with
``initialState = init_state`` (``Poseidon(n)`` when it is 0) and circomlibjs'
``poseidon(inputs, initState)``: the state is ``[init_state, *inputs]`` (width
``t = n + 1``), the permutation runs ``R_F = 8`` full and ``R_P`` partial rounds of
``x -> x^5``, and the output is state element 0.

Speed: the permutation for each width is compiled once, on first use, into
straight-line Python (constants inlined as literals) that evaluates the *optimised*
form of the rounds derived in :mod:`prover.crypto.poseidon_constants`: partial
rounds add one constant and multiply by a sparse matrix (``2t - 1`` products
instead of ``t^2``), and the non-S-boxed coordinates are reduced mod p only once
after the partial rounds. :func:`poseidon_permutation_reference` is the textbook
form, kept for tests.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

from prover.crypto.poseidon_constants import (
    MAX_WIDTH,
    MIN_WIDTH,
    optimized_params,
    params,
)
from prover.errors import FieldError
from prover.field import SNARK_FIELD, FieldElement

P = SNARK_FIELD

#: Largest number of inputs of one hash (circomlib's limit).
MAX_INPUTS = MAX_WIDTH - 1

_Permutation = Callable[..., tuple[int, ...]]
_Hasher = Callable[..., int]


def _check_element(value: object, what: str) -> int:
    # Faster than prover.field.to_field on the hot path, same rule: ints in [0, p) only.
    if type(value) is not int and (isinstance(value, bool) or not isinstance(value, int)):
        raise FieldError(f"{what}: expected an integer field element, got {type(value).__name__}")
    if not 0 <= value < P:
        raise FieldError(f"{what}: {value} is outside the BN254 scalar field [0, p)")
    return value


def _check_width(n_inputs: int) -> int:
    if not 1 <= n_inputs <= MAX_INPUTS:
        raise FieldError(f"Poseidon takes 1 to {MAX_INPUTS} inputs, got {n_inputs}")
    return n_inputs + 1


# --- code generation ------------------------------------------------------------------


def _linear(coeffs: Sequence[int], names: Sequence[str]) -> str:
    return " + ".join(f"{c} * {n}" for c, n in zip(coeffs, names, strict=True))


def _sbox(name: str) -> list[str]:
    return [f"y = {name} * {name} % P", "y = y * y % P", f"{name} = y * {name} % P"]


def _source(width: int, full_output: bool) -> str:
    """Straight-line source of the optimised permutation for ``width``."""
    opt = optimized_params(width)
    t, half = width, opt.rounds_f // 2
    s = [f"s{i}" for i in range(t)]
    mds = opt.mds
    body: list[str] = []
    emit = body.append

    emit(
        ", ".join(s)
        + " = "
        + ", ".join(f"{n} + {c}" for n, c in zip(s, opt.first_constants, strict=True))
    )

    def full_round(constants: Sequence[int] | None) -> None:
        for name in s:
            body.extend(_sbox(name))
        rhs = []
        for i in range(t):
            expr = f"({_linear(mds[i], s)}) % P"
            rhs.append(f"{expr} + {constants[i]}" if constants is not None else expr)
        emit(", ".join(s) + " = " + ", ".join(rhs))

    for k in range(half):
        full_round(opt.full_constants[k] if k < half - 1 else None)

    m00 = mds[0][0]
    for r in range(opt.rounds_p):
        emit(f"x = s0 + {opt.partial_constants[r]}")
        body.extend(_sbox("x"))
        emit(f"s0 = ({m00} * x + {_linear(opt.sparse_rows[r], s[1:])}) % P")
        for j, v in enumerate(opt.sparse_cols[r]):
            emit(f"s{j + 1} += {v} * x")  # reduced by the dense tail below

    rhs = [f"s0 + {opt.second_half_constants[0][0]}"]
    for i in range(1, t):
        rhs.append(
            f"({_linear(opt.dense_tail[i - 1], s[1:])}) % P + {opt.second_half_constants[0][i]}"
        )
    emit(", ".join(s) + " = " + ", ".join(rhs))

    for k in range(half - 1):
        full_round(opt.second_half_constants[k + 1])
    for name in s:
        body.extend(_sbox(name))
    if full_output:
        emit("return (" + ", ".join(f"({_linear(mds[i], s)}) % P" for i in range(t)) + ",)")
    else:
        emit(f"return ({_linear(mds[0], s)}) % P")

    name = f"_poseidon_t{t}_{'perm' if full_output else 'hash'}"
    return f"def {name}({', '.join(s)}):\n" + "\n".join(f"    {line}" for line in body) + "\n"


@cache
def _compiled(width: int, full_output: bool) -> Callable[..., object]:
    source = _source(width, full_output)
    namespace: dict[str, object] = {"P": P}
    exec(compile(source, f"<poseidon t={width}>", "exec"), namespace)  # noqa: S102 - generated from our constants
    name = f"_poseidon_t{width}_{'perm' if full_output else 'hash'}"
    fn = namespace[name]
    assert callable(fn)
    return fn


def _hasher(width: int) -> _Hasher:
    return _compiled(width, False)  # type: ignore[return-value]


def _permuter(width: int) -> _Permutation:
    return _compiled(width, True)  # type: ignore[return-value]


def permutation_function(width: int) -> Callable[..., tuple[int, ...]]:
    """The compiled permutation for ``width``, taking the state as positional args.

    No input checks: for callers (the cipher) that have validated the state already.
    Every argument must be a canonical field element, or the result is meaningless.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise FieldError(f"Poseidon state width must be in [{MIN_WIDTH}, {MAX_WIDTH}], got {width}")
    return _permuter(width)


# --- public API -----------------------------------------------------------------------


def poseidon(inputs: Sequence[int], init_state: int = 0) -> FieldElement:
    """Poseidon hash of 1..16 field elements with capacity element ``init_state``.

    Equals circomlib ``PoseidonEx(len(inputs), 1)`` with ``initialState = init_state``
    (``Poseidon(n)`` for 0). Raises :class:`FieldError` if any value is not a canonical
    field element or the number of inputs is out of range; nothing is reduced.
    """
    width = _check_width(len(inputs))
    _check_element(init_state, "init_state")
    for i, x in enumerate(inputs):
        _check_element(x, f"input {i}")
    return FieldElement(_hasher(width)(init_state, *inputs))


def poseidon_many(rows: Sequence[Sequence[int]], init_state: int = 0) -> list[FieldElement]:
    """Hash many rows (each 1..16 elements, widths may differ) with one ``init_state``.

    Same result as ``[poseidon(row, init_state) for row in rows]``; it only saves the
    per-call dispatch. (A numpy/galois vectorised variant was measured and loses to
    this path; see docs/crypto.md.)
    """
    _check_element(init_state, "init_state")
    out: list[FieldElement] = []
    append = out.append
    last_width = 0
    fn: _Hasher | None = None
    for r, row in enumerate(rows):
        width = _check_width(len(row))
        if width != last_width:
            fn, last_width = _hasher(width), width
        for i, x in enumerate(row):
            if type(x) is not int or not 0 <= x < P:
                _check_element(x, f"row {r} input {i}")
        assert fn is not None
        append(FieldElement(fn(init_state, *row)))
    return out


def poseidon_permutation(state: Sequence[int]) -> list[FieldElement]:
    """The Poseidon permutation on a full state of width 2..17 (circomlibjs ``nOut = t``).

    ``poseidon_permutation([c, *inputs])[0] == poseidon(inputs, c)``. The Poseidon
    cipher (:mod:`prover.crypto.cipher`) uses it at width 4.
    """
    width = len(state)
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise FieldError(f"Poseidon state width must be in [{MIN_WIDTH}, {MAX_WIDTH}], got {width}")
    for i, x in enumerate(state):
        _check_element(x, f"state {i}")
    return [FieldElement(v) for v in _permuter(width)(*state)]


def poseidon_permutation_reference(state: Sequence[int]) -> list[int]:
    """Textbook Poseidon (add round constants, S-box, MDS per round); slow, for tests."""
    width = len(state)
    prm = params(width)
    t = width
    s = [_check_element(x, f"state {i}") for i, x in enumerate(state)]
    half = prm.rounds_f // 2
    for r in range(prm.rounds_f + prm.rounds_p):
        s = [(x + prm.round_constants[r * t + i]) % P for i, x in enumerate(s)]
        if r < half or r >= half + prm.rounds_p:
            s = [pow(x, 5, P) for x in s]
        else:
            s[0] = pow(s[0], 5, P)
        s = [sum(m * x for m, x in zip(row, s, strict=True)) % P for row in prm.mds]
    return s
