"""Why a user loses or gains what a plan changes, in what Entra does: the group that takes it
away or gives it, and the reason shown beside each line of the plan's impact."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from reconciler.engine.dependencies import delivered
from reconciler.engine.membership import parsed_rule, reads_assigned_plans
from reconciler.model import ERROR, Group, LicenseAssignmentState, User
from reconciler.rules import RuleError


def delivering(user: User, sku_key: str) -> list[LicenseAssignmentState]:
    """The user's assignments that give them the product now."""
    return [s for s in delivered_states(user) if s.skuId.lower() == sku_key]


def delivered_states(user: User) -> list[LicenseAssignmentState]:
    """The user's assignments that give them their plans (active, or kept in error)."""
    return [s for s in user.licenseAssignmentStates if delivered(s)]


def loss_cause(
    user: User,
    later: User,
    sku_key: str,
    lost: frozenset[str],
    enabled: Callable[[str, frozenset[str]], frozenset[str]],
    groups: tuple[Mapping[str, Group], Mapping[str, Group]],
    members_after: Mapping[str, frozenset[str]],
) -> tuple[str | None, str]:
    """The group that gave the user one of the `lost` plans and gives it no more, and why.

    A group that changed its assignment without taking any of them away isn't the cause.
    """
    groups_before, groups_after = groups
    now = {
        state.assignedByGroup: enabled(state.skuId, state.disabledPlans)
        for state in delivering(later, sku_key)
    }
    for state in delivering(user, sku_key):
        if state.assignedByGroup is None:
            continue
        gave = enabled(state.skuId, state.disabledPlans) & lost
        if lost and (not gave or gave <= now.get(state.assignedByGroup, frozenset())):
            continue
        if not lost and state.assignedByGroup in now:
            continue  # a product without plans: only its assignment going counts
        group = groups_before.get(state.assignedByGroup)
        after = groups_after.get(state.assignedByGroup)
        still_member = user.id in members_after.get(state.assignedByGroup, frozenset())
        failing = next(
            (
                s
                for s in later.licenseAssignmentStates
                if s.assignedByGroup == state.assignedByGroup
                and s.skuId.lower() == sku_key
                and s.state == ERROR
            ),
            None,
        )
        reason = _reason(sku_key, group, after, still_member, state, failing)
        return state.assignedByGroup, reason
    return None, "assignment changed"


def gain_cause(
    user: User,
    later: User,
    sku_key: str,
    groups_before: Mapping[str, Group],
    groups_after: Mapping[str, Group],
) -> tuple[str | None, str]:
    """The group whose new assignment gives the user the product, and why."""
    for state in delivering(later, sku_key):
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
        before_state = next(
            (
                s
                for s in user.licenseAssignmentStates
                if s.assignedByGroup == state.assignedByGroup and s.skuId.lower() == sku_key
            ),
            None,
        )
        if before_state is None:
            return state.assignedByGroup, "license added to the group"
        if before_state.disabledPlans != state.disabledPlans:
            return state.assignedByGroup, "service plans enabled on the group"
    return None, "assignment changed"


def _reason(
    sku_key: str,
    before: Group | None,
    after: Group | None,
    still_member: bool,
    held: LicenseAssignmentState,
    failing: LicenseAssignmentState | None,
) -> str:
    """Why a group gives a user less than before, in what Entra does."""
    if after is None:
        return "group retired"
    if not still_member:
        if after.is_dynamic:
            if before is not None and not before.is_dynamic:
                return "not selected by the membership rule the group now has"
            if before is not None and before.membershipRule != after.membershipRule:
                return "no longer matches the edited membership rule"
            if _reads_assigned_plans(after.membershipRule):
                return "no longer matches the membership rule once their assignedPlans change"
            return "no longer matches the membership rule"
        return "removed from the group's members"
    assigned = {a.skuId.lower(): a for a in after.assignedLicenses}
    if sku_key not in assigned:
        return "license removed from the group"
    if failing is not None:
        return f"the group's assignment fails for them ({failing.error})"
    if assigned[sku_key].disabledPlans != held.disabledPlans:
        return "service plans disabled on the group"
    return "assignment changed"


def _reads_assigned_plans(rule: str | None) -> bool:
    try:
        return bool(rule) and reads_assigned_plans(parsed_rule(rule or ""))
    except RuleError:
        return False
