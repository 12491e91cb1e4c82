"""What a plan does to people: who loses or gains a product, who loses plans of one they keep.

Computed by comparing each user before and after the whole change set (engine.simulate), so a
user who keeps a product through another group or a direct assignment is not listed as losing it
(they are listed in `kept` when they leave a group that gave it). One loss the end states don't
show is added, marked temporary: a static group turned dynamic loses every member before Entra
evaluates the rule, so its licenses go away for a while even from those who return.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from reconciler.engine.membership import reads_assigned_plans
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    ERROR,
    Group,
    LicenseAssignmentState,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.changes import Change, UpdateGroup
from reconciler.policy.desired import PAUSED
from reconciler.rules import RuleError, parse

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
    temporary: bool = False  # the license returns on its own once Entra processes the group


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
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class Kept:
    """A user who leaves a group but keeps a product it gave them, through other assignments."""

    userId: str
    userPrincipalName: str
    skuId: str
    skuPartNumber: str
    group: str  # displayName of the group the user leaves
    keptBy: tuple[str | None, ...]  # groups (displayName) or DIRECT still assigning it


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
class PlanAddition:
    """A user keeps a product and gains some of its service plans."""

    userId: str
    userPrincipalName: str
    skuId: str
    skuPartNumber: str
    servicePlans: tuple[str, ...]  # servicePlanName
    group: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Impact:
    licenseRemovals: tuple[LicenseRemoval, ...] = ()
    planRemovals: tuple[PlanRemoval, ...] = ()
    licenseAdditions: tuple[LicenseAddition, ...] = ()
    planAdditions: tuple[PlanAddition, ...] = ()
    kept: tuple[Kept, ...] = ()


def impact(before: Tenant, after: Tenant, changes: Iterable[Change] = ()) -> Impact:
    """Every product and service plan a user has before and not after, or gains, with why."""
    compare = _Compare(before, after, changes)
    after_users = {user.id: user for user in after.users}
    found: dict[type, list] = {kind: [] for kind in _KINDS}
    for user in before.users:
        later = after_users.get(user.id)
        if later is not None:
            for item in (
                *compare.losses(user, later),
                *compare.gains(user, later),
                *compare.kept(user, later),
            ):
                found[type(item)].append(item)
    return Impact(*(tuple(found[kind]) for kind in _KINDS))


_KINDS = (LicenseRemoval, PlanRemoval, LicenseAddition, PlanAddition, Kept)  # Impact's order


class _Compare:
    """The lookups one comparison of two settled tenants needs, built once for every user."""

    def __init__(self, before: Tenant, after: Tenant, changes: Iterable[Change]) -> None:
        self.skus = {sku.skuId.lower(): sku for sku in before.subscribedSkus}
        self.groups = (
            {group.id: group for group in before.groups},
            {group.id: group for group in after.groups},
        )
        self.members_after = {group.id: frozenset(group.members) for group in after.groups}
        self.plan_names = {
            plan.servicePlanId.lower(): plan.servicePlanName
            for sku in before.subscribedSkus
            for plan in sku.servicePlans
        }
        self._enabled: dict[tuple[str, frozenset[str]], frozenset[str]] = {}
        # while processing is paused Entra keeps a group's members: nobody drops out for a while
        self.turned_dynamic = {
            change.groupId
            for change in changes
            if isinstance(change, UpdateGroup)
            and change.turns_dynamic
            and self.groups[1][change.groupId].membershipRuleProcessingState != PAUSED
        }

    def enabled(self, sku_id: str, disabled: frozenset[str]) -> frozenset[str]:
        # one product with one set of disabled plans recurs for thousands of users
        key = (sku_id.lower(), disabled)
        if key not in self._enabled:
            self._enabled[key] = _enabled(self.skus, sku_id, disabled)
        return self._enabled[key]

    def name(self, group_id: str | None) -> str | None:
        if group_id is None:
            return None
        group = self.groups[0].get(group_id) or self.groups[1].get(group_id)
        return group.displayName if group else group_id

    def plans(self, plan_ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(self.plan_names.get(plan, plan) for plan in plan_ids))

    def losses(self, user: User, later: User) -> Iterator[LicenseRemoval | PlanRemoval]:
        """What the user has before and not after, or not while a group turns dynamic."""
        now = {
            a.skuId.lower(): self.enabled(a.skuId, a.disabledPlans) for a in later.assignedLicenses
        }
        for assigned in user.assignedLicenses:
            key = assigned.skuId.lower()
            before_plans = self.enabled(assigned.skuId, assigned.disabledPlans)
            target, states, dropped_by = self._worst(user, later, key, before_plans, now.get(key))
            lost = before_plans - target if target is not None else before_plans
            if target is not None and not lost:
                continue
            if dropped_by is not None:
                group_id, reason = dropped_by, TURNED_DYNAMIC
            else:
                group_id, reason = _lost(
                    user, later, key, lost, self.enabled, self.groups, self.members_after
                )
            part_number = _part_number(self.skus, assigned.skuId)
            common = (user.id, user.userPrincipalName, assigned.skuId, part_number)
            temporary = dropped_by is not None
            if target is None:
                yield LicenseRemoval(*common, self.name(group_id), reason, temporary)
            else:
                kept = tuple(self.name(s.assignedByGroup) for s in states)
                yield PlanRemoval(
                    *common, self.plans(lost), self.name(group_id), reason, kept, temporary
                )

    def kept(self, user: User, later: User) -> Iterator[Kept]:
        """Products the user keeps through other assignments after leaving a group giving them
        (a group turned dynamic drops every member for a while, so all of its members leave)."""
        for state in _delivered_states(user):
            group_id = state.assignedByGroup
            if group_id is None:
                continue
            staying = user.id in self.members_after.get(group_id, frozenset())
            if staying and group_id not in self.turned_dynamic:
                continue
            keeping = [
                s for s in _delivering(later, state.skuId.lower()) if s.assignedByGroup != group_id
            ]
            if keeping:
                yield Kept(
                    user.id,
                    user.userPrincipalName,
                    state.skuId,
                    _part_number(self.skus, state.skuId),
                    self.name(group_id) or group_id,
                    tuple(self.name(s.assignedByGroup) for s in keeping),
                )

    def _worst(
        self,
        user: User,
        later: User,
        key: str,
        before_plans: frozenset[str],
        target: frozenset[str] | None,
    ) -> tuple[frozenset[str] | None, list[LicenseAssignmentState], str | None]:
        """The plans at the user's worst moment, the assignments giving them, and the group
        turned dynamic that makes that moment worse than the end (None if none does)."""
        states = _delivering(later, key)
        dropped_by = _turned_dynamic_group(user, key, self.turned_dynamic)
        if dropped_by is None or target is None:
            return target, states, None
        # while Entra re-evaluates the group, the user has only what the others give
        kept = [s for s in states if s.assignedByGroup not in self.turned_dynamic]
        during = frozenset().union(*(self.enabled(s.skuId, s.disabledPlans) for s in kept))
        if kept and not before_plans - during > before_plans - target:
            return target, states, None
        return (during if kept else None), kept, dropped_by

    def gains(self, user: User, later: User) -> Iterator[LicenseAddition | PlanAddition]:
        """Products the user gets, and plans of products they keep."""
        had = {
            a.skuId.lower(): self.enabled(a.skuId, a.disabledPlans) for a in user.assignedLicenses
        }
        for assigned in later.assignedLicenses:
            key = assigned.skuId.lower()
            gained = self.enabled(assigned.skuId, assigned.disabledPlans) - had.get(
                key, frozenset()
            )
            if key in had and not gained:
                continue
            group_id, reason = _gained(user, later, key, *self.groups)
            part_number = _part_number(self.skus, assigned.skuId)
            common = (user.id, user.userPrincipalName, assigned.skuId, part_number)
            if key in had:
                yield PlanAddition(*common, self.plans(gained), self.name(group_id), reason)
            else:
                yield LicenseAddition(*common, self.name(group_id), reason)


def _part_number(skus: Mapping[str, Sku], sku_id: str) -> str:
    sku = skus.get(sku_id.lower())
    return sku.skuPartNumber if sku else sku_id


def _delivering(user: User, sku_key: str) -> list[LicenseAssignmentState]:
    """The user's assignments that give them the product now."""
    return [s for s in _delivered_states(user) if s.skuId.lower() == sku_key]


def _delivered_states(user: User) -> list[LicenseAssignmentState]:
    return [s for s in user.licenseAssignmentStates if s.state in (ACTIVE, ACTIVE_WITH_ERROR)]


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
        for state in _delivering(later, sku_key)
    }
    for state in _delivering(user, sku_key):
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
        return bool(rule) and reads_assigned_plans(parse(rule or ""))
    except RuleError:
        return False
