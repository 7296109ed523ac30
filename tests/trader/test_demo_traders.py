"""The demo's traders go through the trader CLI (prover/demo.py, ``TraderDesk``).

``cli.inprocess`` runs a ``zkmatch`` command in this process and parses its ``--json`` (and
turns a refusal into ``CommandFailed`` with the CLI's message). Against a ``zkmatch
deploy`` folder on the session's anvil: each trader's key file comes from ``zkmatch trader
keygen --seed`` and holds the key of the scenario's account; the demo's first round sent
with ``zkmatch trader order`` lands in the inbox as exactly the scenario's signed entries
(the operator's key decodes each), in order, each from its own trader's sending address;
``zkmatch trader state`` before any batch is refused (no receipt) and the desk reports that
instead of agreeing; a trader's empty sending address on a chain without
``anvil_setBalance`` is funded from the operator's account. The whole flow with proving
(every state agreeing with the chain) runs in tests/operator/test_privacy.py and
test_ahead.py.
"""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

import prover.demo
from cli.inprocess import CommandFailed, run_json
from prover.crypto.eddsa import PrivateKey, load_key_file
from prover.demo import TraderDesk, _fund_senders
from prover.errors import ToolError
from prover.exchange.domain import Cancel, SignedCancel
from prover.exchange.inbox import decode
from prover.exchange.scenario import signed_rounds, trader_key, trader_seed
from prover.operator.data import DataDir
from prover.operator.deploy import deploy_operator
from prover.operator.loop import Operator
from prover.proving.batches import load_scenario
from prover.toolchain.anvil import AnvilNode
from prover.trader.keys import TraderKey, load_trader_key
from tests.scenarios import GENESIS_DEMO


def test_run_json_parses_the_output_and_names_a_refusal(tmp_path: Path) -> None:
    key = tmp_path / "t.key"
    out, ran = run_json(["trader", "keygen", "--seed", trader_seed("alice"), "--out", str(key)])
    assert out["key_file"] == str(key) and out["development_seed"] is True
    assert ran.args[-1] == "--json" and ran.command_line.startswith("zkmatch trader keygen")
    assert "DEVELOPMENT KEY" in ran.stderr  # the warning is captured, not lost
    assert load_trader_key(key).public_key == PrivateKey(trader_key("alice")).public_key
    with pytest.raises(CommandFailed, match=r"zkmatch trader keygen .*already exists"):
        run_json(["trader", "keygen", "--out", str(key)])
    with pytest.raises(CommandFailed, match="Missing option '--out'"):
        run_json(["trader", "keygen"])


@pytest.fixture
def deployed(tmp_path: Path, chain: Any, anvil_node: AnvilNode) -> DataDir:
    data = DataDir(tmp_path / "data")
    deploy_operator(data.root, GENESIS_DEMO, rpc_url=anvil_node.rpc_url)
    return data


@pytest.mark.chain
def test_the_first_round_goes_through_the_trader_cli(
    deployed: DataDir, anvil_node: AnvilNode, tmp_path: Path
) -> None:
    scenario = load_scenario(GENESIS_DEMO)
    lines: list[str] = []
    desk = TraderDesk(scenario, deployed.root, anvil_node.rpc_url, tmp_path / "traders",
                      lines.append)
    keys = desk.keygen()
    assert [k["trader"] for k in keys] == ["alice", "bob", "carol", "dave"]
    assert len({k["eth_address"] for k in keys}) == 4
    for row in keys:
        path = Path(row["key_file"])
        assert path == tmp_path / "traders" / f"{row['trader']}.key"
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert load_trader_key(path) == TraderKey.from_seed(trader_seed(row["trader"]))
        assert f"--seed {trader_seed(row['trader'])}" in row["command"]

    first = signed_rounds(scenario)[0]
    commands = desk.send(0, first)
    assert [c["index"] for c in commands] == [0, 1, 2, 3]
    assert [c["trader"] for c in commands] == ["alice", "bob", "carol", "carol"]
    assert all(c["command"].startswith("zkmatch trader order ") for c in commands)
    address = {k["trader"]: k["eth_address"] for k in keys}
    assert [c["sender"] for c in commands] == [address[c["trader"]] for c in commands]
    assert "trader alice: order sell 5 BTC-PERP @ 30010000 (id 1, gtc) -> inbox #0" in lines

    with Operator(deployed, anvil_node.rpc_url) as operator:
        messages = [e.message for e in operator.client.messages()]
        secret = load_key_file(deployed.operator_babyjub_key).scalar
        assert [decode(m, secret).entry for m in messages] == first
        assert operator.pending_messages() == 4

        # Before any batch there is no receipt: the state check is refused, and reported.
        (state,) = desk.states([2], operator.store.load_state())
        assert not state["agrees"] and "no such receipt" in state["problem"]
        assert state["command"].startswith("zkmatch trader state --account 2")


def test_a_cancel_is_the_cli_cancel_of_its_slots_order(tmp_path: Path) -> None:
    scenario = load_scenario(GENESIS_DEMO)
    desk = TraderDesk(scenario, tmp_path, "http://127.0.0.1:9", tmp_path)
    desk.key_files[4] = tmp_path / "carol.key"
    key = PrivateKey(trader_key("carol"))
    args = desk.entry_args(SignedCancel.sign(Cancel(4, 6), key))  # S = 2: cancels order 2
    assert args[:2] == ["trader", "cancel"]
    assert args[args.index("--order-id") + 1] == "2"
    assert args[args.index("--cancel-id") + 1] == "6"
    with pytest.raises(ToolError, match="names no order"):
        desk.entry_args(SignedCancel.sign(Cancel(4, 4), key))


@pytest.mark.chain
def test_senders_are_funded_from_the_operator_without_anvil_set_balance(
    deployed: DataDir, anvil_node: AnvilNode, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(prover.demo, "fund_on_dev_chain", lambda _w3, _address: False)
    scenario = load_scenario(GENESIS_DEMO)
    desk = TraderDesk(scenario, deployed.root, anvil_node.rpc_url, tmp_path / "traders")
    keys = desk.keygen()
    with Operator(deployed, anvil_node.rpc_url) as operator:
        before = int(operator.w3.eth.get_balance(operator.signer.address))
        _fund_senders(operator, keys, 7)
        w3 = operator.w3
        assert all(int(w3.eth.get_balance(k["eth_address"])) > 0 for k in keys)
        assert int(w3.eth.get_balance(operator.signer.address)) < before
