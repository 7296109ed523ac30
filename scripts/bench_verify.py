#!/usr/bin/env python3
"""Benchmark the Python Groth16 verifier against ``snarkjs groth16 verify``.

Both as whole processes on the same proof (what a verifier runs: start, read the three
files, verify), and the Python verifier in process (key loaded once, then per proof).

    .venv/bin/python scripts/bench_verify.py [--vkey VK --proof PROOF --public PUBLIC]
                                             [--runs 5] [--json]

Without files it builds the six-public-input stand-in circuit of the Rollup tests
(tests/chain/circuits/RollupShape.circom, cached) and proves once: the batch circuit's
verifier has the same shape (six public inputs), so the verification cost is the same.
Figures are the median of ``--runs`` runs; the load average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from prover.proving.circuit import CircuitSpec, build, prove  # noqa: E402
from prover.toolchain.common import NODE_MODULES, find_node  # noqa: E402
from prover.verifier.groth16 import (  # noqa: E402
    Proof,
    VerificationKey,
    public_inputs,
    verify,
)

PY_ONE_SHOT = (
    "import sys; from pathlib import Path; from prover.verifier.groth16 import verify_files; "
    "sys.exit(0 if verify_files(*map(Path, sys.argv[1:4])) else 1)"
)


def _files(work: Path) -> tuple[Path, Path, Path]:
    spec = CircuitSpec(
        name="rollup_shape",
        source="RollupShape.circom",
        template="RollupShape",
        public=("oldRoot", "newRoot", "batchInfo", "configHash", "inboxBefore", "inboxAfter"),
        circuits_dir=ROOT / "tests" / "chain" / "circuits",
    )
    artifacts = build(spec)
    result = prove(artifacts, {"oldRoot": "1", "newRoot": "2", "batchInfo": "3",
                               "configHash": "4", "inboxBefore": "5", "inboxAfter": "6"},
                   work_dir=work)
    proof, public = result.write(work)
    return artifacts.vkey, proof, public


def _median_seconds(argv: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=ROOT)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{argv[0]} rejected the proof: {done.stdout}{done.stderr}")
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vkey", type=Path)
    parser.add_argument("--proof", type=Path)
    parser.add_argument("--public", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        if args.vkey and args.proof and args.public:
            vkey, proof, public = args.vkey, args.proof, args.public
        else:
            vkey, proof, public = _files(Path(scratch))
        snarkjs = [find_node(), str(NODE_MODULES / "snarkjs" / "build" / "cli.cjs"),
                   "groth16", "verify", str(vkey), str(public), str(proof)]
        python = [sys.executable, "-c", PY_ONE_SHOT, str(vkey), str(proof), str(public)]
        load_before = os.getloadavg()[0]
        results = {
            "snarkjs_process_s": _median_seconds(snarkjs, args.runs),
            "python_process_s": _median_seconds(python, args.runs),
        }
        start = time.perf_counter()
        key = VerificationKey.load(vkey)
        results["python_key_load_s"] = time.perf_counter() - start
        parsed = Proof.load(proof)
        signals = public_inputs(json.loads(public.read_text()))
        per_proof = []
        for _ in range(args.runs):
            start = time.perf_counter()
            assert verify(key, parsed, signals)
            per_proof.append(time.perf_counter() - start)
        results["python_verify_in_process_s"] = statistics.median(per_proof)
        results["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for name, value in results.items():
        shown = f"{value:.3f}" if isinstance(value, float) else str(value)
        print(f"{name:32} {shown}")


if __name__ == "__main__":
    main()
