"""Proving jobs on a Ray cluster: the same witness and prover, on other machines' cores.

:class:`RayProvers` connects to a cluster (``address``: ``ray://host:10001``, ``host:6379``,
``auto``) or starts a local one on loopback (``local``), ships the circuit's proving key and
witness program to the cluster's object store once, and runs one task per batch: the worker
writes the two files to its own disk the first time it sees that key (cached by content
hash, so each worker fetches them once), computes the witness (``snarkjs wtns calculate``),
proves (arkworks if the worker has groth16py, else snarkjs, or as asked) and returns the
proof in snarkjs's JSON format. A task whose worker dies (killed, out of memory, node lost)
is retried elsewhere (``max_retries``); the caller checks every proof itself (public signals,
verification) and submits in batch order, so a worker can slow the operator down but never
make it record a wrong proof.

Workers need what a proving machine needs: zkmatch installed (``pip install 'zkmatch[ray]'``,
plus ``[fast]`` for arkworks), node and ``node_modules`` (``make setup``). Docs:
docs/proving.md ("Distributed proving on Ray").
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from prover.errors import ToolError
from prover.proving.circuit import Artifacts
from prover.toolchain.common import Progress
from prover.toolchain.ptau import file_sha256

RAY_HINT = "pip install 'zkmatch[ray]' (Ray) to prove on a cluster"
#: How often a task is run again when its worker dies.
MAX_RETRIES = 3
_NAMESPACE = "zkmatch"


def ray_available() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def _materialise(folder: Path, name: str, ref: Any) -> Path:
    """``folder/name`` from the object store unless this worker already wrote it."""
    import ray

    path = folder / name
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        data = ray.get(ref)
        part = folder / f".{name}.{os.getpid()}.part"
        part.write_bytes(data)
        part.replace(path)
    return path


def prove_job(
    digest: str, refs: list[Any], inputs: dict[str, Any], n_public: int, prover: str | None
) -> dict[str, Any]:
    """One batch on a worker (runs as a Ray task): witness, proof, timings, who proved it.

    ``refs`` holds the zkey and wasm object refs inside a list, so Ray does not fetch them
    for every task: the worker fetches each once, by ``digest``."""
    from prover.proving.backends import backend
    from prover.toolchain import snarkjs

    cache = Path(tempfile.gettempdir()) / "zkmatch-ray" / digest
    zkey = _materialise(cache, "circuit_final.zkey", refs[0])
    wasm = _materialise(cache, "circuit.wasm", refs[1])
    with tempfile.TemporaryDirectory(prefix="zkmatch-ray-job-") as scratch:
        folder = Path(scratch)
        (folder / "input.json").write_text(json.dumps(inputs))
        witness_s = snarkjs.wtns_calculate(wasm, folder / "input.json", folder / "witness.wtns")
        engine = backend(prover)
        raw = engine.prove(zkey, folder / "witness.wtns", n_public)
    return {
        "proof": raw.proof,
        "public": raw.public,
        "timings": {"witness": witness_s, "prove": raw.seconds},
        "prover": engine.name,
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """A ``host:port`` or ``ray://host:port`` address must accept a TCP connection (Ray itself
    retries a dead address for minutes); ``auto`` and the like are left to Ray."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        return
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ToolError(f"cannot reach the Ray cluster at {address}: {exc}") from exc


class RayProvers:
    """A Ray cluster as a pool of provers for one circuit (:meth:`submit` -> a Future)."""

    def __init__(
        self,
        address: str,
        artifacts: Artifacts,
        *,
        prover: str | None = None,
        cpus: int | None = None,
        progress: Progress | None = None,
    ) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ToolError(f"--ray needs Ray: {RAY_HINT}") from exc
        self.ray = ray
        self.artifacts = artifacts
        self.prover = prover
        self.progress = progress
        self.started = False
        say = progress or (lambda _m: None)
        start = time.monotonic()
        env = {"env_vars": {k: v for k, v in os.environ.items()
                            if k.startswith("ZKMATCH_") and k != "ZKMATCH_CRASHPOINT"}}
        try:
            if ray.is_initialized():  # a caller's own ray.init: use it, leave it running
                pass
            elif address == "local":
                say(f"ray: starting a local cluster on loopback ({cpus or os.cpu_count()} cpus)")
                ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                         log_to_driver=False, namespace=_NAMESPACE, runtime_env=env,
                         _node_ip_address="127.0.0.1")
                self.started = True
            else:
                _check_reachable(address)
                say(f"ray: connecting to {address}")
                ray.init(address=address, log_to_driver=False, namespace=_NAMESPACE,
                         runtime_env=env)
                self.started = True
        except ToolError:
            raise
        except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ...
            raise ToolError(f"cannot reach the Ray cluster at {address}: {exc}") from exc
        self.cpus = int(ray.cluster_resources().get("CPU", 1))
        self.digest = file_sha256(artifacts.zkey)[:32]
        # Shipped once: every task gets these refs and each worker fetches them once.
        self.refs = [ray.put(artifacts.zkey.read_bytes()), ray.put(artifacts.wasm.read_bytes())]
        self.task = ray.remote(max_retries=MAX_RETRIES, num_cpus=1)(prove_job)
        say(f"ray: {self.cpus} cpus; circuit shipped ({artifacts.zkey.stat().st_size >> 20} MiB "
            f"key) in {time.monotonic() - start:.1f} s")

    def submit(self, inputs: dict[str, Any]) -> Future[dict[str, Any]]:
        """Prove one batch's circuit ``inputs`` on the cluster."""
        from prover.proving.circuit import _as_json_input

        ref = self.task.remote(self.digest, self.refs, _as_json_input(inputs),
                               self.artifacts.public_signals, self.prover)
        future: Future[dict[str, Any]] = ref.future()
        return future

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()
            self.started = False

    def __enter__(self) -> RayProvers:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
