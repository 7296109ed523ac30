"""The operator's batch loop: inbox messages -> matched -> proven -> sent -> confirmed.

:class:`Operator` works on one data folder (prover/operator/data.py) and one chain. Every
call starts with :meth:`Operator.reconcile`, which compares the store with the Rollup's
root and batch number before anything else and brings them back in step:

- chain and store agree: nothing to do (an unconfirmed batch in the store resumes at
  its recorded step);
- the chain holds one batch more, and it is the store's batch in flight (same number,
  same new root: the operator died after sending): it is recorded as confirmed, with the
  transaction hash from the chain's event;
- the chain is behind the store (a node restarted from an older saved state): the
  store's confirmed batches are sent again, in order, from their recorded proofs;
- anything else (a root the store did not make): :class:`OutOfStep`, and nothing moves.

A batch in flight then moves on from its step: ``matched`` is proven (a proof that fails
abandons the batch, and its messages are pending again), ``proven`` is signed and
recorded as ``sent`` *before* it is broadcast, ``sent`` is looked up by its hash (mined:
confirmed; unknown: broadcast again, the same signed bytes; failed: signed anew). The
Rollup itself refuses a second submission of a batch (its old root and number moved on),
so no crash can make a batch count twice. A confirmed batch's receipts (one per account it
touched, prover/operator/receipts.py) are written after the confirmation, and again by
:meth:`Operator.reconcile` for the last confirmed batch if any is missing.

Crash points (:func:`crashpoint`) let the tests kill the process with SIGKILL at each
step boundary (``ZKMATCH_CRASHPOINT=after_match`` and so on; docs/operator.md).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from prover.chain.rollup import RollupClient, RollupRevert, connect
from prover.chain.signer import Signer
from prover.chain.vkey import key_hash
from prover.crypto import babyjub
from prover.crypto.eddsa import load_key_file
from prover.errors import ProtocolError, StoreError, ToolError, ZkmatchError
from prover.exchange import inbox
from prover.exchange.domain import BatchFull, Entry, PriceSet, SignedOrder
from prover.exchange.engine import BatchReport, Engine, Outcome
from prover.exchange.flows import Deposit, Exit
from prover.feed import for_batch
from prover.operator import receipts as receipt_files
from prover.operator.data import DataDir
from prover.operator.store import (
    STEP_CONFIRMED,
    STEP_MATCHED,
    STEP_PROVEN,
    STEP_SENT,
    Store,
)
from prover.proving.backends import ProverBackend, backend
from prover.proving.batch_circuit import PUBLIC_INPUTS, circuit_inputs, without_secrets
from prover.proving.batches import config_spec, default_workers, load_scenario
from prover.proving.circuit import (
    Artifacts,
    ProofResult,
    WitnessGenerator,
    build,
    prove,
    witness_generator,
)
from prover.proving.distributed import RayProvers
from prover.toolchain.common import Progress
from prover.verifier.groth16 import Proof, VerificationKey, verify

#: Crash points, in the order a batch passes them (docs/operator.md, "Crash safety").
CRASHPOINTS = (
    "after_match",  # matched and recorded; not proven
    "before_record_proven",  # proof made, not recorded (a kill during proving)
    "after_prove",  # proof recorded; nothing signed
    "after_record_sent",  # signed and recorded as sent; not broadcast
    "after_broadcast",  # broadcast (mined on a dev chain); confirmation not recorded
    "after_confirm",  # confirmed and applied; receipts not written
)
RECEIPT_TIMEOUT = 120


def crashpoint(name: str) -> None:
    """SIGKILL this process if ``ZKMATCH_CRASHPOINT`` names ``name`` (tests only)."""
    wanted = os.environ.get("ZKMATCH_CRASHPOINT", "")
    if wanted and name in wanted.split(","):
        os.kill(os.getpid(), signal.SIGKILL)


class OutOfStep(ZkmatchError):
    """The chain holds a state the store did not make (or lost one it cannot restore)."""


class SubmitError(ZkmatchError):
    """The Rollup refused a batch; the batch stays proven (or is abandoned), nothing lost."""


class _Sealed(Exception):
    """The engine wanted a second batch: this call makes one."""


@dataclass
class BatchRun:
    """What one batch went through in this call (``resumed``: it was started earlier)."""

    number: int
    old_root: int
    new_root: int
    timestamp: int
    entries: int
    fills: int
    messages: int
    step: str
    tx_hash: str | None = None
    gas_used: int | None = None
    block: int | None = None
    resumed: bool = False
    timings: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "batch_number": self.number,
            "old_root": str(self.old_root),
            "new_root": str(self.new_root),
            "timestamp": self.timestamp,
            "entries": self.entries,
            "fills": self.fills,
            "messages": self.messages,
            "step": self.step,
            "tx_hash": self.tx_hash,
            "gas_used": self.gas_used,
            "block": self.block,
            "resumed": self.resumed,
            "timings": dict(self.timings),
        }


def outcome_json(outcome: Outcome) -> dict[str, Any]:
    """An inbox message's outcome, as the store keeps it."""
    return {
        "accepted": outcome.accepted,
        "batch": outcome.batch_number,
        "filled": outcome.filled,
        "fills": len(outcome.fills),
        "rested": outcome.rested,
        "cancelled": outcome.cancelled.to_json() if outcome.cancelled is not None else None,
        "rejections": [r.to_json() for r in outcome.rejections],
        **({"withdrawal": outcome.withdrawal} if outcome.withdrawal is not None else {}),
    }


