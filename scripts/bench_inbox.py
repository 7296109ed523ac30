#!/usr/bin/env python3
"""Benchmark the operator opening inbox messages: decode + signature verification.

Prints messages per second, end to end, for valid messages (orders by default, each
from its own account unless ``--accounts`` says fewer):

* ``reference``: ``[inbox.decode(m, s)]`` then ``[entry.verify(key)]``;
* ``decode_many`` (pure ints) with the reference verification: the decoding steps
  (fixed-scalar NAF, projective coordinates, batched inversions, table square roots);
* ``+ verify_many`` (pure ints): batch verification;
* ``gmpy2`` (when importable): the same with gmpy2's integers;
* ``open_messages`` with 1 and with 2 worker processes (pool started beforehand; its
  start-up time is printed apart);

and the cost of each part per message (``--parts``). Every figure is the best of
``--repeats`` runs (the machine is shared: the best run is the least disturbed one); the
median is printed too. Compare ratios within one run.

    .venv/bin/python scripts/bench_inbox.py [--json] [--messages 1000] [--repeats 3]
                                            [--accounts N] [--cancels 0.0] [--parts]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prover.crypto import eddsa  # noqa: E402
from prover.crypto.babyjub import SUBORDER  # noqa: E402
from prover.exchange import inbox  # noqa: E402
from prover.exchange.domain import Cancel, Order, SignedCancel, SignedOrder  # noqa: E402
from prover.operator import decrypt  # noqa: E402

Workload = tuple[list[inbox.Message], int, list[tuple[int, int]]]


def workload(n: int, accounts: int, cancels: float, seed: int) -> Workload:
    """``n`` valid messages to one operator, their operator scalar and the account keys."""
    rng = random.Random(seed)
    keys = [eddsa.derive_private_key(f"bench-inbox/{seed}/{i}") for i in range(accounts)]
    pubkeys = [eddsa.public_key(k) for k in keys]
    operator = eddsa.derive_private_key(f"bench-inbox/{seed}/operator")
    messages = []
    for j in range(n):
        a = j % accounts
        if rng.random() < cancels:
            entry: SignedOrder | SignedCancel = SignedCancel.sign(Cancel(a, j + 1), keys[a])
        else:
            order = Order(
                a, rng.randrange(4), rng.randrange(2), rng.randrange(1, 1 << 40),
                rng.randrange(1, 1 << 32), j + 1, rng.randrange(1 << 40),
                rng.randrange(10**6), rng.randrange(3),
            )  # fmt: skip
            entry = SignedOrder.sign(order, keys[a])
        eph = rng.randrange(1, SUBORDER)
        messages.append(inbox.encrypt_entry(entry, eddsa.public_key(operator), eph))
    return messages, eddsa.secret_scalar(operator), pubkeys


def measure(fn: Callable[[], int], repeats: int, workers: int = 1) -> dict[str, float]:
    """Messages/s over ``repeats`` calls of ``fn`` (which returns the messages it did):
    best and median wall-clock rates, and messages per CPU-second of this process and
    its pool (``workers > 1``), the figure that does not depend on the machine's load."""
    rates = []
    cpu, done_total = 0.0, 0
    for _ in range(repeats):
        cpu_start = _process_cpu(workers)
        start = time.perf_counter()
        done = fn()
        rates.append(done / (time.perf_counter() - start))
        cpu += _process_cpu(workers) - cpu_start
        done_total += done
    return {
        "best": max(rates),
        "median": statistics.median(rates),
        "per_cpu_second": done_total / cpu if cpu > 0 else float("nan"),
    }


def _process_cpu(workers: int) -> float:
    """CPU seconds used so far by this process and by the pool of ``workers`` processes
    (read from /proc, Linux only; the pool's own workers only, not other children)."""
    total = time.process_time()
    pool = decrypt._POOLS.get(workers) if workers > 1 else None
    if pool is not None:
        tick = os.sysconf("SC_CLK_TCK")
        for pid in list(pool._processes):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def _check_all_valid(opened: Sequence[decrypt.Opened]) -> None:
    if not all(ok is True for _, ok in opened):
        raise SystemExit("bench_inbox: a message did not open as a valid entry")


