"""`reconciler apply [PLANFILE]`: a saved plan once checked, or a new plan shown and confirmed.

A saved plan is never applied as written: apply plans again now and applies that plan, and only
when its changes and removals are the saved plan's (plan/stale.py); another tenant's plan, a
stale one or an edited one is refused before anything changes. The guards judged are those of
the plan made now, from the policy as it is, never a file's: a plan is refused when they refuse
it, unless `--allow-removals` is given. The local tenant's apply lock is held from the read the
checks rest on to the last change, so no other apply slips in between.

With `--format json` it writes the events of render/apply_events.py on stdout instead of text,
one a line as each happens (docs/apply-events.md), and never asks: a new plan needs
`--auto-approve`.

With `--verify-rules`, each new membership rule of a licensed group is first evaluated by Entra
on a temporary group (cli/verify.py, docs/verify.md), once the plan is approved and before any
change: a rule whose members differ from the plan's prediction refuses the whole apply, unless
`--allow-mismatch` is given. Entra may take hours, so the tenant is then read again and the
plan checked as a saved plan is (plan/stale.py): one that no longer holds is refused as stale.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from reconciler.apply import check_guards
from reconciler.audit import AuditLog, default_actor
from reconciler.cli.apply_output import (
    ApprovalRequiredError,
    EventOutput,
    Output,
    StalePlanError,
    TextOutput,
)
from reconciler.cli.options import Sources, apply_lock, open_tenant_for, source_options
from reconciler.cli.progress import StderrProgress, quiet_option
from reconciler.cli.verify import timing_options, verified
from reconciler.errors import Location, ReconcilerError
from reconciler.interrupted import record_interrupted
from reconciler.model import Tenant
from reconciler.plan.build import Plan
from reconciler.plan.document import Document, plan_document
from reconciler.plan.origin import with_origin
from reconciler.plan.planfile import read_plan_file
from reconciler.plan.planning import checked_before_apply, plan_now
from reconciler.policy import LoadedPolicy, load_policy
from reconciler.providers.base import Provider
from reconciler.verify import differ, probes_of


def _output(command: Callable[..., None]) -> Callable[..., None]:
    """Gives the command its output for --format; in json mode the log begins before anything
    else (reconciler.yaml included) and every error ends it, so it is complete."""

    @functools.wraps(command)
    def wrapper(*, output_format: str, progress: StderrProgress, **kwargs: Any) -> None:
        if output_format != "json":
            command(out=TextOutput(progress), progress=progress, **kwargs)
            return
        log = EventOutput(progress)
        try:
            if kwargs["plan_file"] is None and not kwargs["auto_approve"]:
                raise ApprovalRequiredError(
                    "apply --format json never asks: pass --auto-approve to apply a new plan, "
                    "or apply a saved one (reconciler plan --out FILE, then reconciler apply FILE)"
                )
            command(out=log, progress=progress, **kwargs)
        except ReconcilerError as error:
            log.errored(error)
            raise
        except KeyboardInterrupt:
            log.interrupted()
            raise
        log.finished()

    return wrapper


@click.command()
@click.argument("plan_file", metavar="[PLANFILE]", required=False, type=Path)
@quiet_option
@_output
@source_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
@click.option(
    "--allow-removals",
    is_flag=True,
    help="Apply even if the plan removes more licenses than settings.maxLicenseRemovals "
    "or takes licenses away through a group with protect: true.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people (text), or for pipelines (json): one JSON event a line as apply "
    "runs, never asking (a new plan needs --auto-approve).",
)
@click.option(
    "--verify-rules",
    is_flag=True,
    help="Before changing anything, have Entra evaluate each new membership rule of a licensed "
    "group on a temporary group, and refuse the apply if its members differ from the plan's "
    "(Microsoft Graph tenants only; see docs/verify.md).",
)
@click.option(
    "--allow-mismatch",
    is_flag=True,
    help="With --verify-rules: apply even when Entra's evaluation of a rule differs.",
)
@timing_options("--verify-timeout", "--verify-poll-interval")
@click.pass_context
def apply(
    ctx: click.Context,
    sources: Sources,
    plan_file: Path | None,
    auto_approve: bool,
    allow_removals: bool,
    verify_rules: bool,
    allow_mismatch: bool,
    verify_timeout: float,
    poll_interval: float,
    out: Output,
    progress: StderrProgress,
) -> None:
    """Make the tenant match the policy: a saved plan without asking, else after asking."""
    if allow_mismatch and not verify_rules:
        raise click.UsageError("--allow-mismatch goes with --verify-rules")
    rerun = _rerun_command(ctx)
    # a damaged plan file is refused before the tenant is touched
    saved = read_plan_file(plan_file) if plan_file is not None else None
    progress.stage("reading policy")
    loaded = load_policy(sources.policy)
    progress.stage("reading tenant")
    with open_tenant_for(sources, loaded, progress=progress) as provider, apply_lock(provider):
        if verify_rules:
            probes_of(provider)  # a tenant that can't verify is refused before it is read
        tenant = provider.read()
        plan: Plan | None = None
        if saved is not None:
            progress.stage("planning again, to check the saved plan")
            document = _saved_plan_now(saved, str(plan_file), loaded, tenant, out, progress)
        else:
            plan = plan_now(loaded, tenant, progress)
            document = plan_document(plan)
            progress.done()  # the plan is shown, and may be asked about, on a quiet screen
            out.planned(document, None, tenant.organization.id)
            if not document["changesPresent"]:
                if sources.audit.exists():  # what an interrupted run left is recorded still
                    audit = AuditLog(sources.audit, default_actor(), tenant.organization.id)
                    record_interrupted(provider, audit)
                return
        # the guards of the changes about to run, from the policy as it is now
        check_guards(document["guards"], allow_removals, rerun)
        if saved is None:
            out.confirm(auto_approve)
        if verify_rules:
            # the saved plan's after-state: planned again, as the saved plan was checked
            plan = plan or plan_now(loaded, tenant)
            timing = (verify_timeout, poll_interval)
            if _verify(sources, provider, plan, timing, allow_mismatch, out, progress):
                # Entra took its time: the plan must still be what the tenant gives now, and
                # its guards, judged on who holds what now, must still let it through
                document = _still_holds(document, loaded, provider, tenant, out, progress)
                check_guards(document["guards"], allow_removals, rerun)
        audit = AuditLog(sources.audit, default_actor(), tenant.organization.id)
        out.run(document, provider, audit)


def _verify(
    sources: Sources,
    provider: Provider,
    plan: Plan,
    timing: tuple[float, float],
    allow_mismatch: bool,
    out: Output,
    progress: StderrProgress,
) -> bool:
    """Entra's evaluation of the plan's new rules of licensed groups, whether there were any;
    RulesDiffer, before any change, when one differs, unless `allow_mismatch`."""
    verdicts = verified(sources, provider, plan.before, plan.changes, plan.after, *timing, progress)
    out.verified(verdicts)
    if all(verdict.agrees for verdict in verdicts):
        return bool(verdicts)
    if allow_mismatch:
        out.note(
            "Entra's evaluation of a new rule differs; applying all the same (--allow-mismatch)"
        )
        return True
    raise differ(
        verdicts,
        "Nothing was changed. Fix the rule, or pass --allow-mismatch to apply all the same.",
    )


def _still_holds(
    document: Document,
    loaded: LoadedPolicy,
    provider: Provider,
    tenant: Tenant,
    out: Output,
    progress: StderrProgress,
) -> Document:
    """The plan made from the tenant read again after verification, once it is shown to be
    `document` (changes and removals); StalePlanError, nothing changed, if the tenant moved."""
    progress.stage("reading tenant again, after verification")
    fresh = provider.read()
    progress.stage("planning again, to check the plan still holds")
    checked = checked_before_apply(with_origin(document, loaded, tenant), loaded, fresh)
    progress.done()
    problem = checked.problem()
    if problem is not None:
        raise StalePlanError(
            f"the tenant changed while Entra evaluated the rules; {problem} Nothing was "
            "changed: run apply again."
        )
    assert checked.replanned is not None
    drift = checked.drift_note()
    if drift is not None:
        out.note(drift)
    return checked.replanned


def _saved_plan_now(
    saved: Document,
    plan_file: str,
    loaded: LoadedPolicy,
    tenant: Tenant,
    out: Output,
    progress: StderrProgress,
) -> Document:
    """The plan from `tenant` to the policy made now, once it is shown to be the saved plan.

    StalePlanError for another tenant's plan, or one whose changes or removals differ from what
    planning now gives: stale, or edited since `plan` wrote it (a digest recomputed proves
    nothing, so the comparison is what decides).
    """
    checked = checked_before_apply(saved, loaded, tenant)
    progress.done()
    problem = checked.problem()
    if problem is not None:
        # the plan refused is the one in the file, and nothing of it was attempted
        out.planned(saved, plan_file, tenant.organization.id)
        raise StalePlanError(
            f"{problem} Run `reconciler plan --out {shlex.quote(plan_file)}` to plan again, "
            "and apply that.",
            Location(plan_file),
        )
    assert checked.replanned is not None  # planned again, since it is this tenant's
    # equal in changes and removals: the plan made now is applied, with its summary and guards
    out.planned(checked.replanned, plan_file, tenant.organization.id)
    drift = checked.drift_note()
    if drift is not None:
        out.note(drift)
    return checked.replanned


def _rerun_command(ctx: click.Context) -> str:
    """This very command line, as the user wrote its options, with --allow-removals added."""
    words = ctx.command_path.split()
    for param in ctx.command.params:
        value = ctx.params.get(param.name or "")
        if value is None or value is False or value == param.default:
            continue
        if param.name == "allow_removals":
            continue
        if isinstance(param, click.Argument):
            words.append(str(value))
        elif isinstance(param, click.Option) and param.is_flag:
            words.append(param.opts[0])
        else:
            words += [param.opts[0], str(value)]
    return shlex.join([*words, "--allow-removals"])