def _inbox_end(row: dict[str, Any]) -> int:
    """Where a recorded batch's inbox range ends (its state's consumed count)."""
    return int(json.loads(row["delta"])["inbox_count"])


def _submit_args(row: dict[str, Any]) -> tuple[int, int, int, int, list[Exit]]:
    """``submitBatch``'s arguments besides the proof, from a recorded batch: new root,
    timestamp, inbox end, deposit end (the queue's consumed count after it) and exits."""
    delta = json.loads(row["delta"])
    return (
        int(row["new_root"]),
        int(row["timestamp"]),
        int(delta["inbox_count"]),
        int(delta.get("deposit_count", 0)),
        [Exit.from_json(x) for x in delta.get("exits", ())],
    )


def validate_entries(store: Store, entries: Sequence[Entry]) -> None:
    """Refuse (:class:`ProtocolError`, naming the message) any entry whose account does not
    exist, whose signature is not the account key's, or whose order breaks a protocol
    rule (market, tick, size, fee cap); checked against the confirmed state."""
    state = store.load_state()
    for i, entry in enumerate(entries):
        kind = "order" if isinstance(entry, SignedOrder) else "cancel"
        where = f"message {i} ({kind} {entry.account}/{entry.order_id})"
        if not state.exists(entry.account):
            raise ProtocolError(f"{where}: unknown account {entry.account}")
        if not entry.verify(state.account(entry.account).pubkey):
            raise ProtocolError(f"{where}: the signature is not account {entry.account}'s")
        try:
            if isinstance(entry, SignedOrder):
                entry.order.check()
                entry.order.check_market(state.markets)
            else:
                entry.cancel.check()
        except ProtocolError as exc:
            raise ProtocolError(f"{where}: {exc}") from exc


