"""Crash safety: the operator killed with SIGKILL at every step, restarted, consistent.

The fast test kills ``zkmatch batch`` once at each crash point (prover/operator/loop.py,
``CRASHPOINTS``) and checks store, chain and queue after every restart
(tests/operator/harness.py); the slow one kills it 100 times at random moments.
Both end with the model's root on chain and in the store, every message processed once.
"""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from prover.operator.data import write_json
from prover.operator.loop import CRASHPOINTS
from prover.operator.store import Store
from prover.toolchain.anvil import AnvilNode
from tests.operator.harness import ROOT, Harness


def test_a_kill_at_every_step_loses_and_duplicates_nothing(
    tmp_path: Path, anvil_node: AnvilNode
) -> None:
    harness = Harness(tmp_path / "0", anvil_node.rpc_url)
    finished = 0
    for point in CRASHPOINTS:
        for _attempt in range(4):
            if harness.done():  # the scenario is through: again, on a fresh deployment
                harness.finish()
                finished += 1
                harness = Harness(tmp_path / str(finished), anvil_node.rpc_url)
            rc = harness.run(crashpoint=point)
            harness.check()
            if rc == -9:
                break
            # rc 0: this run did not reach the point (it only finished a batch left in
            # flight, or every queued message was refused); the next run will.
        else:
            raise AssertionError(f"{point} was never reached:\n" + "\n".join(harness.log))
        harness.run()  # the restart finishes (or redoes) the batch
        harness.check()
    harness.finish()


@pytest.mark.slow
def test_a_hundred_random_kills_lose_and_duplicate_nothing(
    tmp_path: Path, anvil_node: AnvilNode
) -> None:
    rng = random.Random(20261202)
    harness = Harness(tmp_path, anvil_node.rpc_url)
    kills = 0
    while kills < 100:
        if harness.done():  # start the scenario over on a fresh deployment
            harness = Harness(tmp_path / f"again-{kills}", anvil_node.rpc_url)
        rc = harness.run(kill_after=rng.uniform(0.5, 20.0))
        kills += rc == -9
        harness.check()
    harness.finish()


def test_a_chain_that_lost_batches_gets_them_again_from_the_store(
    tmp_path: Path, anvil_node: AnvilNode, w3: Any
) -> None:
    harness = Harness(tmp_path, anvil_node.rpc_url)
    assert harness.run() == 0  # batch 0
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]
    assert harness.run() == 0  # batch 1
    with Store.open(harness.data.store) as store:
        confirmed, root = store.next_batch, store.root
    assert confirmed == 2 and harness.client.state().batch_number == 2
    w3.provider.make_request("evm_revert", [snapshot])  # the node forgets batch 1
    assert harness.client.state().batch_number == 1
    assert harness.run(new_batch=False) == 0  # reconcile sends batch 1 again, from its proof
    harness.check()
    events = harness.client.batches()
    assert [e.number for e in events] == [0, 1]
    with Store.open(harness.data.store) as store:
        assert store.batch(1)["new_root"] == str(events[1].new_root)  # type: ignore[index]
        assert store.next_batch == confirmed and store.root == root
        assert store.batch(1)["tx_hash"] == events[1].tx_hash  # type: ignore[index]


def test_a_store_that_did_not_make_the_chain_is_refused(
    tmp_path: Path, anvil_node: AnvilNode
) -> None:
    first = Harness(tmp_path / "a", anvil_node.rpc_url)
    second = Harness(tmp_path / "b", anvil_node.rpc_url)
    assert first.run() == 0
    # Point the second folder at the first's Rollup: its store did not make that chain.
    deployment = second.data.read_deployment()
    deployment["rollup"] = first.data.read_deployment()["rollup"]
    write_json(second.data.deployment, deployment)
    with Store.open(second.data.store) as store:
        before = store.messages()
    result = subprocess.run(
        [sys.executable, "-m", "cli.main", "batch", "--data", str(second.data.root),
         "--rpc-url", anvil_node.rpc_url], cwd=ROOT, capture_output=True, text=True,
    )
    assert result.returncode == 1 and "did not come from one operator" in result.stderr, (
        result.stderr)
    with Store.open(second.data.store) as store:
        assert store.messages() == before and store.in_flight() is None
