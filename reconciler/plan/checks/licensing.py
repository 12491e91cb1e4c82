"""Checks of licensing as Entra will settle it: who lands in an error, who gets less than asked.

Each looks at the tenant settled now (`before`) and after the plan (`after`); findings about
errors the plan would cause count only users not already in that error.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.model import (
    ACTIVE,
    DEPENDENCY_VIOLATION,
    MUTUALLY_EXCLUSIVE_VIOLATION,
    NO_ERROR,
    Tenant,
    User,
)
from reconciler.plan.checks import Facts
from reconciler.plan.diff import find_group
from reconciler.plan.warnings import ERROR, INFO, WARNING, PlanWarning

# Entra's own call, for whoever reprocesses by hand: POST /users/{id}/reprocessLicenseAssignment
REPROCESS_HINT = (
    "fix the cause, then run `reconciler reprocess` (Entra's reprocessLicenseAssignment "
    "for each user in error) so Entra assigns the license again"
)


def usage_location_missing(facts: Facts) -> Iterator[PlanWarning]:
    """A user the plan licenses has no usageLocation: Entra uses the tenant's country."""
    country = facts.after.organization.countryLetterCode
    before = {user.id: user for user in facts.before.users}
    for user in facts.after.users:
        if user.usageLocation:
            continue
        earlier = before.get(user.id)
        if earlier is user:
            continue  # the engine hands back the very user a plan leaves alone: nothing gained
        had = {a.skuId.lower() for a in earlier.assignedLicenses} if earlier else set()
        gained = [a.skuId for a in user.assignedLicenses if a.skuId.lower() not in had]
        if gained:
            yield PlanWarning(
                "usage-location-missing",
                WARNING,
                f"{user.userPrincipalName} has no usageLocation and gets "
                f"{_skus(facts.after, gained)} as if in {country}, the tenant's country",
                "set the user's usageLocation where they work; group licensing never sets it, "
                "and some services are not offered in every country",
                user=user.userPrincipalName,
            )


def nested_group_members(facts: Facts) -> Iterator[PlanWarning]:
    """A licensed managed group has groups as members, whose members get nothing."""
    name_of = _GroupNames(facts.after)
    group_ids = {group.id.lower() for group in facts.after.groups}
    for wanted, group in _managed(facts):
        nested = [m for m in group.members if m.lower() in group_ids]
        if group.assignedLicenses and nested:
            names = ", ".join(name_of(member) or member for member in nested)
            yield PlanWarning(
                "nested-group-members",
                WARNING,
                f"{group.displayName} has groups as members ({names}); their members get none "
                "of its licenses: group licensing reaches direct members only",
                "add the users themselves, or give the nested group its own licenses",
                group=group.displayName,
                location=wanted.location,
            )


def group_not_security_enabled(facts: Facts) -> Iterator[PlanWarning]:
    """Licenses on a group that isn't security-enabled reach nobody.

    The policy makes the groups it manages security-enabled, so this finds the tenant's others.
    """
    declared = {group.id: wanted for wanted, group in _managed(facts)}
    for group in facts.after.groups:
        if group.assignedLicenses and not group.securityEnabled:
            wanted = declared.get(group.id)
            yield PlanWarning(
                "group-not-security-enabled",
                ERROR,
                f"{group.displayName} assigns licenses but isn't security-enabled: "
                "Entra assigns nothing through it",
                "make it security-enabled (a Microsoft 365 group can be), or move its "
                "licenses to a security group",
                group=group.displayName,
                location=wanted.location if wanted else None,
            )


def seat_shortfall(facts: Facts) -> Iterator[PlanWarning]:
    """The plan needs more seats of a product than the tenant has."""
    for forecast in facts.seats:
        if forecast.countViolations:
            shown = ", ".join(forecast.countViolations[:10])
            more = len(forecast.countViolations) - 10
            yield PlanWarning(
                "seat-shortfall",
                WARNING,
                f"{forecast.skuPartNumber} is {forecast.shortfall} "
                f"seat{'s' if forecast.shortfall != 1 else ''} short "
                f"({forecast.prepaid} enabled): {shown}"
                + (f" and {more} more" if more > 0 else "")
                + " would get CountViolation and none of their group's licenses",
                f"buy {forecast.shortfall} more {forecast.skuPartNumber} seats or free some "
                "(remove direct assignments or other groups' members); then run "
                "`reconciler reprocess` for them",
            )


