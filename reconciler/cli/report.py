"""`reconciler report licenses|seats|groups`: read-only reports on the tenant, streamed.

Rows are written as they are made, to stdout or to `--out FILE`, so a report on a large tenant
starts at once and is never held whole. `--out` names a regular file: it is written beside its
place and put there when the report is whole, private (0600), as it lists the tenant's users.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import click

from reconciler.cli.options import Sources, open_tenant_for_licensing, source_options
from reconciler.config import DEFAULT_POLICY
from reconciler.model import Tenant
from reconciler.policy import LoadedPolicy, load_policy
from reconciler.private_files import writing_text
from reconciler.render.report import FORMATS, Row, seat_totals_text, write_report
from reconciler.render.safe_text import shown
from reconciler.report import (
    GroupRow,
    LicenseRow,
    PricedSeatRow,
    SeatRow,
    group_rows,
    license_rows,
    managed_ids,
    priced_seats,
    seat_rows,
    tenant_prices,
)

_format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Text for people, CSV for spreadsheets, or JSON Lines (one object per row) for scripts.",
)
_out_option = click.option(
    "--out",
    "out_file",
    # a directory, a FIFO or a device is refused when written, in one message (private_files)
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Write the report to FILE (private: 0600) instead of stdout.",
)


@click.group()
def report() -> None:
    """Read-only reports on the tenant: licenses, seats, licensing groups."""


@report.command()
@source_options
@_format_option
@click.option(
    "--sku",
    "skus",
    metavar="SKU",
    multiple=True,
    help="Only this product (skuPartNumber or skuId); repeatable.",
)
@click.option(
    "--group",
    "groups",
    metavar="GROUP",
    multiple=True,
    help="Only licenses inherited from this group (displayName or id); repeatable.",
)
@_out_option
def licenses(
    sources: Sources,
    output_format: str,
    skus: tuple[str, ...],
    groups: tuple[str, ...],
    out_file: Path | None,
) -> None:
    """One row per user, product and assignment: direct, or inherited from which group."""
    rows = license_rows(_read(sources), skus, groups)
    _write(rows, LicenseRow, output_format, out_file, "no license assignments match")


@report.command()
@source_options
@_format_option
@_out_option
def seats(sources: Sources, output_format: str, out_file: Path | None) -> None:
    """Per product: seats bought and used, held directly or through groups, users in error.

    With prices in the policy (settings.prices), also what the seats cost a month, and what
    the unused ones do.
    """
    loaded = _policy_if_any(sources)
    tenant = _read(sources)
    prices = tenant_prices(loaded, tenant) if loaded is not None else ()
    empty = "the tenant has no products"
    if not prices:
        _write(seat_rows(tenant), SeatRow, output_format, out_file, empty)
        return
    rows, totals = priced_seats(seat_rows(tenant), prices)  # a row per product: a few dozen
    _write(rows, PricedSeatRow, output_format, out_file, empty, seat_totals_text(totals))


@report.command()
@source_options
@_format_option
@click.option(
    "--all", "all_groups", is_flag=True, help="Every security-enabled group, not only licensing."
)
@_out_option
def groups(sources: Sources, output_format: str, all_groups: bool, out_file: Path | None) -> None:
    """Groups that assign licenses: managed by the policy or not, members, licenses, errors."""
    loaded = _policy_if_any(sources)
    if loaded is None:
        where = shown(sources.policy)
        click.echo(f"note: no policy at {where}: no group shows as managed", err=True)
    tenant = _read(sources)
    rows = group_rows(tenant, managed_ids(loaded, tenant), all_groups)
    empty = "no security-enabled groups" if all_groups else "no groups assign licenses"
    _write(rows, GroupRow, output_format, out_file, empty)


def _policy_if_any(sources: Sources) -> LoadedPolicy | None:
    """The policy, when there is one: a report reads the tenant without it, but a policy path
    named (by --policy or reconciler.yaml) that isn't there is a mistake, not "no policy"."""
    if sources.policy.exists() or sources.policy != sources.base / DEFAULT_POLICY:
        return load_policy(sources.policy)  # one message when it isn't there
    return None


def _read(sources: Sources) -> Tenant:
    # licensing's properties are all a report reads of users, as for `reprocess`
    with open_tenant_for_licensing(sources) as provider:
        return provider.read()


def _write(
    rows: Iterable[Row],
    row_type: type,
    output_format: str,
    out_file: Path | None,
    empty: str,
    footer: str = "",
) -> None:
    """The report's rows, and in text the `footer` after them (a CSV or JSON Lines report is
    rows only: scripts add up the columns)."""
    try:
        with _output(out_file) as out:
            count = write_report(rows, row_type, output_format, out)
            if output_format == "text":
                out.write(footer)
    except BrokenPipeError:
        # the reader stopped early (`| head`); Python's own flush at exit would fail again, so
        # stdout goes nowhere from here on, and the exit code says the report wasn't all read
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    if count == 0 and output_format == "text":
        click.echo(empty, err=True)


@contextmanager
def _output(out_file: Path | None) -> Iterator[TextIO]:
    if out_file is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    with writing_text(out_file) as file:
        yield file
