"""The real thing: batches of the demo scenario proven with the batch circuit, accepted by
a Rollup on anvil, then re-verified from chain data alone by ``zkmatch verify``'s audit.

The Rollup's genesis is the scenario's genesis state and its configuration the scenario's
venue (markets, funding caps, the development feed's key, the operator's inbox key): the
proof's nine public inputs are whatever the contract builds from that, its inbox and its
deposit queue, nothing the operator hands over but the new root, the time, where the
batch's messages and deposits end, and its exits (none here: the demo is funded in
genesis for this test, since the simulation's deposits come from address 0 and a deposit
on chain comes from its sender; the operator's tests take deposits end to end). Each
batch's messages are posted to the Rollup's inbox first. A proof of batch 2 submitted as
batch 1, and batch 1 submitted twice, are refused.

Skipped while the batch circuit has fewer public inputs than the Rollup's nine (the deposit
and exit inputs are being added to the circuit).
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from prover.chain.rollup import RollupClient, RollupRevert, deploy, deploy_mock_usdc
from prover.exchange.scenario import FUNDING_GENESIS, genesis
from prover.proving.batches import config_spec, load_scenario, prove_batch, simulate
from prover.proving.circuit import build, compile_verifier
from prover.toolchain.common import REPO_ROOT
from prover.verifier.audit import audit_chain
from tests.chain.conftest import PUBLIC
from tests.chain.test_rollup import SUBMIT_GAS_BUDGET

DEMO = REPO_ROOT / "docs" / "examples" / "demo.json"
BATCHES = 3


@pytest.fixture(scope="module")
def proven(tmp_path_factory):
    scenario = replace(load_scenario(DEMO), funding=FUNDING_GENESIS)
    results = [r.result for r in simulate(scenario).reports][:BATCHES]
    artifacts = build(config_spec(scenario.config))
    inputs = int(artifacts.verification_key()["nPublic"])
    assert inputs == len(PUBLIC), f"the batch circuit has {inputs} public inputs"
    out = tmp_path_factory.mktemp("rollup-batch")
    proofs = [prove_batch(artifacts, r, out_dir=out) for r in results]
    return scenario, results, artifacts, proofs


def test_proven_batches_are_accepted_and_audited(chain, proven):
    scenario, results, artifacts, proofs = proven
    admin, operator = chain.eth.accounts[:2]
    start = genesis(scenario)
    deployment = deploy(
        chain, compile_verifier(artifacts), artifacts.verification_key(), scenario.venue,
        genesis_root=start.root, genesis_timestamp=start.last_timestamp,
        operator=operator, admin=admin, operator_key=scenario.venue.operator_key,
        messages_per_batch=scenario.config.entries,
        token=deploy_mock_usdc(chain, sender=admin),
        deposits_per_batch=scenario.config.deposits, account_bits=scenario.config.account_bits,
        first_account=max(start.accounts(), default=1) + 1,  # past the genesis accounts
    )
    client = RollupClient(chain, deployment.rollup)
    assert client.state().config_hash == scenario.venue.hash()
    # Batch 2's proof as the first batch: the contract's oldRoot and batchInfo differ.
    with pytest.raises(RollupRevert) as caught:
        client.submit_batch(results[1].new_root, results[1].timestamp, 0, 0, (),
                            proofs[1].proof, operator)
    assert caught.value.reason == "Rollup__InvalidProof"
    gas = []
    for result, proof in zip(results, proofs, strict=True):
        for m in result.witness.messages:  # the batch's messages, posted by their senders
            client.send_message(m, sender=admin)
        end = result.state.inbox_count
        assert client.inbox_count() == end
        assert client.next_public_inputs(result.new_root, result.timestamp, end, 0, ()) == [
            int(x) for x in proof.public
        ]
        receipt = client.submit_batch(result.new_root, result.timestamp, end, 0, (),
                                      proof.proof, operator)
        gas.append(receipt["gasUsed"])
        assert (client.inbox_consumed(), client.inbox_consumed_chain()) == (
            end, result.witness.inbox_after
        )
    print(f"submitBatch gas with the batch circuit's verifier: {gas}")
    # The first batch also turns the zero slot of (batchNumber, lastTimestamp) non-zero
    # (genesis time 0 here) and, when it consumes messages, inboxConsumedChain: a one-time
    # 17,100 more each. Every later batch is within budget.
    assert max(gas[1:]) <= SUBMIT_GAS_BUDGET and gas[0] <= SUBMIT_GAS_BUDGET + 2 * 17_100
    state = client.state()
    assert (state.root, state.batch_number) == (results[-1].new_root, BATCHES)
    # Replayed: refused (the stored root moved on).
    with pytest.raises(RollupRevert):
        client.submit_batch(results[0].new_root, results[-1].timestamp + 1,
                            client.inbox_consumed(), 0, (), proofs[0].proof, operator)
    report = audit_chain(client, artifacts.vkey)
    assert report.ok, report.failure
    assert [b.number for b in report.batches] == list(range(BATCHES))
