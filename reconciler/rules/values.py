"""Entra's value quirks as small named helpers: null, case, dates and durations."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from reconciler.rules.ast import Duration

_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)


def normalize_string(value: object) -> str | None:
    """The comparable form of a string attribute: lower case, or None when unset.

    Entra doesn't store empty strings, so "" counts as null (A9); comparisons ignore case (A17).
    """
    return value.lower() if is_set(value) else None


def is_set(value: object) -> bool:
    """Whether a string attribute has a value: a non-empty string (anything else is unset)."""
    return value.__class__ is str and value != ""


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date or date-time; without a zone it is UTC. None if `text` isn't one."""
    candidate = text.strip()
    if candidate[-1:] in "zZ":
        candidate = candidate[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(candidate)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def parse_duration(text: str) -> Duration | None:
    """An ISO 8601 duration such as `p1d` or `PT12H` (any case); None if `text` isn't one."""
    sign = 1
    if text.startswith("-"):
        sign, text = -1, text[1:]
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groupdict().values()) or text.upper().endswith("T"):
        return None
    parts = {key: value for key, value in match.groupdict().items() if value}
    return Duration(
        years=int(parts.get("years", 0)),
        months=int(parts.get("months", 0)),
        weeks=int(parts.get("weeks", 0)),
        days=int(parts.get("days", 0)),
        hours=int(parts.get("hours", 0)),
        minutes=int(parts.get("minutes", 0)),
        seconds=float(parts.get("seconds", 0)),
        sign=sign,
    )


# No hire date is a millennium away; the bound keeps system.now inside the calendar.
MAX_DURATION_YEARS = 1000


def duration_in_range(duration: Duration) -> bool:
    """Whether `duration` is at most MAX_DURATION_YEARS long, counting a year as 366 days."""
    months = duration.years * 12 + duration.months
    days = duration.weeks * 7 + duration.days + (duration.hours * 60 + duration.minutes) / 1440
    days += duration.seconds / 86400
    return months / 12 + days / 366 <= MAX_DURATION_YEARS


def add_duration(moment: datetime, duration: Duration) -> datetime:
    """`moment` moved by `duration`: years and months on the calendar, the rest exactly."""
    months = moment.month - 1 + duration.sign * (duration.years * 12 + duration.months)
    year, month = moment.year + months // 12, months % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    exact = timedelta(
        weeks=duration.weeks,
        days=duration.days,
        hours=duration.hours,
        minutes=duration.minutes,
        seconds=duration.seconds,
    )
    return moment.replace(year=year, month=month, day=day) + duration.sign * exact


def format_duration(duration: Duration) -> str:
    """The canonical ISO 8601 text of `duration`, e.g. `P1D` or `-PT12H`."""
    date = "".join(
        f"{value}{unit}"
        for value, unit in (
            (duration.years, "Y"),
            (duration.months, "M"),
            (duration.weeks, "W"),
            (duration.days, "D"),
        )
        if value
    )
    # fixed-point, never an exponent: 1e-05 or 1.2e+06 would not parse back
    seconds = format(Decimal(repr(duration.seconds)), "f") if duration.seconds else ""
    if "." in seconds:
        seconds = seconds.rstrip("0").rstrip(".")
    time = "".join(
        f"{value}{unit}"
        for value, unit in ((duration.hours, "H"), (duration.minutes, "M"), (seconds, "S"))
        if value
    )
    text = "P" + date + (f"T{time}" if time else "")
    if text == "P":
        text = "P0D"
    return ("-" if duration.sign < 0 else "") + text


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, as Graph writes date-times."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- reading Graph objects: used by compiled rules ------------------------------------------


def as_datetime(value: object) -> datetime | None:
    """A Graph date-time attribute as a datetime, or None when unset or unreadable."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        return parse_datetime(value)
    return None


def first_item(values: object) -> str | None:
    """telephoneNumber: Graph keeps a list (businessPhones); the rule sees the first entry."""
    if isinstance(values, list) and values:
        return values[0]
    return None


def sip_address(proxy_addresses: object) -> str | None:
    """sipProxyAddress: the address of the `SIP:` entry of proxyAddresses, prefix removed."""
    for address in items(proxy_addresses):
        if isinstance(address, str) and address[:4].lower() == "sip:":
            return address[4:]
    return None


def items(values: object) -> list | tuple:
    """The items of a collection attribute; anything but a list is an empty collection."""
    return values if isinstance(values, list | tuple) else ()


def item_field(item: object, name: str) -> object:
    """A field of an object-collection item such as an assignedPlan."""
    return item.get(name) if isinstance(item, dict) else None


def extension_value(obj: Mapping[str, Any], name: str) -> object:
    """A custom extension property; the rule may spell its app id or name in another case."""
    if name in obj:
        return obj[name]
    lowered = name.lower()
    for key, value in obj.items():
        if key.lower() == lowered:
            return value
    return None


def reference_id(value: object) -> str | None:
    """The lower-cased object id of a Graph reference: `{"id": ...}` or a bare id string."""
    if isinstance(value, dict):
        value = value.get("id")
    return value.lower() if isinstance(value, str) and value else None


def reference_ids(values: object) -> set[str]:
    """Lower-cased ids of a list of Graph references, such as a user's memberOf."""
    ids = set()
    for value in values or ():
        object_id = reference_id(value)
        if object_id is not None:
            ids.add(object_id)
    return ids
