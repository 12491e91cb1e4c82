"""The `reconciler` command line: thin commands that call the core and hand results to render."""

from __future__ import annotations

import click

from reconciler import __version__
from reconciler.cli.rule import rule


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Policy-as-code for Microsoft Entra ID group-based licensing."""


cli.add_command(rule)


def main() -> None:
    cli(prog_name="reconciler")
