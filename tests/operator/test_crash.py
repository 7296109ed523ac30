"""Crash safety: the operator killed with SIGKILL at every step, restarted, consistent.

The fast test kills ``zkmatch batch`` once at each crash point (prover/operator/loop.py,
``CRASHPOINTS``) and checks store, chain and queue after every restart
(tests/operator/harness.py); the slow one kills it 100 times at random moments.
Both end with the model's root on chain and in the store, every message processed once.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from prover.operator.loop import CRASHPOINTS
from prover.toolchain.anvil import AnvilNode
from tests.operator.harness import Harness


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
