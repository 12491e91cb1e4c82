"""`reconciler apply`: plan, show, ask, then make the changes."""

from __future__ import annotations

import sys

import click

from reconciler.apply import apply_plan
from reconciler.cli.options import Sources, source_options
from reconciler.cli.plan import check_pin
from reconciler.errors import InputError
from reconciler.plan.build import build_plan
from reconciler.policy import load_policy, resolve
from reconciler.providers.sources import open_tenant
from reconciler.render.plan_text import change_line, names_of, plan_text


@click.command()
@source_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
def apply(sources: Sources, auto_approve: bool) -> None:
    """Make the tenant match the policy, after showing the plan and asking."""
    loaded = load_policy(sources.policy)
    with open_tenant(sources.tenant, sources.seed, sources.base) as provider:
        tenant = provider.read()
        desired = resolve(loaded, tenant.subscribedSkus)
        check_pin(desired.tenant, tenant, loaded)
        plan = build_plan(desired, tenant)
        click.echo(plan_text(plan))
        if not plan.changes_present:
            return
        if not auto_approve:
            if not sys.stdin.isatty():
                raise InputError(
                    "apply needs an answer and none can be asked here: "
                    "pass --auto-approve to apply without asking"
                )
            click.confirm("\nApply these changes?", abort=True)
        click.echo("")
        names = names_of(plan.before)
        summary = apply_plan(plan, provider, lambda change: click.echo(change_line(change, names)))
    click.echo(
        f"\nApply complete! {summary['add']} added, {summary['change']} changed, "
        f"{summary['remove']} removed."
    )
