"""Dynamic group membership as Entra computes it, through the rule language's index.

memberOf rules read the direct members of their source groups, after those groups' own rules
are evaluated. A memberOf group only gains members until its rule changes: Microsoft documents
that "membership of a memberOf dynamic group doesn't automatically update when a child group is
deleted or when members are removed from a child group" (groups-dynamic-rule-member-of, Preview
limitations).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from reconciler.engine.positions import attributes
from reconciler.model import Group, Tenant
from reconciler.rules import compute_memberships, parse
from reconciler.rules.ast import MemberOf, Rule
from reconciler.rules.membership import MembershipIndex
from reconciler.rules.properties import graph_properties

PROCESSING_ON = "On"
ASSIGNED_PLANS = "assignedPlans"


def dynamic_members(
    tenant: Tenant,
    now: datetime | None = None,
    fresh: Collection[str] = (),
    only: Collection[str] | None = None,
) -> dict[str, tuple[str, ...]]:
    """Members of each dynamic group whose processing is On, by group id.

    A Paused group keeps the members it has, so it is left out. A user rule selects users and
    a device rule devices. memberOf groups keep the members they have and add new ones, except
    those in `fresh` (groups whose rule is new or changed), which are evaluated anew. `only`
    limits the evaluation to those group ids.
    """
    rules = evaluated_rules(tenant)
    if only is not None:
        rules = {key: rule for key, rule in rules.items() if key in only}
    if not rules:
        return {}
    plain = {key: rule for key, rule in rules.items() if not isinstance(rule.body, MemberOf)}
    result = _evaluate(tenant, plain, now, None)
    member_of = {key: rule for key, rule in rules.items() if key not in plain}
    if member_of:
        # a memberOf group can't define another one, so one pass over the sources settles them
        sources = ((g.id, result.get(g.id, g.members)) for g in tenant.groups)
        found = _evaluate(tenant, member_of, now, member_of_index(sources))
        current = {group.id: group.members for group in tenant.groups}
        fresh_ids = {group_id.lower() for group_id in fresh}
        for group_id, members in found.items():
            if group_id.lower() not in fresh_ids:
                members = _union(current.get(group_id, ()), members)
            result[group_id] = members
    return result


def evaluated_rules(tenant: Tenant) -> dict[str, Rule]:
    """The parsed rule of every group whose membership Entra evaluates now, by group id."""
    return {
        group.id: parsed_rule(group.membershipRule or "")
        for group in tenant.groups
        if _evaluated(group)
    }


@lru_cache(maxsize=4096)
def parsed_rule(text: str) -> Rule:
    """`text` parsed (RuleError if Entra would refuse it): a plan settles a tenant several
    times, and the same rules are read each time."""
    return parse(text)


@lru_cache(maxsize=4096)
def reads_assigned_plans(rule: Rule) -> bool:
    """Whether a rule's outcome can change when a user's licenses do."""
    return ASSIGNED_PLANS in graph_properties(rule)


def _evaluate(
    tenant: Tenant,
    rules: Mapping[str, Rule],
    now: datetime | None,
    member_of: Mapping[str, list[dict[str, str]]] | None,
) -> dict[str, tuple[str, ...]]:
    users = attributes(tenant.users)
    devices: list[Mapping[str, Any]] = list(tenant.devices)
    if member_of is not None:
        users = [_with_member_of(user.attributes, user.id, member_of) for user in tenant.users]
        devices = [_with_member_of(d, str(d.get("id")), member_of) for d in tenant.devices]
    result: dict[str, tuple[str, ...]] = {}
    for object_type, objects in (("user", users), ("device", devices)):
        selected = {key: rule for key, rule in rules.items() if rule.object_type == object_type}
        if not selected:
            continue
        index = _index(objects, now)
        for group_id, positions in compute_memberships(selected, objects, now, index).items():
            if object_type == "user":
                result[group_id] = tuple([tenant.users[i].id for i in positions])
            else:
                result[group_id] = tuple([str(devices[i].get("id")) for i in positions])
    return result


# the index of the last objects evaluated: a plan evaluates the rules of the same users (the
# very same attribute objects) several times, before and after its changes
_last_index: tuple[tuple[int, ...], datetime | None, MembershipIndex] | None = None
_FRESH = timedelta(minutes=1)


def _index(objects: list[Mapping[str, Any]], now: datetime | None) -> MembershipIndex:
    """A MembershipIndex over `objects`: the last one, if it was over these very objects (and,
    for the time now, made within the last minute: a long-running emulator's rules on dates
    must see the days go by)."""
    global _last_index
    if (
        _last_index is not None
        and _last_index[1] == now
        and (now is not None or datetime.now(UTC) - _last_index[2].now < _FRESH)
    ):
        if _last_index[2].objects is objects:
            return _last_index[2]
        key = tuple(map(id, objects))
        if _last_index[0] == key:
            return _last_index[2]
    else:
        key = tuple(map(id, objects))
    index = MembershipIndex(objects, now)
    # held with the objects, so that no id in the key can be reused by another object
    _last_index = (key, now, index)
    return index


def _union(kept: Iterable[str], added: Iterable[str]) -> tuple[str, ...]:
    seen = {member.lower() for member in kept}
    return (*kept, *(member for member in added if member.lower() not in seen))


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
