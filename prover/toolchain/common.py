"""What every tool wrapper shares: where things are, which versions we accept, how to run.

Tools are JavaScript packages pinned in ``package.json`` (circom as the ``circom2`` WebAssembly
package, snarkjs, solc) run with ``node``, plus the ``anvil`` binary from ``@foundry-rs/anvil``.
Each can be overridden by an environment variable (``ZKMATCH_NODE``, ``ZKMATCH_CIRCOM``,
``ZKMATCH_SNARKJS``, ``ZKMATCH_SOLC``, ``ZKMATCH_ANVIL``); see docs/toolchain.md.

:func:`run_tool` is the only place a tool process is started (anvil, a server, has its own
:mod:`prover.toolchain.anvil`): no shell, an explicit working folder, output relayed line by
line to a progress callback, and a :class:`~prover.errors.ToolError` that says which tool, which
command, what went wrong and what to do, whenever the tool is missing, the wrong version, exits
non-zero or does not write a file it should have.
"""

from __future__ import annotations

import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from prover.errors import ToolError

#: A progress sink: one human-readable line per call (the CLI prints it on stderr).
Progress = Callable[[str], None]

#: The repository root (this file is ``prover/toolchain/common.py``).
REPO_ROOT: Final = Path(__file__).resolve().parents[2]
#: Where ``npm ci`` puts the pinned JavaScript tools.
NODE_MODULES: Final = REPO_ROOT / "node_modules"
#: Top of the circom sources (``circuits/lib``, ``circuits/main``, ``circuits/test``).
CIRCUITS_DIR: Final = REPO_ROOT / "circuits"

SETUP_HINT: Final = "run `make setup` to install the pinned tools"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class ToolInfo:
    """How to find one tool and which version of it zkmatch accepts."""

    name: str
    env_var: str
    #: Default location relative to ``node_modules`` (a script run with node, or a binary).
    default: str
    #: Regex applied to the ``--version`` output; group 1 is the version.
    version_pattern: str
    #: Accepted versions: an exact version, or a prefix ending in ``.`` (``"1.7."``).
    version: str
    #: Arguments that make the tool print its version.
    version_args: tuple[str, ...] = ("--version",)


def _anvil_default() -> str:
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win32"}.get(platform.system(), "")
    machine = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
        platform.machine(), platform.machine()
    )
    exe = "anvil.exe" if system == "win32" else "anvil"
    return f"@foundry-rs/anvil-{system}-{machine}/bin/{exe}"


#: The solc driver: our own node script around solcjs's standard-JSON API.
SOLC_DRIVER: Final = Path(__file__).resolve().parent / "solc_compile.mjs"

TOOLS: Final[dict[str, ToolInfo]] = {
    "circom": ToolInfo(
        "circom", "ZKMATCH_CIRCOM", "circom2/cli.js", r"circom compiler (\S+)", "2.2.3"
    ),
    "snarkjs": ToolInfo(
        "snarkjs", "ZKMATCH_SNARKJS", "snarkjs/build/cli.cjs", r"snarkjs@(\S+)", "0.7.6"
    ),
    # ZKMATCH_SOLC names the solc npm package folder (the solcjs JS API), not a binary.
    "solc": ToolInfo("solc", "ZKMATCH_SOLC", "solc", r"^(\d+\.\d+\.\d+)", "0.8.37"),
    "anvil": ToolInfo("anvil", "ZKMATCH_ANVIL", _anvil_default(), r"anvil Version: (\S+)", "1.7."),
}

_SCRIPT_SUFFIXES: Final = (".js", ".cjs", ".mjs")


def find_node() -> str:
    """The ``node`` executable: ``ZKMATCH_NODE``, else ``node`` on ``PATH``."""
    override = os.environ.get("ZKMATCH_NODE")
    if override:
        if not (Path(override).is_file() and os.access(override, os.X_OK)):
            raise ToolError(
                f"node not found: ZKMATCH_NODE={override} is not an executable file; "
                "point it at Node.js 20 or unset it"
            )
        return override
    found = shutil.which("node")
    if found is None:
        raise ToolError(f"node not found on PATH; install Node.js 20 and {SETUP_HINT}")
    return found


def tool_command(name: str) -> list[str]:
    """The argument prefix that runs tool ``name`` (before its own arguments).

    A script (``.js``/``.cjs``/``.mjs``) runs under node; anything else is an executable
    (for example a native ``circom`` binary given through ``ZKMATCH_CIRCOM``). For solc the
    prefix is ``node solc_compile.mjs <solc package folder>``.
    Raises :class:`ToolError` when the file is not there.
    """
    info = TOOLS[name]
    override = os.environ.get(info.env_var)
    location = Path(override) if override else NODE_MODULES / info.default
    origin = f"{info.env_var}={override}" if override else f"node_modules/{info.default}"
    if not location.exists():
        hint = f"unset {info.env_var} or fix it" if override else SETUP_HINT
        raise ToolError(f"{name} not found: {location} does not exist (from {origin}); {hint}")
    if name == "solc":
        if not (location / "wrapper.js").is_file():
            raise ToolError(
                f"solc not found: {location} is not the solc npm package (no wrapper.js); "
                f"{SETUP_HINT}"
            )
        return [find_node(), str(SOLC_DRIVER), str(location)]
    if location.suffix in _SCRIPT_SUFFIXES:
        return [find_node(), str(location)]
    if not os.access(location, os.X_OK):
        raise ToolError(f"{name} at {location} is not executable (from {origin}); {SETUP_HINT}")
    return [str(location)]


