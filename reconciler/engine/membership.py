"""Dynamic group membership as Entra computes it, through the rule language's index."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from reconciler.model import Group, Tenant
from reconciler.rules import compute_memberships, parse
from reconciler.rules.ast import MemberOf

PROCESSING_ON = "On"


def dynamic_members(tenant: Tenant, now: datetime | None = None) -> dict[str, tuple[str, ...]]:
    """Members of each dynamic group whose processing is On, by group id.

    A Paused group keeps the members it has, so it is left out. A user rule selects users and
    a device rule devices; memberOf rules see the direct members of the tenant's other groups.
    """
    groups = [group for group in tenant.groups if _evaluated(group)]
    if not groups:
        return {}
    rules = {group.id: parse(group.membershipRule or "") for group in groups}
    users = [user.attributes for user in tenant.users]
    devices = list(tenant.devices)
    if any(isinstance(rule.body, MemberOf) for rule in rules.values()):
        # memberOf rules read an object's direct groups; a memberOf group can't define another,
        # so the tenant's current members are the right input
        member_of = member_of_index((group.id, group.members) for group in tenant.groups)
        users = [_with_member_of(user.attributes, user.id, member_of) for user in tenant.users]
        devices = [_with_member_of(d, str(d.get("id")), member_of) for d in tenant.devices]
    result: dict[str, tuple[str, ...]] = {}
    for object_type, objects, ids in (
        ("user", users, [user.id for user in tenant.users]),
        ("device", devices, [str(device.get("id")) for device in tenant.devices]),
    ):
        selected = {key: rule for key, rule in rules.items() if rule.object_type == object_type}
        for group_id, positions in compute_memberships(selected, objects, now).items():
            result[group_id] = tuple(ids[i] for i in positions)
    return result


def _evaluated(group: Group) -> bool:
    return (
        group.is_dynamic
        and bool(group.membershipRule)
        and (group.membershipRuleProcessingState or PROCESSING_ON) == PROCESSING_ON
    )


def member_of_index(
    groups: Iterable[tuple[str, Iterable[str]]],
) -> dict[str, list[dict[str, str]]]:
    """Each member id (lower-cased) to its direct groups, as Graph's memberOf lists them."""
    index: dict[str, list[dict[str, str]]] = {}
    for group_id, members in groups:
        for member in members:
            index.setdefault(member.lower(), []).append({"id": group_id})
    return index


def _with_member_of(
    obj: Mapping[str, Any], object_id: str, member_of: Mapping[str, list[dict[str, str]]]
) -> Mapping[str, Any]:
    return {**obj, "memberOf": member_of.get(object_id.lower(), [])}
