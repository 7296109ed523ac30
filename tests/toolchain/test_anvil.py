"""anvil: start on loopback, answer JSON-RPC, stop; a dead chain is a clear error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prover.errors import ToolError
from prover.toolchain.anvil import AnvilNode, check_rpc, rpc_request, running_anvil

pytestmark = pytest.mark.chain


def test_session_anvil_answers(anvil_node: AnvilNode) -> None:
    assert anvil_node.host == "127.0.0.1" and anvil_node.port > 0
    assert check_rpc(anvil_node.rpc_url) == 31337
    anvil_node.check()


def test_snapshot_fixture_reverts(chain: Any) -> None:
    sender, receiver = chain.eth.accounts[:2]
    before = chain.eth.get_balance(receiver)
    chain.eth.send_transaction({"from": sender, "to": receiver, "value": 10**18})
    assert chain.eth.get_balance(receiver) == before + 10**18


def test_snapshot_fixture_reverted_the_previous_test(chain: Any) -> None:
    assert chain.eth.get_balance(chain.eth.accounts[1]) == 10_000 * 10**18


def test_start_stop_and_dead_chain(tmp_path: Path) -> None:
    log = tmp_path / "anvil.log"
    with running_anvil(log_path=log) as node:
        url = node.rpc_url
        assert int(rpc_request(url, "eth_blockNumber"), 16) == 0
    assert not node.alive()
    assert "Listening on" in log.read_text()
    with pytest.raises(ToolError, match=r"no EVM JSON-RPC node answers at http://127\.0\.0\.1"):
        check_rpc(url, timeout=2)
    with pytest.raises(ToolError, match="has exited"):
        node.check()
