"""Poseidon parameters for the BN254 scalar field, derived exactly as circomlib's.

circomlib (and circomlibjs, whose ``poseidon_constants.json`` our tests compare
against) took its round constants and MDS matrices from the reference script of the
Poseidon paper (eprint 2019/458, ``generate_parameters_grain.sage`` with field = 1,
S-box = x^5, n = 254 bits, R_F = 8 and the R_P of :data:`N_ROUNDS_P`). We regenerate
them here rather than ship ~1 MB of hex:

* a Grain LFSR (80-bit state, taps 62, 51, 38, 23, 13, 0) is seeded with the
  parameters and clocked 160 times;
* its output is "self-shrunk": bits are read in pairs and the second bit is kept
  when the first is 1;
* each round constant is the next 254 such bits (most significant first),
  re-drawn while >= p;
* the MDS matrix is the Cauchy matrix ``M[i][j] = 1 / (x_i + y_j)`` where the 2t
  values ``x_0..x_{t-1}, y_0..y_{t-1}`` are the next 254-bit draws reduced mod p.
  (The reference script would re-draw a matrix that fails its invariant-subspace
  checks; for every width used here the first draw is circomlib's matrix, which the
  test suite confirms for all 16 widths, so we do not re-run those checks.)

On top of that this module derives the constants of the optimised evaluation used
by :mod:`prover.crypto.poseidon_hash` (constant shifting and sparse partial-round
matrices, the technique of Neptune and of circomlibjs' ``poseidon_opt``). The
derivation is our own and is checked by evaluating both forms on test inputs.

Everything is computed lazily per state width ``t`` on first use and cached
(about 0.02 s for t = 3 and 0.1 s for t = 17 on a 2-core EPYC).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from prover.field import SNARK_FIELD

P = SNARK_FIELD

#: Full rounds (the same for every width).
N_ROUNDS_F = 8
#: Partial rounds for t = 2 .. 17 (index t - 2); circomlib's numbers.
N_ROUNDS_P: tuple[int, ...] = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
#: Widths supported: 2 .. 17 (1 .. 16 inputs plus the capacity element).
MIN_WIDTH = 2
MAX_WIDTH = MIN_WIDTH + len(N_ROUNDS_P) - 1

_FIELD_BITS = 254

Matrix = list[list[int]]


def _pair_table() -> tuple[tuple[int, int], ...]:
    """For each byte of LFSR output (earliest bit = least significant): the bits the
    self-shrinking rule keeps from its 4 pairs, as (value, count), first kept bit
    most significant."""
    table = []
    for byte in range(256):
        value = count = 0
        for k in range(4):
            if (byte >> (2 * k)) & 1:
                value = (value << 1) | ((byte >> (2 * k + 1)) & 1)
                count += 1
        table.append((value, count))
    return tuple(table)


_PAIRS = _pair_table()


class _Grain:
    """The Grain LFSR of the Poseidon reference parameter script.

    The register is clocked 16 bits at a time: the feedback taps reach at most 62 bits
    ahead of the oldest bit, so 18 new bits depend only on the current 80.
    """

    def __init__(self, width: int, rounds_f: int, rounds_p: int) -> None:
        # Seed: field type (2 bits, 1 = prime field), S-box (4 bits, 0 = x^alpha),
        # field size n (12), t (12), R_F (10), R_P (10), then thirty 1s. Bit 0 of
        # self._state is the oldest bit of the register.
        seed = (
            format(1, "02b")
            + format(0, "04b")
            + format(_FIELD_BITS, "012b")
            + format(width, "012b")
            + format(rounds_f, "010b")
            + format(rounds_p, "010b")
            + "1" * 30
        )
        self._state = 0
        for i, bit in enumerate(seed):
            self._state |= int(bit) << i
        self._buffer = 0  # kept bits not yet returned, oldest most significant
        self._buffered = 0
        for _ in range(160 // 16):  # discard the first 160 bits
            self._clock16()

    def _clock16(self) -> int:
        """The next 16 register bits, the earliest in bit 0."""
        s = self._state
        new = ((s >> 62) ^ (s >> 51) ^ (s >> 38) ^ (s >> 23) ^ (s >> 13) ^ s) & 0xFFFF
        self._state = (s >> 16) | (new << 64)
        return new

    def bits(self, count: int) -> int:
        """Return the next ``count`` self-shrunk bits as an integer, first bit most significant.

        Bits are read in pairs; the second bit of a pair is kept when the first is 1.
        """
        while self._buffered < count:
            chunk = self._clock16()
            for byte in (chunk & 0xFF, chunk >> 8):
                value, n = _PAIRS[byte]
                self._buffer = (self._buffer << n) | value
                self._buffered += n
        extra = self._buffered - count
        result = self._buffer >> extra
        self._buffer &= (1 << extra) - 1
        self._buffered = extra
        return result

    def field_element(self) -> int:
        """Draw 254-bit values until one is below p (round constants)."""
        while True:
            value = self.bits(_FIELD_BITS)
            if value < P:
                return value


def check_width(width: int) -> None:
    """Raise ValueError unless ``width`` is a supported Poseidon state width."""
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"Poseidon width must be in [{MIN_WIDTH}, {MAX_WIDTH}], got {width}")


@dataclass(frozen=True)
class PoseidonParams:
    """Reference parameters for one width: round constants (flat, ``rounds * t``) and MDS."""

    width: int
    rounds_f: int
    rounds_p: int
    round_constants: tuple[int, ...]
    mds: tuple[tuple[int, ...], ...]


@cache
def params(width: int) -> PoseidonParams:
    """Generate circomlib's Poseidon constants for state width ``width`` (2..17)."""
    check_width(width)
    rounds_p = N_ROUNDS_P[width - MIN_WIDTH]
    grain = _Grain(width, N_ROUNDS_F, rounds_p)
    constants = tuple(grain.field_element() for _ in range((N_ROUNDS_F + rounds_p) * width))
    draws = [grain.bits(_FIELD_BITS) % P for _ in range(2 * width)]
    if len(set(draws)) != len(draws):  # pragma: no cover - never happens for BN254 widths
        raise ValueError(f"duplicate Cauchy points for width {width}")
    xs, ys = draws[:width], draws[width:]
    mds = tuple(tuple(pow(x + y, -1, P) for y in ys) for x in xs)
    return PoseidonParams(width, N_ROUNDS_F, rounds_p, constants, mds)


