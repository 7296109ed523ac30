"""``zkmatch demo``: the whole pipeline once, end to end.

The default demo (:func:`run_operator_demo`) runs a small shipped scenario
(``docs/examples/demo.json``) the way an operator does: deploys into a data folder (a
``Rollup`` at the scenario's genesis, its markets, funding caps and development price
feed registered), drives its traders through the trader CLI (:class:`TraderDesk`: each
makes its key file with ``zkmatch trader keygen --seed`` and sends each round's orders and
cancels with ``zkmatch trader order``/``cancel``, encrypted to the operator, to the Rollup's
inbox from its own sending address), runs the batch loop (:mod:`prover.operator.loop`:
match an inbox range, prove with ``Batch(K, E, B, D, S, M)``, submit, confirm) until no
message is pending, has each trader check its state with ``zkmatch trader state``, shows
that a changed ``newRoot`` is rejected by snarkjs and by the Rollup, and finally audits the
chain the way ``zkmatch verify`` does.
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
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from prover.chain.signer import fund_on_dev_chain
from prover.crypto.eddsa import PrivateKey
from prover.errors import ToolError
from prover.exchange.constants import (
    FEE_ACCOUNT,
    INSURANCE_ACCOUNT,
    SIDE_BUY,
    SIDE_SELL,
    TIF_GTC,
    TIF_IOC,
    TIF_POST_ONLY,
)
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

#: The scenario ``zkmatch demo`` proves: matched by the rules on the committed book,
#: BatchBook(5, 1, 2, 4, 2, 2, 4, 1), 52,469 constraints, a 2^16 ptau.
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
    traders: TradersReport | None
    ok: bool


def tampered_new_root(public: list[str]) -> list[str]:
    """The public signals with ``newRoot`` (the second) changed: an operator claiming
    another state."""
    return [public[0], str((int(public[1]) + 1) % SNARK_FIELD), *public[2:]]


# --------------------------------------------------------------------------- the traders


class TraderKeyFile(TypedDict):
    """A trader's key file, made with ``zkmatch trader keygen --seed`` (the scenario's
    development seed for the account, so the key is the one the genesis holds)."""

    trader: str
    account: int
    key_file: str
    public_key: list[str]
    eth_address: str
    command: str


class TraderCommand(TypedDict):
    """One ``zkmatch trader order`` or ``cancel`` the demo ran for a trader, and what the
    CLI answered (``--json``): the message's index in the Rollup's inbox, the signed
    entry's hash (the scenario's entry, checked), the sending address and transaction."""

    trader: str
    account: int
    round: int
    kind: str
    command: str
    index: int
    hash: str
    sender: str
    tx_hash: str
    gas_used: int
    seconds: float


class TraderState(TypedDict):
    """``zkmatch trader state`` for a trader after the last batch. ``agrees``: the CLI
    verified the account's latest receipt against the root the Rollup accepted for its
    batch, the receipt's leaf is the account's leaf in the operator's final state, and the
    Rollup's current root is that state's root; otherwise ``problem`` says what differs."""

    trader: str
    account: int
    command: str
    agrees: bool
    problem: str
    batch: int | None
    root: str | None
    leaf: str | None
    collateral: str | None
    positions: list[str]
    open_orders: int
    verified_on_chain: bool
    current: bool | None


class TradersReport(TypedDict):
    """The traders' side of the operator demo, all through the trader CLI; ``ok`` iff every
    scenario entry went in as one command, in inbox order, and every trader that sent
    something has a state that agrees with the chain."""

    keys_dir: str
    key_files: list[TraderKeyFile]
    commands: list[TraderCommand]
    deposits: list[TraderCommand]
    withdrawals: list[TraderCommand]
    claims: list[dict[str, Any]]
    states: list[TraderState]
    seconds: dict[str, float]
    ok: bool


_SIDE_NAMES = {SIDE_BUY: "buy", SIDE_SELL: "sell"}
_TIF_NAMES = {TIF_GTC: "gtc", TIF_IOC: "ioc", TIF_POST_ONLY: "post-only"}


class TraderDesk:
    """The scenario's traders, each at its own terminal with the trader CLI.

    Every step is the real ``zkmatch trader`` command, run in this process
    (:func:`cli.inprocess.run_json`, its ``--json`` output parsed) with ``--data`` (the
    operator's folder: the Rollup's address, the state's shape and genesis keys, so the
    CLI's checks all run) and ``--rpc-url`` (the node the operator uses):

    - :meth:`keygen`: ``zkmatch trader keygen --seed <the account's scenario seed> --out
      KEYS_DIR/<name>.key``; the key is checked to be the one the account holds;
    - :meth:`send`: each signed entry of a round as ``zkmatch trader order`` or ``cancel``
      with every field given (order id, expiry, fee cap, time in force, account), sent from
      the key file's own sending address; the CLI's entry hash is checked to be the
      scenario's entry's (the same order, signed with the same key);
    - :meth:`states`: ``zkmatch trader state --account N --key FILE`` after the last batch.

    The one place the library calls the CLI (imported when used): the demo's point is to run
    the traders' side exactly as a user does, options, checks and errors included.
    """

    def __init__(self, scenario: Any, data_root: Path, rpc_url: str, keys_dir: Path,
                 progress: Progress | None = None) -> None:
        self.scenario = scenario
        self.data_root = Path(data_root)
        self.rpc_url = rpc_url
        self.keys_dir = Path(keys_dir)
        self.progress = progress
        self.names = {t.account: t.name for t in scenario.traders}
        self.key_files: dict[int, Path] = {}

    def _say(self, line: str) -> None:
        if self.progress:
            self.progress(line)

    def _chain_args(self) -> list[str]:
        return ["--data", str(self.data_root), "--rpc-url", self.rpc_url]

    def _name(self, account: int) -> str:
        try:
            return self.names[account]
        except KeyError:
            raise ToolError(f"account {account} is none of the scenario's traders") from None

    def keygen(self) -> list[TraderKeyFile]:
        """A key file per trader, with ``zkmatch trader keygen --seed``."""
        from cli.inprocess import run_json
        from prover.exchange.scenario import trader_key, trader_seed

        rows: list[TraderKeyFile] = []
        for trader in self.scenario.traders:
            path = self.keys_dir / f"{trader.name}.key"
            args = ["trader", "keygen", "--seed", trader_seed(trader.name), "--out", str(path)]
            out, ran = run_json(args)
            want = [str(c) for c in PrivateKey(trader_key(trader.name)).public_key]
            if out["public_key"] != want:
                raise ToolError(
                    f"{ran.command_line} made public key {out['public_key']}, not account "
                    f"{trader.account}'s {want}"
                )
            self.key_files[trader.account] = path
            rows.append({"trader": trader.name, "account": trader.account,
                         "key_file": str(path), "public_key": out["public_key"],
                         "eth_address": out["eth_address"], "command": ran.command_line})
            self._say(f"trader {trader.name}: zkmatch trader keygen -> {path.name} (account "
                      f"{trader.account}, sends from {out['eth_address']})")
        return rows

    def deposit(self) -> list[TraderCommand]:
        """Each trader brings its collateral in: ``zkmatch trader deposit AMOUNT --units
        --mint`` (the development token's mint, then approve and ``Rollup.deposit`` from
        the trader's sending address); the Rollup must name the scenario's account."""
        from cli.inprocess import run_json

        rows: list[TraderCommand] = []
        for trader in self.scenario.traders:
            args = ["trader", "deposit", str(trader.deposit), "--units", "--mint",
                    "--key", str(self.key_files[trader.account]), *self._chain_args()]
            out, ran = run_json(args)
            if int(out["account"]) != trader.account:
                raise ToolError(
                    f"{ran.command_line}: the Rollup named account {out['account']}, the "
                    f"scenario's {trader.name} is account {trader.account}"
                )
            rows.append({
                "trader": trader.name, "account": trader.account, "round": -1,
                "kind": "deposit", "command": ran.command_line, "index": int(out["number"]),
                "hash": str(out["chain"]), "sender": str(out["depositor"]),
                "tx_hash": str(out["tx_hash"]), "gas_used": int(out["gas_used"]),
                "seconds": ran.seconds,
            })
            self._say(f"trader {trader.name}: deposit {trader.deposit} units -> deposit "
                      f"#{out['number']}, account {out['account']} (gas {out['gas_used']:,})")
        return rows

    def withdraw(self, name: str, amount: int) -> TraderCommand:
        """``zkmatch trader withdraw AMOUNT --units --account N`` (the nonce from the
        trader's latest receipt, checked on chain), to the trader's sending address."""
        from cli.inprocess import run_json

        trader = self.scenario.trader(name)
        args = ["trader", "withdraw", str(amount), "--units", "--account", str(trader.account),
                "--key", str(self.key_files[trader.account]), *self._chain_args()]
        out, ran = run_json(args)
        self._say(f"trader {name}: withdraw {amount} units -> inbox #{out['index']} (nonce "
                  f"{out['withdrawal']['nonce']}, from the {out['nonce_from']})")
        return {
            "trader": name, "account": trader.account, "round": -1, "kind": "withdraw",
            "command": ran.command_line, "index": int(out["index"]), "hash": "",
            "sender": str(out["sender"]), "tx_hash": str(out["tx_hash"]),
            "gas_used": int(out["gas_used"]), "seconds": ran.seconds,
        }

    def claim(self, name: str) -> dict[str, Any]:
        """``zkmatch trader claim``: what accepted exits owe the trader's sending address."""
        from cli.inprocess import run_json

        trader = self.scenario.trader(name)
        out, ran = run_json(["trader", "claim", "--key", str(self.key_files[trader.account]),
                             *self._chain_args()])
        self._say(f"trader {name}: claim -> {out['amount']} units to {out['recipient']} "
                  f"(gas {out['gas_used']:,})")
        return {"trader": name, "amount": int(out["amount"]), "recipient": out["recipient"],
                "command": ran.command_line, "tx_hash": out["tx_hash"],
                "gas_used": int(out["gas_used"])}

    def entry_args(self, entry: Any) -> list[str]:
        """The ``zkmatch trader order``/``cancel`` arguments that make exactly ``entry``
        (every field explicit, nothing left to a default or to the clock)."""
        from prover.exchange.domain import SignedCancel, SignedOrder

        key = ["--key", str(self.key_files[entry.account])]
        if isinstance(entry, SignedOrder):
            o = entry.order
            return ["trader", "order", *key, "--account", str(o.account),
                    "--market", str(o.market), "--side", _SIDE_NAMES[o.side],
                    "--price", str(o.price), "--size", str(o.size),
                    "--order-id", str(o.order_id), "--expiry", str(o.expiry),
                    "--max-fee", str(o.max_fee_ppm), "--tif", _TIF_NAMES[o.tif],
                    *self._chain_args()]
        if isinstance(entry, SignedCancel):
            c = entry.cancel
            # The CLI cancels an order: the cancel's id is the next id of that order's slot.
            target = c.order_id - (1 << self.scenario.config.slot_bits)
            if target < 1:
                raise ToolError(
                    f"{self._name(c.account)}'s cancel with id {c.order_id} names no order "
                    f"(no smaller id in its slot): zkmatch trader cancel cannot send it"
                )
            return ["trader", "cancel", *key, "--account", str(c.account),
                    "--order-id", str(target), "--cancel-id", str(c.order_id),
                    *self._chain_args()]
        raise ToolError(f"not a signed order or cancel: {entry!r}")

    def send(self, round_no: int, entries: Sequence[Any]) -> list[TraderCommand]:
        """Each of a round's signed entries through the trader CLI, in order."""
        from cli.inprocess import run_json

        rows: list[TraderCommand] = []
        for entry in entries:
            name = self._name(entry.account)
            out, ran = run_json(self.entry_args(entry))
            if not out.get("sent") or out.get("hash") != str(entry.hash()):
                raise ToolError(
                    f"{ran.command_line} sent {out.get('hash')} (sent: {out.get('sent')}), not "
                    f"the scenario's entry {entry.hash()}"
                )
            kind = ran.args[1]
            rows.append({
                "trader": name, "account": int(entry.account), "round": round_no,
                "kind": kind, "command": ran.command_line, "index": int(out["index"]),
                "hash": str(out["hash"]), "sender": str(out["sender"]),
                "tx_hash": str(out["tx_hash"]), "gas_used": int(out["gas_used"]),
                "seconds": ran.seconds,
            })
            self._say(f"trader {name}: {self._describe(entry)} -> inbox #{out['index']}")
        return rows

    def _describe(self, entry: Any) -> str:
        from prover.exchange.domain import SignedOrder

        if isinstance(entry, SignedOrder):
            o = entry.order
            return (f"order {_SIDE_NAMES[o.side]} {o.size} "
                    f"{self.scenario.market_names[o.market]} @ {o.price} (id {o.order_id}, "
                    f"{_TIF_NAMES[o.tif]})")
        c = entry.cancel
        target = c.order_id - (1 << self.scenario.config.slot_bits)
        return f"cancel order {target} (cancel id {c.order_id})"

    def states(self, accounts: Sequence[int], final: Any) -> list[TraderState]:
        """``zkmatch trader state`` for each of ``accounts``, compared with ``final`` (the
        operator's state after the last batch, whose root the Rollup holds)."""
        from cli.inprocess import CommandFailed, command_line, run_json

        rows: list[TraderState] = []
        for account in accounts:
            name = self._name(account)
            args = ["trader", "state", "--account", str(account),
                    "--key", str(self.key_files[account]), *self._chain_args()]
            try:
                out, ran = run_json(args)
            except CommandFailed as exc:
                rows.append({
                    "trader": name, "account": account, "command": command_line(args),
                    "agrees": False, "problem": str(exc), "batch": None, "root": None,
                    "leaf": None, "collateral": None, "positions": [], "open_orders": 0,
                    "verified_on_chain": False, "current": None,
                })
                self._say(f"trader {name}: state REFUSED: {exc}")
                continue
            problems = []
            if not out["verified_on_chain"] or not out["key_checked"]:
                problems.append("not verified on chain with the trader's key")
            if out["leaf"] != str(final.leaf(account)):
                problems.append(f"its leaf {out['leaf']} is not account {account}'s leaf "
                                f"{final.leaf(account)} in the operator's final state")
            if out["chain"]["root"] != str(final.root):
                problems.append(f"the Rollup's root {out['chain']['root']} is not the final "
                                f"state's {final.root}")
            positions = [f"{p['market_name']} {int(p['size']):+d}" for p in out["positions"]]
            row: TraderState = {
                "trader": name, "account": account, "command": ran.command_line,
                "agrees": not problems, "problem": "; ".join(problems),
                "batch": int(out["batch"]), "root": str(out["root"]), "leaf": str(out["leaf"]),
                "collateral": str(out["collateral"]), "positions": positions,
                "open_orders": len(out["open_orders"]),
                "verified_on_chain": bool(out["verified_on_chain"]),
                "current": bool(out["current"]),
            }
            rows.append(row)
            verdict = ("verified on chain, agrees with the chain" if row["agrees"]
                       else f"DISAGREES: {row['problem']}")
            self._say(f"trader {name}: state after batch {row['batch']}: collateral "
                      f"{row['collateral']}, {', '.join(positions)}, {row['open_orders']} open "
                      f"orders; {verdict}")
        return rows


def _fund_senders(operator: Any, key_files: Sequence[TraderKeyFile], messages: int) -> None:
    """Ether for each trader's sending address that has none: ``anvil_setBalance`` on a
    development node (as the trader CLI would), else a transfer from the operator's account
    (the trader funding its address, as ``keygen`` asks), enough for ``messages`` each."""
    w3 = operator.w3
    for row in key_files:
        address = row["eth_address"]
        if int(w3.eth.get_balance(address)) or fund_on_dev_chain(w3, address):
            continue
        value = 2 * (messages + 1) * 400_000 * max(int(w3.eth.gas_price), 1)
        receipt = operator.signer.send(w3, {"to": address, "value": value, "gas": 21_000})
        if receipt["status"] != 1:
            raise ToolError(f"funding {row['trader']}'s sending address {address} failed")


@dataclass
class ScenarioRun:
    """What :func:`drive_scenario` did: every batch the operator ran, and the traders'
    side (key files, CLI commands with their inbox indices, state checks)."""

    runs: list[Any]
    traders: TradersReport


def drive_scenario(operator: Any, scenario: Any, progress: Progress | None = None, *,
                   keys_dir: Path | None = None) -> ScenarioRun:
    """Play ``scenario`` against ``operator``: its traders each make a key file and send
    each round's orders and cancels with the trader CLI (:class:`TraderDesk`: encrypted to
    the operator and sent to the Rollup's inbox from the trader's own address), then batch
    after batch with prices the scenario's feed signs (a batch the engine splits off gets
    them a second later; with several workers a round's batches are proven at once,
    :meth:`~prover.operator.loop.Operator.batches_ahead`); after the last batch each
    trader that sent something checks its state with ``zkmatch trader state``.

    Key files go to ``keys_dir`` (default: the operator's folder's ``traders/``)."""
    from prover.exchange.domain import PriceSet
    from prover.exchange.scenario import signed_rounds

    store = operator.store
    desk = TraderDesk(scenario, operator.data.root, operator.rpc_url,
                      keys_dir if keys_dir is not None else operator.data.root / "traders",
                      progress)
    rounds = signed_rounds(scenario)
    start = time.monotonic()
    key_files = desk.keygen()
    _fund_senders(operator, key_files, sum(len(r) for r in rounds))
    seconds = {"keygen": time.monotonic() - start, "send": 0.0, "state": 0.0}
    runs: list[Any] = []
    commands: list[TraderCommand] = []
    deposits: list[TraderCommand] = []
    if scenario.by_deposits:
        # Collateral comes in through the Rollup: deposits, then batches that consume them
        # (at the first round's prices, a second apart) before any order is sent.
        start = time.monotonic()
        deposits = desk.deposit()
        seconds["deposit"] = time.monotonic() - start
        first_round = scenario.rounds[0]
        while operator.pending_deposits():
            before = len(operator.pending_deposits())
            t = store.load_state().last_timestamp + 1
            runs.extend(operator.batch(
                PriceSet(0, t, first_round.marks, first_round.funding).signed(scenario.feed)
            ))
            if len(operator.pending_deposits()) == before:
                raise ToolError(f"the operator took none of {before} queued deposits")
    for number, (rnd, entries) in enumerate(zip(scenario.rounds, rounds, strict=True)):
        start = time.monotonic()
        commands.extend(desk.send(number, entries))
        seconds["send"] += time.monotonic() - start

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
    withdrawals: list[TraderCommand] = []
    claims: list[dict[str, Any]] = []
    if scenario.withdrawals:
        # Collateral goes out: each withdrawal through the inbox, batches until none is
        # pending (each paid one an exit), then each trader claims its tokens.
        start = time.monotonic()
        last_round = scenario.rounds[-1]
        withdrawals = [desk.withdraw(name, amount) for name, amount in scenario.withdrawals]
        while operator.pending_messages():
            t = store.load_state().last_timestamp + 1
            runs.extend(operator.batch(
                PriceSet(0, t, last_round.marks, last_round.funding).signed(scenario.feed)
            ))
        claims = [desk.claim(name) for name in dict.fromkeys(n for n, _ in scenario.withdrawals)]
        seconds["withdraw"] = time.monotonic() - start
    start = time.monotonic()
    senders = sorted({c["account"] for c in commands})
    states = desk.states(senders, store.load_state())
    seconds["state"] = time.monotonic() - start
    indices = [c["index"] for c in commands]
    ok = (
        len(commands) == sum(len(r) for r in rounds)
        and indices == sorted(set(indices))
        and [s["account"] for s in states] == senders
        and all(s["agrees"] for s in states)
    )
    ok = ok and all(d["account"] == t.account for d, t in zip(
        deposits, scenario.traders if scenario.by_deposits else (), strict=True))
    wanted: dict[str, int] = {}
    for name, amount in scenario.withdrawals:
        wanted[name] = wanted.get(name, 0) + amount
    ok = ok and {c["trader"]: c["amount"] for c in claims} == wanted
    return ScenarioRun(runs, {
        "keys_dir": str(desk.keys_dir), "key_files": key_files, "commands": commands,
        "deposits": deposits, "withdrawals": withdrawals, "claims": claims,
        "states": states, "seconds": seconds, "ok": ok,
    })


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
    unless ``rpc_url``), the traders send each round's orders and cancels to the inbox with
    the trader CLI, ``zkmatch batch`` until no message is pending (match, prove, submit,
    confirm; the store records each step), each trader checks its state with ``zkmatch
    trader state`` (:func:`drive_scenario`), check that a changed new root is refused by
    snarkjs and by the Rollup, then audit the chain as ``zkmatch verify`` does."""
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
        played = drive_scenario(operator, parsed, progress)
        runs = played.runs
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
                operator.client.inbox_consumed(), operator.client.deposits_consumed(), [],
                json.loads(last["proof"]),
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
        and played.traders["ok"]
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
        "traders": played.traders,
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
        "traders": None,
        "ok": ok,
    }
