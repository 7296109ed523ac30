"""The ``build_command`` functions are pure: same arguments, same list, no I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from prover.errors import ZkmatchError
from prover.proving.circuit import (
    CircuitSpec,
    Groth16Proof,
    account_membership_spec,
    required_power,
    solidity_calldata,
)
from prover.toolchain import anvil, circom, snarkjs, solc

NOWHERE = Path("/nonexistent/zkmatch")


def test_circom_command_is_pure_and_complete() -> None:
    argv = circom.build_command(
        ["node", "cli.js"], NOWHERE / "main.circom", NOWHERE / "out", [NOWHERE / "lib", NOWHERE]
    )
    assert argv == [
        "node", "cli.js", f"{NOWHERE}/main.circom", "--r1cs", "--wasm", "--sym", "--O2",
        "-l", f"{NOWHERE}/lib", "-l", str(NOWHERE), "-o", f"{NOWHERE}/out",
    ]  # fmt: skip
    assert argv == circom.build_command(
        ["node", "cli.js"], NOWHERE / "main.circom", NOWHERE / "out", [NOWHERE / "lib", NOWHERE]
    )
    assert not NOWHERE.exists()
    with pytest.raises(ValueError):
        circom.build_command(["circom"], NOWHERE, NOWHERE, optimization=3)


def test_circom_outputs_and_sandbox_folder() -> None:
    r1cs, wasm, sym = circom.outputs_for(Path("/b/circuit.circom"), Path("/o"))
    assert (r1cs, wasm, sym) == (
        Path("/o/circuit.r1cs"),
        Path("/o/circuit_js/circuit.wasm"),
        Path("/o/circuit.sym"),
    )
    assert circom.sandbox_cwd([Path("/a/b/c"), Path("/a/b/d/e")]) == Path("/a/b")


def test_snarkjs_commands() -> None:
    s = ["node", "snarkjs.cjs"]
    p = Path("/p")
    assert snarkjs.r1cs_info_command(s, p / "c.r1cs") == [*s, "r1cs", "info", "/p/c.r1cs"]
    assert snarkjs.wtns_calculate_command(s, p / "c.wasm", p / "i.json", p / "w.wtns") == [
        *s, "wtns", "calculate", "/p/c.wasm", "/p/i.json", "/p/w.wtns",
    ]  # fmt: skip
    assert snarkjs.groth16_setup_command(s, p / "c.r1cs", p / "t.ptau", p / "0.zkey") == [
        *s, "groth16", "setup", "/p/c.r1cs", "/p/t.ptau", "/p/0.zkey",
    ]  # fmt: skip
    assert snarkjs.zkey_contribute_command(
        s, p / "0.zkey", p / "1.zkey", name="me", entropy="ab12"
    ) == [*s, "zkey", "contribute", "/p/0.zkey", "/p/1.zkey", "-n=me", "-e=ab12"]
    assert snarkjs.export_verification_key_command(s, p / "f.zkey", p / "vk.json")[2:5] == [
        "zkey", "export", "verificationkey",
    ]  # fmt: skip
    assert snarkjs.export_solidity_verifier_command(s, p / "f.zkey", p / "V.sol")[-3:] == [
        "solidityverifier", "/p/f.zkey", "/p/V.sol",
    ]  # fmt: skip
    assert snarkjs.groth16_prove_command(s, p / "f.zkey", p / "w", p / "pr", p / "pu")[2:] == [
        "groth16", "prove", "/p/f.zkey", "/p/w", "/p/pr", "/p/pu",
    ]  # fmt: skip
    assert snarkjs.groth16_verify_command(s, p / "vk", p / "pu", p / "pr")[2:] == [
        "groth16", "verify", "/p/vk", "/p/pu", "/p/pr",
    ]  # fmt: skip


def test_parse_r1cs_info() -> None:
    out = (
        "\x1b[32m[INFO]  snarkJS: Curve: bn-128\n[INFO]  snarkJS: # of Wires: 979\n"
        "[INFO]  snarkJS: # of Constraints: 966\n[INFO]  snarkJS: # of Private Inputs: 14\n"
        "[INFO]  snarkJS: # of Public Inputs: 1\n[INFO]  snarkJS: # of Labels: 3981\n"
        "[INFO]  snarkJS: # of Outputs: 0\n"
    )
    info = snarkjs.parse_r1cs_info(out)
    assert (info.constraints, info.wires, info.public_inputs, info.outputs) == (966, 979, 1, 0)
    assert info.public_signals == 1


def test_solc_and_anvil_commands() -> None:
    assert solc.build_command(["node", "d.mjs", "/s"], Path("/i"), Path("/o"), Path("/b"), []) == [
        "node", "d.mjs", "/s", "/i", "/o", "/b",
    ]  # fmt: skip
    request = solc.standard_input(["A.sol"], optimize=True, runs=7, evm_version="cancun")
    assert request["sources"] == {"A.sol": {}}
    assert request["settings"]["optimizer"] == {"enabled": True, "runs": 7}
    assert request["settings"]["evmVersion"] == "cancun"
    argv = anvil.build_command(["anvil"], port=0)
    assert argv[:5] == ["anvil", "--host", "127.0.0.1", "--port", "0"]


def test_wrapper_is_generated_from_the_spec() -> None:
    spec = account_membership_spec(6, markets=3)
    assert spec.params == (3, 3)
    assert spec.wrapper().endswith(
        'include "main/AccountMembership.circom";\n\n'
        "component main {public [root]} = AccountMembership(3, 3);\n"
    )
    with pytest.raises(ZkmatchError):
        account_membership_spec(5)
    with pytest.raises(ZkmatchError):
        CircuitSpec("bad name", "x.circom", "T")
    with pytest.raises(ZkmatchError):
        CircuitSpec("ok", "x.circom", "T", public=("a; b",))


def test_required_power_is_snarkjs_formula() -> None:
    # snarkjs: cirPower = floor(log2(nConstraints + nPub + nOut)) + 1
    assert required_power(966, 1) == 10
    assert required_power(1022, 1) == 10
    assert required_power(1023, 1) == 11


def test_solidity_calldata_swaps_g2_coordinates() -> None:
    proof: Groth16Proof = {
        "pi_a": ["1", "2", "1"],
        "pi_b": [["3", "4"], ["5", "6"], ["1", "0"]],
        "pi_c": ["7", "8", "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }
    assert solidity_calldata(proof, ["9"]) == ((1, 2), ((4, 3), (6, 5)), (7, 8), [9])
