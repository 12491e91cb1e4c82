"""The `reconciler` command line: thin commands that call the core and hand results to render."""

from __future__ import annotations

import click

from reconciler import __version__
from reconciler.cli.apply import apply
from reconciler.cli.audit import audit
from reconciler.cli.drift import drift
from reconciler.cli.emulator import emulator
from reconciler.cli.explain import explain
from reconciler.cli.fmt import fmt
from reconciler.cli.import_cmd import import_
from reconciler.cli.lock import lock
from reconciler.cli.plan import plan, show
from reconciler.cli.policy_tests import test
from reconciler.cli.report import report
from reconciler.cli.reprocess import reprocess
from reconciler.cli.rule import rule
from reconciler.cli.tenant import tenant
from reconciler.cli.validate import validate
from reconciler.cli.verify import verify
from reconciler.errors import ReconcilerError
from reconciler.render.errors import error_text


class _Commands(click.Group):
    """Turns every ReconcilerError raised below into one message on stderr and exit code 1.

    A mistyped option or a bad argument exits 1 too, not click's 2, which `--detailed-exitcode`
    and `drift` keep for "changes present": a pipeline must never take a typo for a plan.
    """

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as error:
            error.exit_code = 1
            raise

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ReconcilerError as error:
            click.echo(error_text(error), err=True)
            ctx.exit(error.exit_code)
        except click.UsageError as error:
            error.exit_code = 1
            raise


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reconciler")
def cli() -> None:
    """Policy-as-code for Microsoft Entra ID group-based licensing."""


cli.add_command(validate)
cli.add_command(plan)
cli.add_command(apply)
cli.add_command(lock)
cli.add_command(fmt)
cli.add_command(import_)
cli.add_command(show)
cli.add_command(audit)
cli.add_command(drift)
cli.add_command(reprocess)
cli.add_command(report)
cli.add_command(rule)
cli.add_command(tenant)
cli.add_command(emulator)
cli.add_command(explain)
cli.add_command(test)
cli.add_command(verify)


def main() -> None:
    cli(prog_name="reconciler")
