"""Run a ``zkmatch`` command in this process, as a user types it, and read its ``--json``.

``zkmatch demo`` drives its traders through the trader CLI this way (prover/demo.py): the
same click commands, options, checks and error messages a user gets, without starting a
Python process per command (about 1-2 s each). Standard output and standard error are
captured for the command's duration (nothing else may print meanwhile); a command that
fails raises :class:`CommandFailed` with the one-line message the CLI would print.
"""

from __future__ import annotations

import io
import json
import shlex
import time
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from typing import Any

import click

from prover.errors import ZkmatchError


class CommandFailed(ZkmatchError):
    """A ``zkmatch`` command run in this process exited with an error."""


@dataclass(frozen=True)
class Ran:
    """What one command printed, and how long it took."""

    args: tuple[str, ...]
    stdout: str
    stderr: str
    seconds: float

    @property
    def command_line(self) -> str:
        return command_line(self.args)


def command_line(args: Sequence[str]) -> str:
    """``args`` as the shell command a user would type (``zkmatch ...``)."""
    return shlex.join(["zkmatch", *args])


def run_command(args: Sequence[str]) -> Ran:
    """Run ``zkmatch ARGS`` (the click group in :mod:`cli.main`) here; what it printed.

    :class:`CommandFailed` names the command and gives the CLI's error message (a
    :class:`~prover.errors.ZkmatchError`, a usage error) and what it printed on stderr."""
    from cli.main import main  # the whole command tree, imported on first use

    out, err = io.StringIO(), io.StringIO()
    start = time.monotonic()
    try:
        with redirect_stdout(out), redirect_stderr(err):
            code = main.main(args=list(args), prog_name="zkmatch", standalone_mode=False)
    except click.ClickException as exc:
        raise CommandFailed(_failure(args, exc.format_message(), err.getvalue())) from exc
    except click.Abort as exc:
        raise CommandFailed(_failure(args, "aborted", err.getvalue())) from exc
    if isinstance(code, int) and code != 0:
        raise CommandFailed(_failure(args, f"exit status {code}", err.getvalue()))
    return Ran(tuple(args), out.getvalue(), err.getvalue(), time.monotonic() - start)


def run_json(args: Sequence[str]) -> tuple[Any, Ran]:
    """Run ``zkmatch ARGS --json`` here and parse its output (one JSON value)."""
    args = [*args, "--json"] if "--json" not in args else list(args)
    ran = run_command(args)
    try:
        return json.loads(ran.stdout), ran
    except json.JSONDecodeError as exc:
        raise CommandFailed(
            f"{ran.command_line}: its --json output is not JSON ({exc}): {ran.stdout[:200]!r}"
        ) from exc


def _failure(args: Sequence[str], message: str, stderr: str) -> str:
    tail = " | ".join(line for line in stderr.strip().splitlines()[-3:] if line)
    return f"{command_line(args)}: {message}" + (f" (stderr: {tail})" if tail else "")


__all__ = ["CommandFailed", "Ran", "command_line", "run_command", "run_json"]
