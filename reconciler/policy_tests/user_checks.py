"""A user's expectations checked against the settled tenant after the plan: the products they
hold and through which group, the service plans on, their groups and usage location. Each one
that doesn't hold becomes a Failure with the facts that decided it."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.engine.assigned_plans import plans_by_sku, plans_on
from reconciler.engine.dependencies import delivered
from reconciler.engine.licensing import effective_usage_location
from reconciler.lookup import Names
from reconciler.model import ERROR, LicenseAssignmentState, Tenant, User
from reconciler.policy_tests.reasons import Memberships
from reconciler.policy_tests.results import Failure
from reconciler.policy_tests.spec import (
    AbsentLicense,
    GroupRef,
    HeldLicense,
    PlanRef,
    SkuRef,
    UserExpectations,
)


class UserFacts:
    """One user in the tenant after the plan, and the questions the checks ask of it."""

    def __init__(self, tenant: Tenant, user: User, memberships: Memberships) -> None:
        self.tenant = tenant
        self.user = user
        self.memberships = memberships
        self.sku_plans = plans_by_sku(tenant)
        self.skus = {sku.skuId.lower(): sku for sku in tenant.subscribedSkus}  # seats after
        self.names = Names(tenant)

    def states(self, sku: SkuRef) -> list[LicenseAssignmentState]:
        key = sku.skuId.lower()
        return [s for s in self.user.licenseAssignmentStates if s.skuId.lower() == key]

    def holds(self, sku: SkuRef) -> bool:
        return any(a.skuId.lower() == sku.skuId.lower() for a in self.user.assignedLicenses)

    def enabled(self, sku: SkuRef) -> frozenset[str]:
        """The plans (lower-case ids) on in the product the user holds: the union of the plans
        every delivered assignment of it turns on."""
        return frozenset().union(
            *(plans_on(self.sku_plans, s.skuId, s.disabledPlans) for s in self.delivering(sku))
        )

    def delivering(self, sku: SkuRef) -> list[LicenseAssignmentState]:
        return [s for s in self.states(sku) if delivered(s)]

    def source(self, state: LicenseAssignmentState) -> str:
        if state.assignedByGroup is None:
            return "directly"
        group = self.memberships.group(state.assignedByGroup)
        return f"through {group.displayName if group else state.assignedByGroup}"

    def seats(self, sku_id: str) -> str:
        sku = self.skus.get(sku_id.lower())
        if sku is None:
            return ""
        enabled = sku.prepaidUnits.enabled
        return (
            f" ({sku.skuPartNumber}: {sku.consumedUnits} of {enabled} seats taken after the plan)"
        )

    def state_problem(self, state: LicenseAssignmentState) -> str:
        """An assignment in error, as a reason: where it comes from and what Entra reports."""
        seats = self.seats(state.skuId) if state.error == "CountViolation" else ""
        kind = "fails" if state.state == ERROR else "is active with an error"
        return f"the assignment {self.source(state)} {kind}: {state.error}{seats}"

    def why_group(self, group_id: str, name: str) -> str:
        return self.memberships.why(self.user, group_id, name)

    def givers(self, sku: SkuRef) -> list[tuple[str, str]]:
        """(id, displayName) of the security groups that assign the product after the plan."""
        return [
            (group.id, group.displayName)
            for group in self.tenant.groups
            if group.securityEnabled
            and any(a.skuId.lower() == sku.skuId.lower() for a in group.assignedLicenses)
        ]


def check_user(facts: UserFacts, expect: UserExpectations) -> tuple[int, list[Failure]]:
    """How many expectations were checked, and those that don't hold."""
    checks = [
        *(_held(facts, item) for item in expect.licenses),
        *(_absent(facts, item) for item in expect.noLicenses),
        *(_plan_on(facts, plan) for plan in expect.servicePlans),
        *(_plan_off(facts, plan) for plan in expect.noServicePlans),
        *(_member(facts, group, True) for group in expect.memberOf),
        *(_member(facts, group, False) for group in expect.notMemberOf),
    ]
    if expect.usageLocation is not None:
        checks.append(_usage_location(facts, expect.usageLocation))
    return len(checks), [failure for failure in checks if failure is not None]


def _held(facts: UserFacts, item: HeldLicense) -> Failure | None:
    sku = item.sku
    expected = f"holds {sku.skuPartNumber}"
    if item.group is not None:
        expected += f" through {item.group.displayName}"
    on = [p.servicePlanName for p in item.enabledPlans]
    off = [p.servicePlanName for p in item.disabledPlans]
    if on:
        expected += f", with {', '.join(on)} on"
    if off:
        expected += f", with {', '.join(off)} off"
    if not facts.holds(sku):
        return Failure(expected, tuple(_why_not_held(facts, sku)))
    reasons: list[str] = []
    if item.group is not None:
        reasons += _why_not_through(facts, sku, item.group)
    enabled = facts.enabled(sku)
    for plan in item.enabledPlans:
        if plan.servicePlanId not in enabled:
            reasons.append(f"{plan.servicePlanName} is off: {_turned_off_by(facts, sku, plan)}")
    for plan in item.disabledPlans:
        if plan.servicePlanId in enabled:
            reasons.append(f"{plan.servicePlanName} is on {_turned_on_by(facts, sku, plan)}")
    return Failure(expected, tuple(reasons)) if reasons else None


