"""Fixtures of the toolchain tests: fake tools, a private build folder, a tiny circuit."""

from __future__ import annotations

import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from prover.proving.circuit import CircuitSpec
from prover.toolchain import common

FakeTool = Callable[[str, str], Path]


@pytest.fixture(autouse=True)
def _fresh_version_cache() -> Iterator[None]:
    """Each test sees tool locations from its own environment."""
    common.clear_version_cache()
    yield
    common.clear_version_cache()


@pytest.fixture
def fake_tool(tmp_path: Path) -> FakeTool:
    """``fake_tool(name, body)`` writes an executable shell script and returns its path."""

    def make(name: str, body: str) -> Path:
        path = tmp_path / "bin" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text("#!/bin/sh\n" + body + "\n")
        path.chmod(path.stat().st_mode | stat.S_IXUSR)
        return path

    return make


@pytest.fixture
def build_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty build cache (``ZKMATCH_BUILD_DIR``)."""
    folder = tmp_path / "build"
    monkeypatch.setenv("ZKMATCH_BUILD_DIR", str(folder))
    return folder


TINY_LIB = """pragma circom 2.1.0;
// Square of a signal (one constraint).
template Square() { signal input x; signal output y; y <== x * x; }
"""

TINY_MAIN = """pragma circom 2.1.0;
include "../lib/Square.circom";
/// out = sum of squares of a[n]; the public input c must equal it.
template SumSquares(n) {
    signal input a[n];
    signal input c;
    component sq[n];
    var acc = 0;
    for (var i = 0; i < n; i++) { sq[i] = Square(); sq[i].x <== a[i]; acc += sq[i].y; }
    c === acc;
}
"""


@pytest.fixture
def tiny_circuits(tmp_path: Path) -> Path:
    """A circuits folder with ``main/SumSquares.circom`` including ``lib/Square.circom``."""
    root = tmp_path / "circuits"
    (root / "lib").mkdir(parents=True)
    (root / "main").mkdir()
    (root / "lib" / "Square.circom").write_text(TINY_LIB)
    (root / "main" / "SumSquares.circom").write_text(TINY_MAIN)
    return root


@pytest.fixture
def tiny_spec(tiny_circuits: Path) -> CircuitSpec:
    return CircuitSpec(
        name="sum_squares",
        source="main/SumSquares.circom",
        template="SumSquares",
        params=(3,),
        public=("c",),
        circuits_dir=tiny_circuits,
    )
