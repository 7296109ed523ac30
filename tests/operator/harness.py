"""Crash harness: run ``zkmatch batch`` as a separate process, kill it, restart, check.

:class:`Harness` deploys the demo scenario into a data folder on the session's anvil,
feeds the scenario's rounds into the queue as the queue empties, and runs ``zkmatch batch``
processes with prices a feed signed for the round (a second later for a batch the engine
split off). A run may be killed at a named crash point (``ZKMATCH_CRASHPOINT``, SIGKILL at
that step boundary) or at a random moment (SIGKILL to the whole process group, the
prover's children included). :meth:`Harness.check` after every run compares store, chain
and queue; :meth:`Harness.finish` runs to the end and compares with the model.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from prover.chain.rollup import RollupClient, connect
from prover.exchange import inbox
from prover.exchange.domain import PriceSet
from prover.exchange.scenario import signed_rounds
from prover.feed import write_price_set
from prover.operator.data import DataDir
from prover.operator.deploy import deploy_operator
from prover.operator.loop import model_root
from prover.operator.store import STEP_CONFIRMED, Store
from prover.proving.batches import load_scenario
from tests.scenarios import GENESIS_DEMO

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Harness:
    work: Path
    rpc_url: str
    scenario_path: Path = GENESIS_DEMO
    runs: int = 0
    kills: int = 0
    log: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data = DataDir(self.work / "data")
        self.scenario = load_scenario(self.scenario_path)
        deploy_operator(self.data.root, self.scenario_path, rpc_url=self.rpc_url)
        self.rounds = signed_rounds(self.scenario)
        self.next_round = 0
        deployment = self.data.read_deployment()
        self.client = RollupClient(connect(self.rpc_url), deployment["rollup"])
        self.operator_key = self.client.operator_key()
        self.queued = 0

    # --- driving ------------------------------------------------------------------------

    def pending(self, store: Store) -> int:
        """Inbox messages on chain that no batch the store applied has consumed."""
        return self.client.inbox_count() - store.load_state().inbox_count

    def _feed_queue(self, store: Store) -> None:
        """The next round's orders, encrypted to the operator, into the Rollup's inbox
        (sent by a node account, as a trader's client would)."""
        if (self.pending(store) == 0 and store.in_flight() is None
                and self.next_round < len(self.rounds)):
            sender = self.client.w3.eth.accounts[1]
            for entry in self.rounds[self.next_round]:
                self.client.send_message(inbox.encrypt_entry(entry, self.operator_key), sender)
            self.queued += len(self.rounds[self.next_round])
            self.next_round += 1

    def _prices(self, store: Store) -> Path:
        rnd = self.scenario.rounds[max(self.next_round - 1, 0)]
        last = store.load_state().last_timestamp
        flight = store.in_flight()
        if flight is not None:
            last = max(last, int(flight["timestamp"]))
        t = max(rnd.timestamp, last + 1)
        path = self.work / f"prices-{t}.json"
        write_price_set(path, PriceSet(0, t, rnd.marks, rnd.funding).signed(self.scenario.feed))
        return path

    def done(self) -> bool:
        with Store.open(self.data.store) as store:
            return (self.next_round >= len(self.rounds) and self.pending(store) == 0
                    and store.in_flight() is None)

    def run(
        self, *, crashpoint: str | None = None, kill_after: float | None = None,
        new_batch: bool = True,
    ) -> int:
        """One ``zkmatch batch`` process (``new_batch=False``: without prices, so it only
        reconciles and finishes what is in flight); its exit status (-9: killed)."""
        with Store.open(self.data.store) as store:
            if new_batch:
                self._feed_queue(store)
            prices = self._prices(store)
        env = dict(os.environ)
        env.pop("ZKMATCH_CRASHPOINT", None)
        if crashpoint:
            env["ZKMATCH_CRASHPOINT"] = crashpoint
        argv = [sys.executable, "-m", "cli.main", "batch", "--data", str(self.data.root),
                "--rpc-url", self.rpc_url]
        if new_batch:
            argv += ["--prices", str(prices)]
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        if kill_after is not None:
            try:
                out, _ = process.communicate(timeout=kill_after)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                out, _ = process.communicate()
        else:
            out, _ = process.communicate(timeout=600)
        self.runs += 1
        rc = process.returncode
        if rc == -signal.SIGKILL:
            self.kills += 1
        self.log.append(f"run {self.runs} crash={crashpoint} kill_after={kill_after}: rc {rc}\n"
                        + out.decode(errors="replace")[-2000:])
        if rc not in (0, -signal.SIGKILL):
            raise AssertionError(f"zkmatch batch failed (rc {rc}):\n{self.log[-1]}")
        time.sleep(0.05)
        return rc

    # --- checking -----------------------------------------------------------------------

    def check(self) -> None:
        """Store, chain and queue agree (what a restart may rely on):

        - the chain has the store's confirmed batches, or one more: the one in flight,
          with the same new root (the restart records it);
        - the chain's root is the confirmed root (or the in-flight batch's new root);
        - every message sent is in the Rollup's inbox, the store has read a prefix of it,
          and the messages the chain's accepted batches consumed are the ones the store's
          confirmed batches (or the one in flight, once on chain) consumed: none is lost,
          added or taken twice.
        """
        chain = self.client.state()
        with Store.open(self.data.store) as store:
            confirmed = store.next_batch
            flight = store.in_flight()
            if chain.batch_number == confirmed:
                assert chain.root == store.root, "chain root differs from the store's"
            else:
                assert flight is not None and chain.batch_number == confirmed + 1
                assert int(flight["new_root"]) == chain.root
            for row in store.batches():
                if row["batch_number"] < confirmed:
                    assert row["step"] == STEP_CONFIRMED
            assert self.client.inbox_count() == self.queued, "a message was lost or added"
            assert store.inbox_length() <= self.queued
            consumed = store.load_state().inbox_count
            if chain.batch_number != confirmed:
                assert flight is not None
                consumed = int(json.loads(flight["delta"])["inbox_count"])
            assert self.client.inbox_consumed() == consumed, "the inbox ranges disagree"

    def model_root(self, store: Store) -> int:
        return inbox_model_root(self.data, self.client, store)

    def finish(self) -> None:
        """Run undisturbed to the end; then the store's root is the model's and the
        chain holds every batch."""
        for _ in range(40):
            if self.done():
                break
            self.run()
            self.check()
        assert self.done(), "the harness did not finish"
        with Store.open(self.data.store) as store:
            expected = self.model_root(store)
            assert store.root == expected, "the store's root is not the model's"
            assert self.client.state().root == expected
            assert all(m["status"] != "pending" for m in store.messages())


def inbox_model_root(data: DataDir, client: RollupClient, store: Store) -> int:
    """:func:`prover.operator.loop.model_root` (the model's replay of the chain's inbox)."""
    return model_root(data, client, store)
