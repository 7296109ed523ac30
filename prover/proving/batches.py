"""The operator's proving loop: a scenario through matching, then a Groth16 proof per batch.

:func:`prove_scenario` reads a scenario (docs/scenario.md), runs it through the matching
engine and the batch builder (:func:`prover.exchange.scenario.run_scenario`), builds (or
finds in the cache) the batch circuit ``Batch(K, E, B, D, S, M)`` for the scenario's
:class:`~prover.exchange.domain.BatchConfig`, and for every sealed batch:

1. ``BatchWitness.as_circuit_inputs()`` -> :func:`prover.proving.batch_circuit.circuit_inputs`;
2. :func:`prover.proving.circuit.prove` (witness: wasm, or circom's C++ generator with
   ``witness="cpp"``/``"auto"`` or ``ZKMATCH_WITNESS``; then ``snarkjs groth16 prove``);
3. checks that the public signals are exactly the model's
   ``(oldRoot, newRoot, batchInfo, configHash)``;
4. :func:`prover.proving.circuit.verify` (``snarkjs groth16 verify``).

With ``out_dir`` each batch gets ``<out_dir>/batch-<n>/{input,proof,public}.json`` (snarkjs's
formats, so ``snarkjs groth16 verify verification_key.json public.json proof.json`` checks
them by hand) and ``<out_dir>/verification_key.json`` / ``summary.json`` sit beside them.

Docs: docs/proving.md.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prover.errors import ZkmatchError
from prover.exchange.batch import BatchResult
from prover.exchange.domain import BatchConfig
from prover.exchange.scenario import Scenario, SimResult, parse_scenario, run_scenario
from prover.proving.backends import ProverBackend, backend, prover_choice
from prover.proving.batch_circuit import circuit_inputs, spec_for
from prover.proving.circuit import (
    Artifacts,
    CircuitSpec,
    Groth16Proof,
    ProofResult,
    PublicSignals,
    WitnessGenerator,
    _as_json_input,
    build,
    prove,
    verify,
    witness_generator,
)
from prover.toolchain.common import Progress

if TYPE_CHECKING:
    from prover.proving.distributed import RayProvers

#: Layout of a proof folder: one sub-folder per batch, named by its batch number.
BATCH_DIR = "batch-{:06d}"


class ProvingError(ZkmatchError):
    """A proof came out wrong: public signals that differ from the model, or a proof that
    ``snarkjs groth16 verify`` rejects."""


@dataclass(frozen=True)
class BatchProof:
    """One batch of a scenario, proven: the model's roots, the proof, and step timings.

    ``timings`` has ``witness_inputs`` (Python: witness -> circuit inputs), ``witness``
    (the witness generator, ``witness_generator``: ``wasm`` or ``cpp``), ``prove``
    (``snarkjs groth16 prove``) and ``verify`` seconds.
    """

    batch_number: int
    old_root: int
    new_root: int
    batch_info: int
    config_hash: int
    entries: int
    fills: int
    circuit: str
    constraints: int
    proof: Groth16Proof
    public: PublicSignals
    verified: bool
    directory: Path | None = None
    timings: dict[str, float] = field(default_factory=dict)
    witness_generator: str = "wasm"
    prover: str = "snarkjs"
    inbox_before: int = 0
    inbox_after: int = 0
    deposits_before: int = 0
    deposits_after: int = 0
    exits_hash: int = 0

    def expected_public(self) -> list[str]:
        """What the public signals must be: ``oldRoot, newRoot, batchInfo, configHash,
        inboxBefore, inboxAfter, depositsBefore, depositsAfter, exitsHash``."""
        return [str(v) for v in (self.old_root, self.new_root, self.batch_info,
                                 self.config_hash, self.inbox_before, self.inbox_after,
                                 self.deposits_before, self.deposits_after, self.exits_hash)]

    def to_json(self) -> dict[str, Any]:
        """A summary as plain JSON (roots as decimal strings; the proof itself is in
        ``proof.json``)."""
        return {
            "batch_number": self.batch_number,
            "old_root": str(self.old_root),
            "new_root": str(self.new_root),
            "batch_info": str(self.batch_info),
            "config_hash": str(self.config_hash),
            "entries": self.entries,
            "fills": self.fills,
            "circuit": self.circuit,
            "constraints": self.constraints,
            "public_signals": list(self.public),
            "verified": self.verified,
            "directory": str(self.directory) if self.directory is not None else None,
            "timings": dict(self.timings),
            "witness_generator": self.witness_generator,
            "prover": self.prover,
        }


# --------------------------------------------------------------------------- pure parts


def expected_public(result: BatchResult) -> list[str]:
    """The public signals a proof of ``result`` must carry, in ``public.json`` order."""
    w = result.witness
    return [str(v) for v in (result.old_root, result.new_root, result.batch_info,
                             result.config_hash, w.inbox_before, w.inbox_after,
                             w.deposits_before, w.deposits_after, w.exits_hash)]


def config_spec(config: BatchConfig) -> CircuitSpec:
    """The batch circuit for ``config``: ``BatchBook(K, E, F, D, S, M, BB, CL, P)`` for a venue
    that matches by the rules, else ``Batch(K, E, B, D, S, M)``."""
    return spec_for(config.as_circuit_params())


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file (docs/scenario.md); errors name the file."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ZkmatchError(f"cannot read scenario {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ZkmatchError(f"scenario {path} is not valid JSON: {exc}") from exc
    try:
        return parse_scenario(data)
    except ZkmatchError as exc:
        raise type(exc)(f"{path}: {exc}") from exc


def simulate(scenario: Scenario) -> SimResult:
    """Run ``scenario`` through the engine (no proving); one report per sealed batch."""
    return run_scenario(scenario)


# --------------------------------------------------------------------------- proving


def _say(progress: Progress | None, message: str) -> None:
    if progress:
        progress(message)


def prove_batch(
    artifacts: Artifacts,
    result: BatchResult,
    *,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    witness: str | WitnessGenerator | None = None,
    prover: str | ProverBackend | None = None,
    remote: RayProvers | None = None,
) -> BatchProof:
    """Prove one sealed batch with ``artifacts`` (a batch circuit of the batch's config).

    Raises :class:`ProvingError` when the public signals differ from the model's or
    snarkjs rejects the proof; a witness the circuit refuses is a
    :class:`~prover.errors.ToolError` from the witness generator (``witness``: see
    :func:`prover.proving.circuit.prove`; ``prover``: the backend, likewise). With
    ``remote`` the witness and proof are made on a Ray cluster; the checks stay here.
    """
    n = result.batch_number
    start = time.monotonic()
    inputs = circuit_inputs(result.witness.as_circuit_inputs())
    inputs_s = time.monotonic() - start
    folder = out_dir / BATCH_DIR.format(n) if out_dir is not None else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
    _say(progress, f"batch {n}: {len(result.entries)} entries, {len(result.fills)} fills; "
         f"proving {artifacts.spec.name}")
    if remote is not None:
        job = remote.submit(inputs).result()
        proof = ProofResult(job["proof"], [str(v) for v in job["public"]], dict(job["timings"]),
                            witness_generator="wasm", prover=str(job["prover"]))
        if folder is not None:
            (folder / "input.json").write_text(json.dumps(_as_json_input(inputs)))
            proof.write(folder)
        _say(progress, f"batch {n}: proven on {job['worker']} ({job['prover']})")
    else:
        proof = prove(artifacts, inputs, progress, work_dir=folder, witness=witness,
                      prover=prover)
    want = expected_public(result)
    if list(proof.public) != want:
        raise ProvingError(
            f"batch {n}: the proof's public signals {proof.public} are not the model's "
            f"(oldRoot, newRoot, batchInfo, configHash, inboxBefore, inboxAfter, "
            f"depositsBefore, depositsAfter, exitsHash) = {want}"
        )
    start = time.monotonic()
    ok = verify(artifacts, proof.proof, proof.public)
    verify_s = time.monotonic() - start
    if not ok:
        raise ProvingError(f"batch {n}: snarkjs groth16 verify rejected the proof")
    if folder is not None:
        # prove() left input.json, proof.json, public.json there; the witness is large
        # and reproducible from input.json, so it does not stay.
        (folder / "witness.wtns").unlink(missing_ok=True)
    timings = {"witness_inputs": inputs_s, **proof.timings, "verify": verify_s}
    _say(
        progress,
        f"batch {n}: verified; new root {str(result.new_root)[:12]}... "
        f"(witness {timings['witness']:.2f} s, prove {timings['prove']:.2f} s, "
        f"verify {verify_s:.2f} s)",
    )
    return BatchProof(
        batch_number=n,
        old_root=result.old_root,
        new_root=result.new_root,
        batch_info=result.batch_info,
        config_hash=result.config_hash,
        entries=len(result.entries),
        fills=len(result.fills),
        circuit=artifacts.spec.name,
        constraints=artifacts.constraints,
        proof=proof.proof,
        public=list(proof.public),
        verified=ok,
        directory=folder,
        timings=timings,
        witness_generator=proof.witness_generator,
        prover=proof.prover,
        inbox_before=result.witness.inbox_before,
        inbox_after=result.witness.inbox_after,
        deposits_before=result.witness.deposits_before,
        deposits_after=result.witness.deposits_after,
        exits_hash=result.witness.exits_hash,
    )


def prove_all(
    artifacts: Artifacts,
    results: Sequence[BatchResult],
    *,
    workers: int = 1,
    out_dir: Path | None = None,
    progress: Progress | None = None,
    witness: str | WitnessGenerator | None = None,
    prover: str | ProverBackend | None = None,
    remote: RayProvers | None = None,
) -> list[BatchProof]:
    """Prove ``results`` with up to ``workers`` batches at once; proofs in batch order.

    A batch's proof depends only on its own witness (the model computed every root before),
    so consecutive batches prove concurrently: one worker's witness generation (a node or C++
    process) overlaps another's proof. Threads suffice: snarkjs runs as a process and
    groth16py releases the GIL while it proves. The first failure is raised after the
    running proofs finish; nothing is submitted here, so order only matters to the caller.
    """
    engine = prover if prover is not None and not isinstance(prover, str) else backend(prover)
    if workers <= 1 or len(results) <= 1:
        return [prove_batch(artifacts, r, out_dir=out_dir, progress=progress, witness=witness,
                            prover=engine, remote=remote) for r in results]
    where = f"on Ray ({remote.cpus} cpus)" if remote is not None else f"({engine.name})"
    _say(progress, f"prove: {len(results)} batches, {workers} at once {where}")
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="zkmatch-prove") as pool:
        futures = [pool.submit(prove_batch, artifacts, r, out_dir=out_dir, progress=progress,
                               witness=witness, prover=engine, remote=remote) for r in results]
        return [f.result() for f in futures]


def default_workers(prover: str | None = None) -> int:
    """Workers for :func:`prove_all`: one per core for the single-threaded arkworks prover,
    one for snarkjs (it already uses every core)."""
    if prover_choice(prover) == "arkworks":
        return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                   else (os.cpu_count() or 1))
    return 1


def prove_results(
    results: Sequence[BatchResult],
    config: BatchConfig,
    *,
    ptau: Path | None = None,
    progress: Progress | None = None,
    out_dir: Path | None = None,
    contributions: int = 1,
    witness: str | None = None,
    prover: str | None = None,
    workers: int | None = None,
    ray: str | None = None,
) -> tuple[Artifacts, list[BatchProof]]:
    """Build the batch circuit of ``config`` (cached) and prove each of ``results``.

    ``witness`` (``wasm``/``cpp``/``auto``, else ``ZKMATCH_WITNESS``, else wasm) is resolved
    once, so the C++ generator is built at most once and every batch uses the same one;
    ``prover`` likewise (``snarkjs``/``arkworks``/``auto``, else ``ZKMATCH_PROVER``, else
    auto). ``workers``: batches proven at once (default :func:`default_workers`, or the
    cluster's cpus with ``ray``: a Ray address, or ``local``, see
    :mod:`prover.proving.distributed`).
    """
    spec = config_spec(config)
    start = time.monotonic()
    artifacts = build(spec, ptau, progress, contributions=contributions)
    _say(progress, f"build: {spec.name}, {artifacts.constraints} constraints "
         f"({'cached' if artifacts.cached else 'built'} in {time.monotonic() - start:.1f} s)")
    generator = witness_generator(artifacts, witness, progress)
    engine = backend(prover)
    if ray is not None:
        from prover.proving.distributed import RayProvers

        with RayProvers(ray, artifacts, prover=prover, progress=progress) as remote:
            proofs = prove_all(artifacts, results, workers=workers or remote.cpus,
                               out_dir=out_dir, progress=progress, witness=generator,
                               prover=engine, remote=remote)
    else:
        proofs = prove_all(artifacts, results, workers=workers or default_workers(engine.name),
                           out_dir=out_dir, progress=progress, witness=generator,
                           prover=engine)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "verification_key.json").write_text(artifacts.vkey.read_text())
        summary = {
            "circuit": spec.name,
            "params": config.as_circuit_params(),
            "constraints": artifacts.constraints,
            "zkey": str(artifacts.zkey),
            "ptau": str(artifacts.ptau) if artifacts.ptau else None,
            "setup": artifacts.setup_kind,
            "witness_generator": generator.kind,
            "prover": engine.name,
            "batches": [p.to_json() for p in proofs],
        }
        (out_dir / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return artifacts, proofs


def prove_scenario(
    scenario_path: Path | Scenario,
    *,
    ptau: Path | None = None,
    progress: Progress | None = None,
    out_dir: Path | None = None,
    contributions: int = 1,
    witness: str | None = None,
    prover: str | None = None,
    workers: int | None = None,
    ray: str | None = None,
) -> list[BatchProof]:
    """Run a scenario through matching and prove every batch it seals (see module doc).

    ``scenario_path`` is a scenario file (or an already parsed :class:`Scenario`).
    Returns one :class:`BatchProof` per batch, in batch order; every one is verified.
    """
    scenario = (
        scenario_path if isinstance(scenario_path, Scenario) else load_scenario(scenario_path)
    )
    start = time.monotonic()
    sim = simulate(scenario)
    results = [report.result for report in sim.reports]
    _say(progress, f"match: {len(results)} batches, "
         f"{sum(len(r.fills) for r in results)} fills ({time.monotonic() - start:.1f} s)")
    if not results:
        return []
    _, proofs = prove_results(results, scenario.config, ptau=ptau, progress=progress,
                              out_dir=out_dir, contributions=contributions, witness=witness,
                              prover=prover, workers=workers, ray=ray)
    if proofs[-1].new_root != sim.state.root:
        raise ProvingError(
            f"the last batch's new root {proofs[-1].new_root} is not the final state root "
            f"{sim.state.root}"
        )
    return proofs


__all__ = [
    "BATCH_DIR",
    "BatchProof",
    "ProvingError",
    "config_spec",
    "expected_public",
    "load_scenario",
    "default_workers",
    "prove_all",
    "prove_batch",
    "prove_results",
    "prove_scenario",
    "simulate",
]
