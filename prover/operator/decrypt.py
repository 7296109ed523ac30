"""Opening inbox messages in bulk: the operator's fast path (docs/crypto.md, "Inbox decryption").

:func:`decode_many` returns exactly ``[inbox.decode(m, s) for m in messages]`` and
:func:`verify_many` exactly ``[entry.verify(pubkey) for entry, pubkey in items]``;
:func:`open_messages` does both, on a process pool when asked. They compute the same
values as the reference model by other means:

* **ECDH with a fixed scalar.** ``s * (8 * E)`` is ``(s mod l) * (8 * E)`` (``8 * E`` lies
  in the prime-order subgroup). The scalar is the operator's and never changes, so its
  width-5 NAF is computed once; each point then costs about 252 doublings and 42
  additions in projective/extended twisted Edwards coordinates (the HWCD formulas,
  complete on Baby Jubjub), with the ``T`` coordinate only computed where an addition
  needs it, and one inversion for the whole batch (Montgomery's trick).
* **R8 decompression.** The batch's ``A - D * y^2`` are inverted together, and the square
  root is Tonelli-Shanks with the 2^28-th roots of unity looked up in 7-bit tables: one
  exponentiation instead of three plus a quadratic loop.
* **Batch verification.** With random 128-bit ``z_i`` (from :mod:`secrets`), the batch
  is accepted when ``sum z_i*R8_i + sum_A (sum z_i*8*h_i)*A - (sum z_i*S_i)*BASE8`` is
  the identity, one multi-scalar multiplication (Pippenger's buckets with signed
  digits), with the coefficients of one account's messages added together. If it is not,
  the batch is split in halves until the failing signatures are pinned: a batch of one
  is the plain equation (``z`` is not 0 mod l), so every result equals the individual
  check, except that a batch holding a bad signature passes with probability at most
  about 2^-128 over the choice of the ``z_i``. The combination is sound only for points
  of the prime-order subgroup: each ``R8`` (and each new public key) is tested for
  membership with the 8-Tate pairing against a point ``T`` of order 8, which on this
  cyclic group of order ``8*l`` is 1 exactly on the subgroup, at the price of one
  exponentiation (instead of a multiplication by ``l``).
* **Numbers.** With gmpy2 installed (``pip install 'zkmatch[gmp]'``) the arithmetic uses
  its ``mpz`` integers, Poseidon included (the rounds of
  :mod:`prover.crypto.poseidon_hash` recompiled with ``mpz`` constants); every value
  handed back is a Python ``int``, and ``backend="int"`` forces the pure-Python path,
  which gives the same results. ``ZKMATCH_GMPY2=0`` makes ``"int"`` the default.

Anything the fast path does not cover (a message or entry of another type, an
off-curve ephemeral key, a key or signature that is not a pair of canonical ints, a
scalar that is not an int) is handed to the reference function, so errors are the
reference's too. Pure: no I/O, except that :func:`open_messages` with ``workers > 1``
starts (once, then reuses) a process pool; :func:`close_pools` stops it.
"""

from __future__ import annotations

import atexit
import dataclasses
import os
import re
import secrets
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from prover.crypto import babyjub
from prover.crypto import poseidon_hash as _ph
from prover.crypto.babyjub import IDENTITY, SUBORDER
from prover.crypto.eddsa import Signature
from prover.exchange import inbox
from prover.exchange.constants import TAG_CANCEL, TAG_ORDER
from prover.exchange.domain import Cancel, Entry, Order, SignedCancel, SignedOrder
from prover.exchange.inbox import Decoded, Message

P = babyjub.P
_L = SUBORDER
_A = babyjub.A
_D = babyjub.D
_BASE8 = babyjub.BASE8
_PACKED_LIMIT = 1 << inbox.PACKED_BITS
_SMALL = inbox.SMALL_X_BOUND
_ORDER_NAMES = tuple(f.name for f in dataclasses.fields(Order))
_ENTRY_TYPES = (SignedOrder, SignedCancel)
#: The cipher's fourth initial state element: nonce 0, plaintext length 3.
_CIPHER_DOMAIN = inbox.MESSAGE_NONCE + inbox.PLAINTEXT_LENGTH * (1 << 128)
#: Window of the fixed scalar's NAF (5 measured best against 4 and 6).
NAF_WIDTH = 5
#: Bits of the random coefficients of batch verification.
BATCH_COEFFICIENT_BITS = 128
#: Failing sub-batches of at most this many signatures are checked one by one.
_SINGLE_BELOW = 2

Backend = str
BACKENDS: tuple[Backend, ...] = ("int", "gmpy2")


def _gmpy2_importable() -> bool:
    try:
        import gmpy2  # noqa: F401
    except ImportError:
        return False
    return True


def available_backends() -> tuple[Backend, ...]:
    """``("int",)`` or ``("int", "gmpy2")`` when gmpy2 can be imported."""
    return BACKENDS if _gmpy2_importable() else ("int",)


