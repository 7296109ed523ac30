"""Content-addressed build cache for circuit artifacts.

An entry is a folder ``<build root>/<name>-<key>/`` where ``key`` hashes everything that
decides the compiled circuit: the text of the main file and of every file it includes,
recursively (circomlib's too), the generated wrapper, the template parameters and the tool
versions. Change any of them and the key changes; change nothing and a second build finds
the entry and compiles nothing.

Writes are atomic: a stage is built in a hidden temp folder beside its final place and
renamed into place only when complete, so a crash or a concurrent build never leaves a
half-written entry that a later run would trust.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from prover.errors import ToolError
from prover.toolchain.common import REPO_ROOT

_INCLUDE = re.compile(r'\binclude\s+"([^"]+)"\s*;')
_COMMENTS = re.compile(r"//[^\n]*|/\*.*?\*/", re.DOTALL)


def build_root() -> Path:
    """``ZKMATCH_BUILD_DIR``, else ``<repo>/.zkmatch/build``."""
    override = os.environ.get("ZKMATCH_BUILD_DIR")
    return Path(override).resolve() if override else REPO_ROOT / ".zkmatch" / "build"


def includes_of(text: str) -> list[str]:
    """The ``include "..."`` targets of a circom source, comments ignored (pure)."""
    return _INCLUDE.findall(_COMMENTS.sub("", text))


def resolve_include(name: str, from_dir: Path, include_dirs: Sequence[Path]) -> Path:
    """Where circom finds ``include "name"``: beside the including file, then each ``-l``."""
    for root in (from_dir, *include_dirs):
        candidate = (root / name).resolve()
        if candidate.is_file():
            return candidate
    searched = ", ".join(str(d) for d in (from_dir, *include_dirs))
    raise ToolError(f'circom source: include "{name}" not found (searched {searched})')


def source_closure(main: Path, include_dirs: Sequence[Path]) -> list[Path]:
    """``main`` and every file it includes, recursively, each once, in discovery order."""
    seen: dict[Path, None] = {}
    stack = [main.resolve()]
    while stack:
        path = stack.pop()
        if path in seen:
            continue
        if not path.is_file():
            raise ToolError(f"circom source {path} does not exist")
        seen[path] = None
        for name in reversed(includes_of(path.read_text())):
            stack.append(resolve_include(name, path.parent, include_dirs))
    return list(seen)


def _label(path: Path) -> str:
    try:
        return path.relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return path.as_posix()


def cache_key(files: Iterable[Path], parts: Mapping[str, Any]) -> str:
    """Hex SHA-256 over the JSON of ``parts`` and each file's name and content.

    Files are named relative to the repository when inside it (so the key does not depend
    on where the checkout lives) and hashed in name order. Reads the files, writes nothing.
    """
    digest = hashlib.sha256()
    digest.update(json.dumps(parts, sort_keys=True, default=str).encode())
    for path in sorted(files, key=_label):
        digest.update(b"\0file\0" + _label(path).encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def file_fingerprint(path: Path, chunk: int = 1 << 20) -> str:
    """A cheap identity for a large file (a ptau can be many GB): size + first and last MiB."""
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with path.open("rb") as handle:
        digest.update(handle.read(chunk))
        if size > chunk:
            handle.seek(max(chunk, size - chunk))
            digest.update(handle.read(chunk))
    return digest.hexdigest()


@contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temp folder; on success it becomes ``final`` in one rename.

    If ``final`` appeared meanwhile (another process built the same thing), the new copy is
    thrown away and the existing one kept: both came from the same inputs. On an exception
    the temp folder is removed and ``final`` is untouched.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
    temp.chmod(0o755)  # mkdtemp makes it 0700; the entry is shared like any build output
    try:
        yield temp
        try:
            temp.rename(final)
        except OSError:
            if not final.is_dir():
                raise
            shutil.rmtree(temp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def write_text_atomic(path: Path, text: str) -> None:
    """Write a file through a temp file and ``os.replace`` (readers never see half of it)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True) + "\n")
