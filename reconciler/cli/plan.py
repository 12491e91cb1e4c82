"""`reconciler validate` and `reconciler plan`: the policy checked, then compared with a tenant."""

from __future__ import annotations

import click

from reconciler.cli.options import Sources, source_options
from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.build import build_plan
from reconciler.policy import LoadedPolicy, load_policy, resolve
from reconciler.providers.sources import open_tenant
from reconciler.render.plan_json import plan_json
from reconciler.render.plan_text import plan_text


@click.command()
@source_options
@click.option("--offline", is_flag=True, help="Check files only; don't read the tenant.")
def validate(sources: Sources, offline: bool) -> None:
    """Check the policy: YAML, schema and rules; names too when the tenant can be read."""
    loaded = load_policy(sources.policy)
    if offline:
        click.echo(f"policy in {sources.policy} is valid (names not checked against a tenant)")
        return
    with open_tenant(sources.tenant, sources.seed, sources.base) as provider:
        tenant = provider.read()
    desired = resolve(loaded, tenant.subscribedSkus)
    check_pin(desired.tenant, tenant, loaded)
    click.echo(
        f"policy in {sources.policy} is valid: {len(desired.groups)} managed groups, "
        f"{len(desired.retired)} to retire"
    )


@click.command()
@source_options
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
)
@click.option("--show-all", is_flag=True, help="List every license removal, not the first 50.")
@click.option(
    "--detailed-exitcode",
    is_flag=True,
    help="Exit 2 when the plan has changes (0 without, 1 on error).",
)
@click.pass_context
def plan(
    ctx: click.Context,
    sources: Sources,
    output_format: str,
    show_all: bool,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change, and who would lose which licenses."""
    loaded = load_policy(sources.policy)
    with open_tenant(sources.tenant, sources.seed, sources.base) as provider:
        tenant = provider.read()
    desired = resolve(loaded, tenant.subscribedSkus)
    check_pin(desired.tenant, tenant, loaded)
    result = build_plan(desired, tenant)
    if output_format == "json":
        click.echo(plan_json(result))
    else:
        click.echo(plan_text(result, show_all=show_all))
    if detailed_exitcode and result.changes_present:
        ctx.exit(2)


def check_pin(pinned: str | None, tenant: Tenant, loaded: LoadedPolicy) -> None:
    """A policy pinned to one tenant refuses to plan against another."""
    if pinned is None:
        return
    names = {domain.lower() for domain in tenant.organization.verifiedDomains}
    if pinned.lower() not in names and pinned.lower() != tenant.organization.id.lower():
        raise InputError(
            f"the policy is for tenant {pinned}, but this tenant is "
            f"{tenant.organization.displayName} ({', '.join(tenant.organization.verifiedDomains)})",
            loaded.positions.location(("tenant",)),
        )
