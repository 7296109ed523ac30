"""What the public sees of a demo run: no plaintext order value reaches the chain.

The demo scenario runs as an operator on anvil (each trader sends its round's orders and
cancels with the trader CLI, encrypted to the operator, to the Rollup's inbox from its own
sending address; every batch is proven and accepted; each trader's ``zkmatch trader state``
agrees with the chain). Then every
transaction's calldata, every event log (topics and data) and the node's own log are
scanned for the orders in the clear: each order's price as a 32-byte word and as decimal
text, and, as 32-byte words anywhere, each order's hash, each cancel's hash, and the three
plaintext elements of each message (the packed fields, which hold side, price, size and
order id, the signature's R8y and S). None may appear.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prover.demo import drive_scenario
from prover.exchange import inbox
from prover.exchange.domain import SignedOrder
from prover.exchange.scenario import signed_rounds
from prover.operator.data import DataDir
from prover.operator.deploy import deploy_operator
from prover.operator.loop import Operator
from prover.operator.store import STEP_CONFIRMED
from prover.proving.batches import load_scenario
from tests.scenarios import GENESIS_DEMO

pytestmark = [pytest.mark.chain, pytest.mark.circuit]


def _word(value: int) -> bytes:
    return value.to_bytes(32, "big")


def _words(data: bytes, start: int = 0) -> set[bytes]:
    return {data[i:i + 32] for i in range(start, len(data) - 31, 32)}


def test_no_plaintext_order_value_reaches_the_chain(
    tmp_path: Path, chain: Any, anvil_node: Any
) -> None:
    scenario = load_scenario(GENESIS_DEMO)
    data = DataDir(tmp_path / "data")
    deploy_operator(data.root, GENESIS_DEMO, rpc_url=anvil_node.rpc_url)
    with Operator(data, anvil_node.rpc_url, workers=1) as operator:
        start_block = operator.w3.eth.block_number
        played = drive_scenario(operator, scenario)
        runs = played.runs
        assert runs and all(r.step == STEP_CONFIRMED for r in runs)
        w3 = operator.w3
        calldata: list[bytes] = []
        for n in range(start_block, w3.eth.block_number + 1):
            for tx in w3.eth.get_block(n, full_transactions=True)["transactions"]:
                calldata.append(bytes(tx["input"]))
        logs = w3.eth.get_logs({"fromBlock": start_block, "toBlock": "latest"})
        secret = operator.inbox_secret
        messages = [e.message for e in operator.client.messages()]
    node_log = anvil_node.log_path.read_text(errors="replace")

    entries = [e for rnd in signed_rounds(scenario) for e in rnd]
    assert len(messages) == len(entries)
    # Every message came from the trader CLI, one command per entry, in inbox order, from
    # the trader's own key file's sending address; every trader's state agrees with the chain.
    traders = played.traders
    assert traders["ok"]
    commands = traders["commands"]
    assert [c["index"] for c in commands] == list(range(len(entries)))
    assert [c["hash"] for c in commands] == [str(e.hash()) for e in entries]
    assert {c["kind"] for c in commands} == {"order", "cancel"}
    assert all(c["command"].startswith(f"zkmatch trader {c['kind']} --key ") for c in commands)
    address = {k["trader"]: k["eth_address"] for k in traders["key_files"]}
    assert all(c["sender"] == address[c["trader"]] for c in commands)
    assert len(set(address.values())) == len(scenario.traders)
    states = traders["states"]
    assert [s["trader"] for s in states] == [t.name for t in scenario.traders]
    assert all(s["agrees"] and s["verified_on_chain"] and not s["problem"] for s in states)
    assert all(s["command"].startswith("zkmatch trader state ") for s in states)
    secret_words: set[bytes] = set()
    prices: set[int] = set()
    for entry, message in zip(entries, messages, strict=True):
        decoded = inbox.decode(message, secret)
        assert decoded.entry is not None
        secret_words.update(_word(v) for v in decoded.plaintext)
        if isinstance(entry, SignedOrder):
            secret_words.add(_word(entry.order.hash()))
            prices.add(entry.order.price)
        else:
            secret_words.add(_word(entry.cancel.hash()))
    assert len(prices) >= 4

    blobs = calldata + [bytes(log["data"]) for log in logs]
    everything = b"".join(blobs) + b"".join(bytes(t) for log in logs for t in log["topics"])
    for word in secret_words:
        assert word not in everything, "a plaintext element of a message is on chain"
    aligned = set()
    for data_bytes in calldata:
        aligned |= _words(data_bytes, 4)  # after the selector
    for log in logs:
        aligned |= _words(bytes(log["data"]))
        aligned |= {bytes(t) for t in log["topics"]}
    for price in prices:
        assert _word(price) not in aligned, f"price {price} is on chain"
        assert str(price) not in node_log, f"price {price} is in the node's log"
    # The messages themselves are on chain, so the scan did look at them.
    assert all(_word(message.ciphertext[0]) in everything for message in messages)
