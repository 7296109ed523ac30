"""Powers of tau: find, check or make the prepared ptau file that a Groth16 setup needs.

``snarkjs groth16 setup`` needs a *prepared* ("phase2-ready") BN254 powers-of-tau file: one with
the Lagrange sections 12-15 that ``snarkjs powersoftau prepare phase2`` adds. For anything real
that file comes from a public multi-party ceremony (for example the Hermez/Polygon
``powersOfTau28_hez_final_<k>.ptau`` files) and is passed in explicitly. For development,
:func:`resolve_ptau` finds one or makes one:

1. ``ptau`` given: that file, after checking it is a BN254 ptau, large enough and prepared;
2. else the smallest prepared ``*.ptau`` of large enough power in ``$ZKMATCH_PTAU_DIR``;
3. else the smallest cached development file ``dev_<k>.ptau`` in ``<cache>/ptau/``
   (``$ZKMATCH_CACHE_DIR``, default ``<repo>/.zkmatch/cache``);
4. else a new ``dev_<k>.ptau`` written there by ``devptau.mjs`` (``k`` at least
   :data:`MIN_DEV_POWER`), with a loud DEVELOPMENT ONLY warning on stderr.

A development file is made from a tau (and alpha, beta) drawn on this machine and then forgotten;
whoever ran the generator could have kept them and could then forge proofs for every circuit set
up on that file. See docs/ptau.md.

The file format (snarkjs ``binfileutils``): ``b"ptau"``, u32 version (1), u32 number of sections,
then each section as u32 id, u64 byte size, data. Section 1 holds u32 n8 (32), the base-field
modulus q (n8 bytes, little endian), u32 power and u32 ceremony power.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from prover.errors import SetupError, ToolError
from prover.toolchain.common import find_node

#: A progress sink: one human-readable line per call.
Progress = Callable[[str], None]

#: Repository root (this file is ``prover/toolchain/ptau.py``).
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
NODE_MODULES: Final = REPO_ROOT / "node_modules"
DEVPTAU_SCRIPT: Final = Path(__file__).resolve().parent / "devptau.mjs"

PTAU_MAGIC: Final = b"ptau"
#: BN254 base-field modulus, as stored in section 1.
BN254_Q: Final = 21888242871839275222246405745257275088696311157297823662689037894645226208583
#: The largest power a BN254 ptau can have (2-adicity of the scalar field is 28).
MAX_POWER: Final = 28
#: The largest power devptau.mjs writes (its Lagrange level power+1 must not exceed 28).
MAX_DEV_POWER: Final = 27
#: Development files are never made smaller than this. snarkjs itself accepts any power >= 1 for
#: Groth16, but below 2^8 the run is all start-up (about a second either way), so one 2^8 file
#: serves every tiny test circuit instead of a cache full of 2^1..2^7 files.
MIN_DEV_POWER: Final = 8

SECTION_HEADER: Final = 1
SECTION_CONTRIBUTIONS: Final = 7
BASE_SECTIONS: Final = (1, 2, 3, 4, 5, 6, 7)
LAGRANGE_SECTIONS: Final = (12, 13, 14, 15)

_G1: Final = 64  # affine G1 point, two 32-byte coordinates
_G2: Final = 128  # affine G2 point, two Fq2 coordinates

SETUP_HINT: Final = "run `make setup` to install node and the pinned JavaScript tools"
PTAU_HINT: Final = (
    "pass a prepared ceremony file with --ptau (for example powersOfTau28_hez_final_<k>.ptau), "
    "or leave --ptau out to use a development ptau"
)

DEV_WARNING: Final = """\
================================================================================
  DEVELOPMENT ONLY -- NOT FOR PRODUCTION
  Writing a powers-of-tau file whose tau was generated on this machine:
  {path}
  Anyone who could read this process's memory could forge proofs for every
  circuit set up with it. Use --ptau with a public ceremony file (for example
  powersOfTau28_hez_final_<k>.ptau) for anything real.