def _why_not_held(facts: UserFacts, sku: SkuRef) -> Iterator[str]:
    yield f"{sku.skuPartNumber} is not held"
    failing = [s for s in facts.states(sku) if not delivered(s)]
    for state in failing:
        yield facts.state_problem(state)
    failing_groups = {s.assignedByGroup for s in failing}
    givers = [(g, name) for g, name in facts.givers(sku) if g not in failing_groups]
    if not givers and not failing:
        yield f"no group assigns {sku.skuPartNumber}"
    for group_id, name in givers:
        yield facts.why_group(group_id, name)


def _why_not_through(facts: UserFacts, sku: SkuRef, group: GroupRef) -> list[str]:
    states = [s for s in facts.states(sku) if (s.assignedByGroup or "").lower() == group.id.lower()]
    if any(delivered(s) for s in states):
        return []
    others = ", ".join(facts.source(s) for s in facts.delivering(sku))
    reasons = [f"{sku.skuPartNumber} is not assigned through {group.displayName}; held {others}"]
    if states:
        reasons += [facts.state_problem(state) for state in states]
        return reasons
    found = facts.memberships.group(group.id)
    if found is not None and not any(
        a.skuId.lower() == sku.skuId.lower() for a in found.assignedLicenses
    ):
        return [*reasons, f"{group.displayName} doesn't assign {sku.skuPartNumber}"]
    return [*reasons, facts.why_group(group.id, group.displayName)]


def _turned_off_by(facts: UserFacts, sku: SkuRef, plan: PlanRef) -> str:
    sources = [facts.source(s) for s in facts.delivering(sku)]
    return f"disabled in every assignment ({', '.join(sources)})"


def _turned_on_by(facts: UserFacts, sku: SkuRef, plan: PlanRef) -> str:
    sources = [
        facts.source(s)
        for s in facts.delivering(sku)
        if plan.servicePlanId not in {p.lower() for p in s.disabledPlans}
    ]
    return ", ".join(sources)


def _absent(facts: UserFacts, item: AbsentLicense) -> Failure | None:
    sku = item.sku
    if item.group is None:
        expected = f"doesn't hold {sku.skuPartNumber}"
        giving = facts.delivering(sku)
    else:
        expected = f"doesn't hold {sku.skuPartNumber} through {item.group.displayName}"
        giving = [
            s
            for s in facts.delivering(sku)
            if (s.assignedByGroup or "").lower() == item.group.id.lower()
        ]
    if not giving:
        return None
    reasons = [f"{sku.skuPartNumber} is held {', '.join(facts.source(s) for s in giving)}"]
    for state in giving:
        if state.assignedByGroup is not None:
            group = facts.memberships.group(state.assignedByGroup)
            name = group.displayName if group else state.assignedByGroup
            reasons.append(facts.why_group(state.assignedByGroup, name))
    return Failure(expected, tuple(reasons))


def _plan_sources(facts: UserFacts, plan: PlanRef) -> list[str]:
    """Where the plan is on for the user: `SPE_E5 through LIC-...`, one per assignment."""
    found = []
    for assigned in facts.user.assignedLicenses:
        sku = SkuRef(assigned.skuId, _part_number(facts, assigned.skuId))
        for state in facts.delivering(sku):
            if plan.servicePlanId in plans_on(facts.sku_plans, state.skuId, state.disabledPlans):
                found.append(f"in {sku.skuPartNumber} {facts.source(state)}")
    return found


def _part_number(facts: UserFacts, sku_id: str) -> str:
    return facts.names.part_number(sku_id) or sku_id


def _plan_on(facts: UserFacts, plan: PlanRef) -> Failure | None:
    if _plan_sources(facts, plan):
        return None
    expected = f"has {plan.servicePlanName} on"
    carrying = [
        _part_number(facts, a.skuId)
        for a in facts.user.assignedLicenses
        if plan.servicePlanId in facts.sku_plans.get(a.skuId.lower(), frozenset())
    ]
    if carrying:
        reason = f"{plan.servicePlanName} is off in {', '.join(carrying)}, which they hold"
    else:
        held = ", ".join(_part_number(facts, a.skuId) for a in facts.user.assignedLicenses)
        reason = f"no product they hold has {plan.servicePlanName} (they hold: {held or 'none'})"
    return Failure(expected, (reason,))


def _plan_off(facts: UserFacts, plan: PlanRef) -> Failure | None:
    sources = _plan_sources(facts, plan)
    if not sources:
        return None
    return Failure(f"has {plan.servicePlanName} off", (f"it is on {', '.join(sources)}",))


def _member(facts: UserFacts, group: GroupRef, wanted: bool) -> Failure | None:
    if facts.memberships.is_member(facts.user, group.id) == wanted:
        return None
    expected = f"{'is' if wanted else 'is not'} a member of {group.displayName}"
    return Failure(expected, (facts.why_group(group.id, group.displayName),))


def _usage_location(facts: UserFacts, wanted: str) -> Failure | None:
    user = facts.user
    found = effective_usage_location(user, facts.tenant.organization)
    if (found or "").upper() == wanted:
        return None
    if user.usageLocation:
        reason = f"usageLocation is {user.usageLocation}"
    elif found:
        reason = f"usageLocation is not set: group licensing uses the tenant's country, {found}"
    else:
        reason = "usageLocation is not set, and the tenant has no country"
    return Failure(f"is licensed in {wanted} (usageLocation)", (reason,))
