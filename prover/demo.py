"""``zkmatch demo``: the whole pipeline once, end to end.

The default demo (:func:`run_operator_demo`) runs a small shipped scenario
(``docs/examples/demo.json``) the way an operator does: deploys into a data folder (a
``Rollup`` at the scenario's genesis, its markets, funding caps and development price
feed registered), sends each round's signed orders to the Rollup's inbox, encrypted to
the operator, each trader from its own node account, and runs the batch loop
(:mod:`prover.operator.loop`: match an inbox range, prove with ``Batch(K, E, B, D, S, M)``,
submit, confirm) until no message is pending, shows that a changed ``newRoot`` is rejected
by snarkjs and by the Rollup, and finally audits the chain the way ``zkmatch verify`` does.
:func:`run_batch_demo` (``--no-chain``) proves and checks with snarkjs only.

The membership demo (:func:`run_demo`, ``zkmatch demo --membership``):

1. build (or find in the cache) the ``AccountMembership`` circuit for a small account tree;
2. make an account tree with a few accounts (fee account, insurance fund, two traders);
3. prove that one trader's account is in the tree, without revealing which one;
4. verify the proof with snarkjs, and check that a tampered root is rejected;
5. deploy the Groth16 verifier exported by snarkjs on a chain (a fresh anvil on loopback
   unless an RPC URL is given) and call ``verifyProof`` for the honest and the tampered
   public input.

The accounts are the exchange model's own :class:`prover.exchange.domain.Account` objects in a
:class:`prover.merkle.QuadTree`, so the circuit checks the model's leaf encoding.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from prover.crypto.eddsa import PrivateKey
from prover.errors import ToolError
from prover.exchange.constants import FEE_ACCOUNT, INSURANCE_ACCOUNT
from prover.exchange.domain import Account, Position
from prover.exchange.state import empty_account_leaf, empty_orders_root
from prover.field import SNARK_FIELD
from prover.merkle import QuadTree
from prover.proving.circuit import (
    Artifacts,
    CircuitInputs,
    account_membership_spec,
    build,
    compile_verifier,
    prove,
    solidity_calldata,
    verify,
)
from prover.toolchain.anvil import check_rpc, running_anvil
from prover.toolchain.cache import build_root
from prover.toolchain.common import Progress
from prover.toolchain.solc import CompiledContract

#: The scenario ``zkmatch demo`` proves: Batch(4, 2, 2, 4, 2, 2), 37k constraints, 2^16 ptau
#: (the circuit the tests build too, so one setup serves both).
DEMO_SCENARIO = Path(__file__).resolve().parents[1] / "docs" / "examples" / "demo.json"

DEMO_BITS = 4
DEMO_MARKETS = 2
DEMO_SLOT_BITS = 2
#: Gas limit for verifyProof sent as a transaction (it needs about 215k at 1 public input).
VERIFY_GAS_LIMIT = 1_000_000


def _key(seed: str) -> tuple[int, int]:
    """A deterministic demo public key (EdDSA-Poseidon key derived from ``seed``)."""
    return PrivateKey.from_seed(seed).public_key


def demo_accounts() -> dict[int, Account]:
    """Fee account, insurance fund and two traders (one long, one short), by index."""
    flat = (Position(), Position())
    return {
        FEE_ACCOUNT: Account(_key("zkmatch demo fee"), 0, 0, flat),
        INSURANCE_ACCOUNT: Account(_key("zkmatch demo insurance"), 0, 1_000_000_000, flat),
        5: Account(_key("zkmatch demo alice"), 3, 25_000_000_000, (Position(40, -7), Position())),
        9: Account(_key("zkmatch demo bob"), 1, -2_500_000, (Position(-40, -7), Position(5, 12))),
    }


def demo_tree(bits: int = DEMO_BITS) -> tuple[QuadTree, dict[int, Account]]:
    """An account tree of ``bits`` bits holding :func:`demo_accounts` (empty order slots)."""
    tree = QuadTree(bits, empty_account_leaf(DEMO_MARKETS, DEMO_SLOT_BITS))
    accounts = demo_accounts()
    orders_root = empty_orders_root(DEMO_SLOT_BITS)
    for index, account in accounts.items():
        tree.set(index, account.hash(orders_root))
    return tree, accounts


def membership_inputs(tree: QuadTree, index: int, account: Account) -> dict[str, Any]:
    """Circuit inputs of ``AccountMembership`` for ``account`` at ``index`` in ``tree``."""
    opening = tree.prove(index).as_circuit_inputs()
    return {
        "root": str(tree.root),
        **account.as_circuit_inputs(empty_orders_root(DEMO_SLOT_BITS)),
        "pathIndex": opening["pathIndex"],
        "siblings": opening["siblings"],
    }


class ChainReport(TypedDict):
    """What happened on chain: the deployed verifier and its answers (gas from receipts)."""

    rpc_url: str
    started_anvil: bool
    verifier_address: str
    honest_accepted: bool
    tampered_rejected: bool
    verify_gas: int
    deploy_gas: int


class DemoReport(TypedDict):
    """The demo's summary (``zkmatch demo --json`` prints it); ``ok`` iff every check held."""

    circuit: str
    build_dir: str
    constraints: int
    cached: bool
    build_timings: dict[str, float]
    account_index: int
    root: str
    prove_timings: dict[str, float]
    snarkjs_valid: bool
    snarkjs_tampered_rejected: bool
    chain: ChainReport | None
    ok: bool


