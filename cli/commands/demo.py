"""``zkmatch demo``: a scenario through matching, every batch proven, verified with snarkjs
and on a local chain, in one go (``--membership``: the small account-membership demo)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cli.commands._progress import progress_sink, prover_option, verbose_option, witness_option
from cli.output import emit, json_option
from prover.demo import (
    DEMO_BITS,
    DEMO_SCENARIO,
    DemoReport,
    run_batch_demo,
    run_demo,
    run_operator_demo,
)


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
    lines.extend(_chain_lines(report["chain"]))
    lines.append("demo OK" if report["ok"] else "demo FAILED")
    return "\n".join(lines)


def _chain_lines(chain: Any) -> list[str]:
    if chain is None:
        return []
    return [
        f"chain        {chain['rpc_url']}: verifier {chain['verifier_address']}, "
        f"valid: {chain['honest_accepted']}, tampered rejected: "
        f"{chain['tampered_rejected']}, verifyProof gas {chain['verify_gas']}"
    ]


def _rollup_lines(chain: Any) -> list[str]:
    if chain is None:
        return ["chain        skipped (--no-chain)"]
    audit = (
        f"audit (zkmatch verify): {chain['audited_batches']} batches verified from chain data"
        if chain["audit_ok"]
        else f"audit FAILED: {chain['audit_failure']}"
    )
    return [
        f"chain        {chain['rpc_url']}: Rollup {chain['rollup_address']}; every batch "
        f"accepted: {chain['honest_accepted']}, changed new roots refused: "
        f"{chain['tampered_rejected']}; submitBatch gas {chain['submit_gas']}",
        f"             {audit}",
    ]


def _trader_lines(traders: Any) -> list[str]:
    if traders is None:
        return []
    s = traders["seconds"]
    commands = traders["commands"]
    indices = [c["index"] for c in commands]
    span = f"inbox #{indices[0]}..#{indices[-1]}" if indices else "nothing sent"
    lines = [
        f"traders      {len(traders['key_files'])} key files (zkmatch trader keygen --seed) in "
        f"{traders['keys_dir']}; {len(commands)} orders and cancels with zkmatch trader "
        f"order/cancel -> {span} (keygen {s['keygen']:.1f} s, send {s['send']:.1f} s, "
        f"state {s['state']:.1f} s)",
    ]
    deposits = traders.get("deposits") or []
    if deposits:
        accounts = ", ".join(f"{d['trader']} -> {d['account']}" for d in deposits)
        lines.append(f"             {len(deposits)} deposits with zkmatch trader deposit (no "
                     f"genesis funding; accounts named by the Rollup: {accounts}; "
                     f"{s.get('deposit', 0.0):.1f} s)")
    claims = traders.get("claims") or []
    if traders.get("withdrawals"):
        paid = ", ".join(f"{c['trader']} {c['amount']}" for c in claims)
        lines.append(f"             {len(traders['withdrawals'])} withdrawals with zkmatch "
                     f"trader withdraw, paid as exits and claimed with zkmatch trader claim: "
                     f"{paid or 'nothing claimed'} ({s.get('withdraw', 0.0):.1f} s)")
    for st in traders["states"]:
        verdict = "agrees with the chain" if st["agrees"] else f"DISAGREES: {st['problem']}"
        where = f"batch {st['batch']} receipt" if st["batch"] is not None else "no receipt"
        lines.append(f"             zkmatch trader state: {st['trader']} (account "
                     f"{st['account']}), {where}: {verdict}")
    return lines


def _human_batches(report: Any) -> str:
    t = report["build_timings"]
    lines = [
        f"scenario     {report['scenario']}: {len(report['batches'])} batches "
        f"(matched in {report['match_s']:.1f} s)",
        f"circuit      {report['circuit']}: {report['constraints']} constraints"
        f" ({'cached' if report['cached'] else 'built now'}; {report['build_dir']})",
        f"build        compile {t.get('compile', 0):.1f} s, setup {t.get('setup', 0):.1f} s, "
        f"contribution {t.get('contribute', 0):.1f} s",
    ]
    if "deploy" in t:
        lines.append(f"deploy       {t['deploy']:.1f} s (keys, circuit, contracts, genesis)")
    lines.append(f"{'batch':<6} {'entries':>7} {'fills':>5}  {'old root':<12} "
                 f"{'new root':<12} {'gas':>8}  {'match':>6} {'witness':>7} {'prove':>6} "
                 f"{'submit':>6} {'confirm':>7}  checks")
    for b in report["batches"]:
        bt = b["timings"]
        gas = f"{b['gas_used']:,}" if b.get("gas_used") else "-"
        checks = (
            f"proof {'ok' if b['snarkjs_valid'] else 'INVALID'}, snarkjs: changed newRoot "
            f"{'rejected' if b['snarkjs_tampered_rejected'] else 'ACCEPTED'}"
        )
        if b["chain_accepted"] is not None:
            checks += f"; chain {'accepted' if b['chain_accepted'] else 'REFUSED'}"
        stages = "".join(
            f" {bt[k]:>{w}.2f}" if k in bt else f" {'-':>{w}}"
            for k, w in (("match", 6), ("witness", 7), ("prove", 6), ("submit", 6),
                         ("confirm", 7))
        )
        lines.append(
            f"{b['batch_number']:<6} {b['entries']:>7} {b['fills']:>5}  "
            f"{b['old_root'][:10]}.. {b['new_root'][:10]}.. {gas:>8} {stages}  {checks}"
        )
    lines.extend(_rollup_lines(report["chain"]))
    lines.extend(_trader_lines(report.get("traders")))
    if report["proofs_dir"]:
        what = "data folder " if report["chain"] is not None else "proofs      "
        lines.append(f"{what} {report['proofs_dir']}")
    lines.append("demo OK" if report["ok"] else "demo FAILED")
    return "\n".join(lines)


@click.command("demo")
@click.option("--rpc-url", help="Use this EVM JSON-RPC node instead of starting anvil.")
@click.option(
    "--ptau",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Prepared powers of tau for a snarkjs setup (default: the current setup, else a "
    "development one, devzkey).",
)
@click.option(
    "--scenario",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=DEMO_SCENARIO,
    show_default="docs/examples/demo.json",
    help="Scenario to match and prove (docs/scenario.md).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Also write each batch's input.json, proof.json, public.json here.",
)
@click.option(
    "--membership",
    is_flag=True,
    help="Run the small account-membership demo instead (one proof, 1263 constraints).",
)
@click.option(
    "--bits",
    type=click.IntRange(2, 32),
    default=DEMO_BITS,
    show_default=True,
    help="With --membership: account tree depth in bits (even).",
)
@click.option("--no-chain", is_flag=True, help="Prove and verify with snarkjs only: no chain, "
              "no operator store.")
@click.option("--data", "data_dir", type=click.Path(file_okay=False, path_type=Path),
              default=None, help="The operator's data folder (a new one; default: a "
              "temporary folder). Then `zkmatch status/verify --data DIR` work on it.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Batches of a round proven at once, sent in order (default: one per core "
              "with arkworks, 1 with snarkjs).")
@witness_option
@prover_option
@verbose_option
@json_option
def command(
    rpc_url: str | None,
    ptau: Path | None,
    scenario: Path,
    out_dir: Path | None,
    membership: bool,
    bits: int,
    no_chain: bool,
    data_dir: Path | None,
    workers: int | None,
    witness: str | None,
    prover: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Match a small scenario (its traders sending through the trader CLI), prove every
    batch, verify with snarkjs and on chain."""
    sink = progress_sink(verbose)
    if membership:
        report: Any = run_demo(
            bits=bits, rpc_url=rpc_url, ptau=ptau, chain=not no_chain, progress=sink,
            witness=witness,
        )
        emit(report, as_json, _human)
    elif not no_chain:
        report = run_operator_demo(
            scenario=scenario, rpc_url=rpc_url, ptau=ptau, data_dir=data_dir, progress=sink,
            witness=witness, prover=prover, workers=workers,
        )
        emit(report, as_json, _human_batches)
    else:
        report = run_batch_demo(
            scenario=scenario,
            ptau=ptau,
            out_dir=out_dir,
            progress=sink,
            witness=witness,
            prover=prover,
            workers=workers,
        )
        emit(report, as_json, _human_batches)
    if not report["ok"]:
        raise click.ClickException("the demo's checks failed (see above)")
