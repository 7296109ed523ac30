"""Deploy and drive a ``Rollup`` (verifier_contracts/Rollup.sol) through web3.py.

:func:`connect` turns an RPC URL into a client, or a :class:`ChainError` naming the URL;
:func:`deploy` puts the verifier, the Poseidon contracts and libraries and the (linked)
Rollup on chain; :class:`RollupClient` reads the state, submits batches (a revert comes
back as a :class:`RollupRevert` carrying the contract's ``Rollup__Reason`` and its
arguments), reads the ``BatchSubmitted`` / ``ConfigRegistered`` events a verifier rebuilds
batches from, and sends and reads inbox messages (``sendMessage``, ``sealInbox``,
``MessageSent``; docs/inbox.md). Each batch consumes the inbox messages
``[inbox_consumed(), inbox_end)``; ``submitBatch`` reads the chain at both ends from storage.

Collateral (docs/settlement.md, "Deposits and exits"): :meth:`RollupClient.approve` and
:meth:`RollupClient.deposit` put tokens in the deposit queue (``Deposited`` events, read
back as :class:`prover.exchange.flows.Deposit` by :meth:`RollupClient.deposits`); each batch
consumes the deposits ``[deposits_consumed(), deposit_end)`` and owes its exits
(:class:`prover.exchange.flows.Exit`), which :meth:`RollupClient.claim` pays.
:func:`deploy_mock_usdc` and :func:`mint` make a development token.

Docs: docs/settlement.md.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import decode as abi_decode
from eth_utils import keccak

from prover.chain.config import RollupConfig
from prover.chain.contracts import (
    POSEIDON_INPUTS,
    ROLLUP_LIBRARIES,
    compile_mock_usdc,
    compile_rollup,
    compile_rollup_contracts,
    link,
    poseidon_contract,
)
from prover.chain.signer import Signer
from prover.chain.vkey import key_hash
from prover.crypto.babyjub import Point
from prover.errors import ProtocolError, ToolError, ZkmatchError
from prover.exchange import flows
from prover.exchange.constants import INSURANCE_ACCOUNT
from prover.exchange.inbox import Message
from prover.toolchain.solc import CompiledContract

RECEIPT_TIMEOUT = 120
#: Gas limit of a ``submitBatch`` transaction (the pairing precompile needs ~180k; the
#: estimator is not used, see prover/demo.py).
SUBMIT_GAS = 1_000_000
#: The first account index a Rollup gives a new key when the genesis has no trader
#: accounts: the one after the fee account (0) and the insurance fund (1).
FIRST_ACCOUNT = INSURANCE_ACCOUNT + 1
#: The default forced-inclusion delay (seconds): a message or deposit no batch consumed
#: within it lets anyone freeze the Rollup (docs/flows.md).
FORCED_DELAY = 24 * 3600
#: The default seconds per batch an operator is allowed for the queue ahead of an item.
BATCH_INTERVAL = 60
MODE_ACTIVE = 1
MODE_FROZEN = 2


class ChainError(ToolError):
    """The chain cannot be reached, or answered something unusable."""


class RollupRevert(ZkmatchError):
    """The Rollup reverted with one of its custom errors."""

    def __init__(self, reason: str, args: Sequence[Any] = ()) -> None:
        self.reason = reason
        self.args_ = tuple(args)
        shown = ", ".join(map(str, self.args_))
        super().__init__(f"Rollup reverted: {reason}({shown})")


def _hex(value: Any) -> str:
    """A hash as ``0x``-prefixed hex (HexBytes.hex() drops the prefix in newer versions)."""
    text = value.hex() if hasattr(value, "hex") else str(value)
    return text if text.startswith("0x") else "0x" + text


def proof_words(proof: Mapping[str, Any]) -> list[int]:
    """snarkjs's proof as ``submitBatch``'s ``uint256[8]`` (G2 coordinates as (c1, c0))."""
    a, b, c = proof["pi_a"], proof["pi_b"], proof["pi_c"]
    return [
        int(a[0]),
        int(a[1]),
        int(b[0][1]),
        int(b[0][0]),
        int(b[1][1]),
        int(b[1][0]),
        int(c[0]),
        int(c[1]),
    ]


def proof_from_words(words: Sequence[int]) -> dict[str, Any]:
    """The inverse of :func:`proof_words`: snarkjs's ``proof.json`` shape."""
    w = [str(int(x)) for x in words]
    return {
        "pi_a": [w[0], w[1], "1"],
        "pi_b": [[w[3], w[2]], [w[5], w[4]], ["1", "0"]],
        "pi_c": [w[6], w[7], "1"],
        "protocol": "groth16",
        "curve": "bn128",
    }


