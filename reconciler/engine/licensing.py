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

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import datetime

from reconciler.engine.assigned_plans import (
    enabled_plans,
    plans_by_sku,
    service_names,
    with_assigned_plans,
)
from reconciler.engine.assignments import (
    at_rest,
    effective_licenses,
    groups_of_users,
    holder_counts,
    settle_users,
    without,
)
from reconciler.engine.catalog import DEFAULT_RULES, ServicePlanRules
from reconciler.engine.membership import (
    dynamic_members,
    evaluated_rules,
    reads_assigned_plans,
)
from reconciler.engine.positions import carry, positions
from reconciler.errors import ReconcilerError
from reconciler.model import (
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
    settled: Tenant, groups: Mapping[str, Group | None], now: datetime | None = None
) -> Tenant:
    """A settled tenant's groups, with their members, once the given groups change; licenses
    are left as they were (what rules on assignedPlans read is not followed)."""
    return _changed_members(settled, groups, now)[0]


def _changed_members(
    settled: Tenant, groups: Mapping[str, Group | None], now: datetime | None
) -> tuple[Tenant, set[str], set[str]]:
    """The settled tenant with the groups changed and their rules evaluated, the ids of the
    groups whose members were evaluated, and of those whose rule is new."""
    changed, fresh = _with_groups(settled, groups)
    # the rules of groups left as they are give what they gave, but a memberOf group may gain
    # members from any group's change
    evaluate = {
        key
        for key, rule in evaluated_rules(changed).items()
        if isinstance(rule.body, MemberOf) or key in groups
    }
    members = dynamic_members(changed, now, fresh, only=evaluate)
    return replace(changed, groups=_with_members(changed.groups, members)), set(members), fresh


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
    members = dynamic_members(tenant, now, fresh)
    grouped = replace(tenant, groups=_with_members(tenant.groups, members))
    groups_of = groups_of_users(grouped.groups)
    restless: list[User] = []
    holders: dict[str, int] = {}
    for user in grouped.users:
        if not at_rest(user, groups_of.get(user.id.lower(), ())):
            restless.append(user)
            continue
        # at rest, the products a user holds are their assignedLicenses
        for assigned in user.assignedLicenses:
            sku = assigned.skuId.lower()
            holders[sku] = holders.get(sku, 0) + 1
    for sku, count in holder_counts(restless).items():
        holders[sku] = holders.get(sku, 0) + count
    reached = {user.id.lower() for user in restless}
    return _settle_rounds(grouped, reached, holders, now, rules, fresh, groups_of, everyone=True)


def settle_changes(
    settled: Tenant,
    groups: Mapping[str, Group | None],
    now: datetime | None = None,
    rules: ServicePlanRules = DEFAULT_RULES,
) -> Tenant:
    """`simulate` for a tenant Entra has settled (what `recompute` and this return): only the
    changed groups' rules are evaluated, and only the users they reach are settled again."""
    after, evaluated, fresh = _changed_members(settled, groups, now)
    old = {group.id: group for group in settled.groups}
    new = {group.id: group for group in after.groups}
    reached: set[str] = set()
    for group_id in {*groups, *evaluated}:
        reached |= _reached(old.get(group_id), new.get(group_id))
    return _settle_rounds(after, reached, _consumed(settled), now, rules, fresh)


def settle_joined(
    settled: Tenant,
    user_ids: Collection[str],
    now: datetime | None = None,
    rules: ServicePlanRules = DEFAULT_RULES,
) -> Tenant:
    """`settled` once the users `user_ids`, already put in the groups whose rules select them,
    are settled; nobody else is evaluated but whom their licenses move through rules on
    assignedPlans or memberOf."""
    reached = {user_id.lower() for user_id in user_ids}
    return _settle_rounds(settled, reached, _consumed(settled), now, rules, ())


def _consumed(settled: Tenant) -> dict[str, int]:
    return {sku.skuId.lower(): sku.consumedUnits for sku in settled.subscribedSkus}


