"""`reconciler explain USER`: why a person has the licenses they have, and what the plan would
change for them."""

from __future__ import annotations

import click

from reconciler.cli.options import Sources, format_option, open_tenant_for, source_options
from reconciler.explain import explain as explain_user
from reconciler.policy import load_policy
from reconciler.render.explain_text import explain_json, explain_text


@click.command()
@click.argument("user", metavar="USER")
@source_options
@format_option
def explain(sources: Sources, user: str, output_format: str) -> None:
    """Why USER has their licenses, and what the plan would change for them.

    USER is a userPrincipalName or an object id (case ignored).
    """
    loaded = load_policy(sources.policy)
    with open_tenant_for(sources, loaded) as provider:
        tenant = provider.read()
    explanation = explain_user(loaded, tenant, user)
    if output_format == "json":
        click.echo(explain_json(explanation))
    else:
        click.echo(explain_text(explanation))
