"""`reconciler apply [PLANFILE]`: a saved plan as it is, or a new plan shown and confirmed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from reconciler.apply import apply_changes
from reconciler.cli.options import Sources, source_options
from reconciler.cli.plan import current_plan, styled
from reconciler.errors import InputError
from reconciler.plan.document import changes_from_document, plan_document
from reconciler.plan.planfile import read_plan_file
from reconciler.providers.base import Provider
from reconciler.providers.sources import open_tenant
from reconciler.render.plan_text import change_line, plan_text


@click.command()
@click.argument("plan_file", metavar="[PLANFILE]", required=False, type=Path)
@source_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking.")
def apply(sources: Sources, plan_file: Path | None, auto_approve: bool) -> None:
    """Make the tenant match the policy: a saved plan without asking, else after asking."""
    with open_tenant(sources.tenant, sources.seed, sources.base) as provider:
        if plan_file is not None:
            document = read_plan_file(plan_file)
        else:
            document = plan_document(current_plan(sources, provider))
            # whoever approves sees every license the plan takes away, not the first 50
            click.echo(styled(plan_text(document, show_all=True)))
            if not document["changesPresent"]:
                return
            _confirm(auto_approve)
        _run(document, provider)


def _confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise InputError(
            "apply needs an answer and none can be asked here: "
            "pass --auto-approve to apply without asking"
        )
    click.confirm("\nApply these changes?", abort=True)


def _run(document: dict[str, Any], provider: Provider) -> None:
    click.echo("")
    lines = [change_line(change) for change in document["changes"]]
    apply_changes(changes_from_document(document), provider, lambda index: click.echo(lines[index]))
    summary = document["summary"]
    click.echo(
        f"\nApply complete! {summary['add']} added, {summary['change']} changed, "
        f"{summary['remove']} removed."
    )