def exit_words(exits: Sequence[flows.Exit]) -> list[int]:
    """A batch's exits as ``submitBatch``'s ``uint256[]``: ``amount * 2^160 + recipient``."""
    return [x.packed() for x in exits]


def connect(rpc_url: str, timeout: float = 30) -> Any:
    """A web3.py client of ``rpc_url``; :class:`ChainError` naming the URL if it is dead."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 (a real round trip)
    except Exception as exc:  # web3 raises many unrelated types for a dead node
        raise ChainError(f"the chain at {rpc_url} does not answer: {exc}") from exc
    return w3


def _error_table(abi: Sequence[Mapping[str, Any]]) -> dict[bytes, tuple[str, list[str]]]:
    table = {}
    for item in abi:
        if item.get("type") == "error":
            types = [i["type"] for i in item["inputs"]]
            selector = keccak(text=f"{item['name']}({','.join(types)})")[:4]
            table[selector] = (item["name"], types)
    return table


def decode_revert(abi: Sequence[Mapping[str, Any]], data: str | bytes) -> RollupRevert | None:
    """The custom error in revert ``data``, if it is one of ``abi``'s."""
    raw = (
        bytes.fromhex(data[2:] if data.startswith("0x") else data)
        if isinstance(data, str)
        else data
    )
    found = _error_table(abi).get(raw[:4])
    if found is None:
        return None
    name, types = found
    return RollupRevert(name, abi_decode(types, raw[4:]) if types else ())


def _send(
    w3: Any, call: Any, sender: str, abi: Sequence[Mapping[str, Any]], gas: int | None = None
) -> Any:
    """Transact ``call`` from ``sender`` and wait; reverts raise :class:`RollupRevert`.

    The call is simulated first (``eth_call``), so a revert is reported with its reason
    before anything is sent; a transaction that still fails on chain (the state moved in
    between) is replayed at its block to name the reason.
    """
    params: dict[str, Any] = {"from": sender}
    if gas is not None:
        params["gas"] = gas
    _simulate(call, params, abi)
    tx_hash = call.transact(params)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1:
        _simulate(call, params, abi, block=receipt["blockNumber"] - 1)
        raise RollupRevert("transaction failed", [tx_hash.hex()])
    return receipt


def _transact(
    w3: Any,
    call: Any,
    abi: Sequence[Mapping[str, Any]],
    sender: str | None,
    signer: Signer | None,
    gas: int | None = None,
) -> Any:
    """:func:`_send` from ``sender`` (the node signs), or signed here by ``signer``."""
    if signer is None:
        if sender is None:
            raise ZkmatchError("a transaction needs a sender address or a signer")
        return _send(w3, call, sender, abi, gas)
    params: dict[str, Any] = {"from": signer.address}
    if gas is not None:
        params["gas"] = gas
    _simulate(call, params, abi)
    receipt = signer.send(w3, call.build_transaction(params), RECEIPT_TIMEOUT)
    if receipt["status"] != 1:
        _simulate(call, params, abi, block=receipt["blockNumber"] - 1)
        raise RollupRevert("transaction failed", [_hex(receipt["transactionHash"])])
    return receipt


def _simulate(
    call: Any, params: Mapping[str, Any], abi: Sequence[Mapping[str, Any]], block: Any = None
) -> Any:
    """``eth_call`` of ``call``; its result, or :class:`RollupRevert` with the reason."""
    from web3.exceptions import ContractCustomError, ContractLogicError

    try:
        return call.call(dict(params), block_identifier=block or "latest")
    except ContractCustomError as exc:
        data = exc.data if isinstance(exc.data, str) else str(exc.message)
        raise decode_revert(abi, data) or RollupRevert("unknown", [data]) from exc
    except ContractLogicError as exc:
        raise RollupRevert("revert", [str(exc)]) from exc


