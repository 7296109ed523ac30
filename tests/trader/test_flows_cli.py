"""Collateral in and out through the CLI on the session's anvil (docs/flows.md), with the
real batch circuit: the demo deployed with no trader funded, traders deposit with ``zkmatch
trader deposit``, ``zkmatch batch`` consumes the queue in order (proven), a trader who never
had an account trades right after; a deposit the proof must refund (a key outside the
prime-order subgroup) comes back as an exit that ``zkmatch trader claim`` pays once; a
withdrawal (``zkmatch trader withdraw``) is paid and claimed once, one that would break the
margin is not paid. After every batch the Rollup's token balance is the state's collateral
plus what it owes plus the queued deposits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.chain.rollup import RollupClient, connect, mint
from prover.crypto import babyjub
from prover.demo import DEMO_SCENARIO
from prover.exchange.flows import TORSION
from prover.exchange.scenario import KEY_SEED_PREFIX
from prover.operator.data import DataDir
from prover.operator.store import Store
from prover.toolchain.anvil import AnvilNode
from prover.trader.keys import TraderKey

pytestmark = pytest.mark.chain

USDC = 10**6


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _json(*args: str) -> Any:
    result = _invoke(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def _fails(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code != 0, result.output
    return result.output


@pytest.fixture(scope="module")
def venue(anvil_node: AnvilNode, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The demo (funded by deposits) deployed with ``zkmatch deploy`` on the session's
    anvil, and two traders' key files."""
    work = tmp_path_factory.mktemp("flows")
    data = work / "data"
    record = _json("deploy", "--data", str(data), "--scenario", str(DEMO_SCENARIO),
                   "--rpc-url", anvil_node.rpc_url)
    keys = {}
    for name in ("alice", "bob"):
        keys[name] = work / f"{name}.key"
        _json("trader", "keygen", "--out", str(keys[name]), "--seed", KEY_SEED_PREFIX + name)
    client = RollupClient(connect(anvil_node.rpc_url), record["rollup"])
    return {"data": data, "record": record, "keys": keys, "client": client,
            "rpc_url": anvil_node.rpc_url, "work": work, "time": [1_700_000_000]}


def _chain(venue: dict[str, Any]) -> list[str]:
    return ["--data", str(venue["data"]), "--rpc-url", venue["rpc_url"]]


def _batch(venue: dict[str, Any]) -> list[dict[str, Any]]:
    """``zkmatch batch`` at the demo's first marks, one second after the last batch."""
    venue["time"][0] += 1
    prices = venue["work"] / f"prices-{venue['time'][0]}.json"
    feed = DataDir(venue["data"]).feed_key
    result = _invoke("feed", "sign", "--key", str(feed), "--mark", "30000000", "--mark",
                     "20000000", "--timestamp", str(venue["time"][0]), "--out", str(prices))
    assert result.exit_code == 0, result.output
    out = _json("batch", "--prices", str(prices), *_chain(venue))
    return list(out["batches"])


def _conserved(venue: dict[str, Any]) -> None:
    """Token balance of the Rollup = collateral in the state + owed exits + queued deposits."""
    client = venue["client"]
    with Store.open(DataDir(venue["data"]).store) as store:
        state = store.load_state()
    queued = client.deposits(from_number=client.deposits_consumed())
    assert client.token_balance(client.address) == (
        state.total_collateral() + client.total_claimable() + sum(d.amount for d in queued)
    )
    assert state.root == client.state().root


