"""``zkmatch verify`` (prover/verifier/audit.py): every batch re-verified from chain data,
with the Python Groth16 verifier, on a Rollup the audit did not deploy. The batches consume
inbox messages (a range ending at a checkpoint, one at the head, an empty one)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from cli.main import main
from prover.chain.config import batch_info
from prover.chain.rollup import RollupClient, deploy, deploy_mock_usdc
from prover.exchange import inbox
from prover.verifier.audit import audit_chain
from tests.chain.conftest import (
    ACCOUNT_BITS,
    CONFIG,
    DEPOSITS_PER_BATCH,
    GENESIS_ROOT,
    MESSAGES_PER_BATCH,
    OPERATOR_KEY,
)
from tests.chain.test_inbox import message

BASE_FIELD = 21888242871839275222246405745257275088696311157297823662689037894645226208583


def _three_batches(rollup, shape) -> list[int]:
    sent = [message(i) for i in range(MESSAGES_PER_BATCH + 1)]
    for m in sent:
        rollup.client.send_message(m, sender=rollup.stranger)
    t = rollup.now() - 300
    roots = [101, 202, 303]
    ends = [MESSAGES_PER_BATCH, MESSAGES_PER_BATCH + 1, MESSAGES_PER_BATCH + 1]
    for n, (root, end) in enumerate(zip(roots, ends, strict=True)):
        state = rollup.client.state()
        start = rollup.client.inbox_consumed()
        inputs = [state.root, root, batch_info(n, state.last_timestamp, t + n + 1),
                  state.config_hash, inbox.chain_of(sent[:start]), inbox.chain_of(sent[:end]),
                  0, 0, 0]
        rollup.client.submit_batch(root, t + n + 1, end, 0, (), shape.prove(inputs),
                                   rollup.operator)
    return roots


def test_every_batch_verifies_from_genesis(rollup, shape):
    roots = _three_batches(rollup, shape)
    report = audit_chain(rollup.client, shape.artifacts.vkey)
    assert report.ok, report.failure
    assert [b.number for b in report.batches] == [0, 1, 2]
    assert [b.old_root for b in report.batches] == [GENESIS_ROOT, *roots[:2]]
    assert all(b.ok for b in report.batches)


def test_the_command_prints_a_table_or_json_and_exits_zero(rollup, shape, anvil_node):
    _three_batches(rollup, shape)
    args = ["verify", "--rpc-url", anvil_node.rpc_url, "--rollup", rollup.client.address,
            "--vkey", str(shape.artifacts.vkey)]
    human = CliRunner().invoke(main, args)
    assert human.exit_code == 0, human.output
    assert "3 batches verified from genesis" in human.output
    as_json = CliRunner().invoke(main, [*args, "--json"])
    assert as_json.exit_code == 0, as_json.output
    data = json.loads(as_json.output)
    assert data["ok"] and [b["batch"] for b in data["batches"]] == [0, 1, 2]


def test_a_key_that_is_not_the_registered_one_fails(rollup, shape, tmp_path):
    _three_batches(rollup, shape)
    other = json.loads(shape.artifacts.vkey.read_text())
    other["IC"][0] = other["IC"][1]
    path = tmp_path / "other.json"
    path.write_text(json.dumps(other))
    report = audit_chain(rollup.client, path)
    assert not report.ok and "not the one the Rollup registered" in report.failure


def test_a_verifier_that_does_not_embed_the_registered_key_fails(chain, shape, tmp_path):
    # A Rollup whose stored key hash is the published key's but whose verifier is another
    # circuit's: the hash alone would pass; the verifier's code does not hold the key.
    other_vk = dict(shape.vk)
    x, y, z = shape.vk["vk_alpha_1"]
    other_vk["vk_alpha_1"] = [x, str(BASE_FIELD - int(y)), z]  # -alpha
    admin, operator = chain.eth.accounts[:2]
    deployment = deploy(chain, shape.verifier, other_vk, CONFIG, genesis_root=1,
                        genesis_timestamp=1, operator=operator, admin=admin,
                        operator_key=OPERATOR_KEY.public_key,
                        messages_per_batch=MESSAGES_PER_BATCH,
                        token=deploy_mock_usdc(chain, sender=admin),
                        deposits_per_batch=DEPOSITS_PER_BATCH, account_bits=ACCOUNT_BITS)
    path = tmp_path / "published.json"
    path.write_text(json.dumps(other_vk))
    report = audit_chain(RollupClient(chain, deployment.rollup), path)
    assert not report.ok and "does not embed the key" in report.failure


def test_a_dead_chain_is_a_clear_error(tmp_path):
    result = CliRunner().invoke(main, ["verify", "--rpc-url", "http://127.0.0.1:9",
                                       "--rollup", "0x" + "11" * 20, "--vkey", "vk.json"])
    assert result.exit_code == 1
    assert "http://127.0.0.1:9" in result.output and "no EVM JSON-RPC node answers" in result.output
    assert "Traceback" not in result.output


def test_an_address_without_a_contract_is_refused(rollup, shape, anvil_node):
    result = CliRunner().invoke(main, ["verify", "--rpc-url", anvil_node.rpc_url, "--rollup",
                                       rollup.stranger, "--vkey", str(shape.artifacts.vkey)])
    assert result.exit_code == 1 and "no contract at" in result.output
