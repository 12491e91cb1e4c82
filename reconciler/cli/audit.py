"""`reconciler audit`: the audit log apply writes, filtered by group, user and time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from reconciler.audit import Record, parse_time, read_audit
from reconciler.cli.options import config_option, format_option
from reconciler.config import load_config
from reconciler.errors import InputError
from reconciler.render.errors import error_text


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


@click.command()
@config_option
@click.option("--group", metavar="GROUP", help="Only records of this group (displayName or id).")
@click.option(
    "--user", metavar="USER", help="Only changes naming this user (userPrincipalName or id)."
)
@click.option(
    "--since", type=_Time(), metavar="TIME", help="Only records at or after TIME (UTC by default)."
)
@format_option
def audit(
    config_file: Path | None,
    group: str | None,
    user: str | None,
    since: datetime | None,
    output_format: str,
) -> None:
    """List the audit log: every change apply made, and how each group's licensing settled."""
    path = load_config(config_file).audit
    if not path.exists():
        click.echo(f"no audit log at {path} yet", err=True)
        return
    damaged: list[InputError] = []
    records = read_audit(path, group=group, user=user, since=since, damaged=damaged)
    if output_format == "json":
        # JSON Lines, as the log itself: one record per line
        for record in records:
            click.echo(json.dumps(record, ensure_ascii=False))
    elif records:
        click.echo("\n".join(audit_text(records)))
    elif not damaged:
        click.echo("no audit records match", err=True)
    if damaged:
        # the rest of the log is listed; the damage is still an error worth an exit code
        for error in damaged[1:]:
            click.echo(error_text(error), err=True)
        raise damaged[0]


def audit_text(records: Sequence[Record]) -> list[str]:
    """One line per record: time, actor, operation, group and result, in aligned columns."""
    rows = [
        (
            str(record.get("activityDateTime", "")),
            str(record.get("actor", "")),
            str(record.get("operation", "")),
            _group_name(record.get("group")),
            _result(record),
        )
        for record in records
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        "  ".join([*(row[column].ljust(widths[column]) for column in range(4)), row[4]])
        for row in rows
    ]


def _group_name(group: Any) -> str:
    if not isinstance(group, dict):
        return ""
    return str(group.get("displayName") or group.get("id") or "")


def _result(record: Record) -> str:
    result = str(record.get("result", ""))
    return f"{result}: {record['error']}" if record.get("error") else result
