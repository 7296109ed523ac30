"""The operator's commands: ``deploy``, ``orders``, ``batch``, ``run``, ``status``.

    zkmatch deploy --data DIR --scenario S.json [--rpc-url URL] [--feed-key F] [--ptau P]
    zkmatch orders add --data DIR ORDERS.json       # signed orders/cancels, checked on entry
    zkmatch orders export --scenario S.json --out DIR   # a scenario's rounds as files
    zkmatch orders list --data DIR
    zkmatch batch --data DIR --prices PRICES.json [--rpc-url URL]
    zkmatch run --data DIR --interval S (--prices-dir DIR | --feed-key F --mark M ...)
    zkmatch status --data DIR

Without ``--rpc-url`` (and a deployment made without one) zkmatch runs its own anvil with
its chain saved in the data folder. Docs: docs/operator.md.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

import click

from cli.commands._progress import progress_sink, prover_option, verbose_option, witness_option
from cli.output import emit, json_option, progress
from prover.chain.node import open_chain
from prover.errors import ProtocolError, ZkmatchError
from prover.exchange.domain import PriceSet, entry_from_json
from prover.feed import load_feed_key, newest_price_set, read_price_set, sign_prices
from prover.operator.data import DataDir
from prover.operator.loop import BatchRun, Operator, validate_entries
from prover.operator.store import Store

data_option = click.option(
    "--data",
    "data_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("zkmatch-data"),
    show_default=True,
    envvar="ZKMATCH_DATA",
    help="The operator's data folder (also $ZKMATCH_DATA).",
)
rpc_option = click.option(
    "--rpc-url",
    default=None,
    envvar="ZKMATCH_RPC_URL",
    help="EVM JSON-RPC node. Default: the deployment's, or zkmatch's own anvil with its "
    "chain saved in the data folder.",
)
ptau_option = click.option(
    "--ptau",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Powers-of-tau file (a public ceremony's) for a snarkjs setup. Default: the circuit's "
    "current setup, else a development one (devzkey, seconds; DEVELOPMENT ONLY).",
)


@contextmanager
def _operator(
    data_dir: Path, rpc_url: str | None, verbose: bool, witness: str | None = None,
    ptau: Path | None = None,
    read_only: bool = False,
    prover: str | None = None,
    workers: int | None = None,
    ray: str | None = None,
) -> Iterator[Operator]:
    """An operator on ``data_dir``'s chain; holding the folder's lock unless ``read_only``
    (then an own anvil loads the saved chain and never writes it back)."""
    data = DataDir(data_dir)
    deployment = data.read_deployment()
    url = rpc_url or deployment.get("rpc_url")
    sink = progress_sink(verbose)
    lock = nullcontext() if read_only else data.locked()
    log = data.anvil_log.with_name("anvil-read.log") if read_only else data.anvil_log
    with lock, open_chain(
        url, state_path=data.anvil_state, log_path=log, progress=sink, read_only=read_only
    ) as endpoint, Operator(
        data, endpoint.rpc_url, progress=sink, witness=witness, ptau=ptau, prover=prover,
        workers=workers, ray=ray,
    ) as operator:
        yield operator


def _run_line(run: BatchRun) -> str:
    t = run.timings
    stages = ", ".join(
        f"{name} {t[name]:.2f} s"
        for name in ("match", "witness", "prove", "submit", "confirm")
        if name in t
    )
    gas = f", gas {run.gas_used:,}" if run.gas_used else ""
    return (
        f"batch {run.number}: {run.step}{' (resumed)' if run.resumed else ''}, "
        f"{run.messages} messages, {run.entries} entries, {run.fills} fills, new root "
        f"{str(run.new_root)[:16]}...{gas}; {stages}"
    )


# --------------------------------------------------------------------------- deploy


def _own_chain(data_dir: Path) -> str:
    return f"own anvil, saved in {DataDir(data_dir).anvil_state}"


@click.command("deploy")
@data_option
@click.option(
    "--scenario",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="Scenario whose config, markets, funding caps and traders (funded in genesis, or "
    "by deposits: its `funding`) make the genesis state (docs/scenario.md).",
)
@rpc_option
@click.option(
    "--feed-key",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="The price feed's key file (`zkmatch feed keygen`); its public key is registered. "
    "Default: the scenario's development feed (anyone can sign for it).",
)
@click.option("--admin", default=None, help="Admin address (registers market changes). "
              "Default: the operator's own address.")
@click.option("--forced-delay", "forced_delay", type=click.IntRange(min=1), default=86_400,
              show_default=True, metavar="SECONDS",
              help="How long an inbox message or a deposit with nothing ahead of it may wait "
              "for a batch; past its deadline anyone may freeze the Rollup (docs/flows.md).")
@click.option("--batch-interval", "batch_interval", type=click.IntRange(min=1), default=60,
              show_default=True, metavar="SECONDS",
              help="Seconds allowed per full batch of the queue ahead of a message or deposit "
              "(its deadline moves by this much per batch's worth ahead of it).")
@ptau_option
@verbose_option
@json_option
def deploy_command(
    data_dir: Path, scenario: Path, rpc_url: str | None, feed_key: Path | None,
    admin: str | None, forced_delay: int, batch_interval: int, ptau: Path | None,
    verbose: bool, as_json: bool,
) -> None:
    """Set up a data folder: genesis state, circuit keys, Rollup deployed on chain."""
    from prover.operator.deploy import deploy_operator

    record = deploy_operator(
        data_dir, scenario, rpc_url=rpc_url, feed_key=feed_key, admin=admin, ptau=ptau,
        forced_delay=forced_delay, batch_interval=batch_interval,
        progress=progress_sink(verbose),
    )
    emit(record, as_json, lambda r: "\n".join([
        f"deployed into {data_dir}",
        f"  Rollup    {r['rollup']} (block {r['block']}, chain {r['chain_id']})",
        f"  verifier  {r['verifier']}",
        f"  operator  {r['operator']}",
        f"  circuit   {r['circuit']} ({r['constraints']:,} constraints)",
        f"  key hash  {r['verification_key_hash']}",
        f"  genesis   root {r['genesis_root']}",
        f"  chain     {r['rpc_url'] or _own_chain(data_dir)}",
    ]))


# --------------------------------------------------------------------------- orders


@click.group("orders")
def orders_group() -> None:
    """Signed orders and cancels into the Rollup's inbox, and the inbox as the operator read it."""


