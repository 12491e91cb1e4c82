"""What a plan does to people: who loses a product, who loses service plans of one they keep.

Computed by comparing each user before and after the whole change set (engine.simulate), so a
user who keeps a product through another group or a direct assignment is not listed as losing it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from reconciler.model import ACTIVE, Group, Sku, Tenant, User


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
    skuPartNumber: str
    servicePlans: tuple[str, ...]  # servicePlanName
    group: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Impact:
    licenseRemovals: tuple[LicenseRemoval, ...] = ()
    planRemovals: tuple[PlanRemoval, ...] = ()


def impact(before: Tenant, after: Tenant) -> Impact:
    """Every product and service plan a user has before and not after, with why."""
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

    def enabled(sku_id: str, disabled: frozenset[str]) -> frozenset[str]:
        # one product with one set of disabled plans recurs for thousands of users
        key = (sku_id.lower(), disabled)
        if key not in enabled_plans:
            enabled_plans[key] = _enabled(skus, sku_id, disabled)
        return enabled_plans[key]

    def cause(user: User, later: User, sku_key: str) -> tuple[str | None, str]:
        return _cause(user, later, sku_key, groups_before, groups_after, members_after)

    removals: list[LicenseRemoval] = []
    plan_removals: list[PlanRemoval] = []
    for user in before.users:
        later = after_users.get(user.id)
        if later is None:
            continue
        now_enabled = {
            a.skuId.lower(): enabled(a.skuId, a.disabledPlans) for a in later.assignedLicenses
        }
        for assigned in user.assignedLicenses:
            key = assigned.skuId.lower()
            sku = skus.get(key)
            part_number = sku.skuPartNumber if sku else assigned.skuId
            if key not in now_enabled:
                group, reason = cause(user, later, key)
                removals.append(
                    LicenseRemoval(
                        user.id, user.userPrincipalName, assigned.skuId, part_number, group, reason
                    )
                )
                continue
            lost = enabled(assigned.skuId, assigned.disabledPlans) - now_enabled[key]
            if lost:
                group, reason = cause(user, later, key)
                plan_removals.append(
                    PlanRemoval(
                        user.id,
                        user.userPrincipalName,
                        part_number,
                        tuple(sorted(plan_names.get(plan, plan) for plan in lost)),
                        group,
                        reason,
                    )
                )
    return Impact(tuple(removals), tuple(plan_removals))


def _enabled(skus: Mapping[str, Sku], sku_id: str, disabled: frozenset[str]) -> frozenset[str]:
    sku = skus.get(sku_id.lower())
    plans = {plan.servicePlanId.lower() for plan in sku.servicePlans} if sku else set()
    return frozenset(plans - {plan.lower() for plan in disabled})


def _cause(
    user: User,
    later: User,
    sku_key: str,
    groups_before: Mapping[str, Group],
    groups_after: Mapping[str, Group],
    members_after: Mapping[str, frozenset[str]],
) -> tuple[str | None, str]:
    """The group whose assignment of the product to the user changed, and why it changed."""
    after_states = {
        (state.assignedByGroup, state.skuId.lower(), state.disabledPlans)
        for state in later.licenseAssignmentStates
        if state.state == ACTIVE
    }
    for state in user.licenseAssignmentStates:
        if state.skuId.lower() != sku_key or state.state != ACTIVE or state.assignedByGroup is None:
            continue
        if (state.assignedByGroup, sku_key, state.disabledPlans) in after_states:
            continue
        group = groups_before.get(state.assignedByGroup)
        name = group.displayName if group else state.assignedByGroup
        after = groups_after.get(state.assignedByGroup)
        still_member = user.id in members_after.get(state.assignedByGroup, frozenset())
        return name, _reason(sku_key, group, after, still_member)
    return None, "assignment changed"


def _reason(sku_key: str, before: Group | None, after: Group | None, still_member: bool) -> str:
    if after is None:
        return "group retired"
    if not still_member:
        if after.is_dynamic:
            if before is not None and before.membershipRule != after.membershipRule:
                return "no longer matches the edited membership rule"
            return "no longer matches the membership rule"
        return "removed from the group's members"
    assigned = {a.skuId.lower(): a for a in after.assignedLicenses}
    if sku_key not in assigned:
        return "license removed from the group"
    return "service plans disabled on the group"
