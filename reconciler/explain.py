"""Why a user has the licenses they have, and what the current plan would change for them.

"Now" is the tenant as read, with Graph's licenseAssignmentStates; "after" is the plan's
after-state, and the changes are the plan's impact for this user. Data only: rendering is in
render/explain_text.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from reconciler.engine.dependencies import delivered
from reconciler.engine.licensing import effective_usage_location
from reconciler.errors import Location, ReconcilerError
from reconciler.explain_groups import ExplainedGroup, GroupStanding
from reconciler.lookup import DIRECT, Directory, Names
from reconciler.model import ACTIVE_WITH_ERROR, ERROR, LicenseAssignmentState, Tenant, User
from reconciler.plan.build import Plan
from reconciler.plan.changes import UpdateGroup
from reconciler.plan.impact import PlanAddition, PlanRemoval
from reconciler.plan.planning import plan_now
from reconciler.policy import LoadedPolicy
from reconciler.policy.desired import PAUSED

KEPT, CHANGED, GAINED, LOST = "kept", "changed", "gained", "lost"
LOST_FOR_A_WHILE, NOT_HELD = "lostForAWhile", "notHeld"


class UserNotFoundError(ReconcilerError):
    """The tenant has no user with the userPrincipalName or object id given."""


@dataclass(frozen=True, slots=True)
class ExplainedUser:
    id: str
    userPrincipalName: str
    displayName: str | None
    usageLocation: str | None
    accountEnabled: bool | None
    # what group licensing uses: the user's usageLocation, else the tenant's country
    effectiveUsageLocation: str | None


@dataclass(frozen=True, slots=True)
class Assignment:
    """One licenseAssignmentState: direct (assignedByGroup None) or through a group."""

    assignedByGroup: str | None
    group: str | None  # the group's displayName
    state: str
    error: str
    disabledPlans: tuple[str, ...]  # servicePlanName


@dataclass(frozen=True, slots=True)
class ServicePlanState:
    servicePlanId: str
    servicePlanName: str
    enabled: bool
    sources: tuple[str, ...]  # the groups (displayName) or DIRECT whose assignment enables it


@dataclass(frozen=True, slots=True)
class ExplainedLicense:
    """One product: its assignments and service plans now and after the plan."""

    skuId: str
    skuPartNumber: str | None
    assignments: tuple[Assignment, ...]
    servicePlans: tuple[ServicePlanState, ...]
    after: str  # KEPT, CHANGED, GAINED, LOST, LOST_FOR_A_WHILE or NOT_HELD
    assignmentsAfter: tuple[Assignment, ...]
    servicePlansAfter: tuple[ServicePlanState, ...]


@dataclass(frozen=True, slots=True)
class UserChange:
    """One thing the plan does to this user; fields an action has no use for stay empty."""

    action: str
    group: str | None  # displayName; None for a direct assignment
    groupId: str | None = None
    skuId: str | None = None
    skuPartNumber: str | None = None
    servicePlans: tuple[str, ...] = ()
    reason: str | None = None
    temporary: bool = False
    keptBy: tuple[str, ...] = ()  # groups (displayName) or DIRECT
    state: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Explanation:
    user: ExplainedUser
    licenses: tuple[ExplainedLicense, ...]
    groups: tuple[ExplainedGroup, ...]
    plan: tuple[UserChange, ...]


def explain(loaded: LoadedPolicy, tenant: Tenant, name: str) -> Explanation:
    """The explanation for the user `name` (userPrincipalName or id) under the policy."""
    user = find_user(tenant, name)
    return explain_plan(plan_now(loaded, tenant), user.id)


def find_user(tenant: Tenant, name: str) -> User:
    """The user with this userPrincipalName or object id, ignoring case."""
    users = Directory(tenant.users, suggest_among=None)  # one name asked for: worth the time
    found = users.user(name)
    if found is None:
        raise UserNotFoundError(users.unknown_user(name), Location("USER"))
    return found


def explain_plan(plan: Plan, user_id: str, now: datetime | None = None) -> Explanation:
    """The explanation for one user of the tenant the plan was made from."""
    before, after = plan.before, plan.after
    user = next(u for u in before.users if u.id == user_id)
    later = next((u for u in after.users if u.id == user_id), user)
    names = Names(before, after)
    temporary = {
        r.skuId.lower() for r in plan.impact.licenseRemovals if r.userId == user_id and r.temporary
    }
    skus = _sku_order(user, later, names)
    licenses = tuple(_license(sku, user, later, names, temporary) for sku in skus)
    groups = GroupStanding(before, after, user_id, now)
    moves = (
        UserChange(
            "joinGroup" if move.joins else "leaveGroup",
            move.group.displayName,
            move.group.id,
            reason=move.reason,
            temporary=move.temporary,
        )
        for move in groups.moves(_turned_dynamic(plan))
    )
    return Explanation(
        ExplainedUser(
            user.id,
            user.userPrincipalName,
            user.displayName,
            user.usageLocation,
            user.accountEnabled,
            effective_usage_location(user, before.organization),
        ),
        licenses,
        groups.explained(names.part_number),
        (*moves, *_impact_changes(plan, user_id), *_errors(user, later, names)),
    )


def _sku_order(user: User, later: User, names: Names) -> list[str]:
    """Every product the user has an assignment of, now or after, by skuPartNumber."""
    found: dict[str, str] = {}
    for person in (user, later):
        for item in (*person.licenseAssignmentStates, *person.assignedLicenses):
            found.setdefault(item.skuId.lower(), item.skuId)
    return sorted(found.values(), key=lambda s: ((names.part_number(s) or s).lower(), s))


def _license(
    sku_id: str, user: User, later: User, names: Names, temporary: set[str]
) -> ExplainedLicense:
    key = sku_id.lower()
    now_states = [s for s in user.licenseAssignmentStates if s.skuId.lower() == key]
    after_states = [s for s in later.licenseAssignmentStates if s.skuId.lower() == key]
    plans_now = _service_plans(key, now_states, names)
    plans_after = _service_plans(key, after_states, names)
    held = any(delivered(s) for s in now_states) or _holds(user, key)
    held_after = any(delivered(s) for s in after_states) or _holds(later, key)
    if held and held_after:
        if key in temporary:
            status = LOST_FOR_A_WHILE
        else:
            on = [[p.enabled for p in plans] for plans in (plans_now, plans_after)]
            status = KEPT if on[0] == on[1] else CHANGED
    elif held:
        status = LOST
    else:
        status = GAINED if held_after else NOT_HELD
    return ExplainedLicense(
        sku_id,
        names.part_number(sku_id),
        tuple(_assignment(s, names) for s in now_states),
        plans_now,
        status,
        tuple(_assignment(s, names) for s in after_states),
        plans_after,
    )


def _holds(user: User, sku_key: str) -> bool:
    return any(a.skuId.lower() == sku_key for a in user.assignedLicenses)


def _assignment(state: LicenseAssignmentState, names: Names) -> Assignment:
    return Assignment(
        state.assignedByGroup,
        names.group(state.assignedByGroup),
        state.state,
        state.error,
        names.plan_names(state.disabledPlans),
    )


def _service_plans(
    sku_key: str, states: Iterable[LicenseAssignmentState], names: Names
) -> tuple[ServicePlanState, ...]:
    """Each of the product's plans, on if any assignment giving the product enables it: the
    plans of one product from several assignments are their union, on one seat."""
    giving = [s for s in states if delivered(s)]
    _, plans = names.skus.get(sku_key, (None, ()))
    result = []
    for plan_id, plan_name in plans:
        sources = tuple(
            names.source(s.assignedByGroup)
            for s in giving
            if plan_id.lower() not in {p.lower() for p in s.disabledPlans}
        )
        result.append(ServicePlanState(plan_id, plan_name, bool(sources), sources))
    return tuple(sorted(result, key=lambda p: (p.servicePlanName.lower(), p.servicePlanId)))


def _turned_dynamic(plan: Plan) -> set[str]:
    """Groups the plan turns dynamic, which Entra empties before evaluating their rule."""
    after = {group.id: group for group in plan.after.groups}
    return {
        change.groupId
        for change in plan.changes
        if isinstance(change, UpdateGroup)
        and change.turns_dynamic
        and change.groupId in after
        and after[change.groupId].membershipRuleProcessingState != PAUSED
    }


def _impact_changes(plan: Plan, user_id: str) -> Iterator[UserChange]:
    """The plan's impact on this user: lasting losses, temporary ones, products kept through
    another assignment, then gains."""
    impact = plan.impact
    losses = [r for r in (*impact.licenseRemovals, *impact.planRemovals) if r.userId == user_id]
    for loss in sorted(losses, key=lambda loss: loss.temporary):
        is_plan = isinstance(loss, PlanRemoval)
        yield UserChange(
            "loseServicePlans" if is_plan else "loseLicense",
            loss.group,
            skuId=loss.skuId,
            skuPartNumber=loss.skuPartNumber,
            servicePlans=loss.servicePlans if isinstance(loss, PlanRemoval) else (),
            reason=loss.reason,
            temporary=loss.temporary,
            keptBy=_named(loss.keptBy) if isinstance(loss, PlanRemoval) else (),
        )
    for kept in (k for k in impact.kept if k.userId == user_id):
        yield UserChange(
            "keepLicense",
            kept.group,
            skuId=kept.skuId,
            skuPartNumber=kept.skuPartNumber,
            keptBy=_named(kept.keptBy),
        )
    for gain in (*impact.licenseAdditions, *impact.planAdditions):
        if gain.userId != user_id:
            continue
        yield UserChange(
            "gainServicePlans" if isinstance(gain, PlanAddition) else "gainLicense",
            gain.group,
            skuId=gain.skuId,
            skuPartNumber=gain.skuPartNumber,
            servicePlans=gain.servicePlans if isinstance(gain, PlanAddition) else (),
            reason=gain.reason,
        )


def _named(kept_by: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(name or DIRECT for name in kept_by)


def _errors(user: User, later: User, names: Names) -> Iterator[UserChange]:
    """Assignments that end in an error state they aren't in now: the seats ran out, a plan
    conflicts or a prerequisite is missing (ActiveWithError keeps the license)."""
    failing = {
        (s.assignedByGroup, s.skuId.lower(), s.state, s.error) for s in user.licenseAssignmentStates
    }
    for state in later.licenseAssignmentStates:
        if state.state not in (ERROR, ACTIVE_WITH_ERROR):
            continue
        if (state.assignedByGroup, state.skuId.lower(), state.state, state.error) in failing:
            continue
        yield UserChange(
            "assignmentError",
            names.group(state.assignedByGroup),
            groupId=state.assignedByGroup,
            skuId=state.skuId,
            skuPartNumber=names.part_number(state.skuId),
            state=state.state,
            error=state.error,
        )
