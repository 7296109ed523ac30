"""Audit a rollup from chain data alone: every accepted batch, re-verified in Python.

:func:`audit_chain` reads a Rollup's ``ConfigRegistered`` and ``BatchSubmitted`` events and,
for each batch in order from genesis:

1. checks the batch numbers run 0, 1, 2, ... and that batch n's old root and previous
   timestamp are batch n-1's new root and timestamp (the genesis root and time for batch 0),
   and that its timestamp moves forward;
2. checks its inbox range starts where batch n-1's ended (0 for batch 0) and that the
   chain after it is the one the ``MessageSent`` events' messages hash to (recomputed here:
   the previous batch's for an empty range; the inbox chain at ``inboxEnd`` otherwise);
   likewise its deposit range, whose ``depositsAfter`` must be the chain the ``Deposited``
   events' deposits hash to at ``depositEnd`` (:func:`prover.exchange.flows.deposit_chain`)
   and the chain the Rollup stored there (``depositChainAt``), and its ``exitsHash`` the hash
   of its exits (the ``ExitCredited`` events of its transaction, :func:`flows.exits_hash`);
3. recomputes the configuration hash in force for that batch from the registered markets
   and feed key in the events and the Rollup's operator key
   (:meth:`prover.chain.config.RollupConfig.hash`) and compares it with the batch's;
4. rebuilds the nine public inputs from those values alone (nothing from the operator) and
   verifies the proof with :mod:`prover.verifier.groth16` (py_ecc; no snarkjs, no node);

after checking that the verification key file is the one the chain uses: its keccak equals
``Rollup.verificationKeyHash`` and the deployed verifier's code pushes every coordinate of
it. Finally the Rollup's current root and batch number must be the last batch's.

The first failure stops the audit and names the batch and the reason
(:class:`AuditReport.failure`). Docs: docs/settlement.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.chain.config import batch_info
from prover.chain.rollup import RollupClient, proof_from_words
from prover.chain.vkey import key_hash, missing_from_code
from prover.errors import ZkmatchError
from prover.exchange import flows, inbox
from prover.toolchain.common import Progress
from prover.verifier.groth16 import Proof, VerificationKey, VerifierError, verify


class AuditError(ZkmatchError):
    """The audit could not start (bad key file, unreadable chain)."""


@dataclass
class BatchCheck:
    number: int
    old_root: int
    new_root: int
    timestamp: int
    tx_hash: str
    ok: bool
    reason: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "batch": self.number,
            "old_root": str(self.old_root),
            "new_root": str(self.new_root),
            "timestamp": self.timestamp,
            "tx": self.tx_hash,
            "ok": self.ok,
            "reason": self.reason,
        }


@dataclass
class AuditReport:
    rollup: str
    genesis_root: int
    batches: list[BatchCheck] = field(default_factory=list)
    failure: str = ""

    @property
    def ok(self) -> bool:
        return not self.failure

    def to_json(self) -> dict[str, Any]:
        return {
            "rollup": self.rollup,
            "genesis_root": str(self.genesis_root),
            "ok": self.ok,
            "failure": self.failure,
            "batches": [b.to_json() for b in self.batches],
        }


def load_key(path: Path) -> tuple[dict[str, Any], VerificationKey]:
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise AuditError(f"cannot read the verification key {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AuditError(f"the verification key {path} is not valid JSON: {exc}") from exc
    try:
        return data, VerificationKey.from_json(data)
    except VerifierError as exc:
        raise AuditError(f"the verification key {path} is malformed: {exc}") from exc


def audit_chain(
    client: RollupClient,
    vk_path: Path,
    progress: Progress | None = None,
    from_block: int = 0,
) -> AuditReport:
    """Audit every batch of ``client``'s Rollup with the key in ``vk_path`` (see module)."""
    say = progress or (lambda _m: None)
    vk_json, vk = load_key(vk_path)
    genesis_root, genesis_time = client.genesis()
    report = AuditReport(client.address, genesis_root)
    if key_hash(vk_json) != client.verification_key_hash():
        report.failure = (
            f"the verification key {vk_path} is not the one the Rollup registered "
            f"(keccak {key_hash(vk_json).hex()} != {client.verification_key_hash().hex()})"
        )
        return report
    code = bytes(client.w3.eth.get_code(client.verifier_address()))
    missing = missing_from_code(vk_json, code)
    if missing:
        report.failure = (
            f"the Rollup's verifier at {client.verifier_address()} does not embed the key "
            f"{vk_path} ({len(missing)} coordinates missing)"
        )
        return report
    configs = client.configs(from_block)
    batches = client.batches(from_block)
    # The inbox chain after each message, recomputed from the messages themselves (not
    # the chain value the event reports): a batch's inboxAfter must be one of these.
    chains = {0: 0}
    for e in client.messages(0, from_block):
        chains[e.index + 1] = inbox.chain_step(chains[e.index], e.message)
    # The deposit queue's chain after each deposit, likewise recomputed (deposits() also
    # refuses events whose own chain value disagrees).
    deposit_chains = {0: flows.DEPOSIT_CHAIN_0}
    for d in client.deposits(0, from_block):
        deposit_chains[d.number + 1] = d.chain_step(deposit_chains[d.number])
    say(f"verify: {len(batches)} batches, {len(configs)} configurations, key {vk_path}")
    root, last_time = genesis_root, genesis_time
    consumed, consumed_chain = 0, 0  # the inbox before batch 0
    deposits_consumed, deposits_chain = 0, flows.DEPOSIT_CHAIN_0  # the queue before batch 0
    for expected, event in enumerate(batches):
        check = BatchCheck(event.number, event.old_root, event.new_root, event.timestamp,
                           event.tx_hash, False)
        report.batches.append(check)
        in_force = [c for c in configs if c.from_batch <= event.number]
        reason = ""
        if event.number != expected:
            reason = f"batch number {event.number}, expected {expected}"
        elif event.old_root != root:
            reason = (
                f"old root {event.old_root} is not the previous batch's new root {root}"
            )
        elif event.previous_timestamp != last_time or event.timestamp <= last_time:
            reason = f"timestamp {event.timestamp} does not follow {last_time}"
        elif event.inbox_start != consumed or event.inbox_end < consumed:
            reason = (
                f"inbox range [{event.inbox_start}, {event.inbox_end}) does not start at "
                f"{consumed}, where the previous batch ended"
            )
        elif event.inbox_after != (
            consumed_chain if event.inbox_end == consumed else chains.get(event.inbox_end)
        ):
            reason = (
                f"the inbox chain after {event.inbox_end} messages is not the one the "
                "MessageSent events give"
            )
        elif event.deposit_start != deposits_consumed or event.deposit_end < deposits_consumed:
            reason = (
                f"deposit range [{event.deposit_start}, {event.deposit_end}) does not start "
                f"at {deposits_consumed}, where the previous batch ended"
            )
        elif event.deposits_after != deposit_chains.get(event.deposit_end):
            reason = (
                f"the deposit chain after {event.deposit_end} deposits is not the one the "
                "Deposited events give"
            )
        elif event.deposits_after != client.deposit_chain_at(event.deposit_end):
            reason = (
                f"the deposit chain after {event.deposit_end} deposits is not the one the "
                "Rollup stored"
            )
        elif event.exits_hash != flows.exits_hash(event.exits):
            reason = (
                f"the exits hash is not that of the batch's {len(event.exits)} ExitCredited "
                "events"
            )
        elif not in_force:
            reason = "no configuration registered for this batch"
        elif in_force[-1].config.hash() != event.config_hash:
            reason = (
                "the configuration hash is not that of the registered markets, feed and "
                "operator key"
            )
        else:
            inputs = [
                root,
                event.new_root,
                batch_info(event.number, last_time, event.timestamp),
                in_force[-1].config.hash(),
                consumed_chain,
                event.inbox_after,
                deposits_chain,
                event.deposits_after,
                flows.exits_hash(event.exits),
            ]
            try:
                valid = verify(vk, Proof.from_json(proof_from_words(event.proof)), inputs)
            except VerifierError as exc:
                valid, reason = False, f"malformed proof: {exc}"
            if not valid and not reason:
                reason = "the proof does not verify for the public inputs rebuilt from the chain"
        check.ok = not reason
        check.reason = reason
        say(f"verify: batch {event.number}: {'ok' if check.ok else 'FAILED: ' + reason}")
        if reason:
            report.failure = f"batch {event.number}: {reason}"
            return report
        root, last_time = event.new_root, event.timestamp
        consumed, consumed_chain = event.inbox_end, event.inbox_after
        deposits_consumed, deposits_chain = event.deposit_end, event.deposits_after
    state = client.state()
    if (state.root, state.batch_number) != (root, len(batches)):
        report.failure = (
            f"the Rollup holds root {state.root} after {state.batch_number} batches, but its "
            f"events end at root {root} after {len(batches)}"
        )
    return report


__all__ = ["AuditError", "AuditReport", "BatchCheck", "audit_chain"]