def _deploy(
    w3: Any, contract: CompiledContract, sender: str, *args: Any, signer: Signer | None = None
) -> str:
    """Deploy ``contract``; a constructor that would revert with a custom error raises
    :class:`RollupRevert` (simulated first) and nothing is sent."""
    from web3.exceptions import ContractCustomError

    factory = w3.eth.contract(abi=contract.abi, bytecode=contract.bytecode)
    try:
        w3.eth.call({"from": sender, "data": factory.constructor(*args).data_in_transaction})
    except ContractCustomError as exc:
        data = exc.data if isinstance(exc.data, str) else str(exc.message)
        raise decode_revert(contract.abi, data) or RollupRevert("unknown", [data]) from exc
    if signer is not None:
        tx = factory.constructor(*args).build_transaction({"from": signer.address})
        receipt = signer.send(w3, tx, RECEIPT_TIMEOUT)
        tx_hash = receipt["transactionHash"]
    else:
        tx_hash = factory.constructor(*args).transact({"from": sender})
        receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=RECEIPT_TIMEOUT)
    if receipt["status"] != 1 or not receipt["contractAddress"]:
        raise ChainError(f"deploying {contract.name} failed (tx {tx_hash.hex()})")
    return str(receipt["contractAddress"])


@dataclass(frozen=True)
class Deployment:
    """Where a rollup lives: addresses, the chain, and the block it was deployed in."""

    chain_id: int
    rollup: str
    verifier: str
    poseidon3: str
    #: poseidon-solidity's libraries the Rollup is linked to (the inbox chain's hashes).
    poseidon_t4: str
    poseidon_t5: str
    #: The collateral token (ERC-20) deposits pull and claims pay.
    token: str
    operator: str
    admin: str
    block: int

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Deployment:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


def deploy(
    w3: Any,
    verifier: CompiledContract,
    vk: Mapping[str, Any],
    config: RollupConfig,
    *,
    genesis_root: int,
    genesis_timestamp: int,
    operator: str,
    admin: str,
    messages_per_batch: int,
    token: str,
    deposits_per_batch: int,
    account_bits: int,
    first_account: int = FIRST_ACCOUNT,
    forced_delay: int = FORCED_DELAY,
    batch_interval: int = BATCH_INTERVAL,
    operator_key: Point | None = None,
    sender: str | None = None,
    signer: Signer | None = None,
) -> Deployment:
    """Deploy the verifier, circomlibjs's Poseidon(3), poseidon-solidity's PoseidonT4 and
    PoseidonT5 libraries, and a Rollup linked to them at the genesis state.

    ``operator_key`` is the operator's Baby Jubjub public key (inbox messages are encrypted
    to it; ``config.operator_key`` unless given), ``messages_per_batch`` the batch circuit's
    entry count E. The Rollup's ``configHash`` binds the key deployed: it equals
    ``config.hash()`` only when that is ``config.operator_key``. ``token`` is the collateral
    ERC-20 (a deployed contract: :func:`deploy_mock_usdc` on a development chain),
    ``deposits_per_batch`` the batch circuit's deposit capacity, ``account_bits`` the
    account tree's depth D, and ``first_account`` the index the first new key gets (past
    the genesis accounts; at least 2), ``forced_delay`` the seconds a message or deposit may
    wait for a batch with nothing ahead of it before anyone may freeze the Rollup, and
    ``batch_interval`` the seconds allowed per full batch of the queue ahead of it
    (docs/flows.md). With ``signer`` the transactions are signed here
    (any node); else the node signs for ``sender`` (default ``admin``; a development node's
    unlocked account)."""
    if operator_key is None:
        operator_key = config.operator_key
    sender = signer.address if signer is not None else (sender or admin)
    verifier_address = _deploy(w3, verifier, sender, signer=signer)
    (p3,) = (_deploy(w3, poseidon_contract(n), sender, signer=signer) for n in POSEIDON_INPUTS)
    contracts = compile_rollup_contracts()
    libraries = {
        name: _deploy(w3, contracts[name], sender, signer=signer) for name in ROLLUP_LIBRARIES
    }
    rollup = link(
        contracts["Rollup"],
        {ROLLUP_LIBRARIES[name]: address for name, address in libraries.items()},
    )
    address = _deploy(
        w3,
        rollup,
        sender,
        verifier_address,
        p3,
        operator,
        admin,
        key_hash(vk),
        (int(genesis_root), int(genesis_timestamp)),
        *config.as_contract_args(),
        (int(operator_key[0]), int(operator_key[1]), int(messages_per_batch)),
        (_checksum(token), int(deposits_per_batch), int(account_bits), int(first_account),
         int(forced_delay), int(batch_interval)),
        signer=signer,
    )
    return Deployment(
        int(w3.eth.chain_id),
        address,
        verifier_address,
        p3,
        libraries["PoseidonT4"],
        libraries["PoseidonT5"],
        _checksum(token),
        operator,
        admin,
        int(w3.eth.block_number),
    )


def _checksum(address: str) -> str:
    from web3 import Web3

    return str(Web3.to_checksum_address(address))


