"""Key files: small JSON documents holding a private key, readable by their owner only.

``write_key_file`` creates the file with ``O_CREAT | O_EXCL`` and mode 0600 (it never
overwrites a key), writes it in full and fsyncs it; ``read_key_file`` refuses a file of
the wrong kind, malformed JSON, or one that others can read (as ssh does), each with a
message naming the file.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from prover.errors import ZkmatchError


class KeyFileError(ZkmatchError):
    """A key file is missing, malformed, of another kind, or readable by others."""


def write_key_file(path: Path, kind: str, fields: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(f"{path} already exists; a key file is never overwritten") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot create {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps({"kind": kind, **fields}, indent=1) + "\n")
        out.flush()
        os.fsync(out.fileno())


def read_key_file(path: Path, kind: str) -> dict[str, Any]:
    path = Path(path)
    try:
        mode = path.stat().st_mode
        text = path.read_text()
    except FileNotFoundError as exc:
        raise KeyFileError(f"key file {path} does not exist") from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"key file {path} is readable by others (mode {stat.S_IMODE(mode):o}); "
            f"chmod 600 {path}"
        )
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KeyFileError(f"key file {path} is not valid JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("kind") != kind:
        found = data.get("kind") if isinstance(data, dict) else type(data).__name__
        raise KeyFileError(f"{path} is not a {kind} file (kind {found!r})")
    return data


__all__ = ["KeyFileError", "read_key_file", "write_key_file"]