def redundant_direct_license(facts: Facts) -> Iterator[PlanWarning]:
    """A user has a product both directly and through a group."""
    name_of = _GroupNames(facts.after)
    for user in facts.after.users:
        direct = {
            s.skuId.lower() for s in user.licenseAssignmentStates if s.assignedByGroup is None
        }
        for state in user.licenseAssignmentStates:
            key = state.skuId.lower()
            if state.assignedByGroup is not None and state.state == ACTIVE and key in direct:
                direct.discard(key)  # one finding per product
                group = name_of(state.assignedByGroup)
                yield PlanWarning(
                    "redundant-direct-license",
                    INFO,
                    f"{user.userPrincipalName} has {_skus(facts.after, [state.skuId])} directly "
                    f"and through {group}",
                    "remove the direct assignment once the group assigns the same plans, as "
                    "Microsoft's guidance for moving to group licensing suggests",
                    group=group,
                    user=user.userPrincipalName,
                )


def license_error_state(facts: Facts) -> Iterator[PlanWarning]:
    """Users already in a licensing error before the plan runs."""
    name_of = _GroupNames(facts.before)
    for user in facts.before.users:
        for state in user.licenseAssignmentStates:
            if state.error != NO_ERROR:
                group = name_of(state.assignedByGroup)
                yield PlanWarning(
                    "license-error-state",
                    WARNING,
                    f"{user.userPrincipalName} has {_skus(facts.before, [state.skuId])} from "
                    f"{group or 'a direct assignment'} in state {state.state} "
                    f"({state.error})",
                    REPROCESS_HINT,
                    group=group,
                    user=user.userPrincipalName,
                )


def mutually_exclusive_plans(facts: Facts) -> Iterator[PlanWarning]:
    """Assignments the plan makes that conflict with plans users have from other products."""
    for user, sku_id, group in _new_errors(facts, MUTUALLY_EXCLUSIVE_VIOLATION):
        yield PlanWarning(
            "mutually-exclusive-plans",
            WARNING,
            f"{user.userPrincipalName} would not get {_skus(facts.after, [sku_id])} from "
            f"{group}: one of its service plans conflicts with a plan the user has "
            "(MutuallyExclusiveViolation)",
            "disable the conflicting plan in one of the groups, or remove the other license; "
            "Entra never resolves the conflict itself",
            group=group,
            user=user.userPrincipalName,
        )


def dependency_violation(facts: Facts) -> Iterator[PlanWarning]:
    """Assignments the plan adds or removes that break a plan's dependency."""
    for user, sku_id, group in _new_errors(facts, DEPENDENCY_VIOLATION):
        yield PlanWarning(
            "dependency-violation",
            WARNING,
            f"{user.userPrincipalName}: {_skus(facts.after, [sku_id])} from {group} would fail "
            "with DependencyViolation: a service plan the user has depends on a plan it gives, "
            "or it gives a plan whose prerequisite the user lacks",
            "keep the required plan through another assignment, or disable the dependent "
            "plan first; then run `reconciler reprocess` for the user",
            group=group,
            user=user.userPrincipalName,
        )


def _new_errors(facts: Facts, error: str) -> Iterator[tuple[User, str, str | None]]:
    """(user, skuId, group name) for each assignment in `error` after the plan, not before."""
    name_of = _GroupNames(facts.before, facts.after)
    before = {
        (user.id, s.assignedByGroup, s.skuId.lower())
        for user in facts.before.users
        for s in user.licenseAssignmentStates
        if s.error == error
    }
    for user in facts.after.users:
        for state in user.licenseAssignmentStates:
            key = (user.id, state.assignedByGroup, state.skuId.lower())
            if state.error == error and key not in before:
                yield user, state.skuId, name_of(state.assignedByGroup)


def _managed(facts: Facts) -> Iterator[tuple]:
    """(desired group, the group after the plan) for each group the policy declares."""
    for wanted in facts.desired.groups:
        group = find_group(facts.after, wanted.displayName, wanted.id)
        if group is not None:
            yield wanted, group


class _GroupNames:
    """displayName by group id, built once per check: a finding per user must not scan groups."""

    def __init__(self, *tenants: Tenant) -> None:
        # later tenants' names win; earlier ones name groups the plan deletes
        self.names = {
            group.id.lower(): group.displayName for tenant in tenants for group in tenant.groups
        }

    def __call__(self, group_id: str | None) -> str | None:
        return None if group_id is None else self.names.get(group_id.lower(), group_id)


def _skus(tenant: Tenant, sku_ids: list[str]) -> str:
    names = {sku.skuId.lower(): sku.skuPartNumber for sku in tenant.subscribedSkus}
    return ", ".join(names.get(sku_id.lower(), sku_id) for sku_id in sku_ids)


CHECKS = (
    usage_location_missing,
    nested_group_members,
    group_not_security_enabled,
    seat_shortfall,
    redundant_direct_license,
    license_error_state,
    mutually_exclusive_plans,
    dependency_violation,
)
