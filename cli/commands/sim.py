"""``zkmatch sim SCENARIO.json``: run a scenario through the engine and the batch builder,
without proving (format: docs/scenario.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from cli.output import emit, json_option
from prover.errors import ProtocolError
from prover.exchange.scenario import genesis, parse_scenario, run_scenario
from prover.operator.store import Store


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProtocolError(f"scenario {path}: cannot read ({exc.strerror or exc})") from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"scenario {path}: not valid JSON ({exc})") from exc


def _message(m: dict[str, Any]) -> str:
    text = _message_body(m)
    if not m["accepted"]:
        return text + f": REJECTED {', '.join(m['reasons'])}"
    if m["reasons"]:
        text += f" [{', '.join(m['reasons'])}]"
    return text


def _message_body(m: dict[str, Any]) -> str:
    head = f"#{m['message']} {m['trader']} "
    if m["kind"] == "cancel":
        text = head + f"cancel (id {m['order_id']})"
        if m["cancelled"] is not None:
            text += f": cancelled order {m['cancelled']}"
        return text
    text = head + (
        f"{m['side']} {m['size']} {m['market']} @ {m['price']} {m['tif']} (id {m['order_id']})"
    )
    if not m["accepted"]:
        return text
    done = [f"filled {m['filled']}"] if m["filled"] else []
    if m["rested"]:
        done.append(f"rests {m['size'] - m['filled']}")
    elif m["dropped"]:
        done.append(f"{m['dropped']} dropped")
    if m["cancelled"] is not None:
        done.append(f"replaced order {m['cancelled']}")
    return text + (": " + ", ".join(done) if done else "")


def _human(out: dict[str, Any]) -> str:
    lines: list[str] = []
    by_batch: dict[int | None, list[dict[str, Any]]] = {}
    for m in out["messages"]:
        by_batch.setdefault(m["batch_number"], []).append(m)
    for b in out["batches"]:
        lines.append(
            f"batch {b['batch_number']}  t={b['timestamp']}  entries={b['entries']}  "
            f"fills={len(b['fills'])}"
        )
        names = {t["account"]: t["name"] for t in out.get("accounts", []) if "account" in t}
        for d in b.get("deposits", []):
            who = names.get(d["account"], f"account {d['account']}")
            lines.append(f"  deposit {d['number']}: {d['amount']} to {who} ({d['outcome']})")
        for m in by_batch.get(b["batch_number"], []):
            lines.append("  " + _message(m))
        for f in b["fills"]:
            lines.append(
                f"  fill {f['market']}: {f['taker']} {f['side']}s {f['qty']} @ {f['price']} "
                f"from {f['maker']} (order {f['maker_order_id']}); fees taker {f['taker_fee']}, "
                f"maker {f['maker_fee']}"
            )
        for r in b["rejections"]:
            if r["kind"] in ("order", "cancel"):
                continue  # shown with its message
            lines.append(
                f"  rejected {r['kind']} {r['trader']} #{r['order_id']}: {r['reason']}"
                + (f" ({r['detail']})" if r["detail"] else "")
            )
        lines.append(f"  root {b['old_root']} -> {b['new_root']}")
    lines.append("")
    lines.append("accounts:")
    for a in out["accounts"]:
        positions = ", ".join(f"{m} {p:+d}" for m, p in a["positions"].items() if p) or "flat"
        lines.append(f"  {a['name']:<18} collateral {a['collateral']:>16}  {positions}")
    if out["book"]:
        lines.append("resting orders:")
        for o in out["book"]:
            lines.append(
                f"  {o['market']} {o['side']} {o['remaining']} @ {o['price']}  "
                f"{o['trader']} #{o['order_id']}"
            )
    lines.append(f"final root {out['final_root']}")
    lines.append(f"total collateral {out['total_collateral']}")
    return "\n".join(lines)


@click.command("sim")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--store",
    "store_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also record state, books and every batch in a new operator store (SQLite) at FILE.",
)
@json_option
def command(scenario: Path, store_path: Path | None, as_json: bool) -> None:
    """Run SCENARIO.json through the matching engine and batch builder (no proofs).

    Prints the fills, rejections with their reasons, each batch's state root and every
    trader's final collateral and positions.
    """
    parsed = parse_scenario(_load(scenario))
    if store_path is None:
        result = run_scenario(parsed)
    else:
        state = genesis(parsed)
        with Store.create(
            store_path, state, parsed.config, first_batch=parsed.first_batch
        ) as store:
            result = run_scenario(parsed, state=state, on_seal=store.commit_batch)
    out = result.to_json()
    if store_path is not None:
        out["store"] = str(store_path)
    emit(out, as_json, _human)
