"""``zkmatch ceremony``: the production setup, phase 2 from a public ptau with contributions
from several parties, verified as a whole and finished with a random beacon (docs/ptau.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.commands._progress import progress_sink, verbose_option
from cli.commands.setup import parse_params, specs_for
from cli.output import emit, json_option
from prover.errors import ZkmatchError
from prover.proving import ceremony
from prover.proving.circuit import CircuitSpec

_folder = click.option("--dir", "folder", required=True,
                       type=click.Path(file_okay=False, path_type=Path),
                       help="The ceremony folder (ceremony.json, circuit.r1cs, the keys).")
_ptau = click.option("--ptau", required=True,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help="The public phase-1 file (prepared ptau) the ceremony starts from.")
_circuit = [
    click.option("--scenario", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                 help="The batch circuit of this scenario's config."),
    click.option("--circuit", "name", default=None, help="A named circuit (as zkmatch setup)."),
    click.option("--param", "param_pairs", multiple=True, metavar="NAME=INT",
                 help="Template parameter of --circuit."),
]


def _with_circuit(func: Any) -> Any:
    for option in reversed(_circuit):
        func = option(func)
    return func


def _spec(scenario: Path | None, name: str | None, pairs: tuple[str, ...]) -> CircuitSpec:
    if scenario is None and name is None:
        raise ZkmatchError("name the circuit: --scenario FILE or --circuit NAME [--param ...]")
    [(_, spec)] = specs_for((name,) if name else (), scenario, parse_params(pairs))
    return spec


def _verified(v: ceremony.Verified) -> str:
    lines = [f"{v.zkey}: {'valid' if v.ok else 'INVALID'} ({len(v.contributions)} contributions)"]
    lines += [f"  #{i + 1} {n or '(no name)'}: {h[:32]}..." for i, (n, h) in
              enumerate(v.contributions)]
    return "\n".join(lines)


@click.group("ceremony")
def command() -> None:
    """Phase 2 as a multi-party ceremony: start, contribute, verify, finalize."""


@command.command("start")
@_folder
@_ptau
@_with_circuit
@verbose_option
@json_option
def start_command(folder: Path, ptau: Path, scenario: Path | None, name: str | None,
                  param_pairs: tuple[str, ...], verbose: bool, as_json: bool) -> None:
    """Coordinator: compile the circuit and write the first key (snarkjs groth16 setup)."""
    manifest = ceremony.start(_spec(scenario, name, param_pairs), ptau, folder,
                              progress_sink(verbose))
    emit(manifest, as_json, lambda m: (
        f"ceremony of {m['circuit']['name']} ({m['constraints']} constraints) started in "
        f"{folder}; send the folder to the first contributor"))


@command.command("contribute")
@_folder
@click.option("--name", required=True, help="Who contributes (recorded in the key).")
@click.option("--entropy", default=None,
              help="Extra entropy text (default: 32 bytes of os.urandom).")
@verbose_option
@json_option
def contribute_command(folder: Path, name: str, entropy: str | None, verbose: bool,
                       as_json: bool) -> None:
    """Any party: add one contribution to the ceremony's latest key, then send the folder on.
    Destroy nothing but your own secret: snarkjs forgets it when it exits."""
    record = ceremony.contribute(folder, name, entropy=entropy, progress=progress_sink(verbose))
    emit(record, as_json, lambda r: f"{r['file']} written ({r['by']}); send {folder} on")


@command.command("verify")
@_folder
@_ptau
@click.option("--zkey", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="A key to check (default: the ceremony's latest).")
@verbose_option
@json_option
def verify_command(folder: Path, ptau: Path, zkey: Path | None, verbose: bool,
                   as_json: bool) -> None:
    """Anyone: check the key against the circuit and the ptau, every contribution included
    (snarkjs zkey verify). Exit status 1 if it is not valid."""
    result = ceremony.verify(folder, ptau, zkey, progress_sink(verbose))
    emit(result.to_json(), as_json, lambda _: _verified(result))
    if not result.ok:
        raise click.exceptions.Exit(1)


@command.command("finalize")
@_folder
@_ptau
@_with_circuit
@click.option("--beacon", required=True,
              help="Public random value, hex, announced in advance (e.g. a future block hash).")
@click.option("--iterations", type=click.IntRange(10, 63), default=10, show_default=True,
              help="The beacon is hashed 2^N times.")
@verbose_option
@json_option
def finalize_command(folder: Path, ptau: Path, scenario: Path | None, name: str | None,
                     param_pairs: tuple[str, ...], beacon: str, iterations: int, verbose: bool,
                     as_json: bool) -> None:
    """Coordinator: apply the beacon, verify the whole chain, install the key as the
    circuit's current setup (zkmatch deploy and prove then use it)."""
    checked, artifacts = ceremony.finalize(folder, ptau, _spec(scenario, name, param_pairs),
                                           beacon=beacon, iterations=iterations,
                                           progress=progress_sink(verbose))
    emit({**checked.to_json(), "installed": str(artifacts.zkey),
          "verification_key": str(artifacts.vkey)}, as_json,
         lambda o: _verified(checked) + f"\ninstalled: {o['installed']}")
