"""The operator's commands as a user runs them: deploy, orders, batch into a data folder,
then status, verify, orders (good and bad), feed, run; clear errors for a dead chain and
bad input. The whole demo as an operator runs under ``-m slow`` (the crash harness runs
the same loop in the default suite)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.exchange.constants import SIDE_SELL, TIF_GTC
from prover.exchange.domain import Order, SignedOrder
from prover.exchange.scenario import NO_EXPIRY, trader_key
from tests.scenarios import GENESIS_DEMO

ALICE = 2


def _invoke(*args: str) -> Any:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def _json(*args: str) -> Any:
    result = _invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _alice_order(order_id: int, price: int = 31_000_000, key: bytes | None = None) -> Any:
    order = Order(ALICE, 0, SIDE_SELL, price, 1, order_id, NO_EXPIRY, 500, TIF_GTC)
    return SignedOrder.sign(order, key or trader_key("alice")).to_json()


@pytest.fixture(scope="module")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder on zkmatch's own anvil after one batch, made as a user would."""
    work = tmp_path_factory.mktemp("operator")
    data, rounds = work / "data", work / "rounds"
    record = _json("deploy", "--data", str(data), "--scenario", str(GENESIS_DEMO))
    assert record["rpc_url"] is None and record["development_feed"]
    _json("orders", "export", "--scenario", str(GENESIS_DEMO), "--out", str(rounds))
    added = _json("orders", "add", "--data", str(data), str(rounds / "round-000.orders.json"))
    assert added["pending"] == len(added["queued"]) > 0
    out = _json("batch", "--data", str(data), "--prices", str(rounds / "round-000.prices.json"))
    (run,) = out["batches"]
    # Batch 0 too: nine public inputs and the forced-inclusion deadline check.
    assert run["step"] == "confirmed" and run["gas_used"] <= 340_000
    assert {"match", "witness", "prove", "submit", "confirm"} <= set(run["timings"])
    return data


def test_status_and_verify_read_the_folder(demo_data: Path) -> None:
    status = _json("status", "--data", str(demo_data))
    assert status["in_step"] and status["store"]["in_flight"] is None
    assert status["chain"]["batch_number"] == status["store"]["confirmed_batches"] >= 1
    audit = _json("verify", "--data", str(demo_data))
    assert audit["ok"] and len(audit["batches"]) == status["chain"]["batch_number"]


@pytest.mark.slow
def test_the_demo_runs_the_whole_scenario_as_an_operator(tmp_path: Path) -> None:
    report = _json("demo", "--data", str(tmp_path / "data"))
    assert report["ok"] and report["chain"]["started_anvil"]
    assert len(report["batches"]) >= 3
    # The traders went through the trader CLI: one command per scenario entry, in inbox
    # order, key files in the data folder, and each trader's state agrees with the chain.
    traders = report["traders"]
    assert traders["ok"] and [c["index"] for c in traders["commands"]] == list(range(7))
    assert {c["command"].split()[2] for c in traders["commands"]} == {"order", "cancel"}
    assert {Path(k["key_file"]).parent for k in traders["key_files"]} == {
        tmp_path / "data" / "traders"}
    assert [s["trader"] for s in traders["states"]] == ["alice", "bob", "carol", "dave"]
    assert all(s["agrees"] for s in traders["states"])
    assert all(b["gas_used"] <= 400_000 for b in report["batches"])  # a paid exit: +62,000
    # Collateral came in by deposits (docs/flows.md): one per trader, each its account.
    assert [d["account"] for d in traders["deposits"]] == [2, 3, 4, 5]
    audit = _json("verify", "--data", str(tmp_path / "data"))
    assert audit["ok"] and len(audit["batches"]) == len(report["batches"])


def test_orders_refused_on_the_way_in_change_nothing(demo_data: Path, tmp_path: Path) -> None:
    before = _json("orders", "list", "--data", str(demo_data))
    cases = {
        "not-json": "{",
        "not-a-list": json.dumps({"order": {}}),
        "malformed": json.dumps([{"order": {"account": "x"}}]),
        "unknown-account": json.dumps([{**_alice_order(40), "order": {
            **_alice_order(40)["order"], "account": "11"}}]),
        "bad-signature": json.dumps([_alice_order(40, key=trader_key("bob"))]),
        "bad-tick": json.dumps([_alice_order(40, price=31_000_001)]),
    }
    for name, text in cases.items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        result = _invoke("orders", "add", "--data", str(demo_data), str(path))
        assert result.exit_code == 1, (name, result.output)
        assert "Error:" in result.output and "Traceback" not in result.output, name
    assert _json("orders", "list", "--data", str(demo_data)) == before


def test_feed_signs_and_run_takes_a_queued_order(demo_data: Path, tmp_path: Path) -> None:
    keygen = _json("feed", "keygen", "--out", str(tmp_path / "other.key"))
    assert len(keygen["public_key"]) == 2
    assert os.stat(tmp_path / "other.key").st_mode & 0o077 == 0
    status = _json("status", "--data", str(demo_data))
    prices_dir = tmp_path / "prices"
    t = status["chain"]["last_timestamp"] + 10
    result = _invoke("feed", "sign", "--key", str(demo_data / "keys" / "feed.key"),
                     "--mark", "30000000", "--mark", "20000000", "--timestamp", str(t),
                     "--out", str(prices_dir / "p.json"))
    assert result.exit_code == 0, result.output
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([_alice_order(40)]))
    added = _json("orders", "add", "--data", str(demo_data), str(orders))
    assert len(added["queued"]) == 1
    # The inbox takes the same order twice (anyone may send anything); the batch then
    # consumes both, the second as a no-op (its order id is no longer above its slot's).
    again = _json("orders", "add", "--data", str(demo_data), str(orders))
    assert again["queued"] == [added["queued"][0] + 1]
    ran = _json("run", "--data", str(demo_data), "--prices-dir", str(prices_dir),
                "--interval", "0.1", "--max-batches", "1")
    assert [b["step"] for b in ran["batches"]] == ["confirmed"]
    assert [r["reason"] for r in ran["batches"][0].get("rejections", [])] in (
        [], ["STALE_ORDER_ID"]
    )
    assert ran["batches"][0]["timestamp"] == t
    status = _json("status", "--data", str(demo_data))
    assert status["in_step"] and status["store"]["in_flight"] is None


def test_a_dead_chain_is_named_and_nothing_moves(demo_data: Path) -> None:
    before = _json("orders", "list", "--data", str(demo_data))
    result = _invoke("batch", "--data", str(demo_data), "--rpc-url", "http://127.0.0.1:9")
    assert result.exit_code == 1 and "http://127.0.0.1:9" in result.output
    assert _json("orders", "list", "--data", str(demo_data)) == before


def test_commands_on_a_folder_without_a_deployment(tmp_path: Path) -> None:
    for args in (("batch",), ("status",), ("verify",), ("orders", "list")):
        result = _invoke(*args, "--data", str(tmp_path / "none"))
        assert result.exit_code != 0 and "Traceback" not in result.output, args
