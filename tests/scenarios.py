"""Scenario files for tests.

``GENESIS_DEMO`` is the demo scenario (docs/examples/demo.json) with its traders funded at
genesis instead of by deposits: the tests of the operator, the trader CLI and the receipts
send orders from the first batch on and need the accounts to exist before it. The demo
itself (and tests/operator/test_cli.py's demo run, tests/trader/test_flows_cli.py) bring
collateral in by deposits (docs/flows.md). Written once under build/, from the demo file,
so the two never drift apart.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from prover.demo import DEMO_SCENARIO

_DIR = Path(__file__).resolve().parents[1] / "build" / "test-scenarios"


def _genesis_demo() -> Path:
    data = json.loads(DEMO_SCENARIO.read_text())
    data["funding"] = "genesis"
    data.pop("withdrawals", None)  # the demo's withdrawals need deposit funding
    text = json.dumps(data, indent=2) + "\n"
    path = _DIR / "demo-genesis.json"
    if not path.exists() or path.read_text() != text:
        _DIR.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return path


GENESIS_DEMO = _genesis_demo()
