"""Ray proving throughput with 1 and with 2 local workers, on the same jobs.

    .venv/bin/python scripts/bench_ray.py [--jobs 6] [--fills 2 --account-bits 4 ...]

For each worker count a local Ray cluster is started with that many cpus, the circuit is
shipped, one warm-up job runs on every worker (each fetches and caches the key once), then
``--jobs`` copies of one full random batch are proven and timed from the first submit to
the last result. Prints jobs/s per worker count, the speed-up, and the per-job scheduling
overhead (wall time of a job on the cluster minus its witness + prove seconds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from prover.bench import BenchConfig, full_batch
from prover.proving.batch_circuit import batch_spec, circuit_inputs
from prover.proving.circuit import build
from prover.proving.distributed import RayProvers


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=6)
    parser.add_argument("--fills", type=int, default=2)
    parser.add_argument("--account-bits", type=int, default=4)
    parser.add_argument("--slot-bits", type=int, default=2)
    args = parser.parse_args()
    cfg = BenchConfig(fills=args.fills, account_bits=args.account_bits, slot_bits=args.slot_bits)
    spec = batch_spec(K=cfg.accounts, E=cfg.entries, B=cfg.fills, D=cfg.account_bits,
                      S=cfg.slot_bits, M=cfg.markets)
    artifacts = build(spec)
    inputs = circuit_inputs(full_batch(cfg, seed=1).witness.as_circuit_inputs())
    report: dict[str, object] = {"circuit": spec.name, "constraints": artifacts.constraints,
                                 "jobs": args.jobs}
    for cpus in (1, 2):
        start = time.monotonic()
        with RayProvers("local", artifacts, cpus=cpus) as ray:
            ready = time.monotonic() - start
            for warm in [ray.submit(inputs) for _ in range(cpus)]:
                warm.result()
            t0 = time.monotonic()
            futures = [(time.monotonic(), ray.submit(inputs)) for _ in range(args.jobs)]
            results = [f.result() for _, f in futures]
            wall = time.monotonic() - t0
        work = [r["timings"]["witness"] + r["timings"]["prove"] for r in results]
        report[f"workers_{cpus}"] = {
            "cluster_start_s": round(ready, 2),
            "wall_s": round(wall, 2),
            "jobs_per_s": round(args.jobs / wall, 4),
            "job_work_s_median": round(statistics.median(work), 2),
            "overhead_per_job_s": round(wall * cpus / args.jobs - statistics.median(work), 2),
            "workers_seen": len({r["worker"] for r in results}),
        }
    one, two = report["workers_1"], report["workers_2"]
    assert isinstance(one, dict) and isinstance(two, dict)
    report["speedup"] = round(two["jobs_per_s"] / one["jobs_per_s"], 2)
    report["load_avg"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
