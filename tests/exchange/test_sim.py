"""``zkmatch sim``: the shipped example, JSON and text output, --store, bad scenario files."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.errors import ProtocolError
from prover.exchange.scenario import parse_scenario, run_scenario
from prover.operator.store import Store

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "basic.json"


@pytest.fixture(scope="module")
def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text())
    return data


@pytest.fixture(scope="module")
def run_json() -> dict[str, Any]:
    result = CliRunner().invoke(main, ["sim", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    out: dict[str, Any] = json.loads(result.output)
    return out


def test_example_covers_every_feature(run_json: dict[str, Any]) -> None:
    out = run_json
    assert [b["batch_number"] for b in out["batches"]] == [0, 1, 2]
    reasons = {r["reason"] for r in out["rejections"]}
    assert {"POST_ONLY_WOULD_CROSS", "INSUFFICIENT_MARGIN", "STALE_ORDER_ID"} <= reasons
    msgs = out["messages"]
    assert any(m["kind"] == "cancel" and m["cancelled"] is not None for m in msgs)
    assert any(m["kind"] == "order" and m["tif"] == "ioc" and m["dropped"] > 0 for m in msgs)
    partial = [m for m in msgs if m["kind"] == "order" and 0 < m["filled"] < m["size"]]
    assert partial, "a partial fill"
    first = out["batches"][0]["fills"]
    assert [(f["maker"], f["price"], f["qty"]) for f in first] == [
        ("alice", 30010000, 10),
        ("alice", 30020000, 2),
    ]
    # Roots chain and collateral is conserved (deposits 25,100 quote units * 10^6).
    for a, b in zip(out["batches"], out["batches"][1:], strict=False):
        assert a["new_root"] == b["old_root"]
    assert out["batches"][-1]["new_root"] == out["final_root"]
    assert out["total_collateral"] == 25_100_000_000
    assert sum(a["collateral"] for a in out["accounts"]) == 25_100_000_000


def test_same_scenario_same_roots(example: dict[str, Any], run_json: dict[str, Any]) -> None:
    again = run_scenario(parse_scenario(example)).to_json()
    assert again["final_root"] == run_json["final_root"]
    assert [b["new_root"] for b in again["batches"]] == [b["new_root"] for b in run_json["batches"]]


def test_human_output() -> None:
    result = CliRunner().invoke(main, ["sim", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "batch 0" in text and "batch 2" in text
    assert "REJECTED POST_ONLY_WOULD_CROSS" in text
    assert "alice" in text and "collateral" in text
    assert re.search(r"root \d+ -> \d+", text)


def test_store_option(tmp_path: Path, run_json: dict[str, Any]) -> None:
    db = tmp_path / "op.db"
    result = CliRunner().invoke(main, ["sim", str(EXAMPLE), "--store", str(db), "--json"])
    assert result.exit_code == 0, result.output
    with Store.open(db) as store:
        assert str(store.root) == run_json["final_root"]
        assert store.next_batch == 3
        assert str(store.load_state().root) == run_json["final_root"]
    again = CliRunner().invoke(main, ["sim", str(EXAMPLE), "--store", str(db)])
    assert again.exit_code == 1 and "already exists" in again.output


def test_docs_example_is_the_shipped_file(example: dict[str, Any]) -> None:
    doc = (REPO / "docs" / "scenario.md").read_text()
    blocks = re.findall(r"```json\n(.*?)```", doc, flags=re.S)
    assert any(json.loads(b) == example for b in blocks)


def _bad(example: dict[str, Any], path: list[Any], value: Any) -> dict[str, Any]:
    data = copy.deepcopy(example)
    node = data
    for key in path[:-1]:
        node = node[key]
    if value is KeyError:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        (["markets"], [], "markets"),
        (["markets", 0, "tick_size"], KeyError, "markets[0].tick_size"),
        (["markets", 0, "imr_bps"], 10, "markets[0]"),
        (["traders", 1, "name"], "alice", "traders[1].name"),
        (["batches", 0, "timestamp"], KeyError, "batches[0].timestamp"),
        (["batches", 0, "marks"], [1], "batches[0].marks"),
        (["batches", 0, "messages", 0, "trader"], "mallory", "batches[0].messages[0].trader"),
        (
            ["batches", 0, "messages", 0, "order", "side"],
            "long",
            "batches[0].messages[0].order.side",
        ),
        (
            ["batches", 0, "messages", 0, "order", "market"],
            "DOGE",
            "batches[0].messages[0].order.market",
        ),
        (
            ["batches", 0, "messages", 0, "order", "size"],
            "lots",
            "batches[0].messages[0].order.size",
        ),
        (["batches", 0, "messages", 0, "order", "colour"], "red", "batches[0].messages[0].order"),
        (["config", "slot_bits"], 3, "config"),
    ],
)
def test_bad_scenarios_name_the_field(
    example: dict[str, Any], path: list[Any], value: Any, field: str
) -> None:
    with pytest.raises(ProtocolError) as info:
        parse_scenario(_bad(example, path, value))
    assert f"scenario: {field}" in str(info.value)


def test_cli_reports_bad_files_cleanly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    result = CliRunner().invoke(main, ["sim", str(bad)])
    assert result.exit_code == 1 and "not valid JSON" in result.output
    result = CliRunner().invoke(main, ["sim", str(tmp_path / "none.json")])
    assert result.exit_code == 1 and "cannot read" in result.output
    bad.write_text(json.dumps({"markets": []}))
    result = CliRunner().invoke(main, ["sim", str(bad)])
    assert result.exit_code == 1 and "scenario: markets" in result.output


DEMO = REPO / "docs" / "examples" / "demo.json"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"funding": "airdrop"}, "expected 'genesis' or 'deposits'"),
        ({"batches": []}, "needs at least one batch"),
        ({"funding": "genesis"}, "withdrawals need a venue funded by deposits"),
        ({"withdrawals": [{"trader": "eve", "amount": 1}]}, "unknown trader 'eve'"),
        ({"withdrawals": [{"trader": "alice", "amount": 0}]}, "withdrawals[0].amount"),
    ],
)
def test_bad_funding_names_the_field(change: dict[str, Any], message: str) -> None:
    data = json.loads(DEMO.read_text())
    data.update(change)
    with pytest.raises(ProtocolError, match=re.escape(message)):
        parse_scenario(data)


def test_a_scenario_funded_by_deposits_simulates_them_first() -> None:
    """The demo (funded by deposits): its traders' deposits are consumed first, P per batch,
    each opening its account; the same final state as its genesis-funded twin's but for
    the roots of the two deposit batches."""
    data = json.loads(DEMO.read_text())
    result = run_scenario(parse_scenario(data))
    first, second = result.reports[0], result.reports[1]
    assert [d.account for d, _ in first.result.witness.deposits] == [2, 3]
    assert [o.value for _, o in second.result.witness.deposits] == ["created", "created"]
    twin = dict(data, funding="genesis")
    twin.pop("withdrawals")
    genesis = run_scenario(parse_scenario(twin))
    for index in (2, 3, 4, 5):
        assert result.state.account(index) == genesis.state.account(index)
    assert result.state.deposit_count == 4
