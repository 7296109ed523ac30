"""The optimal ate pairing of BN254 on plain integers: a product of Miller loops and one
final exponentiation, for the Groth16 check in :mod:`prover.verifier.groth16`.

py_ecc's own ``pairing`` runs its Miller loop on points lifted to Fp12 and its final
exponentiation as one 2,790-bit power (about 0.3 s each on the development machine). Here:

* Fp12 is py_ecc's representation, ``Fp[w] / (w^12 - 18 w^6 + 82)`` (so ``w^6 = 9 + u``),
  held as 12 integers; multiplication is schoolbook with the same reduction. Results are
  interchangeable with py_ecc's ``FQ12`` (``to_fq12``/``from_fq12``), and the tests compare
  this pairing with py_ecc's on random points.
* G2 points stay on the twist over Fp2 (affine, ``a + b u`` as ``(a, b)``); a line through
  twisted points ``T, Q`` (slope ``lam``, in Fp2) evaluated at ``P = (xP, yP)`` of G1 is
  ``yP - lam xP w + (lam xT - yT) w^3``, five non-zero coefficients, multiplied in sparsely.
  The lines of a fixed G2 point (a key's ``gamma``, ``delta``) are computed once
  (:func:`g2_lines`) and reused for every proof.
* Several pairs share one Miller loop: one squaring per step for all of them.
* Factors in a proper subfield (vertical lines, scalars of Fp2) are dropped: the final
  exponentiation ``(p^12 - 1) / r`` sends them to 1.
* The final exponentiation is the easy part ``(p^6 - 1)(p^2 + 1)`` (Frobenius maps and one
  inversion) and the hard part ``(p^4 - p^2 + 1) / r`` written in base ``p``, as a four-base
  simultaneous power of ``f, f^p, f^p^2, f^p^3``.

The constants are BN254's (py_ecc's ``field_modulus``, ``curve_order``, its loop count
``6x + 2`` and its signed-binary encoding); nothing here validates points: callers pass
points already checked to be on the curve and in the subgroup.
"""

from __future__ import annotations

from collections.abc import Sequence

from py_ecc.fields import optimized_bn128_FQ12 as FQ12
from py_ecc.optimized_bn128 import curve_order, field_modulus
from py_ecc.optimized_bn128.optimized_pairing import pseudo_binary_encoding

P = field_modulus
R = curve_order

Fp2 = tuple[int, int]
Fp12 = list[int]
#: One line of a Miller loop, for a G2 point alone: ``(lam, lam * xT - yT)`` in Fp2.
Line = tuple[Fp2, Fp2]

# ---- Fp2 = Fp[u] / (u^2 + 1) ----


def _f2_mul(a: Fp2, b: Fp2) -> Fp2:
    t0 = a[0] * b[0]
    t1 = a[1] * b[1]
    return ((t0 - t1) % P, ((a[0] + a[1]) * (b[0] + b[1]) - t0 - t1) % P)


def _f2_sqr(a: Fp2) -> Fp2:
    return ((a[0] + a[1]) * (a[0] - a[1]) % P, 2 * a[0] * a[1] % P)


def _f2_inv(a: Fp2) -> Fp2:
    norm_inv = pow(a[0] * a[0] + a[1] * a[1], -1, P)
    return (a[0] * norm_inv % P, -a[1] * norm_inv % P)


def _f2_sub(a: Fp2, b: Fp2) -> Fp2:
    return ((a[0] - b[0]) % P, (a[1] - b[1]) % P)


def _f2_conj(a: Fp2) -> Fp2:
    return (a[0], -a[1] % P)


# ---- Fp12 = Fp[w] / (w^12 - 18 w^6 + 82), as py_ecc ----


def _reduce(c: list[int]) -> Fp12:
    for i in range(len(c) - 1, 11, -1):
        top = c[i]
        if top:
            c[i - 6] += 18 * top
            c[i - 12] -= 82 * top
    return [x % P for x in c[:12]]


def f12_mul(a: Fp12, b: Fp12) -> Fp12:
    c = [0] * 23
    for i, ai in enumerate(a):
        if ai:
            for j, bj in enumerate(b):
                c[i + j] += ai * bj
    return _reduce(c)


