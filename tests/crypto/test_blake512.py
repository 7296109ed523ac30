"""BLAKE-512 against the specification's vectors and node's blake-hash (circomlibjs' dependency)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from prover.crypto.blake512 import blake512
from tests.crypto import jsref
from tests.crypto.jsref import reference


def test_specification_vectors() -> None:
    # BLAKE specification v1.3, appendix: the 8-bit message 0x00 and 144 zero bytes.
    assert blake512(b"\x00").hex() == (
        "97961587f6d970faba6d2478045de6d1fabd09b61ae50932054d52bc29d31be4"
        "ff9102b9f69e2bbdb83be13d4b9c06091e5fa0b48bd081b634058be0ec49beb3"
    )
    assert blake512(b"\x00" * 144).hex() == (
        "313717d608e9cf758dcb1eb0f0c3cf9fc150b2d500fb33f51c52afc99d358a2f"
        "1374b8a38bba7974e7f6ef79cab16f22ce1e649d6e01ad9589c213045d545dde"
    )
    assert blake512(b"").hex().startswith("a8cfbbd73726062df0c6864dda65defe")


def test_matches_blake_hash_at_padding_boundaries() -> None:
    rng = random.Random(5)
    lengths = [0, 1, 31, 32, 64, 110, 111, 112, 113, 127, 128, 129, 239, 240, 255, 256, 257, 1000]
    messages = [bytes(rng.randrange(256) for _ in range(n)) for n in lengths]
    answers = reference([{"op": "blake512", "hex": m.hex()} for m in messages])
    assert [blake512(m).hex() for m in messages] == answers


def test_missing_node_modules_fails_with_setup_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Without node_modules the cross-checks fail (never skip) and say what to run."""
    monkeypatch.setattr(jsref, "NODE_MODULES", tmp_path / "node_modules")
    with pytest.raises(pytest.fail.Exception, match="make setup"):
        jsref.reference([{"op": "blake512", "hex": ""}])
