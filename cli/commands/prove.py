"""``zkmatch prove``: prove a scenario's batches, or one circuit input.

``zkmatch prove --scenario FILE [--out DIR]`` runs the scenario through matching and proves
every batch with the batch circuit (prover.proving.batches); ``zkmatch prove --circuit NAME
--input FILE`` proves one input JSON. Both write snarkjs's proof.json and public.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli.commands._progress import (
    progress_sink,
    prover_option,
    verbose_option,
    witness_option,
)
from cli.output import emit, json_option
from prover.errors import ZkmatchError
from prover.proving.batches import prove_scenario
from prover.proving.circuit import CIRCUITS, build, circuit_spec, prove
from prover.toolchain.common import Progress


def _human_scenario(report: dict[str, Any]) -> str:
    lines = []
    for b in report["batches"]:
        t = b["timings"]
        lines.append(
            f"batch {b['batch_number']}: {b['entries']} entries, {b['fills']} fills, "
            f"root {b['old_root'][:10]}... -> {b['new_root'][:10]}...; "
            f"witness {t['witness']:.2f} s ({b['witness_generator']}), "
            f"prove {t['prove']:.2f} s ({b['prover']}), "
            f"verified {b['verified']}  ({b['directory']})"
        )
    lines.append(
        f"{len(report['batches'])} batches proven and verified with {report['circuit']} "
        f"({report['constraints']} constraints); verification key "
        f"{report['verification_key']}"
    )
    return "\n".join(lines)


def _prove_scenario(
    scenario: Path, out_dir: Path, ptau: Path | None, sink: Progress, witness: str | None,
    prover: str | None, workers: int | None, ray: str | None,
) -> dict[str, Any]:
    proofs = prove_scenario(scenario, ptau=ptau, progress=sink, out_dir=out_dir,
                            witness=witness, prover=prover, workers=workers, ray=ray)
    if not proofs:
        raise ZkmatchError(f"scenario {scenario} sealed no batch: nothing to prove")
    return {
        "scenario": str(scenario),
        "out": str(out_dir),
        "circuit": proofs[0].circuit,
        "constraints": proofs[0].constraints,
        "verification_key": str(out_dir / "verification_key.json"),
        "final_root": str(proofs[-1].new_root),
        "batches": [p.to_json() for p in proofs],
    }


def _prove_input(name: str, input_path: Path, out_dir: Path, ptau: Path | None,
                 sink: Progress, witness: str | None, prover: str | None) -> dict[str, Any]:
    try:
        inputs = json.loads(input_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ZkmatchError(f"cannot read circuit input {input_path}: {exc}") from exc
    if not isinstance(inputs, dict):
        raise ZkmatchError(f"{input_path} must hold a JSON object of signal values")
    artifacts = build(circuit_spec(name), ptau, progress=sink)
    result = prove(artifacts, inputs, sink, witness=witness, prover=prover)
    proof_path, public_path = result.write(out_dir)
    return {
        "circuit": name,
        "proof": str(proof_path),
        "public": str(public_path),
        "public_signals": result.public,
        "timings": result.timings,
        "witness_generator": result.witness_generator,
        "prover": result.prover,
    }


@click.command("prove")
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Run this scenario (docs/scenario.md) through matching and prove every batch.",
)
@click.option(
    "--circuit",
    "name",
    help=f"Circuit to prove one --input with. Known: {', '.join(sorted(CIRCUITS))}.",
)
@click.option(
    "--input",
    "input_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Circuit input JSON (signal name -> decimal string or nested arrays).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: . for --input, ./proofs for --scenario).",
)
@click.option(
    "--ptau",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Prepared powers of tau for a setup not yet cached (default: as zkmatch setup).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Batches proven at once (default: one per core with arkworks, 1 with snarkjs).",
)
@click.option(
    "--ray",
    "ray",
    default=None,
    metavar="ADDRESS",
    help="Prove on a Ray cluster (ray://host:10001, host:6379, auto) or `local` (a Ray "
    "started on loopback); needs the [ray] extra.",
)
@witness_option
@prover_option
@verbose_option
@json_option
def command(
    scenario: Path | None,
    name: str | None,
    input_path: Path | None,
    out_dir: Path | None,
    ptau: Path | None,
    workers: int | None,
    ray: str | None,
    witness: str | None,
    prover: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Build (cached) the circuit and prove with Groth16: a scenario's batches or one input."""
    sink = progress_sink(verbose)
    if scenario is not None:
        if name is not None or input_path is not None:
            raise ZkmatchError("use either --scenario or --circuit with --input, not both")
        report = _prove_scenario(scenario, out_dir or Path("proofs"), ptau, sink, witness,
                                 prover, workers, ray)
        emit(report, as_json, _human_scenario)
        return
    if name is None or input_path is None:
        raise ZkmatchError("give --scenario FILE, or --circuit NAME with --input FILE")
    emit(
        _prove_input(name, input_path, out_dir or Path("."), ptau, sink, witness, prover),
        as_json,
        lambda r: (
            f"wrote {r['proof']} and {r['public']} "
            f"(witness {r['timings']['witness']:.2f} s with {r['witness_generator']}, "
            f"prove {r['timings']['prove']:.2f} s with {r['prover']})"
        ),
    )
