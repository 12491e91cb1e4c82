"""`reconciler drift`: where managed groups differ from the policy because the tenant changed."""

from __future__ import annotations

import json

import click

from reconciler.audit import utc_now
from reconciler.cli.options import Sources, format_option, open_tenant_for, source_options
from reconciler.drift import FORMAT_VERSION, drift_items, read_drift
from reconciler.plan.planning import plan_now
from reconciler.policy import load_policy
from reconciler.render.drift_text import drift_text


@click.command()
@source_options
@format_option
@click.pass_context
def drift(ctx: click.Context, sources: Sources, output_format: str) -> None:
    """Report changes made outside reconciler to managed groups: who, when, what.

    Exit 0 without drift, 2 with drift, 1 on error (a snapshot has no audit log to ask).
    """
    loaded = load_policy(sources.policy)
    with open_tenant_for(sources, loaded) as provider:
        tenant = provider.read()
        built = plan_now(loaded, tenant)
        found = read_drift(built, provider, utc_now()) if built.changes else ()
    items = drift_items(found)
    if output_format == "json":
        document = {"formatVersion": FORMAT_VERSION, "driftPresent": bool(items), "drift": items}
        click.echo(json.dumps(document, indent=2, ensure_ascii=False))
    else:
        click.echo(drift_text(items))
    if items:
        ctx.exit(2)
