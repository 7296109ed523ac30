"""Constraint counts of the templates at production sizes (D = 32, S = 8, M = 8).

docs/circuits.md builds the per-fill budget from these; each is one compile (seconds to a
minute on a fresh clone), so they run with `-m slow` (`make test-slow`).
"""

from __future__ import annotations

import pytest

from tests.circuits.harness import compile_main, expect_count

COUNTS = [
    ("lib/QuadMerkleUpdate.circom", "QuadMerkleUpdate(16)", 9744),
    ("lib/QuadMerkleUpdate.circom", "QuadMerkleUpdate(4)", 2436),
    ("lib/PositionsHash.circom", "PositionsHash(8)", 609),
    ("lib/AccountLeaf.circom", "AccountLeaf(8)", 963),
    ("lib/MarginCheck.circom", "MarginCheck(8)", 1115),
    ("lib/BatchParams.circom", "BatchParams(8)", 12763),
    ("lib/OrderEntry.circom", "OrderEntry(8, 8)", 8502),
    ("lib/FillCheck.circom", "FillCheck(8, 8)", 4074),
]

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("source", "instance", "count"), COUNTS, ids=[c[1] for c in COUNTS])
def test_production_count(source, instance, count):
    expect_count(compile_main(source, instance), count)
