"""``zkmatch bench``: what it costs to prove one full batch, step by step.

:func:`full_batch` builds, with the Python model, a random but valid batch that uses all
``B`` fill slots (and all ``E`` entry slots): maker accounts rest ``B`` sell orders in an
earlier, unproven batch; in the measured batch taker accounts enter buy orders that cross
them, and each fill takes one resting order (fully or partly). Account indices are random
in the ``2^D`` tree.

:func:`run_bench` then builds (cached) ``Batch(K, E, B, D, S, M)`` and measures:

- ``witness_s``: the witness, through our pipeline, with ``witness_generator``: ``wasm``
  (``snarkjs wtns calculate``, the default) or ``cpp`` (circom's C++ generator, built once
  per circuit and not timed; ``witness="cpp"|"auto"`` or ``ZKMATCH_WITNESS``);
- ``prove_s``: the ``groth16 prove`` step of :func:`prover.proving.circuit.prove`, and
  ``end_to_end_s``: the whole :func:`prover.proving.circuit.prove` call (input JSON, witness,
  prove, reading the proof);
- ``raw_prove_s``: ``snarkjs groth16 prove`` run directly on the same zkey and witness
  (under ``/usr/bin/time -v`` when present, which gives ``peak_rss_mb``; otherwise
  ``getrusage(RUSAGE_CHILDREN)``, an upper bound: the largest child so far);
- ``overhead_pct = (prove_s - raw) / prove_s``, raw being the same prover run bare (raw
  snarkjs, or raw groth16py when ours is arkworks): what our wrapper adds to the prover;
- ``arkworks_prove_s`` / ``arkworks_peak_rss_mb``: groth16py's ``prove_wtns`` on the same
  zkey and witness, in a child process (key import not timed), alternating with the raw
  snarkjs runs; ``arkworks_ratio`` = arkworks / raw snarkjs (``None`` without groth16py);
- ``parallel``: ``workers`` copies of the batch proven at once (witness + proof each, the
  chosen prover, threads as :func:`prover.proving.batches.prove_all` runs them) against one at
  a time: fills proven per second with 1 and with all workers, and the speed-up;
- proof size (``proof.json`` bytes and the 256-byte Solidity calldata), fills per second
  (``B / end_to_end_s``) and ``verify_s``.

The batch is random each run (pass ``seed`` to repeat one); the costs do not depend on the
values, only on the shape.
"""

from __future__ import annotations

import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from prover.crypto import eddsa
from prover.errors import ToolError, ZkmatchError
from prover.exchange.batch import BatchBuilder, BatchResult
from prover.exchange.constants import SIDE_BUY, SIDE_SELL, TIF_GTC, TIF_IOC
from prover.exchange.domain import BatchConfig, Market, Order, OrderRef, PriceSet, SignedOrder
from prover.exchange.state import ExchangeState
from prover.exchange.venue import development_venue
from prover.proving.backends import ProverBackend, arkworks_available, backend
from prover.proving.batch_circuit import batch_spec, circuit_inputs
from prover.proving.batches import default_workers, expected_public
from prover.proving.circuit import (
    Artifacts,
    WitnessGenerator,
    build,
    prove,
    verify,
    witness_generator,
)
from prover.toolchain.common import Progress, tool_command

#: Bytes of ``verifyProof``'s proof arguments: pA (2), pB (4), pC (2) field elements of 32.
CALLDATA_PROOF_BYTES = 8 * 32
DEPOSIT = 10**15
MARK = 1_000_000
BASE_TIME = 1_700_000_000


@dataclass(frozen=True)
class BenchConfig:
    """The batch shape to measure (defaults: a small instance)."""

    fills: int = 1
    account_bits: int = 20
    slot_bits: int = 8
    markets: int = 2
    accounts: int = 4
    entries: int = 2

    def batch_config(self) -> BatchConfig:
        return BatchConfig(self.account_bits, self.slot_bits, self.markets, self.accounts,
                           self.entries, self.fills)


