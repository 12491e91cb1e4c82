"""`reconciler plan` and `show`: the policy compared with a tenant, and a saved plan shown.

A plan saved with `--out`, or printed with `--format json`, carries its `origin` (see
plan/origin.py); a text or Markdown plan doesn't need one, so it is spared fingerprinting the
tenant. In GitHub Actions `plan` also reports to the workflow (cli/github.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from reconciler.audit import utc_now
from reconciler.cli import github
from reconciler.cli.options import Sources, open_tenant_for, source_options
from reconciler.cli.progress import StderrProgress, quiet_option
from reconciler.drift import drift_items, read_drift
from reconciler.errors import ReconcilerError
from reconciler.plan.build import Plan
from reconciler.plan.document import Document, plan_document
from reconciler.plan.origin import with_origin
from reconciler.plan.planfile import read_plan_file, write_plan_file
from reconciler.plan.planning import freshness_now, plan_now
from reconciler.plan.stale import Freshness
from reconciler.policy import load_policy
from reconciler.providers.base import Provider, ProviderError
from reconciler.render.plan_html import plan_html
from reconciler.render.plan_json import plan_json
from reconciler.render.plan_markdown import Context, plan_markdown, plan_marker
from reconciler.render.plan_text import colourize, plan_text
from reconciler.render.safe_text import shown

# plans have two more formats besides the text and json every command has: a pull-request
# comment, and a page to keep as an artifact or send by email
format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json", "markdown", "html"]),
    default="text",
    show_default=True,
    help="Output for people (text), scripts (json), a pull-request comment (markdown) or a "
    "self-contained report page (html).",
)


@click.command()
@source_options
@format_option
@click.option(
    "--show-all", is_flag=True, help="List every license removal, not the first 50 (text)."
)
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
@quiet_option
@click.pass_context
def plan(
    ctx: click.Context,
    sources: Sources,
    output_format: str,
    show_all: bool,
    out_file: Path | None,
    detailed_exitcode: bool,
    progress: StderrProgress,
) -> None:
    """Show what apply would change, and who would lose which licenses.

    In GitHub Actions it also writes the job summary, the step outputs and annotations
    (docs/pr-review.md).
    """
    in_actions = github.active()
    try:
        progress.stage("reading policy")
        loaded = load_policy(sources.policy, keep_going=True)  # plan_now reports every problem
        progress.stage("reading tenant")
        with open_tenant_for(sources, loaded, progress=progress) as provider:
            tenant = provider.read()
            built = plan_now(loaded, tenant, progress)
            document = with_drift(plan_document(built), built, provider, sources, progress)
    except ReconcilerError as error:
        if in_actions:
            with progress.hold():  # the annotations come before the error, on stderr too
                github.report_failure(error)
        raise
    if out_file is not None or output_format == "json":
        progress.stage("fingerprinting the tenant and policy")
        document = with_origin(document, loaded, tenant)
    progress.done()  # the plan, and whatever follows, has the screen to itself
    if out_file is not None:
        write_plan_file(document, out_file)
    plan_file = None if out_file is None else str(out_file)
    context = _context(tenant.organization.id, sources, plan_file)
    markdown = plan_markdown(document, context) if output_format == "markdown" or in_actions else ""
    _echo(document, output_format, show_all, markdown, context)
    if in_actions:
        marker = plan_marker(context.tenant, context.policy)
        outputs = github.plan_outputs(document, marker, plan_file)
        github.report_plan(document, markdown, outputs)
    if detailed_exitcode and document["changesPresent"]:
        ctx.exit(2)


@click.command()
@click.argument("plan_file", metavar="PLANFILE", type=Path)
@source_options
@format_option
@click.option(
    "--show-all", is_flag=True, help="List every license removal, not the first 50 (text)."
)
def show(sources: Sources, plan_file: Path, output_format: str, show_all: bool) -> None:
    """Print a saved plan, warning if the tenant or policy has moved on since it was made."""
    document = read_plan_file(plan_file)
    tenant_id = (document.get("origin") or {}).get("tenantId")
    try:
        freshness, tenant_read = _freshness(document, sources)
        warning = _stale_warning(freshness)
        tenant_id = tenant_id or tenant_read
    except ReconcilerError as error:
        # the plan is still worth reading where the tenant can't be: say only what wasn't checked
        warning = None
        click.echo(f"note: not checked against the tenant: {shown(str(error))}", err=True)
    # the tenant as `plan` names it, so both put the same marker on the comment
    context = _context(tenant_id or "unknown", sources, str(plan_file), stale=warning)
    markdown = plan_markdown(document, context) if output_format == "markdown" else ""
    _echo(document, output_format, show_all, markdown, context)
    if warning is not None:
        # on stderr, after the plan: seen at a terminal, and `--format json` stays JSON
        click.echo(f"warning: {shown(warning)}", err=True)


def with_drift(
    document: Document,
    built: Plan,
    provider: Provider,
    sources: Sources,
    progress: StderrProgress,
) -> Document:
    """The plan document with what changed outside reconciler, when the tenant's audit log says.

    A plan that can't read the log is still a plan: it says so on stderr and goes on; a
    snapshot has no log to read, which needs no saying.
    """
    if not built.changes:
        return document  # nothing differs from the policy, so nothing drifted from it
    progress.stage("reading the audit log for changes made outside reconciler")
    try:
        drift = read_drift(built, provider, utc_now())
    except ProviderError as error:
        if not (sources.tenant or "").startswith("snapshot:"):
            with progress.hold():
                click.echo(
                    f"note: changes made outside reconciler not looked for: {shown(str(error))}",
                    err=True,
                )
        return document
    return {**document, "drift": drift_items(drift)}


def _freshness(document: Document, sources: Sources) -> tuple[Freshness, str]:
    """How the saved plan stands against the tenant now, and that tenant's id."""
    loaded = load_policy(sources.policy)
    # no seed: showing a plan never creates a local tenant as a side effect
    with open_tenant_for(sources, loaded, seed=False) as provider:
        tenant = provider.read()
        return freshness_now(document, loaded, tenant), tenant.organization.id


