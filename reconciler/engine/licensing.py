"""Group-based licensing as Entra settles it: who holds which product, with which plans, and who
is left in an error state.

- Group licenses reach the group's direct user members only, never a nested group's members,
  and only from security-enabled groups.
- A user's licence for a product is the union of the plans enabled by every assignment of it
  (direct and each group), and uses one seat.
- A group's products are assigned to a user all or nothing: if one fails, none is assigned.
- A user beyond a product's seats gets `state: Error, error: CountViolation`, and the group's
  other products `error: Other`. Entra doesn't document whom it serves first; here the seats go
  to direct assignments, then to group assignments a user already holds, then to new ones in
  order of group displayName and userPrincipalName.
- A group product with a plan that is mutually exclusive with a plan the user has from another
  product fails with `MutuallyExclusiveViolation` (engine/catalog.py lists the conflicts).
- A seat shortage stays in error, even once seats are free, until it is reprocessed or the
  group's licenses change; a conflict clears as soon as the conflicting license is gone.
- Taking away a plan that another of the user's plans depends on fails: the user keeps that
  group's licenses, `state: ActiveWithError, error: DependencyViolation`, until the dependency is
  met another way or the dependent plan goes. A group product whose plan would lack its
  prerequisite fails with `DependencyViolation` (all or nothing, as above).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from reconciler.engine.catalog import DEFAULT_RULES, ServicePlanRules
from reconciler.engine.membership import dynamic_members
from reconciler.errors import ReconcilerError
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    COUNT_VIOLATION,
    DEPENDENCY_VIOLATION,
    ERROR,
    MUTUALLY_EXCLUSIVE_VIOLATION,
    NO_ERROR,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    Tenant,
    User,
)

OTHER_ERROR = "Other"  # "the result of an error with another license assigned by the same group"


class LicensingError(ReconcilerError):
    """A change Entra refuses, such as deleting a group that still assigns licenses."""


def simulate(
    tenant: Tenant,
    groups: Mapping[str, Group | None],
    now: datetime | None = None,
    rules: ServicePlanRules = DEFAULT_RULES,
) -> Tenant:
    """The tenant once the given groups (by id) are created or changed, or deleted (None).

    A deleted group also leaves the groups it was a member of, as it does in Entra.
    """
    after = {**{group.id: group for group in tenant.groups}, **groups}
    deleted = {group_id.lower() for group_id, group in groups.items() if group is None}
    kept = tuple(
        replace(group, members=tuple(m for m in group.members if m.lower() not in deleted))
        if deleted
        else group
        for group in after.values()
        if group is not None
    )
    return recompute(replace(tenant, groups=kept), now, rules)


def effective_usage_location(user: User, organization: Organization) -> str | None:
    """Where a user is licensed: their usageLocation, else the tenant's country.

    Group licensing uses the tenant's location for users without one and never sets theirs.
    """
    return user.usageLocation or organization.countryLetterCode


def check_deletable(group: Group) -> None:
    """Entra refuses to delete a group that still assigns licenses."""
    if group.assignedLicenses:
        raise LicensingError(
            f"group {group.displayName} can't be deleted while it assigns licenses; "
            "remove its licenses first"
        )


def recompute(
    tenant: Tenant, now: datetime | None = None, rules: ServicePlanRules = DEFAULT_RULES
) -> Tenant:
    """Memberships, licenses, seats and error states, as Entra settles them for `tenant`."""
    members = dynamic_members(tenant, now)
    groups = tuple(
        replace(group, members=members[group.id]) if group.id in members else group
        for group in tenant.groups
    )
    tenant = replace(tenant, groups=groups)
    states = _settle(tenant, rules)
    users = tuple(_settled(user, states.get(user.id, ())) for user in tenant.users)
    consumed: dict[str, int] = {}
    for user in users:
        for assigned in user.assignedLicenses:
            consumed[assigned.skuId.lower()] = consumed.get(assigned.skuId.lower(), 0) + 1
    skus = tuple(
        replace(sku, consumedUnits=consumed.get(sku.skuId.lower(), 0))
        for sku in tenant.subscribedSkus
    )
    return replace(tenant, users=users, subscribedSkus=skus)


def _settled(user: User, states: tuple[LicenseAssignmentState, ...]) -> User:
    """The user with these license states; the very same object when nothing changed, so
    those who write the tenant can tell the users a change touched by identity."""
    licenses = effective_licenses(states)
    if states == user.licenseAssignmentStates and licenses == user.assignedLicenses:
        return user
    return replace(user, licenseAssignmentStates=states, assignedLicenses=licenses)


def effective_licenses(states: Iterable[LicenseAssignmentState]) -> tuple[AssignedLicense, ...]:
    """One license per product: the plans disabled in every active assignment stay disabled."""
    disabled: dict[str, frozenset[str]] = {}
    for state in states:
        if not _delivered(state):
            continue
        key = state.skuId
        disabled[key] = (
            disabled[key] & state.disabledPlans if key in disabled else state.disabledPlans
        )
    return tuple(AssignedLicense(sku, disabled[sku]) for sku in sorted(disabled))


def licensing_groups(tenant: Tenant) -> list[Group]:
    """Groups whose licenses Entra applies: security-enabled groups that assign some."""
    return [group for group in tenant.groups if group.assignedLicenses and group.securityEnabled]


def _settle(
    tenant: Tenant, rules: ServicePlanRules
) -> dict[str, tuple[LicenseAssignmentState, ...]]:
    users = {user.id.lower(): user for user in tenant.users}
    seats = {sku.skuId.lower(): sku.prepaidUnits.enabled for sku in tenant.subscribedSkus}
    plans = {
        sku.skuId.lower(): frozenset(plan.servicePlanId.lower() for plan in sku.servicePlans)
        for sku in tenant.subscribedSkus
    }
    watched = rules.watched
    holders: dict[str, set[str]] = {}
    states: dict[str, list[LicenseAssignmentState]] = {}
    # the plans each user has enabled so far, by product: what a new assignment may clash with
    enabled: dict[str, dict[str, set[str]]] = {}

    def grant(user_id: str, sku: str, disabled: frozenset[str]) -> None:
        holders.setdefault(sku, set()).add(user_id)
        off = {plan.lower() for plan in disabled}
        enabled.setdefault(user_id, {}).setdefault(sku, set()).update(plans.get(sku, set()) - off)

    for user in tenant.users:
        for state in user.licenseAssignmentStates:
            if state.assignedByGroup is None:  # direct: assigned only while a seat was free
                grant(user.id, state.skuId.lower(), state.disabledPlans)
                states.setdefault(user.id, []).append(
                    LicenseAssignmentState(state.skuId, state.disabledPlans, None)
                )

    for group, user in _group_assignments(tenant, users):
        failed = _failed_before(group, user)
        if failed:
            # Entra leaves a failed assignment in error until the group or user is
            # reprocessed, even once seats are free again
            states.setdefault(user.id, []).extend(failed)
            continue
        skus = [assigned.skuId.lower() for assigned in group.assignedLicenses]
        held = enabled.get(user.id, {})
        errors: dict[str, str] = {}
        for assigned, sku in zip(group.assignedLicenses, skus, strict=True):
            adding = plans.get(sku, frozenset()) & watched
            if adding:
                adding -= {p.lower() for p in assigned.disabledPlans}
            if adding and rules.conflict(
                adding, {plan for other, ons in held.items() if other != sku for plan in ons}
            ):
                errors[sku] = MUTUALLY_EXCLUSIVE_VIOLATION
            elif user.id not in holders.get(sku, ()) and len(holders.get(sku, ())) >= seats.get(
                sku, 0
            ):
                errors[sku] = COUNT_VIOLATION
        for assigned, sku in zip(group.assignedLicenses, skus, strict=True):
            if errors:
                state = LicenseAssignmentState(
                    assigned.skuId,
                    assigned.disabledPlans,
                    group.id,
                    ERROR,
                    errors.get(sku, OTHER_ERROR),
                )
            else:
                grant(user.id, sku, assigned.disabledPlans)
                state = LicenseAssignmentState(
                    assigned.skuId, assigned.disabledPlans, group.id, ACTIVE, NO_ERROR
                )
            states.setdefault(user.id, []).append(state)
    if rules.dependencies:
        dependent = {r.servicePlanId for r in rules.dependencies}
        watched_skus = {sku for sku, on in plans.items() if on & dependent}
        for user in tenant.users if watched_skus else ():
            if any(s.skuId.lower() in watched_skus for s in states.get(user.id, ())):
                states[user.id] = _settle_dependencies(user, states[user.id], plans, rules)
    return {user_id: tuple(found) for user_id, found in states.items()}


def _delivered(state: LicenseAssignmentState) -> bool:
    """Whether the user has the assignment's plans: active, or kept in error by a dependency."""
    return state.state in (ACTIVE, ACTIVE_WITH_ERROR)


