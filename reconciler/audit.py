"""The audit log: what apply changed, who ran it, how each group's licensing settled, and
which users were reprocessed, with what result.

JSON Lines, one record per line, only ever appended to; docs/audit.md describes the records.
`read_audit` reads them back, filtered by group, user and time.
"""

from __future__ import annotations

import getpass
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import InputError, Location
from reconciler.model import ACTIVE, LicenseAssignmentState, Tenant

# Entra's own activity names for a group's license processing, so the two logs read alike
START = "Start applying group based license to users"
FINISH = "Finish applying group based license to users"
SUCCESS, FAILURE = "success", "failure"
# a user's failed group licenses tried again, by the name of Graph's action
REPROCESS = "reprocessLicenseAssignment"

Record = dict[str, Any]
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time in UTC: the clock an AuditLog reads unless given another."""
    return datetime.now(UTC)


class AuditLog:
    """Appends records to the log at `path`, each stamped with the time, actor and tenant id."""

    def __init__(self, path: Path, actor: str, tenant_id: str, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.actor = actor
        self.tenant_id = tenant_id
        self._clock = clock

    def change(self, change: Mapping[str, Any], result: str, error: str | None = None) -> Record:
        """Record one item of a plan document's `changes[]` and its result, success or failure."""
        if result not in (SUCCESS, FAILURE):
            raise ValueError(f"result is {SUCCESS!r} or {FAILURE!r}, not {result!r}")
        before, after = _before_after(change)
        return self._append(change["action"], change["group"], before, after, result, error)

    def group_processing(
        self, group: Mapping[str, Any], succeeded: int, failed: int
    ) -> tuple[Record, Record]:
        """Record the start and finish of a group's license processing, with its user counts."""
        start = self._append(START, group, None, None, SUCCESS)
        finish = self._append(FINISH, group, None, None, processing_result(succeeded, failed))
        return start, finish

    def reprocessed(
        self,
        user: Mapping[str, Any],
        group: Mapping[str, Any] | None,
        before: list[Any],
        after: list[Any] | None,
        result: str,
        error: str | None = None,
    ) -> Record:
        """Record a user reprocessed, and the group's failed licenses on them before and after.

        `group` is None for a user with no failed group license on either side.
        """
        person = {"id": user["id"], "userPrincipalName": user["userPrincipalName"]}
        return self._append(
            REPROCESS,
            group,
            {"user": person, "licenses": before},
            None if after is None else {"user": person, "licenses": after},
            result,
            error,
        )

    def _append(
        self,
        operation: str,
        group: Mapping[str, Any] | None,
        before: Any,
        after: Any,
        result: str,
        error: str | None = None,
    ) -> Record:
        record = {
            "activityDateTime": timestamp(self._clock()),
            "actor": self.actor,
            "tenantId": self.tenant_id,
            "operation": operation,
            "group": None
            if group is None
            else {"id": group["id"], "displayName": group["displayName"]},
            "before": before,
            "after": after,
            "result": result,
            "error": error,
        }
        line = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a+b") as file:
                # a last line cut short (a crash mid-write) would swallow this record: end it
                if file.seek(0, os.SEEK_END) > 0:
                    file.seek(-1, os.SEEK_END)
                    if file.read(1) != b"\n":
                        file.write(b"\n")
                file.write(line)
                file.flush()
        except OSError as exc:
            raise InputError(
                f"can't write the audit log: {exc.strerror}", Location(str(self.path))
            ) from exc
        return record


def processing_result(succeeded: int, failed: int) -> str:
    """The result line of a Finish record, worded as Entra words it."""
    return (
        f"Users successfully assigned licenses: {succeeded}, "
        f"Users for whom license assignment failed: {failed}"
    )


def _before_after(change: Mapping[str, Any]) -> tuple[Any, Any]:
    """What a change found and what it left, in the plan document's own terms."""
    match change["action"]:
        case "createGroup":
            return None, change["after"]
        case "updateGroup":
            items = (change, *change.get("also", ()))
            return (
                {item["property"]: item["before"] for item in items},
                {item["property"]: item["after"] for item in items},
            )
        case "addMembers":
            return None, {"members": change["members"]}
        case "removeMembers":
            return {"members": change["members"]}, None
        case "addLicense":
            return None, {"sku": change["sku"], "disabledPlans": change["disabledPlans"]}
        case "changeDisabledPlans":
            return (
                {"sku": change["sku"], "disabledPlans": change["before"]},
                {"sku": change["sku"], "disabledPlans": change["after"]},
            )
        case "removeLicense":
            return {"sku": change["sku"]}, None
        case "deleteGroup":
            return dict(change["group"]), None
        case _:
            # an action added to the plan later is still recorded, as the document states it
            return change.get("before"), change.get("after")


def group_results(tenant: Tenant, group_ids: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Per group id: (users holding all its products through it Active, users it failed).

    `tenant` is settled (after the changes). A member who holds none of the group's products
    yet, or a group the tenant lacks, counts in neither.
    """
    by_group: dict[str, dict[str, list[LicenseAssignmentState]]] = {}
    for user in tenant.users:
        for state in user.licenseAssignmentStates:
            if state.assignedByGroup is not None:
                by_user = by_group.setdefault(state.assignedByGroup.lower(), {})
                by_user.setdefault(user.id.lower(), []).append(state)
    groups = {group.id.lower(): group for group in tenant.groups}
    results: dict[str, tuple[int, int]] = {}
    for group_id in group_ids:
        group = groups.get(group_id.lower())
        if group is None:
            results[group_id] = (0, 0)
            continue
        products = {assigned.skuId.lower() for assigned in group.assignedLicenses}
        members = {member.lower() for member in group.members}
        succeeded = failed = 0
        for user_id, states in by_group.get(group_id.lower(), {}).items():
            # ActiveWithError too: the user keeps the licenses, but the assignment failed
            if any(state.state != ACTIVE for state in states):
                failed += 1
            elif user_id in members and products <= {state.skuId.lower() for state in states}:
                succeeded += 1
        results[group_id] = (succeeded, failed)
    return results


def read_audit(
    path: Path,
    group: str | None = None,
    user: str | None = None,
    since: datetime | None = None,
    damaged: list[InputError] | None = None,
    *,
    until: datetime | None = None,
    operations: Collection[str] = (),
) -> list[Record]:
    """The records of the log at `path` that match every filter given, oldest first.

    `group`: a displayName or id; `user`: a userPrincipalName or id among a change's members;
    `since`/`until`: records at or after / at or before it (a naive time is UTC); `operations`:
    records of one of these (case ignored). A missing log has no records. A damaged line
    raises, or with a `damaged` list is added to it and skipped: a run cut short must not make
    the rest of an append-only log unreadable.
    """
    path = Path(path)
    since = _utc(since) if since is not None else None
    until = _utc(until) if until is not None else None
    wanted = {operation.casefold() for operation in operations}
    records = []
    try:
        with path.open("rb") as file:
            for number, raw in enumerate(file, start=1):
                if not raw.strip():
                    continue
                try:
                    record, moment = _parse(raw, Location(str(path), number))
                except InputError as error:
                    if damaged is None:
                        raise
                    damaged.append(error)
                    continue
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
    return records


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


def default_actor() -> str:
    """Who is running reconciler: the GitHub user in GitHub Actions, else the OS user name."""
    actor = os.environ.get("GITHUB_ACTOR")
    if actor:
        return actor
    try:
        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        # no login name (a container without a passwd entry): still write the record
        return "unknown"
