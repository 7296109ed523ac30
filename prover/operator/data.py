"""The operator's data folder: one place for everything an operator needs to restart.

::

    DATA/
      deployment.json          chain id, RPC URL (null: zkmatch's own anvil), addresses,
                               deployment block, circuit, key hash, genesis root and time
      genesis.json             the genesis state (ExchangeState JSON)
      verification_key.json    the key the Rollup's verifier embeds (publish it)
      circuit/batch.zkey       the proving key the deployed verifier was exported from
      store.db                 the operator store (prover/operator/store.py)
      keys/operator.key        the operator's Ethereum key (mode 0600)
      keys/operator-babyjub.key
                               the operator's Baby Jubjub key (EdDSA key file, mode 0600):
                               inbox messages are encrypted to its public key (the Rollup's)
      keys/feed.key            a development price feed's key, when deploy made one
      chain/anvil-state.json   zkmatch's own anvil: its chain, written when it stops
      chain/anvil.log
      work/                    proving folders (one per attempt, removed after)
      receipts/<account>/      each touched account's receipt per confirmed batch
                               (batch-<n>.json, latest.json; prover/operator/receipts.py)
      operator.lock            held while an operator runs (one operator per folder)

JSON files are written atomically (temporary file, fsync, rename), so a crash leaves the
old file or the new one.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from prover.errors import ZkmatchError

DEPLOYMENT = "deployment.json"


class DataDirError(ZkmatchError):
    """The data folder is missing, incomplete, or in use by another operator."""


def write_json(path: Path, data: Any) -> None:
    """Write ``data`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as out:
        out.write(json.dumps(data, indent=1) + "\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


@dataclass(frozen=True)
class DataDir:
    """Paths of one operator's data folder."""

    root: Path

    @property
    def deployment(self) -> Path:
        return self.root / DEPLOYMENT

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.json"

    @property
    def vkey(self) -> Path:
        return self.root / "verification_key.json"

    @property
    def zkey(self) -> Path:
        return self.root / "circuit" / "batch.zkey"

    @property
    def store(self) -> Path:
        return self.root / "store.db"

    @property
    def operator_key(self) -> Path:
        return self.root / "keys" / "operator.key"

    @property
    def operator_babyjub_key(self) -> Path:
        """The operator's Baby Jubjub key (prover.crypto.eddsa key file): the inbox's key."""
        return self.root / "keys" / "operator-babyjub.key"

    @property
    def feed_key(self) -> Path:
        return self.root / "keys" / "feed.key"

    @property
    def anvil_state(self) -> Path:
        return self.root / "chain" / "anvil-state.json"

    @property
    def anvil_log(self) -> Path:
        return self.root / "chain" / "anvil.log"

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def receipts(self) -> Path:
        """One folder per account of the receipts it was handed (prover/operator/receipts.py)."""
        return self.root / "receipts"

    @property
    def lock(self) -> Path:
        return self.root / "operator.lock"

    def exists(self) -> bool:
        return self.deployment.is_file()

    def read_deployment(self) -> dict[str, Any]:
        """``deployment.json``; a :class:`DataDirError` telling how to make one if absent."""
        try:
            data = json.loads(self.deployment.read_text())
        except FileNotFoundError:
            raise DataDirError(
                f"{self.root} holds no deployment ({DEPLOYMENT} missing); "
                f"run `zkmatch deploy --data {self.root}` first"
            ) from None
        except (OSError, json.JSONDecodeError) as exc:
            raise DataDirError(f"{self.deployment} is unreadable: {exc}") from exc
        if not isinstance(data, dict):
            raise DataDirError(f"{self.deployment}: expected a JSON object")
        return data

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold ``operator.lock`` (one operator per data folder); refuses if held."""
        self.root.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = self.lock.open("a+")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise DataDirError(
                    f"another zkmatch operator is running on {self.root} ({self.lock} is held)"
                ) from None
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            handle.close()


__all__ = ["DEPLOYMENT", "DataDir", "DataDirError", "write_json"]