def default_backend() -> Backend:
    """``"gmpy2"`` when installed (unless ``ZKMATCH_GMPY2=0``), else ``"int"``."""
    if os.environ.get("ZKMATCH_GMPY2", "1") != "0" and _gmpy2_importable():
        return "gmpy2"
    return "int"


# --- pure-int precomputation (independent of the backend) -----------------------------


def _wnaf(k: int, width: int) -> list[int]:
    """Width-``width`` NAF of ``k > 0``, least significant digit first."""
    digits = []
    full, half = 1 << width, 1 << (width - 1)
    while k:
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits


@lru_cache(maxsize=16)
def _scalar_plan(k: int) -> tuple[int, tuple[tuple[int, int], ...], int]:
    """``k * Q`` as ``(first digit, ((doublings, digit), ...), trailing doublings)``.

    Start from ``first digit * Q``; for each pair double that many times and add
    ``digit * Q`` (odd digits, |digit| < 2^(NAF_WIDTH-1)); then double the trailing count.
    """
    digits = _wnaf(k, NAF_WIDTH)[::-1]
    plan = []
    doublings = 0
    for d in digits[1:]:
        doublings += 1
        if d:
            plan.append((doublings, d))
            doublings = 0
    return digits[0], tuple(plan), doublings


def _torsion_points() -> frozenset[tuple[int, int]]:
    t = babyjub.mul(babyjub.GENERATOR, _L)
    return frozenset(babyjub.mul(t, k) for k in range(8))


#: The 8 points of order dividing 8 (the identity included).
TORSION = _torsion_points()


def _tate_constants() -> tuple[int, int, int, int, int]:
    """Lines of Miller's function ``f`` with ``div(f) = 8(T) - 8(O)`` for ``T`` of order 8.

    In Montgomery form ``v^2 = u^3 + 168698 u^2 + u`` (B = 1): ``f = l1^4 * l2^2 /
    ((u - u2)^4 * u)``, ``l1`` the tangent at ``T``, ``l2`` the tangent at ``2T = (u2, .)``
    and ``u`` the (vertical) tangent at ``4T = (0, 0)``. Returns ``(lambda1, c1, lambda2,
    c2, u2)`` with ``l_i = v - lambda_i * u - c_i``.
    """
    am = 2 * (_A + _D) * pow(_A - _D, -1, P) % P
    t = babyjub.mul(babyjub.GENERATOR, _L)
    u1 = (1 + t[1]) * pow(1 - t[1], -1, P) % P
    v1 = u1 * pow(t[0], -1, P) % P
    lam1 = (3 * u1 * u1 + 2 * am * u1 + 1) * pow(2 * v1, -1, P) % P
    c1 = (v1 - lam1 * u1) % P
    u2 = (lam1 * lam1 - am - 2 * u1) % P
    v2 = (lam1 * (u1 - u2) - v1) % P
    lam2 = (3 * u2 * u2 + 2 * am * u2 + 1) * pow(2 * v2, -1, P) % P
    c2 = (v2 - lam2 * u2) % P
    assert (lam2 * lam2 - am - 2 * u2) % P == 0  # 4T = (0, 0)
    return lam1, c1, lam2, c2, u2


# --- the arithmetic, for one kind of integer --------------------------------------------


@dataclass(frozen=True)
class _Kernel:
    """The hot functions, compiled for ``int`` or ``mpz`` (see :func:`_kernel`)."""

    name: Backend
    num: Callable[[int], Any]
    inv_many: Callable[[list[Any]], list[Any]]
    shared_keys: Callable[..., list[Any]]
    sqrt: Callable[[Any], Any]
    in_subgroup: Callable[[int, int], bool]
    msm_is_identity: Callable[[list[tuple[Any, Any]], list[int]], bool]
    perm4: Callable[..., tuple[Any, ...]]
    hash3: Callable[..., Any]
    hash6: Callable[..., Any]
    hash10: Callable[..., Any]


_INT_LITERAL = re.compile(r"\b\d+\b")


def _compiled_poseidon(width: int, full: bool, backend: Backend) -> Callable[..., Any]:
    """The compiled rounds of :mod:`prover.crypto.poseidon_hash`, for ints or for mpz.

    For mpz every constant literal becomes a name bound to an ``mpz`` (an ``int`` literal
    would be converted at every use, which costs more than the product).
    """
    if backend == "int":
        return _ph._compiled(width, full)
    from gmpy2 import mpz

    names: dict[int, str] = {}

    def name(match: re.Match[str]) -> str:
        return names.setdefault(int(match.group(0)), f"k{len(names)}")

    source = _INT_LITERAL.sub(name, _ph._source(width, full))
    namespace: dict[str, Any] = {"P": mpz(P)}
    namespace.update({n: mpz(v) for v, n in names.items()})
    exec(compile(source, f"<poseidon t={width} mpz>", "exec"), namespace)  # noqa: S102 - our own constants
    fn = namespace[f"_poseidon_t{width}_{'perm' if full else 'hash'}"]
    assert callable(fn)
    return fn


