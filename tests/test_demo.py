"""End to end: the demo circuit proves membership, snarkjs and the chain accept the proof,
and both reject a tampered public input or proof."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli.commands.demo import _trader_lines
from cli.main import main
from prover.demo import check_on_chain, demo_tree, membership_inputs, run_demo, tampered
from prover.errors import ToolError
from prover.proving.circuit import (
    account_membership_spec,
    build,
    compile_verifier,
    prove,
    solidity_calldata,
    verify,
)
from prover.toolchain.anvil import running_anvil

pytestmark = pytest.mark.circuit

#: 4-bit tree, 2 markets: AccountLeaf(2) = 765, QuadMerkleRoot(2) = 498.
DEMO_CONSTRAINTS = 1263


@pytest.mark.chain
def test_demo_end_to_end() -> None:
    lines: list[str] = []
    report = run_demo(progress=lines.append)
    assert report["ok"]
    assert report["constraints"] == DEMO_CONSTRAINTS
    assert report["snarkjs_valid"] and report["snarkjs_tampered_rejected"]
    chain = report["chain"]
    assert chain is not None and chain["started_anvil"]
    assert chain["honest_accepted"] and chain["tampered_rejected"]
    assert 150_000 < chain["verify_gas"] < 400_000
    tree, _ = demo_tree()
    assert report["root"] == str(tree.root)
    for step in ("build:", "prove:", "verify (snarkjs):", "anvil: ready", "chain: verifier"):
        assert any(line.startswith(step) for line in lines), step


@pytest.mark.chain
def test_tampered_proof_and_inputs_rejected_by_snarkjs_and_chain() -> None:
    artifacts = build(account_membership_spec())
    tree, accounts = demo_tree()
    result = prove(artifacts, membership_inputs(tree, 5, accounts[5]))
    assert verify(artifacts, result.proof, result.public)
    bad_public = tampered(result.public)
    bad_proof = {**result.proof, "pi_a": [result.proof["pi_c"][0], result.proof["pi_c"][1], "1"]}
    assert not verify(artifacts, result.proof, bad_public)
    assert not verify(artifacts, bad_proof, result.public)  # type: ignore[arg-type]
    contract = compile_verifier(artifacts)
    with running_anvil() as node:
        _, results, _, _ = check_on_chain(
            contract,
            node.rpc_url,
            [
                solidity_calldata(result.proof, result.public),
                solidity_calldata(result.proof, bad_public),
                solidity_calldata(bad_proof, result.public),  # type: ignore[arg-type]
            ],
        )
    assert results == [True, False, False]


def test_wrong_path_cannot_make_a_witness() -> None:
    artifacts = build(account_membership_spec())
    tree, accounts = demo_tree()
    inputs = membership_inputs(tree, 9, accounts[9])
    inputs["siblings"][0][0] = str(int(inputs["siblings"][0][0]) + 1)
    with pytest.raises(ToolError, match="wtns calculate"):
        prove(artifacts, inputs)
    inputs = membership_inputs(tree, 9, accounts[9])
    inputs["pathIndex"][0] = "4"  # not a base-4 digit
    with pytest.raises(ToolError, match="wtns calculate"):
        prove(artifacts, inputs)


@pytest.mark.chain
def test_demo_on_a_given_rpc_url_and_a_dead_one() -> None:
    with running_anvil() as node:
        report = run_demo(rpc_url=node.rpc_url)
    assert report["ok"] and report["chain"] is not None
    assert not report["chain"]["started_anvil"]
    with pytest.raises(ToolError, match="no EVM JSON-RPC node answers"):
        run_demo(rpc_url=node.rpc_url)


def test_the_demo_prints_the_traders_cli_commands_and_state_checks() -> None:
    """The operator demo's summary names the trader CLI's part (prover/demo.py's
    TraderDesk); a state that does not agree with the chain is printed as such."""
    state = {"trader": "alice", "account": 2, "batch": 3, "agrees": True, "problem": ""}
    traders = {
        "keys_dir": "/d/traders", "key_files": [{}, {}],
        "commands": [{"index": 0}, {"index": 1}, {"index": 2}],
        "states": [state, {**state, "trader": "bob", "account": 3, "agrees": False,
                           "problem": "its leaf 1 is not account 3's leaf 2"}],
        "seconds": {"keygen": 0.1, "send": 0.5, "state": 0.2}, "ok": False,
    }
    lines = _trader_lines(traders)
    assert "3 orders and cancels with zkmatch trader order/cancel -> inbox #0..#2" in lines[0]
    assert lines[1].endswith("alice (account 2), batch 3 receipt: agrees with the chain")
    assert lines[2].endswith("bob (account 3), batch 3 receipt: DISAGREES: its leaf 1 is not "
                             "account 3's leaf 2")
    assert _trader_lines(None) == []


def test_cli_demo_json_and_prove(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["demo", "--no-chain", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["chain"] is None

    folder = tmp_path
    tree, accounts = demo_tree()
    (folder / "input.json").write_text(json.dumps(membership_inputs(tree, 0, accounts[0])))
    result = runner.invoke(
        main,
        ["prove", "--circuit", "demo", "--input", str(folder / "input.json"),
         "--out", str(folder / "out"), "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((folder / "out" / "public.json").read_text()) == [str(tree.root)]
    proof = json.loads((folder / "out" / "proof.json").read_text())
    assert proof["protocol"] == "groth16" and proof["curve"] == "bn128"
    result = runner.invoke(
        main, ["prove", "--circuit", "nope", "--input", str(folder / "input.json")]
    )
    assert result.exit_code != 0 and "unknown circuit 'nope'" in result.output
