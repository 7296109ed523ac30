"""``zkmatch verify``: re-check every batch a Rollup accepted, from chain data alone.

    zkmatch verify --rpc-url URL --rollup ADDRESS --vkey verification_key.json [--json]

Python only (py_ecc): no snarkjs, no node. Exit status 0 when every batch verifies, 1 at the
first failure (named). Docs: docs/settlement.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.output import emit, json_option, progress
from prover.chain.rollup import RollupClient, connect
from prover.verifier.audit import audit_chain


def _human(report: dict[str, Any]) -> str:
    lines = [f"{'batch':>5}  {'old root':<14} {'new root':<14} {'time':>11}  result"]
    for b in report["batches"]:
        result = "ok" if b["ok"] else f"FAILED: {b['reason']}"
        lines.append(
            f"{b['batch']:>5}  {b['old_root'][:12]:<14} {b['new_root'][:12]:<14} "
            f"{b['timestamp']:>11}  {result}"
        )
    if report["ok"]:
        lines.append(f"{len(report['batches'])} batches verified from genesis "
                     f"({report['rollup']})")
    else:
        lines.append(f"FAILED: {report['failure']}")
    return "\n".join(lines)


@click.command("verify")
@click.option("--rpc-url", required=True, help="EVM JSON-RPC node to read the Rollup from.")
@click.option("--rollup", "address", required=True, help="Address of the Rollup contract.")
@click.option(
    "--vkey",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The batch circuit's verification_key.json (as the operator publishes it).",
)
@click.option("--from-block", type=int, default=0, show_default=True,
              help="First block to read events from (the Rollup's deployment block).")
@json_option
def command(rpc_url: str, address: str, vkey: Path, from_block: int, as_json: bool) -> None:
    """Verify every batch of a Rollup independently (Python Groth16, no snarkjs)."""
    w3 = connect(rpc_url)
    client = RollupClient(w3, w3.to_checksum_address(address))
    if not w3.eth.get_code(client.address):
        raise click.ClickException(f"no contract at {address} on {rpc_url}")
    try:
        report = audit_chain(client, vkey, progress=None if as_json else progress,
                             from_block=from_block).to_json()
    except (ValueError, TypeError) as exc:  # web3 cannot decode: not a zkmatch Rollup
        raise click.ClickException(
            f"{address} on {rpc_url} does not answer as a zkmatch Rollup: {exc}"
        ) from exc
    emit(report, as_json, _human)
    if not report["ok"]:
        raise SystemExit(1)
