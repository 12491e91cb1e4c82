"""The audit log: what apply changed, who ran it, how each group's licensing settled, and
which users were reprocessed, with what result.

JSON Lines, one record per line, only ever appended to; docs/audit.md describes the records.
Apply writes an intent record before each change and its outcome after, so a run cut short at
any moment leaves in the log every change it may have made (interrupted.py records, on the next
run, what became of them). `read_audit` (audit_records) reads the records back, filtered.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.audit_records import (
    FAILURE,
    FINISH,
    FOUND_DONE,
    INTERRUPTED,
    NOT_APPLIED,
    OUTCOMES,
    REPROCESS,
    START,
    STARTED,
    SUCCESS,
    Record,
    parse_time,
    read_audit,
    timestamp,
)
from reconciler.engine.positions import holders
from reconciler.errors import InputError, Location
from reconciler.model import ACTIVE, Tenant

# the records' words and reading them are audit_records'; offered here with the writer
__all__ = [
    "FAILURE",
    "FINISH",
    "FOUND_DONE",
    "INTERRUPTED",
    "NOT_APPLIED",
    "REPROCESS",
    "START",
    "STARTED",
    "SUCCESS",
    "AuditLog",
    "Clock",
    "Record",
    "default_actor",
    "group_results",
    "parse_time",
    "processing_result",
    "read_audit",
    "timestamp",
    "utc_now",
]

Clock = Callable[[], datetime]

# appending only, and private when created. O_NONBLOCK: a FIFO with no reader is an error, not
# a wait (a regular file ignores it); O_BINARY: no newline translation on Windows
_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT
_FLAGS |= getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)


def utc_now() -> datetime:
    """The current time in UTC: the clock an AuditLog reads unless given another."""
    return datetime.now(UTC)


class AuditLog:
    """Appends records to the log at `path`, each stamped with the time, actor and tenant id.

    `run_id` names this run in the records an apply writes (intents, outcomes, processing).
    """

    def __init__(self, path: Path, actor: str, tenant_id: str, clock: Clock = utc_now) -> None:
        self.path = Path(path)
        self.actor = actor
        self.tenant_id = tenant_id
        self.run_id = str(uuid.uuid4())
        self._clock = clock

    def check(self) -> None:
        """InputError unless the log can be appended to; creates it, empty, when missing.

        Apply calls it before anything else, so that a log it can't write changes nothing.
        """
        self._write(b"", sync=False)

    def change(self, change: Mapping[str, Any], result: str, error: str | None = None) -> Record:
        """Record one item of a plan document's `changes[]` and its result, success or failure."""
        if result not in (SUCCESS, FAILURE):
            raise ValueError(f"result is {SUCCESS!r} or {FAILURE!r}, not {result!r}")
        before, after = _before_after(change)
        return self._append(change["action"], change["group"], before, after, result, error)

    def intent(self, change: Mapping[str, Any]) -> Record:
        """Record that one item of a plan document's `changes[]` is about to be sent.

        The record is on disk (synced) when this returns: no change is made without it.
        """
        before, after = _before_after(change)
        ids = {"runId": self.run_id, "changeId": str(uuid.uuid4())}
        record = self._record(change["action"], change["group"], before, after, STARTED, None, ids)
        self._write(_line(record), sync=True)
        return record

    def outcome(
        self, intent: Mapping[str, Any], result: str, error: str | None = None, **stated: Any
    ) -> Record:
        """Record how the change `intent` announced ended; in its run, by its actor.

        `stated` replaces what the outcome would repeat from the intent: the `group` (a created
        group's real id), or the `before` or `after` of the part of a membership change found.
        """
        if result not in OUTCOMES:
            raise ValueError(f"an outcome is one of {', '.join(OUTCOMES)}, not {result!r}")
        record = {**intent, **stated, "result": result, "error": error}
        record["activityDateTime"] = timestamp(self._clock())
        self._write(_line(record), sync=False)
        return record

    def group_processing(
        self,
        group: Mapping[str, Any],
        succeeded: int,
        failed: int,
        *,
        run_id: str | None = None,
        actor: str | None = None,
        start: bool = True,
    ) -> tuple[Record, ...]:
        """Record the start and finish of a group's license processing, with its user counts.

        `run_id` and `actor` name the apply run they belong to, when one does; without `start`
        only the finish is recorded (the start was, before a run was cut short).
        """
        ids = {} if run_id is None else {"runId": run_id}
        records = [(START, SUCCESS)] if start else []
        records.append((FINISH, processing_result(succeeded, failed)))
        return tuple(
            self._append(operation, group, None, None, result, None, ids, actor=actor)
            for operation, result in records
        )

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
        ids: Mapping[str, str] | None = None,
        *,
        actor: str | None = None,
    ) -> Record:
        record = self._record(operation, group, before, after, result, error, ids, actor)
        self._write(_line(record), sync=False)
        return record

    def _record(
        self,
        operation: str,
        group: Mapping[str, Any] | None,
        before: Any,
        after: Any,
        result: str,
        error: str | None,
        ids: Mapping[str, str] | None = None,
        actor: str | None = None,
    ) -> Record:
        return {
            "activityDateTime": timestamp(self._clock()),
            "actor": actor or self.actor,
            "tenantId": self.tenant_id,
            "operation": operation,
            "group": None
            if group is None
            else {"id": group["id"], "displayName": group["displayName"]},
            "before": before,
            "after": after,
            "result": result,
            "error": error,
            **(ids or {}),
        }

    def _write(self, data: bytes, *, sync: bool) -> None:
        """Appends `data`; creates the log private (0600, a folder made for it 0700)."""
        try:
            if not self.path.parent.is_dir():
                self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, _FLAGS, 0o600)
            try:
                # a last line cut short (a crash mid-write) would swallow this record: end it
                if data and os.fstat(fd).st_size > 0 and not _ends_a_line(self.path):
                    data = b"\n" + data
                while data:
                    data = data[os.write(fd, data) :]
                if sync:
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            message = f"can't write the audit log: {_reason(exc, self.path)}"
            raise InputError(message, Location(str(self.path))) from exc