class BenchReport(TypedDict):
    """What ``zkmatch bench --json`` prints (seconds, bytes, MiB)."""

    circuit: str
    circuit_key: str
    params: dict[str, int]
    constraints: int
    constraints_per_fill: float
    fills: int
    entries_used: int
    accounts_used: int
    ptau: str | None
    setup: str
    prover: str
    build_cached: bool
    build_timings: dict[str, float]
    model_s: float
    repeat: int
    witness_s: float
    witness_generator: str
    prove_s: float
    end_to_end_s: float
    raw_prove_s: float
    overhead_pct: float
    arkworks_prove_s: float | None
    arkworks_peak_rss_mb: float | None
    arkworks_ratio: float | None
    parallel: dict[str, float]
    peak_rss_mb: float | None
    peak_rss_source: str
    proof_json_bytes: int
    calldata_proof_bytes: int
    fills_per_s: float
    verify_s: float
    verified: bool
    load_avg: list[float]
    cpus: int


def _key(index: int) -> bytes:
    return eddsa.derive_private_key(f"zkmatch-bench:{index}")


def bench_markets(m: int) -> tuple[Market, ...]:
    """``m`` markets with tick 1, IMR 10 %, MMR 5 %, maker 200 ppm, taker 500 ppm."""
    return tuple(Market(i, 1, 1000, 500, 200, 500) for i in range(m))


