"""Development Groth16 keys in seconds: ``devzkey.mjs`` from Python.

``snarkjs groth16 setup`` builds a proving key from a powers-of-tau file; for development,
``devzkey.mjs`` draws tau, alpha, beta and delta itself, computes every point of the key as a
known scalar times a generator, and writes the same ``.zkey`` a ptau of that tau plus one
``snarkjs zkey contribute`` would give (``snarkjs zkey verify`` accepts it against the matching
ptau, which ``ptau_out`` also writes). The secrets are dropped when the script exits.

DEVELOPMENT ONLY: whoever ran it could have kept tau and delta. Production keys come from a
public ceremony's ptau and a multi-party phase 2 (docs/ptau.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from prover.errors import ToolError
from prover.toolchain.common import NODE_MODULES, Progress, find_node
from prover.toolchain.ptau import SETUP_HINT, run_script

DEVZKEY_SCRIPT: Final = Path(__file__).resolve().parent / "devzkey.mjs"
#: Printed before every development setup.
WARNING: Final = (
    "WARNING: development setup (devzkey): tau and delta were drawn by this process and "
    "discarded, but whoever ran it could have kept them and could prove anything. "
    "DEVELOPMENT ONLY; production uses a ceremony (zkmatch setup --ptau FILE, docs/ptau.md)."
)


def build_command(
    r1cs: Path,
    out: Path,
    *,
    ptau_out: Path | None = None,
    seed: bytes | None = None,
    threads: int | None = None,
    node: str = "node",
) -> list[str]:
    """The argument list that makes ``devzkey.mjs`` write a key for ``r1cs`` to ``out`` (pure)."""
    argv = [node, str(DEVZKEY_SCRIPT), str(r1cs), str(out), "--node-modules", str(NODE_MODULES)]
    if ptau_out is not None:
        argv += ["--ptau-out", str(ptau_out)]
    if seed is not None:
        if not seed:
            raise ValueError("seed must not be empty")
        argv += ["--seed", seed.hex()]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return argv


def generate_dev_zkey(
    r1cs: Path,
    out: Path,
    *,
    ptau_out: Path | None = None,
    seed: bytes | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Write a development ``.zkey`` for ``r1cs`` to ``out``; return devzkey's summary.

    ``ptau_out`` also writes the matching ptau (for ``snarkjs zkey verify``; several times
    slower). ``seed`` makes the key reproducible (tests only: anyone with it knows tau).
    Raises :class:`ToolError` when node or ``node_modules`` is missing or the script fails
    (nothing is left at ``out`` then).
    """
    node = find_node()
    if not (NODE_MODULES / "snarkjs" / "package.json").is_file():
        raise ToolError(f"snarkjs not found under {NODE_MODULES}; {SETUP_HINT}")
    if not DEVZKEY_SCRIPT.is_file():
        raise ToolError(f"{DEVZKEY_SCRIPT} is missing; reinstall zkmatch")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = build_command(r1cs, out, ptau_out=ptau_out, seed=seed, node=node)
    summary = run_script(argv, out.parent, progress, script="devzkey.mjs")
    if not out.is_file():
        raise ToolError(f"devzkey.mjs exited 0 but did not write {out}")
    return summary
