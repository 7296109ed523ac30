"""Run the JavaScript reference libraries (circomlibjs, zk-kit) and circom from tests.

Everything goes through ``node`` as a subprocess without a shell. When node or the
repository's node_modules is missing the tests fail (they never skip silently) with
a message that says to run ``make setup``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
JS_DIR = Path(__file__).resolve().parent / "js"
NODE_MODULES = REPO / "node_modules"
_REQUIRED_PACKAGES = (
    "circomlibjs",
    "circomlib",
    "circom2",
    "@zk-kit/eddsa-poseidon",
    "@zk-kit/poseidon-cipher",
    "@zk-kit/baby-jubjub",
    "blake-hash",
)


def node() -> str:
    """Path of ``node`` (``$ZKMATCH_NODE`` or PATH); fails the test with setup
    instructions if node or a needed package in node_modules is missing."""
    exe = os.environ.get("ZKMATCH_NODE") or shutil.which("node")  # as prover/toolchain
    if exe is None:
        pytest.fail(
            "node is not on PATH: install Node.js >= 18, then run `make setup`", pytrace=False
        )
    missing = [p for p in _REQUIRED_PACKAGES if not (NODE_MODULES / p / "package.json").is_file()]
    if missing:
        pytest.fail(
            f"node_modules lacks {', '.join(missing)}: run `make setup` (npm ci) in {REPO}",
            pytrace=False,
        )
    return exe


def run_node(script: Path, payload: Any, *args: str, timeout: float = 300) -> Any:
    """Run ``node script args...`` in the repository root with JSON on stdin; parse stdout."""
    proc = subprocess.run(
        [node(), str(script), *args],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"{script.name} failed ({proc.returncode}):\n{proc.stderr[-4000:]}", pytrace=False
        )
    return json.loads(proc.stdout)


def reference(requests: list[dict[str, Any]]) -> list[Any]:
    """Answer a batch of requests with js/reference.mjs (one node process per batch)."""
    result = run_node(JS_DIR / "reference.mjs", requests)
    assert isinstance(result, list) and len(result) == len(requests)
    return result


def dec(values: Any) -> Any:
    """Ints (or nested lists/tuples of ints) to decimal strings, for the JS side."""
    if isinstance(values, list | tuple):
        return [dec(v) for v in values]
    return str(values)


# --- circom ------------------------------------------------------------------------------


def _tool_version(package: str) -> str:
    data = json.loads((NODE_MODULES / package / "package.json").read_text())
    return str(data["version"])


def compile_circuit(name: str, source: str) -> Path:
    """Compile ``source`` (which may include ``circomlib/...``) to wasm; return its folder.

    Outputs are cached under the system temp folder keyed by the hash of the source
    and the circom2 and circomlib versions, so a second run costs nothing. circom2
    (wasm) sees only files under its working folder, so circomlib is copied there.
    """
    node()
    key = hashlib.sha256(
        "\0".join([name, source, _tool_version("circom2"), _tool_version("circomlib")]).encode()
    ).hexdigest()[:20]
    root = Path(tempfile.gettempdir()) / "zkmatch-crypto-circuits"
    final = root / f"{name}-{key}"
    wasm = final / f"{name}_js" / f"{name}.wasm"
    if wasm.is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=root))
    shutil.copytree(NODE_MODULES / "circomlib" / "circuits", work / "circomlib")
    (work / f"{name}.circom").write_text(source)
    proc = subprocess.run(
        [node(), str(NODE_MODULES / "circom2" / "cli.js"), f"{name}.circom", "--wasm", "-o", "."],
        capture_output=True,
        text=True,
        cwd=work,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0 or not (work / f"{name}_js" / f"{name}.wasm").is_file():
        pytest.fail(
            f"circom failed on {name}:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}", pytrace=False
        )
    try:
        os.replace(work, final)
    except OSError:  # another run won the race; use its copy
        shutil.rmtree(work, ignore_errors=True)
    return final


def witness_outputs(
    build: Path, name: str, inputs: list[dict[str, Any]], n_outputs: int
) -> list[Any]:
    """For each input object: the circuit's first ``n_outputs`` output signals as ints,
    or the string "error: ..." when witness generation fails (an assert failed)."""
    wasm = build / f"{name}_js" / f"{name}.wasm"
    results = run_node(JS_DIR / "witness.cjs", inputs, str(wasm), str(n_outputs))
    return [r if isinstance(r, str) else [int(v) for v in r] for r in results]
