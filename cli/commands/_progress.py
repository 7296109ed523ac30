"""Progress sink for the proving commands: step lines always, tool output with ``--verbose``."""

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


def progress_sink(verbose: bool) -> Progress:
    """Pipeline steps go to stderr; tool output lines (indented) only when ``verbose``."""

    def sink(line: str) -> None:
        if verbose or not line.startswith("  "):
            progress(line)

    return sink