def _context(
    tenant_id: str, sources: Sources, plan_file: str | None, stale: str | None = None
) -> Context:
    """What the Markdown and HTML plans say besides the plan: tenant, policy, where it is."""
    return Context(
        tenant=tenant_id,
        policy=policy_label(sources.policy),
        plan_file=plan_file,
        run_url=github.run_url(),
        stale=stale,
    )


def policy_label(policy: Path) -> str:
    """The policy path as the comment marker names it: relative to here when inside, '/'-separated.

    The same however the path was given (`policies`, `policies/`, `./policies`, or absolute via
    --config), so `plan` and `show` run from one folder mark their comments alike.
    """
    path = Path(os.path.normpath(policy))
    here = Path.cwd().resolve()
    if path.is_absolute() and path.resolve().is_relative_to(here):
        path = path.resolve().relative_to(here)
    return path.as_posix()


def _stale_warning(freshness: Freshness) -> str | None:
    """What `show` warns of: another tenant's plan, or a stale one; None for a current plan."""
    problem = freshness.problem()
    if problem is None:
        return None
    return f"{problem} `apply` will refuse it; run `reconciler plan` again."


def _echo(
    document: dict, output_format: str, show_all: bool, markdown: str, context: Context
) -> None:
    if output_format == "json":
        click.echo(plan_json(document))
    elif output_format == "markdown":
        click.echo(markdown)
    elif output_format == "html":
        click.echo(plan_html(document, context), nl=False)  # the page ends with its own newline
    else:
        click.echo(styled(plan_text(document, show_all=show_all)))


def styled(text: str) -> str:
    """Colour for a person at a terminal; never in a pipe, and never when NO_COLOR is set."""
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR"):
        return colourize(text)
    return text