@orders_group.command("add")
@data_option
@click.argument("files", nargs=-1, required=True,
                type=click.Path(dir_okay=False, exists=True, path_type=Path))
@json_option
def orders_add(data_dir: Path, files: tuple[Path, ...], as_json: bool) -> None:
    """Send the signed messages in FILES (JSON lists) to the Rollup's inbox, encrypted to
    the operator's key, in order; each is checked against the state first (account,
    signature, market, tick, size) and the whole call is refused on the first bad one,
    naming it. (A trader sends its own with `zkmatch trader order`.)"""
    entries = []
    for path in files:
        try:
            raw = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ZkmatchError(f"{path}: not a readable JSON file ({exc})") from exc
        if not isinstance(raw, list):
            raise ZkmatchError(f"{path}: expected a JSON list of signed orders and cancels")
        for i, item in enumerate(raw):
            try:
                entries.append(entry_from_json(item))
            except (ProtocolError, ValueError, KeyError, TypeError) as exc:
                raise ZkmatchError(f"{path}: message {i} is malformed ({exc})") from exc
    data = DataDir(data_dir)
    data.read_deployment()
    with Store.open(data.store) as store:
        try:
            validate_entries(store, entries)
        except ProtocolError as exc:
            raise ZkmatchError(f"nothing sent: {exc}") from exc
    # Into the Rollup's inbox, encrypted to the operator (as `zkmatch trader order` does).
    with _operator(data_dir, None, False) as operator:
        seqs = operator.post_entries(entries)
        pending = operator.pending_messages()
    emit({"queued": seqs, "pending": pending}, as_json,
         lambda r: f"sent {len(r['queued'])} messages to the inbox; {r['pending']} pending")


@orders_group.command("list")
@data_option
@json_option
def orders_list(data_dir: Path, as_json: bool) -> None:
    """Every inbox message the operator has read from the chain: pending (no batch yet)
    or batched (in which batch), and what became of it (entered and filled, or a no-op
    and why)."""
    with Store.open(DataDir(data_dir).store) as store:
        messages = store.messages()

    def human(rows: list[dict[str, Any]]) -> str:
        lines = [f"{'index':>5}  {'status':<8} batch  outcome"]
        for m in rows:
            outcome = m["outcome"] or {}
            why = "; ".join(r.get("reason", "") for r in outcome.get("rejections", []))
            what = f"filled {outcome.get('filled', 0)}" if outcome.get("accepted") else why
            batch = "" if m["batch"] is None else str(m["batch"])
            lines.append(f"{m['index']:>5}  {m['status']:<8} {batch:>5}  {what}")
        return "\n".join(lines)

    emit(messages, as_json, human)


@orders_group.command("export")
@click.option("--scenario", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              required=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True)
@json_option
def orders_export(scenario: Path, out_dir: Path, as_json: bool) -> None:
    """Write a scenario's rounds as files: round-NNN.orders.json (signed by the scenario's
    traders) and round-NNN.prices.json (signed by the scenario's feed), for `orders add`
    and `batch --prices`."""
    from prover.exchange.scenario import signed_rounds
    from prover.feed import write_price_set
    from prover.proving.batches import load_scenario

    parsed = load_scenario(scenario)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for i, (rnd, messages) in enumerate(zip(parsed.rounds, signed_rounds(parsed), strict=True)):
        orders = out_dir / f"round-{i:03d}.orders.json"
        orders.write_text(json.dumps([m.to_json() for m in messages], indent=1) + "\n")
        prices = out_dir / f"round-{i:03d}.prices.json"
        write_price_set(prices, PriceSet(0, rnd.timestamp, rnd.marks, rnd.funding)
                        .signed(parsed.feed))
        written.append({"orders": str(orders), "prices": str(prices),
                        "messages": len(messages)})
    emit(written, as_json, lambda rows: "\n".join(
        f"{r['orders']} ({r['messages']} messages), {r['prices']}" for r in rows))