def tampered(public: list[str]) -> list[str]:
    """The public signals with the first one changed (root + 1 mod p)."""
    return [str((int(public[0]) + 1) % SNARK_FIELD), *public[1:]]


@contextmanager
def _chain(rpc_url: str | None, log_dir: Path, progress: Progress | None) -> Iterator[str]:
    """The RPC URL to use: the given one (checked), or a fresh anvil's (log in ``log_dir``)."""
    if rpc_url:
        check_rpc(rpc_url)
        yield rpc_url
        return
    with running_anvil(log_path=log_dir / "anvil-demo.log", progress=progress) as node:
        yield node.rpc_url


def check_on_chain(
    contract: CompiledContract,
    rpc_url: str,
    calls: list[Any],
    progress: Progress | None = None,
) -> tuple[str, list[bool], int, int]:
    """Deploy ``contract`` and ``verifyProof(*args)`` for each args in ``calls``.

    Returns (address, results, deploy gas, gas used by the first call sent as a transaction).
    """
    from web3 import Web3  # heavy import, only when a chain is used

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    try:
        accounts = w3.eth.accounts
    except Exception as exc:  # web3 raises several unrelated types for a dead node
        raise ToolError(f"chain at {rpc_url} stopped answering: {exc}") from exc
    if not accounts:
        raise ToolError(
            f"the node at {rpc_url} has no unlocked account to deploy from; "
            "use a development node such as anvil"
        )
    sender = accounts[0]
    factory = w3.eth.contract(abi=contract.abi, bytecode=contract.bytecode)
    if progress:
        progress(f"chain: deploying {contract.name} from {sender}")
    tx_hash = factory.constructor().transact({"from": sender})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ToolError(f"deploying {contract.name} on {rpc_url} failed: {receipt}")
    address = receipt["contractAddress"]
    verifier = w3.eth.contract(address=address, abi=contract.abi)
    results = [bool(verifier.functions.verifyProof(*args).call()) for args in calls]
    # Gas as a transaction, from its receipt. Not estimate_gas: snarkjs's verifier returns
    # false (it does not revert) when the pairing precompile runs out of gas, so the
    # estimator's search settles on a gas limit at which the proof is *rejected*.
    call_hash = verifier.functions.verifyProof(*calls[0]).transact(
        {"from": sender, "gas": VERIFY_GAS_LIMIT}
    )
    gas = int(w3.eth.wait_for_transaction_receipt(call_hash, timeout=60)["gasUsed"])
    if progress:
        progress(f"chain: verifier at {address}; verifyProof -> {results} (gas {gas})")
    return str(address), results, int(receipt["gasUsed"]), gas