def full_batch(cfg: BenchConfig, seed: int | None = None) -> BatchResult:
    """A random valid batch of shape ``cfg`` with all ``B`` fills and ``E`` entries used.

    Needs ``K >= 4`` (fee account, insurance fund, a taker, a maker) and enough order
    slots: the makers rest ``B`` orders in ``(K - 2 - takers) * 2^S`` slots.
    """
    rng = random.Random(seed)
    config = cfg.batch_config()
    if cfg.accounts < 4:
        raise ZkmatchError("bench needs K >= 4 account slots (fee, insurance, taker, maker)")
    takers_n = max(1, min(cfg.entries, cfg.fills, (cfg.accounts - 2) // 2))
    makers_n = cfg.accounts - 2 - takers_n
    slots = 1 << cfg.slot_bits
    if makers_n * slots < cfg.fills:
        raise ZkmatchError(
            f"{makers_n} maker accounts with 2^{cfg.slot_bits} order slots each cannot rest "
            f"{cfg.fills} orders; raise --slot-bits or --accounts"
        )
    markets = bench_markets(cfg.markets)
    venue, feed = development_venue(markets)
    state = ExchangeState(markets, cfg.account_bits, cfg.slot_bits, venue=venue)
    indices = rng.sample(range(2, min(1 << cfg.account_bits, 1 << 40)), takers_n + makers_n)
    takers, makers = indices[:takers_n], indices[takers_n:]
    for index in indices:
        state.create_account(index, eddsa.public_key(_key(index)), DEPOSIT)

    # Which resting order each fill takes: fill f goes to taker f % T, in its market.
    plan: list[tuple[int, int, int, int, int]] = []  # taker, maker, order id, price, qty
    next_id = dict.fromkeys(makers, 1)
    for f in range(cfg.fills):
        taker = takers[f % takers_n]
        maker = makers[f % makers_n]
        order_id = next_id[maker]
        next_id[maker] += 1
        plan.append((taker, maker, order_id, MARK + rng.randrange(0, 50), rng.randrange(1, 6)))

    def market_of(taker: int) -> int:
        return takers.index(taker) % cfg.markets

    # Batch 0 (not measured): the makers rest their sell orders.
    setup_cfg = BatchConfig(cfg.account_bits, cfg.slot_bits, cfg.markets, 2 + makers_n,
                            max(1, cfg.fills), 1)
    marks = tuple(MARK for _ in markets)
    opening = PriceSet(0, BASE_TIME, marks, (0,) * cfg.markets).signed(feed)
    builder = BatchBuilder(state, setup_cfg, opening)
    for taker, maker, order_id, price, qty in plan:
        m = market_of(taker)
        size = qty + rng.randrange(0, 3)
        order = Order(maker, m, SIDE_SELL, price, size, order_id, 1 << 39,
                      markets[m].fee_cap_needed(TIF_GTC), TIF_GTC)
        builder.add_entry(SignedOrder.sign(order, _key(maker)))
    state = builder.seal().state

    # Batch 1 (measured): takers cross; spare entry slots rest buys below the asks.
    funding = tuple(rng.randrange(-1000, 1000) for _ in markets)
    builder = BatchBuilder(state, config, PriceSet(1, BASE_TIME + 60, marks, funding).signed(feed))
    taker_ids: dict[int, int] = {}
    for taker in takers:
        mine = [p for p in plan if p[0] == taker]
        m = market_of(taker)
        order = Order(taker, m, SIDE_BUY, max(p[3] for p in mine), sum(p[4] for p in mine), 1,
                      1 << 39, markets[m].fee_cap_needed(TIF_IOC), TIF_IOC)
        builder.add_entry(SignedOrder.sign(order, _key(taker)))
        taker_ids[taker] = 1
    spare = cfg.entries - takers_n
    for i in range(spare):
        taker = takers[i % takers_n]
        m = market_of(taker)
        order = Order(taker, m, SIDE_BUY, MARK - 100 - i, 1, 2 + i, 1 << 39,
                      markets[m].fee_cap_needed(TIF_GTC), TIF_GTC)
        builder.add_entry(SignedOrder.sign(order, _key(taker)))
    # Fills follow the order of entries (a taker trades at its entry): taker by taker.
    for taker, maker, order_id, _, qty in sorted(plan, key=lambda p: takers.index(p[0])):
        builder.add_fill(OrderRef(taker, taker_ids[taker]), OrderRef(maker, order_id), qty)
    return builder.seal()


#: A child that proves with groth16py and prints the seconds of ``prove_wtns`` alone.
_ARKWORKS_CHILD = (
    "import sys, time, groth16py\n"
    "pk, _ = groth16py.import_zkey(sys.argv[1])\n"
    "t = time.monotonic(); groth16py.prove_wtns(pk, sys.argv[2])\n"
    "print(time.monotonic() - t)\n"
)


def _peak_rss(stats: Path) -> float | None:
    if stats.is_file():
        for line in stats.read_text().splitlines():
            if "Maximum resident set size" in line:
                return int(line.rsplit(":", 1)[1]) / 1024
    return None


def _raw_arkworks(zkey: Path, wtns: Path, folder: Path) -> tuple[float, float | None]:
    """groth16py's ``prove_wtns`` in a child process: (seconds, peak RSS MiB or None)."""
    argv = [sys.executable, "-c", _ARKWORKS_CHILD, str(zkey), str(wtns)]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    stats = folder / "time-arkworks.txt"
    if timer:
        argv = [timer, "-v", "-o", str(stats), *argv]
    proc = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise ToolError(f"groth16py prove (raw) failed: {proc.stderr[-800:]}")
    return float(proc.stdout.strip().splitlines()[-1]), _peak_rss(stats) if timer else None


def _raw_prove(zkey: Path, wtns: Path, folder: Path) -> tuple[float, float | None, str]:
    """``snarkjs groth16 prove`` run directly: (seconds, peak RSS MiB, where it came from)."""
    argv = [*tool_command("snarkjs"), "groth16", "prove", str(zkey), str(wtns),
            str(folder / "raw_proof.json"), str(folder / "raw_public.json")]
    timer = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    stats = folder / "time.txt"
    if timer:
        argv = [timer, "-v", "-o", str(stats), *argv]
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.monotonic()
    proc = subprocess.run(argv, cwd=folder, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0 or not (folder / "raw_proof.json").is_file():
        raise ToolError(f"snarkjs groth16 prove (raw) failed: {proc.stdout[-800:]}"
                        f"{proc.stderr[-800:]}")
    if timer and stats.is_file():
        for line in stats.read_text().splitlines():
            if "Maximum resident set size" in line:
                return seconds, int(line.rsplit(":", 1)[1]) / 1024, "/usr/bin/time -v"
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if after > before:
        return seconds, after / 1024, "getrusage(RUSAGE_CHILDREN)"
    return seconds, None, "unavailable"


def run_bench(
    cfg: BenchConfig,
    *,
    ptau: Path | None = None,
    progress: Progress | None = None,
    seed: int | None = None,
    repeat: int = 1,
    witness: str | None = None,
    prover: str | None = None,
    workers: int | None = None,
) -> BenchReport:
    """Build the batch circuit for ``cfg`` (cached), prove one full batch, measure it.

    With ``repeat > 1`` our prove and the raw snarkjs prove run alternately ``repeat``
    times each and every time is the best (smallest) of its runs, which damps the noise
    of a shared machine; the peak memory is the largest seen. ``witness`` chooses the
    witness generator (:func:`prover.proving.circuit.witness_generator`), resolved (and for ``cpp``
    built) once before anything is timed; ``prover`` the backend of "ours" and of the
    parallel rate; ``workers`` the parallel width (default: one per core for arkworks).
    """
    if repeat < 1:
        raise ZkmatchError(f"repeat must be at least 1, got {repeat}")
    say = progress or (lambda _m: None)
    spec = batch_spec(K=cfg.accounts, E=cfg.entries, B=cfg.fills, D=cfg.account_bits,
                      S=cfg.slot_bits, M=cfg.markets)
    start = time.monotonic()
    result = full_batch(cfg, seed)
    model_s = time.monotonic() - start
    say(f"bench: model built a batch with {len(result.fills)} fills, "
        f"{len(result.entries)} entries in {model_s:.1f} s")
    artifacts = build(spec, ptau, progress)
    generator = witness_generator(artifacts, witness, progress)
    engine = backend(prover)
    width = workers or max(2, default_workers(engine.name))
    inputs = circuit_inputs(result.witness.as_circuit_inputs())
    with tempfile.TemporaryDirectory(prefix="zkmatch-bench-") as scratch:
        folder = Path(scratch)
        ends: list[float] = []
        witnesses: list[float] = []
        proves: list[float] = []
        raws: list[float] = []
        peaks: list[float] = []
        arks: list[float] = []
        ark_peaks: list[float] = []
        source = "unavailable"
        for run in range(repeat):
            start = time.monotonic()
            proof = prove(artifacts, inputs, progress, work_dir=folder, witness=generator,
                          prover=engine)
            ends.append(time.monotonic() - start)
            witnesses.append(proof.timings["witness"])
            proves.append(proof.timings["prove"])
            say(f"bench: raw snarkjs groth16 prove on the same zkey and witness "
                f"({run + 1}/{repeat})")
            raw, peak, source = _raw_prove(artifacts.zkey, folder / "witness.wtns", folder)
            raws.append(raw)
            if peak is not None:
                peaks.append(peak)
            if arkworks_available():
                say(f"bench: raw groth16py (arkworks) prove on the same zkey and witness "
                    f"({run + 1}/{repeat})")
                ark, ark_peak = _raw_arkworks(artifacts.zkey, folder / "witness.wtns", folder)
                arks.append(ark)
                if ark_peak is not None:
                    ark_peaks.append(ark_peak)
        proof_bytes = (folder / "proof.json").stat().st_size
        parallel = _parallel_rate(artifacts, inputs, generator, engine, width, len(result.fills),
                                  folder, say)
    end_to_end, raw_s = min(ends), min(raws)
    expected = expected_public(result)
    if proof.public != expected:
        raise ZkmatchError(f"bench: public signals {proof.public} differ from the model's")
    start = time.monotonic()
    ok = verify(artifacts, proof.proof, proof.public)
    verify_s = time.monotonic() - start
    prove_s = min(proves)
    # our wrapper against the same prover run bare
    same_raw = min(arks) if engine.name == "arkworks" and arks else raw_s
    report: BenchReport = {
        "circuit": spec.name,
        "circuit_key": artifacts.key[:16],
        "params": dict(zip("KEBDSM", spec.params, strict=True)),
        "constraints": artifacts.constraints,
        "constraints_per_fill": artifacts.constraints / cfg.fills,
        "fills": len(result.fills),
        "entries_used": len(result.entries),
        "accounts_used": sum(1 for a in result.witness.accounts if a.used),
        "ptau": str(artifacts.ptau) if artifacts.ptau else None,
        "setup": artifacts.setup_kind,
        "prover": engine.name,
        "build_cached": artifacts.cached,
        "build_timings": artifacts.timings,
        "model_s": model_s,
        "repeat": repeat,
        "witness_s": min(witnesses),
        "witness_generator": proof.witness_generator,
        "prove_s": prove_s,
        "end_to_end_s": end_to_end,
        "raw_prove_s": raw_s,
        "overhead_pct": 100.0 * (prove_s - same_raw) / prove_s if prove_s > 0 else 0.0,
        "arkworks_prove_s": min(arks) if arks else None,
        "arkworks_peak_rss_mb": max(ark_peaks) if ark_peaks else None,
        "arkworks_ratio": min(arks) / raw_s if arks and raw_s > 0 else None,
        "parallel": parallel,
        "peak_rss_mb": max(peaks) if peaks else None,
        "peak_rss_source": source,
        "proof_json_bytes": proof_bytes,
        "calldata_proof_bytes": CALLDATA_PROOF_BYTES,
        "fills_per_s": len(result.fills) / end_to_end if end_to_end > 0 else 0.0,
        "verify_s": verify_s,
        "verified": ok,
        "load_avg": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count() or 0,
    }
    say(f"bench: {report['constraints']} constraints, prove {prove_s:.2f} s "
        f"(raw snarkjs {raw_s:.2f} s), verify {verify_s:.2f} s")
    return report


def _parallel_rate(
    artifacts: Artifacts,
    inputs: dict[str, Any],
    generator: WitnessGenerator,
    engine: ProverBackend,
    width: int,
    fills: int,
    folder: Path,
    say: Progress,
) -> dict[str, float]:
    """Fills per second proving one batch at a time, then ``width`` at once (witness + proof
    each, as :func:`prover.proving.batches.prove_all` does)."""

    def one(index: int) -> None:
        work = folder / f"parallel-{index}"
        prove(artifacts, inputs, None, work_dir=work, witness=generator, prover=engine)

    say(f"bench: {width} proofs one at a time, then {width} at once ({engine.name})")
    start = time.monotonic()
    for i in range(width):
        one(i)
    serial = time.monotonic() - start
    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=width) as pool:
        list(pool.map(one, range(width)))
    wide = time.monotonic() - start
    return {
        "workers": width,
        "proofs": width,
        "serial_s": serial,
        "parallel_s": wide,
        "fills_per_s_1": width * fills / serial,
        "fills_per_s_all": width * fills / wide,
        "speedup": serial / wide,
    }


TABLE_HEADER = (
    "| B | K | E | D | S | M | constraints | per fill | witness (s) | prove, ours (s) "
    "| prove, raw snarkjs (s) | overhead | end to end (s) | fills/s | peak RSS (MiB) "
    "| proof.json (B) | verify (s) | load |\n"
    "| " + " | ".join(["---"] * 18) + " |"
)


def table_row(r: BenchReport) -> str:
    """One Markdown row of BENCHMARKS.md's proving table (columns of :data:`TABLE_HEADER`)."""
    p = r["params"]
    peak = f"{r['peak_rss_mb']:.0f}" if r["peak_rss_mb"] is not None else "n/a"
    return (
        f"| {p['B']} | {p['K']} | {p['E']} | {p['D']} | {p['S']} | {p['M']} "
        f"| {r['constraints']:,} | {r['constraints_per_fill']:,.0f} | {r['witness_s']:.2f} "
        f"| {r['prove_s']:.2f} | {r['raw_prove_s']:.2f} | {r['overhead_pct']:.1f} % "
        f"| {r['end_to_end_s']:.2f} | {r['fills_per_s']:.3f} | {peak} "
        f"| {r['proof_json_bytes']} | {r['verify_s']:.2f} | {r['load_avg'][0]:.1f} |"
    )


__all__ = [
    "CALLDATA_PROOF_BYTES",
    "TABLE_HEADER",
    "BenchConfig",
    "BenchReport",
    "full_batch",
    "run_bench",
    "table_row",
]
