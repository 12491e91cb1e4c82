"""The reports as text, CSV or JSON Lines, written row by row as the rows arrive.

Every format has the same columns, named as the row's fields (Graph's names); text leaves out
the object ids a person doesn't read. Text aligns its columns to the widest value of the first
rows (`TEXT_LOOKAHEAD`) so it can start writing before the last row exists; a longer value
later pushes the rest of its line to the right. Text shows control and bidirectional characters
as escapes (render/safe_text.py); CSV and JSON keep every value as the tenant has it.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import fields
from decimal import Decimal
from itertools import islice
from typing import Any, TextIO, get_type_hints

from reconciler.plan.cost import CurrencyTotal, to_cent
from reconciler.render.plan_cost import amount
from reconciler.render.safe_text import shown
from reconciler.report import GroupLicense, GroupRow, LicenseRow, PricedSeatRow, SeatRow

Row = LicenseRow | SeatRow | PricedSeatRow | GroupRow
FORMATS = ("text", "csv", "json")
TEXT_LOOKAHEAD = 1000  # rows read before text fixes its column widths
_NUMBERS = (int, Decimal | None)  # columns aligned to the right

# the columns text shows; CSV and JSON show every field
TEXT_COLUMNS: dict[type, tuple[str, ...]] = {
    LicenseRow: ("userPrincipalName", "skuPartNumber", "assignedBy", "state", "error"),
    SeatRow: (
        "skuPartNumber",
        "enabled",
        "consumed",
        "available",
        "heldDirectly",
        "heldOnlyThroughGroups",
        "inError",
    ),
    PricedSeatRow: (
        "skuPartNumber",
        "enabled",
        "consumed",
        "available",
        "inError",
        "currency",
        "monthly",
        "paidMonthly",
        "unusedMonthly",
    ),
    GroupRow: (
        "displayName",
        "managed",
        "membership",
        "members",
        "usersInError",
        "licenses",
        "membershipRule",
    ),
}


def columns(row_type: type) -> tuple[str, ...]:
    """The columns of a report's CSV and JSON, in order."""
    return tuple(field.name for field in fields(row_type))


def write_report(rows: Iterable[Row], row_type: type, output_format: str, out: TextIO) -> int:
    """Write `rows` to `out` as `output_format`; the number of rows written."""
    if output_format == "json":
        return _write_json(rows, row_type, out)
    if output_format == "csv":
        return _write_csv(rows, row_type, out)
    return _write_text(rows, row_type, out)


def _write_json(rows: Iterable[Row], row_type: type, out: TextIO) -> int:
    # JSON Lines, as `reconciler audit --format json`: one object per row, each on its line
    names = columns(row_type)
    count = 0
    for row in rows:
        document = {name: _json_value(getattr(row, name)) for name in names}
        out.write(json.dumps(document, ensure_ascii=False))
        out.write("\n")
        count += 1
    return count


def _write_csv(rows: Iterable[Row], row_type: type, out: TextIO) -> int:
    names = columns(row_type)
    # "\n" ends rows as every other output does; a value holding a newline is quoted anyway
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(names)
    count = 0
    for row in rows:
        writer.writerow([_cell(getattr(row, name)) for name in names])
        count += 1
    return count


def _write_text(rows: Iterable[Row], row_type: type, out: TextIO) -> int:
    names = TEXT_COLUMNS[row_type]
    stream = iter(rows)
    first = [_text_cells(row, names) for row in islice(stream, TEXT_LOOKAHEAD)]
    widths = [max([len(name), *(len(cells[n]) for cells in first)]) for n, name in enumerate(names)]
    hints = get_type_hints(row_type)
    right = [hints[name] in _NUMBERS for name in names]
    out.write(_line(names, widths, right))
    count = 0
    for cells in _chain(first, (_text_cells(row, names) for row in stream)):
        out.write(_line(cells, widths, right))
        count += 1
    return count


def _chain(
    first: list[tuple[str, ...]], rest: Iterator[tuple[str, ...]]
) -> Iterator[tuple[str, ...]]:
    # the looked-ahead rows are let go as they are written, not held to the end
    first.reverse()
    while first:
        yield first.pop()
    yield from rest


def _text_cells(row: Row, names: tuple[str, ...]) -> tuple[str, ...]:
    # a name holding a line break would start a row of its own
    return tuple(shown(_cell(getattr(row, name))) for name in names)


def _line(cells: Iterable[str], widths: list[int], right: list[bool]) -> str:
    padded = [
        cell.rjust(width) if align else cell.ljust(width)
        for cell, width, align in zip(cells, widths, right, strict=True)
    ]
    return "  ".join(padded).rstrip() + "\n"


def _cell(value: Any) -> str:
    """A value as one CSV or text cell: nothing for None, licenses joined with "; "."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        return "; ".join(_license_text(item) for item in value)
    return str(value)


def _license_text(license: GroupLicense) -> str:
    name = license.skuPartNumber or license.skuId
    if not license.disabledPlans:
        return name
    return f"{name} (disabled: {', '.join(license.disabledPlans)})"


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)  # money, to the cent
    if isinstance(value, tuple):
        return [
            {
                "skuPartNumber": item.skuPartNumber,
                "skuId": item.skuId,
                "disabledPlans": list(item.disabledPlans),
            }
            for item in value
        ]
    return value


def seat_totals_text(totals: Iterable[CurrencyTotal]) -> str:
    """The priced seat report's last lines: per currency, what is paid a month and unused."""
    return "".join(
        f"Total in {total.currency}: {amount(float(to_cent(total.paidMonthly)))} a month, "
        f"{amount(float(to_cent(total.unusedMonthlyNow)))} of it unused\n"
        for total in totals
    )