@cache
def _kernel(backend: Backend) -> _Kernel:  # noqa: C901 - one closure per hot function
    if backend == "gmpy2":
        import gmpy2

        num: Callable[[int], Any] = gmpy2.mpz
        modulus = gmpy2.mpz(P)

        def invert(x: Any) -> Any:
            return gmpy2.invert(x, modulus)

        powmod: Callable[[Any, Any, Any], Any] = gmpy2.powmod
    elif backend == "int":
        num = int
        modulus = P

        def invert(x: Any) -> Any:
            return pow(x, -1, P)

        powmod = pow
    else:
        raise ValueError(f"unknown backend {backend!r}; choose from {BACKENDS}")

    p_ = modulus
    a_ = num(_A)
    d_ = num(_D)
    two = num(2)

    def inv_many(values: list[Any]) -> list[Any]:
        """Inverses of non-zero values with one inversion (Montgomery's trick)."""
        n = len(values)
        if n == 0:
            return []
        prefix = [values[0]] * n
        acc = values[0]
        for i in range(1, n):
            acc = acc * values[i] % p_
            prefix[i] = acc
        inv = invert(acc)
        out = [inv] * n
        for i in range(n - 1, 0, -1):
            out[i] = inv * prefix[i - 1] % p_
            inv = inv * values[i] % p_
        out[0] = inv
        return out

    # -- ECDH: 8 * E, then k * (8 * E) for the fixed plan ---------------------------------

    def shared_keys(points: list[tuple[Any, Any]], plan: tuple[Any, ...]) -> list[Any]:
        """Projective ``(X, Y, Z)`` of ``k * (8 * E)`` per affine ``E``, None for the identity."""
        first, steps, trailing = plan
        p, a, d = p_, a_, d_
        half_table = 1 << (NAF_WIDTH - 2)
        out: list[Any] = []
        for x, y in points:
            # 8 * E: three doublings (HWCD, general a), the first from Z = 1.
            aa = a * (x * x)
            bb = y * y
            e = x * y << 1
            g = (aa + bb) % p
            h = (aa - bb) % p
            f = g - two
            X, Y, Z = e * f % p, g * h % p, f * g % p
            aa = a * (X * X)
            bb = Y * Y
            cc = Z * Z
            e = X * Y << 1
            g = (aa + bb) % p
            h = (aa - bb) % p
            f = (g - cc - cc) % p
            X, Y, Z = e * f % p, g * h % p, f * g % p
            aa = a * (X * X)
            bb = Y * Y
            cc = Z * Z
            e = X * Y << 1
            g = (aa + bb) % p
            h = (aa - bb) % p
            f = (g - cc - cc) % p
            X, Y, Z, T = e * f % p, g * h % p, f * g % p, e * h % p
            if X == 0 and Y == Z:  # 8 * E is the identity
                out.append(None)
                continue
            # Odd multiples Q, 3Q, .., 15Q as (X, Y, Z, d*T, X+Y) and their negatives.
            aa = a * (X * X)
            bb = Y * Y
            cc = Z * Z
            e = X * Y << 1
            g = (aa + bb) % p
            h = (aa - bb) % p
            f = (g - cc - cc) % p
            X2, Y2, Z2, T2 = e * f % p, g * h % p, f * g % p, e * h % p
            s2 = X2 + Y2
            pos = [(X, Y, Z, d * T % p, X + Y)]
            for _ in range(half_table - 1):
                x1, y1, z1, dt1, s1 = pos[-1]
                aa = x1 * X2 % p
                bb = y1 * Y2 % p
                cc = dt1 * T2 % p
                dd = z1 * Z2 % p
                e = (s1 * s2 - aa - bb) % p
                f = dd - cc
                g = dd + cc
                h = bb - a * aa
                xn, yn, tn = e * f % p, g * h % p, e * h % p
                pos.append((xn, yn, f * g % p, d * tn % p, xn + yn))
            neg = [(p - x1, y1, z1, p - dt1, y1 - x1) for x1, y1, z1, dt1, _ in pos]
            X, Y, Z, dt1, _ = pos[(first - 1) >> 1]
            for doublings, digit in steps:
                for _ in range(doublings - 1):
                    aa = a * (X * X)
                    bb = Y * Y
                    cc = Z * Z
                    e = X * Y << 1
                    g = (aa + bb) % p
                    h = (aa - bb) % p
                    f = (g - cc - cc) % p
                    X, Y, Z = e * f % p, g * h % p, f * g % p
                aa = a * (X * X)
                bb = Y * Y
                cc = Z * Z
                e = X * Y << 1
                g = (aa + bb) % p
                h = (aa - bb) % p
                f = (g - cc - cc) % p
                X, Y, Z, T = e * f % p, g * h % p, f * g % p, e * h % p
                if digit > 0:
                    x2, y2, z2, dt2, s2 = pos[(digit - 1) >> 1]
                else:
                    x2, y2, z2, dt2, s2 = neg[(-digit - 1) >> 1]
                aa = X * x2
                bb = Y * y2
                cc = T * dt2 % p
                dd = Z * z2 % p
                e = (X + Y) * s2 - aa - bb
                f = dd - cc
                g = dd + cc
                h = bb - a * aa
                X, Y, Z = e * f % p, g * h % p, f * g % p
            for _ in range(trailing):
                aa = a * (X * X)
                bb = Y * Y
                cc = Z * Z
                e = X * Y << 1
                g = (aa + bb) % p
                h = (aa - bb) % p
                f = (g - cc - cc) % p
                X, Y, Z = e * f % p, g * h % p, f * g % p
            out.append((X, Y, Z))
        return out

    # -- square roots: Tonelli-Shanks with table look-ups ---------------------------------

    two_adicity = 28
    window = 7
    odd = (P - 1) >> two_adicity
    root = pow(5, odd, P)  # 5 is a non-residue: a primitive 2^28-th root of unity
    # g^(-j * 2^(7k)) for k = 0..3, j = 0..127; and log of the 2^7-th roots of unity.
    neg_pow = []
    for k in range(two_adicity // window):
        base = pow(root, -(1 << (window * k)), P)
        row, acc = [], 1
        for _ in range(1 << window):
            row.append(num(acc))
            acc = acc * base % P
        neg_pow.append(row)
    unit = pow(root, 1 << (two_adicity - window), P)
    log_table = {pow(unit, j, P): j for j in range(1 << window)}
    half_odd = num((odd - 1) // 2)
    mask = (1 << window) - 1
    digits_k = range(two_adicity // window)

    def sqrt(n: Any) -> Any:
        """A square root of ``n`` (reduced, non-zero), or None when there is none."""
        p = p_
        w = powmod(n, half_odd, p)
        r = w * n % p  # n^((odd + 1) / 2)
        t = r * w % p  # n^odd, a 2^28-th root of unity
        e = 0
        for k in digits_k:
            x = t
            for _ in range(two_adicity - window * (k + 1)):
                x = x * x % p
            j = log_table[int(x)]
            e |= j << (window * k)
            t = t * neg_pow[k][j] % p
        if e & 1:  # n * g^-e is a square only for even e: n is not a square
            return None
        e >>= 1
        for k in digits_k:
            r = r * neg_pow[k][(e >> (window * k)) & mask] % p
        return r

    # -- membership of the prime-order subgroup -------------------------------------------

    lam1, c1, lam2, c2, u2 = (num(v) for v in _tate_constants())
    tate_exp = num((P - 1) // 8)
    one = num(1)

    def in_subgroup(x_int: int, y_int: int) -> bool:
        """True iff the curve point ``(x, y)`` lies in the subgroup of order ``l``.

        The 8-torsion points are looked up; any other point ``P`` is in the subgroup
        iff ``f(P)^((p-1)/8) = 1`` (the reduced Tate pairing with ``T``, non-degenerate
        since 8 divides p - 1, and the group is cyclic). With ``a = 1 + y``, ``b = 1 - y``
        (``u = a/b``, ``v = a/(b x)``): ``f = L1^4 L2^2 / (b x^6 M^4 a)``, ``L_i = a -
        lambda_i a x - c_i b x``, ``M = a - u2 b``; a denominator ``q`` is replaced by
        ``q^7``, equal to ``1/q`` up to an 8th power, which the exponent removes.
        """
        if (x_int, y_int) in TORSION:
            return (x_int, y_int) == IDENTITY
        p = p_
        x, y = num(x_int), num(y_int)
        a = one + y
        b = one - y
        ax, bx = a * x % p, b * x % p
        l1 = (a - lam1 * ax - c1 * bx) % p
        l2 = (a - lam2 * ax - c2 * bx) % p
        m = (a - u2 * b) % p
        l1 = l1 * l1 % p
        numer = l1 * l1 % p * l2 % p * l2 % p
        x2 = x * x % p
        den = b * x2 % p * x2 % p * x2 % p * a % p
        m = m * m % p
        den = den * m % p * m % p
        d2 = den * den % p
        d4 = d2 * d2 % p
        den7 = d4 * d2 % p * den % p
        return powmod(numer * den7 % p, tate_exp, p) == 1

    # -- multi-scalar multiplication (Pippenger, signed digits) ---------------------------

    def _add(p1: Any, p2: Any) -> Any:
        x1, y1, z1, t1 = p1
        x2, y2, z2, t2 = p2
        p = p_
        aa = x1 * x2 % p
        bb = y1 * y2 % p
        cc = d_ * (t1 * t2 % p)
        dd = z1 * z2 % p
        e = ((x1 + y1) * (x2 + y2) - aa - bb) % p
        f = dd - cc
        g = dd + cc
        h = bb - a_ * aa
        return e * f % p, g * h % p, f * g % p, e * h % p

    def msm_is_identity(points: list[tuple[Any, Any]], scalars: list[int]) -> bool:
        """True iff ``sum scalars[i] * points[i]`` is the identity (affine points, scalars >= 0)."""
        pairs = [(pt, k) for pt, k in zip(points, scalars, strict=True) if k]
        if not pairs:
            return True
        bits = max(k.bit_length() for _, k in pairs)
        c = _window_bits(len(pairs), bits)
        half = 1 << (c - 1)
        # Signed digits in [-half, half): window j of k + H, less half, where H has half
        # in every window; stored as the unsigned window (half is the digit 0).
        n_windows = bits // c + 1
        offset = half * ((1 << (c * n_windows)) - 1) // ((1 << c) - 1)
        while (1 << bits) + offset > 1 << (c * n_windows):
            n_windows += 1
            offset = half * ((1 << (c * n_windows)) - 1) // ((1 << c) - 1)
        n_bytes = (c * n_windows + 7) // 8
        rows = []
        prepared = []
        p, d = p_, d_
        for (x, y), k in pairs:
            t = x * y % p
            dt = d * t % p
            prepared.append(((x, y, x + y, t, dt), (p - x, y, y - x, p - t, p - dt)))
            rows.append(_split_windows((k + offset).to_bytes(n_bytes, "little"), c))
        columns = list(zip(*rows, strict=True))
        acc = None
        a = a_
        for j in range(n_windows - 1, -1, -1):
            if acc is not None:
                X, Y, Z, T = acc
                for _ in range(c):
                    aa = a * (X * X)
                    bb = Y * Y
                    cc = Z * Z
                    e = X * Y << 1
                    g = (aa + bb) % p
                    h = (aa - bb) % p
                    f = (g - cc - cc) % p
                    X, Y, Z, T = e * f % p, g * h % p, f * g % p, e * h % p
                acc = (X, Y, Z, T)
            buckets: list[Any] = [None] * (half + 1)
            for i, window in enumerate(columns[j]):
                if window == half:
                    continue
                if window > half:
                    x2, y2, s2, t2, dt2 = prepared[i][0]
                    index = window - half
                else:
                    x2, y2, s2, t2, dt2 = prepared[i][1]
                    index = half - window
                bucket = buckets[index]
                if bucket is None:
                    buckets[index] = (x2, y2, one, t2)
                    continue
                X, Y, Z, T = bucket
                aa = X * x2
                bb = Y * y2
                cc = T * dt2 % p
                e = (X + Y) * s2 - aa - bb
                f = Z - cc
                g = Z + cc
                h = bb - a * aa
                buckets[index] = (e * f % p, g * h % p, f * g % p, e * h % p)
            running = total = None
            for index in range(half, 0, -1):
                bucket = buckets[index]
                if bucket is not None:
                    running = bucket if running is None else _add(running, bucket)
                if running is not None:
                    total = running if total is None else _add(total, running)
            if total is not None:
                acc = total if acc is None else _add(acc, total)
        if acc is None:
            return True
        X, Y, Z, _ = acc
        return X % p == 0 and (Y - Z) % p == 0

    return _Kernel(
        name=backend,
        num=num,
        inv_many=inv_many,
        shared_keys=shared_keys,
        sqrt=sqrt,
        in_subgroup=in_subgroup,
        msm_is_identity=msm_is_identity,
        perm4=_compiled_poseidon(4, True, backend),
        hash3=_compiled_poseidon(3, False, backend),
        hash6=_compiled_poseidon(6, False, backend),
        hash10=_compiled_poseidon(10, False, backend),
    )


def _split_windows(data: bytes, c: int) -> bytes:
    """The ``c``-bit windows (c in 2, 4, 8) of little-endian ``data``, lowest first."""
    if c == 8:
        return data
    mask = (1 << c) - 1
    return bytes((b >> shift) & mask for b in data for shift in range(0, 8, c))


@lru_cache(maxsize=256)
def _window_bits(n: int, bits: int) -> int:
    """Pippenger window minimising additions: per window one per point and 2 per bucket
    (c is 2, 4 or 8 so that windows are read from the bytes of the scalar)."""
    best_c, best_cost = 2, float("inf")
    for c in (2, 4, 8):
        n_windows = bits // c + 1
        cost = n_windows * (n * (1 - 2.0**-c) + 2 * (1 << (c - 1))) + bits
        if cost < best_cost:
            best_c, best_cost = c, cost
    return best_c


def _backend(backend: Backend | None) -> _Kernel:
    return _kernel(default_backend() if backend is None else backend)


# --- decoding ----------------------------------------------------------------------------


def _fast_message(m: object) -> bool:
    """A Message of canonical ints whose ephemeral key is on the curve."""
    if type(m) is not Message:
        return False
    eph, ct = m.eph, m.ciphertext
    if len(eph) != 2 or len(ct) != inbox.CIPHERTEXT_LENGTH:
        return False
    for v in (*eph, *ct):
        if type(v) is not int or not 0 <= v < P:
            return False
    x, y = eph
    x2, y2 = x * x % P, y * y % P
    return (_A * x2 + y2 - 1 - _D * x2 * y2) % P == 0


def decode_many(
    messages: Sequence[Message], operator_scalar: int, *, backend: Backend | None = None
) -> list[Decoded]:
    """``[inbox.decode(m, operator_scalar) for m in messages]``, computed in one batch."""
    if isinstance(operator_scalar, bool) or not isinstance(operator_scalar, int):
        return [inbox.decode(m, operator_scalar) for m in messages]
    kern = _backend(backend)
    num = kern.num
    k = int(operator_scalar) % _L
    out: list[Decoded | None] = [None] * len(messages)
    fast: list[int] = []
    for i, m in enumerate(messages):
        if _fast_message(m):
            fast.append(i)
        else:
            out[i] = inbox.decode(m, operator_scalar)  # raises what the reference raises
    if not fast:
        return out  # type: ignore[return-value]

    eph = [(num(messages[i].eph[0]), num(messages[i].eph[1])) for i in fast]
    # s = 0 mod l: the shared key is the identity whatever the point.
    projective = kern.shared_keys(eph, _scalar_plan(k)) if k else [None] * len(eph)
    finite = [q for q in projective if q is not None]
    z_inv = iter(kern.inv_many([q[2] for q in finite]))
    p = kern.num(P)
    perm4 = kern.perm4
    domain = num(_CIPHER_DOMAIN)
    zero = num(0)

    # Decrypt and authenticate; collect the R8y whose x must be found.
    pending: list[tuple[int, tuple[int, int], tuple[int, int, int], dict[str, int]]] = []
    for i, q in zip(fast, projective, strict=True):
        if q is None:
            kx, ky = zero, num(1)
            shared = IDENTITY
        else:
            zi = next(z_inv)
            kx, ky = q[0] * zi % p, q[1] * zi % p
            shared = (int(kx), int(ky))
        c0, c1, c2, c3 = messages[i].ciphertext
        st = perm4(zero, kx, ky, domain)
        packed = int((c0 - st[1]) % p)
        r8y = int((c1 - st[2]) % p)
        s = int((c2 - st[3]) % p)
        plaintext = (packed, r8y, s)
        tag = perm4(st[0], num(c0), num(c1), num(c2))[1]
        if tag != c3:
            out[i] = Decoded(shared, plaintext, False, None, None, "authentication failed")
        elif packed >= _PACKED_LIMIT:
            out[i] = Decoded(shared, plaintext, True, None, None, "packed fields too wide")
        else:
            pending.append((i, shared, plaintext, inbox.unpack_fields(packed)))

    ys = [plaintext[1] for _, _, plaintext, _ in pending]
    r8x = _small_x_from_y_many(ys, kern)
    for (i, shared, plaintext, fields), x in zip(pending, r8x, strict=True):
        _, r8y, s = plaintext
        signature = Signature((0, 0) if x is None else (x, r8y), s)
        entry: Entry
        if fields["kind"] == inbox.KIND_CANCEL:
            entry = SignedCancel(Cancel(fields["account"], fields["order_id"]), signature)
        else:
            entry = SignedOrder(Order(*(fields[name] for name in _ORDER_NAMES)), signature)
        out[i] = Decoded(shared, plaintext, True, fields, entry, None)
    return out  # type: ignore[return-value]


def _small_x_from_y_many(ys: list[int], kern: _Kernel) -> list[int | None]:
    """``[inbox.small_x_from_y(y) ...]`` with the denominators inverted together."""
    num = kern.num
    p = num(P)
    y2 = [num(y) * num(y) % p for y in ys]
    # A - D y^2 is never 0: A / D is not a square (A is one, D is not).
    inverses = kern.inv_many([(_A - _D * v) % p for v in y2])
    out: list[int | None] = []
    for v, inv in zip(y2, inverses, strict=True):
        u = (1 - v) * inv % p
        if u == 0:
            x = 0
        else:
            r = kern.sqrt(u)
            if r is None:
                out.append(None)
                continue
            x = int(r)
        if x >= _SMALL:
            x = (P - x) % P
        out.append(x if x < _SMALL else None)
    return out


# --- verifying ---------------------------------------------------------------------------


def _as_point(value: object) -> tuple[int, int] | bool | None:
    """``value`` as a pair of ints on the curve; False for a pair of canonical ints off
    the curve; None for anything else (the reference decides)."""
    # Exactly a tuple or a list (on_curve's rule); a subclass goes to the reference.
    if not isinstance(value, tuple | list) or type(value) not in (tuple, list) or len(value) != 2:
        return None
    x: object = value[0]
    y: object = value[1]
    if type(x) is not int or type(y) is not int:
        return None
    if not (0 <= x < P and 0 <= y < P):
        return False
    x2, y2 = x * x % P, y * y % P
    if (_A * x2 + y2 - 1 - _D * x2 * y2) % P:
        return False
    return x, y


@lru_cache(maxsize=65536)
def _valid_key(x: int, y: int, backend: Backend) -> bool:
    """:func:`prover.crypto.eddsa.is_valid_public_key` for a curve point, via the pairing."""
    return (x, y) != IDENTITY and _kernel(backend).in_subgroup(x, y)


def _message_hash(entry: Entry, kern: _Kernel) -> int:
    num = kern.num
    if type(entry) is SignedOrder:
        o = entry.order
        return int(
            kern.hash10(
                num(TAG_ORDER),
                num(o.account),
                num(o.market),
                num(o.side),
                num(o.price),
                num(o.size),
                num(o.order_id),
                num(o.expiry),
                num(o.max_fee_ppm),
                num(o.tif),
            )
        )
    c = entry.cancel  # type: ignore[union-attr]
    return int(kern.hash3(num(TAG_CANCEL), num(c.account), num(c.order_id)))


#: One signature ready for the batch: R8, key, S, 8*h mod l.
_Prepared = tuple[tuple[int, int], tuple[int, int], int, int]


def _prepare(
    entry: object, pubkey: object, kern: _Kernel, message_hash: int | None = None
) -> _Prepared | bool | None:
    """The batch inputs of one signature, or its answer (True/False) when known without
    the equation, or None when the reference must decide (an unusual type)."""
    if not isinstance(entry, SignedOrder | SignedCancel) or type(entry) not in _ENTRY_TYPES:
        return None
    sig = entry.signature
    if type(sig) is not Signature:
        return None
    s = sig.s
    if type(s) is not int:
        return None
    key = _as_point(pubkey)
    r8 = _as_point(sig.r8)
    if key is None or r8 is None:  # not a pair of ints: let the reference say
        return None
    if not 0 <= s < _L or key is False or r8 is False:
        return False
    assert not isinstance(key, bool) and not isinstance(r8, bool)
    if not _valid_key(key[0], key[1], kern.name):
        return False
    if not kern.in_subgroup(*r8):  # then R8 + 8h*A is not in the subgroup, S*BASE8 is
        return False
    num = kern.num
    m = _message_hash(entry, kern) if message_hash is None else message_hash
    h = int(kern.hash6(num(0), num(r8[0]), num(r8[1]), num(key[0]), num(key[1]), num(m)))
    return r8, key, s, 8 * h % _L


def _batch_holds(group: list[_Prepared], kern: _Kernel) -> bool:
    """``sum z_i (R8_i + 8 h_i A_i - S_i BASE8) == 0`` for fresh random ``z_i`` (z = 1 alone)."""
    num = kern.num
    points: list[tuple[Any, Any]] = []
    scalars: list[int] = []
    by_key: dict[tuple[int, int], int] = {}
    s_total = 0
    for r8, key, s, h8 in group:
        z = 1 if len(group) == 1 else secrets.randbits(BATCH_COEFFICIENT_BITS) or 1
        points.append((num(r8[0]), num(r8[1])))
        scalars.append(z)
        by_key[key] = (by_key.get(key, 0) + z * h8) % _L
        s_total += z * s
    for key, coeff in by_key.items():
        points.append((num(key[0]), num(key[1])))
        scalars.append(coeff)
    points.append((num(_BASE8[0]), num(_BASE8[1])))
    scalars.append(-s_total % _L)
    return kern.msm_is_identity(points, scalars)


def _verify_prepared(prepared: list[_Prepared], kern: _Kernel) -> list[bool]:
    """Batch check with bisection: the failing signatures are found exactly."""
    result = [True] * len(prepared)

    def check(lo: int, hi: int, known_bad: bool) -> None:
        if hi - lo <= _SINGLE_BELOW:
            for i in range(lo, hi):
                result[i] = _batch_holds([prepared[i]], kern)
            return
        if not known_bad and _batch_holds(prepared[lo:hi], kern):
            return
        mid = (lo + hi) // 2
        left_bad = not _batch_holds(prepared[lo:mid], kern)
        if left_bad:
            check(lo, mid, True)
            check(mid, hi, False)
        else:  # the failure is on the right
            check(mid, hi, True)

    if prepared:
        check(0, len(prepared), False)
    return result


def _verify_items(
    items: Sequence[tuple[Any, Any]],
    kern: _Kernel,
    hashes: Sequence[int | None] | None = None,
) -> list[bool]:
    out: list[bool | None] = [None] * len(items)
    batch: list[_Prepared] = []
    where: list[int] = []
    for i, (entry, pubkey) in enumerate(items):
        prep = _prepare(entry, pubkey, kern, None if hashes is None else hashes[i])
        if prep is None:
            out[i] = entry.verify(pubkey)
        elif prep is True or prep is False:
            out[i] = prep
        else:
            batch.append(prep)
            where.append(i)
    for i, ok in zip(where, _verify_prepared(batch, kern), strict=True):
        out[i] = ok
    return out  # type: ignore[return-value]


def verify_many(
    items: Sequence[tuple[Entry, tuple[int, int]]], *, backend: Backend | None = None
) -> list[bool]:
    """``[entry.verify(pubkey) for entry, pubkey in items]`` by batch verification."""
    return _verify_items(items, _backend(backend))


# --- decode + verify, optionally on a process pool -----------------------------------------

#: Per message: what decoding found, and whether the signature verifies under the
#: account's key (None when there is no entry or ``pubkey_of`` knows no key).
Opened = tuple[Decoded, bool | None]


def _decode_chunk(
    messages: Sequence[Message], operator_scalar: int, backend: Backend
) -> list[tuple[Decoded, int | None]]:
    kern = _kernel(backend)
    decoded = decode_many(messages, operator_scalar, backend=backend)
    out: list[tuple[Decoded, int | None]] = []
    for d in decoded:
        entry = d.entry
        fast = type(entry) is SignedOrder or type(entry) is SignedCancel
        out.append((d, _message_hash(entry, kern) if fast else None))  # type: ignore[arg-type]
    return out


def _verify_chunk(
    items: Sequence[tuple[Entry, tuple[int, int]]], hashes: Sequence[int | None], backend: Backend
) -> list[bool]:
    return _verify_items(items, _kernel(backend), hashes)


_POOLS: dict[int, ProcessPoolExecutor] = {}


def _pool(workers: int) -> Executor:
    pool = _POOLS.get(workers)
    if pool is None:
        pool = _POOLS[workers] = ProcessPoolExecutor(max_workers=workers)
    return pool


def close_pools() -> None:
    """Stop the process pools :func:`open_messages` started."""
    while _POOLS:
        _, pool = _POOLS.popitem()
        pool.shutdown(wait=True, cancel_futures=True)


atexit.register(close_pools)


def _chunks(n: int, parts: int, minimum: int) -> list[tuple[int, int]]:
    parts = max(1, min(parts, n // minimum or 1))
    bounds = [n * i // parts for i in range(parts + 1)]
    return [(bounds[i], bounds[i + 1]) for i in range(parts)]


def open_messages(
    messages: Sequence[Message],
    operator_scalar: int,
    pubkey_of: Callable[[int], tuple[int, int] | None],
    workers: int | None = None,
    *,
    backend: Backend | None = None,
) -> list[Opened]:
    """Decode every message and verify each entry's signature under its account's key.

    Per message ``(decoded, ok)``: ``decoded == inbox.decode(m, operator_scalar)`` and
    ``ok == decoded.entry.verify(pubkey_of(decoded.entry.account))``, or None when the
    message has no entry or ``pubkey_of`` returns None. ``pubkey_of`` is called in this
    process only. With ``workers > 1`` decoding and verification run on a pool of that
    many processes (started on first use and kept: see :func:`close_pools`).
    """
    name = _backend(backend).name
    n = len(messages)
    if not workers or workers <= 1 or n < 2:
        decoded = _decode_chunk(messages, operator_scalar, name)
    else:
        pool = _pool(workers)
        spans = _chunks(n, 2 * workers, 16)
        futures = [
            pool.submit(_decode_chunk, messages[lo:hi], operator_scalar, name) for lo, hi in spans
        ]
        decoded = [pair for f in futures for pair in f.result()]

    items: list[tuple[Entry, Any]] = []
    hashes: list[int | None] = []
    where: list[int] = []
    for i, (d, h) in enumerate(decoded):
        if d.entry is None:
            continue
        key = pubkey_of(d.entry.account)
        if key is None:
            continue
        items.append((d.entry, key))
        hashes.append(h)
        where.append(i)

    if not workers or workers <= 1 or len(items) < 2:
        oks = _verify_chunk(items, hashes, name)
    else:
        pool = _pool(workers)
        spans = _chunks(len(items), workers, 16)
        verdicts = [
            pool.submit(_verify_chunk, items[lo:hi], hashes[lo:hi], name) for lo, hi in spans
        ]
        oks = [ok for f in verdicts for ok in f.result()]

    result: list[Opened] = [(d, None) for d, _ in decoded]
    for i, ok in zip(where, oks, strict=True):
        result[i] = (decoded[i][0], ok)
    return result


__all__ = [
    "BACKENDS",
    "BATCH_COEFFICIENT_BITS",
    "NAF_WIDTH",
    "TORSION",
    "Opened",
    "available_backends",
    "close_pools",
    "decode_many",
    "default_backend",
    "open_messages",
    "verify_many",
]
