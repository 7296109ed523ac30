"""Single-signal freedom: which wires of a satisfying witness can change alone.

For a witness ``w`` that satisfies every constraint ``<A,w> * <B,w> = <C,w>``, changing one
wire ``i`` by ``d`` turns constraint ``c`` into

    (A + a d)(B + b d) - (C + c d) = d * ((a B + b A - c) + a b d)

(``a``, ``b``, ``c`` are wire ``i``'s coefficients in it, ``A``, ``B``, ``C`` its values at
``w``). So each constraint the wire appears in allows every ``d`` (both terms vanish), no
``d != 0`` (only the linear term is left), or exactly one, ``d = -(a B + b A - c) / (a b)``.
The wire is *free* when some ``d != 0`` is allowed by all of them: the exact answer, no
sampling. A free wire is a value the prover may pick without breaking any constraint; it is
either harmless (an inverse of zero, the sign of a zero magnitude, a field of a padding
slot that nothing reads) or an under-constrained signal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from prover.proving.r1cs import R1CS

ANY = "any value"


@dataclass(frozen=True)
class FreeWire:
    wire: int
    names: tuple[str, ...]
    delta: str
    """``ANY``, or the one change ``d`` (as a decimal field element) that keeps it."""


def _dot(lc: dict[int, int], w: list[int], p: int) -> int:
    return sum(coef * w[wire] for wire, coef in lc.items()) % p


def free_wires(r1cs: R1CS, values: list[int], names: dict[int, list[str]]) -> list[FreeWire]:
    """Every wire but the constant that ``values`` (a satisfying witness) lets change alone."""
    p = r1cs.prime
    # Per wire: the (a, b, c, A, B) of every constraint it appears in.
    terms: dict[int, list[tuple[int, int, int, int, int]]] = {}
    for lc_a, lc_b, lc_c in r1cs.constraints:
        va, vb = _dot(lc_a, values, p), _dot(lc_b, values, p)
        for wire in set(lc_a) | set(lc_b) | set(lc_c):
            terms.setdefault(wire, []).append(
                (lc_a.get(wire, 0), lc_b.get(wire, 0), lc_c.get(wire, 0), va, vb)
            )
    out = []
    for wire in range(1, r1cs.n_wires):
        allowed: int | None = None  # None: every d so far
        blocked = False
        for a, b, c, va, vb in terms.get(wire, ()):
            linear = (a * vb + b * va - c) % p
            quad = (a * b) % p
            if quad == 0:
                if linear:
                    blocked = True
                    break
                continue  # every d
            d = (-linear * pow(quad, -1, p)) % p
            if d == 0 or (allowed is not None and allowed != d):
                blocked = True
                break
            allowed = d
        if not blocked:
            delta = ANY if allowed is None else str(allowed)
            out.append(FreeWire(wire, tuple(sorted(names.get(wire, ["<unnamed>"]))), delta))
    return out


@dataclass(frozen=True)
class Allowed:
    """A reviewed kind of free wire: names matching ``pattern`` (a regex, searched in each
    of the wire's names) are harmless when ``holds(witness, match)``; ``why`` says why."""

    pattern: str
    why: str
    holds: Callable[[Any, re.Match[str]], bool] = lambda w, m: True


def _input_is_zero(witness: Any, component: str) -> bool:
    """An IsZero whose input is 0: read ``in``, or ``out`` = 1 where --O2 folded ``in``
    away. (Only circomlib's IsZero declares a signal ``inv``; where both are folded, a free
    ``inv`` implies ``in`` = 0 anyway, since ``in != 0`` pins ``inv = 1 / in``.)"""
    for name, zero in ((f"{component}.in", 0), (f"{component}.out", 1)):
        try:
            return bool(witness[name] == zero)
        except KeyError:
            continue
    return True


#: The reviewed allowlist for ``Batch`` (tests/circuits/test_freedom.py). Anything free that
#: is not here fails the test.
BATCH_ALLOWLIST: tuple[Allowed, ...] = (
    Allowed(
        r"^main\.(.*)\.inv$",
        "an IsZero's inverse whose input is 0 (the message part's many zero tests: an account's "
        "high bits, an empty leaf's key, a message's zero price or size, a remainder, a "
        "market selector, the decryption's and the signature's equality tests; the feed "
        "verifier's in BatchParams): out = 1 - in * inv and in * out = 0 leave inv free "
        "exactly when in = 0, and out is then 1 whatever inv is",
        lambda w, m: _input_is_zero(w, m.group(1)),
    ),
    Allowed(
        r"(Range|range(Before|After))\[\d+\]\.neg$",
        "SignedRange's sign bit: with negAbs = neg * abs and in = abs - 2 negAbs it can flip "
        "only when abs = 0 (a zero value); no circuit reads neg, only abs",
    ),
    Allowed(
        r"^main\.fillPrice\[(\d+)\]$",
        "a padding fill's price (fillUsed = 0): the price rule is gated by used, and with "
        "qty = 0 the notional, fees and every transfer are 0; at --O2 the top bit of its "
        "range check is folded into the price, so it may move by 2^39 within [0, 2^40)",
        lambda w, m: w[f"fillUsed[{m.group(1)}]"] == 0,
    ),
)


#: The reviewed allowlist for ``BatchBook`` (tests/circuits/test_freedom_book.py): Batch's
#: kinds, which its phases share, two of the matching's and one of the deposits'.
BATCHBOOK_ALLOWLIST: tuple[Allowed, ...] = (
    *BATCH_ALLOWLIST,
    Allowed(
        r"\.collAbs\.neg$",
        "MarginBit's SignedRange of the collateral after a weighed fill (`collAbs`), whose "
        "sign bit can flip only when the value is 0 (a padding slot's, or an account's at "
        "exactly zero); MarginBit reads only its abs",
    ),
    Allowed(
        r"^main\.eInsPredPtr\[(\d+)\]$",
        "the insertion's predecessor pointer of a message whose order does not rest "
        "(eRest = 0): BookInsert reads it only through `enabled * (predPtr - 1)` and "
        "`onHead * (predPtr - f - 1)`, both 0 when the insertion is disabled, which "
        "writes nothing",
        lambda w, m: w[f"eRest[{m.group(1)}]"] == 0,
    ),
    Allowed(
        r"^main\.depKeyQy\[(\d+)\]$",
        "a deposit key's hint Q = (0, y) (an unused deposit slot, whose key is the identity):"
        " (0, 1) and (0, -1) are both on the curve with 8Q the identity, so DepositEntry's "
        "decomposition key = 8Q + T_0 holds with either; nothing reads Q but that check",
        lambda w, m: w[f"depKeyQx[{m.group(1)}]"] == 0,
    ),
)


def unexplained(
    r1cs: R1CS,
    values: list[int],
    names: dict[int, list[str]],
    witness: Any,
    allowlist: tuple[Allowed, ...] = BATCH_ALLOWLIST,
) -> list[FreeWire]:
    """The free wires of ``values`` that no entry of ``allowlist`` explains."""
    out = []
    for free in free_wires(r1cs, values, names):
        explained = False
        for allowed in allowlist:
            for name in free.names:
                match = re.search(allowed.pattern, name)
                if match and allowed.holds(witness, match):
                    explained = True
        if not explained:
            out.append(free)
    return out
