"""`reconciler audit`: reconciler's own audit log, Entra's directory audit log, or both, filtered
by group, user, time and activity."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click

from reconciler.audit import Record, parse_time, read_audit, timestamp
from reconciler.cli.options import (
    Sources,
    format_option,
    open_tenant_for_licensing,
    source_options,
)
from reconciler.directory_audit import (
    ACTOR_DETAIL,
    SUCCESS,
    DirectoryAudit,
    is_object_id,
    licensing_query,
)
from reconciler.errors import InputError
from reconciler.render.errors import error_text
from reconciler.render.safe_text import shown

RECONCILER, ENTRA, ALL = "reconciler", "entra", "all"


class _Time(click.ParamType):
    """An ISO 8601 date or date and time; UTC unless it gives an offset."""

    name = "time"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None):
        if isinstance(value, datetime):
            return value
        try:
            return parse_time(value)
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO 8601 date or time, "
                "such as 2024-05-01 or 2024-05-01T09:30:00Z",
                param,
                ctx,
            )


@dataclass(frozen=True, slots=True)
class _Entry:
    """One record of either log, with what listing it needs."""

    source: str
    moment: datetime
    row: tuple[str, str, str, str, str]  # time, who, activity, target, result
    document: dict[str, Any]


@click.command()
@source_options
@click.option(
    "--source",
    "log",
    type=click.Choice([RECONCILER, ENTRA, ALL]),
    default=RECONCILER,
    show_default=True,
    help="reconciler's own log, Entra's directory audit log of the tenant, or both.",
)
@click.option("--group", metavar="GROUP", help="Only records of this group (displayName or id).")
@click.option(
    "--user", metavar="USER", help="Only records naming this user (userPrincipalName or id)."
)
@click.option(
    "--since", type=_Time(), metavar="TIME", help="Only records at or after TIME (UTC by default)."
)
@click.option(
    "--until", type=_Time(), metavar="TIME", help="Only records at or before TIME (UTC by default)."
)
@click.option(
    "--activity",
    "activities",
    multiple=True,
    metavar="NAME",
    help="Only records of this activity (Entra's) or operation (reconciler's); repeatable.",
)
@format_option
def audit(
    sources: Sources,
    log: str,
    group: str | None,
    user: str | None,
    since: datetime | None,
    until: datetime | None,
    activities: tuple[str, ...],
    output_format: str,
) -> None:
    """List the audit log: what apply changed and how each group's licensing settled; with
    --source entra, what Entra's own audit log says changed the tenant's licensing, and who."""
    entries: list[_Entry] = []
    damaged: list[InputError] = []
    if log in (RECONCILER, ALL):
        if not sources.audit.exists():
            click.echo(f"no audit log at {sources.audit} yet", err=True)
            if log == RECONCILER:
                return
        records = read_audit(
            sources.audit,
            group=group,
            user=user,
            since=since,
            until=until,
            operations=activities,
            damaged=damaged,
        )
        entries += [_reconciler_entry(record) for record in records]
    if log in (ENTRA, ALL):
        entries += [
            _entra_entry(record)
            for record in _entra(sources, group, user, since, until, activities)
        ]
    if log == ALL:
        # each log is oldest first; a stable sort keeps that order among records of one moment
        entries.sort(key=lambda entry: entry.moment)
    _echo(entries, log == ALL, output_format, quiet=bool(damaged))
    if damaged:
        # the rest of the log is listed; the damage is still an error worth an exit code
        for error in damaged[1:]:
            click.echo(error_text(error), err=True)
        raise damaged[0]


def _entra(
    sources: Sources,
    group: str | None,
    user: str | None,
    since: datetime | None,
    until: datetime | None,
    activities: tuple[str, ...],
) -> list[DirectoryAudit]:
    """The tenant's directory audit records, oldest first; names resolved against the tenant."""
    groups, users = [group] if group else [], [user] if user else []
    with open_tenant_for_licensing(sources) as provider:
        names = any(not is_object_id(item) for item in (*groups, *users))
        tenant = provider.read() if names else None
        query = licensing_query(
            tenant, groups, users, since=since, until=until, activities=activities
        )
        found = list(provider.directory_audits(query))
    return found[::-1]  # Graph lists newest first


def _reconciler_entry(record: Record) -> _Entry:
    result = str(record.get("result", ""))
    if record.get("error"):
        result = f"{result}: {record['error']}"
    group = record.get("group")
    name = str(group.get("displayName") or group.get("id") or "") if isinstance(group, dict) else ""
    row = (
        str(record.get("activityDateTime", "")),
        str(record.get("actor", "")),
        str(record.get("operation", "")),
        name,
        result,
    )
    return _Entry(RECONCILER, parse_time(row[0]), row, record)


def _entra_entry(record: DirectoryAudit) -> _Entry:
    who = record.initiatedBy.name
    actor = record.detail(ACTOR_DETAIL)
    if actor:
        who = f"{who} ({actor})"
    result = record.result_line or record.result
    if record.resultReason and record.result != SUCCESS:
        result = f"{result}: {record.resultReason}"
    target = ", ".join(t.name for t in record.targetResources)
    row = (timestamp(record.activityDateTime), who, record.activityDisplayName, target, result)
    return _Entry(ENTRA, record.activityDateTime, row, record.document())


def _echo(entries: Sequence[_Entry], sourced: bool, output_format: str, *, quiet: bool) -> None:
    """JSON Lines of the records, or aligned text; `sourced`: each says which log it is from."""
    if output_format == "json":
        for entry in entries:
            document = {"source": entry.source, **entry.document} if sourced else entry.document
            click.echo(json.dumps(document, ensure_ascii=False))
    elif entries:
        rows = [(entry.source, *entry.row) if sourced else entry.row for entry in entries]
        # names come from the tenant and its log: a line break or an escape in one must not
        # draw a line of its own (render/safe_text.py)
        click.echo("\n".join(aligned([[shown(cell) for cell in row] for row in rows])))
    elif not quiet:
        click.echo("no audit records match", err=True)


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """The rows as lines of columns two spaces apart, each but the last padded to its widest."""
    count = len(rows[0])
    widths = [max(len(row[column]) for row in rows) for column in range(count - 1)]
    return [
        "  ".join([*(row[column].ljust(widths[column]) for column in range(count - 1)), row[-1]])
        for row in rows
    ]
