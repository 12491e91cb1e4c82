"""What a plan does to people: who loses or gains a product, who loses plans of one they keep.

Computed by comparing each user before and after the whole change set (engine.simulate), so a
user who keeps a product through another group or a direct assignment is not listed as losing it.
One loss the end states don't show is added: a static group turned dynamic loses every member
before Entra evaluates the rule, so its licenses go away for a while even from those who return.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    DYNAMIC_MEMBERSHIP,
    Group,
    LicenseAssignmentState,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.changes import Change, UpdateGroup

DIRECT = None  # keptBy entry of a direct assignment
TURNED_DYNAMIC = (
    "static group turned dynamic: Entra removes every member before evaluating the rule; "
    "the license returns once processing completes"
)


@dataclass(frozen=True, slots=True)
class LicenseRemoval:
    """A user loses a product entirely."""

    userId: str
    userPrincipalName: str
    skuId: str
    skuPartNumber: str
    group: str | None  # displayName of the group it came through
    reason: str


@dataclass(frozen=True, slots=True)
class PlanRemoval:
    """A user keeps a product but loses some of its service plans."""

    userId: str
    userPrincipalName: str
    skuId: str
    skuPartNumber: str
    servicePlans: tuple[str, ...]  # servicePlanName
    group: str | None
    reason: str
    keptBy: tuple[str | None, ...] = ()  # groups (displayName) or DIRECT still assigning it


@dataclass(frozen=True, slots=True)
class LicenseAddition:
    """A user gains a product they didn't have."""

    userId: str
    userPrincipalName: str
    skuId: str
    skuPartNumber: str
    group: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Impact:
    licenseRemovals: tuple[LicenseRemoval, ...] = ()
    planRemovals: tuple[PlanRemoval, ...] = ()
    licenseAdditions: tuple[LicenseAddition, ...] = ()


def impact(before: Tenant, after: Tenant, changes: Iterable[Change] = ()) -> Impact:
    """Every product and service plan a user has before and not after, or gains, with why."""
    skus = {sku.skuId.lower(): sku for sku in before.subscribedSkus}
    after_users = {user.id: user for user in after.users}
    groups_before = {group.id: group for group in before.groups}
    groups_after = {group.id: group for group in after.groups}
    members_after = {group.id: frozenset(group.members) for group in after.groups}
    plan_names = {
        plan.servicePlanId.lower(): plan.servicePlanName
        for sku in before.subscribedSkus
        for plan in sku.servicePlans
    }
    enabled_plans: dict[tuple[str, frozenset[str]], frozenset[str]] = {}
    turned_dynamic = {
        change.groupId
        for change in changes
        if isinstance(change, UpdateGroup)
        and change.property == "groupTypes"
        and DYNAMIC_MEMBERSHIP in change.after
        and DYNAMIC_MEMBERSHIP not in change.before
    }

    def enabled(sku_id: str, disabled: frozenset[str]) -> frozenset[str]:
        # one product with one set of disabled plans recurs for thousands of users
        key = (sku_id.lower(), disabled)
        if key not in enabled_plans:
            enabled_plans[key] = _enabled(skus, sku_id, disabled)
        return enabled_plans[key]

    def name(group_id: str | None) -> str | None:
        if group_id is None:
            return None
        group = groups_before.get(group_id) or groups_after.get(group_id)
        return group.displayName if group else group_id

    removals: list[LicenseRemoval] = []
    plan_removals: list[PlanRemoval] = []
    additions: list[LicenseAddition] = []
    for user in before.users:
        later = after_users.get(user.id)
        if later is None:
            continue
        now_enabled = {
            a.skuId.lower(): enabled(a.skuId, a.disabledPlans) for a in later.assignedLicenses
        }
        had = {a.skuId.lower() for a in user.assignedLicenses}
        for assigned in user.assignedLicenses:
            key = assigned.skuId.lower()
            before_plans = enabled(assigned.skuId, assigned.disabledPlans)
            states = _delivering(later, key)
            target = now_enabled.get(key)
            dropped_by = _turned_dynamic_group(user, key, turned_dynamic)
            if dropped_by is not None and target is not None:
                # while Entra re-evaluates the group, the user has only what the others give
                kept = [s for s in states if s.assignedByGroup not in turned_dynamic]
                during = frozenset().union(*(enabled(s.skuId, s.disabledPlans) for s in kept))
                if not kept or before_plans - during > before_plans - target:
                    target, states = (during if kept else None), kept
                else:
                    dropped_by = None
            else:
                dropped_by = None
            lost = before_plans - target if target is not None else before_plans
            if target is not None and not lost:
                continue
            if dropped_by is not None:
                group_id, reason = dropped_by, TURNED_DYNAMIC
            else:
                group_id, reason = _lost(
                    user, later, key, groups_before, groups_after, members_after
                )
            part_number = _part_number(skus, assigned.skuId)
            if target is None:
                removals.append(
                    LicenseRemoval(
                        user.id,
                        user.userPrincipalName,
                        assigned.skuId,
                        part_number,
                        name(group_id),
                        reason,
                    )
                )
            else:
                plan_removals.append(
                    PlanRemoval(
                        user.id,
                        user.userPrincipalName,
                        assigned.skuId,
                        part_number,
                        tuple(sorted(plan_names.get(plan, plan) for plan in lost)),
                        name(group_id),
                        reason,
                        tuple(name(s.assignedByGroup) for s in states),
                    )
                )
        for assigned in later.assignedLicenses:
            key = assigned.skuId.lower()
            if key in had:
                continue
            group_id, reason = _gained(user, later, key, groups_before, groups_after)
            additions.append(
                LicenseAddition(
                    user.id,
                    user.userPrincipalName,
                    assigned.skuId,
                    _part_number(skus, assigned.skuId),
                    name(group_id),
                    reason,
                )
            )
    return Impact(tuple(removals), tuple(plan_removals), tuple(additions))