def end_to_end(
    wl: Workload, repeats: int, reference_messages: int, workers: Sequence[int]
) -> list[dict[str, Any]]:
    messages, scalar, pubkeys = wl
    ref_msgs = messages[:reference_messages]
    backends = decrypt.available_backends()
    results: list[dict[str, Any]] = []

    def add(name: str, fn: Callable[[], int], reps: int = repeats, **extra: Any) -> None:
        m = measure(fn, reps, extra.get("workers", 1))
        results.append({"name": name, **m, **extra})
        print(
            f"  {name:<44} {m['best']:7.1f} msg/s (median {m['median']:6.1f});"
            f" {m['per_cpu_second']:6.1f} per CPU-second",
            flush=True,
        )

    def reference() -> int:
        decoded = [inbox.decode(m, scalar) for m in ref_msgs]
        oks = [d.entry.verify(pubkeys[d.entry.account]) for d in decoded]  # type: ignore[union-attr]
        assert all(oks)
        return len(ref_msgs)

    def steps(backend: str, batch: bool) -> Callable[[], int]:
        def run() -> int:
            msgs = ref_msgs if not batch else messages
            decoded = decrypt.decode_many(msgs, scalar, backend=backend)
            items = [(d.entry, pubkeys[d.entry.account]) for d in decoded]  # type: ignore[union-attr]
            if batch:
                oks = decrypt.verify_many(items, backend=backend)  # type: ignore[arg-type]
            else:
                oks = [e.verify(k) for e, k in items]  # type: ignore[union-attr]
            assert all(oks)
            return len(msgs)

        return run

    add("reference (inbox.decode + entry.verify)", reference, max(1, repeats - 1))
    add("decode_many [int] + reference verify", steps("int", False), max(1, repeats - 1))
    add("decode_many + verify_many [int]", steps("int", True))
    if "gmpy2" in backends:
        add("decode_many + verify_many [gmpy2]", steps("gmpy2", True))
    best_backend = decrypt.default_backend()

    def pubkey_of(account: int) -> tuple[int, int] | None:
        return pubkeys[account] if account < len(pubkeys) else None

    for w in workers:
        start = time.perf_counter()
        if w > 1:  # start the pool and warm it (imports, Poseidon compilation)
            decrypt.open_messages(messages[: 16 * w], scalar, pubkey_of, workers=w)
        startup = time.perf_counter() - start

        def opened(w: int = w) -> int:
            out = decrypt.open_messages(messages, scalar, pubkey_of, workers=w)
            _check_all_valid(out)
            return len(out)

        name = f"open_messages [{best_backend}], {w} process{'es' if w > 1 else ''}"
        add(name, opened, workers=w, backend=best_backend, pool_startup_s=startup)
        if w > 1:
            print(f"  {'':<44} (pool start-up and warm-up {startup:.2f} s, not counted)")
    decrypt.close_pools()
    return results


