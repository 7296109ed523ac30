"""Options shared by the proving commands: the progress sink (step lines always, tool output
with ``--verbose``), ``--witness``, ``--prover`` and ``--setup``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from cli.output import progress
from prover.toolchain.common import Progress

F = TypeVar("F", bound=Callable[..., Any])


def verbose_option(func: F) -> F:
    """Add ``-v/--verbose`` (relay every line the tools print)."""
    return click.option(
        "-v", "--verbose", is_flag=True, help="Also show what circom and snarkjs print."
    )(func)


def witness_option(func: F) -> F:
    """Add ``--witness [wasm|cpp|auto]`` (default: ``ZKMATCH_WITNESS``, else wasm)."""
    return click.option(
        "--witness",
        type=click.Choice(["wasm", "cpp", "auto"], case_sensitive=False),
        default=None,
        help="Witness generator: wasm (default), cpp (circom's C++ generator, built once; "
        "needs g++, nasm, libgmp-dev, nlohmann-json3-dev; see `make setup-cpp`) or auto "
        "(cpp if built or buildable, else wasm). Default: $ZKMATCH_WITNESS, else wasm.",
    )(func)


def prover_option(func: F) -> F:
    """Add ``--prover [snarkjs|arkworks|auto]`` (default: ``ZKMATCH_PROVER``, else auto)."""
    return click.option(
        "--prover",
        type=click.Choice(["snarkjs", "arkworks", "auto"], case_sensitive=False),
        default=None,
        help="Groth16 prover: snarkjs (the reference), arkworks (groth16py, the [fast] extra; "
        "same zkey, same proofs' format) or auto (arkworks if installed, else snarkjs). "
        "Default: $ZKMATCH_PROVER, else auto.",
    )(func)


def setup_option(func: F) -> F:
    """Add ``--setup [dev|ptau]`` (default: ``ZKMATCH_SETUP``, else dev; ptau with --ptau)."""
    return click.option(
        "--setup",
        "setup_kind",
        type=click.Choice(["dev", "ptau"], case_sensitive=False),
        default=None,
        help="How a circuit without a setup gets one: dev (devzkey.mjs, seconds, DEVELOPMENT "
        "ONLY) or ptau (snarkjs groth16 setup on a ptau: --ptau FILE, else ZKMATCH_PTAU_DIR or "
        "a development ptau). Default: $ZKMATCH_SETUP, else dev; ptau when --ptau is given.",
    )(func)


def progress_sink(verbose: bool) -> Progress:
    """Pipeline steps go to stderr; tool output lines (indented) only when ``verbose``."""

    def sink(line: str) -> None:
        if verbose or not line.startswith("  "):
            progress(line)

    return sink
