"""Group-based licensing as Entra settles it: who holds which product, with which plans, and who
is left in an error state.

- Group licenses reach the group's direct user members only, never a nested group's members,
  and only from security-enabled groups.
- A user's licence for a product is the union of the plans enabled by every assignment of it
  (direct and each group), and uses one seat.
- A license already held stays held: a user who holds a product, through any group or
  directly, needs no new seat for it when a group's assignment of it changes or a new group
  gives it too. Only users who don't hold a product yet compete for the seats left: in order
  of group displayName and userPrincipalName (Entra doesn't document whom it serves first).
- A group's new products are assigned to a user all or nothing: if one fails, none of them is.
  A user beyond a product's seats gets `state: Error, error: CountViolation`, the group's other
  new products `error: Other`; products the user already held stay as they were.
- A new product with a plan mutually exclusive with a plan the user holds from another product
  fails with `MutuallyExclusiveViolation`: the license held wins (engine/catalog.py).
- A seat shortage stays in error, even once seats are free, until it is reprocessed or the
  group's licenses change; a conflict clears as soon as the conflicting license is gone.
- Dependent plans: engine/dependencies.py.
- Cascades: a user's `assignedPlans` follows their licenses, and rules reading it (or memberOf)
  are evaluated again until memberships settle (engine/assigned_plans.py, engine/membership.py).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from reconciler.engine.assigned_plans import (
    enabled_plans,
    plans_by_sku,
    plans_on,
    service_names,
    with_assigned_plans,
)
from reconciler.engine.catalog import DEFAULT_RULES, ServicePlanRules
from reconciler.engine.dependencies import (
    OTHER_ERROR,
    bundled,
    delivered,
    held_skus,
    settle_dependencies,
)
from reconciler.engine.membership import (
    dynamic_members,
    evaluated_rules,
    reads_assigned_plans,
)
from reconciler.errors import ReconcilerError
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    COUNT_VIOLATION,
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
from reconciler.rules.ast import MemberOf

# Rounds of evaluating rules that read assignedPlans or memberOf before giving up: each round
# follows one more link of a chain of groups whose licenses feed each other's rules.
MAX_ROUNDS = 20


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
    changed, fresh = _with_groups(tenant, groups)
    return recompute(changed, now, rules, fresh)


def memberships(
    tenant: Tenant, groups: Mapping[str, Group | None], now: datetime | None = None
) -> Tenant:
    """The tenant's groups, with their members, once the given groups change; licenses are
    left as they were (what rules on assignedPlans read is not followed)."""
    changed, fresh = _with_groups(tenant, groups)
    members = dynamic_members(changed, now, fresh)
    return replace(
        changed,
        groups=tuple(
            replace(group, members=members[group.id]) if group.id in members else group
            for group in changed.groups
        ),
    )


def _with_groups(tenant: Tenant, groups: Mapping[str, Group | None]) -> tuple[Tenant, set[str]]:
    """The tenant with the groups changed or deleted, and the ids of those whose rule is new."""
    before = {group.id: group for group in tenant.groups}
    after = {**before, **groups}
    deleted = {group_id.lower() for group_id, group in groups.items() if group is None}
    kept = tuple(
        replace(group, members=tuple(m for m in group.members if m.lower() not in deleted))
        if deleted
        else group
        for group in after.values()
        if group is not None
    )
    fresh = {
        group_id
        for group_id, group in groups.items()
        if group is not None and _rule_changed(before.get(group_id), group)
    }
    return replace(tenant, groups=kept), fresh


def _rule_changed(before: Group | None, after: Group) -> bool:
    """Whether Entra evaluates the group's membership anew: a new group or a new rule."""
    return (
        before is None
        or before.membershipRule != after.membershipRule
        or before.is_dynamic != after.is_dynamic
    )


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
    tenant: Tenant,
    now: datetime | None = None,
    rules: ServicePlanRules = DEFAULT_RULES,
    fresh: Collection[str] = (),
) -> Tenant:
    """Memberships, licenses, seats and error states, as Entra settles them for `tenant`.

    `fresh` names groups whose rule is new or changed (a memberOf group then drops members
    its sources lost). Rules that read assignedPlans or memberOf are evaluated again after
    licenses change, until memberships settle; LicensingError if they don't.
    """
    parsed = evaluated_rules(tenant)
    by_plans = {key for key, rule in parsed.items() if reads_assigned_plans(rule)}
    cascading = by_plans | {key for key, rule in parsed.items() if isinstance(rule.body, MemberOf)}
    plans = plans_by_sku(tenant)
    services = service_names(tenant) if by_plans else {}
    members = dynamic_members(tenant, now, fresh)
    # each round starts from the licenses the last one settled, as Entra processes a group
    # whose members change because of other groups' licenses after those licenses are applied
    users = tenant.users
    for _ in range(MAX_ROUNDS):
        groups = tuple(
            replace(group, members=members[group.id]) if group.id in members else group
            for group in tenant.groups
        )
        grouped = replace(tenant, groups=groups, users=users)
        states = _settle(grouped, plans, rules)
        users = tuple(_settled(user, states.get(user.id, ())) for user in users)
        if by_plans:
            users = tuple(
                with_assigned_plans(
                    user, enabled_plans(user.assignedLicenses, plans), services, now
                )
                for user in users
            )
        settled = replace(grouped, users=users)
        if not cascading:
            break
        again = dynamic_members(settled, now, fresh, only=cascading)
        moved = {key for key, found in again.items() if found != members.get(key)}
        if not moved:
            break
        members.update(again)
    else:
        names = sorted(g.displayName for g in tenant.groups if g.id in moved)
        raise LicensingError(
            f"memberships don't settle after {MAX_ROUNDS} rounds: the licenses of "
            f"{', '.join(names)} change the assignedPlans or groups their own rules read"
        )
    return _with_consumed_units(settled)