def parse_version(name: str, output: str) -> str | None:
    """Pull the version out of a tool's ``--version`` output (``None`` if absent)."""
    match = re.search(TOOLS[name].version_pattern, strip_ansi(output), re.MULTILINE)
    return match.group(1) if match else None


def version_ok(name: str, version: str) -> bool:
    """Whether ``version`` is one zkmatch accepts for tool ``name``."""
    wanted = TOOLS[name].version
    if wanted.endswith("."):
        return version.startswith(wanted)
    return version == wanted or version.startswith(wanted + "+")


_versions: dict[tuple[str, tuple[str, ...]], str] = {}
_versions_lock = threading.Lock()


def tool_version(name: str) -> str:
    """Check tool ``name`` once per process (per location) and return its version.

    Raises :class:`ToolError` when the tool is missing, does not run, or is not the pinned
    version.
    """
    prefix = tool_command(name)
    key = (name, tuple(prefix))
    with _versions_lock:
        if key in _versions:
            return _versions[key]
    info = TOOLS[name]
    argv = [*prefix, *info.version_args]
    try:
        # snarkjs prints its usage and exits 99 on --version, so the status is not checked.
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, cwd=REPO_ROOT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ToolError(f"{name} does not run ({_quote(argv)}): {exc}; {SETUP_HINT}") from exc
    output = done.stdout + done.stderr
    version = parse_version(name, output)
    if version is None:
        raise ToolError(
            f"{name}: cannot read a version from `{_quote(argv)}` "
            f"(exit {done.returncode}): {_tail(output, 5)!r}; {SETUP_HINT}"
        )
    if not version_ok(name, version):
        wanted = info.version + ("x" if info.version.endswith(".") else "")
        raise ToolError(
            f"{name} {version} found at {prefix[-1]}, but zkmatch needs {name} {wanted}; "
            f"{SETUP_HINT} (or point {info.env_var} at the right one)"
        )
    with _versions_lock:
        _versions[key] = version
    return version


def tool_versions(names: Iterable[str] = ("circom", "snarkjs")) -> dict[str, str]:
    """``{name: version}`` for the given tools (each checked once per process)."""
    return {name: tool_version(name) for name in names}


def clear_version_cache() -> None:
    """Forget the version checks (tests change tool locations through the environment)."""
    with _versions_lock:
        _versions.clear()


@dataclass(frozen=True)
class ToolResult:
    """What a finished tool run left behind."""

    argv: list[str]
    output: str
    seconds: float


def run_tool(
    name: str,
    argv: Sequence[str],
    cwd: Path,
    *,
    expect: Iterable[Path] = (),
    timeout: float | None = None,
    progress: Progress | None = None,
    check_version: bool = True,
    ok_codes: Sequence[int] = (0,),
) -> ToolResult:
    """Run one tool command without a shell and check what it produced.

    stdout and stderr are merged, stripped of colour codes and relayed line by line to
    ``progress`` (prefixed with the tool name); the whole output is returned for parsing.
    Files in ``expect`` are deleted first (so a stale file cannot pass for a fresh one) and
    must exist afterwards. Raises :class:`ToolError` on a missing or wrong-version tool, a
    timeout, an exit status not in ``ok_codes`` (with the tail of the output), or a missing
    output file.
    """
    if check_version:
        tool_version(name)
    expected = [Path(p) for p in expect]
    for path in expected:
        path.unlink(missing_ok=True)
    command = _quote(argv)
    start = time.monotonic()
    try:
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
            env={**os.environ, "NO_COLOR": "1", "FORCE_COLOR": "0"},
        )
    except OSError as exc:
        raise ToolError(f"{name} could not start ({command}): {exc}; {SETUP_HINT}") from exc

    timed_out = threading.Event()

    def _kill() -> None:
        timed_out.set()
        _kill_group(process)

    timer = threading.Timer(timeout, _kill) if timeout else None
    if timer:
        timer.daemon = True
        timer.start()
    lines: list[str] = []
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = strip_ansi(raw.rstrip("\n"))
            lines.append(line)
            if progress and line.strip():
                progress(f"  {name}: {line.strip()}")
        returncode = process.wait()
    except BaseException:
        _kill_group(process)
        process.wait()
        raise
    finally:
        if timer:
            timer.cancel()
    seconds = time.monotonic() - start
    output = "\n".join(lines)
    if timed_out.is_set():
        raise ToolError(f"{name} timed out after {timeout:.0f} s: {command}")
    if returncode not in ok_codes:
        raise ToolError(f"{name} failed (exit {returncode}): {command}\n{_tail(output, 20)}")
    missing = [str(p) for p in expected if not p.exists()]
    if missing:
        raise ToolError(
            f"{name} exited 0 but did not write {', '.join(missing)}: {command}\n"
            f"{_tail(output, 10)}"
        )
    return ToolResult(list(argv), output, seconds)


def strip_ansi(text: str) -> str:
    """Remove terminal colour codes (circom and snarkjs colour their logs)."""
    return _ANSI.sub("", text)


def _kill_group(process: subprocess.Popen[str]) -> None:
    """Stop a process we started and whatever it spawned (its own session)."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        process.kill()


def _tail(text: str, lines: int) -> str:
    return "\n".join(strip_ansi(text).strip().splitlines()[-lines:])


def _quote(argv: Sequence[str]) -> str:
    return shlex.join(str(a) for a in argv)
