"""The order apply runs a plan in, so that no one is without a license the policy gives them.

Everything that gives comes first (new groups, members added, rules that only add members,
licenses added, plans enabled); everything that takes comes after (rules that drop members,
members removed, plans disabled, licenses removed, retired groups deleted). A user moving from
one group or product to another thus has the new license before the old one goes. Within a
phase, a memberOf rule comes after its sources' member changes, and a rule on assignedPlans
after the phase's license changes, so each reads what the others settle.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.engine.membership import parsed_rule, reads_assigned_plans
from reconciler.model import Tenant
from reconciler.plan.changes import (
    MEMBERSHIP_PROPERTIES,
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
)
from reconciler.rules import RuleError
from reconciler.rules.ast import MemberOf, Rule

_GIVING: tuple[type, ...] = (CreateGroup, UpdateGroup, AddMembers, AddLicense, ChangeDisabledPlans)
_TAKING: tuple[type, ...] = (
    UpdateGroup,
    RemoveMembers,
    ChangeDisabledPlans,
    RemoveLicense,
    DeleteGroup,
)


def phases(
    changes: Iterable[Change], before: Tenant, after: Tenant
) -> tuple[tuple[Change, ...], tuple[Change, ...]]:
    """The giving changes and the taking ones, each in the order apply runs them.

    `before` is the tenant now and `after` its memberships once all changes are made (only
    members are read): a group whose members after are not all its members now takes.
    """
    changes = tuple(changes)
    # a group turned dynamic loses every member first, so all its membership changes take
    shrinking = _shrinking_groups(before, after) | {
        c.groupId for c in changes if isinstance(c, UpdateGroup) and c.turns_dynamic
    }

    def taking(change: Change) -> bool:
        if isinstance(change, UpdateGroup):
            if change.property == "membershipRuleProcessingState" and change.after == "Paused":
                return False  # pausing drops no one, and must come before a rule edit
            if change.turns_static:
                return False  # it keeps its members, and must come before members are added
            return change.property in MEMBERSHIP_PROPERTIES and change.groupId in shrinking
        if isinstance(change, ChangeDisabledPlans):
            return bool(change.after - change.before)
        return isinstance(change, RemoveMembers | RemoveLicense | DeleteGroup)

    taking_groups = [c.groupId for c in changes if isinstance(c, UpdateGroup) and taking(c)]
    rank = _move_order(dict.fromkeys(taking_groups), before, after)

    def key(indexed: tuple[int, Change]) -> tuple[int, float, int, int]:
        index, change = indexed
        phase = _TAKING if taking(change) else _GIVING
        group_rank = rank.get(change.groupId, 0) if phase is _TAKING else 0
        kind: float = phase.index(type(change))
        rule = _new_rule(change)
        if rule is not None and isinstance(rule.body, MemberOf):
            # a memberOf rule reads its sources' members: they are added (or removed) first
            kind = phase.index(AddMembers if phase is _GIVING else RemoveMembers) + 0.5
        elif rule is not None and reads_assigned_plans(rule):
            # a rule on assignedPlans reads the licenses the phase's other changes set
            kind = len(phase)
        return (phase is _TAKING, kind, group_rank, index)

    ordered = sorted(enumerate(changes), key=key)
    return (
        tuple(change for _, change in ordered if not taking(change)),
        tuple(change for _, change in ordered if taking(change)),
    )


def _new_rule(change: Change) -> Rule | None:
    """The membership rule a change sets, parsed; None if it sets none."""
    if not isinstance(change, UpdateGroup):
        return None
    rules = [after for name, _, after in change.also if name == "membershipRule"]
    if change.property == "membershipRule":
        rules.append(change.after)
    for rule in rules:
        if isinstance(rule, str):
            try:
                return parsed_rule(rule)
            except RuleError:
                return None
    return None


def _move_order(groups: dict[str, None], before: Tenant, after: Tenant) -> dict[str, int]:
    """A rank for each group whose membership change takes, so users move without a gap.

    A user who leaves group A and joins group B (for the same product or another) needs B's
    change first. Groups in a cycle (users swapping both ways) keep the plan's order: no order
    spares everyone a gap there.
    """
    if len(groups) < 2:
        return {}
    members_before = _members(before, groups)
    members_after = _members(after, groups)
    joined: dict[str, set[str]] = {}  # user -> groups they join
    for group in groups:
        for user in members_after[group] - members_before[group]:
            joined.setdefault(user, set()).add(group)
    first: dict[str, set[str]] = {group: set() for group in groups}  # groups to run before it
    for group in groups:
        for user in members_before[group] - members_after[group]:
            first[group] |= joined.get(user, set()) - {group}
    rank: dict[str, int] = {}
    pending = list(groups)
    while pending:
        ready = [g for g in pending if first[g] <= rank.keys()] or pending[:1]
        rank[ready[0]] = len(rank)
        pending.remove(ready[0])
    return rank


def _members(tenant: Tenant, groups: dict[str, None]) -> dict[str, set[str]]:
    """The members (lower-case ids) of each of `groups`; none for a group the tenant lacks."""
    found: dict[str, set[str]] = {group: set() for group in groups}
    for group in tenant.groups:
        if group.id in found:
            found[group.id] = {member.lower() for member in group.members}
    return found


def _shrinking_groups(before: Tenant, after: Tenant) -> set[str]:
    """Ids of groups that lose a member, or stop assigning licenses to anyone."""
    changed = {group.id: group for group in after.groups}
    found = set()
    for group in before.groups:
        later = changed.get(group.id)
        if later is group:
            continue  # the very same group: nothing of it changed
        remaining = {m.lower() for m in later.members} if later is not None else set()
        if any(member.lower() not in remaining for member in group.members):
            found.add(group.id)
        if group.securityEnabled and not (later.securityEnabled if later is not None else True):
            found.add(group.id)
    return found
