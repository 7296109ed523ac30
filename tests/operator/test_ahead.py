"""Proving ahead (``zkmatch run --workers N``): a backlog's batches are proven at once and
still matched, sent and confirmed one by one, in order; a proof made ahead is used only
for the very witness it proves."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from prover.demo import drive_scenario
from prover.exchange.domain import PriceSet
from prover.exchange.scenario import signed_rounds
from prover.operator.data import DataDir
from prover.operator.deploy import deploy_operator
from prover.operator.loop import Operator
from prover.operator.store import STEP_CONFIRMED
from prover.proving.batches import load_scenario
from tests.operator.harness import inbox_model_root
from tests.scenarios import GENESIS_DEMO

pytestmark = [pytest.mark.chain, pytest.mark.circuit]


def _operator(tmp_path: Path, rpc_url: str, workers: int) -> Operator:
    data = DataDir(tmp_path / "data")
    deploy_operator(data.root, GENESIS_DEMO, rpc_url=rpc_url)
    return Operator(data, rpc_url, workers=workers)


def _in_step(operator: Operator) -> None:
    status = operator.status()
    assert status["in_step"] and status["store"]["in_flight"] is None
    assert all(b["step"] == STEP_CONFIRMED for b in operator.store.batches())


def test_a_backlog_is_proven_ahead_and_sent_in_order(
    tmp_path: Path, chain: Any, anvil_node: Any
) -> None:
    scenario = load_scenario(GENESIS_DEMO)
    with _operator(tmp_path, anvil_node.rpc_url, workers=2) as operator:
        played = drive_scenario(operator, scenario)
        assert played.traders["ok"]  # the traders sent through the CLI; states agree
        runs = played.runs
        assert [r.number for r in runs] == list(range(len(runs))) and len(runs) >= 3
        assert all(r.step == STEP_CONFIRMED for r in runs)
        # rounds of several batches (inbox ranges) were proven ahead
        assert operator.ahead_used and set(operator.ahead_used) <= {r.number for r in runs}
        _in_step(operator)
        assert operator.store.root == inbox_model_root(operator.data, operator.client,
                                                       operator.store)


def test_a_proof_made_ahead_is_used_only_for_its_own_witness(
    tmp_path: Path, chain: Any, anvil_node: Any
) -> None:
    """The plan for batch 1 is made to differ from what the store then matches (as when
    the queue changed in between): its proof, made for another witness (one the circuit
    refuses, even), is dropped, and batch 1 is proven again from its recorded witness."""
    scenario = load_scenario(GENESIS_DEMO)
    with _operator(tmp_path, anvil_node.rpc_url, workers=2) as operator:
        operator.post_entries(signed_rounds(scenario)[0])
        real_plan = operator.plan

        def plan_with_another_batch_1(*args: Any) -> list[Any]:
            planned = real_plan(*args)
            price_set, report = planned[1]
            inputs = report.result.witness.as_circuit_inputs()
            other = {**inputs, "batchInfo": str(int(inputs["batchInfo"]) + 1)}
            fake = SimpleNamespace(result=SimpleNamespace(
                batch_number=report.result.batch_number,
                witness=SimpleNamespace(as_circuit_inputs=lambda: other)))
            return [planned[0], (price_set, fake), *planned[2:]]

        operator.plan = plan_with_another_batch_1  # type: ignore[method-assign]
        rnd = scenario.rounds[0]

        def prices_after(last: int) -> PriceSet:
            return PriceSet(0, max(rnd.timestamp, last + 1), rnd.marks,
                            rnd.funding).signed(scenario.feed)

        lines: list[str] = []
        operator.progress = lines.append
        runs = operator.batches_ahead(prices_after(0), prices_after)
        assert [r.number for r in runs] == [0, 1]
        assert operator.ahead_used == [0]
        assert any("batch 1: its witness changed since it was planned" in line for line in lines)
        _in_step(operator)
