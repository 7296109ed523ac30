"""Two traders, the CLI only: encrypted orders through the Rollup's inbox to proven fills.

Alice rests an ask and bob sends a crossing IOC buy, each with ``zkmatch trader order``
from its own key file; the operator runs ``zkmatch batch`` with prices the feed signs
(``zkmatch feed sign``); the batch consumes both messages, fills bob against alice, is
proven and accepted on chain, and ``zkmatch verify`` re-verifies it from chain data alone
(its inbox range and chain included).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.chain.rollup import RollupClient, connect
from prover.exchange.scenario import KEY_SEED_PREFIX
from prover.toolchain.anvil import AnvilNode
from tests.scenarios import GENESIS_DEMO

pytestmark = [pytest.mark.chain, pytest.mark.circuit]

ALICE, BOB = 2, 3  # the demo's first two traders


def _json(*args: str) -> Any:
    result = CliRunner().invoke(main, [*args, "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_two_traders_cli_orders_end_in_a_proven_verified_fill(
    anvil_node: AnvilNode, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    record = _json("deploy", "--data", str(data), "--scenario", str(GENESIS_DEMO),
                   "--rpc-url", anvil_node.rpc_url)
    client = RollupClient(connect(anvil_node.rpc_url), record["rollup"])
    keys = {}
    for name in ("alice", "bob"):
        keys[name] = tmp_path / f"{name}.key"
        _json("trader", "keygen", "--out", str(keys[name]), "--seed", KEY_SEED_PREFIX + name)
    common = ["--market", "0", "--expiry", "+86400", "--data", str(data)]
    ask = _json("trader", "order", "--key", str(keys["alice"]), "--account", str(ALICE),
                "--side", "sell", "--price", "30010000", "--size", "5", "--order-id", "1",
                *common)
    buy = _json("trader", "order", "--key", str(keys["bob"]), "--account", str(BOB),
                "--side", "buy", "--price", "30020000", "--size", "3", "--order-id", "1",
                "--tif", "ioc", *common)
    assert (ask["index"], buy["index"]) == (0, 1) and client.inbox_count() == 2
    assert ask["sender"] != buy["sender"]  # each from its own account

    # The demo circuit's K = 4 leaves room for one message per batch (messagesPerBatch =
    # (K - 2) // 2): alice's ask rests in batch 0, bob's IOC takes 3 of it in batch 1.
    runs = []
    for _ in range(2):
        t = client.state().last_timestamp + 10
        prices = tmp_path / f"prices-{t}.json"
        signed = CliRunner().invoke(main, [
            "feed", "sign", "--key", str(data / "keys" / "feed.key"), "--mark", "30000000",
            "--mark", "20000000", "--timestamp", str(t), "--out", str(prices)])
        assert signed.exit_code == 0, signed.output
        out = _json("batch", "--data", str(data), "--rpc-url", anvil_node.rpc_url,
                    "--prices", str(prices))
        (run,) = out["batches"]
        assert run["step"] == "confirmed" and run["messages"] == 1
        runs.append(run)
    assert [r["fills"] for r in runs] == [0, 1]
    assert client.inbox_consumed() == 2
    assert client.inbox_consumed_chain() == client.inbox_head()
    assert client.state().root == int(runs[-1]["new_root"])

    listed = _json("orders", "list", "--data", str(data))
    assert [(m["index"], m["status"], m["batch"]) for m in listed] == [
        (0, "batched", 0), (1, "batched", 1)
    ]
    assert listed[1]["outcome"]["filled"] == 3 and listed[0]["outcome"]["rested"]

    audit = _json("verify", "--data", str(data), "--rpc-url", anvil_node.rpc_url)
    assert audit["ok"] and len(audit["batches"]) == 2
