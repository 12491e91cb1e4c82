"""Entra's directory audit log as data: Graph's `directoryAudit`, and the questions asked of it.

Every class has Graph's name and Graph's property names (docs: "directoryAudit resource type"),
so a record reads the same whether the local tenant kept it or Graph returned it.
`DirectoryAudit.document()` is the record as Graph's JSON; `from_document` reads one back.
docs/audit.md ("Entra's audit log") lists the records the local tenant and the emulator keep.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, Self

from reconciler.audit import FINISH, START, parse_time, timestamp
from reconciler.errors import InputError, Location
from reconciler.model import Tenant

CORE_DIRECTORY = "Core Directory"  # loggedByService of every directory change
GROUP_MANAGEMENT, USER_MANAGEMENT = "GroupManagement", "UserManagement"
SUCCESS, FAILURE = "success", "failure"

# Entra's activity names (activityDisplayName), as its audit log and Microsoft's docs spell them
ADD_GROUP, UPDATE_GROUP, DELETE_GROUP = "Add group", "Update group", "Delete group"
ADD_MEMBER, REMOVE_MEMBER = "Add member to group", "Remove member from group"
SET_GROUP_LICENSE = "Set group license"
CHANGE_USER_LICENSE = "Change user license"
START_LICENSING, FINISH_LICENSING = START, FINISH

# what licensing is made of: the activities `reconciler audit --source entra` shows by default
LICENSING_ACTIVITIES = (
    SET_GROUP_LICENSE,
    START_LICENSING,
    FINISH_LICENSING,
    CHANGE_USER_LICENSE,
    ADD_MEMBER,
    REMOVE_MEMBER,
    ADD_GROUP,
    UPDATE_GROUP,
    DELETE_GROUP,
)
LICENSING_CATEGORIES = (GROUP_MANAGEMENT, USER_MANAGEMENT)

# the modified property of a Finish record's group that holds its result line
RESULT_PROPERTY = "Result"
_RESULT_LINE = re.compile(
    r"Users successfully assigned licenses: \d+, Users for whom license assignment failed: \d+"
)


@dataclass(frozen=True, slots=True)
class UserIdentity:
    """A user who initiated an activity."""

    id: str | None = None
    displayName: str | None = None
    userPrincipalName: str | None = None
    ipAddress: str | None = None


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """An app (or a Microsoft service, which Entra logs as an app) that initiated an activity."""

    appId: str | None = None
    displayName: str | None = None
    servicePrincipalId: str | None = None
    servicePrincipalName: str | None = None


@dataclass(frozen=True, slots=True)
class AuditActivityInitiator:
    """Who initiated an activity: a user or an app."""

    user: UserIdentity | None = None
    app: AppIdentity | None = None

    @property
    def name(self) -> str:
        """The user's userPrincipalName, or the app's displayName; ids when names are missing."""
        if self.user is not None:
            return self.user.userPrincipalName or self.user.displayName or self.user.id or ""
        if self.app is not None:
            return self.app.displayName or self.app.appId or ""
        return ""


@dataclass(frozen=True, slots=True)
class ModifiedProperty:
    """One property an activity changed; values are JSON text, as Entra shows them."""

    displayName: str
    oldValue: str | None = None
    newValue: str | None = None


@dataclass(frozen=True, slots=True)
class TargetResource:
    """An object an activity acted on: a "Group", a "User", a "Device"."""

    id: str | None
    displayName: str | None = None
    type: str | None = None
    userPrincipalName: str | None = None
    groupType: str | None = None  # "azureAD" or "unifiedGroups", for a group
    modifiedProperties: tuple[ModifiedProperty, ...] = ()

    @property
    def name(self) -> str:
        return self.userPrincipalName or self.displayName or self.id or ""


@dataclass(frozen=True, slots=True)
class KeyValue:
    key: str
    value: str | None


@dataclass(frozen=True, slots=True)
class DirectoryAudit:
    """One record of Entra's directory audit log."""

    id: str
    activityDateTime: datetime  # aware, UTC
    activityDisplayName: str
    category: str
    result: str  # "success", "failure", "timeout"
    initiatedBy: AuditActivityInitiator
    loggedByService: str = CORE_DIRECTORY
    operationType: str | None = None  # "Add", "Update", "Delete", "Assign", "Unassign"
    correlationId: str | None = None
    resultReason: str | None = None
    targetResources: tuple[TargetResource, ...] = ()
    additionalDetails: tuple[KeyValue, ...] = ()

    def targets(self, type_: str) -> tuple[TargetResource, ...]:
        """The target resources of this type ("Group", "User"), ignoring case."""
        return tuple(t for t in self.targetResources if (t.type or "").lower() == type_.lower())

    def detail(self, key: str) -> str | None:
        """The value of an additional detail, or None."""
        return next((item.value for item in self.additionalDetails if item.key == key), None)

    @property
    def result_line(self) -> str | None:
        """A Finish record's "Users successfully assigned licenses: N, ..." line, else None."""
        for target in self.targetResources:
            for item in target.modifiedProperties:
                found = _RESULT_LINE.search(item.newValue or "")
                if item.displayName == RESULT_PROPERTY and found:
                    return found.group(0)
        return None

    def document(self) -> dict[str, Any]:
        """The record as Graph's JSON."""
        return {
            "id": self.id,
            "category": self.category,
            "correlationId": self.correlationId,
            "result": self.result,
            "resultReason": self.resultReason,
            "activityDisplayName": self.activityDisplayName,
            "activityDateTime": _timestamp(self.activityDateTime),
            "loggedByService": self.loggedByService,
            "operationType": self.operationType,
            "initiatedBy": {
                "user": _fields(self.initiatedBy.user),
                "app": _fields(self.initiatedBy.app),
            },
            "targetResources": [_target_document(target) for target in self.targetResources],
            "additionalDetails": [{"key": d.key, "value": d.value} for d in self.additionalDetails],
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any], where: str = "<directoryAudit>") -> Self:
        """A record from Graph's JSON; InputError naming `where` if it isn't one."""
        try:
            initiator = doc.get("initiatedBy") or {}
            return cls(
                id=str(doc["id"]),
                activityDateTime=parse_time(str(doc["activityDateTime"])),
                activityDisplayName=str(doc.get("activityDisplayName") or ""),
                category=str(doc.get("category") or ""),
                result=str(doc.get("result") or ""),
                initiatedBy=AuditActivityInitiator(
                    user=_made(UserIdentity, initiator.get("user")),
                    app=_made(AppIdentity, initiator.get("app")),
                ),
                loggedByService=str(doc.get("loggedByService") or ""),
                operationType=doc.get("operationType"),
                correlationId=doc.get("correlationId"),
                resultReason=doc.get("resultReason") or None,
                targetResources=tuple(_target(t) for t in doc.get("targetResources") or ()),
                additionalDetails=tuple(
                    KeyValue(str(item["key"]), item.get("value"))
                    for item in doc.get("additionalDetails") or ()
                ),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not a directoryAudit record: {exc!r}", Location(where)) from exc


@dataclass(frozen=True, slots=True)
class Initiator:
    """Who makes a write to a tenant: Entra's initiatedBy, and details recorded beside it."""

    initiatedBy: AuditActivityInitiator
    details: tuple[KeyValue, ...] = ()

    @classmethod
    def user(cls, user_principal_name: str) -> Initiator:
        return cls(AuditActivityInitiator(user=UserIdentity(userPrincipalName=user_principal_name)))

    @classmethod
    def app(cls, display_name: str, app_id: str | None = None) -> Initiator:
        return cls(AuditActivityInitiator(app=AppIdentity(appId=app_id, displayName=display_name)))


RECONCILER_APP = "reconciler"
ACTOR_DETAIL = "actor"  # additionalDetails key: who ran reconciler (the `actor` of its own log)


def reconciler_initiator(actor: str | None = None) -> Initiator:
    """reconciler's own writes: the app "reconciler", and who ran it when known."""
    app = AuditActivityInitiator(app=AppIdentity(displayName=RECONCILER_APP))
    return Initiator(app, (KeyValue(ACTOR_DETAIL, actor),) if actor else ())


# The Microsoft services Entra logs as initiators. Group-based licensing's name is the one
# Microsoft's "audit logs to monitor group-based licensing activity" gives (older tenants show
# "Microsoft Azure AD Group-Based Licensing"; `is_group_licensing` knows both).
GROUP_LICENSING = AuditActivityInitiator(
    app=AppIdentity(displayName="Microsoft Entra group-Based Licensing")
)
# dynamic membership rule processing ("Unknown actors in audit reports")
DYNAMIC_MEMBERSHIP_APP_ID = "65d91a3d-ab74-42e6-8a2f-0add61688c74"
DYNAMIC_MEMBERSHIP = AuditActivityInitiator(
    app=AppIdentity(appId=DYNAMIC_MEMBERSHIP_APP_ID, displayName="Microsoft Approval Management")
)


def is_group_licensing(initiator: AuditActivityInitiator) -> bool:
    """Whether Entra's group-based licensing made the change (under any of its names)."""
    name = (initiator.app.displayName if initiator.app is not None else None) or ""
    return name.lower().endswith("group-based licensing")


def is_entra_service(initiator: AuditActivityInitiator) -> bool:
    """Whether Entra itself made the change: group-based licensing, or a dynamic group's rule
    adding or removing members (never a person or a client app)."""
    app_id = initiator.app.appId if initiator.app is not None else None
    return is_group_licensing(initiator) or app_id == DYNAMIC_MEMBERSHIP_APP_ID


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Which records to list; every part is optional and the parts combine (all must hold).

    `since`/`until`: activityDateTime at or after / at or before (UTC; naive is taken as UTC).
    `group_ids`: some target resource is one of these groups; `user_ids` likewise, for users
    (a record must name one of each when both are given). `activities`: activityDisplayName is
    one of these; `categories`: category is one of these. Names compare ignoring case.
    """

    since: datetime | None = None
    until: datetime | None = None
    group_ids: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()


def licensing_query(
    tenant: Tenant | None,
    groups: Iterable[str] = (),
    users: Iterable[str] = (),
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    activities: Iterable[str] = (),
) -> AuditQuery:
    """The query for groups and users given by name or id (names resolved against `tenant`,
    which may be None when every one is an id); without `activities`, the licensing ones."""
    chosen = tuple(activities)
    return AuditQuery(
        since=since,
        until=until,
        group_ids=_ids(tenant, groups, "group"),
        user_ids=_ids(tenant, users, "user"),
        activities=chosen or LICENSING_ACTIVITIES,
        categories=() if chosen else LICENSING_CATEGORIES,
    )


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def is_object_id(text: str) -> bool:
    """Whether `text` is an object id (a GUID) rather than a name."""
    return bool(_GUID.match(text))


def _ids(tenant: Tenant | None, wanted: Iterable[str], kind: str) -> tuple[str, ...]:
    """The object ids of groups (by displayName) or users (by userPrincipalName), or ids as
    given; InputError for a name the tenant doesn't have."""
    ids: list[str] = []
    for item in wanted:
        if is_object_id(item):
            ids.append(item)
            continue
        if tenant is None:
            raise InputError(f"{kind} {item!r}: give its object id, or a tenant to find it in")
        if kind == "group":
            found = [g.id for g in tenant.groups if g.displayName.casefold() == item.casefold()]
        else:
            found = [
                u.id for u in tenant.users if u.userPrincipalName.casefold() == item.casefold()
            ]
        if not found:
            raise InputError(f"no {kind} {item!r} in the tenant; a deleted one goes by its id")
        ids.extend(found)
    return tuple(ids)


# --- JSON helpers ---------------------------------------------------------------------------


# written out, not generic: a processing of many users makes one record per user
def _target_document(target: TargetResource) -> dict[str, Any]:
    return {
        "id": target.id,
        "displayName": target.displayName,
        "type": target.type,
        "userPrincipalName": target.userPrincipalName,
        "groupType": target.groupType,
        "modifiedProperties": [
            {"displayName": p.displayName, "oldValue": p.oldValue, "newValue": p.newValue}
            for p in target.modifiedProperties
        ],
    }


_timestamp = lru_cache(maxsize=64)(timestamp)  # a write's records share their time


def _fields(obj: Any) -> Any:
    if obj is None:
        return None
    return {name: getattr(obj, name) for name in obj.__slots__}


def _made(cls: type, doc: Any) -> Any:
    if not isinstance(doc, Mapping):
        return None
    return cls(**{name: doc.get(name) for name in cls.__slots__})


def _target(doc: Mapping[str, Any]) -> TargetResource:
    return TargetResource(
        id=doc.get("id"),
        displayName=doc.get("displayName"),
        type=doc.get("type"),
        userPrincipalName=doc.get("userPrincipalName"),
        groupType=doc.get("groupType"),
        modifiedProperties=tuple(
            ModifiedProperty(str(p["displayName"]), p.get("oldValue"), p.get("newValue"))
            for p in doc.get("modifiedProperties") or ()
        ),
    )
