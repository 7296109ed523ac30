"""prover.proving.batches and ``zkmatch prove --scenario``: a scenario through matching, each batch
proven with the batch circuit, the public signals equal to the model's, snarkjs agreeing.

The circuit tests share one build: Batch(4, 2, 2, 4, 2, 2), the smallest batch circuit
the circuit tests use (37k constraints, a 2^16 ptau from ZKMATCH_PTAU_DIR); the first run
compiles and sets it up (a few minutes on 2 cores), later runs find it in the cache.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from cli.commands.setup import parse_params, specs_for
from cli.main import main
from prover.errors import ZkmatchError
from prover.exchange import inbox
from prover.exchange.domain import BatchConfig
from prover.exchange.scenario import parse_scenario, run_scenario
from prover.field import SNARK_FIELD
from prover.proving.batches import (
    BATCH_DIR,
    config_spec,
    expected_public,
    load_scenario,
    prove_scenario,
    simulate,
)
from prover.proving.circuit import build, verify
from prover.toolchain.common import tool_command

#: Two traders, one batch: alice rests a sell, bob takes part of it with an IOC buy.
TINY: dict[str, Any] = {
    "description": "one batch, one fill: the smallest scenario the batch circuit proves",
    "config": {"account_bits": 4, "slot_bits": 2, "accounts": 4, "entries": 2, "fills": 2},
    "markets": [
        {"name": "BTC", "tick_size": 10, "imr_bps": 1000, "mmr_bps": 500,
         "maker_fee_ppm": 200, "taker_fee_ppm": 500},
        {"name": "ETH", "tick_size": 5, "imr_bps": 2000, "mmr_bps": 1000,
         "maker_fee_ppm": 0, "taker_fee_ppm": 1000},
    ],
    "traders": [{"name": "alice", "deposit": 10_000_000}, {"name": "bob", "deposit": 10_000_000}],
    "batches": [
        {
            "timestamp": 1000,
            "marks": [1000, 500],
            "funding": [0, 0],
            "messages": [
                {"trader": "alice", "order": {"market": "BTC", "side": "sell", "price": 1000,
                                              "size": 30}},
                {"trader": "bob", "order": {"market": "BTC", "side": "buy", "price": 1010,
                                            "size": 20, "tif": "ioc"}},
            ],
        }
    ],
}  # fmt: skip


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("scenario") / "tiny.json"
    path.write_text(json.dumps(TINY))
    return path


# --------------------------------------------------------------------------- no circuit


def test_config_spec_and_expected_public() -> None:
    scenario = parse_scenario(TINY)
    spec = config_spec(scenario.config)
    assert spec.params == (4, 2, 2, 4, 2, 2)  # Batch(K, E, B, D, S, M)
    assert spec.public == (
        "oldRoot", "newRoot", "batchInfo", "configHash", "inboxBefore", "inboxAfter",
        "depositsBefore", "depositsAfter", "exitsHash",
    )
    result = simulate(scenario).reports[0].result
    assert expected_public(result) == [
        str(result.old_root), str(result.new_root), str(result.batch_info),
        str(result.config_hash), "0", str(inbox.chain_of(result.witness.messages)),
        "0", "0", "0",  # the fill-list batch: no deposit, no exit
    ]
    assert result.batch_info == (0 << 80) + (0 << 40) + result.timestamp
    assert len(result.fills) == 1 and len(result.entries) == 2


def test_load_scenario_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ZkmatchError, match="cannot read scenario"):
        load_scenario(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(ZkmatchError, match="not valid JSON"):
        load_scenario(bad)
    bad.write_text(json.dumps({**TINY, "markets": []}))
    with pytest.raises(ZkmatchError, match=r"bad\.json: scenario: markets"):
        load_scenario(bad)


def test_setup_parameters() -> None:
    assert parse_params(("K=6", "B=4")) == {"K": 6, "B": 4}
    with pytest.raises(ZkmatchError, match="NAME=INTEGER"):
        parse_params(("K6",))
    with pytest.raises(ZkmatchError, match="not an integer"):
        parse_params(("K=x",))
    [(name, spec)] = specs_for(("batch",), None, {"K": 6, "E": 4, "B": 3})
    assert name == "batch" and spec.params == (6, 4, 3, 4, 2, 2)
    with pytest.raises(ZkmatchError, match="does not take"):
        specs_for(("demo",), None, {"K": 6})
    with pytest.raises(ZkmatchError, match="use one"):
        specs_for((), Path("x.json"), {"K": 6})


# --------------------------------------------------------------------------- circuit


@pytest.mark.circuit
def test_tiny_scenario_proves_end_to_end(tiny_file: Path, tmp_path: Path) -> None:
    lines: list[str] = []
    proofs = prove_scenario(tiny_file, out_dir=tmp_path, progress=lines.append)
    model = run_scenario(parse_scenario(TINY))
    assert len(proofs) == 1
    proof = proofs[0]
    assert proof.verified and proof.fills == 1 and proof.entries == 2
    assert proof.public == proof.expected_public()
    assert int(proof.public[1]) == model.state.root == proof.new_root
    assert int(proof.public[0]) == model.reports[0].old_root
    assert set(proof.timings) == {"witness_inputs", "witness", "prove", "verify"}
    folder = tmp_path / BATCH_DIR.format(0)
    assert proof.directory == folder
    for name in ("input.json", "proof.json", "public.json"):
        assert (folder / name).is_file(), name
    assert not (folder / "witness.wtns").exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["batches"][0]["new_root"] == str(model.state.root)
    # snarkjs itself, by hand, on the files written.
    out = subprocess.run(
        [*tool_command("snarkjs"), "groth16", "verify", str(tmp_path / "verification_key.json"),
         str(folder / "public.json"), str(folder / "proof.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr
    assert any(line.startswith("batch 0: verified") for line in lines)


@pytest.mark.circuit
def test_tampered_public_signal_fails() -> None:
    scenario = parse_scenario(TINY)
    artifacts = build(config_spec(scenario.config))
    [result] = prove_scenario(scenario)
    assert verify(artifacts, result.proof, result.public)
    for i in range(4):
        bad = list(result.public)
        bad[i] = str((int(bad[i]) + 1) % SNARK_FIELD)
        assert not verify(artifacts, result.proof, bad), i


@pytest.mark.circuit
def test_cli_prove_scenario_json(tiny_file: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "proofs"
    result = runner.invoke(main, ["prove", "--scenario", str(tiny_file), "--out", str(out),
                                  "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["circuit"] == "batch_k4_e2_b2_d4_s2_m2"
    [batch] = report["batches"]
    assert batch["verified"] and batch["fills"] == 1
    assert report["final_root"] == batch["new_root"] == str(
        run_scenario(parse_scenario(TINY)).state.root
    )
    public = json.loads((out / BATCH_DIR.format(0) / "public.json").read_text())
    assert public == batch["public_signals"]
    # Both ways of naming the input at once is an error a user can act on.
    result = runner.invoke(main, ["prove", "--scenario", str(tiny_file), "--circuit", "demo"])
    assert result.exit_code != 0 and "either --scenario" in result.output


def test_cli_prove_needs_an_input() -> None:
    result = CliRunner().invoke(main, ["prove"])
    assert result.exit_code != 0 and "--scenario FILE" in result.output


def test_batch_config_roundtrip_for_spec() -> None:
    config = BatchConfig(20, 8, 2, 4, 2, 16)
    assert config_spec(config).name == "batch_k4_e2_b16_d20_s8_m2"
