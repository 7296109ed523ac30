"""``zkmatch setup``: compile circuits and run their Groth16 trusted setup (cached)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.commands._progress import progress_sink, setup_option, verbose_option
from cli.output import emit, json_option
from prover.errors import ZkmatchError
from prover.proving.batches import config_spec, load_scenario
from prover.proving.circuit import CIRCUITS, CircuitSpec, build, circuit_spec


def _human(results: list[dict[str, Any]]) -> str:
    return "\n".join(
        f"{r['circuit']} ({r['spec']}): {r['constraints']} constraints, "
        f"{'cached' if r['cached'] else 'built'}; zkey {r['zkey']}; "
        + (f"ptau {r['ptau']}" if r["ptau"] else "development setup (devzkey, no ptau)")
        for r in results
    )


def parse_params(pairs: tuple[str, ...]) -> dict[str, int]:
    """``("K=6", "B=4")`` -> ``{"K": 6, "B": 4}``; a clear error for anything else."""
    params: dict[str, int] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name.isidentifier():
            raise ZkmatchError(f"--param expects NAME=INTEGER, got {pair!r}")
        try:
            params[name] = int(value)
        except ValueError:
            raise ZkmatchError(f"--param {name}: {value!r} is not an integer") from None
    return params


def specs_for(
    circuits: tuple[str, ...], scenario: Path | None, params: dict[str, int]
) -> list[tuple[str, CircuitSpec]]:
    """The circuits to set up: a scenario's batch circuit, named ones (with ``params``)."""
    specs: list[tuple[str, CircuitSpec]] = []
    if scenario is not None:
        if params:
            raise ZkmatchError("--param and --scenario both fix the batch parameters; use one")
        if any(name != "batch" for name in circuits):
            raise ZkmatchError("--scenario sets up the batch circuit; leave out other --circuit")
        specs.append(("batch", config_spec(load_scenario(scenario).config)))
        return specs
    names = circuits or ("demo",)
    if params and len(names) != 1:
        raise ZkmatchError("--param applies to one circuit; name exactly one with --circuit")
    for name in names:
        try:
            specs.append((name, circuit_spec(name, **params)))
        except TypeError as exc:
            raise ZkmatchError(f"circuit {name!r} does not take these parameters: {exc}") from exc
    return specs


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
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Set up the batch circuit of this scenario's config (docs/scenario.md).",
)
@click.option(
    "--param",
    "param_pairs",
    multiple=True,
    metavar="NAME=INT",
    help="Template parameter of the circuit, e.g. --circuit batch --param K=6 --param B=4 "
    "(batch: K, E, B, D, S, M).",
)
@click.option(
    "--contributions",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="Local phase-2 contributions (entropy from os.urandom).",
)
@setup_option
@verbose_option
@json_option
def command(
    ptau: Path | None,
    circuits: tuple[str, ...],
    scenario: Path | None,
    param_pairs: tuple[str, ...],
    contributions: int,
    setup_kind: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Compile the circuits, run the Groth16 setup, export verification keys and verifiers."""
    sink = progress_sink(verbose)
    results = []
    for name, spec in specs_for(circuits, scenario, parse_params(param_pairs)):
        artifacts = build(spec, ptau, sink, contributions=contributions, setup_kind=setup_kind)
        results.append(
            {
                "circuit": name,
                "spec": artifacts.spec.name,
                "params": list(artifacts.spec.params),
                "constraints": artifacts.constraints,
                "cached": artifacts.cached,
                "directory": str(artifacts.directory),
                "zkey": str(artifacts.zkey),
                "verification_key": str(artifacts.vkey),
                "verifier_sol": str(artifacts.verifier_sol),
                "ptau": str(artifacts.ptau) if artifacts.ptau else None,
                "setup": artifacts.setup_kind,
                "timings": artifacts.timings,
            }
        )
    emit(results, as_json, _human)
