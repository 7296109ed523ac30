#!/usr/bin/env python3
"""Constraint budget of the batch circuit: where the constraints go, per fill (docs/circuits.md).

Compiles ``Batch(K, E, B, D, S, M)`` (circom ``--r1cs --O2``, as the build does) at eight
small ``(K, E, B)`` and solves

    T = c0 + a K + e E + f B + x_e K E + x_f K B + x_fe E B

exactly from the first seven; the eighth, ``(3, 2, 2)``, must agree (the script fails if
it does not: the model of the circuit's cost would be wrong). Then prints the total and
the per-fill cost for batch shapes ``K, E`` at ``B = --fills``, and with ``--check K,E``
compiles that full instance too and prints its real count beside the fit's.

Counts are cached in ``build/budget/`` under a hash of the circuit sources, so a second
run with unchanged circuits compiles nothing.

    .venv/bin/python scripts/circuit_budget.py [--account-bits 32] [--slot-bits 8]
        [--markets 8] [--fills 16] [--shape K,E ...] [--check K,E] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prover.proving.batch_circuit import batch_spec  # noqa: E402
from prover.toolchain.circom import run_circom  # noqa: E402
from prover.toolchain.common import CIRCUITS_DIR  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "build" / "budget"
#: (K, E, B) of the fit; the last one checks it.
POINTS: tuple[tuple[int, int, int], ...] = (
    (2, 1, 1),
    (3, 1, 1),
    (2, 2, 1),
    (2, 1, 2),
    (3, 2, 1),
    (3, 1, 2),
    (2, 2, 2),
    (3, 2, 2),
)
TERMS = ("c0", "a", "e", "f", "x_e", "x_f", "x_fe")
#: Shapes of docs/circuits.md: K account slots (fee account and insurance fund included), E entries.
DEFAULT_SHAPES: tuple[tuple[int, int], ...] = (
    (10, 8),
    (14, 8),
    (10, 16),
    (12, 16),
    (14, 16),
    (18, 16),
    (34, 16),
)
_COUNT = re.compile(r"non-linear constraints:\s*(\d+)")


def sources_digest() -> str:
    h = hashlib.sha256()
    for path in sorted(CIRCUITS_DIR.rglob("*.circom")):
        h.update(path.relative_to(CIRCUITS_DIR).as_posix().encode() + b"\0")
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def count(k: int, e: int, b: int, d: int, s: int, m: int, *, verbose: bool = False) -> int:
    """Non-linear constraints of ``Batch(k, e, b, d, s, m)`` at ``--O2`` (cached)."""
    instance = f"Batch({k}, {e}, {b}, {d}, {s}, {m})"
    cache = CACHE / f"{sources_digest()}.json"
    known: dict[str, int] = json.loads(cache.read_text()) if cache.exists() else {}
    if instance in known:
        return known[instance]
    CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="budget-", dir=CACHE) as tmp:
        work = Path(tmp)
        spec = batch_spec(k, e, b, d, s, m)
        main = work / "main.circom"
        main.write_text(spec.wrapper())
        start = time.monotonic()
        result = run_circom(
            main,
            work,
            spec.include_dirs,
            outputs=("--r1cs",),
            expect=lambda m, out: [out / f"{m.stem}.r1cs"],
        )
        found = _COUNT.search(result.output)
        if found is None:
            raise SystemExit(f"circom printed no constraint count for {instance}")
        n = int(found.group(1))
        if verbose:
            print(f"  {instance}: {n} ({time.monotonic() - start:.0f} s)", file=sys.stderr)
    known[instance] = n
    cache.write_text(json.dumps(known, indent=1, sort_keys=True))
    return n


def features(k: int, e: int, b: int) -> list[int]:
    return [1, k, e, b, k * e, k * b, e * b]


def solve(points: list[tuple[int, int, int]], totals: list[int]) -> list[Fraction]:
    """Exact solution of the 7 x 7 system (Gauss-Jordan over the rationals)."""
    rows = [
        [Fraction(x) for x in features(*p)] + [Fraction(t)]
        for p, t in zip(points, totals, strict=True)
    ]
    n = len(TERMS)
    for col in range(n):
        pivot = next(r for r in range(col, n) if rows[r][col] != 0)
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(n):
            if r != col and rows[r][col] != 0:
                factor = rows[r][col] / rows[col][col]
                rows[r] = [x - factor * y for x, y in zip(rows[r], rows[col], strict=True)]
    return [rows[i][n] / rows[i][i] for i in range(n)]


def total(coef: list[Fraction], k: int, e: int, b: int) -> int:
    value = sum(c * x for c, x in zip(coef, features(k, e, b), strict=True))
    return int(value)


def pair(text: str) -> tuple[int, int]:
    k, e = (int(x) for x in text.split(","))
    return k, e


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--account-bits", type=int, default=32)
    ap.add_argument("--slot-bits", type=int, default=8)
    ap.add_argument("--markets", type=int, default=8)
    ap.add_argument("--fills", type=int, default=16)
    ap.add_argument("--shape", type=pair, action="append", help="K,E (repeatable)")
    ap.add_argument("--check", type=pair, help="also compile Batch(K, E, fills, ...) itself")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    d, s, m, b = args.account_bits, args.slot_bits, args.markets, args.fills

    points = list(POINTS)
    totals = [count(*p, d, s, m, verbose=not args.json) for p in points]
    coef = solve(points[:7], totals[:7])
    if any(c.denominator != 1 for c in coef) or total(coef, *points[7]) != totals[7]:
        raise SystemExit(
            f"the cost model does not fit: {dict(zip(TERMS, map(str, coef), strict=True))}, "
            f"{points[7]} predicted {float(total(coef, *points[7]))}, compiled {totals[7]}"
        )
    shapes = args.shape or list(DEFAULT_SHAPES)
    table = [
        {
            "K": k,
            "E": e,
            "B": b,
            "total": total(coef, k, e, b),
            "per_fill": total(coef, k, e, b) / b,
        }
        for k, e in shapes
    ]
    check = None
    if args.check:
        k, e = args.check
        real = count(k, e, b, d, s, m, verbose=not args.json)
        check = {"K": k, "E": e, "B": b, "compiled": real, "fit": total(coef, k, e, b)}
    report: dict[str, Any] = {
        "D": d,
        "S": s,
        "M": m,
        "points": [
            {"K": p[0], "E": p[1], "B": p[2], "constraints": t}
            for p, t in zip(points, totals, strict=True)
        ],
        "terms": {name: int(c) for name, c in zip(TERMS, coef, strict=True)},
        "shapes": table,
        "check": check,
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"Batch(K, E, B, {d}, {s}, {m}): T = c0 + a K + e E + f B + x_e KE + x_f KB + x_fe EB")
    for p, t in zip(points, totals, strict=True):
        print(f"  compiled {p}: {t:,}")
    print("  " + ", ".join(f"{n} = {int(c):,}" for n, c in zip(TERMS, coef, strict=True)))
    for row in table:
        print(
            f"  K = {row['K']}, E = {row['E']}, B = {b}: {row['total']:,} "
            f"({row['per_fill']:,.0f} per fill)"
        )
    if check:
        print(
            f"  compiled Batch({check['K']}, {check['E']}, {b}, {d}, {s}, {m}): "
            f"{check['compiled']:,} ({check['compiled'] / b:,.0f} per fill; fit {check['fit']:,})"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
