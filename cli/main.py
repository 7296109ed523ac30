"""The ``zkmatch`` command: a thin click shell over the ``prover`` library.

Each module in ``cli/commands/`` defines one click command (or group) named
``command``, or several in a tuple named ``commands``; they are discovered here, so
adding a command touches one file.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import click

import cli.commands
from prover.errors import ZkmatchError


class _ZkmatchGroup(click.Group):
    """Turns every :class:`ZkmatchError` into a one-line message and exit status 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except ZkmatchError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_ZkmatchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="zkmatch")
def main() -> None:
    """zkmatch: private order matching for perpetual futures, every batch proven."""


def _register() -> None:
    for info in sorted(pkgutil.iter_modules(cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"cli.commands.{info.name}")
        found = [getattr(module, "command", None), *getattr(module, "commands", ())]
        for command in found:
            if isinstance(command, click.Command):
                main.add_command(command)


_register()

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