def _reached(before: Group | None, after: Group | None) -> set[str]:
    """The members (lower-case ids) whose licenses a group's change may change: all of them
    when what the group gives or its seat order changes, else those who join or leave."""
    if not _licensing(before) and not _licensing(after):
        return set()
    old = {m.lower() for m in before.members} if before is not None else set()
    new = {m.lower() for m in after.members} if after is not None else set()
    if (
        before is None
        or after is None
        or before.assignedLicenses != after.assignedLicenses
        or before.securityEnabled != after.securityEnabled
        or before.displayName != after.displayName
    ):
        return old | new
    return old ^ new


def _licensing(group: Group | None) -> bool:
    return group is not None and bool(group.assignedLicenses) and group.securityEnabled


def _with_members(
    groups: tuple[Group, ...], members: Mapping[str, tuple[str, ...]]
) -> tuple[Group, ...]:
    return tuple(
        replace(group, members=members[group.id])
        if group.id in members and members[group.id] != group.members
        else group
        for group in groups
    )


def _settle_rounds(
    grouped: Tenant,
    reached: set[str],
    holders: Mapping[str, int],
    now: datetime | None,
    rules: ServicePlanRules,
    fresh: Collection[str],
    groups_of: Mapping[str, list[Group]] | None = None,
    everyone: bool = False,
) -> Tenant:
    """The tenant once the users `reached` (lower-case ids) are settled, and those the licenses
    they get or lose move in or out of groups whose rules read them, round after round.

    `holders` counts each product's holders among all users before, `groups_of` is
    `groups_of_users` of the tenant if known; `everyone` says that rules on assignedPlans may
    not have seen any user's licenses yet.
    """
    parsed = evaluated_rules(grouped)
    by_plans = {key for key, rule in parsed.items() if reads_assigned_plans(rule)}
    cascading = by_plans | {key for key, rule in parsed.items() if isinstance(rule.body, MemberOf)}
    plans = plans_by_sku(grouped)
    services = service_names(grouped) if by_plans else {}
    seats = {sku.skuId.lower(): sku.prepaidUnits.enabled for sku in grouped.subscribedSkus}
    users = list(grouped.users)
    position = positions(grouped.users)
    counts = dict(holders)
    # each round starts from the licenses the last one settled, as Entra processes a group
    # whose members change because of other groups' licenses after those licenses are applied
    for _ in range(MAX_ROUNDS):
        if groups_of is None:
            groups_of = groups_of_users(grouped.groups, reached)
        todo = [users[i] for i in sorted(position[key] for key in reached if key in position)]
        taken = without(counts, todo)
        states = settle_users(todo, groups_of, seats, taken, plans, rules)
        done = [_settled(user, states.get(user.id, ())) for user in todo]
        for sku, count in holder_counts(done).items():
            taken[sku] = taken.get(sku, 0) + count
        counts = taken
        for user in done:
            users[position[user.id.lower()]] = user
        if by_plans:
            for index in range(len(users)) if everyone else (position[u.id.lower()] for u in done):
                user = users[index]
                enabled = enabled_plans(user.assignedLicenses, plans)
                users[index] = with_assigned_plans(user, enabled, services, now)
        everyone = False
        settled = tuple(users)
        carry(grouped.users, settled, same_attributes=not by_plans)
        grouped = replace(grouped, users=settled)
        if not cascading:
            break
        again = dynamic_members(grouped, now, fresh, only=cascading)
        current = {group.id: group for group in grouped.groups}
        moved = {key for key, found in again.items() if found != current[key].members}
        if not moved:
            break
        grouped = replace(grouped, groups=_with_members(grouped.groups, again))
        groups_of = None
        updated = {group.id: group for group in grouped.groups if group.id in moved}
        reached = set()
        for key in moved:
            reached |= _reached(current.get(key), updated.get(key))
    else:
        names = sorted(g.displayName for g in grouped.groups if g.id in moved)
        raise LicensingError(
            f"memberships don't settle after {MAX_ROUNDS} rounds: the licenses of "
            f"{', '.join(names)} change the assignedPlans or groups their own rules read"
        )
    return _with_consumed_units(grouped, counts)


def _with_consumed_units(tenant: Tenant, counts: Mapping[str, int]) -> Tenant:
    """`consumedUnits` as the number of users holding each product: one seat per user."""
    skus = tuple(
        replace(sku, consumedUnits=counts.get(sku.skuId.lower(), 0))
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