================================================================================"""


@dataclass(frozen=True)
class PtauInfo:
    """What a ptau file's header and section table say about it."""

    path: Path
    #: Points cover polynomials of degree < 2^power (Groth16 circuits up to 2^power rows).
    power: int
    #: The power of the ceremony the file came from (larger when the file was truncated).
    ceremony_power: int
    #: Section ids present, sorted.
    sections: tuple[int, ...]
    #: Whether the Lagrange sections 12-15 are present (``prepare phase2`` was run).
    prepared: bool
    size: int


def _expected_sizes(power: int) -> dict[int, int]:
    """Byte sizes snarkjs gives each point section of a ptau of this power (pure)."""
    n = 2**power
    return {
        2: (2 * n - 1) * _G1,
        3: n * _G2,
        4: n * _G1,
        5: n * _G1,
        6: _G2,
        12: (4 * n - 1) * _G1,
        13: (2 * n - 1) * _G2,
        14: (2 * n - 1) * _G1,
        15: (2 * n - 1) * _G1,
    }


def read_ptau_header(path: Path) -> PtauInfo:
    """Read a ptau file's header and section table and check they are consistent.

    Reads only the first few hundred bytes plus one seek per section. Raises
    :class:`SetupError` when the file is missing, is not a ptau, is not for BN254, is truncated,
    or has a section whose size does not match its power.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        fh = path.open("rb")
    except OSError as exc:
        raise SetupError(f"cannot read ptau file {path}: {exc.strerror or exc}") from exc
    with fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != PTAU_MAGIC:
            raise SetupError(f"{path} is not a powers-of-tau file (no 'ptau' magic); {PTAU_HINT}")
        version, n_sections = struct.unpack("<II", head[4:])
        if version != 1:
            raise SetupError(f"{path}: ptau format version {version} is not supported (want 1)")
        sections: dict[int, tuple[int, int]] = {}
        pos = 12
        for _ in range(n_sections):
            fh.seek(pos)
            raw = fh.read(12)
            if len(raw) < 12:
                raise SetupError(f"{path} is truncated (section table ends at byte {pos})")
            sid, length = struct.unpack("<IQ", raw)
            pos += 12
            if pos + length > size:
                raise SetupError(
                    f"{path} is truncated: section {sid} needs {length} bytes at {pos}, "
                    f"the file has {size}"
                )
            if sid in sections:
                raise SetupError(f"{path} is corrupt: section {sid} appears twice")
            sections[sid] = (pos, length)
            pos += length
        if pos != size:
            raise SetupError(f"{path} is corrupt: {size - pos} stray bytes after the last section")
        if SECTION_HEADER not in sections:
            raise SetupError(f"{path} is corrupt: no header section")
        start, length = sections[SECTION_HEADER]
        fh.seek(start)
        header = fh.read(length)
    if length < 4:
        raise SetupError(f"{path} is corrupt: header section too short")
    (n8,) = struct.unpack_from("<I", header)
    if length != 4 + n8 + 8:
        raise SetupError(f"{path} is corrupt: header section is {length} bytes, want {12 + n8}")
    q = int.from_bytes(header[4 : 4 + n8], "little")
    power, ceremony_power = struct.unpack_from("<II", header, 4 + n8)
    if n8 != 32 or q != BN254_Q:
        raise SetupError(f"{path} is not a BN254 (bn128) ptau; zkmatch proves on BN254")
    if not 1 <= power <= MAX_POWER or ceremony_power < power:
        raise SetupError(f"{path} is corrupt: power {power}, ceremony power {ceremony_power}")
    missing = [s for s in BASE_SECTIONS if s not in sections]
    if missing:
        raise SetupError(f"{path} is corrupt: sections {missing} are missing")
    expected = _expected_sizes(power)
    for sid, want in expected.items():
        if sid in sections and sections[sid][1] != want:
            raise SetupError(
                f"{path} is corrupt: section {sid} is {sections[sid][1]} bytes, "
                f"a 2^{power} ptau has {want}"
            )
    prepared = all(s in sections for s in LAGRANGE_SECTIONS)
    return PtauInfo(path, power, ceremony_power, tuple(sorted(sections)), prepared, size)


def check_ptau(path: Path, power: int) -> PtauInfo:
    """The header of ``path`` if it can serve a Groth16 setup needing ``2^power``.

    Raises :class:`SetupError` saying what to do when it cannot: not a ptau, corrupt, too
    small, or not prepared for phase 2. When the file's folder has a ``SHA256SUMS`` listing it,
    the checksum must match too.
    """
    info = read_ptau_header(path)
    if info.power < power:
        raise SetupError(
            f"{path} has power {info.power} but this circuit needs at least {power} "
            f"(2^{power} rows); use a larger file, for example powersOfTau28_hez_final_{power}.ptau"
        )
    if not info.prepared:
        raise SetupError(
            f"{path} is not prepared for phase 2 (no Lagrange sections 12-15); run "
            f"`snarkjs powersoftau prepare phase2 {path.name} <out.ptau>` or use a "
            "*_final_* ceremony file, which is prepared"
        )
    _check_sha256sums(Path(path))
    return info


def required_power(n_constraints: int, n_public_inputs: int = 0, n_outputs: int = 0) -> int:
    """The ptau power ``snarkjs groth16 setup`` needs for a circuit (its own formula, pure).

    snarkjs uses ``floor(log2(constraints + public inputs + outputs)) + 1``.
    """
    rows = n_constraints + n_public_inputs + n_outputs
    if rows < 1:
        raise ValueError("a circuit has at least one row")
    return rows.bit_length()


# ---- finding files -------------------------------------------------------------------------


def cache_dir() -> Path:
    """``$ZKMATCH_CACHE_DIR/ptau``, default ``<repo>/.zkmatch/cache/ptau``."""
    root = os.environ.get("ZKMATCH_CACHE_DIR")
    base = Path(root).expanduser() if root else REPO_ROOT / ".zkmatch" / "cache"
    return base.resolve() / "ptau"


def dev_ptau_name(power: int) -> str:
    """File name of the development ptau of this power (``dev_16.ptau``)."""
    return f"dev_{power}.ptau"


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".json")


def _candidates(folder: Path, pattern: str, power: int, progress: Progress) -> list[PtauInfo]:
    """Prepared ptau files in ``folder`` of power >= ``power``, smallest power first."""
    found: list[PtauInfo] = []
    if not folder.is_dir():
        return found
    for path in sorted(folder.glob(pattern)):
        if not path.is_file():
            continue
        try:
            info = read_ptau_header(path)
        except SetupError as exc:
            progress(f"ptau: skipping {path}: {exc}")
            continue
        if info.power >= power and info.prepared:
            found.append(info)
    found.sort(key=lambda i: (i.power, i.path.name))
    return found


def resolve_ptau(power: int, ptau: Path | None = None, *, progress: Progress | None = None) -> Path:
    """A prepared ptau file of power at least ``power`` (see the module docstring for the order).

    ``power`` is the ptau power the circuit needs (:func:`required_power`). Raises
    :class:`SetupError` when ``ptau`` is given but unusable, or a file in ``$ZKMATCH_PTAU_DIR``
    fails its ``SHA256SUMS``; :class:`ToolError` when a file must be generated and node or the
    JavaScript tools are missing.
    """
    if not 1 <= power <= MAX_POWER:
        raise SetupError(f"a BN254 ptau has power 1..{MAX_POWER}; {power} was asked for")
    say = progress or _stderr
    if ptau is not None:
        path = Path(ptau).expanduser()
        if not path.exists():
            raise SetupError(f"ptau file {path} does not exist; {PTAU_HINT}")
        check_ptau(path, power)
        return path.resolve()

    env_dir = os.environ.get("ZKMATCH_PTAU_DIR")
    if env_dir:
        for info in _candidates(Path(env_dir).expanduser(), "*.ptau", power, say):
            _check_sha256sums(info.path)
            say(f"ptau: using {info.path} (2^{info.power}, from ZKMATCH_PTAU_DIR)")
            return info.path.resolve()

    folder = cache_dir()
    cached = _cached_dev(folder, power, say)
    if cached is not None:
        return cached

    gen_power = max(power, MIN_DEV_POWER)
    if gen_power > MAX_DEV_POWER:
        raise SetupError(
            f"no ptau of power {power} found and development files stop at 2^{MAX_DEV_POWER}; "
            f"{PTAU_HINT}"
        )
    out = folder / dev_ptau_name(gen_power)
    folder.mkdir(parents=True, exist_ok=True)
    with _lock(folder / f".{out.name}.lock"):
        # Another process may have made it while we waited for the lock.
        cached = _cached_dev(folder, power, say)
        if cached is not None:
            return cached
        # Left by a killed run (we hold the lock, so nobody is writing them now).
        for stale in folder.glob(f".{out.name}.part-*"):
            stale.unlink(missing_ok=True)
        print(DEV_WARNING.format(path=out), file=sys.stderr, flush=True)
        return generate_dev_ptau(gen_power, out, progress=say)


def _cached_dev(folder: Path, power: int, say: Progress) -> Path | None:
    """The smallest intact cached ``dev_<k>.ptau`` with ``k >= power``; corrupt ones removed."""
    for info in _candidates(folder, "dev_*.ptau", power, say):
        if _dev_file_intact(info.path):
            say(f"ptau: using cached development ptau {info.path} (2^{info.power})")
            return info.path
        say(f"ptau: {info.path} does not match its checksum; removing it")
        info.path.unlink(missing_ok=True)
        _sidecar(info.path).unlink(missing_ok=True)
    return None


def _dev_file_intact(path: Path) -> bool:
    """Whether a cached development ptau still has the checksum recorded when it was made."""
    try:
        meta = json.loads(_sidecar(path).read_text())
        return bool(meta.get("sha256") == file_sha256(path))
    except (OSError, ValueError):
        return False


_sha_cache: dict[tuple[str, int, int], str] = {}
_sha_lock = threading.Lock()


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file (memoised per path, size and mtime within this process)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _sha_lock:
        if key in _sha_cache:
            return _sha_cache[key]
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    value = digest.hexdigest()
    with _sha_lock:
        _sha_cache[key] = value
    return value


def _check_sha256sums(path: Path) -> None:
    """If ``SHA256SUMS`` beside ``path`` lists it, the file must match; else nothing to check."""
    sums = path.parent / "SHA256SUMS"
    if not sums.is_file():
        return
    for line in sums.read_text().splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*") == path.name:
            if file_sha256(path) != parts[0].lower():
                raise SetupError(
                    f"{path} does not match its checksum in {sums}: the file is corrupt or was "
                    "replaced; restore it or remove it"
                )
            return


@contextlib.contextmanager
def _lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (no-op where ``fcntl`` is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ---- generating ----------------------------------------------------------------------------


def build_command(
    power: int,
    out: Path,
    seed: bytes | None = None,
    *,
    node: str = "node",
    script: Path = DEVPTAU_SCRIPT,
    node_modules: Path = NODE_MODULES,
    threads: int | None = None,
) -> list[str]:
    """The argument list that makes ``devptau.mjs`` write a 2^power ptau to ``out`` (pure)."""
    if not 1 <= power <= MAX_DEV_POWER:
        raise SetupError(f"development ptau power must be in 1..{MAX_DEV_POWER}, not {power}")
    argv = [node, str(script), str(power), str(out), "--node-modules", str(node_modules)]
    if seed is not None:
        if not seed:
            raise ValueError("seed must not be empty")
        argv += ["--seed", seed.hex()]
    if threads is not None:
        argv += ["--threads", str(threads)]
    return argv


def run_script(
    argv: list[str], cwd: Path, progress: Progress | None = None, *, script: str = "devptau.mjs"
) -> dict[str, Any]:
    """Run a node script (no shell, in ``cwd``) that prints progress on stderr and one JSON
    summary line on stdout; return the summary. stderr lines go to ``progress``. Raises
    :class:`ToolError` when node cannot start or the script fails. On an exception (Ctrl-C) the
    script gets SIGTERM first, so it deletes its temporary file."""
    say = progress or _stderr
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            bufsize=1,
        )
    except OSError as exc:
        raise ToolError(f"cannot start node for {script}: {exc}; {SETUP_HINT}") from exc
    stdout_parts: list[str] = []
    out_pipe, err_pipe = proc.stdout, proc.stderr
    assert out_pipe is not None and err_pipe is not None
    reader = threading.Thread(target=lambda: stdout_parts.append(out_pipe.read()), daemon=True)
    reader.start()
    tail: list[str] = []
    try:
        for raw in err_pipe:
            line = raw.rstrip("\n")
            if line:
                tail = [*tail[-19:], line]
                say(line)
        code = proc.wait()
    except BaseException:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        raise
    reader.join()
    if code != 0:
        joined = "\n".join(tail)
        hint = f"; {SETUP_HINT}" if "run `make setup`" in joined or code == 3 else ""
        raise ToolError(f"{script} failed (exit {code}){hint}:\n{joined}")
    try:
        summary: dict[str, Any] = json.loads("".join(stdout_parts).strip().splitlines()[-1])
    except (ValueError, IndexError) as exc:
        raise ToolError(f"{script} printed no JSON summary: {''.join(stdout_parts)!r}") from exc
    summary["wall_seconds"] = round(time.monotonic() - start, 3)
    return summary


def run(argv: list[str], cwd: Path, out: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run a ``build_command()`` list: no shell, in ``cwd``; return devptau's JSON summary.

    stderr lines (devptau's progress) go to ``progress``. Raises :class:`ToolError` when node
    cannot start or fails, or the output is missing or not a prepared ptau of the asked power.
    """
    summary = run_script(argv, cwd, progress)
    if not out.is_file():
        raise ToolError(f"devptau.mjs exited 0 but did not write {out}")
    try:
        info = read_ptau_header(out)
    except SetupError as exc:
        raise ToolError(f"devptau.mjs wrote an unreadable ptau: {exc}") from exc
    if info.power != summary.get("power") or not info.prepared:
        raise ToolError(
            f"devptau.mjs wrote {out} with power {info.power}, prepared={info.prepared}"
        )
    return summary