def run_demo(
    *,
    bits: int = DEMO_BITS,
    rpc_url: str | None = None,
    ptau: Path | None = None,
    chain: bool = True,
    progress: Progress | None = None,
    witness: str | None = None,
) -> DemoReport:
    """Run the demo (see the module docstring) and report what happened.

    ``witness``: the witness generator (:func:`prover.proving.circuit.prove`; default
    ``ZKMATCH_WITNESS``, else wasm).
    """
    spec = account_membership_spec(bits, DEMO_MARKETS)
    start = time.monotonic()
    artifacts: Artifacts = build(spec, ptau, progress)
    if progress:
        progress(f"build: ready in {time.monotonic() - start:.1f} s ({artifacts.directory})")
    tree, accounts = demo_tree(bits)
    index = max(accounts)
    if progress:
        progress(f"tree: {len(accounts)} accounts, root {tree.root}")
        progress(f"prove: account {index} is in the tree (its index stays private)")
    inputs: CircuitInputs = membership_inputs(tree, index, accounts[index])
    result = prove(artifacts, inputs, progress, witness=witness)
    if result.public != [str(tree.root)]:
        raise ToolError(f"public signals {result.public} are not the tree root {tree.root}")
    valid = verify(artifacts, result.proof, result.public)
    bad = tampered(result.public)
    rejected = not verify(artifacts, result.proof, bad)
    if progress:
        progress(
            f"verify (snarkjs): proof {'valid' if valid else 'INVALID'}, "
            f"tampered root {'rejected' if rejected else 'ACCEPTED'}"
        )

    chain_report: ChainReport | None = None
    if chain:
        contract = compile_verifier(artifacts, progress)
        with _chain(rpc_url, build_root() / "logs", progress) as url:
            address, results, deploy_gas, gas = check_on_chain(
                contract,
                url,
                [
                    solidity_calldata(result.proof, result.public),
                    solidity_calldata(result.proof, bad),
                ],
                progress,
            )
        chain_report = {
            "rpc_url": url,
            "started_anvil": rpc_url is None,
            "verifier_address": address,
            "honest_accepted": results[0],
            "tampered_rejected": not results[1],
            "verify_gas": gas,
            "deploy_gas": deploy_gas,
        }
    ok = (
        valid
        and rejected
        and (
            chain_report is None
            or (chain_report["honest_accepted"] and chain_report["tampered_rejected"])
        )
    )
    return {
        "circuit": spec.name,
        "build_dir": str(artifacts.directory),
        "constraints": artifacts.constraints,
        "cached": artifacts.cached,
        "build_timings": artifacts.timings,
        "account_index": index,
        "root": str(tree.root),
        "prove_timings": result.timings,
        "snarkjs_valid": valid,
        "snarkjs_tampered_rejected": rejected,
        "chain": chain_report,
        "ok": ok,
    }


# --------------------------------------------------------------------------- batch demo


class RollupReport(TypedDict):
    """The batch demo's settlement: the Rollup, each submission's gas, the audit."""

    rpc_url: str
    started_anvil: bool
    rollup_address: str
    verifier_address: str
    honest_accepted: bool
    tampered_rejected: bool
    submit_gas: list[int]
    audit_ok: bool
    audit_failure: str
    audited_batches: int


class BatchDemoBatch(TypedDict):
    """One proven batch of the demo: roots, sizes, timings and every check's answer."""

    batch_number: int
    old_root: str
    new_root: str
    entries: int
    fills: int
    timings: dict[str, float]
    snarkjs_valid: bool
    snarkjs_tampered_rejected: bool
    chain_accepted: bool | None
    chain_tampered_rejected: bool | None
    gas_used: NotRequired[int | None]


class BatchDemoReport(TypedDict):
    """``zkmatch demo --json``: the scenario's batches, proven and checked; ``ok`` iff all
    held."""

    scenario: str
    circuit: str
    build_dir: str
    constraints: int
    cached: bool
    build_timings: dict[str, float]
    match_s: float
    batches: list[BatchDemoBatch]
    final_root: str
    proofs_dir: str | None
    snarkjs_valid: bool
    snarkjs_tampered_rejected: bool
    chain: RollupReport | None
    ok: bool


def tampered_new_root(public: list[str]) -> list[str]:
    """The public signals with ``newRoot`` (the second) changed: an operator claiming
    another state."""
    return [public[0], str((int(public[1]) + 1) % SNARK_FIELD), *public[2:]]


