"""solc through solcjs's standard-JSON API."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.errors import ToolError
from prover.toolchain.solc import compile_contract, compile_sources

ADDER = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
import "./Base.sol";
contract Adder is Base { function add(uint256 a, uint256 b) external pure returns (uint256) {
    return a + b + ONE - 1; } }
"""
BASE = """// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;
contract Base { uint256 internal constant ONE = 1; }
"""


def test_compiles_a_contract_with_an_import(tmp_path: Path) -> None:
    (tmp_path / "Adder.sol").write_text(ADDER)
    (tmp_path / "Base.sol").write_text(BASE)
    adder = compile_contract(tmp_path / "Adder.sol", "Adder")
    assert adder.bytecode.startswith("0x60") and len(adder.bytecode) > 100
    assert [f["name"] for f in adder.abi if f["type"] == "function"] == ["add"]
    contracts = compile_sources([tmp_path / "Adder.sol"], work_dir=tmp_path / "work")
    assert set(contracts) == {"Adder", "Base"}
    assert (tmp_path / "work" / "solc-output.json").is_file()


def test_compile_error_is_reported(tmp_path: Path) -> None:
    source = tmp_path / "Bad.sol"
    source.write_text("pragma solidity ^0.8.0;\ncontract Bad { function f() public { nope(); } }\n")
    with pytest.raises(ToolError, match="Undeclared identifier"):
        compile_contract(source)
    with pytest.raises(ToolError, match="does not exist"):
        compile_contract(tmp_path / "Missing.sol")
