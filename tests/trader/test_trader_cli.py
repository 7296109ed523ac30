"""``zkmatch trader order/cancel`` as a trader runs them, against a ``zkmatch deploy`` folder
on the session's anvil: a full send that the operator's key decodes to exactly the signed
order and cancel; no plaintext in the transaction or its logs; every bad argument refused
with its own message and nothing sent; a dead chain, an address without a contract."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.chain.rollup import RollupClient, connect
from prover.crypto.eddsa import PrivateKey, load_key_file
from prover.exchange.constants import SIDE_SELL, TIF_GTC
from prover.exchange.domain import Cancel, Order, SignedCancel, SignedOrder
from prover.exchange.inbox import Message, decode
from prover.exchange.scenario import KEY_SEED_PREFIX
from prover.operator.data import DataDir
from prover.toolchain.anvil import AnvilNode
from prover.trader.keys import TraderKey, new_trader_key
from prover.trader.send import TraderError, Venue, post_message, seal
from tests.scenarios import GENESIS_DEMO

pytestmark = pytest.mark.chain

ALICE = 2  # the demo's first trader (0: fee account, 1: insurance fund)
BOB = 3
# Distinctive values (many digits), so that finding one in a transaction is no accident.
PRICE = 987_654_320_000  # BTC-PERP's tick is 10,000
SIZE = 3_987_654_321
ORDER_ID = 12_345_678_901_234_567
EXPIRY = 1_098_765_432_109


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _json(*args: str) -> Any:
    result = _invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def venue(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo deployed with ``zkmatch deploy`` on the session's anvil, and alice's key."""
    work = tmp_path_factory.mktemp("trader")
    data = work / "data"
    record = _json("deploy", "--data", str(data), "--scenario", str(GENESIS_DEMO),
                   "--rpc-url", anvil_node.rpc_url)
    alice = work / "alice.key"
    result = _invoke("trader", "keygen", "--out", str(alice), "--seed",
                     KEY_SEED_PREFIX + "alice")
    assert result.exit_code == 0, result.output
    client = RollupClient(connect(anvil_node.rpc_url), record["rollup"])
    return {"data": data, "record": record, "alice": alice, "client": client,
            "rpc_url": anvil_node.rpc_url, "work": work}


def _operator_scalar(data: Path) -> int:
    """The operator's Baby Jubjub secret scalar, from its data folder."""
    return load_key_file(DataDir(data).operator_babyjub_key).scalar


def _order_args(venue: dict[str, Any], **change: str) -> list[str]:
    args = {"--key": str(venue["alice"]), "--account": str(ALICE), "--market": "0",
            "--side": "sell", "--price": str(PRICE), "--size": str(SIZE),
            "--order-id": str(ORDER_ID), "--expiry": str(EXPIRY), "--data": str(venue["data"])}
    args.update(change)
    out = ["trader", "order"]
    for k, v in args.items():
        if v is not None:
            out += [k, v]
    return out


def _messages(client: RollupClient) -> list[Any]:
    return list(client.messages())


def _as_message(event: Any) -> Message:
    return event.message if hasattr(event, "message") else event


def test_an_order_and_a_cancel_reach_the_operator(venue: dict[str, Any]) -> None:
    client = venue["client"]
    before = client.inbox_count()
    sent = _json(*_order_args(venue))
    assert sent["sent"] and sent["index"] == before
    assert client.inbox_count() == before + 1
    assert int(sent["inbox_chain"]) == client.inbox_head()
    assert sent["gas_used"] > 0 and sent["tx_hash"].startswith("0x")

    alice = TraderKey.from_seed(KEY_SEED_PREFIX + "alice")
    assert sent["sender"] == alice.eth_address
    order = Order(ALICE, 0, SIDE_SELL, PRICE, SIZE, ORDER_ID, EXPIRY, 500, TIF_GTC)
    assert Order.from_json(sent["order"]) == order
    scalar = _operator_scalar(venue["data"])
    message = Message.from_json(sent["message"])
    decoded = decode(message, scalar)
    assert decoded.authenticated
    assert decoded.entry == SignedOrder.sign(order, alice.account_key)

    cancel = _json("trader", "cancel", "--key", str(venue["alice"]), "--account", str(ALICE),
                   "--order-id", str(ORDER_ID), "--rpc-url", venue["rpc_url"],
                   "--rollup", venue["record"]["rollup"], "--slot-bits", "2")
    assert cancel["index"] == before + 1 and client.inbox_count() == before + 2
    want = Cancel(ALICE, ORDER_ID + 4)  # the demo's S = 2
    assert Cancel.from_json(cancel["cancel"]) == want
    on_chain = [_as_message(m) for m in _messages(client)]
    assert Message.from_json(cancel["message"]) == on_chain[before + 1]
    assert decode(on_chain[before + 1], scalar).entry == SignedCancel.sign(want, alice.account_key)
    assert decode(on_chain[before], scalar).entry == SignedOrder.sign(order, alice.account_key)

    # with --data, S comes from the operator's genesis state
    again = _json("trader", "cancel", "--key", str(venue["alice"]), "--account", str(ALICE),
                  "--order-id", str(ORDER_ID + 4), "--data", str(venue["data"]))
    assert Cancel.from_json(again["cancel"]) == Cancel(ALICE, ORDER_ID + 8)


