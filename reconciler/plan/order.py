"""The order apply runs a plan in, so that no one is without a license the policy gives them.

Everything that gives comes first (new groups, members added, rules that only add members,
licenses added, plans enabled); everything that takes comes after (rules that drop members,
members removed, plans disabled, licenses removed, retired groups deleted). A user moving from
one group or product to another thus has the new license before the old one goes.
"""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import DYNAMIC_MEMBERSHIP, Tenant
from reconciler.plan.changes import (
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

# group properties whose change can make Entra re-evaluate, and so drop, members
_MEMBERSHIP = ("membershipRule", "membershipRuleProcessingState", "groupTypes", "securityEnabled")

_GIVING: tuple[type, ...] = (CreateGroup, UpdateGroup, AddMembers, AddLicense, ChangeDisabledPlans)
_TAKING: tuple[type, ...] = (
    UpdateGroup,
    RemoveMembers,
    ChangeDisabledPlans,
    RemoveLicense,
    DeleteGroup,
)


def safe_order(changes: Iterable[Change], before: Tenant, after: Tenant) -> tuple[Change, ...]:
    """`changes` (in diff's order) with every giving change before every taking one.

    `before` and `after` are the tenant settled now and after all changes: a group whose
    members after are not all its members now has a rule or processing change that takes.
    """
    changes = tuple(changes)
    shrinking = _shrinking_groups(before, after)

    def taking(change: Change) -> bool:
        if isinstance(change, UpdateGroup):
            if change.property == "membershipRuleProcessingState" and change.after == "Paused":
                return False  # pausing drops no one, and must come before a rule edit
            if change.property == "groupTypes" and DYNAMIC_MEMBERSHIP in change.after:
                return DYNAMIC_MEMBERSHIP not in change.before  # Entra first drops everyone
            return change.property in _MEMBERSHIP and change.groupId in shrinking
        if isinstance(change, ChangeDisabledPlans):
            return bool(change.after - change.before)
        return isinstance(change, RemoveMembers | RemoveLicense | DeleteGroup)

    def key(indexed: tuple[int, Change]) -> tuple[int, int, int]:
        index, change = indexed
        phase = _TAKING if taking(change) else _GIVING
        return (phase is _TAKING, phase.index(type(change)), index)

    return tuple(change for _, change in sorted(enumerate(changes), key=key))


def _shrinking_groups(before: Tenant, after: Tenant) -> set[str]:
    """Ids of groups that lose a member, or stop assigning licenses to anyone."""
    members_after = {group.id: {m.lower() for m in group.members} for group in after.groups}
    security_after = {group.id: group.securityEnabled for group in after.groups}
    found = set()
    for group in before.groups:
        remaining = members_after.get(group.id, set())
        if any(member.lower() not in remaining for member in group.members):
            found.add(group.id)
        if group.securityEnabled and not security_after.get(group.id, True):
            found.add(group.id)
    return found
