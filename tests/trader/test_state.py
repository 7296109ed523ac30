"""Receipts from the operator and ``zkmatch trader state``, the CLI only, on the session's
anvil: after the batch of tests/trader/test_two_traders.py (alice rests an ask of 5, bob's
IOC buy of 3 fills against it) ``zkmatch batch`` has written one receipt per touched account
(the fee account, the insurance fund, alice and bob; none for carol); ``trader state``
recomputes alice's and bob's leaves and roots and finds them accepted on chain; a receipt
with one value changed (collateral, a sibling, an order body, the batch number) or a broken
file is refused with a message naming what does not match; another trader's key is refused;
and a kill between confirming and writing the receipts loses nothing (reconcile writes them
again, byte for byte)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from cli.main import main
from prover.chain.rollup import RollupClient, connect
from prover.exchange.scenario import KEY_SEED_PREFIX
from prover.operator.data import DataDir
from prover.operator.receipts import FORMAT, Receipt, retarget_receipts
from prover.operator.store import Store
from prover.toolchain.anvil import AnvilNode
from tests.scenarios import GENESIS_DEMO

pytestmark = [pytest.mark.chain, pytest.mark.circuit]

FEE, INSURANCE, ALICE, BOB, CAROL = 0, 1, 2, 3, 4  # the demo's accounts
REPO = Path(__file__).resolve().parents[2]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _json(*args: str) -> Any:
    result = _invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def venue(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """test_two_traders's flow: deploy, alice's ask, bob's crossing IOC, two batches (one
    message each: the demo circuit's messagesPerBatch is 1): the ask rests, the IOC fills."""
    work = tmp_path_factory.mktemp("state")
    data = work / "data"
    record = _json("deploy", "--data", str(data), "--scenario", str(GENESIS_DEMO),
                   "--rpc-url", anvil_node.rpc_url)
    keys = {}
    for name in ("alice", "bob"):
        keys[name] = work / f"{name}.key"
        _json("trader", "keygen", "--out", str(keys[name]), "--seed", KEY_SEED_PREFIX + name)
    common = ["--market", "0", "--expiry", "+86400", "--data", str(data)]
    _json("trader", "order", "--key", str(keys["alice"]), "--account", str(ALICE),
          "--side", "sell", "--price", "30010000", "--size", "5", "--order-id", "1", *common)
    _json("trader", "order", "--key", str(keys["bob"]), "--account", str(BOB),
          "--side", "buy", "--price", "30020000", "--size", "3", "--order-id", "1",
          "--tif", "ioc", *common)
    client = RollupClient(connect(anvil_node.rpc_url), record["rollup"])
    fills = []
    for i in range(2):
        prices = work / f"prices-{i}.json"
        signed = _invoke("feed", "sign", "--key", str(data / "keys" / "feed.key"),
                         "--mark", "30000000", "--mark", "20000000",
                         "--timestamp", str(client.state().last_timestamp + 10),
                         "--out", str(prices))
        assert signed.exit_code == 0, signed.output
        out = _json("batch", "--data", str(data), "--prices", str(prices))
        (run,) = out["batches"]
        assert run["step"] == "confirmed"
        fills.append(run["fills"])
    assert fills == [0, 1] and int(run["batch_number"]) == 1
    return {"data": data, "receipts": data / "receipts", "rollup": record["rollup"],
            "rpc_url": anvil_node.rpc_url, "keys": keys, "client": client,
            "batch": int(run["batch_number"]), "work": work}


def _chain(venue: dict[str, Any]) -> list[str]:
    return ["--rpc-url", venue["rpc_url"], "--rollup", venue["rollup"]]


def _receipt(venue: dict[str, Any], account: int) -> dict[str, Any]:
    path = venue["receipts"] / str(account) / "latest.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _tampered(venue: dict[str, Any], tmp_path: Path, data: dict[str, Any]) -> Result:
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(data))
    return _invoke("trader", "state", "--receipt", str(path), *_chain(venue))