def _words(value: int) -> bytes:
    return value.to_bytes(32, "big")


def test_no_plaintext_in_the_transaction_or_its_logs(venue: dict[str, Any]) -> None:
    client = venue["client"]
    w3 = client.w3
    sent = _json(*_order_args(venue, **{"--order-id": str(ORDER_ID + 1)}))
    tx = w3.eth.get_transaction(sent["tx_hash"])
    receipt = w3.eth.get_transaction_receipt(sent["tx_hash"])
    tx_input = bytes(tx["input"])
    logs = receipt["logs"]
    assert logs, "sendMessage emits MessageSent"
    log_data = b"".join(bytes(log["data"]) for log in logs)
    topics = b"".join(bytes(t) for log in logs for t in log["topics"])
    decoded_logs = client.contract.events.MessageSent().process_receipt(receipt)
    log_text = json.dumps([{k: str(v) for k, v in dict(e["args"]).items()}
                           for e in decoded_logs])
    raw_text = tx_input.hex() + log_data.hex() + topics.hex()

    distinctive = {"price": PRICE, "size": SIZE, "order id": ORDER_ID + 1, "expiry": EXPIRY}
    for name, value in distinctive.items():
        word = _words(value)
        assert word not in tx_input and word not in log_data and word not in topics, name
        assert str(value) not in log_text and str(value) not in raw_text, name
        assert str(value) not in json.dumps(sent["message"]), name
    # small values (side 1, account 2, the fee cap) can only be looked for as whole words
    # where no index or count lives: the input and the log data, not the indexed topic
    for name, value in {"side": SIDE_SELL, "account": ALICE, "max fee": 500}.items():
        word = _words(value)
        assert word not in tx_input[4:] and word not in log_data, name


