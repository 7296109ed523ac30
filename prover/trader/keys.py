"""A trader's key file: the account key that signs orders and the key that pays for sending.

One JSON file, mode 0600, holds two unrelated keys::

    {"kind": "zkmatch-trader-key", "version": 1,
     "babyjub_private_key": "<64 hex>", "public_key": ["x", "y"],
     "eth_private_key": "0x<64 hex>", "eth_address": "0x...",
     "development_seed": false}

* the **account key** (Baby Jubjub, EdDSA-Poseidon, :class:`~prover.crypto.eddsa.PrivateKey`):
  its public key is the account's key in the state tree; it signs orders and cancels;
* the **sending key** (an Ethereum account, :class:`~prover.chain.signer.Signer`): it pays
  for ``Rollup.sendMessage``. It is drawn separately (never derived from the account key),
  so the address that sends a message does not name the account it is for
  (docs/inbox.md, "Who sees what").

The file is written to a temporary file in the same folder (created 0600), fsynced, then
linked into place (``os.link`` fails if the name exists: no overwrite, no window in which
a half-written key is visible) or, with ``force``, renamed over the old one. Reading
refuses a missing file, a file others can read or write (as ssh does), another kind of
file, and a file whose public key or address does not match its private keys.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prover.chain.signer import Signer
from prover.crypto.eddsa import PrivateKey
from prover.errors import ZkmatchError
from prover.keyfile import KeyFileError, read_key_file

KIND = "zkmatch-trader-key"
VERSION = 1
_ETH_SEED_DOMAIN = b"zkmatch/trader-eth-key/v1\x00"

#: Printed (on stderr) whenever a key is made from a seed.
SEED_WARNING = (
    "DEVELOPMENT KEY: derived from --seed; anyone who knows or guesses the seed has this "
    "key and can trade (and withdraw) for the account. Never use it for real funds."
)


@dataclass(frozen=True)
class TraderKey:
    """The two private keys of a trader (``repr`` shows only the public parts)."""

    account_key: PrivateKey
    eth_key: bytes = field(repr=False)
    development_seed: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.eth_key, bytes) or len(self.eth_key) != 32:
            raise ZkmatchError("an Ethereum private key is 32 bytes")

    @classmethod
    def generate(cls) -> TraderKey:
        """Two fresh, independent random keys."""
        return cls(PrivateKey.generate(), secrets.token_bytes(32))

    @classmethod
    def from_seed(cls, seed: str) -> TraderKey:
        """Development only: both keys from ``seed`` (the account key as
        :meth:`PrivateKey.from_seed`, the sending key under its own domain tag)."""
        eth = hashlib.blake2b(_ETH_SEED_DOMAIN + seed.encode("utf-8"), digest_size=32).digest()
        return cls(PrivateKey.from_seed(seed), eth, development_seed=True)

    @property
    def public_key(self) -> tuple[int, int]:
        return self.account_key.public_key

    @property
    def signer(self) -> Signer:
        """The sending account (signs ``sendMessage`` transactions here)."""
        return Signer(self.eth_key)

    @property
    def eth_address(self) -> str:
        return self.signer.address

    def public_json(self) -> dict[str, Any]:
        """What may be shown: the account's public key and the sending address."""
        x, y = self.public_key
        return {"public_key": [str(x), str(y)], "eth_address": self.eth_address}

    def private_json(self) -> dict[str, Any]:
        """The secrets (``keygen --show-private`` only)."""
        return {
            "babyjub_private_key": self.account_key.hex(),
            "eth_private_key": "0x" + self.eth_key.hex(),
        }

    def to_json(self) -> dict[str, Any]:
        """The key file's contents."""
        return {
            "kind": KIND,
            "version": VERSION,
            **self.private_json(),
            **self.public_json(),
            "development_seed": self.development_seed,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "key file") -> TraderKey:
        """Parse :meth:`to_json`; :class:`KeyFileError` naming ``where`` if malformed."""
        if data.get("version") != VERSION:
            raise KeyFileError(f"{where}: unsupported trader key version {data.get('version')!r}")
        try:
            account = PrivateKey.from_hex(str(data["babyjub_private_key"]))
            eth = bytes.fromhex(str(data["eth_private_key"]).removeprefix("0x"))
            key = cls(account, eth, development_seed=bool(data.get("development_seed", False)))
        except (KeyError, ValueError, ZkmatchError) as exc:
            raise KeyFileError(f"{where}: not a usable trader key ({exc})") from exc
        public = key.public_json()
        if "public_key" in data and data["public_key"] != public["public_key"]:
            raise KeyFileError(f"{where}: public_key does not match babyjub_private_key")
        if "eth_address" in data and str(data["eth_address"]).lower() != (
            public["eth_address"].lower()
        ):
            raise KeyFileError(f"{where}: eth_address does not match eth_private_key")
        return key


def save_trader_key(path: Path, key: TraderKey, *, force: bool = False) -> Path:
    """Write ``key`` to ``path`` atomically, mode 0600; never overwrites unless ``force``."""
    target = Path(path)
    if target.is_dir():
        raise KeyFileError(f"{target} is a folder; give a file name for the key")
    if target.exists() and not force:
        raise KeyFileError(f"{target} already exists; refusing to overwrite a key (--force)")
    text = json.dumps(key.to_json(), indent=1) + "\n"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise KeyFileError(f"cannot create {target}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp creates it 0600
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o600)
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # atomic, and fails if the name appeared meanwhile
            except FileExistsError as exc:
                raise KeyFileError(
                    f"{target} already exists; refusing to overwrite a key (--force)"
                ) from exc
    except OSError as exc:
        raise KeyFileError(f"cannot write key file {target}: {exc.strerror or exc}") from exc
    finally:
        Path(tmp).unlink(missing_ok=True)
    _fsync_dir(target.parent)
    return target


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - a platform without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def new_trader_key(path: Path, *, seed: str | None = None, force: bool = False) -> TraderKey:
    """Make a trader key (random, or from ``seed`` for development) and save it."""
    key = TraderKey.from_seed(seed) if seed is not None else TraderKey.generate()
    save_trader_key(path, key, force=force)
    return key


def load_trader_key(path: Path) -> TraderKey:
    """Read a trader key file; :class:`KeyFileError` for a missing or unreadable file, one
    that group or others may access, another kind of file, or inconsistent keys."""
    path = Path(path)
    if path.is_dir():
        raise KeyFileError(f"key file {path} is a folder")
    data = read_key_file(path, KIND)
    return TraderKey.from_json(data, where=str(path))


__all__ = [
    "KIND",
    "SEED_WARNING",
    "VERSION",
    "TraderKey",
    "load_trader_key",
    "new_trader_key",
    "save_trader_key",
]