def test_one_receipt_per_touched_account(venue: dict[str, Any]) -> None:
    receipts: Path = venue["receipts"]
    n = venue["batch"]
    assert sorted(int(p.name) for p in receipts.iterdir()) == [FEE, INSURANCE, ALICE, BOB]
    assert not (receipts / str(CAROL)).exists()  # carol traded nothing
    root = venue["client"].state().root
    for account in (FEE, INSURANCE, ALICE, BOB):
        folder = receipts / str(account)
        names = {p.name for p in folder.iterdir()}
        # bob's first message is in batch 1; alice's ask (and the fee account and the
        # insurance fund, in every batch) were touched by batch 0 too
        earlier = set() if account == BOB else {"batch-0.json"}
        assert names == {f"batch-{n}.json", "latest.json"} | earlier
        text = (folder / "latest.json").read_text()
        assert (folder / f"batch-{n}.json").read_text() == text
        data = json.loads(text)
        assert data["format"] == FORMAT and data["version"] == 1
        assert (data["account"]["index"], data["batch"], data["root"]) == (
            str(account), str(n), str(root))
        receipt = Receipt.from_json(data)
        assert receipt.recompute().root == root
    alice = _receipt(venue, ALICE)
    assert alice["market_names"] == ["BTC-PERP", "ETH-PERP"]
    assert [(f["taker"]["account"], f["maker"]["account"], f["qty"]) for f in alice["fills"]] == [
        (str(BOB), str(ALICE), "3")]
    assert _receipt(venue, FEE)["fills"] == []  # fees reach account 0; no fill names it


def test_trader_state_shows_alices_resting_ask_and_bobs_position(venue: dict[str, Any]) -> None:
    alice = _json("trader", "state", "--receipts", str(venue["receipts"]),
                  "--account", str(ALICE), "--key", str(venue["keys"]["alice"]), *_chain(venue))
    assert alice["verified_on_chain"] is True and alice["current"] is True
    assert alice["key_checked"] is True
    assert (alice["account"], alice["batch"]) == (ALICE, venue["batch"])
    assert alice["root"] == str(venue["client"].state().root) == alice["chain"]["root"]
    (ask,) = alice["open_orders"]
    assert (ask["order_id"], ask["side"], ask["size"], ask["filled"], ask["remaining"]) == (
        "1", "sell", "5", "3", "2")
    assert ask["price"] == "30010000" and ask["market_name"] == "BTC-PERP"
    assert alice["positions"][0]["size"] == "-3" and alice["positions"][1]["size"] == "0"
    (fill,) = alice["fills"]
    assert (fill["role"], fill["side"], fill["qty"], fill["counterparty"]) == (
        "maker", "sell", "3", BOB)

    # bob through the operator's folder (its node, its Rollup, DATA/receipts)
    bob = _json("trader", "state", "--data", str(venue["data"]), "--account", str(BOB),
                "--key", str(venue["keys"]["bob"]))
    assert bob["verified_on_chain"] is True and bob["current"] is True
    assert bob["positions"][0] == {"market": 0, "market_name": "BTC-PERP", "size": "3",
                                   "funding_index": bob["positions"][0]["funding_index"]}
    assert bob["open_orders"] == []  # the IOC filled in full
    assert [s["status"] for s in bob["slots"]] == ["filled"]
    (fill,) = bob["fills"]
    assert (fill["role"], fill["side"], fill["qty"], fill["price"]) == (
        "taker", "buy", "3", "30010000")

    human = _invoke("trader", "state", "--receipts", str(venue["receipts"]),
                    "--account", str(ALICE), *_chain(venue))
    assert human.exit_code == 0, human.output
    assert "verified on chain" in human.output and "current: yes" in human.output
    assert "BTC-PERP -3" in human.output
    assert "order 1 (slot 1): sell 5 BTC-PERP at 30010000, filled 3, remaining 2" in human.output


def _bump_digit(text: str) -> str:
    return text[:-1] + str((int(text[-1]) + 1) % 10)


