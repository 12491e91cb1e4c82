"""Drift: where managed groups differ from the policy because the tenant changed, not the policy.

A difference the plan would undo is drift when the tenant's own records (Entra's directory audit
log; the local tenant keeps one alike) show that its present value was set outside reconciler:
the newest record of that property of that group was made by someone else. A difference with no
such record (the policy changed, or the change is older than the log keeps) is a plain change.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from reconciler.audit import timestamp
from reconciler.directory_audit import (
    ADD_MEMBER,
    RECONCILER_APP,
    REMOVE_MEMBER,
    SET_GROUP_LICENSE,
    UPDATE_GROUP,
    AuditActivityInitiator,
    AuditQuery,
    DirectoryAudit,
    is_entra_service,
)
from reconciler.model import AssignedLicense, Group, Tenant
from reconciler.plan.build import Plan
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    ChangeDisabledPlans,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
)
from reconciler.providers.base import Provider

# Entra keeps directory audit records 30 days with Entra ID P1 or P2, 7 days without
# ("Microsoft Entra data retention"): older changes can't be told apart from policy changes
LOOK_BACK = timedelta(days=30)
FORMAT_VERSION = 1  # of `reconciler drift --format json`
ACTIVITIES = (UPDATE_GROUP, ADD_MEMBER, REMOVE_MEMBER, SET_GROUP_LICENSE)
_IDS_PER_QUERY = 15  # each id is a clause of Graph's $filter; keep the URL short


@dataclass(frozen=True, slots=True)
class Drift:
    """One property of a managed group changed outside reconciler, and who changed it when."""

    groupId: str
    displayName: str
    property: str  # a group property, "members" or "licenses"
    current: object
    desired: object
    activity: str
    changedBy: str | None
    changedAt: str | None


@dataclass(frozen=True, slots=True)
class _Difference:
    """What the plan would change in one property of a group (or for one member)."""

    group: Group
    property: str
    current: object
    desired: object
    activities: tuple[str, ...]
    member: str | None = None


def drift_queries(plan: Plan, now: datetime) -> list[AuditQuery]:
    """The audit log queries that tell who last changed what the plan would change."""
    ids = sorted({d.group.id for d in _differences(plan)})
    return [
        AuditQuery(
            since=now - LOOK_BACK,
            group_ids=tuple(ids[start : start + _IDS_PER_QUERY]),
            activities=ACTIVITIES,
        )
        for start in range(0, len(ids), _IDS_PER_QUERY)
    ]


def find_drift(
    plan: Plan, records: Iterable[DirectoryAudit], own_app_ids: Iterable[str] = ()
) -> tuple[Drift, ...]:
    """The plan's differences whose present value the newest record says someone else set."""
    newest_first = sorted(records, key=lambda record: record.activityDateTime, reverse=True)
    own = {app_id.lower() for app_id in own_app_ids}
    found = []
    for difference in _differences(plan):
        record = next((r for r in newest_first if _about(r, difference)), None)
        # Entra's own services (group-based licensing, dynamic membership) follow the policy
        if record is None or is_reconciler(record.initiatedBy, own):
            continue
        if is_entra_service(record.initiatedBy):
            continue
        found.append(
            Drift(
                difference.group.id,
                difference.group.displayName,
                difference.property,
                difference.current,
                difference.desired,
                record.activityDisplayName,
                record.initiatedBy.name or None,
                timestamp(record.activityDateTime),
            )
        )
    return tuple(found)


def own_app_ids() -> tuple[str, ...]:
    """The app ids reconciler signs in as to Graph, as far as the environment says."""
    client = os.environ.get("AZURE_CLIENT_ID")
    return (client,) if client else ()


def is_reconciler(initiator: AuditActivityInitiator, own_app_ids: Iterable[str] = ()) -> bool:
    """Whether reconciler made the change: the app it records itself as, or signs in as."""
    app = initiator.app
    if app is None:
        return False
    ids = {app_id.lower() for app_id in own_app_ids}
    return app.displayName == RECONCILER_APP or (app.appId or "").lower() in ids


def _about(record: DirectoryAudit, difference: _Difference) -> bool:
    if record.activityDisplayName not in difference.activities:
        return False
    groups = record.targets("Group")
    if not any((g.id or "").lower() == difference.group.id.lower() for g in groups):
        return False
    if difference.member is not None:
        return any(
            (u.id or "").lower() == difference.member.lower() for u in record.targets("User")
        )
    if record.activityDisplayName == UPDATE_GROUP:
        name = difference.property.lower()
        return any(p.displayName.lower() == name for g in groups for p in g.modifiedProperties)
    return True


def _differences(plan: Plan) -> Iterator[_Difference]:
    """What the plan changes in groups that exist: properties, members one by one, licenses."""
    before = {group.id: group for group in plan.before.groups}
    after = {group.id: group for group in plan.after.groups}
    names = _user_names(plan.before)
    licensed: set[str] = set()
    for change in plan.changes:
        group = before.get(change.groupId)
        if group is None:
            continue
        if isinstance(change, UpdateGroup):
            yield _Difference(group, change.property, change.before, change.after, (UPDATE_GROUP,))
        elif isinstance(change, AddMembers | RemoveMembers):
            adding = isinstance(change, AddMembers)
            for member in change.memberIds:
                shown = [names.get(member.lower(), member)]
                current, desired = ([], shown) if adding else (shown, [])
                activities = (ADD_MEMBER, REMOVE_MEMBER)
                yield _Difference(group, "members", current, desired, activities, member)
        elif isinstance(change, AddLicense | RemoveLicense | ChangeDisabledPlans):
            if group.id in licensed:
                continue
            licensed.add(group.id)
            wanted = after.get(group.id, group)
            yield _Difference(
                group,
                "licenses",
                _licenses(group.assignedLicenses, plan),
                _licenses(wanted.assignedLicenses, plan),
                (SET_GROUP_LICENSE,),
            )


def _licenses(assigned: Iterable[AssignedLicense], plan: Plan) -> list[str]:
    """Each product by skuPartNumber, with the service plans it turns off by name."""
    skus = {sku.skuId.lower(): sku for sku in plan.before.subscribedSkus}
    shown = []
    for license_ in assigned:
        sku = skus.get(license_.skuId.lower())
        if sku is None:
            shown.append(license_.skuId)
            continue
        plans = {p.servicePlanId.lower(): p.servicePlanName for p in sku.servicePlans}
        off = sorted(plans.get(p.lower(), p) for p in license_.disabledPlans)
        shown.append(f"{sku.skuPartNumber} (off: {', '.join(off)})" if off else sku.skuPartNumber)
    return sorted(shown)


def _user_names(tenant: Tenant) -> dict[str, str]:
    return {user.id.lower(): user.userPrincipalName for user in tenant.users}


def read_drift(plan: Plan, provider: Provider, now: datetime) -> tuple[Drift, ...]:
    """The plan's drift, from the provider's audit log; ProviderError when it can't be read."""
    records = [
        record for query in drift_queries(plan, now) for record in provider.directory_audits(query)
    ]
    return find_drift(plan, records, own_app_ids())


def drift_items(drift: Iterable[Drift]) -> list[dict[str, object]]:
    """The drift as the plan document's `drift` list (schemas/plan.schema.json)."""
    return [
        {
            "group": {"id": item.groupId, "displayName": item.displayName},
            "property": item.property,
            "current": item.current,
            "desired": item.desired,
            "activity": item.activity,
            "changedBy": item.changedBy,
            "changedAt": item.changedAt,
        }
        for item in drift
    ]