# --------------------------------------------------------------------------- batch, run


@click.command("batch")
@data_option
@rpc_option
@click.option("--prices", "prices_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="A signed price set (`zkmatch feed sign`). Without it, "
              "only a batch left in flight is finished.")
@ptau_option
@witness_option
@prover_option
@verbose_option
@json_option
def batch_command(
    data_dir: Path, rpc_url: str | None, prices_file: Path | None, ptau: Path | None,
    witness: str | None, prover: str | None, verbose: bool, as_json: bool,
) -> None:
    """One batch: reconcile with the chain, finish a batch left in flight, then match the
    next inbox range, prove, submit and record."""
    prices = read_price_set(prices_file) if prices_file is not None else None
    with _operator(data_dir, rpc_url, verbose, witness, ptau, prover=prover) as operator:
        runs = operator.batch(prices)
        status = operator.status()
    out = {"batches": [r.to_json() for r in runs], "status": status}
    emit(out, as_json, lambda o: "\n".join(
        [_run_line(r) for r in runs] or ["nothing to do (no pending inbox messages or no prices)"]))


@click.command("run")
@data_option
@rpc_option
@click.option("--interval", type=float, default=5.0, show_default=True,
              help="Seconds between rounds.")
@click.option("--prices-dir", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=None, help="Folder of signed price files; the newest after the last "
              "batch is used.")
@click.option("--feed-key", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              default=None, help="Development only: sign prices here with this feed key "
              "(the marks given by --mark) at the current time.")
@click.option("--mark", "marks", type=int, multiple=True,
              help="With --feed-key: the mark of each market, in market order.")
@click.option("--max-batches", type=int, default=None, help="Stop after this many batches.")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="Batches of a backlog proven at once, still sent in order (default: one "
              "per core with arkworks, 1 with snarkjs; with --ray: the cluster's cpus).")
@click.option("--ray", "ray", default=None, metavar="ADDRESS",
              help="Prove on a Ray cluster (ray://host:10001, host:6379, auto) or `local` (a "
              "Ray on loopback); roots are still submitted in order. Needs the [ray] extra.")
@ptau_option
@witness_option
@prover_option
@verbose_option
@json_option
def run_command(
    data_dir: Path, rpc_url: str | None, interval: float, prices_dir: Path | None,
    feed_key: Path | None, marks: tuple[int, ...], max_batches: int | None,
    workers: int | None, ray: str | None, ptau: Path | None, witness: str | None,
    prover: str | None, verbose: bool, as_json: bool,
) -> None:
    """Run the operator: a batch every INTERVAL seconds while inbox messages are pending, until
    stopped (Ctrl-C or SIGTERM finish the current step first)."""
    if (prices_dir is None) == (feed_key is None):
        raise click.UsageError("give exactly one of --prices-dir and --feed-key")
    if feed_key is not None and not marks:
        raise click.UsageError("--feed-key needs --mark for each market")
    stopping = [False]

    def stop(_signum: int, _frame: Any) -> None:
        stopping[0] = True
        progress("run: stopping after the current step")

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def prices(last: int) -> PriceSet | None:
        if prices_dir is not None:
            return newest_price_set(prices_dir, last)
        assert feed_key is not None
        import time

        now = int(time.time())
        return sign_prices(load_feed_key(feed_key), marks, timestamp=max(now, last + 1))

    with _operator(data_dir, rpc_url, verbose, witness, ptau, prover=prover,
                   workers=workers, ray=ray) as operator:
        runs = operator.run(prices, interval=interval, max_batches=max_batches,
                            should_stop=lambda: stopping[0])
    emit({"batches": [r.to_json() for r in runs]}, as_json,
         lambda o: "\n".join([_run_line(r) for r in runs] or ["no batch"]))


@click.command("status")
@data_option
@rpc_option
@json_option
def status_command(data_dir: Path, rpc_url: str | None, as_json: bool) -> None:
    """The store and the chain side by side: batches, roots, the batch in flight, the inbox."""
    with _operator(data_dir, rpc_url, False, read_only=True) as operator:
        out = operator.status()

    def human(s: dict[str, Any]) -> str:
        flight = s["store"]["in_flight"]
        return "\n".join([
            f"Rollup {s['rollup']} at {s['rpc_url']}",
            f"  chain: {s['chain']['batch_number']} batches, root "
            f"{s['chain']['root'][:16]}..., last time {s['chain']['last_timestamp']}",
            f"  store: {s['store']['confirmed_batches']} confirmed, root "
            f"{s['store']['root'][:16]}...; in flight: "
            + (f"batch {flight['batch_number']} ({flight['step']})" if flight else "none"),
            f"  {'in step' if s['in_step'] else 'OUT OF STEP (zkmatch batch reconciles)'}",
            "  messages: " + (", ".join(f"{k} {v}" for k, v in sorted(s["messages"].items()))
                              or "none"),
        ])

    emit(out, as_json, human)


commands = (deploy_command, orders_group, batch_command, run_command, status_command)
