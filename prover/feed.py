"""The price feed: a Baby Jubjub key in a file, and signed price sets.

A feed signs ``H_PRICES(t, H(marks), H(funding))`` (:meth:`PriceSet.prices_hash`) for a
time, not for a batch: the operator puts a signed set into whichever batch comes next,
and the batch circuit checks the signature against the feed key the Rollup registered
(docs/settlement.md). ``zkmatch feed keygen`` / ``zkmatch feed sign`` are its commands.

Files: a key file ``{"kind": "zkmatch-feed-key", "private_key": hex, "public_key": [x, y]}``
(mode 0600, :mod:`prover.keyfile`), and a price file, the :class:`PriceSet` JSON
(``batch_number`` is ignored by the operator, which numbers batches itself).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from prover.crypto.eddsa import PrivateKey
from prover.errors import ProtocolError, ZkmatchError
from prover.exchange.domain import PriceSet
from prover.keyfile import read_key_file, write_key_file

KIND = "zkmatch-feed-key"


def new_feed_key(path: Path, *, seed: str | None = None) -> PrivateKey:
    """Make a feed key (random, or from ``seed`` for development) and write it to ``path``."""
    key = PrivateKey.from_seed(seed) if seed is not None else PrivateKey.generate()
    save_feed_key(path, key)
    return key


def save_feed_key(path: Path, key: PrivateKey) -> None:
    x, y = key.public_key
    write_key_file(path, KIND, {"private_key": key.hex(), "public_key": [str(x), str(y)]})


def load_feed_key(path: Path) -> PrivateKey:
    data = read_key_file(path, KIND)
    try:
        return PrivateKey.from_hex(str(data["private_key"]))
    except (KeyError, ValueError, ZkmatchError) as exc:
        raise ZkmatchError(f"{path}: not a usable feed key ({exc})") from exc


def sign_prices(
    key: PrivateKey,
    marks: Sequence[int],
    funding: Sequence[int] | None = None,
    *,
    timestamp: int | None = None,
) -> PriceSet:
    """A price set for ``timestamp`` (default: now, in whole seconds), signed by ``key``.

    ``funding`` defaults to zero per market. Raises :class:`ProtocolError` for a mark or
    an index out of its protocol range."""
    t = int(time.time()) if timestamp is None else timestamp
    funding = tuple(funding) if funding is not None else (0,) * len(marks)
    return PriceSet(0, t, tuple(marks), funding).signed(key)


def write_price_set(path: Path, prices: PriceSet) -> None:
    """Write a price file atomically (a temporary file, fsync, rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w") as out:
        out.write(json.dumps(prices.to_json(), indent=1) + "\n")
        out.flush()
        os.fsync(out.fileno())
    tmp.replace(path)


def read_price_set(path: Path) -> PriceSet:
    """A signed price set from a price file; clear errors for a missing, malformed or
    unsigned file (whether the *registered* feed signed it is the operator's check)."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ZkmatchError(f"cannot read price file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ZkmatchError(f"price file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ZkmatchError(f"price file {path}: expected a JSON object")
    data.setdefault("batch_number", "0")
    try:
        prices = PriceSet.from_json(data)
    except (ProtocolError, ValueError, KeyError, TypeError) as exc:
        raise ZkmatchError(f"price file {path}: {exc}") from exc
    if prices.signature is None:
        raise ZkmatchError(f"price file {path} carries no feed signature")
    return prices


def newest_price_set(folder: Path, after: int) -> PriceSet | None:
    """The price set with the largest timestamp above ``after`` among ``folder/*.json``
    (files that do not read are skipped: a feed may be writing one), or None."""
    best: PriceSet | None = None
    for path in sorted(Path(folder).glob("*.json")):
        try:
            prices = read_price_set(path)
        except ZkmatchError:
            continue
        if prices.timestamp > after and (best is None or prices.timestamp > best.timestamp):
            best = prices
    return best


def for_batch(prices: PriceSet, batch_number: int) -> PriceSet:
    """``prices`` numbered for ``batch_number`` (the signature does not cover the number)."""
    return replace(prices, batch_number=batch_number)


__all__ = [
    "KIND",
    "for_batch",
    "load_feed_key",
    "new_feed_key",
    "newest_price_set",
    "read_price_set",
    "save_feed_key",
    "sign_prices",
    "write_price_set",
]