def generate_dev_ptau(
    power: int,
    out: Path,
    seed: bytes | None = None,
    progress: Progress | None = None,
) -> Path:
    """Write a prepared 2^power development ptau to ``out`` and return ``out``.

    ``seed`` makes the file reproducible (tests only: anyone with the seed knows tau). A
    ``<out>.json`` sidecar records devptau's summary and the file's SHA-256 so a cached copy can
    be checked later. Raises :class:`ToolError` when node or ``node_modules`` is missing or the
    generator fails.
    """
    node = find_node()
    if not (NODE_MODULES / "snarkjs" / "package.json").is_file():
        raise ToolError(f"snarkjs not found under {NODE_MODULES}; {SETUP_HINT}")
    if not DEVPTAU_SCRIPT.is_file():
        raise ToolError(f"{DEVPTAU_SCRIPT} is missing; reinstall zkmatch")
    out = Path(out).expanduser().resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    # The file appears under its final name only after its checksum record, so a concurrent
    # reader never sees a dev file without one (and takes it for corrupt).
    part = out.with_name(f".{out.name}.part-{os.getpid()}")
    try:
        argv = build_command(power, part, seed, node=node)
        summary = run(argv, out.parent, part, progress)
        summary["path"] = str(out)
        summary["sha256"] = file_sha256(part)
        sidecar = _sidecar(out)
        tmp = sidecar.with_name(f".{sidecar.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
        tmp.replace(sidecar)
        part.replace(out)
    finally:
        part.unlink(missing_ok=True)
    st = out.stat()  # a rename keeps size and mtime: remember the checksum under the new name
    with _sha_lock:
        _sha_cache[(str(out), st.st_size, st.st_mtime_ns)] = summary["sha256"]
    return out
