"""``zkmatch demo``: build, prove, verify with snarkjs and on a local chain, in one go."""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands._progress import progress_sink, verbose_option
from cli.output import emit, json_option
from prover.demo import DEMO_BITS, DemoReport, run_demo


def _human(report: DemoReport) -> str:
    t = report["build_timings"]
    p = report["prove_timings"]
    lines = [
        f"circuit      {report['circuit']}: {report['constraints']} constraints"
        f" ({'cached' if report['cached'] else 'built now'}; {report['build_dir']})",
        f"build        compile {t.get('compile', 0):.1f} s, setup {t.get('setup', 0):.1f} s, "
        f"contribution {t.get('contribute', 0):.1f} s",
        f"proof        account {report['account_index']} in root {report['root'][:20]}...: "
        f"witness {p['witness']:.2f} s, prove {p['prove']:.2f} s",
        f"snarkjs      valid: {report['snarkjs_valid']}, "
        f"tampered root rejected: {report['snarkjs_tampered_rejected']}",
    ]
    chain = report["chain"]
    if chain is not None:
        lines.append(
            f"chain        {chain['rpc_url']}: verifier {chain['verifier_address']}, "
            f"valid: {chain['honest_accepted']}, tampered rejected: "
            f"{chain['tampered_rejected']}, verifyProof gas {chain['verify_gas']}"
        )
    lines.append("demo OK" if report["ok"] else "demo FAILED")
    return "\n".join(lines)


@click.command("demo")
@click.option("--rpc-url", help="Use this EVM JSON-RPC node instead of starting anvil.")
@click.option(
    "--ptau",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Prepared powers of tau for the setup (default: ZKMATCH_PTAU_DIR / the ptau cache).",
)
@click.option(
    "--bits",
    type=click.IntRange(2, 32),
    default=DEMO_BITS,
    show_default=True,
    help="Account tree depth in bits (even).",
)
@click.option("--no-chain", is_flag=True, help="Stop after the snarkjs verification.")
@verbose_option
@json_option
def command(
    rpc_url: str | None,
    ptau: Path | None,
    bits: int,
    no_chain: bool,
    verbose: bool,
    as_json: bool,
) -> None:
    """Prove that an account is in a small account tree; verify it with snarkjs and on chain."""
    report = run_demo(
        bits=bits, rpc_url=rpc_url, ptau=ptau, chain=not no_chain, progress=progress_sink(verbose)
    )
    emit(report, as_json, _human)
    if not report["ok"]:
        raise click.ClickException("the demo's checks failed (see above)")
