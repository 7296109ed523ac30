"""circuits/lib/Constants.circom mirrors prover/exchange/constants.py (protocol sections 1, 2)."""

from __future__ import annotations

import re
from pathlib import Path

from prover.exchange import constants

SOURCE = Path(__file__).resolve().parents[2] / "circuits" / "lib" / "Constants.circom"
FUNCTION = re.compile(r"function\s+([A-Z_]+)\(\)\s*\{\s*return\s+(\d+);\s*\}")


def _circom_constants() -> dict[str, int]:
    return {name: int(value) for name, value in FUNCTION.findall(SOURCE.read_text())}


def test_every_circom_constant_matches_python():
    found = _circom_constants()
    assert len(found) >= 30
    for name, value in found.items():
        if name in ("FEE_SCALE_BITS", "MARGIN_SCALE_BITS"):
            continue
        assert getattr(constants, name) == value, name


def test_every_python_tag_and_range_is_in_circom():
    found = _circom_constants()
    for name in dir(constants):
        if name.startswith("TAG_") or name.endswith("_BITS") or name.endswith("_SCALE"):
            assert found.get(name) == getattr(constants, name), name


def test_scale_bits_hold_the_scales():
    found = _circom_constants()
    assert found["FEE_SCALE"] < 2 ** found["FEE_SCALE_BITS"]
    assert found["MARGIN_SCALE"] < 2 ** found["MARGIN_SCALE_BITS"]
