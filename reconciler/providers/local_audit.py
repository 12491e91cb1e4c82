"""The local tenant's directory audit log: the records Entra would write for each write, kept in
the tenant's SQLite file and listed as Graph lists them.

A write is compared before and after (what the engine settled), so whatever it changed is
recorded, including what Entra does by itself: dynamic membership rules adding and removing
members, and group-based licensing processing groups and changing users' licenses. One write's
records share a time and a correlationId, in the order Entra logs them. docs/audit.md lists them.

Tables, made when missing so that older tenant files keep working: `directory_audits(seq, id,
activityDateTime, category, activityDisplayName, doc)`, `doc` being the record's Graph JSON, and
`directory_audit_targets(seq, id)`, each record's target resource ids, for filtering.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Any

import msgspec

from reconciler.audit import group_results, processing_result, timestamp
from reconciler.directory_audit import (
    ADD_GROUP,
    ADD_MEMBER,
    CHANGE_USER_LICENSE,
    DELETE_GROUP,
    DYNAMIC_MEMBERSHIP,
    FAILURE,
    FINISH_LICENSING,
    GROUP_LICENSING,
    GROUP_MANAGEMENT,
    REMOVE_MEMBER,
    RESULT_PROPERTY,
    SET_GROUP_LICENSE,
    START_LICENSING,
    SUCCESS,
    UPDATE_GROUP,
    USER_MANAGEMENT,
    AuditActivityInitiator,
    AuditQuery,
    DirectoryAudit,
    Initiator,
    ModifiedProperty,
    TargetResource,
    UserIdentity,
)
from reconciler.engine.positions import differences, positions
from reconciler.errors import InputError, Location
from reconciler.model import ACTIVE, NO_ERROR, UNIFIED, AssignedLicense, Group, Tenant, User
from reconciler.plan.changes import MEMBERSHIP_PROPERTIES

__all__ = ["Recorder", "append", "change_records", "reprocess_records", "select"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS directory_audits (
    seq INTEGER PRIMARY KEY, id TEXT NOT NULL,
    activityDateTime TEXT NOT NULL, category TEXT NOT NULL COLLATE NOCASE,
    activityDisplayName TEXT NOT NULL COLLATE NOCASE, doc TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS directory_audits_time ON directory_audits (activityDateTime);
CREATE TABLE IF NOT EXISTS directory_audit_targets (
    seq INTEGER NOT NULL, id TEXT NOT NULL COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS directory_audit_targets_id ON directory_audit_targets (id);
"""
# group properties, and their names in "Add group" and "Update group": Graph's, capitalised
_PROPERTIES = {
    name: name[0].upper() + name[1:]
    for name in (
        *("displayName", "description", "mailNickname", "mailEnabled", "securityEnabled"),
        *("groupTypes", "membershipRule", "membershipRuleProcessingState"),
    )
}
LICENSE_PROPERTY = "AssignedLicense"

# what a write records: (before, after, who wrote, when) -> records
Recorder = Callable[[Tenant, Tenant, Initiator, datetime], list[DirectoryAudit]]
DirectoryObject = User | Group | dict[str, Any]  # a member: a user, a group or a device


# --- the records of a write ---------------------------------------------------------------


def change_records(
    before: Tenant, after: Tenant, initiator: Initiator, when: datetime
) -> list[DirectoryAudit]:
    """The records of a write of group changes (apply, apply_together): per group, its own
    changes then its members', then the license processing of the groups it concerns."""
    log = _Log(before, after, initiator, when)
    old = {group.id.lower(): group for group in before.groups}
    new = {group.id.lower(): group for group in after.groups}
    processed: list[Group] = []
    for key, group in new.items():
        was = old.get(key)
        if was is group:
            continue  # the engine keeps a group a write left alone as the same object
        if was is None:
            log.group(ADD_GROUP, "Add", group, _properties(None, group))
        else:
            changed = _properties(was, group)
            if changed:
                names = ", ".join(p.displayName for p in changed)
                included = ModifiedProperty("Included Updated Properties", None, json.dumps(names))
                log.group(UPDATE_GROUP, "Update", group, (*changed, included))
            if was.assignedLicenses != group.assignedLicenses:
                old_value, new_value = (
                    _licenses(was.assignedLicenses),
                    _licenses(group.assignedLicenses),
                )
                licenses = ModifiedProperty(LICENSE_PROPERTY, old_value, new_value)
                log.group(SET_GROUP_LICENSE, "Assign", group, (licenses,))
        _membership(log, was, group)
        if _processes(was, group):
            processed.append(group)
    for key, was in old.items():
        if key not in new:
            log.group(DELETE_GROUP, "Delete", was, ())
    _processing(log, processed)
    return log.records


