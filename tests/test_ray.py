"""Distributed proving on Ray (prover/proving/distributed.py): a run of batches proven on a
local Ray cluster (loopback, this machine's cores), in batch order, while one worker is
killed mid-proof and its job is retried elsewhere."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from prover.errors import ToolError
from prover.proving import distributed
from prover.proving.batches import load_scenario, prove_scenario

REPO = Path(__file__).resolve().parents[1]
pytestmark = [
    pytest.mark.circuit,
    pytest.mark.skipif(not distributed.ray_available(), reason="Ray (the [ray] extra) missing"),
]


def _kill_first_prover(killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first Ray worker seen running a proving job (its title is
    ``ray::prove_job``), once."""
    while not stop.is_set() and not killed:
        found = subprocess.run(["pgrep", "-f", "ray::prove_job"], capture_output=True, text=True)
        for pid in found.stdout.split():
            if int(pid) != os.getpid():
                time.sleep(0.5)  # let it start proving
                os.kill(int(pid), signal.SIGKILL)
                killed.append(int(pid))
                return
        time.sleep(0.1)


def test_a_run_of_batches_on_local_ray_survives_a_killed_worker() -> None:
    scenario = load_scenario(REPO / "docs" / "examples" / "demo.json")
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_first_prover, args=(killed, stop), daemon=True)
    lines: list[str] = []
    killer.start()
    try:
        proofs = prove_scenario(scenario, ray="local", workers=2, progress=lines.append)
    finally:
        stop.set()
        killer.join(timeout=5)
    assert killed, "no proving worker was seen to kill"
    # every batch proven, checked here (public signals, snarkjs verify), in batch order
    # The demo: two batches of deposits, then one message per batch.
    assert [p.batch_number for p in proofs] == list(range(9))
    assert all(p.verified and p.public == p.expected_public() for p in proofs)
    for before, after in zip(proofs, proofs[1:], strict=False):
        assert before.new_root == after.old_root
    assert any(line.startswith("ray: starting a local cluster") for line in lines)
    workers = {line.split(" on ", 1)[1].split(" ")[0] for line in lines
               if " proven on " in line}
    assert len(workers) >= 2  # the jobs ran in more than one worker process


def test_an_unreachable_cluster_is_a_clear_error() -> None:
    from prover.proving.batch_circuit import batch_spec
    from prover.proving.circuit import build

    artifacts = build(batch_spec())
    with pytest.raises(ToolError, match="cannot reach the Ray cluster at 127.0.0.1:1"):
        distributed.RayProvers("127.0.0.1:1", artifacts)
