"""Which chain to talk to: a given JSON-RPC node, or zkmatch's own anvil with saved state.

:func:`open_chain` with an RPC URL checks that a node answers there (a
:class:`~prover.errors.ToolError` naming the URL if not) and yields it. Without one it
starts anvil from the project's node_modules on a free loopback port with ``--state`` in
the operator's data folder (the chain is loaded from there at start and written back when
anvil stops), tied to this process (anvil gets SIGTERM, and writes its state, even if
this process is killed), and stops it on exit.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prover.errors import ToolError
from prover.toolchain.anvil import check_rpc, start_anvil
from prover.toolchain.common import Progress


@dataclass(frozen=True)
class ChainEndpoint:
    """An RPC URL and whether this process started the node behind it."""

    rpc_url: str
    own_node: bool


@contextmanager
def open_chain(
    rpc_url: str | None,
    *,
    state_path: Path | None = None,
    log_path: Path | None = None,
    progress: Progress | None = None,
    read_only: bool = False,
) -> Iterator[ChainEndpoint]:
    """The chain at ``rpc_url`` (checked), or an own anvil keeping its chain in
    ``state_path`` (see the module docstring). ``read_only`` loads the saved chain and
    never writes it back (a verifier reading an operator's folder)."""
    if rpc_url:
        check_rpc(rpc_url)
        yield ChainEndpoint(rpc_url, False)
        return
    if read_only:
        if state_path is None or not state_path.is_file():
            raise ToolError(f"no saved chain at {state_path}; pass --rpc-url")
        node = start_anvil(log_path=log_path, extra=["--load-state", str(state_path.resolve())],
                           die_with_parent=True, progress=progress)
        state_path = None
    else:
        node = start_anvil(
            log_path=log_path, state_path=state_path, die_with_parent=True, progress=progress
        )
    try:
        yield ChainEndpoint(node.rpc_url, True)
    finally:
        node.stop()
        if progress:
            progress(
                "anvil: stopped"
                + (f", chain saved in {state_path}" if state_path is not None else "")
            )


__all__ = ["ChainEndpoint", "open_chain"]