def _settle_dependencies(
    user: User,
    found: list[LicenseAssignmentState],
    plans: Mapping[str, frozenset[str]],
    rules: ServicePlanRules,
) -> list[LicenseAssignmentState]:
    """The user's states once plans left without their prerequisite are dealt with.

    Each round either keeps a group's removed licenses or fails a group's new ones, and a group
    goes through each at most once, so the rounds end.
    """

    def on(state: LicenseAssignmentState) -> frozenset[str]:
        disabled = {plan.lower() for plan in state.disabledPlans}
        return plans.get(state.skuId.lower(), frozenset()) - disabled

    def failed(
        state: LicenseAssignmentState, how: str, cause: frozenset[str]
    ) -> LicenseAssignmentState:
        # the product that breaks the dependency names it; the group's others show `Other`
        error = DEPENDENCY_VIOLATION if on(state) & cause else OTHER_ERROR
        return replace(state, state=how, error=error)

    while True:
        unmet = rules.unmet(frozenset().union(*(on(s) for s in found if _delivered(s))))
        if not unmet:
            return found
        needed = rules.prerequisites(unmet)
        now = {
            (s.assignedByGroup, s.skuId.lower(), s.disabledPlans) for s in found if _delivered(s)
        }
        removed = [
            s
            for s in user.licenseAssignmentStates
            if s.assignedByGroup is not None
            and _delivered(s)
            and (s.assignedByGroup, s.skuId.lower(), s.disabledPlans) not in now
        ]
        # Entra refuses the removal of a prerequisite: the user keeps that group's licenses
        keeping = {s.assignedByGroup for s in removed if on(s) & needed}
        if keeping:
            kept = [
                failed(s, ACTIVE_WITH_ERROR, needed)
                for s in removed
                if s.assignedByGroup in keeping
            ]
            kept_skus = {(s.assignedByGroup, s.skuId.lower()) for s in kept}
            found = [
                replace(s, state=ERROR, error=OTHER_ERROR) if s.assignedByGroup in keeping else s
                for s in found
                if (s.assignedByGroup, s.skuId.lower()) not in kept_skus
            ] + kept
            continue
        # otherwise a group hands out a plan the user has no prerequisite for: that group fails
        failing = {
            s.assignedByGroup
            for s in found
            if s.assignedByGroup is not None and s.state == ACTIVE and on(s) & unmet
        }
        if not failing:
            return found  # only a direct assignment lacks it: no group's doing
        found = [failed(s, ERROR, unmet) if s.assignedByGroup in failing else s for s in found]


