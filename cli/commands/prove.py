"""``zkmatch prove``: prove one circuit input; writes snarkjs's proof.json and public.json."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cli.commands._progress import progress_sink, verbose_option
from cli.output import emit, json_option
from prover.circuit import CIRCUITS, build, circuit_spec, prove
from prover.errors import ZkmatchError


@click.command("prove")
@click.option(
    "--circuit",
    "name",
    required=True,
    help=f"Circuit to prove with. Known: {', '.join(sorted(CIRCUITS))}.",
)
@click.option(
    "--input",
    "input_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Circuit input JSON (signal name -> decimal string or nested arrays).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for proof.json and public.json.",
)
@verbose_option
@json_option
def command(name: str, input_path: Path, out_dir: Path, verbose: bool, as_json: bool) -> None:
    """Build (cached) the circuit and prove the given input with Groth16."""
    sink = progress_sink(verbose)
    try:
        inputs = json.loads(input_path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ZkmatchError(f"cannot read circuit input {input_path}: {exc}") from exc
    if not isinstance(inputs, dict):
        raise ZkmatchError(f"{input_path} must hold a JSON object of signal values")
    artifacts = build(circuit_spec(name), progress=sink)
    result = prove(artifacts, inputs, sink)
    proof_path, public_path = result.write(out_dir)
    emit(
        {
            "circuit": name,
            "proof": str(proof_path),
            "public": str(public_path),
            "public_signals": result.public,
            "timings": result.timings,
        },
        as_json,
        lambda r: (
            f"wrote {r['proof']} and {r['public']} "
            f"(witness {r['timings']['witness']:.2f} s, prove {r['timings']['prove']:.2f} s)"
        ),
    )
