"""Rule literals: reading and writing ISO 8601 dates and durations, and moving a date."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from reconciler.rules.ast import Duration

_DURATION = re.compile(
    r"P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?",
    re.IGNORECASE,
)


def parse_datetime(text: str) -> datetime | None:
    """An ISO 8601 date or date-time, in UTC (no zone means UTC); None if `text` isn't one.

    A moment that falls outside the calendar once in UTC (year 1 at +14:00) isn't one either.
    """
    candidate = text.strip()
    if candidate[-1:] in "zZ":
        candidate = candidate[:-1] + "+00:00"
    try:
        value = datetime.fromisoformat(candidate)
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        return None


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
