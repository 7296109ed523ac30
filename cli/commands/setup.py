"""``zkmatch setup``: compile circuits and run their Groth16 trusted setup (cached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.commands._progress import progress_sink, verbose_option
from cli.output import emit, json_option
from prover.circuit import CIRCUITS, build, circuit_spec


def _human(results: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['circuit']}: {r['constraints']} constraints, "
        f"{'cached' if r['cached'] else 'built'}; zkey {r['zkey']}; ptau {r['ptau']}"
        for r in results
    )


@click.command("setup")
@click.option(
    "--ptau",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Prepared powers of tau (a public ceremony's file for production).",
)
@click.option(
    "--circuit",
    "circuits",
    multiple=True,
    help=f"Circuit to set up (repeatable; default: demo). Known: {', '.join(sorted(CIRCUITS))}.",
)
@click.option(
    "--contributions",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Local phase-2 contributions (entropy from os.urandom).",
)
@verbose_option
@json_option
def command(
    ptau: Path | None,
    circuits: tuple[str, ...],
    contributions: int,
    verbose: bool,
    as_json: bool,
) -> None:
    """Compile the circuits, run the Groth16 setup, export verification keys and verifiers."""
    sink = progress_sink(verbose)
    results = []
    for name in circuits or ("demo",):
        artifacts = build(circuit_spec(name), ptau, sink, contributions=contributions)
        results.append(
            {
                "circuit": name,
                "spec": artifacts.spec.name,
                "constraints": artifacts.constraints,
                "cached": artifacts.cached,
                "directory": str(artifacts.directory),
                "zkey": str(artifacts.zkey),
                "verification_key": str(artifacts.vkey),
                "verifier_sol": str(artifacts.verifier_sol),
                "ptau": str(artifacts.ptau),
                "timings": artifacts.timings,
            }
        )
    emit(results, as_json, _human)
