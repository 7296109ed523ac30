"""Shared pytest configuration.

The default run is the fast suite (``-m 'not slow'`` in pyproject). Artifacts are
cached by content hash under ``ZKMATCH_BUILD_DIR`` / ``ZKMATCH_CACHE_DIR``
(default ``.zkmatch/`` in the repository), so a second run recompiles nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Development ptau files shipped beside the project (CI points here too).
_shared_ptau = REPO.parent / "shared" / "ptau"
if "ZKMATCH_PTAU_DIR" not in os.environ and _shared_ptau.is_dir():
    os.environ["ZKMATCH_PTAU_DIR"] = str(_shared_ptau)

# One anvil per session, snapshot/revert around each chain test.
from tests.fixtures_chain import anvil_node, chain, w3  # noqa: E402, F401
