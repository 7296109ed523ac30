#!/usr/bin/env python3
"""Benchmark zkmatch's crypto primitives (pure Python) and, optionally, vectorised variants.

Prints operations per second for Poseidon (2, 4 and 6 inputs, one call per hash and
batched through ``poseidon_many``), EdDSA-Poseidon signing and verification, and
Poseidon-cipher decryption of 7-element messages (with and without the ECDH an
operator does per message). ``--vectorised`` also times the numpy (object arrays) and
galois batch implementations kept here as the experiment behind docs/crypto.md.

    .venv/bin/python scripts/bench_crypto.py [--json] [--clock cpu] [--seconds 1.0]
                                             [--batch 512] [--vectorised]

``--clock cpu`` measures this process's CPU time instead of wall time. Each figure
is the best of ``--repeats`` runs of at least ``--seconds`` each (the
machine is shared, so the best run is the least disturbed one).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prover.crypto import cipher, eddsa, poseidon, poseidon_many  # noqa: E402
from prover.crypto.poseidon_constants import optimized_params  # noqa: E402
from prover.field import SNARK_FIELD as P  # noqa: E402

#: Clock of the measurements: wall time, or this process's CPU time (steadier on a
#: machine shared with other jobs, where wall time also counts waiting for a core).
CLOCKS: dict[str, Callable[[], float]] = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = CLOCKS["wall"]


def rate(fn: Callable[[], int], seconds: float, repeats: int) -> float:
    """Best ops/s over ``repeats`` runs; ``fn`` does some work and returns how many ops."""
    fn()  # warm up (constant generation, compilation, caches)
    best = 0.0
    for _ in range(repeats):
        ops, start = 0, _clock()
        while (elapsed := _clock() - start) < seconds:
            ops += fn()
        best = max(best, ops / elapsed)
    return best


# --- vectorised experiments -------------------------------------------------------------


def poseidon_many_numpy(rows: Sequence[Sequence[int]], init_state: int = 0) -> list[int]:
    """The optimised rounds over numpy object arrays, one array per state coordinate."""
    import numpy as np

    t = len(rows[0]) + 1
    opt = optimized_params(t)
    cols = [np.full(len(rows), init_state, dtype=object)]
    cols += [np.array([r[i] for r in rows], dtype=object) for i in range(t - 1)]
    s = [c + k for c, k in zip(cols, opt.first_constants, strict=True)]
    mds = opt.mds

    def sbox(x: Any) -> Any:
        y = x * x % P
        y = y * y % P
        return y * x % P

    def mix(x: list[Any], consts: Sequence[int] | None) -> list[Any]:
        out = []
        for i in range(t):
            acc = x[0] * mds[i][0]
            for j in range(1, t):
                acc = acc + x[j] * mds[i][j]
            acc = acc % P
            out.append(acc + consts[i] if consts is not None else acc)
        return out

    half = opt.rounds_f // 2
    for k in range(half):
        s = mix([sbox(x) for x in s], opt.full_constants[k] if k < half - 1 else None)
    m00 = mds[0][0]
    for r in range(opt.rounds_p):
        x0 = sbox(s[0] + opt.partial_constants[r])
        acc = x0 * m00
        for j, w in enumerate(opt.sparse_rows[r]):
            acc = acc + s[j + 1] * w
        new0 = acc % P
        for j, v in enumerate(opt.sparse_cols[r]):
            s[j + 1] = s[j + 1] + x0 * v
        s[0] = new0
    tail = opt.dense_tail
    c2 = opt.second_half_constants
    new = [s[0] + c2[0][0]]
    for i in range(1, t):
        acc = s[1] * tail[i - 1][0]
        for j in range(2, t):
            acc = acc + s[j] * tail[i - 1][j - 1]
        new.append(acc % P + c2[0][i])
    s = new
    for k in range(half - 1):
        s = mix([sbox(x) for x in s], c2[k + 1])
    s = [sbox(x) for x in s]
    acc = s[0] * mds[0][0]
    for j in range(1, t):
        acc = acc + s[j] * mds[0][j]
    return [int(v) for v in acc % P]


_GF: Any = None


def poseidon_many_galois(rows: Sequence[Sequence[int]], init_state: int = 0) -> list[int]:
    """Textbook rounds with galois.GF(p) arrays: state as a (t, batch) array, MDS as a matmul."""
    global _GF
    import galois
    import numpy as np

    from prover.crypto.poseidon_constants import params

    if _GF is None:
        _GF = galois.GF(P, verify=False)
    gf = _GF
    t = len(rows[0]) + 1
    prm = params(t)
    state = gf(np.array([[init_state, *r] for r in rows], dtype=object).T)
    mds = gf(np.array(prm.mds, dtype=object))
    consts = gf(np.array(prm.round_constants, dtype=object).reshape(-1, t, 1))
    half = prm.rounds_f // 2
    for r in range(prm.rounds_f + prm.rounds_p):
        state = state + consts[r]
        if r < half or r >= half + prm.rounds_p:
            state = state**5
        else:
            state[0] = state[0] ** 5
        state = mds @ state
    return [int(v) for v in state[0]]


# --- benchmarks ---------------------------------------------------------------------------


def bench(seconds: float, repeats: int, batch: int, vectorised: bool) -> dict[str, Any]:
    rng = random.Random(1)
    results: dict[str, Any] = {}

    for n in (2, 4, 6):
        rows = [[rng.randrange(P) for _ in range(n)] for _ in range(batch)]

        def single(rows: list[list[int]] = rows) -> int:
            for row in rows:
                poseidon(row)
            return len(rows)

        def batched(rows: list[list[int]] = rows) -> int:
            poseidon_many(rows)
            return len(rows)

        results[f"poseidon{n}_per_s"] = rate(single, seconds, repeats)
        results[f"poseidon{n}_batched_per_s"] = rate(batched, seconds, repeats)
        if vectorised:
            expect = poseidon_many(rows[:8])
            assert poseidon_many_numpy(rows[:8]) == expect
            assert poseidon_many_galois(rows[:8]) == expect

            def numpy_batch(rows: list[list[int]] = rows) -> int:
                poseidon_many_numpy(rows)
                return len(rows)

            def galois_batch(rows: list[list[int]] = rows) -> int:
                poseidon_many_galois(rows)
                return len(rows)

            results[f"poseidon{n}_numpy_object_per_s"] = rate(numpy_batch, seconds, repeats)
            results[f"poseidon{n}_galois_per_s"] = rate(galois_batch, seconds, repeats)

    keys = [eddsa.PrivateKey.from_seed(f"bench-{i}") for i in range(16)]
    msgs = [rng.randrange(P) for _ in range(64)]
    signed = [(k.public_key, m, k.sign(m)) for k, m in zip(keys * 4, msgs, strict=True)]

    def sign() -> int:
        for k, m in zip(keys, msgs, strict=False):
            k.sign(m)
        return len(keys)

    def verify() -> int:
        for a, m, s in signed[:16]:
            assert eddsa.verify(a, m, s)
        return 16

    def verify_cold() -> int:
        eddsa._valid_public_key.cache_clear()  # noqa: SLF001 - measure the subgroup check too
        for a, m, s in signed[:4]:
            assert eddsa.verify(a, m, s)
            eddsa._valid_public_key.cache_clear()  # noqa: SLF001
        return 4

    results["eddsa_sign_per_s"] = rate(sign, seconds, repeats)
    results["eddsa_verify_per_s"] = rate(verify, seconds, repeats)
    results["eddsa_verify_new_key_per_s"] = rate(verify_cold, seconds, repeats)

    operator = eddsa.PrivateKey.from_seed("bench-operator")
    messages = []
    for i in range(16):
        eph = eddsa.PrivateKey.from_seed(f"bench-ephemeral-{i}")
        key = cipher.shared_key(eph, operator.public_key)
        plain = [rng.randrange(P) for _ in range(7)]
        messages.append((eph.public_key, key, i, cipher.encrypt(plain, key, i)))

    def decrypt() -> int:
        for _, key, nonce, ct in messages:
            cipher.decrypt(ct, key, nonce, 7)
        return len(messages)

    def ecdh_decrypt() -> int:
        for eph_pub, _, nonce, ct in messages[:4]:
            cipher.decrypt(ct, cipher.shared_key(operator, eph_pub), nonce, 7)
        return 4

    results["decrypt7_per_s"] = rate(decrypt, seconds, repeats)
    results["ecdh_decrypt7_per_s"] = rate(ecdh_decrypt, seconds, repeats)
    return results


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model or platform.processor(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    ap.add_argument("--seconds", type=float, default=1.0, help="minimum time per run (default 1.0)")
    ap.add_argument("--repeats", type=int, default=3, help="runs per figure, best kept (default 3)")
    ap.add_argument(
        "--batch", type=int, default=512, help="rows per poseidon_many call (default 512)"
    )
    ap.add_argument(
        "--clock",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall time (default) or process CPU time (for a busy shared machine)",
    )
    ap.add_argument("--vectorised", action="store_true", help="also time numpy and galois batches")
    args = ap.parse_args(argv)
    global _clock
    _clock = CLOCKS[args.clock]
    results = bench(args.seconds, args.repeats, args.batch, args.vectorised)
    report = {
        "machine": machine(),
        "settings": {
            "clock": args.clock,
            "seconds": args.seconds,
            "repeats": args.repeats,
            "batch": args.batch,
        },
        "results": {k: round(v, 1) for k, v in results.items()},
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(
            f"machine: {report['machine']['cpu']} ({report['machine']['cores']} cores), "
            f"Python {report['machine']['python']}"
        )
        for k, v in report["results"].items():
            print(f"  {k:36s} {v:12,.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