@pytest.mark.parametrize("change, message", [
    ("collateral", "the Rollup accepted root"),
    ("sibling", "the Rollup accepted root"),
    ("books root", "the Rollup accepted root"),
    ("order", "the order body in slot 1 hashes to"),
    ("batch", "is not on chain"),
    ("rollup", "it is for the Rollup"),
])
def test_a_changed_receipt_does_not_match(
    venue: dict[str, Any], tmp_path: Path, change: str, message: str
) -> None:
    data = _receipt(venue, ALICE)
    if change == "collateral":
        data["account"]["collateral"] = _bump_digit(data["account"]["collateral"])
    elif change == "sibling":
        data["siblings"][1][2] = _bump_digit(data["siblings"][1][2])
    elif change == "books root":  # the demo's venue has the committed book
        data["books_root"] = _bump_digit(data["books_root"])
    elif change == "order":
        (slot,) = [s for s in data["slots"] if s["order"] is not None]
        slot["order"]["price"] = "30020000"  # a better price than the one signed
    elif change == "batch":
        data["batch"] = str(venue["batch"] + 5)
    else:
        data["rollup"] = "0x" + "42" * 20
    result = _tampered(venue, tmp_path, data)
    assert result.exit_code == 1, result.output
    assert "does not match" in result.output and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_a_forged_root_in_the_receipt_is_still_the_chains_to_judge(
    venue: dict[str, Any], tmp_path: Path
) -> None:
    """A receipt whose leaf and root agree with each other, but not with the chain: the
    operator claims a root the Rollup never accepted."""
    data = _receipt(venue, ALICE)
    data["account"]["collateral"] = str(int(data["account"]["collateral"]) + 10**6)
    forged = Receipt.from_json(data)
    data["root"] = str(forged.recompute().root)
    result = _tampered(venue, tmp_path, data)
    assert result.exit_code == 1
    assert f"give root {data['root']}, the Rollup accepted root" in result.output