def drive_scenario(operator: Any, scenario: Any, progress: Progress | None = None) -> list[Any]:
    """Feed ``scenario``'s rounds to ``operator`` (each round's signed orders encrypted to
    the operator and sent to the Rollup's inbox, then batch after batch with
    prices the scenario's feed signs: a batch the engine splits off gets them a second
    later; with several workers a round's batches are proven at once,
    :meth:`~prover.operator.loop.Operator.batches_ahead`); every
    :class:`~prover.operator.loop.BatchRun`, in order."""
    from prover.exchange.domain import PriceSet
    from prover.exchange.scenario import signed_rounds

    runs: list[Any] = []
    store = operator.store
    # Each trader sends from its own Ethereum account (the node's development accounts,
    # where it has any; else the operator's account sends for all).
    nodes = list(operator.w3.eth.accounts)[1:]

    def sender(entry: Any) -> str | None:
        return nodes[entry.account % len(nodes)] if nodes else None

    for rnd, messages in zip(scenario.rounds, signed_rounds(scenario), strict=True):
        operator.post_entries(messages, sender)

        def prices_after(last: int, rnd: Any = rnd) -> PriceSet:
            t = max(rnd.timestamp, last + 1)
            return PriceSet(0, t, rnd.marks, rnd.funding).signed(scenario.feed)

        while operator.pending_messages():
            prices = prices_after(store.load_state().last_timestamp)
            before = operator.pending_messages()
            if operator.workers > 1:  # the round's batches proven at once, sent in order
                runs.extend(operator.batches_ahead(prices, prices_after))
            else:
                runs.extend(operator.batch(prices))
            if operator.pending_messages() == before:
                raise ToolError(f"the operator took none of {before} pending inbox messages")
    return runs


def run_operator_demo(
    *,
    scenario: Path = DEMO_SCENARIO,
    rpc_url: str | None = None,
    ptau: Path | None = None,
    data_dir: Path | None = None,
    progress: Progress | None = None,
    witness: str | None = None,
    prover: str | None = None,
    workers: int | None = None,
) -> BatchDemoReport:
    """The demo as an operator runs it: deploy into a data folder (zkmatch's own anvil
    unless ``rpc_url``), send each round's signed orders to the inbox, ``zkmatch batch``
    until no message is pending (match, prove, submit, confirm; the store records each step), check
    that a changed new root is refused by snarkjs and by the Rollup, then audit the chain
    as ``zkmatch verify`` does."""
    import tempfile

    from prover.chain.node import open_chain
    from prover.chain.rollup import RollupRevert
    from prover.operator.data import DataDir
    from prover.operator.deploy import deploy_operator
    from prover.operator.loop import Operator, model_root
    from prover.proving.batches import load_scenario
    from prover.verifier.audit import audit_chain

    parsed = load_scenario(scenario)
    owned = data_dir is None
    root = Path(tempfile.mkdtemp(prefix="zkmatch-demo-")) if data_dir is None else data_dir
    data = DataDir(root / "data" if owned else root)
    start = time.monotonic()
    deployment = deploy_operator(data.root, scenario, rpc_url=rpc_url, ptau=ptau,
                                 progress=progress)
    deploy_s = time.monotonic() - start
    with data.locked(), open_chain(
        deployment["rpc_url"], state_path=data.anvil_state, log_path=data.anvil_log,
        progress=progress,
    ) as endpoint, Operator(data, endpoint.rpc_url, progress=progress, witness=witness,
                            ptau=ptau, prover=prover, workers=workers) as operator:
        runs = drive_scenario(operator, parsed, progress)
        artifacts = operator.artifacts()
        batches: list[BatchDemoBatch] = []
        for run in runs:
            row = operator.store.batch(run.number)
            assert row is not None
            proof, public = json.loads(row["proof"]), json.loads(row["public"])
            rejected = not verify(artifacts, proof, tampered_new_root(public))
            batches.append({
                "batch_number": run.number,
                "old_root": str(run.old_root),
                "new_root": str(run.new_root),
                "entries": run.entries,
                "fills": run.fills,
                "timings": run.timings,
                "snarkjs_valid": run.step == "confirmed",
                "snarkjs_tampered_rejected": rejected,
                "chain_accepted": run.step == "confirmed",
                "chain_tampered_rejected": None,
                "gas_used": run.gas_used,
            })
        # A changed new root with the last batch's proof, sent against the current state:
        last = operator.store.batch(runs[-1].number)
        assert last is not None
        try:
            operator.client.submit_transaction(
                (int(last["new_root"]) + 1) % SNARK_FIELD, int(last["timestamp"]) + 1,
                operator.client.inbox_consumed(), json.loads(last["proof"]),
                operator.signer.address,
            )
            chain_refused = False
        except RollupRevert as exc:
            chain_refused = exc.reason == "Rollup__InvalidProof"
        if progress:
            progress("chain: a changed new root with a valid proof: "
                     + ("refused (Rollup__InvalidProof)" if chain_refused else "ACCEPTED"))
        for b in batches:
            b["chain_tampered_rejected"] = chain_refused
        audit = audit_chain(operator.client, data.vkey, progress=progress,
                            from_block=int(deployment["block"]))
        final_root = operator.store.root
        chain_root = operator.client.state().root
        # The model's replay of the inbox as the chain holds it, in the store's batches.
        expected = model_root(data, operator.client, operator.store)
    chain_report: RollupReport = {
        "rpc_url": endpoint.rpc_url,
        "started_anvil": endpoint.own_node,
        "rollup_address": deployment["rollup"],
        "verifier_address": deployment["verifier"],
        "honest_accepted": all(b["chain_accepted"] for b in batches),
        "tampered_rejected": chain_refused,
        "submit_gas": [int(b["gas_used"] or 0) for b in batches],
        "audit_ok": audit.ok,
        "audit_failure": audit.failure,
        "audited_batches": len(audit.batches),
    }
    ok = (
        bool(batches)
        and chain_report["honest_accepted"]
        and chain_refused
        and all(b["snarkjs_tampered_rejected"] for b in batches)
        and audit.ok
        and len(audit.batches) == len(batches)
        and final_root == chain_root == expected
    )
    return {
        "scenario": str(scenario),
        "circuit": artifacts.spec.name,
        "build_dir": str(artifacts.directory),
        "constraints": artifacts.constraints,
        "cached": artifacts.cached,
        "build_timings": {**artifacts.timings, "deploy": deploy_s},
        "match_s": sum(r.timings.get("match", 0.0) for r in runs),
        "batches": batches,
        "final_root": str(final_root),
        "proofs_dir": str(data.root),
        "snarkjs_valid": all(b["snarkjs_valid"] for b in batches),
        "snarkjs_tampered_rejected": all(b["snarkjs_tampered_rejected"] for b in batches),
        "chain": chain_report,
        "ok": ok,
    }


