"""``zkmatch verify``: re-check every batch a Rollup accepted, from chain data alone.

    zkmatch verify --rpc-url URL --rollup ADDRESS --vkey verification_key.json [--json]
    zkmatch verify --data DIR [--rpc-url URL]     # what an operator's data folder names

With ``--data`` the RPC URL, Rollup address, key file and deployment block come from the
folder's deployment.json (each option still overrides); a folder whose chain is zkmatch's
own anvil is read from its saved state, read-only.

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
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="An operator's data folder: take URL, address, key and "
              "block from its deployment.json.")
@click.option("--rpc-url", default=None, help="EVM JSON-RPC node to read the Rollup from.")
@click.option("--rollup", "address", default=None, help="Address of the Rollup contract.")
@click.option(
    "--vkey",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The batch circuit's verification_key.json (as the operator publishes it).",
)
@click.option("--from-block", type=int, default=None,
              help="First block to read events from (the Rollup's deployment block; "
              "default 0, or the deployment's).")
@json_option
def command(
    data_dir: Path | None, rpc_url: str | None, address: str | None, vkey: Path | None,
    from_block: int | None, as_json: bool,
) -> None:
    """Verify every batch of a Rollup independently (Python Groth16, no snarkjs)."""
    own_state: Path | None = None
    if data_dir is not None:
        from prover.operator.data import DataDir

        data = DataDir(data_dir)
        deployment = data.read_deployment()
        rpc_url = rpc_url or deployment.get("rpc_url")
        address = address or str(deployment["rollup"])
        vkey = vkey or data.vkey
        from_block = from_block if from_block is not None else int(deployment["block"])
        if rpc_url is None:
            own_state = data.anvil_state
    missing = [n for n, v in (("--rollup", address), ("--vkey", vkey)) if v is None]
    if rpc_url is None and own_state is None:
        missing.insert(0, "--rpc-url")
    if missing:
        raise click.UsageError(f"give {', '.join(missing)} (or --data DIR)")
    assert address is not None and vkey is not None
    from prover.chain.node import open_chain

    log = own_state.parent / "anvil-read.log" if own_state is not None else None
    with open_chain(rpc_url, state_path=own_state, log_path=log, read_only=True) as endpoint:
        report = _audit(endpoint.rpc_url, address, vkey, from_block or 0, as_json)
    emit(report, as_json, _human)
    if not report["ok"]:
        raise SystemExit(1)


def _audit(rpc_url: str, address: str, vkey: Path, from_block: int,
           as_json: bool) -> dict[str, Any]:
    w3 = connect(rpc_url)
    client = RollupClient(w3, w3.to_checksum_address(address))
    if not w3.eth.get_code(client.address):
        raise click.ClickException(f"no contract at {address} on {rpc_url}")
    try:
        return audit_chain(client, vkey, progress=None if as_json else progress,
                           from_block=from_block).to_json()
    except (ValueError, TypeError) as exc:  # web3 cannot decode: not a zkmatch Rollup
        raise click.ClickException(
            f"{address} on {rpc_url} does not answer as a zkmatch Rollup: {exc}"
        ) from exc