class Operator:
    """One operator: its data folder, store, chain client and signing key."""

    def __init__(
        self,
        data: DataDir,
        rpc_url: str,
        *,
        progress: Progress | None = None,
        witness: str | None = None,
        ptau: Path | None = None,
        prover: str | None = None,
        workers: int | None = None,
        ray: str | None = None,
    ) -> None:
        self.data = data
        self.deployment = data.read_deployment()
        self.progress = progress
        self._witness_choice = witness
        self._ptau = ptau
        self._engine: ProverBackend = backend(prover)
        self._prover_choice = prover
        self._ray_address = ray
        self._ray: RayProvers | None = None
        #: Batches :meth:`run` proves at once (1: one at a time, as :meth:`batch`).
        self.workers = workers or default_workers(self._engine.name)
        #: Batches whose proof came from :meth:`run`'s proving ahead (tests read it).
        self.ahead_used: list[int] = []
        self.store = Store.open(data.store)
        self.signer = Signer.load(data.operator_key)
        self.w3 = connect(rpc_url)
        self.rpc_url = rpc_url
        self._check_chain()
        self.client = RollupClient(self.w3, self.deployment["rollup"])
        self._artifacts: Artifacts | None = None
        self._generator: WitnessGenerator | None = None
        self._vk: VerificationKey | None = None
        self._submit_s: float | None = None
        self._inbox_secret: int | None = None
        self._messages_per_batch: int | None = None

    def close(self) -> None:
        if self._ray is not None:
            self._ray.close()
            self._ray = None
        self.store.close()

    def remote(self) -> RayProvers | None:
        """The Ray cluster proving for this operator (``ray`` given), connected on first use."""
        if self._ray_address is not None and self._ray is None:
            self._ray = RayProvers(self._ray_address, self.artifacts(),
                                   prover=self._prover_choice, progress=self.progress)
            if self.workers <= 1:
                self.workers = self._ray.cpus
        return self._ray

    def __enter__(self) -> Operator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _say(self, message: str) -> None:
        if self.progress:
            self.progress(message)

    def _check_chain(self) -> None:
        chain_id = int(self.w3.eth.chain_id)
        if chain_id != int(self.deployment["chain_id"]):
            raise OutOfStep(
                f"the chain at {self.rpc_url} has chain id {chain_id}; the Rollup in "
                f"{self.data.deployment} was deployed on chain {self.deployment['chain_id']}"
            )
        if not self.w3.eth.get_code(self.deployment["rollup"]):
            raise OutOfStep(
                f"no contract at {self.deployment['rollup']} on {self.rpc_url}: this is not "
                f"the chain {self.data.root} was deployed on (its saved state "
                f"{self.data.anvil_state} may be gone)"
            )

    # --- the proving key ----------------------------------------------------------------

    def artifacts(self) -> Artifacts:
        """The batch circuit (cached build) with the deployed zkey and verification key."""
        if self._artifacts is None:
            built = build(config_spec(self.store.config), self._ptau, self.progress)
            artifacts = replace(built, zkey=self.data.zkey, vkey=self.data.vkey)
            want = str(self.deployment["verification_key_hash"])
            have = "0x" + key_hash(artifacts.verification_key()).hex()
            if have != want:
                raise OutOfStep(
                    f"{self.data.vkey} hashes to {have}, the Rollup was deployed with {want}"
                )
            self._artifacts = artifacts
            self._vk = VerificationKey.from_json(artifacts.verification_key())
        return self._artifacts

    # --- reconcile ----------------------------------------------------------------------

    def reconcile(self) -> list[str]:
        """Bring store and chain in step (module docstring), then write the last confirmed
        batch's receipts if any is missing (a kill between confirming and writing them);
        what was done, as lines."""
        done = self._reconcile_chain()
        written = self.write_receipts()
        if written:
            done.append(f"batch {self.store.next_batch - 1}: {len(written)} receipt files "
                        f"written to {self.data.receipts}")
            self._say(done[-1])
        return done

    def _reconcile_chain(self) -> list[str]:
        done: list[str] = []
        chain = self.client.state()
        store = self.store
        confirmed = store.next_batch
        flight = store.in_flight()
        if chain.batch_number == confirmed:
            if chain.root != store.root:
                raise OutOfStep(
                    f"the Rollup at {self.client.address} holds root {chain.root} after "
                    f"{chain.batch_number} batches; the store {store.path} holds {store.root}"
                )
            return done
        caught_up = flight is not None and flight["number"] == confirmed
        if chain.batch_number == confirmed + 1 and flight is not None and caught_up:
            event = self.client.batch_event(confirmed, int(self.deployment["block"]))
            if event is None or event.new_root != int(flight["new_root"]):
                raise OutOfStep(
                    f"the Rollup accepted a batch {confirmed} that is not the store's "
                    f"(chain new root {event.new_root if event else '?'}, store "
                    f"{flight['new_root']})"
                )
            receipt = self.w3.eth.get_transaction_receipt(event.tx_hash)
            store.confirm(confirmed, event.tx_hash, event.block, int(receipt["gasUsed"]))
            done.append(f"batch {confirmed}: found accepted on chain (tx {event.tx_hash}); "
                        "recorded as confirmed")
            self._say(done[-1])
            return done
        if chain.batch_number < confirmed:
            for n in range(chain.batch_number, confirmed):
                row = store.batch(n)
                state = self.client.state()
                if row is None or row["step"] != STEP_CONFIRMED or row["proof"] is None:
                    raise OutOfStep(f"the chain lost batch {n} and the store cannot resend it")
                if state.root != int(row["old_root"]) or state.batch_number != n:
                    raise OutOfStep(
                        f"the chain is at batch {state.batch_number}, root {state.root}; the "
                        f"store's batch {n} starts from {row['old_root']}"
                    )
                tx_hash, block, gas = self._send_and_wait(row)
                store.confirm_again(n, tx_hash, block, gas)
                resent = store.batch(n)
                assert resent is not None
                receipt_files.retarget_receipts(self.data.receipts, resent)
                done.append(f"batch {n}: the chain had lost it; sent again (tx {tx_hash})")
                self._say(done[-1])
            return done
        raise OutOfStep(
            f"the Rollup at {self.client.address} is at batch {chain.batch_number}; the "
            f"store {store.path} has confirmed {confirmed}"
            + (f" and has batch {flight['number']} in flight" if flight else "")
            + ": they did not come from one operator"
        )

    # --- steps ----------------------------------------------------------------------------

    def _run_from_row(self, row: dict[str, Any], resumed: bool) -> BatchRun:
        timings = json.loads(row["timings"]) if row["timings"] else {}
        return BatchRun(
            number=int(row["number"]),
            old_root=int(row["old_root"]),
            new_root=int(row["new_root"]),
            timestamp=int(row["timestamp"]),
            entries=int(json.loads(row["delta"]).get("entries", 0)),
            fills=len(json.loads(row["fills"])),
            messages=len(json.loads(row["messages"])),
            step=str(row["step"]),
            tx_hash=row["tx_hash"],
            gas_used=row["gas_used"],
            block=row["block"],
            resumed=resumed,
            timings=timings,
        )

    # --- the inbox -------------------------------------------------------------------

    @property
    def inbox_secret(self) -> int:
        """The operator's inbox scalar (``keys/operator-babyjub.key``), checked against the
        venue's registered key by the batch builder."""
        if self._inbox_secret is None:
            path = self.data.operator_babyjub_key
            try:
                self._inbox_secret = load_key_file(path).scalar
            except (OSError, ValueError) as exc:
                raise ZkmatchError(
                    f"{path}: the operator's inbox key cannot be read ({exc})"
                ) from exc
        return self._inbox_secret

    def post_entries(
        self, entries: Sequence[Entry], sender: Callable[[Entry], str | None] | None = None
    ) -> list[int]:
        """Encrypt signed orders and cancels to the operator's inbox key (each with a fresh
        ephemeral key) and send them to the Rollup's inbox, in order (``sendMessage``:
        anyone may send; a trader uses ``zkmatch trader order``): from ``sender(entry)``, a
        node account, where it gives one, else from the operator's account. For the demo
        and the tests; returns the messages' inbox indices."""
        key = babyjub.mul_base8(self.inbox_secret)
        indices = []
        for entry in entries:
            index = self.client.inbox_count()
            message = inbox.encrypt_entry(entry, key)
            account = sender(entry) if sender is not None else None
            if account is not None:
                self.client.send_message(message, sender=account)
            else:
                self.client.send_message(message, signer=self.signer)
            indices.append(index)
        return indices

    def sync_inbox(self) -> int:
        """Read the Rollup's new ``MessageSent`` events into the store (its cursor is the
        number of messages it holds: a crash loses nothing, a re-read is checked equal);
        returns how many messages the store holds."""
        have = self.store.inbox_length()
        events = self.client.messages(from_index=have)
        return self.store.add_inbox(
            [(e.index, e.message, e.chain, e.block_number) for e in events]
        )

    def _per_batch(self) -> int:
        if self._messages_per_batch is None:
            self._messages_per_batch = self.client.messages_per_batch()
            if self._messages_per_batch > self.store.config.range_limit:
                raise ZkmatchError(
                    f"the Rollup takes {self._messages_per_batch} messages per batch, the "
                    f"batch circuit at most {self.store.config.range_limit} (its message "
                    "slots; with the committed book (K - 2) / (F + 1), so that every range "
                    "fits)"
                )
        return self._messages_per_batch

    def inbox_range(self, start: int, available: int) -> int:
        """Where a batch that starts at message ``start`` ends (exclusive): the next
        multiple of the Rollup's ``messagesPerBatch`` (a stored checkpoint), or every
        message read so far if that comes first (sealed on chain before the batch is sent,
        so the Rollup knows the chain there)."""
        per_batch = self._per_batch()
        return min(available, (start // per_batch + 1) * per_batch)

    def pending_messages(self) -> int:
        """Inbox messages on chain that no batch has consumed yet (after a sync)."""
        available = self.sync_inbox()
        return available - self.store.load_state().inbox_count

    def _seal_if_needed(self, end: int) -> None:
        """Make the Rollup store the chain at ``end`` (``sealInbox``) unless it knows it."""
        if self.client.chain_at(end) is not None:
            return
        if self.client.inbox_count() != end:
            raise ToolError(f"the inbox moved past message {end} before it was sealed; retry")
        self.client.seal_inbox(signer=self.signer)
        if self.client.chain_at(end) is None:
            raise ToolError(f"sealInbox did not store the inbox chain at {end}; retry")

    def pending_work(self) -> int:
        """Inbox messages plus queued deposits no batch has consumed yet (after a sync)."""
        return self.pending_messages() + len(self.pending_deposits())

    def pending_deposits(self) -> list[Deposit]:
        """The Rollup's queued deposits no batch has consumed yet, in order (read from its
        ``Deposited`` events, each checked against the queue's chain by the client)."""
        if not self.store.config.book:
            return []
        return self.client.deposits(from_number=self.store.load_state().deposit_count)

    def _choices(
        self, deposits: int, messages: int, first_deposit: int, first_message: int
    ) -> list[tuple[int, int]]:
        """What the next batch may take, in the order to try (the operator's policy,
        docs/flows.md): up to ``P`` deposits with the whole inbox range; if they do not fit
        its account slots together (:class:`BatchFull` when matched), the queue whose first
        item's deadline comes first alone (the Rollup refuses a batch that leaves an
        overdue item out)."""
        deposits = min(deposits, self.store.config.deposits)
        if not deposits or not messages:
            return [(deposits, messages)]
        deposit_due = self.client.deposit_deadline(first_deposit)
        message_due = self.client.message_deadline(first_message)
        alone = (deposits, 0) if deposit_due <= message_due else (0, messages)
        return [(deposits, messages), alone]

    def match(self, prices: PriceSet) -> int | None:
        """Take the next deposits and inbox range into a new batch at ``prices`` (matched,
        recorded); the batch number, or None if no deposit and no message is waiting."""
        store = self.store
        if store.in_flight() is not None:
            raise StoreError(f"{store.path}: a batch is in flight; finish it first")
        available = self.sync_inbox()
        state = store.load_state()
        first_message = state.inbox_count
        end = self.inbox_range(first_message, available)
        number = store.next_batch
        queued = self.pending_deposits()
        if end == first_message and not queued:
            return None
        if end != first_message:
            self._seal_if_needed(end)
        start = time.monotonic()
        first = for_batch(prices, number)

        def provider(n: int) -> PriceSet:
            if n == number:
                return first
            raise _Sealed

        sealed: list[tuple[BatchReport, list[Any]]] = []

        def on_seal(report: BatchReport, engine: Engine) -> None:
            book = [(o, e.filled, e.seq) for o, e in engine.resting_orders()]
            sealed.append((report, book))

        choices = self._choices(len(queued), end - first_message, state.deposit_count,
                                first_message)
        for k, (n_deposits, n_messages) in enumerate(choices):
            engine = store.engine(provider, on_seal=on_seal, operator_secret=self.inbox_secret)
            try:
                _report, outcomes = engine.submit_inbox(
                    store.inbox(first_message, first_message + n_messages),
                    queued[:n_deposits],
                )
                break
            except BatchFull:
                if k + 1 == len(choices):
                    raise
        end = first_message + n_messages
        report, book = sealed[0]
        match_s = time.monotonic() - start
        store.record_matched(
            report, book, [{"index": o.message, **outcome_json(o)} for o in outcomes],
            timings={"match": match_s},
        )
        valid = sum(1 for o in outcomes if o.accepted)
        taken = report.result.witness.deposits
        refunds = sum(1 for _, o in taken if o.value == "refunded")
        paid = sum(1 for o in outcomes if o.withdrawal is not None and o.withdrawal["paid"])
        self._say(
            f"batch {number}: inbox messages {first_message}..{end - 1} ({valid} valid, "
            f"{len(outcomes) - valid} no-ops), {len(report.result.fills)} fills, "
            f"{len(taken)} deposits ({refunds} refunded), {paid} withdrawals paid, "
            f"{len(report.result.witness.exits)} exits ({match_s:.2f} s)"
        )
        crashpoint("after_match")
        return number

    def _generator_for(self, artifacts: Artifacts) -> WitnessGenerator:
        if self._generator is None:
            self._generator = witness_generator(artifacts, self._witness_choice, self.progress)
        return self._generator

    def _make_proof(
        self, number: int, inputs: dict[str, Any], progress: Progress | None
    ) -> tuple[ProofResult, dict[str, float]]:
        """Witness, proof, public signals checked against ``inputs``, proof verified (pure
        of the store: :meth:`run` calls it from worker threads). Raises ToolError."""
        artifacts = self.artifacts()
        generator = self._generator_for(artifacts)
        self.data.work.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f"batch-{number}-", dir=self.data.work))
        try:
            if self._ray is not None:
                job = self._ray.submit(inputs).result()
                result = ProofResult(job["proof"], [str(v) for v in job["public"]],
                                     dict(job["timings"]), prover=str(job["prover"]))
                self._say(f"batch {number}: proven on {job['worker']}")
            else:
                result = prove(artifacts, inputs, progress, work_dir=work, witness=generator,
                               prover=self._engine)
            expected = [str(inputs[k]) for k in PUBLIC_INPUTS]
            if list(result.public) != expected:
                raise ToolError(f"batch {number}: public signals {result.public} are not "
                                f"the batch's {expected}")
            start = time.monotonic()
            assert self._vk is not None
            ok = verify(self._vk, Proof.from_json(result.proof), [int(x) for x in result.public])
            verify_s = time.monotonic() - start
            if not ok:
                raise ToolError(f"batch {number}: the proof does not verify")
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return result, {**result.timings, "verify": verify_s}

    def prove(self, number: int, made: Future[Any] | None = None) -> None:
        """matched -> proven. A proof that cannot be made abandons the batch (its messages
        are pending again) and raises. ``made``: the proof already being made (by
        :meth:`run`, for exactly this batch's witness)."""
        row = self.store.batch(number)
        assert row is not None and row["step"] == STEP_MATCHED
        self.remote()
        start = time.monotonic()
        recorded = json.loads(row["witness"])
        inputs = circuit_inputs({**recorded, "operatorSecret": str(self.inbox_secret)})
        inputs_s = time.monotonic() - start
        try:
            if made is None:
                self._say(f"batch {number}: proving with {self.artifacts().spec.name} "
                          f"({self._engine.name})")
                result, timings = self._make_proof(number, inputs, self.progress)
            else:
                result, timings = made.result()
        except (ToolError, ProtocolError) as exc:
            seqs = self.store.abandon(number)
            raise ToolError(
                f"batch {number}: proving failed ({exc}); the batch is dropped and its "
                f"{len(seqs)} messages are pending again"
            ) from exc
        crashpoint("before_record_proven")
        timings = {"witness_inputs": inputs_s, **timings}
        self.store.record_proven(number, result.proof, result.public, timings)
        self._say(f"batch {number}: proven (witness {timings.get('witness', 0):.2f} s, "
                  f"prove {timings.get('prove', 0):.2f} s, {result.prover})")
        crashpoint("after_prove")

    def _send_and_wait(self, row: dict[str, Any]) -> tuple[str, int, int]:
        """Sign and send ``row``'s proof without recording (a resend); hash, block, gas."""
        tx = self.client.submit_transaction(
            *_submit_args(row), json.loads(row["proof"]), self.signer.address,
        )
        signed = self.signer.sign(self.w3, tx)
        self.w3.eth.send_raw_transaction(signed.raw)
        receipt = self.w3.eth.wait_for_transaction_receipt(signed.tx_hash,
                                                           timeout=RECEIPT_TIMEOUT)
        if receipt["status"] != 1:
            raise SubmitError(f"batch {row['number']}: resend failed (tx {signed.tx_hash})")
        return signed.tx_hash, int(receipt["blockNumber"]), int(receipt["gasUsed"])

    def send(self, number: int) -> None:
        """proven -> sent: sign, record, broadcast (then :meth:`await_confirmation`)."""
        row = self.store.batch(number)
        assert row is not None and row["step"] == STEP_PROVEN
        start = time.monotonic()
        try:
            tx = self.client.submit_transaction(
                *_submit_args(row), json.loads(row["proof"]), self.signer.address,
            )
        except RollupRevert as exc:
            if exc.reason == "Rollup__Frozen":
                raise SubmitError(
                    f"batch {number}: the Rollup is frozen (a message or deposit waited past "
                    "its forced delay, docs/flows.md): it accepts no batch any more"
                ) from exc
            if exc.reason in (
                "Rollup__InvalidProof",
                "Rollup__TimestampNotAfterLast",
                # The inbox range no longer fits the Rollup (another batch took it, or the
                # chain at its end is unknown): the proof can never be accepted.
                "Rollup__InboxEndBeforeConsumed",
                "Rollup__InboxChainUnknown",
                "Rollup__DepositEndBeforeConsumed",
                # It leaves an overdue message or deposit out: re-matched, it takes them.
                "Rollup__OverdueLeftOut",
            ):
                seqs = self.store.abandon(number)
                raise SubmitError(
                    f"batch {number}: the Rollup refuses it ({exc}); the batch is dropped "
                    f"and its {len(seqs)} messages are pending again"
                ) from exc
            raise SubmitError(
                f"batch {number}: the Rollup refuses it for now ({exc}); it stays proven and "
                "is sent again on the next call"
            ) from exc
        signed = self.signer.sign(self.w3, tx)
        self.store.record_sent(number, signed.tx_hash, signed.raw, signed.nonce)
        crashpoint("after_record_sent")
        self._broadcast(signed.raw)
        self._say(f"batch {number}: sent (tx {signed.tx_hash})")
        self._submit_s = time.monotonic() - start
        crashpoint("after_broadcast")

    def _broadcast(self, raw: bytes) -> None:
        try:
            self.w3.eth.send_raw_transaction(raw)
        except Exception as exc:  # noqa: BLE001 - nodes word "already known" differently
            text = str(exc).lower()
            if "already known" in text or "already imported" in text:
                return
            raise

    def await_confirmation(self, number: int) -> None:
        """sent -> confirmed (or back to proven if the transaction failed or vanished)."""
        from web3.exceptions import TransactionNotFound

        row = self.store.batch(number)
        assert row is not None and row["step"] == STEP_SENT
        tx_hash = str(row["tx_hash"])
        start = time.monotonic()
        try:
            receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        except TransactionNotFound:
            receipt = None
        if receipt is None:
            known = True
            try:
                self.w3.eth.get_transaction(tx_hash)
            except TransactionNotFound:
                known = False
            if not known:
                try:
                    self._broadcast(bytes.fromhex(row["raw_tx"]))
                    self._say(f"batch {number}: tx {tx_hash} was not on chain; broadcast again")
                except Exception as exc:  # noqa: BLE001 - e.g. nonce too low: sign anew
                    self.store.unsend(number)
                    raise SubmitError(
                        f"batch {number}: tx {tx_hash} cannot be broadcast again ({exc}); it "
                        "will be signed anew"
                    ) from exc
            try:
                receipt = self.w3.eth.wait_for_transaction_receipt(
                    tx_hash, timeout=RECEIPT_TIMEOUT
                )
            except Exception as exc:  # noqa: BLE001 - web3's TimeExhausted and friends
                raise SubmitError(
                    f"batch {number}: tx {tx_hash} not mined within {RECEIPT_TIMEOUT} s; "
                    "it stays sent and is looked up again on the next call"
                ) from exc
        if receipt["status"] != 1:
            reason = self.client.revert_reason(
                *_submit_args(row), json.loads(row["proof"]), self.signer.address,
                int(receipt["blockNumber"]) - 1,
            )
            self.store.unsend(number)
            raise SubmitError(f"batch {number}: tx {tx_hash} failed on chain "
                              f"({reason or 'no reason'}); the batch stays proven")
        confirm_s = time.monotonic() - start
        timings = {"confirm": confirm_s}
        if self._submit_s is not None:
            timings["submit"] = self._submit_s
            self._submit_s = None
        self.store.confirm(number, tx_hash, int(receipt["blockNumber"]),
                           int(receipt["gasUsed"]), timings)
        self._say(f"batch {number}: confirmed in block {receipt['blockNumber']} "
                  f"(gas {receipt['gasUsed']})")
        crashpoint("after_confirm")
        self.write_receipts(number)

    def finish(self, made: Future[Any] | None = None) -> BatchRun | None:
        """Drive the batch in flight (if any) to confirmed; what it went through. ``made``:
        its proof, already being made (:meth:`prove`)."""
        row = self.store.in_flight()
        if row is None:
            return None
        number = int(row["number"])
        if row["step"] == STEP_MATCHED:
            self.prove(number, made)
        if self.store.batch(number)["step"] == STEP_PROVEN:  # type: ignore[index]
            self.send(number)
        if self.store.batch(number)["step"] == STEP_SENT:  # type: ignore[index]
            self.await_confirmation(number)
        done = self.store.batch(number)
        assert done is not None
        return self._run_from_row(done, resumed=False)

    def batch(self, prices: PriceSet | None) -> list[BatchRun]:
        """``zkmatch batch``: reconcile, finish a batch left in flight, then (with
        ``prices``) match the next inbox range into a new batch and take it to confirmed."""
        self.reconcile()
        runs: list[BatchRun] = []
        flight = self.store.in_flight()
        if flight is not None:
            self._say(f"batch {flight['number']}: resuming at step {flight['step']}")
            run = self.finish()
            if run is not None:
                run.resumed = True
                runs.append(run)
        if prices is not None and self.pending_work():
            last = self.store.load_state().last_timestamp
            if prices.timestamp <= last:
                raise ProtocolError(
                    f"the price set is for time {prices.timestamp}, not after the last "
                    f"batch's {last}: sign a newer one"
                )
            if self.match(prices) is not None:
                run = self.finish()
                if run is not None:
                    runs.append(run)
        return runs

    def plan(
        self, first: PriceSet, prices: Callable[[int], PriceSet | None], limit: int
    ) -> list[tuple[PriceSet, BatchReport]]:
        """What the pending inbox becomes in up to ``limit`` batches, the first at ``first`` and
        each next one at ``prices(previous timestamp)``: the engine run from the store on
        the pending messages, nothing recorded (pure of the store)."""
        store = self.store
        number = store.next_batch
        sets = [for_batch(first, number)]

        def provider(n: int) -> PriceSet:
            k = n - number
            if k < len(sets):
                return sets[k]
            if k >= limit:
                raise _Sealed
            after = prices(sets[-1].timestamp)
            if after is None or after.timestamp <= sets[-1].timestamp:
                raise _Sealed
            sets.append(for_batch(after, n))
            return sets[-1]

        sealed: list[BatchReport] = []
        engine = store.engine(
            provider,
            on_seal=lambda report, _engine: sealed.append(report),
            operator_secret=self.inbox_secret,
        )
        available = store.inbox_length()
        first_message = store.load_state().inbox_count
        while len(sealed) < limit:
            end = self.inbox_range(first_message, available)
            if end == first_message:
                break
            try:
                engine.submit_inbox(store.inbox(first_message, end))
            except _Sealed:
                break
            first_message = end
        return list(zip(sets, sealed, strict=False))

    def batches_ahead(
        self, first: PriceSet, prices: Callable[[int], PriceSet | None]
    ) -> list[BatchRun]:
        """:meth:`batch` for a backlog: the inbox's next ``workers`` batches are planned
        (:meth:`plan`) and proven at once, while they are matched, sent and confirmed one
        by one, in order, exactly as :meth:`batch` does. Each batch is matched from the
        store only after the one before it is confirmed; its proof made ahead is used only
        when the recorded witness is the planned one (else it is proven again), so nothing
        made ahead is ever recorded unchecked, and a crash loses only work in memory."""
        runs = self.batch(None)  # reconcile; finish a batch left in flight
        if not self.pending_messages():
            return runs
        self.remote()
        last = self.store.load_state().last_timestamp
        if first.timestamp <= last:
            raise ProtocolError(
                f"the price set is for time {first.timestamp}, not after the last "
                f"batch's {last}: sign a newer one"
            )
        planned = self.plan(first, prices, self.workers)
        if len(planned) <= 1:
            return runs + self.batch(first)
        self.artifacts()
        self._generator_for(self.artifacts())
        where = f"Ray, {self._ray.cpus} cpus" if self._ray is not None else self._engine.name
        self._say(f"run: proving {len(planned)} batches ahead on {self.workers} workers "
                  f"({where})")
        with ThreadPoolExecutor(max_workers=self.workers,
                                thread_name_prefix="zkmatch-prove") as pool:
            ahead: list[tuple[str, Future[Any]]] = []
            for _price_set, report in planned:
                planned_inputs = report.result.witness.as_circuit_inputs()
                planned_json = json.dumps(without_secrets(planned_inputs), sort_keys=True)
                ahead.append((planned_json, pool.submit(
                    self._make_proof, report.result.batch_number, circuit_inputs(planned_inputs),
                    None,
                )))
            try:
                for (price_set, report), (witness, made) in zip(planned, ahead, strict=True):
                    number = self.match(price_set)
                    if number is None:
                        break
                    row = self.store.batch(number)
                    assert row is not None
                    same = (number == report.result.batch_number
                            and json.dumps(json.loads(row["witness"]), sort_keys=True) == witness)
                    if same:
                        self.ahead_used.append(number)
                    else:
                        self._say(f"batch {number}: its witness changed since it was planned; "
                                  "proving it again")
                    run = self.finish(made if same else None)
                    if run is not None:
                        runs.append(run)
            finally:
                for _, made in ahead:
                    made.cancel()
        return runs

    def run(
        self,
        prices: Callable[[int], PriceSet | None],
        *,
        interval: float,
        max_batches: int | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> list[BatchRun]:
        """``zkmatch run``: :meth:`batch` every ``interval`` seconds with the prices
        ``prices(last_timestamp)`` gives (None: none newer yet), until ``should_stop``
        or ``max_batches`` batches were confirmed. A refused submission is reported and
        retried on the next round. With ``workers > 1`` a backlog is proven ahead
        (:meth:`batches_ahead`)."""
        runs: list[BatchRun] = []
        while not should_stop():
            last = self.store.load_state().last_timestamp
            flight = self.store.in_flight()
            if flight is not None:
                last = max(last, int(flight["timestamp"]))
            price_set = prices(last) if self.pending_work() else None
            try:
                if self.workers > 1 and price_set is not None:
                    runs.extend(self.batches_ahead(price_set, prices))
                else:
                    runs.extend(self.batch(price_set))
            except SubmitError as exc:
                self._say(f"run: {exc}")
            if max_batches is not None and len(runs) >= max_batches:
                break
            deadline = time.monotonic() + interval
            while time.monotonic() < deadline and not should_stop():
                time.sleep(min(0.2, interval))
        return runs

    # --- receipts (prover/operator/receipts.py) ---------------------------------------

    def _market_names(self) -> tuple[str, ...]:
        """The deployment scenario's market names: labels in receipts, not under any root
        (none when the scenario file cannot be read)."""
        path = self.deployment.get("scenario")
        if not path:
            return ()
        try:
            return tuple(load_scenario(Path(path)).market_names)
        except ZkmatchError:
            return ()

    def write_receipts(self, number: int | None = None) -> list[Path]:
        """Write confirmed batch ``number``'s receipts (one per account it touched) into
        ``DATA/receipts``; ``number`` None: the last confirmed batch's, only if one is missing
        or names another transaction. Idempotent (files holding the same bytes are left
        alone); only the last confirmed batch can be written, since the store keeps only its
        state. Returns the paths written."""
        store = self.store
        last = store.next_batch - 1
        row = store.batch(last)
        if row is None or row["step"] != STEP_CONFIRMED or number not in (None, last):
            return []
        receipts = self.data.receipts
        if number is None and receipt_files.receipts_current(receipts, row):
            return []
        try:
            return receipt_files.write_receipts(
                receipts, store, last, str(self.deployment["rollup"]),
                int(self.deployment["chain_id"]), self._market_names(),
            )
        except OSError as exc:
            raise ZkmatchError(
                f"batch {last} is confirmed but its receipts cannot be written to {receipts} "
                f"({exc.strerror or exc}); the next command writes them again"
            ) from exc

    def status(self) -> dict[str, Any]:
        """Store and chain side by side (``zkmatch status``)."""
        chain = self.client.state()
        flight = self.store.in_flight()
        messages = self.store.messages()
        counts: dict[str, int] = {}
        for m in messages:
            counts[m["status"]] = counts.get(m["status"], 0) + 1
        return {
            "data": str(self.data.root),
            "rpc_url": self.rpc_url,
            "rollup": self.client.address,
            "chain": {
                "batch_number": chain.batch_number,
                "root": str(chain.root),
                "last_timestamp": chain.last_timestamp,
            },
            "store": {
                "confirmed_batches": self.store.next_batch,
                "root": str(self.store.root),
                "in_flight": (
                    {"batch_number": flight["number"], "step": flight["step"],
                     "tx_hash": flight["tx_hash"]} if flight else None
                ),
            },
            "in_step": chain.batch_number == self.store.next_batch
            and chain.root == self.store.root,
            "messages": counts,
        }


def model_root(data: DataDir, client: RollupClient, store: Store) -> int:
    """The root the model reaches from the deployment's genesis on the inbox as the chain
    holds it (``MessageSent``), cut into the store's confirmed batches (their ranges and
    prices): a replay independent of the operator's own state (the demo and the tests
    compare it with the store's and the chain's root)."""
    from prover.exchange.state import ExchangeState
    from prover.operator.store import params_from_journal

    state = ExchangeState.from_json(json.loads(data.genesis.read_text()))
    secret = load_key_file(data.operator_babyjub_key).scalar
    rows = [r for r in store.batches() if r["step"] == STEP_CONFIRMED]
    params = {r["batch_number"]: params_from_journal(r) for r in rows}
    engine = Engine(state, state.markets, store.config, lambda n: params[n],
                    operator_secret=secret)
    messages = [e.message for e in client.messages()]
    deposits = client.deposits() if store.config.book else []
    start = deposit_start = 0
    for row in rows:
        end, deposit_end = int(row["inbox_end"]), int(row["deposit_end"])
        engine.submit_inbox(messages[start:end], deposits[deposit_start:deposit_end])
        start, deposit_start = end, deposit_end
    return engine.state.root


__all__ = [
    "CRASHPOINTS",
    "BatchRun",
    "Operator",
    "OutOfStep",
    "SubmitError",
    "crashpoint",
    "model_root",
    "outcome_json",
    "validate_entries",
]
