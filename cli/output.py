"""Printing helpers shared by commands: human text by default, JSON with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(func: F) -> F:
    """Add ``--json`` (stored as ``as_json``) to a command."""
    return click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")(
        func
    )


def emit(result: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print ``result`` as JSON or through ``human``."""
    if as_json:
        click.echo(json.dumps(result, indent=2, sort_keys=True, default=str))
    else:
        click.echo(human(result))


def progress(message: str) -> None:
    """A progress line on stderr, so stdout stays clean for ``--json``."""
    click.echo(message, err=True)
    sys.stderr.flush()
