"""The audit log's records: the words they use, how they write time, and reading them back.

audit.py writes the log; docs/audit.md describes the records.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, Location

# Entra's own activity names for a group's license processing, so the two logs read alike
START = "Start applying group based license to users"
FINISH = "Finish applying group based license to users"
SUCCESS, FAILURE = "success", "failure"
# an intent: the change is about to be sent; its outcome follows, with the same changeId
STARTED = "started"
# the outcomes a later apply records for an intent that a run cut short left without one
FOUND_DONE, NOT_APPLIED = "found done", "not applied"
OUTCOMES = (SUCCESS, FAILURE, FOUND_DONE, NOT_APPLIED)
# how read_audit shows an intent whose outcome the log lacks
INTERRUPTED = "interrupted"
# a user's failed group licenses tried again, by the name of Graph's action
REPROCESS = "reprocessLicenseAssignment"

Record = dict[str, Any]


def read_audit(
    path: Path,
    group: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    damaged: list[InputError] | None = None,
    *,
    until: datetime | None = None,
    operations: Collection[str] = (),
    raw: bool = False,
) -> list[Record]:
    """The records of the log at `path` that match every filter given, oldest first.

    `group`: a displayName or id; `user`: a userPrincipalName or id among a change's members;
    `since`/`until`: records at or after / at or before it (a naive time is UTC); `operations`:
    records of one of these (case ignored). A missing log has no records. A damaged line
    raises, or with a `damaged` list is added to it and skipped: a run cut short must not make
    the rest of an append-only log unreadable.

    Each change is listed once: by its outcome, or, when the log has none, by its intent with
    `result` "interrupted". With `raw`, every record is listed as it is in the log.
    """
    path = Path(path)
    since = _utc(since) if since is not None else None
    until = _utc(until) if until is not None else None
    wanted = {operation.casefold() for operation in operations}
    records = []
    concluded: set[str] = set()  # the changeIds that have an outcome
    try:
        with path.open("rb") as file:
            for number, line in enumerate(file, start=1):
                if not line.strip():
                    continue
                try:
                    record, moment = _parse(line, Location(str(path), number))
                except InputError as error:
                    if damaged is None:
                        raise
                    damaged.append(error)
                    continue
                if record.get("changeId") is not None and record.get("result") != STARTED:
                    concluded.add(record["changeId"])
                if (since is not None and moment < since) or (until is not None and moment > until):
                    continue
                if wanted and str(record.get("operation", "")).casefold() not in wanted:
                    continue
                if group is not None and not _named(record.get("group"), group, "displayName"):
                    continue
                if user is not None and not any(
                    _named(member, user, "userPrincipalName") for member in _members(record)
                ):
                    continue
                records.append(record)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise InputError(f"can't read the audit log: {exc.strerror}", Location(str(path))) from exc
    if raw:
        return records
    return [
        {**record, "result": INTERRUPTED} if _intent(record) else record
        for record in records
        if not (_intent(record) and record["changeId"] in concluded)
    ]


def _intent(record: Record) -> bool:
    return record.get("result") == STARTED and isinstance(record.get("changeId"), str)


def _parse(raw: bytes, at: Location) -> tuple[Record, datetime]:
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError("damaged audit record: not UTF-8 text", at) from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"damaged audit record: {exc.msg}", Location(at.file, at.line, exc.colno)
        ) from exc
    if not isinstance(record, dict) or not isinstance(record.get("activityDateTime"), str):
        raise InputError("damaged audit record: expected an object with activityDateTime", at)
    try:
        return record, parse_time(record["activityDateTime"])
    except ValueError as exc:
        raise InputError(
            f"damaged audit record: activityDateTime {record['activityDateTime']!r} "
            "is not an ISO 8601 time",
            at,
        ) from exc


def _members(record: Record) -> Iterator[Any]:
    """The users a record names: a change's members, or the user reprocessed."""
    for side in (record.get("before"), record.get("after")):
        if isinstance(side, dict) and isinstance(side.get("members"), list):
            yield from side["members"]
        if isinstance(side, dict) and isinstance(side.get("user"), dict):
            yield side["user"]


def _named(item: Any, wanted: str, name_key: str) -> bool:
    """Whether `item` has `wanted` as its id or its name, ignoring case as Entra does."""
    if not isinstance(item, dict):
        return False
    wanted = wanted.casefold()
    return any(
        isinstance(item.get(key), str) and item[key].casefold() == wanted
        for key in ("id", name_key)
    )


def parse_time(text: str) -> datetime:
    """An ISO 8601 date or date and time, as an aware datetime; without an offset it is UTC."""
    return _utc(datetime.fromisoformat(text))


def timestamp(moment: datetime) -> str:
    """`moment` as the log writes it: ISO 8601 in UTC, to the millisecond, with a Z."""
    return _utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)