BAD = [
    ({"--size": "-1"}, "size must be at least 1"),
    ({"--size": "0"}, "size must be at least 1"),
    ({"--side": "up"}, "unknown side 'up'"),
    ({"--price": "31000005"}, "off the tick"),
    ({"--price": "0"}, "price must be at least 1"),
    ({"--market": "5"}, "unknown market 5"),
    ({"--tif": "fok"}, "unknown time in force"),
    ({"--expiry": "soon"}, "expiry 'soon'"),
    ({"--expiry": "0"}, "not after the last batch's time"),
    ({"--max-fee": "10"}, "FEE_TOO_HIGH"),
    ({"--order-id": "0"}, "order id must be at least 1"),
    ({"--account": "99"}, "account 99 does not exist"),
    ({"--account": str(BOB)}, "belongs to another key"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_orders_send_nothing(venue: dict[str, Any], change: dict[str, str],
                                 message: str) -> None:
    client = venue["client"]
    before, head = client.inbox_count(), client.inbox_head()
    result = _invoke(*_order_args(venue, **change))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1, result.output  # one line
    assert client.inbox_count() == before and client.inbox_head() == head


BAD_CANCELS = [
    (["--cancel-id", "8"], "would not cancel that order"),
    (["--cancel-id", "3"], "not above order id"),
    (["--order-id", "0"], "order id must be at least 1"),
]


@pytest.mark.parametrize(("extra", "message"), BAD_CANCELS, ids=[m for _, m in BAD_CANCELS])
def test_bad_cancels_send_nothing(venue: dict[str, Any], extra: list[str], message: str) -> None:
    client = venue["client"]
    before = client.inbox_count()
    args = ["trader", "cancel", "--key", str(venue["alice"]), "--account", str(ALICE),
            "--order-id", "7", "--data", str(venue["data"]), *extra]
    result = _invoke(*args)
    assert result.exit_code == 1 and message in result.output, result.output
    assert client.inbox_count() == before


def test_cancel_without_slot_bits_needs_an_id(venue: dict[str, Any]) -> None:
    result = _invoke("trader", "cancel", "--key", str(venue["alice"]), "--account", str(ALICE),
                     "--order-id", "7", "--rpc-url", venue["rpc_url"],
                     "--rollup", venue["record"]["rollup"])
    assert result.exit_code == 1 and "give --cancel-id, --slot-bits" in result.output


def test_out_writes_the_message_and_sends_nothing(venue: dict[str, Any]) -> None:
    client = venue["client"]
    before = client.inbox_count()
    out = venue["work"] / "message.json"
    result = _json(*_order_args(venue, **{"--out": str(out), "--order-id": "5"}))
    assert not result["sent"] and client.inbox_count() == before
    data = json.loads(out.read_text())
    assert data["kind"] == "zkmatch-inbox-message"
    assert data["rollup"] == venue["record"]["rollup"]
    entry = decode(Message.from_json(data), _operator_scalar(venue["data"])).entry
    assert isinstance(entry, SignedOrder) and entry.order.order_id == 5


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_chain_errors_name_the_url_or_the_address(venue: dict[str, Any]) -> None:
    dead = f"http://127.0.0.1:{_free_port()}"
    common = ["--key", str(venue["alice"]), "--account", str(ALICE), "--order-id", "7"]
    result = _invoke("trader", "cancel", *common, "--cancel-id", "11", "--rpc-url", dead,
                     "--rollup", venue["record"]["rollup"])
    assert result.exit_code == 1
    assert f"no chain answers at {dead}" in result.output and "refused" in result.output
    nobody = "0x" + "42" * 20
    result = _invoke("trader", "cancel", *common, "--cancel-id", "11",
                     "--rpc-url", venue["rpc_url"], "--rollup", nobody)
    assert result.exit_code == 1 and "no contract at" in result.output, result.output
    result = _invoke("trader", "cancel", *common, "--cancel-id", "11",
                     "--rpc-url", venue["rpc_url"], "--rollup", venue["record"]["verifier"])
    assert result.exit_code == 1 and "is not a zkmatch Rollup" in result.output, result.output
    result = _invoke("trader", "cancel", *common, "--cancel-id", "11",
                     "--rpc-url", venue["rpc_url"], "--rollup", "0x1234")
    assert result.exit_code == 1 and "not an Ethereum address" in result.output
    result = _invoke("trader", "cancel", *common, "--cancel-id", "11")
    assert result.exit_code == 1 and "--rpc-url and --rollup, or --data" in result.output


def test_key_file_errors_come_first(venue: dict[str, Any], tmp_path: Path) -> None:
    loose = tmp_path / "loose.key"
    new_trader_key(loose)
    os.chmod(loose, 0o644)
    for path, message in ((tmp_path / "missing.key", "does not exist"),
                          (loose, "readable by others")):
        result = _invoke(*_order_args(venue, **{"--key": str(path)}))
        assert result.exit_code == 1 and message in result.output, result.output


class _NotADevNode:
    """A client whose node knows no ``anvil_setBalance`` and whose account is empty."""

    class w3:  # noqa: N801 - mimics the attribute
        class eth:  # noqa: N801
            @staticmethod
            def get_balance(_address: str) -> int:
                return 0

        class provider:  # noqa: N801
            @staticmethod
            def make_request(_method: str, _params: list[Any]) -> Any:
                raise RuntimeError("method not found")

    def send_message(self, *_args: Any, **_kw: Any) -> Any:  # pragma: no cover
        raise AssertionError("must not send")


def test_an_empty_sending_account_on_a_real_chain_is_an_error() -> None:
    key = TraderKey.from_seed("nobody")
    operator = PrivateKey.from_seed("op")
    _, message = seal(Cancel(2, 5), key, Venue((), operator.public_key, 0))
    with pytest.raises(TraderError, match=f"{key.eth_address} has no ether"):
        post_message(_NotADevNode(), message, key)