def run_batch_demo(
    *,
    scenario: Path = DEMO_SCENARIO,
    ptau: Path | None = None,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    witness: str | None = None,
    prover: str | None = None,
    workers: int | None = None,
) -> BatchDemoReport:
    """Match ``scenario``, prove and verify every batch with snarkjs (no chain).

    ``witness``: the witness generator, as for :func:`prover.proving.batches.prove_results`.
    """
    from prover.proving.batches import load_scenario, prove_results, simulate

    parsed = load_scenario(scenario)
    start = time.monotonic()
    sim = simulate(parsed)
    match_s = time.monotonic() - start
    results = [report.result for report in sim.reports]
    if progress:
        progress(
            f"match: {scenario.name}: {len(results)} batches, "
            f"{sum(len(r.fills) for r in results)} fills, "
            f"{sum(len(r.entries) for r in results)} entries ({match_s:.1f} s)"
        )
    if not results:
        raise ToolError(f"scenario {scenario} sealed no batch: nothing to prove")
    artifacts, proofs = prove_results(
        results, parsed.config, ptau=ptau, progress=progress, out_dir=out_dir, witness=witness,
        prover=prover, workers=workers,
    )
    batches: list[BatchDemoBatch] = []
    for proof in proofs:
        rejected = not verify(artifacts, proof.proof, tampered_new_root(proof.public))
        if progress:
            progress(
                f"verify (snarkjs): batch {proof.batch_number} valid, "
                f"changed newRoot {'rejected' if rejected else 'ACCEPTED'}"
            )
        batches.append(
            {
                "batch_number": proof.batch_number,
                "old_root": str(proof.old_root),
                "new_root": str(proof.new_root),
                "entries": proof.entries,
                "fills": proof.fills,
                "timings": proof.timings,
                "snarkjs_valid": proof.verified,
                "snarkjs_tampered_rejected": rejected,
                "chain_accepted": None,
                "chain_tampered_rejected": None,
            }
        )

    valid = all(b["snarkjs_valid"] for b in batches)
    rejected_all = all(b["snarkjs_tampered_rejected"] for b in batches)
    ok = valid and rejected_all and proofs[-1].new_root == sim.state.root
    return {
        "scenario": str(scenario),
        "circuit": artifacts.spec.name,
        "build_dir": str(artifacts.directory),
        "constraints": artifacts.constraints,
        "cached": artifacts.cached,
        "build_timings": artifacts.timings,
        "match_s": match_s,
        "batches": batches,
        "final_root": str(sim.state.root),
        "proofs_dir": str(out_dir) if out_dir is not None else None,
        "snarkjs_valid": valid,
        "snarkjs_tampered_rejected": rejected_all,
        "chain": None,
        "ok": ok,
    }