def _cpu_us(fn: Callable[[], object], repeats: int, per: int) -> float:
    """Best CPU time of ``fn`` over ``repeats`` calls, in microseconds per ``per`` items."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        fn()
        best = min(best, time.process_time() - start)
    return best / per * 1e6


def _reference_parts(wl: Workload, repeats: int) -> dict[str, float]:
    messages, scalar, pubkeys = wl
    sample = messages[:50]
    decoded = [inbox.decode(m, scalar) for m in sample]
    entries = [d.entry for d in decoded if d.entry is not None]
    n = len(sample)
    return {
        "ecdh s*(8E) (inbox.operator_shared_key)": _cpu_us(
            lambda: [inbox.operator_shared_key(scalar, m.eph) for m in sample], repeats, n
        ),
        "R8 decompression (inbox.small_x_from_y)": _cpu_us(
            lambda: [inbox.small_x_from_y(d.plaintext[1]) for d in decoded],
            repeats,
            n,
        ),
        "decode, all of it (inbox.decode)": _cpu_us(
            lambda: [inbox.decode(m, scalar) for m in sample], repeats, n
        ),
        "verify, all of it (entry.verify, key check cached)": _cpu_us(
            lambda: [e.verify(pubkeys[e.account]) for e in entries], repeats, n
        ),
    }


def _backend_parts(wl: Workload, repeats: int, backend: str) -> dict[str, float]:
    messages, scalar, pubkeys = wl
    n = len(messages)
    kern = decrypt._kernel(backend)
    num = kern.num
    eph = [(num(m.eph[0]), num(m.eph[1])) for m in messages]
    plan = decrypt._scalar_plan(scalar % SUBORDER)
    keys = kern.shared_keys(eph, plan)
    xs = [num(m.ciphertext[0]) for m in messages]
    decoded = decrypt.decode_many(messages, scalar, backend=backend)
    ys = [d.plaintext[1] for d in decoded]
    items = [(d.entry, pubkeys[d.entry.account]) for d in decoded if d.entry is not None]
    prepared = [decrypt._prepare(e, key, kern) for e, key in items]
    r8s = [e.signature.r8 for e, _ in items]

    def perm_twice() -> None:
        for x in xs:
            kern.perm4(x, x, x, x)
            kern.perm4(x, x, x, x)

    parts: dict[str, Callable[[], object]] = {
        "ecdh s*(8E), fixed-scalar NAF, projective": lambda: kern.shared_keys(eph, plan),
        "batched inversion of the shared keys' Z": lambda: kern.inv_many([q[2] for q in keys]),
        "Poseidon cipher: 2 permutations, width 4": perm_twice,
        "R8 decompression, batched": lambda: decrypt._small_x_from_y_many(ys, kern),
        "decode_many, all of it": lambda: decrypt.decode_many(messages, scalar, backend=backend),
        "order hash Poseidon(9), width 10": lambda: [kern.hash10(*[x] * 10) for x in xs],
        "Poseidon(5) for h, width 6": lambda: [kern.hash6(x, x, x, x, x, x) for x in xs],
        "R8 subgroup test (Tate pairing)": lambda: [kern.in_subgroup(*r8) for r8 in r8s],
        "per-signature preparation (both hashes, checks)": lambda: [
            decrypt._prepare(e, key, kern) for e, key in items
        ],
        "batch equation (one MSM for the batch)": lambda: decrypt._batch_holds(prepared, kern),  # type: ignore[arg-type]
        "verify_many, all of it": lambda: decrypt.verify_many(items, backend=backend),
    }
    return {name: _cpu_us(fn, repeats, n) for name, fn in parts.items()}


def parts(wl: Workload, repeats: int) -> dict[str, dict[str, float]]:
    """Microseconds per message of each part, per backend (CPU time, best of repeats)."""
    out = {"reference": _reference_parts(wl, repeats)}
    for backend in decrypt.available_backends():
        out[backend] = _backend_parts(wl, repeats, backend)
    for name, row in out.items():
        print(f"  [{name}] microseconds per message (CPU time)")
        for part, us in row.items():
            print(f"    {part:<52} {us:9.1f}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument(
        "--reference-messages",
        type=int,
        default=200,
        help="messages for the slow reference steps (default 200)",
    )
    parser.add_argument(
        "--accounts", type=int, default=None, help="distinct senders (default: one per message)"
    )
    parser.add_argument("--cancels", type=float, default=0.0, help="fraction of cancels")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--parts", action="store_true", help="also time each part")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object at the end")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    print(
        f"bench_inbox: {args.messages} messages, load average {load_before[0]:.2f}, "
        f"backends {', '.join(decrypt.available_backends())}",
        flush=True,
    )
    start = time.perf_counter()
    wl = workload(args.messages, args.accounts or args.messages, args.cancels, args.seed)
    print(f"  (built the messages in {time.perf_counter() - start:.1f} s)", flush=True)
    report: dict[str, Any] = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
        "backends": list(decrypt.available_backends()),
        "messages": args.messages,
        "accounts": args.accounts or args.messages,
        "cancels": args.cancels,
        "load_before": load_before,
    }
    report["results"] = end_to_end(wl, args.repeats, args.reference_messages, args.workers)
    if args.parts:
        report["parts_us"] = parts(wl, args.repeats)
    report["load_after"] = os.getloadavg()
    print(f"  load average after: {report['load_after'][0]:.2f}")
    if args.json:
        print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
