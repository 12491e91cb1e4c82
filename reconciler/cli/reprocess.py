"""`reconciler reprocess [USER ...]`: retry the group licenses that failed for users.

Entra leaves a failed group license (seats ran out, a conflicting plan) in error until the user
is reprocessed, even once the cause is gone. The local tenant's apply lock is held from the read
that chooses the users to the read that reports on them, so no apply slips in between.
"""

from __future__ import annotations

from contextlib import nullcontext

import click

from reconciler.audit import AuditLog, default_actor
from reconciler.cli.options import (
    Sources,
    apply_lock,
    format_option,
    open_tenant_for_licensing,
    source_options,
)
from reconciler.errors import ReconcilerError
from reconciler.render.reprocess import nothing_text, reprocess_json, reprocess_text
from reconciler.reprocess import NOT_REPROCESSED, ReprocessResult, choose, preview, reprocess_users


class ReprocessFailedError(ReconcilerError):
    """The tenant refused to reprocess some users; the others were reprocessed."""


@click.command()
@click.argument("users", metavar="[USER]...", nargs=-1)
@source_options
@click.option(
    "--group",
    metavar="GROUP",
    help="Only users whose licenses from this group failed (displayName or id).",
)
@click.option(
    "--dry-run", is_flag=True, help="List who would be reprocessed and why; change nothing."
)
@format_option
def reprocess(
    sources: Sources,
    users: tuple[str, ...],
    group: str | None,
    dry_run: bool,
    output_format: str,
) -> None:
    """Retry group licenses left in error (seats ran out, conflicts) once the cause is fixed.

    USER is a userPrincipalName or object id; without USERs, every user in error is retried.
    """
    with (
        # licensing's properties are all reprocessing reads (and those the tenant's rules name)
        open_tenant_for_licensing(sources) as provider,
        nullcontext() if dry_run else apply_lock(provider),
    ):
        before = provider.read()
        targets = choose(before, users, group)
        if dry_run:
            result = preview(targets)
        else:
            audit = AuditLog(sources.audit, default_actor(), before.organization.id)
            result = reprocess_users(targets, provider, audit)
    _echo(result, output_format, group)
    refused = [user for user in result.users if user.status == NOT_REPROCESSED]
    if refused:
        names = ", ".join(user.userPrincipalName for user in refused)
        raise ReprocessFailedError(f"the tenant didn't reprocess {names}")


def _echo(result: ReprocessResult, output_format: str, group: str | None) -> None:
    if output_format == "json":
        click.echo(reprocess_json(result))
    elif not result.users:
        click.echo(nothing_text(group))
    else:
        click.echo(reprocess_text(result))