def reprocess_records(user_ids: Sequence[str]) -> Recorder:
    """What reprocessing `user_ids` records: the processing of the groups whose licenses to
    them had failed, and the users whose licenses it changed."""
    wanted = {user_id.lower() for user_id in user_ids}

    def record(
        before: Tenant, after: Tenant, initiator: Initiator, when: datetime
    ) -> list[DirectoryAudit]:
        failed = {
            state.assignedByGroup.lower()
            for user in before.users
            if user.id.lower() in wanted
            for state in user.licenseAssignmentStates
            if state.assignedByGroup is not None and state.state != ACTIVE
        }
        log = _Log(before, after, initiator, when)
        _processing(log, [g for g in after.groups if g.id.lower() in failed])
        return log.records

    return record


class _Log:
    """The records of one write, as they are made."""

    def __init__(self, before: Tenant, after: Tenant, initiator: Initiator, when: datetime):
        self.before, self.after = before, after
        self.when = when.replace(microsecond=when.microsecond // 1000 * 1000)  # as stored
        self.correlation = str(uuid.uuid4())
        self.initiator = initiator
        self.initiated_by = _known(initiator.initiatedBy, before)
        self.records: list[DirectoryAudit] = []

    # users, groups and devices by lower-case id, found once a write needs them
    @cached_property
    def objects_before(self) -> _DirectoryObjects:
        return _DirectoryObjects(self.before)

    @cached_property
    def objects_after(self) -> _DirectoryObjects:
        return _DirectoryObjects(self.after)

    def add(
        self,
        activity: str,
        category: str,
        operation: str,
        targets: Iterable[TargetResource],
        *,
        by: AuditActivityInitiator | None = None,
        result: str = SUCCESS,
        reason: str | None = None,
    ) -> None:
        """A record; initiated by the writer unless `by` names one of Entra's services."""
        self.records.append(
            DirectoryAudit(
                # Entra's own ids are service-prefixed, not GUIDs; unique, and far quicker
                # than a uuid4 each when a processing changes many users
                id=f"Directory_{self.correlation}_{len(self.records) + 1}",
                activityDateTime=self.when,
                activityDisplayName=activity,
                category=category,
                result=result,
                resultReason=reason,
                initiatedBy=by or self.initiated_by,
                operationType=operation,
                correlationId=self.correlation,
                targetResources=tuple(targets),
                # who ran the writer is the writer's own detail, not a Microsoft service's
                additionalDetails=self.initiator.details if by is None else (),
            )
        )

    def group(
        self, activity: str, operation: str, group: Group, changed: Sequence[ModifiedProperty]
    ) -> None:
        self.add(activity, GROUP_MANAGEMENT, operation, [_group_target(group, changed)])


def _membership(log: _Log, was: Group | None, group: Group) -> None:
    """One record per member added or removed; a dynamic group's by its rule's processing."""
    old = {member.lower() for member in was.members} if was is not None else set()
    new = {member.lower() for member in group.members}
    if old == new:
        return
    by = DYNAMIC_MEMBERSHIP if group.is_dynamic else None
    for member in group.members:
        if member.lower() not in old:
            found = log.objects_after.get(member.lower())
            target = _member_target(found, member, group, added=True)
            log.add(ADD_MEMBER, GROUP_MANAGEMENT, "Assign", [target, _group_target(group)], by=by)
    gone = [member for member in (was.members if was else ()) if member.lower() not in new]
    for member in gone:
        found = log.objects_before.get(member.lower())
        target = _member_target(found, member, group, added=False)
        log.add(REMOVE_MEMBER, GROUP_MANAGEMENT, "Unassign", [target, _group_target(group)], by=by)


def _processes(was: Group | None, group: Group) -> bool:
    """Whether Entra processes the group's licenses after this write: it assigns (or assigned)
    licenses, and its licenses, members or membership rule changed."""
    if was is None or not (was.assignedLicenses or group.assignedLicenses):
        return False
    rule_changed = any(getattr(was, p) != getattr(group, p) for p in MEMBERSHIP_PROPERTIES)
    return (
        was.assignedLicenses != group.assignedLicenses
        or {m.lower() for m in was.members} != {m.lower() for m in group.members}
        or rule_changed
    )


def _processing(log: _Log, groups: Sequence[Group]) -> None:
    """Group-based licensing's records: each group's Start, each user whose licenses changed,
    each group's Finish with its result line (counted as reconciler's own log counts)."""
    before, after = log.before, log.after
    results = group_results(after, [group.id for group in groups], before)
    for group in groups:
        log.add(
            START_LICENSING, GROUP_MANAGEMENT, "Assign", [_group_target(group)], by=GROUP_LICENSING
        )
    skus = {sku.skuId.lower(): sku.skuPartNumber for sku in after.subscribedSkus}
    for was, user in differences(before.users, after.users)[0]:
        if was is None or _same_licenses(was, user):
            continue  # the engine keeps a user it left alone as the same object: quick
        new_states = set(user.licenseAssignmentStates) - set(was.licenseAssignmentStates)
        errors = [
            f"{skus.get(s.skuId.lower(), s.skuId)}: {s.error if s.error != NO_ERROR else s.state}"
            for s in user.licenseAssignmentStates
            if s in new_states and s.state != ACTIVE
        ]
        old_value, new_value = _licenses(was.assignedLicenses), _licenses(user.assignedLicenses)
        licenses = ModifiedProperty(LICENSE_PROPERTY, old_value, new_value)
        log.add(
            CHANGE_USER_LICENSE,
            USER_MANAGEMENT,
            "Assign",
            [_user_target(user, (licenses,))],
            by=GROUP_LICENSING,
            result=FAILURE if errors else SUCCESS,
            reason="; ".join(errors) or None,
        )
    for group in groups:
        line = processing_result(*results[group.id])
        outcome = ModifiedProperty(RESULT_PROPERTY, "[]", json.dumps([line]))
        target = _group_target(group, (outcome,))
        log.add(FINISH_LICENSING, GROUP_MANAGEMENT, "Assign", [target], by=GROUP_LICENSING)


# --- targets and values -------------------------------------------------------------------


def _known(initiator: AuditActivityInitiator, tenant: Tenant) -> AuditActivityInitiator:
    """A user initiator with the id and displayName the tenant has for its userPrincipalName."""
    user = initiator.user
    if user is None or user.id is not None or not user.userPrincipalName:
        return initiator
    wanted = user.userPrincipalName.lower()
    found = next((u for u in tenant.users if u.userPrincipalName.lower() == wanted), None)
    if found is None:
        return initiator
    identity = UserIdentity(found.id, found.displayName, found.userPrincipalName, user.ipAddress)
    return replace(initiator, user=identity)


def _group_target(group: Group, changed: Sequence[ModifiedProperty] = ()) -> TargetResource:
    kind = "unifiedGroups" if UNIFIED in group.groupTypes else "azureAD"
    return TargetResource(group.id, group.displayName, "Group", None, kind, tuple(changed))


def _user_target(user: User, changed: tuple[ModifiedProperty, ...] = ()) -> TargetResource:
    return TargetResource(user.id, user.displayName, "User", user.userPrincipalName, None, changed)


class _DirectoryObjects:
    """A tenant's users, groups and devices by lower-case id: the users through the index the
    engine keeps of them, since a write names few and a large tenant has millions."""

    def __init__(self, tenant: Tenant) -> None:
        self._users = tenant.users
        self._others: dict[str, DirectoryObject] = {
            str(device.get("id", "")).lower(): dict(device) for device in tenant.devices
        }
        self._others.update({group.id.lower(): group for group in tenant.groups})

    def get(self, key: str) -> DirectoryObject | None:
        position = positions(self._users).get(key)
        return self._users[position] if position is not None else self._others.get(key)


def _member_target(
    found: DirectoryObject | None, member: str, group: Group, *, added: bool
) -> TargetResource:
    """The member as Entra targets it, with the group it joined or left as its properties."""
    ids, names = json.dumps(group.id), json.dumps(group.displayName)
    changed = (
        ModifiedProperty("Group.ObjectID", None if added else ids, ids if added else None),
        ModifiedProperty("Group.DisplayName", None if added else names, names if added else None),
    )
    if isinstance(found, User):
        target = _user_target(found)
    elif isinstance(found, Group):
        target = _group_target(found)
    else:
        name = found.get("displayName") if found is not None else None
        target = TargetResource(member, name, "Device" if found is not None else None)
    return replace(target, modifiedProperties=changed)


def _properties(was: Group | None, group: Group) -> tuple[ModifiedProperty, ...]:
    """The group's properties that differ from `was` (all those set, for a new group)."""
    changed = []
    for name, entra in _PROPERTIES.items():
        old = getattr(was, name) if was is not None else None
        new = getattr(group, name)
        if old != new and not (was is None and new in (None, ())):
            changed.append(ModifiedProperty(entra, _value(old), _value(new)))
    return tuple(changed)


def _value(value: object) -> str:
    """A property value as Entra shows it: JSON text of a list of values, `[]` for none."""
    if value is None:
        return "[]"
    if isinstance(value, tuple | list | frozenset):
        return json.dumps(list(value), ensure_ascii=False)
    return json.dumps([value], ensure_ascii=False)


@lru_cache(maxsize=1024)  # most users hold one of a few sets of licenses
def _licenses(assigned: tuple[AssignedLicense, ...]) -> str:
    """assignedLicenses as Graph's JSON."""
    return json.dumps(
        [{"disabledPlans": sorted(a.disabledPlans), "skuId": a.skuId} for a in assigned]
    )


def _same_licenses(was: User, user: User) -> bool:
    return (
        was.assignedLicenses == user.assignedLicenses
        and was.licenseAssignmentStates == user.licenseAssignmentStates
    )


# --- the tables ---------------------------------------------------------------------------


def append(connection: sqlite3.Connection, records: Sequence[DirectoryAudit]) -> None:
    """Appends `records` in the write's own transaction: one statement per table."""
    if not records:
        return
    # one statement at a time: executescript would commit the write's transaction
    for statement in _SCHEMA.split(";"):
        if statement.strip():
            connection.execute(statement)
    (last,) = connection.execute("SELECT COALESCE(MAX(seq), 0) FROM directory_audits").fetchone()
    rows, targets = [], []
    # msgspec: a write that changes many users' licenses records each of them
    encode = msgspec.json.Encoder().encode
    for seq, record in enumerate(records, start=last + 1):
        doc = encode(record.document()).decode()
        when = timestamp(record.activityDateTime)
        rows.append((seq, record.id, when, record.category, record.activityDisplayName, doc))
        targets += [(seq, t.id) for t in record.targetResources if t.id]
    connection.executemany("INSERT INTO directory_audits VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.executemany("INSERT INTO directory_audit_targets VALUES (?, ?)", targets)


def select(connection: sqlite3.Connection, query: AuditQuery, file: str) -> list[DirectoryAudit]:
    """The records `query` asks for, newest first; none in a file that has never recorded."""
    exists = connection.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'directory_audits'"
    ).fetchone()
    if exists is None:
        return []
    where, values = ["1"], []
    if query.since is not None:
        where.append("activityDateTime >= ?")
        values.append(timestamp(query.since))
    if query.until is not None:
        where.append("activityDateTime <= ?")
        values.append(timestamp(query.until))
    for column, wanted in (
        ("category", query.categories),
        ("activityDisplayName", query.activities),
    ):
        if wanted:
            where.append(f"{column} IN ({', '.join('?' * len(wanted))})")
            values += wanted
    for ids in (query.group_ids, query.user_ids):
        if ids:
            marks = ", ".join("?" * len(ids))
            where.append(f"seq IN (SELECT seq FROM directory_audit_targets WHERE id IN ({marks}))")
            values += ids
    rows = connection.execute(
        f"SELECT seq, doc FROM directory_audits WHERE {' AND '.join(where)} "
        "ORDER BY activityDateTime DESC, seq DESC",
        values,
    )
    return [_record(seq, doc, file) for seq, doc in rows]


def _record(seq: int, text: str, file: str) -> DirectoryAudit:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        message = f"local tenant is damaged: directory audit record {seq} is not JSON"
        raise InputError(message, Location(file)) from exc
    return DirectoryAudit.from_document(doc, file)