# --- small dense linear algebra mod p ------------------------------------------------


def _mat_mul(a: Matrix, b: Matrix) -> Matrix:
    cols = list(zip(*b, strict=True))
    return [[sum(x * y for x, y in zip(row, col, strict=True)) % P for col in cols] for row in a]


def _mat_vec(a: Matrix, v: list[int]) -> list[int]:
    return [sum(x * y for x, y in zip(row, v, strict=True)) % P for row in a]


def _vec_mat(v: list[int], a: Matrix) -> list[int]:
    return [sum(x * y for x, y in zip(v, col, strict=True)) % P for col in zip(*a, strict=True)]


def _mat_inv(a: Matrix) -> Matrix:
    """Gauss-Jordan inverse mod p; raises ValueError if singular."""
    n = len(a)
    aug = [list(row) + [int(i == j) for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if aug[r][col] % P), None)
        if pivot is None:
            raise ValueError("singular matrix")
        aug[col], aug[pivot] = aug[pivot], aug[col]
        inv = pow(aug[col][col], -1, P)
        aug[col] = [x * inv % P for x in aug[col]]
        for r in range(n):
            if r != col and aug[r][col]:
                f = aug[r][col]
                aug[r] = [(x - f * y) % P for x, y in zip(aug[r], aug[col], strict=True)]
    return [row[n:] for row in aug]


def _mat_pow(a: Matrix, e: int) -> Matrix:
    n = len(a)
    result: Matrix = [[int(i == j) for j in range(n)] for i in range(n)]
    base = a
    while e:
        if e & 1:
            result = _mat_mul(result, base)
        base = _mat_mul(base, base)
        e >>= 1
    return result


