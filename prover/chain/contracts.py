"""Build the contracts a rollup deploys: ``Rollup`` (verifier_contracts/Rollup.sol, solc
0.8.37 pinned), the Poseidon libraries it links (poseidon-solidity's ``PoseidonT4`` and
``PoseidonT5``, compiled from node_modules by the same solc run), the Poseidon contracts
circomlibjs generates (no Solidity source: EVM code assembled from circomlib's constants),
the batch circuit's exported verifier (:func:`prover.proving.circuit.compile_verifier`),
and the collateral tokens: ``MockUSDC`` (verifier_contracts/MockUSDC.sol, a development
ERC-20 anyone may mint) and, for tests only, the hostile tokens of
verifier_contracts/test/ (:data:`TEST_TOKENS`).

Builds are reproducible (the same sources and solc version give the same bytecode, metadata
hash included; tests/chain/test_contracts.py compiles twice from different folders) and
cached under the build root by the hash of everything that decides them.

Linking: ``PoseidonT4.hash`` and ``PoseidonT5.hash`` are ``public`` library functions, so
solc never inlines them: the Rollup calls them with ``DELEGATECALL`` and its bytecode holds
a placeholder ``__$<34 hex of keccak256("<file>:<library>")>$__`` where each address goes
(inlined, the two would also push the Rollup past the 24,576-byte code limit: their creation
code is about 12.5 and 16.9 kB, the Rollup's about 10.4 kB). The libraries are deployed
first and :func:`link` writes their addresses into the compiled bytecode, as ``solc --link``
does; the compiled (unlinked) bytecode and its metadata hash stay the same for every
deployment.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_utils import keccak

from prover.errors import ToolError
from prover.toolchain import cache
from prover.toolchain.common import NODE_MODULES, REPO_ROOT, SETUP_HINT, find_node, tool_version
from prover.toolchain.solc import CompiledContract, compile_sources

CONTRACTS_DIR = REPO_ROOT / "verifier_contracts"
ROLLUP_SOURCE = CONTRACTS_DIR / "Rollup.sol"
#: The development collateral token (6 decimals, open ``mint``).
MOCK_USDC_SOURCE = CONTRACTS_DIR / "MockUSDC.sol"
#: Tokens that break the ERC-20 rules the Rollup relies on, for tests only: one takes a 1%
#: fee on ``transferFrom``, one returns false without moving anything, one returns no data
#: at all (USDT-style, which the Rollup accepts).
TEST_TOKENS = ("FeeToken", "FalseToken", "NoReturnToken", "EighteenDecimals")
TEST_TOKEN_SOURCES = tuple(CONTRACTS_DIR / "test" / f"{name}.sol" for name in TEST_TOKENS)
POSEIDON_SCRIPT = Path(__file__).resolve().parents[1] / "toolchain" / "poseidon_contract.mjs"
#: Poseidon widths the Rollup uses (inputs): the configuration hash (prover/chain/config.py).
POSEIDON_INPUTS = (3,)
POSEIDON_SOLIDITY = NODE_MODULES / "poseidon-solidity"
#: The libraries the Rollup links, by contract name: their fully qualified names (source
#: unit as the Rollup imports it, then the library), which decide the link placeholders.
ROLLUP_LIBRARIES = {
    "PoseidonT4": "poseidon-solidity/PoseidonT4.sol:PoseidonT4",  # 3 inputs: the inbox chain
    "PoseidonT5": "poseidon-solidity/PoseidonT5.sol:PoseidonT5",  # 4 inputs: the inbox chain
}
#: The libraries are compiled apart, with the optimizer tuned for execution: at the
#: Rollup's 200 runs, solc's constant optimizer rebuilds their round constants with code
#: and a hash costs about twice as much (PoseidonT5.hash: 138,101 gas as a transaction
#: against 72,909; tests/chain/test_inbox.py measures the message).
LIBRARY_RUNS = 1_000_000
_PLACEHOLDER = re.compile(r"__\$[0-9a-f]{34}\$__")


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


def library_placeholder(qualified_name: str) -> str:
    """solc's link placeholder for a library, ``"file.sol:Name"`` (pure)."""
    return "__$" + keccak(text=qualified_name).hex()[:34] + "$__"


def link(contract: CompiledContract, addresses: Mapping[str, str]) -> CompiledContract:
    """``contract`` with each library's placeholder replaced by its address (pure).

    ``addresses`` maps a library's fully qualified name to its ``0x`` address. Raises
    :class:`ToolError` if an address is malformed or a placeholder is left unlinked.
    """
    code = contract.bytecode
    for name, address in addresses.items():
        raw = address.lower().removeprefix("0x")
        if len(raw) != 40 or any(c not in "0123456789abcdef" for c in raw):
            raise ToolError(f"linking {contract.name}: {address!r} is not an address")
        code = code.replace(library_placeholder(name), raw)
    left = sorted(set(_PLACEHOLDER.findall(code)))
    if left:
        names = {library_placeholder(n): n for n in ROLLUP_LIBRARIES.values()}
        shown = ", ".join(names.get(p, p) for p in left)
        raise ToolError(f"linking {contract.name}: no address for {shown}")
    return CompiledContract(contract.name, contract.abi, code)


