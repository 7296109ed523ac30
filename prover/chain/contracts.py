"""Build the contracts a rollup deploys: ``Rollup`` (verifier_contracts/Rollup.sol, solc
0.8.37 pinned), the Poseidon contracts circomlibjs generates (no Solidity source: EVM code
assembled from circomlib's constants), and the batch circuit's exported verifier
(:func:`prover.proving.circuit.compile_verifier`).

Builds are reproducible (the same sources and solc version give the same bytecode, metadata
hash included; tests/chain/test_contracts.py compiles twice from different folders) and
cached under the build root by the hash of everything that decides them.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prover.errors import ToolError
from prover.toolchain import cache
from prover.toolchain.common import NODE_MODULES, REPO_ROOT, SETUP_HINT, find_node, tool_version
from prover.toolchain.solc import CompiledContract, compile_sources

CONTRACTS_DIR = REPO_ROOT / "verifier_contracts"
ROLLUP_SOURCE = CONTRACTS_DIR / "Rollup.sol"
POSEIDON_SCRIPT = Path(__file__).resolve().parents[1] / "toolchain" / "poseidon_contract.mjs"
#: Poseidon widths the Rollup uses (inputs): the configuration hash (prover/chain/config.py).
POSEIDON_INPUTS = (3,)


def poseidon_command(n_inputs: int, node: str = "node") -> list[str]:
    """``node poseidon_contract.mjs <circomlibjs> <n>`` (pure)."""
    return [node, str(POSEIDON_SCRIPT), str(NODE_MODULES / "circomlibjs"), str(n_inputs)]


def poseidon_contract(n_inputs: int) -> CompiledContract:
    """circomlibjs's generated ``Poseidon(n_inputs)`` contract (cached)."""
    package = NODE_MODULES / "circomlibjs" / "package.json"
    if not package.is_file():
        raise ToolError(f"circomlibjs not found in node_modules; {SETUP_HINT}")
    key = cache.cache_key([package, POSEIDON_SCRIPT], {"n": n_inputs})
    cached = cache.build_root() / "contracts" / f"Poseidon{n_inputs}-{key}.json"
    if cached.is_file():
        return CompiledContract.from_json(json.loads(cached.read_text()))
    try:
        done = subprocess.run(
            poseidon_command(n_inputs, find_node()),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ToolError("circomlibjs: generating the Poseidon contract timed out") from exc
    if done.returncode != 0:
        raise ToolError(
            f"circomlibjs: generating Poseidon({n_inputs}) failed: {done.stderr[-500:]}"
        )
    data: dict[str, Any] = json.loads(done.stdout)
    contract = CompiledContract(f"Poseidon{n_inputs}", data["abi"], data["bytecode"])
    cache.write_json_atomic(cached, contract.to_json())
    return contract


def compile_rollup(
    sources: Sequence[Path] = (ROLLUP_SOURCE,), *, work_dir: Path | None = None
) -> CompiledContract:
    """The ``Rollup`` contract, compiled with the pinned solc (cached by source hash)."""
    version = tool_version("solc")
    key = cache.cache_key(list(sources), {"solc": version, "optimize": True, "runs": 200})
    cached = cache.build_root() / "contracts" / f"Rollup-{key}.json"
    if cached.is_file():
        return CompiledContract.from_json(json.loads(cached.read_text()))
    contracts = compile_sources(list(sources), work_dir=work_dir)
    if "Rollup" not in contracts:
        raise ToolError(f"solc: no Rollup contract in {', '.join(map(str, sources))}")
    cache.write_json_atomic(cached, contracts["Rollup"].to_json())
    return contracts["Rollup"]


__all__ = ["compile_rollup", "poseidon_command", "poseidon_contract"]
