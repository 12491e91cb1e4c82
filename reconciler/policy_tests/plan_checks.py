"""Plan-wide limits checked against the plan: what it takes away and gives (its impact, as the
plan lists it), the assignments it leaves in error and the seats it leaves free.

A loss comes through every group the removal guard says it does (plan/losses.py): a user who
leaves two groups giving a product loses it through both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from reconciler.engine.assigned_plans import enabled_plans, plans_by_sku, plans_on
from reconciler.lookup import Names
from reconciler.model import ACTIVE_WITH_ERROR, ERROR, LicenseAssignmentState, User
from reconciler.plan.build import Plan
from reconciler.plan.losses import Losses
from reconciler.policy_tests.results import Failure
from reconciler.policy_tests.spec import (
    LICENSE_ADDITIONS,
    LICENSE_REMOVALS,
    NEW_ASSIGNMENT_ERRORS,
    REMOVALS,
    SERVICE_PLAN_REMOVALS,
    Limit,
    SeatFloor,
)

LISTED = 10  # people named in a failure; the count says how many more
PLANS_LISTED = 5  # service plans named for one person

_WHAT = {
    LICENSE_REMOVALS: "people losing a license",
    SERVICE_PLAN_REMOVALS: "people losing a service plan",
    REMOVALS: "license removals (as the removal guard counts them)",
    LICENSE_ADDITIONS: "people gaining a license",
    NEW_ASSIGNMENT_ERRORS: "new assignment errors",
}


@dataclass(frozen=True, slots=True)
class Counted:
    """One thing a limit counts: whose, of which product, through which group, and the line
    that names it in a failure."""

    userId: str
    skuId: str
    groups: frozenset[str]  # lower-case ids of the groups it comes through
    text: str
    plans: frozenset[str] = frozenset()  # lower-case service plan ids lost, where it counts them
    error: str | None = None


def check_limits(plan: Plan, limits: Iterable[Limit], seats: Iterable[SeatFloor]) -> list[Failure]:
    """The limits and seat floors the plan breaks."""
    counter = _Counter(plan)
    failures = []
    for limit in limits:
        found = [item for item in counter.items(limit.kind) if _matches(item, limit)]
        people = {item.userId for item in found}
        # removals count what the guard counts; the others count people
        count = len(found) if limit.kind in (REMOVALS, NEW_ASSIGNMENT_ERRORS) else len(people)
        if count > limit.atMost:
            failures.append(_over(limit, count, found, counter.names))
    after = {sku.skuId.lower(): sku for sku in plan.after.subscribedSkus}
    for floor in seats:
        sku = after.get(floor.sku.skuId.lower())
        free = sku.prepaidUnits.enabled - sku.consumedUnits if sku else 0
        if free < floor.atLeast:
            expected = f"at least {floor.atLeast} {floor.sku.skuPartNumber} seats left free"
            taken = f"{sku.consumedUnits} of {sku.prepaidUnits.enabled}" if sku else "none"
            failures.append(Failure(expected, (f"{free} left after the plan ({taken} taken)",)))
    return failures


def description(limit: Limit) -> str:
    """What a limit allows, as a person reads it: "at most 0 people losing ... of SPE_E5"."""
    text = f"at most {limit.atMost} {_WHAT[limit.kind]}"
    if limit.servicePlan is not None:
        text = text.replace("a service plan", limit.servicePlan.servicePlanName)
    if limit.error is not None:
        text = text.replace("new assignment errors", f"new {limit.error} errors")
    if limit.sku is not None:
        text += f" of {limit.sku.skuPartNumber}"
    if limit.group is not None:
        text += f" through {limit.group.displayName}"
    return text


def _over(limit: Limit, count: int, found: list[Counted], names: Names) -> Failure:
    lines = [f"{count} found"]
    lines += [_text(item, limit, names) for item in found[:LISTED]]
    if len(found) > LISTED:
        lines.append(f"... and {len(found) - LISTED} more")
    return Failure(description(limit), tuple(lines))


def _text(item: Counted, limit: Limit, names: Names) -> str:
    """The line naming one thing counted; lost service plans named as the limit asks."""
    if "{plans}" not in item.text:
        return item.text
    if limit.servicePlan is not None:
        plans = limit.servicePlan.servicePlanName
    else:
        lost = list(names.plan_names(item.plans))
        more = f" and {len(lost) - PLANS_LISTED} more" if len(lost) > PLANS_LISTED else ""
        plans = ", ".join(lost[:PLANS_LISTED]) + more
    return item.text.format(plans=plans)


def _matches(item: Counted, limit: Limit) -> bool:
    if limit.sku is not None and item.skuId.lower() != limit.sku.skuId.lower():
        return False
    if limit.group is not None and limit.group.id.lower() not in item.groups:
        return False
    if limit.servicePlan is not None and limit.servicePlan.servicePlanId not in item.plans:
        return False
    return limit.error is None or item.error == limit.error


class _Counter:
    """What each kind of limit counts, from one plan, worked out when first asked for."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.sku_plans = plans_by_sku(plan.before)
        self.names = Names(plan.before, plan.after)
        self.losses = Losses(plan.before, plan.after)
        self._found: dict[str, list[Counted]] = {}

    def items(self, kind: str) -> list[Counted]:
        if kind not in self._found:
            self._found[kind] = list(getattr(self, "_" + kind)())
        return self._found[kind]

    def _licenseRemovals(self) -> Iterator[Counted]:
        for r in self.plan.impact.licenseRemovals:
            text = f"{r.userPrincipalName} loses {r.skuPartNumber}{_through(r.group)} ({r.reason})"
            yield Counted(r.userId, r.skuId, self.losses.through(r), text)

    def _removals(self) -> Iterator[Counted]:
        yield from self._licenseRemovals()
        for r in self.plan.impact.planRemovals:
            plans = ", ".join(r.servicePlans)
            text = f"{r.userPrincipalName} loses {plans} of {r.skuPartNumber}{_through(r.group)}"
            yield Counted(r.userId, r.skuId, self.losses.through(r), f"{text} ({r.reason})")

    def _licenseAdditions(self) -> Iterator[Counted]:
        for a in self.plan.impact.licenseAdditions:
            text = f"{a.userPrincipalName} gains {a.skuPartNumber}{_through(a.group)}"
            yield Counted(a.userId, a.skuId, self.losses.group_ids(a.group), text)

    def _servicePlanRemovals(self) -> Iterator[Counted]:
        """Plans (by id) of the product on for a person before and in no product after:
        losing a product whose plans another product also gives them loses nothing."""
        before = {user.id: user for user in self.plan.before.users}
        after = {user.id: user for user in self.plan.after.users}
        impact = self.plan.impact
        for removal in (*impact.licenseRemovals, *impact.planRemovals):
            later = after.get(removal.userId)
            still = enabled_plans(later.assignedLicenses, self.sku_plans) if later else frozenset()
            lost = self._on(before[removal.userId], removal.skuId) - still
            if not lost:
                continue
            text = (
                f"{removal.userPrincipalName} loses {{plans}} "
                f"(of {removal.skuPartNumber}{_through(removal.group)}: {removal.reason})"
            )
            groups = self.losses.through(removal)
            yield Counted(removal.userId, removal.skuId, groups, text, frozenset(lost))

    def _on(self, user: User, sku_id: str) -> frozenset[str]:
        for assigned in user.assignedLicenses:
            if assigned.skuId.lower() == sku_id.lower():
                return plans_on(self.sku_plans, assigned.skuId, assigned.disabledPlans)
        return frozenset()

    def _newAssignmentErrors(self) -> Iterator[Counted]:
        before = {user.id: user for user in self.plan.before.users}
        for user in self.plan.after.users:
            was = before.get(user.id)
            known = {_key(s) for s in was.licenseAssignmentStates} if was else set()
            for state in user.licenseAssignmentStates:
                if state.state not in (ERROR, ACTIVE_WITH_ERROR) or _key(state) in known:
                    continue
                group = state.assignedByGroup
                where = f" through {self.names.group(group)}" if group else " directly"
                sku = self.names.part_number(state.skuId) or state.skuId
                text = f"{user.userPrincipalName}: {sku}{where} fails with {state.error}"
                groups = frozenset({group.lower()} if group else ())
                yield Counted(user.id, state.skuId, groups, text, error=state.error)


def _key(state: LicenseAssignmentState) -> tuple[str | None, str, str, str]:
    return (state.assignedByGroup, state.skuId.lower(), state.state, state.error)


def _through(group: str | None) -> str:
    return f" through {group}" if group else " (direct)"
