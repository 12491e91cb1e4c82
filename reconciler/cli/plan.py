"""`reconciler validate`, `plan` and `show`: the policy checked, compared with a tenant, shown.

A plan saved with `--out`, or printed with `--format json`, carries its `origin` (see
plan/origin.py); a text plan doesn't need one, so it is spared fingerprinting the tenant.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.audit import utc_now
from reconciler.cli.options import Sources, format_option, open_tenant_for, source_options
from reconciler.drift import drift_items, read_drift
from reconciler.errors import ReconcilerError
from reconciler.plan.build import Plan
from reconciler.plan.document import Document, plan_document
from reconciler.plan.origin import with_origin
from reconciler.plan.planfile import read_plan_file, write_plan_file
from reconciler.plan.planning import check_pin, freshness_now, plan_now
from reconciler.plan.stale import Freshness
from reconciler.policy import load_policy, resolve
from reconciler.providers.base import Provider, ProviderError
from reconciler.render.plan_json import plan_json
from reconciler.render.plan_text import colourize, plan_text


@click.command()
@source_options
@click.option("--offline", is_flag=True, help="Check files only; don't read the tenant.")
def validate(sources: Sources, offline: bool) -> None:
    """Check the policy: YAML, schema and rules; names too when the tenant can be read."""
    # the names are checked even in a policy with problems, so one run reports every problem
    loaded = load_policy(sources.policy, keep_going=not offline)
    if offline:
        click.echo(f"policy in {sources.policy} is valid (names not checked against a tenant)")
        return
    with open_tenant_for(sources, loaded) as provider:
        tenant = provider.read()
    desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
    check_pin(desired.tenant, tenant, loaded)
    click.echo(
        f"policy in {sources.policy} is valid: {len(desired.groups)} managed groups, "
        f"{len(desired.retired)} to retire"
    )


@click.command()
@source_options
@format_option
@click.option("--show-all", is_flag=True, help="List every license removal, not the first 50.")
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Save the plan, for `show` and `apply PLANFILE`.",
)
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
    out_file: Path | None,
    detailed_exitcode: bool,
) -> None:
    """Show what apply would change, and who would lose which licenses."""
    loaded = load_policy(sources.policy, keep_going=True)  # plan_now reports every problem
    with open_tenant_for(sources, loaded) as provider:
        tenant = provider.read()
        built = plan_now(loaded, tenant)
        document = with_drift(plan_document(built), built, provider, sources)
    if out_file is not None or output_format == "json":
        document = with_origin(document, loaded, tenant)
    if out_file is not None:
        write_plan_file(document, out_file)
    _echo(document, output_format, show_all)
    if detailed_exitcode and document["changesPresent"]:
        ctx.exit(2)


@click.command()
@click.argument("plan_file", metavar="PLANFILE", type=Path)
@source_options
@format_option
@click.option("--show-all", is_flag=True, help="List every license removal, not the first 50.")
def show(sources: Sources, plan_file: Path, output_format: str, show_all: bool) -> None:
    """Print a saved plan, warning if the tenant or policy has moved on since it was made."""
    document = read_plan_file(plan_file)
    try:
        warning = _stale_warning(_freshness(document, sources))
    except ReconcilerError as error:
        # the plan is still worth reading where the tenant can't be: say only what wasn't checked
        warning = None
        click.echo(f"note: not checked against the tenant: {error}", err=True)
    _echo(document, output_format, show_all)
    if warning is not None:
        # on stderr, after the plan: seen at a terminal, and `--format json` stays JSON
        click.echo(f"warning: {warning}", err=True)


def with_drift(document: Document, built: Plan, provider: Provider, sources: Sources) -> Document:
    """The plan document with what changed outside reconciler, when the tenant's audit log says.

    A plan that can't read the log is still a plan: it says so on stderr and goes on; a
    snapshot has no log to read, which needs no saying.
    """
    if not built.changes:
        return document  # nothing differs from the policy, so nothing drifted from it
    try:
        drift = read_drift(built, provider, utc_now())
    except ProviderError as error:
        if not (sources.tenant or "").startswith("snapshot:"):
            click.echo(f"note: changes made outside reconciler not looked for: {error}", err=True)
        return document
    return {**document, "drift": drift_items(drift)}


def _freshness(document: Document, sources: Sources) -> Freshness:
    loaded = load_policy(sources.policy)
    # no seed: showing a plan never creates a local tenant as a side effect
    with open_tenant_for(sources, loaded, seed=False) as provider:
        tenant = provider.read()
        return freshness_now(document, loaded, tenant)


def _stale_warning(freshness: Freshness) -> str | None:
    """What `show` warns of: another tenant's plan, or a stale one; None for a current plan."""
    problem = freshness.problem()
    if problem is None:
        return None
    return f"{problem} `apply` will refuse it; run `reconciler plan` again."


def _echo(document: dict, output_format: str, show_all: bool) -> None:
    if output_format == "json":
        click.echo(plan_json(document))
    else:
        click.echo(styled(plan_text(document, show_all=show_all)))


def styled(text: str) -> str:
    """Colour for a person at a terminal; never in a pipe, and never when NO_COLOR is set."""
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        return colourize(text)
    return text