@dataclass(frozen=True)
class OptimizedParams:
    """Constants of the optimised evaluation (see :mod:`prover.crypto.poseidon_hash`).

    Evaluation order for width t, ``h = rounds_f // 2``, state s:

    1. ``s += first_constants`` (= round constant vector 0);
    2. h full rounds: ``s = M * sbox(s)``, then ``s += full_constants[k]`` for the
       first h - 1 of them (round constants 1 .. h-1);
    3. rounds_p partial rounds r: ``s[0] = (s[0] + partial_constants[r])^5``, then the
       sparse mix ``s[0] = m00*s[0] + <sparse_rows[r], s[1:]>`` and
       ``s[1:] += sparse_cols[r] * old s[0]``;
    4. ``s[1:] = dense_tail * s[1:]``, then ``s += second_half_constants[0]``;
    5. h full rounds, each ``s = M * sbox(s)`` followed by the next entry of
       ``second_half_constants`` except after the last one.
    """

    width: int
    rounds_f: int
    rounds_p: int
    mds: tuple[tuple[int, ...], ...]
    first_constants: tuple[int, ...]
    full_constants: tuple[tuple[int, ...], ...]
    partial_constants: tuple[int, ...]
    sparse_rows: tuple[tuple[int, ...], ...]
    sparse_cols: tuple[tuple[int, ...], ...]
    dense_tail: tuple[tuple[int, ...], ...]
    second_half_constants: tuple[tuple[int, ...], ...]


@cache
def optimized_params(width: int) -> OptimizedParams:
    """Derive the optimised-evaluation constants for ``width`` from :func:`params`."""
    ref = params(width)
    t, half, rp = width, ref.rounds_f // 2, ref.rounds_p
    m: Matrix = [list(row) for row in ref.mds]
    c = [list(ref.round_constants[r * t : (r + 1) * t]) for r in range(ref.rounds_f + rp)]

    # Constant shifting: in a partial round only s[0] passes the S-box, so the other
    # coordinates of that round's constant can be added after the S-box instead, i.e.
    # pushed through the MDS into the next round's constant. Only the first
    # coordinate stays; what is left after the last partial round joins the first
    # constant of the second half.
    carry = [0] * t
    partial_constants = []
    for r in range(half, half + rp):
        v = [(a + b) % P for a, b in zip(c[r], carry, strict=True)]
        partial_constants.append(v[0])
        carry = _mat_vec(m, [0, *v[1:]])
    second_first = [(a + b) % P for a, b in zip(c[half + rp], carry, strict=True)]

    # Sparse factorisation: M = diag(1, M_hat) * [[m00, w], [M_hat^-1 * v0, I]], where
    # w = M[0][1:], v0 = M[1:][0], M_hat = M[1:][1:]. diag(1, X) commutes with a
    # partial round, so it is deferred to the next round: round k (1-based) uses
    # w_k = w * M_hat^(k-1) and v_k = M_hat^-k * v0, and M_hat^rp is applied once
    # after the last partial round.
    m_hat: Matrix = [row[1:] for row in m[1:]]
    m_hat_inv = _mat_inv(m_hat)
    w = m[0][1:]
    v = _mat_vec(m_hat_inv, [row[0] for row in m[1:]])
    rows, cols = [], []
    for _ in range(rp):
        rows.append(tuple(w))
        cols.append(tuple(v))
        w = _vec_mat(w, m_hat)
        v = _mat_vec(m_hat_inv, v)
    dense_tail = _mat_pow(m_hat, rp)

    return OptimizedParams(
        width=t,
        rounds_f=ref.rounds_f,
        rounds_p=rp,
        mds=ref.mds,
        first_constants=tuple(c[0]),
        full_constants=tuple(tuple(c[r]) for r in range(1, half)),
        partial_constants=tuple(partial_constants),
        sparse_rows=tuple(rows),
        sparse_cols=tuple(cols),
        dense_tail=tuple(tuple(row) for row in dense_tail),
        second_half_constants=(
            tuple(second_first),
            *(tuple(c[r]) for r in range(half + rp + 1, ref.rounds_f + rp)),
        ),
    )