def test_deposits_open_accounts_that_trade_at_once(venue: dict[str, Any]) -> None:
    client = venue["client"]
    assert client.next_account() == 2  # nobody funded at genesis
    alice = _json("trader", "deposit", "1000", "--mint", "--key", str(venue["keys"]["alice"]),
                  *_chain(venue))
    assert (alice["account"], alice["new_account"], alice["amount"]) == (2, True, str(1000 * USDC))
    bob = _json("trader", "deposit", "2500.5", "--mint", "--key", str(venue["keys"]["bob"]),
                *_chain(venue))
    assert (bob["account"], bob["amount"]) == (3, str(2_500_500_000))
    _conserved(venue)
    (run,) = _batch(venue)
    assert run["step"] == "confirmed"
    assert client.deposits_consumed() == 2
    with Store.open(DataDir(venue["data"]).store) as store:
        state = store.load_state()
    assert state.account(2).collateral == 1000 * USDC
    assert state.account(2).pubkey == TraderKey.from_seed(KEY_SEED_PREFIX + "alice").public_key
    _conserved(venue)
    # A second deposit of the same key credits the same account.
    again = _json("trader", "deposit", "1", "--mint", "--key", str(venue["keys"]["alice"]),
                  *_chain(venue))
    assert (again["account"], again["new_account"]) == (2, False)
    # Alice trades in the batch that credits her second deposit.
    _json("trader", "order", "--key", str(venue["keys"]["alice"]), "--account", "2",
          "--market", "0", "--side", "sell", "--price", "30010000", "--size", "1",
          "--order-id", "1", "--expiry", "+3600", *_chain(venue))
    runs = _batch(venue)
    assert [r["step"] for r in runs] == ["confirmed"]
    with Store.open(DataDir(venue["data"]).store) as store:
        state = store.load_state()
    assert state.account(2).collateral == 1001 * USDC
    assert state.slot(2, 1).order_id == 1
    _conserved(venue)


def test_a_refunded_deposit_is_claimed_once(venue: dict[str, Any]) -> None:
    client = venue["client"]
    carol = TraderKey.from_seed(KEY_SEED_PREFIX + "carol")
    # A key outside the subgroup: on the curve (the Rollup takes it), refused by the proof.
    bad = babyjub.add(carol.public_key, TORSION[1])
    mint(client.w3, client.collateral_token(), carol.eth_address, 7 * USDC,
         sender=client.w3.eth.accounts[0])
    from prover.chain.signer import fund_on_dev_chain

    fund_on_dev_chain(client.w3, carol.eth_address)
    client.approve_and_deposit(bad, 7 * USDC, signer=carol.signer)
    before = client.token_balance(carol.eth_address)
    _conserved(venue)
    (run,) = _batch(venue)
    assert run["step"] == "confirmed"
    assert client.claimable(carol.eth_address) == 7 * USDC
    _conserved(venue)
    key = venue["work"] / "carol.key"
    _json("trader", "keygen", "--out", str(key), "--seed", KEY_SEED_PREFIX + "carol")
    claimed = _json("trader", "claim", "--key", str(key), *_chain(venue))
    assert claimed["amount"] == str(7 * USDC)
    assert client.token_balance(carol.eth_address) == before + 7 * USDC
    assert client.claimable(carol.eth_address) == 0
    _conserved(venue)
    assert "owes" in _fails("trader", "claim", "--key", str(key), *_chain(venue))


def test_withdraw_then_claim_once(venue: dict[str, Any]) -> None:
    """Alice withdraws 100 USDC (her nonce from her latest receipt, checked on chain);
    the next batch pays it; Bob claims it *for* her (the tokens go to her), a second claim
    and a claim of Bob's own (he is owed nothing) are refused."""
    client = venue["client"]
    alice_key = TraderKey.from_seed(KEY_SEED_PREFIX + "alice")
    with Store.open(DataDir(venue["data"]).store) as store:
        before = store.load_state().account(2)
    sent = _json("trader", "withdraw", "100", "--key", str(venue["keys"]["alice"]),
                 "--account", "2", *_chain(venue))
    assert sent["withdrawal"]["nonce"] == str(before.nonce) and sent["sent"]
    (run,) = _batch(venue)
    assert run["step"] == "confirmed"
    with Store.open(DataDir(venue["data"]).store) as store:
        after = store.load_state().account(2)
    assert after.collateral == before.collateral - 100 * USDC
    assert after.nonce == before.nonce + 1
    assert client.claimable(alice_key.eth_address) == 100 * USDC
    _conserved(venue)
    balance = client.token_balance(alice_key.eth_address)
    bob = str(venue["keys"]["bob"])
    claimed = _json("trader", "claim", "--key", bob, "--to", alice_key.eth_address,
                    *_chain(venue))
    assert claimed["recipient"] == alice_key.eth_address
    assert client.token_balance(alice_key.eth_address) == balance + 100 * USDC
    _conserved(venue)
    assert "owes" in _fails("trader", "claim", "--key", str(venue["keys"]["alice"]),
                            *_chain(venue))
    assert "owes" in _fails("trader", "claim", "--key", bob, *_chain(venue))


