"""``zkmatch bench``: the random full batch is valid, and the report has every field.

The proving test uses Batch(4, 2, 2, 4, 2, 2), the same build as tests/test_operator.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cli.main import main
from prover.bench import BenchConfig, BenchReport, full_batch
from prover.errors import ZkmatchError
from prover.proving.backends import arkworks_available

SMALL = ["--fills", "2", "--account-bits", "4", "--slot-bits", "2", "--markets", "2",
         "--accounts", "4", "--entries", "2"]  # fmt: skip


@pytest.mark.parametrize(
    "cfg",
    [
        BenchConfig(fills=2, account_bits=4, slot_bits=2, accounts=4, entries=2),
        BenchConfig(fills=5, account_bits=6, slot_bits=2, markets=3, accounts=7, entries=4),
        BenchConfig(fills=16, account_bits=20, slot_bits=8, accounts=4, entries=2),
    ],
)
def test_full_batch_uses_every_slot(cfg: BenchConfig) -> None:
    result = full_batch(cfg, seed=7)
    assert len(result.fills) == cfg.fills
    assert len(result.entries) == cfg.entries
    assert sum(1 for a in result.witness.accounts if a.used) == cfg.accounts
    assert result.batch_number == 1
    assert full_batch(cfg, seed=7).new_root == result.new_root


def test_full_batch_needs_room() -> None:
    with pytest.raises(ZkmatchError, match="K >= 4"):
        full_batch(BenchConfig(accounts=3))
    with pytest.raises(ZkmatchError, match="raise --slot-bits"):
        full_batch(BenchConfig(fills=5, account_bits=4, slot_bits=2, accounts=4))


@pytest.mark.circuit
def test_bench_json_has_every_field() -> None:
    result = CliRunner().invoke(main, ["bench", *SMALL, "--seed", "1", "--repeat", "2",
                                       "--workers", "2", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == set(BenchReport.__annotations__)
    assert report["circuit"] == "batch_k4_e2_b2_d4_s2_m2"
    assert report["params"] == {"K": 4, "E": 2, "B": 2, "D": 4, "S": 2, "M": 2}
    assert report["fills"] == 2 and report["verified"] and report["repeat"] == 2
    assert report["constraints_per_fill"] == report["constraints"] / 2
    for key in ("witness_s", "prove_s", "raw_prove_s", "end_to_end_s", "verify_s"):
        assert report[key] > 0, key
    assert report["end_to_end_s"] >= report["prove_s"]
    assert report["calldata_proof_bytes"] == 256
    assert 500 < report["proof_json_bytes"] < 1500
    assert report["peak_rss_mb"] is None or report["peak_rss_mb"] > 10
    assert report["setup"] in ("dev", "ptau") and report["prover"] in ("snarkjs", "arkworks")
    if arkworks_available():  # both backends side by side, on the same zkey and witness
        assert report["arkworks_prove_s"] > 0 and report["arkworks_ratio"] > 0
    else:
        assert report["arkworks_prove_s"] is None
    par = report["parallel"]
    assert par["workers"] == 2 and par["serial_s"] > 0 and par["parallel_s"] > 0
    assert par["fills_per_s_1"] == pytest.approx(2 * 2 / par["serial_s"])
    assert par["fills_per_s_all"] == pytest.approx(2 * 2 / par["parallel_s"])
