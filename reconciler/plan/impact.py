"""What a plan does to people: who loses or gains a product, who loses plans of one they keep.

Computed by comparing each user before and after the whole change set (engine.simulate), so a
user who keeps a product through another group or a direct assignment is not listed as losing it
(they are listed in `kept` when they leave a group that gave it). One loss the end states don't
show is added, marked temporary: a static group turned dynamic loses every member before Entra
evaluates the rule, so its licenses go away for a while even from those who return.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from reconciler.engine.assigned_plans import plans_by_sku, plans_on
from reconciler.model import (
    Group,
    LicenseAssignmentState,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.changes import Change, UpdateGroup
from reconciler.plan.reasons import delivered_states, delivering, gain_cause, loss_cause
from reconciler.policy.desired import PAUSED

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


def impact(
    before: Tenant, after: Tenant, changes: Iterable[Change] = (), during: Tenant | None = None
) -> Impact:
    """Every product and service plan a user has before and not after, or gains, with why.

    `during` is the tenant while groups turned dynamic are empty, when their rules read other
    groups' licenses (assignedPlans, memberOf): what users lack then, and have again after,
    are temporary losses too.
    """
    compare = _Compare(before, after, changes, during)
    after_users = {user.id: user for user in after.users}
    found: dict[type, list] = {kind: [] for kind in _KINDS}
    for user in before.users:
        later = after_users.get(user.id)
        if later is not None and compare.may_differ(user, later):
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

    def __init__(
        self, before: Tenant, after: Tenant, changes: Iterable[Change], during: Tenant | None
    ) -> None:
        self.skus = {sku.skuId.lower(): sku for sku in before.subscribedSkus}
        self.sku_plans = plans_by_sku(before)
        self.during = {user.id: user for user in during.users} if during else {}
        self.members_during = _Members(during.groups if during else ())
        self.groups = (
            {group.id: group for group in before.groups},
            {group.id: group for group in after.groups},
        )
        self.members_after = _Members(after.groups)
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
        # what only groups turning dynamic bring: losses the end states don't show
        self.temporary = bool(self.turned_dynamic or self.during)

    def may_differ(self, user: User, later: User) -> bool:
        """Whether comparing the user can find anything: not if nothing of theirs changes."""
        # In settled tenants a user's products are those their delivered assignments give, and
        # a group gives to its members only: equal assignments after (most often the very same
        # object: the engine hands back the users a change doesn't reach) and while groups turn
        # dynamic mean nothing lost, gained or kept, unless such a group gives them a product.
        if later is not user and later != user:
            return True
        if self.turned_dynamic and any(
            state.assignedByGroup in self.turned_dynamic for state in user.licenseAssignmentStates
        ):
            return True
        meanwhile = self.during.get(user.id)
        return meanwhile is not None and meanwhile is not user and meanwhile != user

    def enabled(self, sku_id: str, disabled: frozenset[str]) -> frozenset[str]:
        # one product with one set of disabled plans recurs for thousands of users
        key = (sku_id.lower(), disabled)
        if key not in self._enabled:
            self._enabled[key] = plans_on(self.sku_plans, sku_id, disabled)
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
            target = now.get(key)
            if target is not None and before_plans <= target and not self.temporary:
                continue  # the common case, spared the lookups below: nothing is lost
            target, states, dropped_by = self._worst(user, later, key, before_plans, target)
            cascade = None if dropped_by else self._cascaded(user, key, before_plans, target)
            if cascade is not None:
                target, states = cascade
            lost = before_plans - target if target is not None else before_plans
            if target is not None and not lost:
                continue
            if dropped_by is not None:
                group_id, reason = dropped_by, TURNED_DYNAMIC
            elif cascade is not None:
                group_id, cause = loss_cause(
                    user,
                    self.during[user.id],
                    key,
                    lost,
                    self.enabled,
                    self.groups,
                    self.members_during,
                )
                turned = ", ".join(sorted(str(self.name(g)) for g in self.turned_dynamic))
                reason = (
                    f"{cause} while the group turned dynamic ({turned}) is empty, until processed"
                )
            else:
                group_id, reason = loss_cause(
                    user, later, key, lost, self.enabled, self.groups, self.members_after
                )
            part_number = _part_number(self.skus, assigned.skuId)
            common = (user.id, user.userPrincipalName, assigned.skuId, part_number)
            temporary = dropped_by is not None or cascade is not None
            if target is None:
                yield LicenseRemoval(*common, self.name(group_id), reason, temporary)
            else:
                if states is None:
                    states = delivering(later, key)
                kept = tuple(self.name(s.assignedByGroup) for s in states)
                yield PlanRemoval(
                    *common, self.plans(lost), self.name(group_id), reason, kept, temporary
                )

    def kept(self, user: User, later: User) -> Iterator[Kept]:
        """Products the user keeps through other assignments after leaving a group giving them
        (a group turned dynamic drops every member for a while, so all of its members leave)."""
        for state in delivered_states(user):
            group_id = state.assignedByGroup
            if group_id is None:
                continue
            staying = user.id in self.members_after.get(group_id, frozenset())
            if staying and group_id not in self.turned_dynamic:
                continue
            keeping = [
                s for s in delivering(later, state.skuId.lower()) if s.assignedByGroup != group_id
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
    ) -> tuple[frozenset[str] | None, list[LicenseAssignmentState] | None, str | None]:
        """The plans at the user's worst moment, the assignments giving them (None: those after),
        and the group turned dynamic that makes that moment worse than the end (None if none)."""
        dropped_by = _turned_dynamic_group(user, key, self.turned_dynamic)
        if dropped_by is None or target is None:
            return target, None, None
        states = delivering(later, key)
        # while Entra re-evaluates the group, the user has only what the others give
        kept = [s for s in states if s.assignedByGroup not in self.turned_dynamic]
        during = frozenset().union(*(self.enabled(s.skuId, s.disabledPlans) for s in kept))
        if kept and not before_plans - during > before_plans - target:
            return target, states, None
        return (during if kept else None), kept, dropped_by

    def _cascaded(
        self, user: User, key: str, before_plans: frozenset[str], target: frozenset[str] | None
    ) -> tuple[frozenset[str] | None, list[LicenseAssignmentState]] | None:
        """The plans the user has while groups turned dynamic are empty, and what gives them,
        when that is less than at the end (None otherwise)."""
        meanwhile = self.during.get(user.id)
        if meanwhile is None or target is None:
            return None
        states = delivering(meanwhile, key)
        if not states:
            return None, []
        during = frozenset().union(*(self.enabled(s.skuId, s.disabledPlans) for s in states))
        if before_plans - during > before_plans - target:
            return during, states
        return None

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
            group_id, reason = gain_cause(user, later, key, *self.groups)
            part_number = _part_number(self.skus, assigned.skuId)
            common = (user.id, user.userPrincipalName, assigned.skuId, part_number)
            if key in had:
                yield PlanAddition(*common, self.plans(gained), self.name(group_id), reason)
            else:
                yield LicenseAddition(*common, self.name(group_id), reason)


class _Members(Mapping[str, frozenset[str]]):
    """Each group's members as a set, by group id, made when first asked for: the comparison
    asks only about the groups that give the users it compares their licenses."""

    def __init__(self, groups: Iterable[Group]) -> None:
        self._groups = {group.id: group for group in groups}
        self._sets: dict[str, frozenset[str]] = {}

    def __getitem__(self, group_id: str) -> frozenset[str]:
        found = self.get(group_id)
        if found is None:
            raise KeyError(group_id)
        return found

    def get(self, group_id: str, default: frozenset[str] | None = None) -> frozenset[str] | None:
        # asked once per user and group: Mapping's own get would raise for every absent group
        found = self._sets.get(group_id)
        if found is None:
            group = self._groups.get(group_id)
            if group is None:
                return default
            found = self._sets[group_id] = frozenset(group.members)
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._groups)

    def __len__(self) -> int:
        return len(self._groups)


def _part_number(skus: Mapping[str, Sku], sku_id: str) -> str:
    sku = skus.get(sku_id.lower())
    return sku.skuPartNumber if sku else sku_id


def _turned_dynamic_group(user: User, sku_key: str, turned_dynamic: set[str]) -> str | None:
    """The group turned dynamic that gave the user the product."""
    if not turned_dynamic:
        return None  # most plans turn no group dynamic
    return next(
        (
            s.assignedByGroup
            for s in delivering(user, sku_key)
            if s.assignedByGroup in turned_dynamic
        ),
        None,
    )