def _line(record: Record) -> bytes:
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def _ends_a_line(path: Path) -> bool:
    """Whether the file's last byte ends a line; True when it can't be read (write-only)."""
    try:
        with path.open("rb") as file:
            file.seek(-1, os.SEEK_END)
            return file.read(1) == b"\n"
    except OSError:
        return True


def _reason(exc: OSError, path: Path) -> str:
    """Why the log can't be written, in words that point at the fix."""
    if isinstance(exc, IsADirectoryError) or path.is_dir():
        return "it is a folder, not a file"
    if isinstance(exc, FileExistsError | NotADirectoryError):
        blocking = next((p for p in reversed(path.parents) if p.exists() and not p.is_dir()), None)
        if blocking is not None:
            return f"{blocking} is a file, not a folder"
    return exc.strerror or str(exc)


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


def group_results(
    tenant: Tenant, group_ids: Iterable[str], before: Tenant | None = None
) -> dict[str, tuple[int, int]]:
    """Per group id: (users holding all its products through it Active, users it failed).

    `tenant` is settled (after the changes; `before`, if given, the tenant they started from,
    so that who holds what needn't be worked out again). A member who holds none of the
    group's products yet, or a group the tenant lacks, counts in neither.
    """
    users = tenant.users
    holding = holders(users, before.users if before is not None else None)
    groups = {group.id.lower(): group for group in tenant.groups}
    results: dict[str, tuple[int, int]] = {}
    for group_id in group_ids:
        key = group_id.lower()
        group = groups.get(key)
        if group is None:
            results[group_id] = (0, 0)
            continue
        products = {assigned.skuId.lower() for assigned in group.assignedLicenses}
        members = {member.lower() for member in group.members}
        succeeded = failed = 0
        for position in holding.get(key, ()):
            user = users[position]
            states = [
                s
                for s in user.licenseAssignmentStates
                if s.assignedByGroup is not None and s.assignedByGroup.lower() == key
            ]
            # ActiveWithError too: the user keeps the licenses, but the assignment failed
            if any(state.state != ACTIVE for state in states):
                failed += 1
            elif user.id.lower() in members and products <= {s.skuId.lower() for s in states}:
                succeeded += 1
        results[group_id] = (succeeded, failed)
    return results


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