@functools.cache
def _token_abi() -> list[dict[str, Any]]:
    """MockUSDC's ABI with the transfers' and ``approve``'s outputs dropped, so the same
    calls work on a token that returns nothing (USDT-style) and on one that returns a bool:
    what the Rollup itself accepts is decided by the Rollup."""
    out = []
    for item in compile_mock_usdc().abi:
        if item.get("name") in ("approve", "transfer", "transferFrom"):
            item = {**item, "outputs": []}
        out.append(item)
    return out


def deploy_mock_usdc(w3: Any, *, sender: str | None = None, signer: Signer | None = None) -> str:
    """Deploy ``MockUSDC`` (verifier_contracts/MockUSDC.sol: 6 decimals, anyone may mint; a
    development token) from ``sender`` or ``signer``; its address."""
    if signer is None and sender is None:
        raise ZkmatchError("deploying MockUSDC needs a sender address or a signer")
    origin = signer.address if signer is not None else str(sender)
    return _checksum(_deploy(w3, compile_mock_usdc(), origin, signer=signer))


def mint(
    w3: Any,
    token: str,
    to: str,
    amount: int,
    *,
    sender: str | None = None,
    signer: Signer | None = None,
) -> Any:
    """``mint(to, amount)`` on a development token (MockUSDC, or a test token with the same
    function); returns the receipt."""
    contract = w3.eth.contract(address=_checksum(token), abi=_token_abi())
    call = contract.functions.mint(_checksum(to), int(amount))
    return _transact(w3, call, contract.abi, sender, signer)


@dataclass(frozen=True)
class RollupState:
    root: int
    batch_number: int
    last_timestamp: int
    config_hash: int


@dataclass(frozen=True)
class BatchEvent:
    """One ``BatchSubmitted`` event: what a verifier needs for batch ``number``."""

    number: int
    old_root: int
    new_root: int
    previous_timestamp: int
    timestamp: int
    config_hash: int
    #: The inbox messages the batch consumed, ``[inbox_start, inbox_end)``, and the chain
    #: after them (its ``inboxBefore`` is the previous batch's ``inbox_after``; 0 for batch 0).
    inbox_start: int
    inbox_end: int
    inbox_after: int
    #: The deposits the batch consumed, ``[deposit_start, deposit_end)``, and the queue's
    #: chain after them (its ``depositsBefore`` is the previous batch's ``deposits_after``;
    #: 0 for batch 0); the hash the contract computed over its exits.
    deposit_start: int
    deposit_end: int
    deposits_after: int
    exits_hash: int
    proof: tuple[int, ...]
    tx_hash: str
    block: int
    #: The batch's exits in order, from the ``ExitCredited`` events of its transaction
    #: (``flows.exits_hash(exits)`` should be :attr:`exits_hash`: the audit checks it).
    exits: tuple[flows.Exit, ...] = ()
    gas_used: int | None = None


@dataclass(frozen=True)
class InboxEvent:
    """One ``MessageSent`` event: message ``index`` (0-based) and the chain after it."""

    index: int
    message: Message
    chain: int
    block_number: int
    tx_hash: str


@dataclass(frozen=True)
class ConfigEvent:
    config_hash: int
    from_batch: int
    config: RollupConfig
    block: int