def _with_consumed_units(tenant: Tenant) -> Tenant:
    """`consumedUnits` as the number of users holding each product: one seat per user."""
    consumed: dict[str, int] = {}
    for user in tenant.users:
        for assigned in user.assignedLicenses:
            consumed[assigned.skuId.lower()] = consumed.get(assigned.skuId.lower(), 0) + 1
    skus = tuple(
        replace(sku, consumedUnits=consumed.get(sku.skuId.lower(), 0))
        for sku in tenant.subscribedSkus
    )
    return replace(tenant, subscribedSkus=skus)


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
        if not delivered(state):
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
    tenant: Tenant,
    plans: Mapping[str, frozenset[str]],
    rules: ServicePlanRules,
    kept: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, tuple[LicenseAssignmentState, ...]]:
    """Every user's license states; `tenant.users` carry the states before the change.

    `kept` (user id, lower-case skuId) are products a dependency keeps on users whose group
    no longer gives them: they hold a seat, so the seats left for new holders are fewer.
    """
    users = {user.id.lower(): user for user in tenant.users}
    seats = {sku.skuId.lower(): sku.prepaidUnits.enabled for sku in tenant.subscribedSkus}
    held_before = {user.id: held_skus(user) for user in tenant.users}
    holders: dict[str, set[str]] = {}
    states: dict[str, list[LicenseAssignmentState]] = {}
    # the plans each user has enabled so far, by product: what a new assignment may clash with
    enabled: dict[str, dict[str, set[str]]] = {}

    def grant(user_id: str, sku: str, disabled: frozenset[str]) -> None:
        holders.setdefault(sku, set()).add(user_id)
        enabled.setdefault(user_id, {}).setdefault(sku, set()).update(
            plans_on(plans, sku, disabled)
        )

    for user in tenant.users:
        for state in user.licenseAssignmentStates:
            if state.assignedByGroup is None:  # direct: assigned only while a seat was free
                grant(user.id, state.skuId.lower(), state.disabledPlans)
                states.setdefault(user.id, []).append(
                    LicenseAssignmentState(state.skuId, state.disabledPlans, None)
                )

    for user_id, sku in kept:
        holders.setdefault(sku, set()).add(user_id)
    pairs = _group_assignments(tenant, users)
    # products a user already holds stay held, whatever else the group does: no seat needed
    for group, user in pairs:
        for assigned in group.assignedLicenses:
            if assigned.skuId.lower() in held_before[user.id]:
                grant(user.id, assigned.skuId.lower(), assigned.disabledPlans)
    # the seats left go to new holders, in seat order
    for group, user in pairs:
        held = held_before[user.id]
        new = [a for a in group.assignedLicenses if a.skuId.lower() not in held]
        failed = _failed_before(group, user)
        errors: dict[str, str] = {}
        if not failed:
            errors = _new_assignment_errors(
                new, enabled.get(user.id, {}), holders, user.id, seats, plans, rules
            )
        for assigned in group.assignedLicenses:
            sku = assigned.skuId.lower()
            if sku in held:
                state = LicenseAssignmentState(
                    assigned.skuId, assigned.disabledPlans, group.id, ACTIVE, NO_ERROR
                )
            elif failed:
                # Entra leaves a failed assignment in error until the group or user is
                # reprocessed, even once seats are free again
                state = next(s for s in failed if s.skuId.lower() == sku)
            elif errors:
                error = errors.get(sku, OTHER_ERROR)
                state = LicenseAssignmentState(
                    assigned.skuId, assigned.disabledPlans, group.id, ERROR, error
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
        # the built-in catalog's only: a policy's own dependencies say what its tenant needs
        exempt = bundled(plans, DEFAULT_RULES) if watched_skus else {}
        for user in tenant.users if watched_skus else ():
            if any(s.skuId.lower() in watched_skus for s in states.get(user.id, ())):
                states[user.id] = settle_dependencies(user, states[user.id], plans, rules, exempt)
        held = {
            (user_id, s.skuId.lower())
            for user_id, found in states.items()
            for s in found
            if s.state == ACTIVE_WITH_ERROR
        }
        if not held <= kept:
            # seats were handed out as if those were free: hand them out again
            return _settle(tenant, plans, rules, kept | held)
    return {user_id: tuple(found) for user_id, found in states.items()}


def _new_assignment_errors(
    new: list[AssignedLicense],
    held: Mapping[str, set[str]],
    holders: Mapping[str, set[str]],
    user_id: str,
    seats: Mapping[str, int],
    plans: Mapping[str, frozenset[str]],
    rules: ServicePlanRules,
) -> dict[str, str]:
    """Why each of a group's new products can't be assigned to a user, by lower-case skuId."""
    errors: dict[str, str] = {}
    watched = rules.watched
    for assigned in new:
        sku = assigned.skuId.lower()
        adding = plans.get(sku, frozenset()) & watched
        if adding:
            adding -= {p.lower() for p in assigned.disabledPlans}
        others = {plan for other, on in held.items() if other != sku for plan in on}
        if adding and rules.conflict(adding, others):
            errors[sku] = MUTUALLY_EXCLUSIVE_VIOLATION
        elif user_id not in holders.get(sku, ()) and len(holders.get(sku, ())) >= seats.get(sku, 0):
            errors[sku] = COUNT_VIOLATION
    return errors


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
        return (group.displayName.lower(), group.id, user.userPrincipalName.lower())

    return sorted(pairs, key=order)


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