def test_a_withdrawal_that_breaks_the_margin_is_not_paid(venue: dict[str, Any]) -> None:
    """More than Alice's collateral: the batch proves it may not be paid (her nonce is
    used: the same message cannot be replayed later), nothing leaves."""
    client = venue["client"]
    with Store.open(DataDir(venue["data"]).store) as store:
        before = store.load_state().account(2)
    owed = client.total_claimable()
    _json("trader", "withdraw", str(before.collateral + 1), "--units", "--key",
          str(venue["keys"]["alice"]), "--account", "2", *_chain(venue))
    (run,) = _batch(venue)
    assert run["step"] == "confirmed"
    with Store.open(DataDir(venue["data"]).store) as store:
        after = store.load_state().account(2)
        (row,) = [r for r in store.batches() if r["batch_number"] == run["batch_number"]]
    assert after.collateral == before.collateral and after.nonce == before.nonce + 1
    assert client.total_claimable() == owed
    (message,) = row["messages"]
    assert message["withdrawal"]["paid"] is False
    assert [r["reason"] for r in message["rejections"]] == ["INSUFFICIENT_MARGIN"]
    _conserved(venue)
    # A withdrawal for another key's account is refused before anything is sent.
    assert "not 3" in _fails("trader", "withdraw", "1", "--key", str(venue["keys"]["alice"]),
                             "--account", "3", "--nonce", "0", *_chain(venue))


def test_bad_deposits_change_nothing(venue: dict[str, Any]) -> None:
    client = venue["client"]
    count = client.deposit_count()
    alice = str(venue["keys"]["alice"])
    assert "decimals" in _fails("trader", "deposit", "0.0000001", "--key", alice, *_chain(venue))
    assert "1 to 2^56" in _fails("trader", "deposit", "0", "--key", alice, *_chain(venue))
    assert "not a number" in _fails("trader", "deposit", "lots", "--key", alice, *_chain(venue))
    # More than the sending address holds: refused before anything is sent.
    assert "holds" in _fails("trader", "deposit", "1000000", "--key", alice, *_chain(venue))
    assert client.deposit_count() == count
    _conserved(venue)


def test_the_audit_accepts_every_batch(venue: dict[str, Any]) -> None:
    audit = _json("verify", "--data", str(venue["data"]), "--rpc-url", venue["rpc_url"])
    assert audit["ok"] and len(audit["batches"]) == venue["client"].state().batch_number


def test_an_operator_that_stops_is_frozen_and_queued_deposits_come_back(
    venue: dict[str, Any],
) -> None:
    """The operator stops batching: Bob's new deposit waits; before the deadline freezing
    is refused, after it anyone freezes with ``zkmatch trader freeze``, and ``zkmatch trader
    refund-deposits`` then ``claim`` give Bob his tokens back. (Last in this module: the
    venue stays frozen.)"""
    client = venue["client"]
    bob_key = TraderKey.from_seed(KEY_SEED_PREFIX + "bob")
    bob = str(venue["keys"]["bob"])
    _json("trader", "deposit", "12", "--mint", "--key", bob, *_chain(venue))
    assert "nothing is overdue" in _fails("trader", "freeze", "--key", bob, *_chain(venue))
    delay = client.forced_delay()
    client.w3.provider.make_request("evm_increaseTime", [delay + 1])
    client.w3.provider.make_request("evm_mine", [])
    frozen = _json("trader", "freeze", "--key", str(venue["keys"]["alice"]), *_chain(venue))
    assert frozen["frozen"] and frozen["root"] == str(client.state().root)
    refunded = _json("trader", "refund-deposits", "--key", bob, *_chain(venue))
    assert [d["amount"] for d in refunded["refunded"]] == [str(12 * USDC)]
    before = client.token_balance(bob_key.eth_address)
    _json("trader", "claim", "--key", bob, *_chain(venue))
    assert client.token_balance(bob_key.eth_address) == before + 12 * USDC
    assert "frozen" in _fails("trader", "deposit", "1", "--mint", "--key", bob,
                              *_chain(venue)).lower()
