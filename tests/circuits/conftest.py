"""Every test in tests/circuits compiles or runs a circom circuit: mark it ``circuit``.

Shared fixtures: the default batch instance (tests/circuits/scenario.py) at ``--O2``
(``batch``, what the build uses) and at ``--O0`` (``batch0``, where a rejection can be
pinned to the rule that caused it). Both are cached on disk by the harness.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.proving.batch_circuit import PUBLIC_INPUTS
from tests.circuits.harness import Circuit, compile_main
from tests.circuits.scenario import B, D, E, K, M, S

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.circuit)


BATCH = ("main/Batch.circom", f"Batch({K}, {E}, {B}, {D}, {S}, {M})")
PUBLIC = PUBLIC_INPUTS  # the six the Rollup builds


@pytest.fixture(scope="session")
def batch() -> Circuit:
    return compile_main(*BATCH, public=PUBLIC)


@pytest.fixture(scope="session")
def batch0() -> Circuit:
    return compile_main(*BATCH, public=PUBLIC, optimize=0)
