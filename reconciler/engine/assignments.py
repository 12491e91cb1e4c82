"""Group licenses handed to the users a change reaches, in seat order, as Entra processes them.

Users a change doesn't reach are at rest: they hold every product their groups give, with no
error, and need no seat they don't have; they count only as holders of the seats they take
(`taken`). So settling the users a change reaches gives what settling the whole tenant would,
in time that grows with those users rather than with the tenant.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence

from reconciler.engine.assigned_plans import plans_on
from reconciler.engine.catalog import DEFAULT_RULES, ServicePlanRules
from reconciler.engine.dependencies import (
    OTHER_ERROR,
    bundled,
    delivered,
    held_skus,
    settle_dependencies,
)
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
    User,
)

GroupsOf = Mapping[str, Sequence[Group]]  # lower-case user id -> licensing groups, seat order


def licensing_groups(groups: Iterable[Group]) -> list[Group]:
    """Groups whose licenses Entra applies: security-enabled groups that assign some."""
    return [group for group in groups if group.assignedLicenses and group.securityEnabled]


def groups_of_users(
    groups: Iterable[Group], only: Collection[str] | None = None
) -> dict[str, list[Group]]:
    """Each direct member's licensing groups (by lower-case id; of the members in `only`, if
    given), in seat order: by group displayName (Entra doesn't document whom it serves first),
    then id."""
    found: dict[str, list[Group]] = {}
    for group in sorted(licensing_groups(groups), key=lambda g: (g.displayName.lower(), g.id)):
        keys = (m.lower() for m in group.members) if only is None else _members(group) & only
        for key in keys:
            found.setdefault(key, []).append(group)
    return found


# each licensing group's members, lower-cased, by the group object: a change leaves most groups
# as the very same objects, and settling it asks which of a few users each group has
_MEMBERS: dict[int, tuple[Group, frozenset[str]]] = {}
_MEMBERS_KEPT = 100_000


def _members(group: Group) -> frozenset[str]:
    found = _MEMBERS.get(id(group))
    if found is None or found[0] is not group:
        if len(_MEMBERS) >= _MEMBERS_KEPT:
            _MEMBERS.clear()
        # held with the group, so that its id can't be another's while the entry lives
        found = _MEMBERS[id(group)] = (group, frozenset(m.lower() for m in group.members))
    return found[1]


def at_rest(user: User, groups: Sequence[Group]) -> bool:
    """Whether settling would leave the user as they are: every product of their groups held,
    direct ones first, nothing in error, in the order settling writes them."""
    states = user.licenseAssignmentStates
    position = 0
    for state in states:
        if state.assignedByGroup is not None:
            break
        if state.state != ACTIVE or state.error != NO_ERROR:
            return False
        position += 1
    for group in groups:
        for assigned in group.assignedLicenses:
            if position >= len(states):
                return False
            state = states[position]
            if (
                state.assignedByGroup != group.id
                or state.skuId != assigned.skuId
                or state.disabledPlans != assigned.disabledPlans
                or state.state != ACTIVE
                or state.error != NO_ERROR
            ):
                return False
            position += 1
    return position == len(states) and _effective(states, user.assignedLicenses)


def _effective(
    states: Sequence[LicenseAssignmentState], licenses: Sequence[AssignedLicense]
) -> bool:
    """Whether `licenses` are `effective_licenses(states)` of states all active: checked without
    making them, as it is for every user of a large tenant."""
    disabled: dict[str, frozenset[str]] = {}
    for state in states:
        key = state.skuId
        disabled[key] = (
            disabled[key] & state.disabledPlans if key in disabled else state.disabledPlans
        )
    if len(disabled) != len(licenses):
        return False
    previous = None
    for assigned in licenses:
        if disabled.get(assigned.skuId) != assigned.disabledPlans:
            return False
        if previous is not None and assigned.skuId <= previous:
            return False  # effective_licenses lists them by skuId
        previous = assigned.skuId
    return True


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


def settle_users(
    users: Sequence[User],
    groups_of: GroupsOf,
    seats: Mapping[str, int],
    taken: Mapping[str, int],
    plans: Mapping[str, frozenset[str]],
    rules: ServicePlanRules,
    kept: frozenset[tuple[str, str]] = frozenset(),
) -> dict[str, tuple[LicenseAssignmentState, ...]]:
    """The license states of `users` (who carry their states before the change), by user id.

    `seats` are each product's (lower-case skuId), `taken` the seats users at rest hold. `kept`
    (user id, lower-case skuId) are products a dependency keeps on users whose group no longer
    gives them: they hold a seat, so the seats left for new holders are fewer.
    """
    held_before = {user.id: held_skus(user) for user in users}
    holders: dict[str, set[str]] = {}
    states: dict[str, list[LicenseAssignmentState]] = {}
    # the plans each user has enabled so far, by product: what a new assignment may clash with
    enabled: dict[str, dict[str, set[str]]] = {}

    def grant(user_id: str, sku: str, disabled: frozenset[str]) -> None:
        holders.setdefault(sku, set()).add(user_id)
        enabled.setdefault(user_id, {}).setdefault(sku, set()).update(
            plans_on(plans, sku, disabled)
        )

    for user in users:
        for state in user.licenseAssignmentStates:
            if state.assignedByGroup is None:  # direct: assigned only while a seat was free
                grant(user.id, state.skuId.lower(), state.disabledPlans)
                states.setdefault(user.id, []).append(
                    LicenseAssignmentState(state.skuId, state.disabledPlans, None)
                )

    for user_id, sku in kept:
        holders.setdefault(sku, set()).add(user_id)
    pairs = _group_assignments(users, groups_of)
    # products a user already holds stay held, whatever else the group does: no seat needed
    for group, user in pairs:
        for assigned in group.assignedLicenses:
            if assigned.skuId.lower() in held_before[user.id]:
                grant(user.id, assigned.skuId.lower(), assigned.disabledPlans)

    def free(sku: str) -> int:
        return seats.get(sku, 0) - taken.get(sku, 0) - len(holders.get(sku, ()))

    # the seats left go to new holders, in seat order
    for group, user in pairs:
        held = held_before[user.id]
        new = [a for a in group.assignedLicenses if a.skuId.lower() not in held]
        failed = _failed_before(group, user)
        errors: dict[str, str] = {}
        if not failed:
            errors = _new_assignment_errors(
                new, enabled.get(user.id, {}), holders, user.id, free, plans, rules
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
        for user in users if watched_skus else ():
            if any(s.skuId.lower() in watched_skus for s in states.get(user.id, ())):
                states[user.id] = settle_dependencies(user, states[user.id], plans, rules, exempt)
        held_now = {
            (user_id, s.skuId.lower())
            for user_id, found in states.items()
            for s in found
            if s.state == ACTIVE_WITH_ERROR
        }
        if not held_now <= kept:
            # seats were handed out as if those were free: hand them out again
            return settle_users(users, groups_of, seats, taken, plans, rules, kept | held_now)
    return {user_id: tuple(found) for user_id, found in states.items()}


def _new_assignment_errors(
    new: list[AssignedLicense],
    held: Mapping[str, set[str]],
    holders: Mapping[str, set[str]],
    user_id: str,
    free: Callable[[str], int],
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
        elif user_id not in holders.get(sku, ()) and free(sku) <= 0:
            errors[sku] = COUNT_VIOLATION
    return errors


def _group_assignments(users: Sequence[User], groups_of: GroupsOf) -> list[tuple[Group, User]]:
    """(group, user) for every licensing group each user is a direct member of, in seat order."""
    pairs = [(group, user) for user in users for group in groups_of.get(user.id.lower(), ())]

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


def holder_counts(users: Iterable[User]) -> dict[str, int]:
    """How many of `users` hold each product (lower-case skuId): the seats they take."""
    counts: dict[str, int] = {}
    for user in users:
        for sku in held_skus(user):
            counts[sku] = counts.get(sku, 0) + 1
    return counts


def without(counts: Mapping[str, int], users: Collection[User]) -> dict[str, int]:
    """`counts` less the products `users` hold."""
    left = dict(counts)
    for sku, count in holder_counts(users).items():
        left[sku] = left.get(sku, 0) - count
    return left
