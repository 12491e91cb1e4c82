"""`reconciler validate`: every error and lint of every policy file, in one run, in one format.

Errors are what load_policy and resolve find (offline: against skus.lock.yaml when there is
one); lints are the rule language's, of every membership rule. Exit 0, or 1 on an error (on a
warning too with --strict), whatever the format: the findings are the output, not a failure.
"""

from __future__ import annotations

from pathlib import Path

import click

from reconciler import __version__
from reconciler.cli.options import Sources, open_tenant_for, source_options
from reconciler.errors import ReconcilerError
from reconciler.policy import (
    PolicyError,
    check_offline,
    load_policy,
    policy_lints,
    resolve,
)
from reconciler.render.sarif import sarif_json
from reconciler.render.validate_report import (
    ERROR,
    UNCHECKED,
    Diagnostic,
    ValidateReport,
    error_diagnostic,
    in_file_order,
    lint_diagnostic,
    validate_json,
)
from reconciler.render.validate_text import finding_lines, github_lines, verdict

FORMATS = ("text", "json", "github", "sarif")
TENANT_UNREADABLE = "tenant-unreadable"  # its code (reconciler/codes.py)


@click.command()
@source_options
@click.option(
    "--offline",
    is_flag=True,
    help="Don't read the tenant; check names against skus.lock.yaml when there is one.",
)
@click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for scripts, github for Actions annotations, sarif for code "
    "scanning.",
)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too, not only on errors.")
@click.pass_context
def validate(
    ctx: click.Context, sources: Sources, offline: bool, output_format: str, strict: bool
) -> None:
    """Check the policy: YAML, schema, rules and their lints; names too, against the tenant."""
    report = check(sources, offline, strict)
    if output_format == "json":
        click.echo(validate_json(report))
    elif output_format == "github":
        click.echo("\n".join(github_lines(report)))
    elif output_format == "sarif":
        notes = (UNCHECKED,) if report.names == "none" else ()
        click.echo(
            sarif_json(
                report.diagnostics,
                exit_code=report.exit_code,
                root=Path.cwd(),
                version=__version__,
                notes=notes,
            )
        )
    else:
        lines = finding_lines(report)
        if lines:
            click.echo("\n".join(lines), err=True)
        if report.valid:
            click.echo(verdict(report))
    ctx.exit(report.exit_code)


def check(sources: Sources, offline: bool, strict: bool) -> ValidateReport:
    """Every finding about the policy `sources` names; no stage waits for the others to pass."""
    policy = str(sources.policy)
    try:
        loaded = load_policy(sources.policy, keep_going=True)
    except PolicyError as error:  # the policy path doesn't exist: there is nothing to read
        return ValidateReport(policy, _errors(error), "none", strict)
    lints = [lint_diagnostic(found) for found in policy_lints(loaded)]
    unread: list[Diagnostic] = []
    if not offline:
        try:
            with open_tenant_for(sources, loaded) as provider:
                tenant = provider.read()
        except ReconcilerError as error:
            # about the run, not about a policy file: its place, if it has one, goes in the text
            unread.append(Diagnostic(ERROR, TENANT_UNREADABLE, str(error)))
        else:
            try:
                desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
            except PolicyError as error:
                found = in_file_order([*_errors(error), *lints])
                return ValidateReport(policy, found, "tenant", strict)
            counts = len(desired.groups), len(desired.retired)
            return ValidateReport(policy, in_file_order(lints), "tenant", strict, *counts)
    # offline, or the tenant unread: what can be checked without it, names against the lock
    errors: list[Diagnostic] = []
    try:
        check_offline(loaded)
    except PolicyError as error:
        errors = _errors(error)
    found = in_file_order([*unread, *errors, *lints])
    if loaded.lock is None:
        return ValidateReport(policy, found, "none", strict)
    return ValidateReport(policy, found, "lock", strict, lock_file=loaded.lock.file)


def _errors(error: PolicyError) -> list[Diagnostic]:
    return [error_diagnostic(each) for each in error.errors]