def f12_sqr(a: Fp12) -> Fp12:
    c = [0] * 23
    for i in range(12):
        ai = a[i]
        if ai:
            c[2 * i] += ai * ai
            twice = 2 * ai
            for j in range(i + 1, 12):
                c[i + j] += twice * a[j]
    return _reduce(c)


def f12_one() -> Fp12:
    return [1] + [0] * 11


def to_fq12(a: Fp12) -> FQ12:
    return FQ12(list(a))


def from_fq12(a: FQ12) -> Fp12:
    return [int(c) % P for c in a.coeffs]


def _embed(a: Fp2) -> tuple[int, int]:
    """``a0 + a1 u`` as coefficients of ``w^0`` and ``w^6`` (``u = w^6 - 9``)."""
    return ((a[0] - 9 * a[1]) % P, a[1])


def _mul_line(f: Fp12, y_p: int, c1: Fp2, c3: Fp2) -> Fp12:
    """``f * (yP + c1 w + c3 w^3)`` with ``c1, c3`` in Fp2 (five coefficients)."""
    l1, l7 = _embed(c1)
    l3, l9 = _embed(c3)
    c = [0] * 22
    for i, fi in enumerate(f):
        if fi:
            c[i] += fi * y_p
            c[i + 1] += fi * l1
            c[i + 3] += fi * l3
            c[i + 7] += fi * l7
            c[i + 9] += fi * l9
    c.append(0)
    return _reduce(c)


# ---- Frobenius: (sum c_i w^i)^q = sum c_i (w^q)^i, with (w^q)^i precomputed ----


def _pow_w(exponent: int) -> Fp12:
    result = f12_one()
    base = [0, 1] + [0] * 10
    while exponent:
        if exponent & 1:
            result = f12_mul(result, base)
        base = f12_sqr(base)
        exponent >>= 1
    return result


def _powers(x: Fp12) -> list[Fp12]:
    out = [f12_one()]
    for _ in range(11):
        out.append(f12_mul(out[-1], x))
    return out


def _apply(matrix: list[Fp12], a: Fp12) -> Fp12:
    c = [0] * 12
    for ai, row in zip(a, matrix, strict=True):
        if ai:
            for j, v in enumerate(row):
                c[j] += ai * v
    return [x % P for x in c]


_FROB: dict[int, list[Fp12]] = {}


def _frobenius_matrix(k: int) -> list[Fp12]:
    """Rows ``(w^(p^k))^i`` for ``i < 12``, built on first use (k in 1, 2, 3, 6)."""
    if k not in _FROB:
        if 1 not in _FROB:
            _FROB[1] = _powers(_pow_w(P))
        w_k = [0, 1] + [0] * 10
        for _ in range(k):
            w_k = _apply(_FROB[1], w_k)
        _FROB[k] = _powers(w_k)
    return _FROB[k]


def frobenius(a: Fp12, k: int = 1) -> Fp12:
    """``a^(p^k)``."""
    return _apply(_frobenius_matrix(k), a)


# ---- G2 on the twist, affine over Fp2 ----

G2Affine = tuple[Fp2, Fp2]

# Frobenius on the twist: pi(x, y) = (conj(x) * XI_X, conj(y) * XI_Y), with
# XI_X = xi^((p - 1) / 3) and XI_Y = xi^((p - 1) / 2) for xi = 9 + u.


def _f2_pow(a: Fp2, e: int) -> Fp2:
    result: Fp2 = (1, 0)
    while e:
        if e & 1:
            result = _f2_mul(result, a)
        a = _f2_sqr(a)
        e >>= 1
    return result


