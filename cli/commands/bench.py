"""``zkmatch bench``: build the batch circuit for a shape, prove one full batch, measure it."""

from __future__ import annotations

from pathlib import Path

import click

from cli.commands._progress import progress_sink, prover_option, verbose_option, witness_option
from cli.output import emit, json_option
from prover.bench import BenchConfig, BenchReport, run_bench


def _human(r: BenchReport) -> str:
    p = r["params"]
    par = r["parallel"]
    snark = r["fills"] / (r["witness_s"] + r["raw_prove_s"])
    peak = f"{r['peak_rss_mb']:.0f} MiB" if r["peak_rss_mb"] is not None else "n/a"
    return "\n".join(
        [
            f"circuit        {r['circuit']} (K={p['K']} E={p['E']} B={p['B']} D={p['D']} "
            f"S={p['S']} M={p['M']})",
            f"constraints    {r['constraints']} ({r['constraints_per_fill']:.0f} per fill)",
            f"model          {r['model_s']:.2f} s to build the batch "
            f"({r['fills']} fills, {r['entries_used']} entries, {r['accounts_used']} accounts)",
            f"witness        {r['witness_s']:.2f} s ({r['witness_generator']})",
            f"prove          {r['prove_s']:.2f} s (ours, {r['prover']}), {r['raw_prove_s']:.2f} s "
            f"(raw snarkjs), our overhead {r['overhead_pct']:.1f} % over the bare {r['prover']} "
            f"(best of {r['repeat']})",
            (f"arkworks       {r['arkworks_prove_s']:.2f} s (raw groth16py, same zkey and "
             f"witness) = {r['arkworks_ratio']:.2f}x snarkjs, peak "
             + (f"{r['arkworks_peak_rss_mb']:.0f} MiB" if r["arkworks_peak_rss_mb"] else "n/a")
             if r["arkworks_prove_s"] is not None
             else "arkworks       not installed (pip install 'zkmatch[fast]')"),
            f"parallel       {par['fills_per_s_1']:.3f} fills/s one at a time, "
            f"{par['fills_per_s_all']:.3f} fills/s with {par['workers']:.0f} at once "
            f"({par['speedup']:.2f}x; {r['prover']})",
            f"vs snarkjs     {par['fills_per_s_all'] / snark:.2f}x the fills/s of sequential "
            f"snarkjs proving (witness + raw snarkjs prove)",
            f"end to end     {r['end_to_end_s']:.2f} s (witness + prove), "
            f"{r['fills_per_s']:.3f} fills/s",
            f"peak memory    {peak} (snarkjs prove; {r['peak_rss_source']})",
            f"proof size     {r['proof_json_bytes']} bytes proof.json, "
            f"{r['calldata_proof_bytes']} bytes calldata",
            f"verify         {r['verify_s']:.2f} s (snarkjs), valid: {r['verified']}",
            f"machine        {r['cpus']} cpus, load {r['load_avg']}",
        ]
    )


@click.command("bench")
@click.option("--fills", "-B", type=click.IntRange(1), default=1, show_default=True,
              help="Fill slots B (all used).")
@click.option("--account-bits", "-D", type=click.IntRange(2, 32), default=20,
              show_default=True, help="Account tree bits D (even).")
@click.option("--slot-bits", "-S", type=click.IntRange(2, 16), default=8, show_default=True,
              help="Order-slot tree bits S (even).")
@click.option("--markets", "-M", type=click.IntRange(1, 8), default=2, show_default=True,
              help="Markets M.")
@click.option("--accounts", "-K", type=click.IntRange(4), default=4, show_default=True,
              help="Account slots K (fee, insurance, takers, makers).")
@click.option("--entries", "-E", type=click.IntRange(1, 65536), default=2, show_default=True,
              help="Entry slots E (all used).")
@click.option("--seed", type=int, default=None, help="Seed of the random batch.")
@click.option("--repeat", type=click.IntRange(1, 20), default=1, show_default=True,
              help="Prove (ours and raw snarkjs, alternately) this many times; best times.")
@click.option(
    "--ptau",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Prepared powers of tau for a snarkjs setup (default: the current setup, else devzkey).",
)
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Proofs at once for the parallel rate (default: one per core, at least 2).")
@witness_option
@prover_option
@verbose_option
@json_option
def command(
    fills: int,
    account_bits: int,
    slot_bits: int,
    markets: int,
    accounts: int,
    entries: int,
    seed: int | None,
    repeat: int,
    ptau: Path | None,
    workers: int | None,
    witness: str | None,
    prover: str | None,
    verbose: bool,
    as_json: bool,
) -> None:
    """Prove one full random batch of the given shape and report its costs."""
    cfg = BenchConfig(fills, account_bits, slot_bits, markets, accounts, entries)
    report = run_bench(cfg, ptau=ptau, seed=seed, repeat=repeat, progress=progress_sink(verbose),
                       witness=witness, prover=prover, workers=workers)
    emit(report, as_json, _human)
