"""`reconciler apply [PLANFILE]`: a saved plan once checked, or a new plan shown and confirmed.

A saved plan is applied only when it is still the plan (see plan/stale.py): another tenant's
plan, or a stale one, is refused before anything changes. Either plan is refused when its
removal guards refuse it, unless `--allow-removals` is given. The local tenant's apply lock is
held from the read the checks rest on to the last change, so no other apply slips in between.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from reconciler.apply import apply_plan, check_guards
from reconciler.audit import AuditLog, default_actor
from reconciler.cli.options import Sources, apply_lock, open_tenant_for, source_options
from reconciler.cli.plan import styled
from reconciler.errors import InputError, Location, ReconcilerError
from reconciler.model import Tenant
from reconciler.plan.document import Document, plan_document
from reconciler.plan.planfile import read_plan_file
from reconciler.plan.planning import freshness_now, plan_now
from reconciler.policy import LoadedPolicy, load_policy
from reconciler.providers.base import Provider
from reconciler.render.apply_text import (
    applied_summary,
    apply_report,
    processing_warnings,
    waiting_line,
)
from reconciler.render.plan_text import change_line, plan_text

if TYPE_CHECKING:  # httpx is imported only for a graph tenant
    from reconciler.providers.graph_writes import ProcessingWait


class StalePlanError(ReconcilerError):
    """A saved plan that is another tenant's, or no longer what planning now would give."""


class ApplyFailedError(ReconcilerError):
    """The tenant refused a change; the ones before it were made, the ones after not tried."""


@click.command()
@click.argument("plan_file", metavar="[PLANFILE]", required=False, type=Path)
@source_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option(
    "--allow-removals",
    is_flag=True,
    help="Apply even if the plan removes more licenses than settings.maxLicenseRemovals "
    "or takes licenses away through a group with protect: true.",
)
@click.pass_context
def apply(
    ctx: click.Context,
    sources: Sources,
    plan_file: Path | None,
    auto_approve: bool,
    allow_removals: bool,
) -> None:
    """Make the tenant match the policy: a saved plan without asking, else after asking."""
    rerun = _rerun_command(ctx)
    # a damaged plan file is refused before the tenant is touched
    saved = read_plan_file(plan_file) if plan_file is not None else None
    loaded = load_policy(sources.policy)
    with open_tenant_for(sources, loaded) as provider, apply_lock(provider):
        if saved is not None:
            tenant = _check_saved(saved, str(plan_file), loaded, provider, allow_removals, rerun)
            document = saved
        else:
            plan = plan_now(loaded, provider.read())
            tenant = plan.before
            document = plan_document(plan)
            # whoever approves sees every license the plan takes away, not the first 50
            click.echo(styled(plan_text(document, show_all=True)))
            if not document["changesPresent"]:
                return
            check_guards(document["guards"], allow_removals, rerun)
            _confirm(auto_approve)
        audit = AuditLog(sources.audit, default_actor(), tenant.organization.id)
        _run(document, provider, audit)


def _check_saved(
    saved: Document,
    plan_file: str,
    loaded: LoadedPolicy,
    provider: Provider,
    allow_removals: bool,
    rerun: str,
) -> Tenant:
    """Refuse a saved plan that is another tenant's, stale, or guarded; the tenant read."""
    tenant = provider.read()
    freshness = freshness_now(saved, loaded, tenant)
    problem = freshness.problem()
    if problem is not None:
        raise StalePlanError(
            f"{problem} Run `reconciler plan --out {shlex.quote(plan_file)}` to plan again, "
            "and apply that.",
            Location(plan_file),
        )
    note = freshness.drift_note()
    if note is not None:
        click.echo(f"note: {note}", err=True)
    # the guards as they were reviewed, and as the policy sets them now when planned again
    check_guards(saved["guards"], allow_removals, rerun)
    if freshness.replanned is not None:
        check_guards(freshness.replanned["guards"], allow_removals, rerun)
    return tenant


def _rerun_command(ctx: click.Context) -> str:
    """This very command line, as the user wrote its options, with --allow-removals added."""
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value is None or value is False or param.name == "allow_removals":
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif isinstance(param, click.Option) and param.is_flag:
            words.append(param.opts[0])
        else:
            words += [param.opts[0], str(value)]
    return shlex.join([*words, "--allow-removals"])


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise InputError(
            "apply needs an answer and none can be asked here: "
            "pass --auto-approve to apply without asking"
        )
    click.confirm("\nApply these changes?", abort=True)


def _run(document: Document, provider: Provider, audit: AuditLog) -> None:
    hear = getattr(provider, "on_processing_wait", None)
    if callable(hear):  # Graph processes licenses in the background; say while apply waits
        hear(_WaitReport())
    click.echo("")
    changes = document["changes"]
    lines = [change_line(change) for change in changes]
    result = apply_plan(document, provider, audit, lambda index: click.echo(lines[index]))
    if result.failure is None:
        click.echo(f"\n{applied_summary(document['summary'])}")
    else:
        click.echo(f"\n{apply_report(changes, result)}")
    for warning in processing_warnings(result):
        click.echo(warning, err=True)
    if result.failure is None:
        return
    done = len(result.succeeded)
    raise ApplyFailedError(
        f"apply stopped at change {done + 1} of {len(changes)} "
        f"({changes[done]['group']['displayName']}): {result.failure.error}"
    )


class _WaitReport:
    """Says on stderr that apply is waiting for a group's license processing: at the first
    unfinished poll, then every REPORT_EVERY seconds."""

    REPORT_EVERY = 15.0

    def __init__(self) -> None:
        self._next: dict[str, float] = {}

    def __call__(self, wait: ProcessingWait) -> None:
        if wait.seconds < self._next.get(wait.groupId, 0.0):
            return
        self._next[wait.groupId] = wait.seconds + self.REPORT_EVERY
        line = waiting_line(wait.displayName, wait.licenseProcessingState, wait.seconds)
        click.echo(line, err=True)