def _group_assignments(tenant: Tenant, users: Mapping[str, User]) -> list[tuple[Group, User]]:
    """(group, user) for every direct user member of a licensing group, in seat order."""
    pairs = []
    for group in licensing_groups(tenant):
        for member in group.members:
            user = users.get(member.lower())
            if user is not None:
                pairs.append((group, user))

    def order(pair: tuple[Group, User]) -> tuple:
        group, user = pair
        return (
            not _held_before(group, user),
            group.displayName.lower(),
            group.id,
            user.userPrincipalName.lower(),
        )

    return sorted(pairs, key=order)


def _held_before(group: Group, user: User) -> bool:
    """Whether the user already held every product of the group through it."""
    active = {
        state.skuId.lower()
        for state in user.licenseAssignmentStates
        if state.assignedByGroup == group.id and state.state == ACTIVE
    }
    return all(assigned.skuId.lower() in active for assigned in group.assignedLicenses)


def _failed_before(group: Group, user: User) -> tuple[LicenseAssignmentState, ...]:
    """The user's error states from this group, if the group still assigns exactly that.

    A change to the group's licenses makes Entra process it again, so errors don't carry over.
    """
    states = tuple(s for s in user.licenseAssignmentStates if s.assignedByGroup == group.id)
    # a seat shortage waits for reprocessing; a conflict clears once the other license goes,
    # as in Microsoft's procedure for moving users between conflicting products
    if not any(state.error == COUNT_VIOLATION for state in states):
        return ()
    assigned = {(a.skuId.lower(), a.disabledPlans) for a in group.assignedLicenses}
    held = {(state.skuId.lower(), state.disabledPlans) for state in states}
    return states if held == assigned else ()
