"""anvil (Foundry's local EVM node, from npm ``@foundry-rs/anvil``): start, wait, stop.

:func:`running_anvil` starts anvil on loopback with port 0 (the kernel picks a free port,
anvil prints it: no race between choosing a port and binding it), waits until its JSON-RPC
answers, and stops it afterwards. Its log is kept in a file. :func:`check_rpc` turns a
chain that does not answer into a :class:`ToolError` a user can act on.

With ``state_path`` anvil loads its chain from that file if it exists and writes it back
when it stops (``--state``; SIGTERM makes it write), so the operator's chain survives a
restart. With ``die_with_parent`` (Linux) anvil gets SIGTERM when the process that
started it dies, even by SIGKILL, so a killed operator leaves no orphan node and its
chain is still written.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from prover.errors import ToolError
from prover.toolchain.common import Progress, tool_command, tool_version

START_TIMEOUT = 30.0
_LISTENING = re.compile(r"Listening on ([0-9.]+):(\d+)")


def build_command(
    anvil: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    chain_id: int = 31337,
    accounts: int = 10,
    extra: Sequence[str] = (),
) -> list[str]:
    """``anvil --host ... --port ...`` (pure). ``port=0`` lets the kernel choose."""
    return [
        *anvil,
        "--host",
        host,
        "--port",
        str(port),
        "--chain-id",
        str(chain_id),
        "--accounts",
        str(accounts),
        *extra,
    ]


def rpc_request(url: str, method: str, params: list[Any] | None = None, timeout: float = 5) -> Any:
    """One JSON-RPC call with the standard library (no web3 needed to probe a node)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []})
    request = urllib.request.Request(
        url, data=body.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        reply = json.loads(response.read())
    if "error" in reply:
        raise ToolError(f"JSON-RPC {method} at {url} failed: {reply['error']}")
    return reply["result"]


def check_rpc(url: str, timeout: float = 5) -> int:
    """Return the chain id at ``url``, or raise :class:`ToolError` if nothing answers."""
    try:
        return int(rpc_request(url, "eth_chainId", timeout=timeout), 16)
    except (OSError, urllib.error.URLError, ValueError, json.JSONDecodeError) as exc:
        raise ToolError(
            f"no EVM JSON-RPC node answers at {url} ({exc}); start one (for example "
            "`anvil`), or leave out --rpc-url so that zkmatch starts its own anvil"
        ) from exc


@dataclass
class AnvilNode:
    """A running anvil that this process started."""

    process: subprocess.Popen[bytes]
    host: str
    port: int
    log_path: Path
    _log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def rpc_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.strip().splitlines()[-lines:])

    def check(self) -> None:
        """Raise :class:`ToolError` (with the log's tail) if anvil is gone or not answering."""
        if not self.alive():
            raise ToolError(
                f"anvil at {self.rpc_url} has exited (status {self.process.returncode}); "
                f"log {self.log_path}:\n{self.log_tail()}"
            )
        check_rpc(self.rpc_url)

    def stop(self, timeout: float = 10) -> None:
        """Stop anvil (SIGTERM, then SIGKILL); the log file stays."""
        if self.alive():
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # pragma: no cover - runs in the child, between fork and exec
    """``prctl(PR_SET_PDEATHSIG, SIGTERM)``: the kernel sends SIGTERM when the parent dies."""
    with suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def state_arguments(state_path: Path | None) -> list[str]:
    """``--state PATH`` (load at start if the file exists, write at exit), or nothing."""
    return ["--state", str(state_path)] if state_path is not None else []


def start_anvil(
    *,
    log_path: Path | None = None,
    host: str = "127.0.0.1",
    chain_id: int = 31337,
    timeout: float = START_TIMEOUT,
    extra: Sequence[str] = (),
    progress: Progress | None = None,
    state_path: Path | None = None,
    die_with_parent: bool = False,
) -> AnvilNode:
    """Start anvil on ``host`` with a free port and wait until its RPC answers.

    The caller must :meth:`AnvilNode.stop` it (or use :func:`running_anvil`).
    """
    tool_version("anvil")
    if log_path is None:
        log_path = Path(tempfile.mkstemp(prefix="zkmatch-anvil-", suffix=".log")[1])
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if state_path is not None:
        state_path = state_path.resolve()
        state_path.parent.mkdir(parents=True, exist_ok=True)
        if state_path.exists() and state_path.stat().st_size == 0:
            raise ToolError(
                f"anvil state file {state_path} is empty; remove it to start a new chain"
            )
    argv = build_command(
        tool_command("anvil"),
        host=host,
        port=0,
        chain_id=chain_id,
        extra=[*state_arguments(state_path), *extra],
    )
    log = log_path.open("wb")
    try:
        process = subprocess.Popen(
            argv,
            cwd=log_path.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent if die_with_parent else None,
        )
    except OSError as exc:
        log.close()
        raise ToolError(f"anvil could not start ({' '.join(argv)}): {exc}") from exc
    node = AnvilNode(process, host, 0, log_path, log)
    if progress:
        progress(f"anvil: starting on {host} (log {log_path})")
    deadline = time.monotonic() + timeout
    try:
        while True:
            if not node.alive():
                raise ToolError(
                    f"anvil exited at start (status {process.returncode}): {' '.join(argv)}\n"
                    f"{node.log_tail()}"
                )
            if node.port == 0:
                match = _LISTENING.search(log_path.read_text(errors="replace"))
                if match:
                    node.port = int(match.group(2))
            if node.port:
                try:
                    rpc_request(node.rpc_url, "eth_chainId", timeout=1)
                    break
                except (OSError, urllib.error.URLError):
                    pass
            if time.monotonic() > deadline:
                raise ToolError(
                    f"anvil did not answer within {timeout:.0f} s: {' '.join(argv)}\n"
                    f"{node.log_tail()}"
                )
            time.sleep(0.05)
    except BaseException:
        node.stop()
        raise
    if progress:
        progress(f"anvil: ready at {node.rpc_url}")
    return node


@contextmanager
def running_anvil(
    *, log_path: Path | None = None, progress: Progress | None = None, **options: Any
) -> Iterator[AnvilNode]:
    """A fresh anvil for the duration of the ``with`` block."""
    node = start_anvil(log_path=log_path, progress=progress, **options)
    try:
        yield node
    finally:
        node.stop()
        if progress:
            progress(f"anvil: stopped (log kept at {node.log_path})")
