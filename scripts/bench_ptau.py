#!/usr/bin/env python3
"""Time the development ptau generator (devptau.mjs) at one power.

    .venv/bin/python scripts/bench_ptau.py            # 2^16, prints seconds
    .venv/bin/python scripts/bench_ptau.py 12 --json  # machine-readable
    .venv/bin/python scripts/bench_ptau.py 16 --verify --keep /tmp/dev_16.ptau

The file goes to a temporary folder and is deleted unless ``--keep`` names where to put it.
``--verify`` also times ``snarkjs powersoftau verify`` on the result.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prover.errors import ZkmatchError  # noqa: E402
from prover.toolchain import ptau  # noqa: E402
from prover.toolchain.common import find_node  # noqa: E402


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def bench(power: int, keep: Path | None, verify: bool, quiet: bool) -> dict[str, Any]:
    """Generate once (and optionally verify) and return the timings."""
    progress = (lambda _line: None) if quiet else (lambda line: print(line, file=sys.stderr))
    with tempfile.TemporaryDirectory(prefix="bench_ptau_") as tmp:
        out = Path(tmp) / ptau.dev_ptau_name(power)
        start = time.monotonic()
        ptau.generate_dev_ptau(power, out, progress=progress)
        seconds = time.monotonic() - start
        result: dict[str, Any] = {
            "power": power,
            "generate_seconds": round(seconds, 2),
            "bytes": out.stat().st_size,
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "node": subprocess.run(
                [find_node(), "--version"], capture_output=True, text=True, check=False
            ).stdout.strip(),
        }
        meta = json.loads(out.with_name(out.name + ".json").read_text())
        result["ffjavascript"] = meta.get("ffjavascript")
        result["snarkjs"] = meta.get("snarkjs")
        if verify:
            cli = ptau.NODE_MODULES / "snarkjs" / "build" / "cli.cjs"
            start = time.monotonic()
            done = subprocess.run(
                [find_node(), str(cli), "powersoftau", "verify", str(out)],
                capture_output=True,
                text=True,
                check=False,
            )
            result["verify_seconds"] = round(time.monotonic() - start, 2)
            result["verify_ok"] = done.returncode == 0 and "Powers of Tau Ok!" in done.stdout
        if keep is not None:
            keep.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(out), keep)
            shutil.move(str(out.with_name(out.name + ".json")), keep.with_name(keep.name + ".json"))
            result["kept"] = str(keep)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("power", nargs="?", type=int, default=16, help="ptau power (default 16)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--verify", action="store_true", help="also time snarkjs verify")
    parser.add_argument("--keep", type=Path, help="keep the file at this path")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")
    args = parser.parse_args(argv)
    try:
        result = bench(args.power, args.keep, args.verify, args.quiet or args.json)
    except ZkmatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(result))
    else:
        line = f"2^{result['power']}: {result['generate_seconds']:.1f} s"
        if "verify_seconds" in result:
            ok = "ok" if result["verify_ok"] else "FAILED"
            line += f", snarkjs verify {result['verify_seconds']:.1f} s ({ok})"
        print(f"{line}  [{result['cpus']} x {result['cpu']}, node {result['node']}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