def _part_number(skus: Mapping[str, Sku], sku_id: str) -> str:
    sku = skus.get(sku_id.lower())
    return sku.skuPartNumber if sku else sku_id


def _delivering(user: User, sku_key: str) -> list[LicenseAssignmentState]:
    """The user's assignments that give them the product now."""
    return [
        s
        for s in user.licenseAssignmentStates
        if s.skuId.lower() == sku_key and s.state in (ACTIVE, ACTIVE_WITH_ERROR)
    ]


def _turned_dynamic_group(user: User, sku_key: str, turned_dynamic: set[str]) -> str | None:
    """The group turned dynamic that gave the user the product."""
    return next(
        (
            s.assignedByGroup
            for s in _delivering(user, sku_key)
            if s.assignedByGroup in turned_dynamic
        ),
        None,
    )


def _enabled(skus: Mapping[str, Sku], sku_id: str, disabled: frozenset[str]) -> frozenset[str]:
    sku = skus.get(sku_id.lower())
    plans = {plan.servicePlanId.lower() for plan in sku.servicePlans} if sku else set()
    return frozenset(plans - {plan.lower() for plan in disabled})


def _lost(
    user: User,
    later: User,
    sku_key: str,
    groups_before: Mapping[str, Group],
    groups_after: Mapping[str, Group],
    members_after: Mapping[str, frozenset[str]],
) -> tuple[str | None, str]:
    """The group whose assignment of the product to the user went, and why it went."""
    after_states = {
        (state.assignedByGroup, state.skuId.lower(), state.disabledPlans)
        for state in _delivering(later, sku_key)
    }
    for state in _delivering(user, sku_key):
        if state.assignedByGroup is None:
            continue
        if (state.assignedByGroup, sku_key, state.disabledPlans) in after_states:
            continue
        group = groups_before.get(state.assignedByGroup)
        after = groups_after.get(state.assignedByGroup)
        still_member = user.id in members_after.get(state.assignedByGroup, frozenset())
        return state.assignedByGroup, _reason(sku_key, group, after, still_member)
    return None, "assignment changed"


def _gained(
    user: User,
    later: User,
    sku_key: str,
    groups_before: Mapping[str, Group],
    groups_after: Mapping[str, Group],
) -> tuple[str | None, str]:
    """The group whose new assignment gives the user the product, and why."""
    for state in _delivering(later, sku_key):
        if state.assignedByGroup is None:
            return None, "assigned directly"
        before = groups_before.get(state.assignedByGroup)
        if before is None:
            return state.assignedByGroup, "new group"
        if user.id not in before.members:
            after = groups_after.get(state.assignedByGroup)
            if after is not None and after.is_dynamic:
                return state.assignedByGroup, "matches the membership rule"
            return state.assignedByGroup, "added to the group's members"
        return state.assignedByGroup, "license added to the group"
    return None, "assignment changed"


def _reason(sku_key: str, before: Group | None, after: Group | None, still_member: bool) -> str:
    if after is None:
        return "group retired"
    if not still_member:
        if after.is_dynamic:
            if before is not None and not before.is_dynamic:
                return "not selected by the membership rule the group now has"
            if before is not None and before.membershipRule != after.membershipRule:
                return "no longer matches the edited membership rule"
            return "no longer matches the membership rule"
        return "removed from the group's members"
    assigned = {a.skuId.lower(): a for a in after.assignedLicenses}
    if sku_key not in assigned:
        return "license removed from the group"
    return "service plans disabled on the group"