class RollupClient:
    """Calls and events of one deployed Rollup."""

    def __init__(self, w3: Any, address: str) -> None:
        self.w3 = w3
        self.abi = compile_rollup().abi
        self.address = address
        self.contract = w3.eth.contract(address=address, abi=self.abi)
        self._token_contract: Any = None

    def state(self) -> RollupState:
        f = self.contract.functions
        return RollupState(
            int(f.stateRoot().call()),
            int(f.batchNumber().call()),
            int(f.lastTimestamp().call()),
            int(f.configHash().call()),
        )

    def config(self) -> RollupConfig:
        """The registered markets, feed key and operator key (``config().hash()`` is the
        Rollup's ``configHash``)."""
        f = self.contract.functions
        return RollupConfig.from_contract(
            (f.feedKeyX().call(), f.feedKeyY().call()), f.markets().call(), self.operator_key()
        )

    def genesis(self) -> tuple[int, int]:
        """``(genesisRoot, genesisTimestamp)``: where the chain of batches starts."""
        f = self.contract.functions
        return int(f.genesisRoot().call()), int(f.genesisTimestamp().call())

    def verifier_address(self) -> str:
        return str(self.contract.functions.verifier().call())

    def verification_key_hash(self) -> bytes:
        return bytes(self.contract.functions.verificationKeyHash().call())

    def next_public_inputs(
        self,
        new_root: int,
        timestamp: int,
        inbox_end: int,
        deposit_end: int,
        exits: Sequence[flows.Exit],
    ) -> list[int]:
        """The nine public inputs ``submitBatch`` would build (``nextPublicInputs``); raises
        :class:`RollupRevert` if the contract refuses ``inbox_end``, ``deposit_end`` or an
        exit (the time is not checked)."""
        call = self.contract.functions.nextPublicInputs(
            new_root, timestamp, inbox_end, deposit_end, exit_words(exits)
        )
        return [int(x) for x in _simulate(call, {}, self.abi)]

    def _submit_call(
        self, new_root: int, timestamp: int, inbox_end: int, deposit_end: int,
        exits: Sequence[flows.Exit], proof: Mapping[str, Any] | Sequence[int],
    ) -> Any:
        words = proof_words(proof) if isinstance(proof, Mapping) else [int(x) for x in proof]
        return self.contract.functions.submitBatch(
            new_root, timestamp, inbox_end, deposit_end, exit_words(exits), words
        )

    def submit_batch(
        self, new_root: int, timestamp: int, inbox_end: int, deposit_end: int,
        exits: Sequence[flows.Exit], proof: Mapping[str, Any] | Sequence[int], sender: str,
    ) -> Any:
        """Send ``submitBatch`` (the batch consumes inbox messages ``[inbox_consumed(),
        inbox_end)`` and deposits ``[deposits_consumed(), deposit_end)``, and owes
        ``exits``); returns the receipt, or raises :class:`RollupRevert`."""
        call = self._submit_call(new_root, timestamp, inbox_end, deposit_end, exits, proof)
        return _send(self.w3, call, sender, self.abi, SUBMIT_GAS)

    def submit_transaction(
        self, new_root: int, timestamp: int, inbox_end: int, deposit_end: int,
        exits: Sequence[flows.Exit], proof: Mapping[str, Any] | Sequence[int], sender: str,
    ) -> dict[str, Any]:
        """The unsigned ``submitBatch`` transaction (for :meth:`Signer.sign`), after an
        ``eth_call`` that raises :class:`RollupRevert` if the contract would refuse it."""
        call = self._submit_call(new_root, timestamp, inbox_end, deposit_end, exits, proof)
        params = {"from": sender, "gas": SUBMIT_GAS}
        _simulate(call, params, self.abi)
        tx: dict[str, Any] = call.build_transaction(params)
        return tx

    def revert_reason(
        self, new_root: int, timestamp: int, inbox_end: int, deposit_end: int,
        exits: Sequence[flows.Exit], proof: Mapping[str, Any] | Sequence[int], sender: str,
        block: int,
    ) -> RollupRevert | None:
        """Why ``submitBatch`` with these arguments failed at ``block`` (a replay), or None."""
        call = self._submit_call(new_root, timestamp, inbox_end, deposit_end, exits, proof)
        try:
            _simulate(call, {"from": sender, "gas": SUBMIT_GAS}, self.abi, block=block)
        except RollupRevert as exc:
            return exc
        return None

    def batch_event(self, number: int, from_block: int = 0) -> BatchEvent | None:
        """The ``BatchSubmitted`` event of batch ``number``, or None."""
        for event in self.batches(from_block):
            if event.number == number:
                return event
        return None

    def register_markets(self, config: RollupConfig, sender: str) -> Any:
        """``registerMarkets`` with ``config``'s markets and feed key. The operator key is the
        deployment's for good: a ``config`` with another one is refused here, since the
        contract would hash in its own and ``config.hash()`` would not be its configHash."""
        if tuple(config.operator_key) != self.operator_key():
            raise ZkmatchError(
                f"the Rollup's operator key is {self.operator_key()}, fixed at deployment; "
                f"the configuration has {tuple(config.operator_key)}"
            )
        call = self.contract.functions.registerMarkets(*config.as_contract_args())
        return _send(self.w3, call, sender, self.abi)

    def batches(self, from_block: int = 0) -> list[BatchEvent]:
        """Every accepted batch, in order, each with its exits (the ``ExitCredited`` events
        of its transaction, in log order)."""
        logs = self.contract.events.BatchSubmitted().get_logs(from_block=from_block)
        exits: dict[tuple[str, int], list[flows.Exit]] = {}
        credited = self.contract.events.ExitCredited().get_logs(from_block=from_block)
        for log in sorted(credited, key=lambda e: (e["blockNumber"], e["logIndex"])):
            a = log["args"]
            key = (_hex(log["transactionHash"]), int(a["batchNumber"]))
            try:
                exit_ = flows.Exit(int(a["recipient"], 16), int(a["amount"]))
            except ProtocolError as exc:  # the contract refuses such exits: a broken node
                raise ChainError(f"an ExitCredited log the Rollup cannot emit: {exc}") from exc
            exits.setdefault(key, []).append(exit_)
        out = []
        for log in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
            a = log["args"]["batch"]
            number = int(log["args"]["batchNumber"])
            tx_hash = _hex(log["transactionHash"])
            out.append(
                BatchEvent(
                    number,
                    int(a["oldRoot"]),
                    int(a["newRoot"]),
                    int(a["previousTimestamp"]),
                    int(a["timestamp"]),
                    int(a["configHash"]),
                    int(a["inboxStart"]),
                    int(a["inboxEnd"]),
                    int(a["inboxAfter"]),
                    int(a["depositStart"]),
                    int(a["depositEnd"]),
                    int(a["depositsAfter"]),
                    int(a["exitsHash"]),
                    tuple(int(x) for x in log["args"]["proof"]),
                    tx_hash,
                    int(log["blockNumber"]),
                    tuple(exits.get((tx_hash, number), ())),
                )
            )
        return out

    # --- the inbox (docs/inbox.md) ------------------------------------------------------

    def operator_key(self) -> tuple[int, int]:
        """The operator's Baby Jubjub public key, the one messages are encrypted to."""
        f = self.contract.functions
        return int(f.operatorKeyX().call()), int(f.operatorKeyY().call())

    def messages_per_batch(self) -> int:
        """The batch circuit's message capacity E (a checkpoint every E messages)."""
        return int(self.contract.functions.messagesPerBatch().call())

    def inbox_count(self) -> int:
        """How many messages the inbox holds."""
        return int(self.contract.functions.inboxCount().call())

    def inbox_head(self) -> int:
        """The inbox chain after the last message (0 when empty)."""
        return int(self.contract.functions.inboxHead().call())

    def inbox_consumed(self) -> int:
        """How many messages the accepted batches consumed (the next batch starts there)."""
        return int(self.contract.functions.inboxConsumed().call())

    def inbox_consumed_chain(self) -> int:
        """The inbox chain after :meth:`inbox_consumed` messages: the next batch's
        ``inboxBefore`` (0 at genesis)."""
        return int(self.contract.functions.inboxConsumedChain().call())

    def chain_at(self, count: int) -> int | None:
        """The inbox chain after ``count`` messages, or None if the contract does not know
        it (known: 0, the current count, and every stored checkpoint)."""
        chain, known = self.contract.functions.inboxChainAt(count).call()
        return int(chain) if known else None

    def send_message(
        self, message: Message, sender: str | None = None, signer: Signer | None = None
    ) -> Any:
        """``sendMessage`` from ``sender`` (the node signs) or signed by ``signer``; returns
        the receipt, or raises :class:`RollupRevert` with the contract's reason."""
        call = self.contract.functions.sendMessage(*message.as_contract_args())
        return _transact(self.w3, call, self.abi, sender, signer)

    def seal_inbox(self, sender: str | None = None, signer: Signer | None = None) -> Any:
        """``sealInbox``: a checkpoint at the current count; returns the receipt."""
        call = self.contract.functions.sealInbox()
        return _transact(self.w3, call, self.abi, sender, signer)

    def messages(self, from_index: int = 0, from_block: int = 0) -> list[InboxEvent]:
        """The inbox messages with index ``>= from_index`` logged from ``from_block`` on, in
        index order; a :class:`ChainError` if the logs skip or repeat an index."""
        logs = self.contract.events.MessageSent().get_logs(from_block=from_block)
        out = []
        for log in logs:
            a = log["args"]
            index = int(a["index"])
            if index < from_index:
                continue
            message = Message(
                (int(a["ephX"]), int(a["ephY"])),
                tuple(int(c) for c in a["ciphertext"]),  # type: ignore[arg-type]
            )
            out.append(
                InboxEvent(
                    index,
                    message,
                    int(a["chain"]),
                    int(log["blockNumber"]),
                    _hex(log["transactionHash"]),
                )
            )
        out.sort(key=lambda e: e.index)
        for before, after in zip(out, out[1:], strict=False):
            if after.index != before.index + 1:
                raise ChainError(
                    f"the Rollup's MessageSent logs go from index {before.index} to "
                    f"{after.index}: the node returned an incomplete log"
                )
        return out

    # --- collateral in and out (docs/settlement.md, "Deposits and exits") ---------------

    def collateral_token(self) -> str:
        """The ERC-20 deposits pull and claims pay."""
        return str(self.contract.functions.collateralToken().call())

    def _token(self) -> Any:
        """The collateral token's contract (immutable in the Rollup: looked up once)."""
        if self._token_contract is None:
            self._token_contract = self.w3.eth.contract(
                address=self.collateral_token(), abi=_token_abi()
            )
        return self._token_contract

    def deposits_per_batch(self) -> int:
        """The most deposits a batch consumes (the batch circuit's deposit capacity)."""
        return int(self.contract.functions.depositsPerBatch().call())

    def account_bits(self) -> int:
        """Account indices are below ``2^account_bits()``."""
        return int(self.contract.functions.accountBits().call())

    def first_account(self) -> int:
        """The index the first new key got (the genesis accounts are below it)."""
        return int(self.contract.functions.firstAccount().call())

    def next_account(self) -> int:
        """The index the next new key gets (``2^account_bits()``: the tree is full)."""
        return int(self.contract.functions.nextAccount().call())

    def account_of(self, key: Sequence[int]) -> int | None:
        """The account index the Rollup gave Baby Jubjub key ``key``, or None."""
        known, index = self.contract.functions.accountOf(int(key[0]), int(key[1])).call()
        return int(index) if known else None

    def deposit_count(self) -> int:
        """How many deposits the queue has taken."""
        return int(self.contract.functions.depositCount().call())

    def deposits_consumed(self) -> int:
        """How many deposits the accepted batches consumed (the next batch starts there)."""
        return int(self.contract.functions.depositsConsumed().call())

    def deposit_chain_at(self, count: int) -> int:
        """The deposit queue's chain after ``count`` deposits (0 for 0, and for a count the
        queue has not reached)."""
        return int(self.contract.functions.depositChainAt(count).call())

    def claimable(self, address: str) -> int:
        """Tokens accepted exits owe ``address``, not claimed yet."""
        return int(self.contract.functions.claimable(_checksum(address)).call())

    def total_claimable(self) -> int:
        """The sum of :meth:`claimable` over every address."""
        return int(self.contract.functions.totalClaimable().call())

    def token_balance(self, address: str) -> int:
        """``address``'s balance of the collateral token (the Rollup's own: its address)."""
        return int(self._token().functions.balanceOf(_checksum(address)).call())

    def approve(
        self, amount: int, sender: str | None = None, signer: Signer | None = None
    ) -> Any:
        """ERC-20 ``approve(rollup, amount)`` on the collateral token, from ``sender`` or
        ``signer``: what :meth:`deposit` needs first. Returns the receipt."""
        token = self._token()
        call = token.functions.approve(self.address, int(amount))
        return _transact(self.w3, call, token.abi, sender, signer)

    def deposit(
        self,
        key: Sequence[int],
        amount: int,
        sender: str | None = None,
        signer: Signer | None = None,
    ) -> Any:
        """``deposit(keyX, keyY, amount)`` from ``sender`` (the node signs) or signed by
        ``signer`` (the depositor, where a refund goes); the Rollup must be approved for
        ``amount`` (:meth:`approve`). Returns the receipt, or raises :class:`RollupRevert`."""
        call = self.contract.functions.deposit(int(key[0]), int(key[1]), int(amount))
        return _transact(self.w3, call, self.abi, sender, signer)

    def approve_and_deposit(
        self,
        key: Sequence[int],
        amount: int,
        sender: str | None = None,
        signer: Signer | None = None,
    ) -> Any:
        """:meth:`approve` then :meth:`deposit`; the deposit's receipt."""
        self.approve(amount, sender, signer)
        return self.deposit(key, amount, sender, signer)

    def claim(
        self, recipient: str, sender: str | None = None, signer: Signer | None = None
    ) -> Any:
        """``claim(recipient)``: pays ``recipient`` what it is owed (anyone may send it; the
        tokens go to ``recipient``). Returns the receipt, or raises :class:`RollupRevert`
        (``Rollup__NothingToClaim`` when nothing is owed)."""
        call = self.contract.functions.claim(_checksum(recipient))
        return _transact(self.w3, call, self.abi, sender, signer)

    # --- forced inclusion and the frozen mode (docs/flows.md) ----------------------------

    def mode(self) -> int:
        """``MODE_ACTIVE`` (1) or ``MODE_FROZEN`` (2)."""
        return int(self.contract.functions.mode().call())

    def forced_delay(self) -> int:
        return int(self.contract.functions.forcedDelay().call())

    def batch_interval(self) -> int:
        return int(self.contract.functions.batchInterval().call())

    def message_deadline(self, index: int) -> int:
        """By when a batch must consume inbox message ``index`` (0 if none)."""
        return int(self.contract.functions.messageDeadline(index).call())

    def deposit_deadline(self, number: int) -> int:
        """By when a batch must consume deposit ``number`` (0 if none)."""
        return int(self.contract.functions.depositDeadline(number).call())

    def overdue(self) -> bool:
        """A message or deposit waited past the forced delay: anyone may freeze."""
        return bool(self.contract.functions.overdue().call())

    def freeze(self, sender: str | None = None, signer: Signer | None = None) -> Any:
        """``freeze()`` (anyone; raises :class:`RollupRevert` ``Rollup__NotOverdue`` before
        the deadline)."""
        call = self.contract.functions.freeze()
        return _transact(self.w3, call, self.abi, sender, signer)

    def refund_deposit(
        self, deposit: flows.Deposit, sender: str | None = None, signer: Signer | None = None
    ) -> Any:
        """``refundDeposit`` (frozen mode): ``deposit``'s amount becomes claimable by its
        depositor, once; anyone may send it."""
        call = self.contract.functions.refundDeposit(
            deposit.number, int(deposit.key[0]), int(deposit.key[1]), deposit.account,
            deposit.amount, _checksum("0x" + format(deposit.depositor, "040x")),
        )
        return _transact(self.w3, call, self.abi, sender, signer)

    def deposit_refunded(self, number: int) -> bool:
        return bool(self.contract.functions.depositRefunded(number).call())

    def deposits(self, from_number: int = 0, from_block: int = 0) -> list[flows.Deposit]:
        """The queue's deposits numbered ``>= from_number`` logged from ``from_block`` on,
        in order. Each event's chain is checked against :func:`flows.deposit_chain` from
        the stored chain at ``from_number``: a gap, a repeat or another chain is a
        :class:`ChainError`."""
        logs = self.contract.events.Deposited().get_logs(from_block=from_block)
        events = sorted(
            (log for log in logs if int(log["args"]["number"]) >= from_number),
            key=lambda log: int(log["args"]["number"]),
        )
        chain = self.deposit_chain_at(from_number) if events else 0
        out: list[flows.Deposit] = []
        for expected, log in enumerate(events, start=from_number):
            a = log["args"]
            number = int(a["number"])
            if number != expected:
                raise ChainError(
                    f"the Rollup's Deposited logs give deposit {number} where {expected} "
                    "belongs: the node returned an incomplete log"
                )
            try:
                made = flows.Deposit(
                    number,
                    int(a["account"]),
                    (int(a["keyX"]), int(a["keyY"])),
                    int(a["amount"]),
                    int(a["depositor"], 16),
                )
            except ProtocolError as exc:
                raise ChainError(f"deposit {number}: a log the Rollup cannot emit: {exc}") from exc
            chain = made.chain_step(chain)
            if chain != int(a["chain"]):
                raise ChainError(
                    f"deposit {number}: the Rollup logged the chain {int(a['chain'])}, the "
                    f"deposits hash to {chain}"
                )
            out.append(made)
        return out

    def configs(self, from_block: int = 0) -> list[ConfigEvent]:
        """Every configuration registered (the deployment's first), in order."""
        logs = self.contract.events.ConfigRegistered().get_logs(from_block=from_block)
        operator_key = self.operator_key()  # immutable: the same in every configuration
        out = []
        for log in sorted(logs, key=lambda e: (e["blockNumber"], e["logIndex"])):
            a = log["args"]
            config = RollupConfig.from_contract(
                (a["feedKeyX"], a["feedKeyY"]), a["markets"], operator_key
            )
            out.append(
                ConfigEvent(
                    int(a["configHash"]), int(a["fromBatch"]), config, int(log["blockNumber"])
                )
            )
        return out


__all__ = [
    "FIRST_ACCOUNT",
    "BatchEvent",
    "ChainError",
    "ConfigEvent",
    "Deployment",
    "InboxEvent",
    "RollupClient",
    "RollupRevert",
    "RollupState",
    "connect",
    "decode_revert",
    "deploy",
    "deploy_mock_usdc",
    "exit_words",
    "mint",
    "proof_from_words",
    "proof_words",
]