_XI_X = _f2_pow((9, 1), (P - 1) // 3)
_XI_Y = _f2_pow((9, 1), (P - 1) // 2)


def _frob_g2(q: G2Affine) -> G2Affine:
    return (_f2_mul(_f2_conj(q[0]), _XI_X), _f2_mul(_f2_conj(q[1]), _XI_Y))


def _step(t: G2Affine, q: G2Affine | None) -> tuple[G2Affine, Line]:
    """``T + Q`` (or ``2T`` when ``q`` is None) and the line through them."""
    xt, yt = t
    if q is None:
        lam = _f2_mul(_f2_mul((3, 0), _f2_sqr(xt)), _f2_inv(_f2_mul((2, 0), yt)))
        xq = xt
    else:
        xq, yq = q
        dx = _f2_sub(xq, xt)
        if dx == (0, 0):
            raise ArithmeticError("Miller loop met T = +-Q (a point outside the subgroup?)")
        lam = _f2_mul(_f2_sub(yq, yt), _f2_inv(dx))
    x3 = _f2_sub(_f2_sub(_f2_sqr(lam), xt), xq)
    y3 = _f2_sub(_f2_mul(lam, _f2_sub(xt, x3)), yt)
    return (x3, y3), (lam, _f2_sub(_f2_mul(lam, xt), yt))


def g2_lines(q: G2Affine) -> list[Line]:
    """Every line of the Miller loop of ``q``, in order (depends on ``q`` alone)."""
    lines: list[Line] = []
    neg_q = (q[0], (-q[1][0] % P, -q[1][1] % P))
    t = q
    for bit in pseudo_binary_encoding[63::-1]:
        t, line = _step(t, None)
        lines.append(line)
        if bit:
            t, line = _step(t, q if bit == 1 else neg_q)
            lines.append(line)
    q1 = _frob_g2(q)
    q2 = _frob_g2(q1)
    neg_q2 = (q2[0], (-q2[1][0] % P, -q2[1][1] % P))
    t, line = _step(t, q1)
    lines.append(line)
    _, line = _step(t, neg_q2)
    lines.append(line)
    return lines


def multi_miller(pairs: Sequence[tuple[tuple[int, int], Sequence[Line]]]) -> Fp12:
    """The product of the Miller loops of ``(P, lines of Q)`` pairs, ``P`` affine in G1."""
    f = f12_one()
    cursors = [0] * len(pairs)

    def apply_lines(f: Fp12) -> Fp12:
        for n, ((x_p, y_p), lines) in enumerate(pairs):
            lam, c3 = lines[cursors[n]]
            cursors[n] += 1
            c1 = (-lam[0] * x_p % P, -lam[1] * x_p % P)
            f = _mul_line(f, y_p, c1, c3)
        return f

    first = True
    for bit in pseudo_binary_encoding[63::-1]:
        if not first:
            f = f12_sqr(f)
        first = False
        f = apply_lines(f)
        if bit:
            f = apply_lines(f)
    f = apply_lines(f)
    return apply_lines(f)


# ---- final exponentiation ----

_HARD = (P**4 - P**2 + 1) // R
_HARD_DIGITS = [(_HARD // P**i) % P for i in range(4)]


def f12_inv(a: Fp12) -> Fp12:
    return from_fq12(to_fq12(a).inv())


def final_exponentiate(f: Fp12) -> Fp12:
    """``f^((p^12 - 1) / r)``."""
    # Easy part: f^(p^6 - 1), then ^(p^2 + 1).
    f = f12_mul(frobenius(f, 6), f12_inv(f))
    f = f12_mul(frobenius(f, 2), f)
    # Hard part: prod_i (f^(p^i))^(d_i), the four powers sharing their squarings.
    bases = [f, frobenius(f, 1), frobenius(f, 2), frobenius(f, 3)]
    table: list[Fp12] = [f12_one()] * 16
    for mask in range(1, 16):
        low = mask & -mask
        table[mask] = bases[low.bit_length() - 1] if mask == low else f12_mul(
            table[mask ^ low], bases[low.bit_length() - 1]
        )
    result = f12_one()
    for bit in range(max(d.bit_length() for d in _HARD_DIGITS) - 1, -1, -1):
        result = f12_sqr(result)
        mask = sum(((d >> bit) & 1) << i for i, d in enumerate(_HARD_DIGITS))
        if mask:
            result = f12_mul(result, table[mask])
    return result


def pairing_check(pairs: Sequence[tuple[tuple[int, int], Sequence[Line]]]) -> Fp12:
    """``final_exponentiate(multi_miller(pairs))``."""
    return final_exponentiate(multi_miller(pairs))


__all__ = [
    "G2Affine",
    "Line",
    "f12_inv",
    "f12_mul",
    "f12_one",
    "f12_sqr",
    "final_exponentiate",
    "frobenius",
    "from_fq12",
    "g2_lines",
    "multi_miller",
    "pairing_check",
    "to_fq12",
]