def test_a_broken_receipt_file_is_refused(venue: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"format": "zkmatch-receipt"')
    result = _invoke("trader", "state", "--receipt", str(path), *_chain(venue))
    assert result.exit_code == 1 and "unreadable receipt" in result.output
    data = _receipt(venue, ALICE)
    del data["siblings"]
    result = _tampered(venue, tmp_path, data)
    assert result.exit_code == 1 and "malformed receipt: siblings" in result.output
    data = _receipt(venue, ALICE)
    data["siblings"] = data["siblings"][:1]
    result = _tampered(venue, tmp_path, data)
    assert result.exit_code == 1 and "levels of siblings" in result.output, result.output
    result = _invoke("trader", "state", "--receipts", str(venue["receipts"]),
                     "--account", str(CAROL), *_chain(venue))
    assert result.exit_code == 1 and "no such receipt" in result.output


def test_another_traders_key_is_refused(venue: dict[str, Any]) -> None:
    result = _invoke("trader", "state", "--receipts", str(venue["receipts"]),
                     "--account", str(ALICE), "--key", str(venue["keys"]["bob"]), *_chain(venue))
    assert result.exit_code == 1
    assert f"account {ALICE} has public key" in result.output
    assert "not this key file's" in result.output


def test_a_dead_chain_is_named(venue: dict[str, Any]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = f"http://127.0.0.1:{port}"
    result = _invoke("trader", "state", "--receipts", str(venue["receipts"]),
                     "--account", str(ALICE), "--rpc-url", dead, "--rollup", venue["rollup"])
    assert result.exit_code == 1 and f"no chain answers at {dead}" in result.output


def test_receipts_lost_before_writing_come_back_identical(venue: dict[str, Any]) -> None:
    """A kill between confirming a batch and writing its receipts (only the last batch's
    can be missing: a batch's receipts are written before the next batch starts): the next
    command's reconcile writes them, the same bytes."""
    receipts: Path = venue["receipts"]
    before = {p.relative_to(receipts): p.read_bytes() for p in receipts.rglob("*.json")}
    assert len(before) == 11  # fee, insurance, alice: batches 0, 1, latest; bob: 1, latest
    last = f"batch-{venue['batch']}.json"
    for path in [*receipts.rglob(last), *receipts.rglob("latest.json")]:
        path.unlink()
    out = _json("batch", "--data", str(venue["data"]))
    assert out["batches"] == []  # nothing in flight, no prices: only reconcile ran
    after = {p.relative_to(receipts): p.read_bytes() for p in receipts.rglob("*.json")}
    assert after == before
    # with every receipt in place, reconcile writes nothing
    stamps = {p: p.stat().st_mtime_ns for p in receipts.rglob("*.json")}
    _json("batch", "--data", str(venue["data"]))
    assert {p: p.stat().st_mtime_ns for p in receipts.rglob("*.json")} == stamps


def test_a_batch_sent_again_gets_its_new_transaction_in_its_receipts(
    venue: dict[str, Any], tmp_path: Path
) -> None:
    """The chain lost the batch and the operator sent it again (reconcile): same root, new
    transaction; the receipts on disk get its hash and block, nothing else changes."""
    copy = tmp_path / "receipts"
    shutil.copytree(venue["receipts"], copy)
    with Store.open(DataDir(venue["data"]).store) as store:
        row = store.batch(venue["batch"])
    assert row is not None
    row = {**row, "tx_hash": "0x" + "ab" * 32, "block": 99}
    written = retarget_receipts(copy, row)
    assert len(written) == 8
    for path in written:
        old = json.loads((venue["receipts"] / path.relative_to(copy)).read_text())
        new = json.loads(path.read_text())
        assert (new["tx_hash"], new["block"]) == (row["tx_hash"], "99")
        assert {**new, "tx_hash": old["tx_hash"], "block": old["block"]} == old
    assert retarget_receipts(copy, row) == []  # already there


def test_a_later_batch_makes_an_older_receipt_not_current(venue: dict[str, Any]) -> None:
    """Carol rests an order in the next batch, which does not touch alice; the operator is
    killed between confirming it and writing its receipts, and the next command writes
    them. Alice's newest receipt is still batch 0's, proven, and no longer ``current`` (the
    Rollup's root moved on, whether or not her leaf changed). Last in the module: it moves
    the chain on."""
    work, data = venue["work"], venue["data"]
    carol = work / "carol.key"
    _json("trader", "keygen", "--out", str(carol), "--seed", KEY_SEED_PREFIX + "carol")
    _json("trader", "order", "--key", str(carol), "--account", str(CAROL), "--market", "1",
          "--side", "buy", "--price", "19000000", "--size", "2", "--order-id", "5",
          "--expiry", "+86400", "--data", str(data))
    prices = work / "prices-1.json"
    signed = _invoke("feed", "sign", "--key", str(data / "keys" / "feed.key"),
                     "--mark", "30000000", "--mark", "20000000", "--timestamp",
                     str(venue["client"].state().last_timestamp + 10), "--out", str(prices))
    assert signed.exit_code == 0, signed.output
    # killed (SIGKILL) right after the batch is confirmed, before its receipts are written
    env = {**os.environ, "ZKMATCH_CRASHPOINT": "after_confirm"}
    killed = subprocess.run(
        [sys.executable, "-m", "cli.main", "batch", "--data", str(data), "--prices",
         str(prices)], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stdout + killed.stderr
    later = venue["batch"] + 1
    assert venue["client"].state().batch_number == later + 1  # accepted on chain
    receipts: Path = venue["receipts"]
    assert not (receipts / str(CAROL)).exists()
    assert _json("batch", "--data", str(data))["batches"] == []  # reconcile only
    run = {"new_root": str(venue["client"].state().root)}
    assert (receipts / str(CAROL) / f"batch-{later}.json").is_file()
    assert not (receipts / str(ALICE) / f"batch-{later}.json").exists()

    alice = _json("trader", "state", "--receipts", str(receipts), "--account", str(ALICE),
                  *_chain(venue))
    assert alice["batch"] == venue["batch"] and alice["verified_on_chain"] is True
    assert alice["current"] is False and alice["chain"]["root"] == run["new_root"]
    human = _invoke("trader", "state", "--receipts", str(receipts), "--account", str(ALICE),
                    *_chain(venue))
    assert "current: no, the Rollup has moved on" in human.output
    carol_state = _json("trader", "state", "--receipts", str(receipts), "--account",
                        str(CAROL), "--key", str(carol), *_chain(venue))
    assert carol_state["current"] is True and carol_state["batch"] == later
    (bid,) = carol_state["open_orders"]
    assert (bid["order_id"], bid["market_name"], bid["filled"]) == ("5", "ETH-PERP", "0")
