"""Groth16 prover backends: the same ``.zkey`` and ``.wtns`` in, snarkjs's JSON out.

Two implementations of :class:`ProverBackend`:

- ``snarkjs``: ``snarkjs groth16 prove`` (the reference; node, always installed; GPL-3.0).
- ``arkworks``: groth16py (arkworks in Rust, in process; the optional extra
  ``pip install 'zkmatch[fast]'``; GPL-3.0). It imports the snarkjs ``.zkey`` itself
  (``import_zkey``), proves from the ``.wtns`` and returns 8 big-endian words, which
  :func:`proof_from_words` maps onto snarkjs's ``proof.json``.

Both give proofs of the same statement under the same verification key, so the Rollup's
verifier and :mod:`prover.verifier` accept either; the tests cross-check them on one batch.
Choose with ``--prover`` / ``ZKMATCH_PROVER``: ``snarkjs``, ``arkworks`` or ``auto`` (the
fastest installed: arkworks when groth16py imports, else snarkjs).
"""

from __future__ import annotations

import importlib
import json
import os
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from prover.errors import ToolError, ZkmatchError
from prover.toolchain import snarkjs
from prover.toolchain.common import Progress

#: Environment variable choosing the prover when no ``prover`` is passed.
PROVER_ENV = "ZKMATCH_PROVER"
PROVERS = ("snarkjs", "arkworks", "auto")
#: What to install for the arkworks backend.
FAST_HINT = "pip install 'zkmatch[fast]' (groth16py, arkworks) or use --prover snarkjs"

_WORD = 32


@dataclass(frozen=True)
class RawProof:
    """A proof as snarkjs writes it: ``proof.json`` and ``public.json`` contents."""

    proof: dict[str, Any]
    public: list[str]
    seconds: float


class ProverBackend(Protocol):
    name: str

    def prove(
        self, zkey: Path, wtns: Path, n_public: int, progress: Progress | None = None
    ) -> RawProof: ...


class SnarkjsBackend:
    """``snarkjs groth16 prove`` through a temp folder next to the witness."""

    name = "snarkjs"

    def prove(
        self, zkey: Path, wtns: Path, n_public: int, progress: Progress | None = None
    ) -> RawProof:
        proof_json, public_json = wtns.with_name("proof.json"), wtns.with_name("public.json")
        seconds = snarkjs.groth16_prove(zkey, wtns, proof_json, public_json, progress=progress)
        proof = json.loads(proof_json.read_text())
        public = json.loads(public_json.read_text())
        if len(public) != n_public:
            raise ToolError(f"snarkjs gave {len(public)} public signals, expected {n_public}")
        return RawProof(proof, [str(v) for v in public], seconds)


class ArkworksBackend:
    """groth16py: ``import_zkey`` once per key file and process, then ``prove_wtns``."""

    name = "arkworks"
    _keys: dict[tuple[str, int, int], Any] = {}
    _lock = threading.Lock()

    def __init__(self) -> None:
        module = _groth16py()
        if module is None:
            raise ToolError(f"the arkworks prover needs groth16py: {FAST_HINT}")
        self.module: Any = module

    def proving_key(self, zkey: Path) -> Any:
        st = zkey.stat()
        ident = (str(zkey.resolve()), st.st_size, st.st_mtime_ns)
        with self._lock:
            if ident not in self._keys:
                try:
                    pk, _vk = self.module.import_zkey(str(zkey))
                except Exception as exc:  # groth16py raises its own exception types
                    raise ToolError(f"groth16py cannot import {zkey}: {exc}") from exc
                self._keys.clear()  # one key at a time: a big key is hundreds of MB
                self._keys[ident] = pk
            return self._keys[ident]

    def prove(
        self, zkey: Path, wtns: Path, n_public: int, progress: Progress | None = None
    ) -> RawProof:
        pk = self.proving_key(zkey)
        start = time.monotonic()
        try:
            blob = self.module.prove_wtns(pk, str(wtns))
        except Exception as exc:
            raise ToolError(f"groth16py prove_wtns failed on {wtns}: {exc}") from exc
        seconds = time.monotonic() - start
        public = [str(v) for v in read_wtns(wtns, 1 + n_public)[1:]]
        return RawProof(proof_from_words(bytes(blob)), public, seconds)


def _groth16py() -> Any | None:
    try:
        module = importlib.import_module("groth16py")
    except ImportError:
        return None
    if not all(hasattr(module, name) for name in ("import_zkey", "prove_wtns")):
        return None
    return module


def arkworks_available() -> bool:
    """``True`` when groth16py (with ``import_zkey`` and ``prove_wtns``) imports."""
    return _groth16py() is not None


def prover_choice(choice: str | None = None) -> str:
    """``choice``, else ``$ZKMATCH_PROVER``, else ``auto``, resolved to ``snarkjs`` or
    ``arkworks``; a clear error for an unknown name or for arkworks without groth16py."""
    origin = "prover"
    if choice is None:
        choice = os.environ.get(PROVER_ENV, "").strip() or "auto"
        origin = PROVER_ENV
    normal = choice.strip().lower()
    if normal not in PROVERS:
        raise ZkmatchError(f"{origin} {choice!r} is not one of {', '.join(PROVERS)}")
    if normal == "auto":
        return "arkworks" if arkworks_available() else "snarkjs"
    if normal == "arkworks" and not arkworks_available():
        raise ToolError(f"{origin} arkworks: groth16py is not installed; {FAST_HINT}")
    return normal


def backend(choice: str | None = None) -> ProverBackend:
    """The backend :func:`prover_choice` names."""
    name = prover_choice(choice)
    return ArkworksBackend() if name == "arkworks" else SnarkjsBackend()


def proof_from_words(blob: bytes) -> dict[str, Any]:
    """groth16py's 256-byte proof (a.x, a.y, b.x.c1, b.x.c0, b.y.c1, b.y.c0, c.x, c.y, each a
    big-endian word, the Solidity calldata order) as snarkjs's ``proof.json`` (pure)."""
    from prover.chain.rollup import proof_from_words as words_to_proof_json  # eth_abi: lazy

    if len(blob) != 8 * _WORD:
        raise ToolError(f"a Groth16 proof is {8 * _WORD} bytes, got {len(blob)}")
    return words_to_proof_json(
        [int.from_bytes(blob[i * _WORD : (i + 1) * _WORD], "big") for i in range(8)]
    )


def read_wtns(path: Path, limit: int | None = None) -> list[int]:
    """The witness values of a ``.wtns`` file (iden3 binary format, version 2), the first
    ``limit`` only when given (wire 0 is the constant 1, then the public signals)."""
    data = path.read_bytes()
    if data[:4] != b"wtns":
        raise ToolError(f"{path} is not a .wtns file")
    (n_sections,) = struct.unpack_from("<I", data, 8)
    offset, sections = 12, {}
    for _ in range(n_sections):
        ident, size = struct.unpack_from("<IQ", data, offset)
        sections[ident] = (offset + 12, size)
        offset += 12 + size
    if 1 not in sections or 2 not in sections:
        raise ToolError(f"{path} lacks the header or the witness section")
    head = sections[1][0]
    (n8,) = struct.unpack_from("<I", data, head)
    (count,) = struct.unpack_from("<I", data, head + 4 + n8)
    start, size = sections[2]
    if size != count * n8:
        raise ToolError(f"{path}: witness section of {size} bytes for {count} values")
    wanted = count if limit is None else min(limit, count)
    return [
        int.from_bytes(data[start + i * n8 : start + (i + 1) * n8], "little") for i in range(wanted)
    ]
