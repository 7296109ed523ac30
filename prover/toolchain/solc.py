"""solc 0.8.37 (solcjs from npm): compile Solidity sources to ABI and bytecode.

solcjs's command line mixes log lines into its standard-JSON output, so zkmatch drives its
JS API through a small node script of its own (``solc_compile.mjs``), which reads a
standard-JSON input file and writes the standard-JSON output file. ``ZKMATCH_SOLC`` names
the solc npm package folder to load.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from prover.errors import ToolError
from prover.toolchain.common import NODE_MODULES, Progress, run_tool, tool_command

COMPILE_TIMEOUT = 600


@dataclass(frozen=True)
class CompiledContract:
    """One contract ready to deploy."""

    name: str
    abi: list[dict[str, Any]]
    #: Creation bytecode, ``0x``-prefixed hex.
    bytecode: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "abi": self.abi, "bytecode": self.bytecode}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CompiledContract:
        return cls(str(data["name"]), list(data["abi"]), str(data["bytecode"]))


def standard_input(
    source_names: Sequence[str],
    *,
    optimize: bool = True,
    runs: int = 200,
    evm_version: str | None = None,
) -> dict[str, Any]:
    """The standard-JSON input asking for ABI and bytecode of every contract (pure).

    Sources carry no content: the driver reads ``<base dir>/<name>``.
    """
    settings: dict[str, Any] = {
        "optimizer": {"enabled": optimize, "runs": runs},
        "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object"]}},
    }
    if evm_version:
        settings["evmVersion"] = evm_version
    return {
        "language": "Solidity",
        "sources": {name: {} for name in source_names},
        "settings": settings,
    }


def build_command(
    solc: Sequence[str],
    input_json: Path,
    output_json: Path,
    base_dir: Path,
    include_dirs: Sequence[Path] = (),
) -> list[str]:
    """``node solc_compile.mjs <solc> <in> <out> <base> [includes...]`` (pure)."""
    return [*solc, str(input_json), str(output_json), str(base_dir), *map(str, include_dirs)]


def parse_output(output: dict[str, Any]) -> dict[str, CompiledContract]:
    """Contracts of a standard-JSON output by name (pure); errors raise :class:`ToolError`."""
    errors = [e for e in output.get("errors", []) if e.get("severity") == "error"]
    if errors:
        text = "\n".join(e.get("formattedMessage", e.get("message", "")) for e in errors)
        raise ToolError(f"solc: compilation failed:\n{text}")
    contracts: dict[str, CompiledContract] = {}
    for per_file in output.get("contracts", {}).values():
        for name, data in per_file.items():
            bytecode = data["evm"]["bytecode"]["object"]
            contracts[name] = CompiledContract(name, data["abi"], "0x" + bytecode)
    return contracts


def compile_sources(
    sources: Sequence[Path],
    *,
    base_dir: Path | None = None,
    include_dirs: Sequence[Path] = (NODE_MODULES,),
    work_dir: Path | None = None,
    optimize: bool = True,
    runs: int = 200,
    evm_version: str | None = None,
    progress: Progress | None = None,
) -> dict[str, CompiledContract]:
    """Compile ``sources`` (and what they import) and return every contract by name.

    Imports resolve against ``base_dir`` (default: the first source's folder), then
    ``include_dirs``. The standard-JSON files go to ``work_dir`` (default: a temp folder).
    """
    if not sources:
        raise ValueError("compile_sources needs at least one source file")
    base = (base_dir or sources[0].parent).resolve()
    names = []
    for source in sources:
        path = source.resolve()
        if not path.is_file():
            raise ToolError(f"solc: source file {source} does not exist")
        try:
            names.append(path.relative_to(base).as_posix())
        except ValueError as exc:
            raise ToolError(f"solc: {source} is not under the base folder {base}") from exc
    request = standard_input(names, optimize=optimize, runs=runs, evm_version=evm_version)
    with tempfile.TemporaryDirectory(prefix="zkmatch-solc-") as scratch:
        folder = (work_dir or Path(scratch)).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        input_json = folder / "solc-input.json"
        output_json = folder / "solc-output.json"
        input_json.write_text(json.dumps(request, indent=1))
        argv = build_command(
            tool_command("solc"),
            input_json,
            output_json,
            base,
            [p.resolve() for p in include_dirs],
        )
        if progress:
            progress(f"solc: compiling {', '.join(names)}")
        run_tool(
            "solc",
            argv,
            folder,
            expect=[output_json],
            timeout=COMPILE_TIMEOUT,
            progress=progress,
        )
        return parse_output(json.loads(output_json.read_text()))


def compile_contract(
    source: Path,
    name: str | None = None,
    *,
    progress: Progress | None = None,
    **options: Any,
) -> CompiledContract:
    """Compile one file and return contract ``name`` (default: the only one, or the file's)."""
    contracts = compile_sources([source], progress=progress, **options)
    wanted = name or (next(iter(contracts)) if len(contracts) == 1 else source.stem)
    if wanted not in contracts:
        raise ToolError(
            f"solc: no contract {wanted} in {source} (found: {', '.join(sorted(contracts))})"
        )
    return contracts[wanted]