def _rollup_inputs(sources: Sequence[Path]) -> list[Path]:
    """Every file that decides the Rollup's build: its sources and the libraries'."""
    package = POSEIDON_SOLIDITY / "package.json"
    if not package.is_file():
        raise ToolError(f"poseidon-solidity not found in node_modules; {SETUP_HINT}")
    libraries = [POSEIDON_SOLIDITY / f"{name}.sol" for name in ROLLUP_LIBRARIES]
    return [*sources, package, *libraries]


def compile_rollup_contracts(
    sources: Sequence[Path] = (ROLLUP_SOURCE,), *, work_dir: Path | None = None
) -> dict[str, CompiledContract]:
    """``Rollup`` (unlinked: see :func:`link`; optimizer at 200 runs) and the libraries it
    links (at :data:`LIBRARY_RUNS`), by contract name, compiled with the pinned solc
    (cached by the hash of every source)."""
    version = tool_version("solc")
    key = cache.cache_key(
        _rollup_inputs(sources),
        {"solc": version, "optimize": True, "runs": 200, "library_runs": LIBRARY_RUNS},
    )
    folder = cache.build_root() / "contracts"
    names = ["Rollup", *ROLLUP_LIBRARIES]
    cached = {name: folder / f"{name}-{key}.json" for name in names}
    if all(path.is_file() for path in cached.values()):
        return {
            name: CompiledContract.from_json(json.loads(path.read_text()))
            for name, path in cached.items()
        }
    contracts = compile_sources(list(sources), work_dir=work_dir)
    libraries = compile_sources(
        [NODE_MODULES / name.split(":")[0] for name in ROLLUP_LIBRARIES.values()],
        base_dir=NODE_MODULES,
        runs=LIBRARY_RUNS,
        work_dir=None if work_dir is None else work_dir / "libraries",
    )
    contracts = {"Rollup": contracts["Rollup"]} if "Rollup" in contracts else {}
    contracts.update({name: libraries[name] for name in ROLLUP_LIBRARIES if name in libraries})
    missing = [name for name in names if name not in contracts]
    if missing:
        raise ToolError(
            f"solc: no {', '.join(missing)} contract in {', '.join(map(str, sources))}"
        )
    for name, path in cached.items():
        cache.write_json_atomic(path, contracts[name].to_json())
    return {name: contracts[name] for name in names}


def compile_cached(
    sources: Sequence[Path], names: Sequence[str], *, work_dir: Path | None = None
) -> dict[str, CompiledContract]:
    """Contracts ``names`` of ``sources`` (which import nothing outside their folder and
    node_modules), compiled with the pinned solc and the optimizer at 200 runs, as the
    Rollup is; cached under the build root by the hash of the sources and solc's version."""
    version = tool_version("solc")
    key = cache.cache_key(list(sources), {"solc": version, "optimize": True, "runs": 200})
    folder = cache.build_root() / "contracts"
    cached = {name: folder / f"{name}-{key}.json" for name in names}
    if all(path.is_file() for path in cached.values()):
        return {
            name: CompiledContract.from_json(json.loads(path.read_text()))
            for name, path in cached.items()
        }
    contracts = compile_sources(list(sources), work_dir=work_dir)
    missing = [name for name in names if name not in contracts]
    if missing:
        raise ToolError(
            f"solc: no {', '.join(missing)} contract in {', '.join(map(str, sources))}"
        )
    for name, path in cached.items():
        cache.write_json_atomic(path, contracts[name].to_json())
    return {name: contracts[name] for name in names}


def compile_mock_usdc(*, work_dir: Path | None = None) -> CompiledContract:
    """``MockUSDC``, the development collateral token (cached by source hash)."""
    return compile_cached([MOCK_USDC_SOURCE], ["MockUSDC"], work_dir=work_dir)["MockUSDC"]


def compile_test_tokens(*, work_dir: Path | None = None) -> dict[str, CompiledContract]:
    """The hostile tokens of :data:`TEST_TOKENS`, by name (tests only; cached)."""
    return compile_cached(TEST_TOKEN_SOURCES, TEST_TOKENS, work_dir=work_dir)


def compile_rollup(
    sources: Sequence[Path] = (ROLLUP_SOURCE,), *, work_dir: Path | None = None
) -> CompiledContract:
    """The ``Rollup`` contract, compiled with the pinned solc (cached by source hash); its
    bytecode still holds the libraries' placeholders (:func:`link`)."""
    return compile_rollup_contracts(sources, work_dir=work_dir)["Rollup"]


__all__ = [
    "MOCK_USDC_SOURCE",
    "ROLLUP_LIBRARIES",
    "TEST_TOKENS",
    "TEST_TOKEN_SOURCES",
    "compile_cached",
    "compile_mock_usdc",
    "compile_rollup",
    "compile_rollup_contracts",
    "compile_test_tokens",
    "library_placeholder",
    "link",
    "poseidon_command",
    "poseidon_contract",
]
