"""A plan: the ordered changes from the tenant to the policy, and what they do to people."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime

from reconciler.engine import recompute, simulate
from reconciler.engine.catalog import DEFAULT_RULES, PlanDependency, ServicePlanRules
from reconciler.engine.licensing import memberships, settle_changes
from reconciler.engine.membership import evaluated_rules, reads_assigned_plans
from reconciler.model import DYNAMIC_MEMBERSHIP, Group, Tenant
from reconciler.plan.changes import Change, CreateGroup, DeleteGroup, apply_to_groups
from reconciler.plan.checks import Facts, plan_warnings
from reconciler.plan.checks import group_lock as group_lock_checks
from reconciler.plan.checks import licensing as licensing_checks
from reconciler.plan.checks import membership as membership_checks
from reconciler.plan.checks import service_plans as service_plan_checks
from reconciler.plan.cost import Cost, plan_cost
from reconciler.plan.diff import diff
from reconciler.plan.guards import Guards, guards
from reconciler.plan.impact import Impact, impact
from reconciler.plan.managed import Released, released, unmanaged_sharing, with_memory
from reconciler.plan.order import phases
from reconciler.plan.seats import SeatForecast, seat_forecast
from reconciler.plan.warnings import PlanWarning
from reconciler.policy.desired import PAUSED, DesiredState
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.rules.ast import MemberOf

CHECKS = (
    *licensing_checks.CHECKS,
    *membership_checks.CHECKS,
    service_plan_checks.new_service_plans,
    service_plan_checks.pending_provisioning,
    group_lock_checks.retired_not_locked,
    group_lock_checks.renamed_without_id,
)


@dataclass(frozen=True, slots=True)
class Plan:
    """Data only: renderers show it, apply runs its changes; `before`/`after` give names."""

    changes: tuple[Change, ...]
    impact: Impact
    before: Tenant
    after: Tenant
    seats: tuple[SeatForecast, ...]
    warnings: tuple[PlanWarning, ...]
    guards: Guards
    # groups groups.lock.yaml remembers that the policy no longer declares: left as they are
    released: tuple[Released, ...] = ()
    # groups outside the policy that assign products the policy assigns too
    unmanaged: tuple[Group, ...] = ()
    # the seat forecast at the policy's prices; None without settings.prices
    cost: Cost | None = None

    @property
    def changes_present(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        """Groups to add, change and remove, as Terraform counts resources."""
        created = {c.groupId for c in self.changes if isinstance(c, CreateGroup)}
        removed = {c.groupId for c in self.changes if isinstance(c, DeleteGroup)}
        changed = {c.groupId for c in self.changes} - removed - created
        return {"add": len(created), "change": len(changed), "remove": len(removed)}


def service_plan_rules(desired: DesiredState) -> ServicePlanRules:
    """The engine's catalog of conflicting and dependent plans, with the policy's own."""
    settings = desired.settings
    return DEFAULT_RULES.extended(
        ServicePlanRules(
            settings.mutuallyExclusivePlans,
            tuple(PlanDependency(plan, requires) for plan, requires in settings.dependentPlans),
        )
    )


def _while_turning_dynamic(
    tenant: Tenant,
    groups: Mapping[str, Group | None],
    now: datetime | None,
    rules: ServicePlanRules,
) -> Tenant | None:
    """The tenant while groups turned dynamic are empty, if other rules read what they give.

    Entra removes every member of a group turned dynamic before it evaluates the rule; rules on
    assignedPlans (and memberOf) see them go, so their groups' licenses go for a while too
    (Microsoft: "License removal of dynamic membership groups with rules based on licenses
    with an initial static group").
    """
    before = {group.id: group for group in tenant.groups}
    turning = {
        group_id: group
        for group_id, group in groups.items()
        if group is not None
        and group.is_dynamic
        and group.membershipRuleProcessingState != PAUSED
        and group_id in before
        and not before[group_id].is_dynamic
    }
    if not turning:
        return None
    every = {**before, **groups}
    rules_read = evaluated_rules(replace(tenant, groups=tuple(g for g in every.values() if g)))
    if not any(
        reads_assigned_plans(rule) or isinstance(rule.body, MemberOf)
        for group_id, rule in rules_read.items()
        if group_id not in turning
    ):
        return None
    emptied = {
        group_id: replace(
            group,
            groupTypes=tuple(t for t in group.groupTypes if t != DYNAMIC_MEMBERSHIP),
            membershipRule=None,
            membershipRuleProcessingState=None,
            members=(),
        )
        for group_id, group in turning.items()
    }
    return simulate(tenant, {**groups, **emptied}, now, rules)


def build_plan(
    desired: DesiredState,
    tenant: Tenant,
    now: datetime | None = None,
    progress: Progress = NO_PROGRESS,
) -> Plan:
    """Diff `desired` against `tenant`, foresee the tenant after the changes, and check both;
    each step is reported to `progress`."""
    desired = with_memory(desired, desired.groupLock, tenant)
    rules = service_plan_rules(desired)
    progress.stage("comparing the policy with the tenant")
    changes = diff(desired, tenant)
    groups = apply_to_groups({g.id: g for g in tenant.groups}, changes)
    # impact compares two settled states, so only the plan's changes make a difference
    progress.stage(f"evaluating rules and licenses of {len(tenant.users):,} users")
    before = recompute(tenant, now, rules)
    progress.stage(f"settling {len(changes):,} changes")
    # which changes give and which take is a question of memberships only
    giving, taking = phases(changes, before, memberships(before, groups, now))
    changes = giving + taking
    if giving and taking:
        # apply gives before it takes: a seat or a conflict the takings free comes too late for
        # the givings, whose errors stay until reprocessed, as Entra settles them in turn
        middle = settle_changes(
            before, apply_to_groups({g.id: g for g in before.groups}, giving), now, rules
        )
        after = settle_changes(
            middle, apply_to_groups({g.id: g for g in middle.groups}, taking), now, rules
        )
    else:
        after = settle_changes(before, groups, now, rules)
    progress.stage("working out who gains and loses what")
    found = impact(before, after, changes, _while_turning_dynamic(tenant, groups, now, rules))
    seats = seat_forecast(before, after)
    progress.stage("checking the plan")
    warnings = plan_warnings(Facts(desired, before, after, changes, seats), CHECKS)
    progress.done()
    return Plan(
        changes,
        found,
        tenant,
        after,
        seats,
        warnings,
        guards(desired, found, before),
        released(desired, desired.groupLock, tenant),
        unmanaged_sharing(desired, tenant),
        plan_cost(seats, desired.settings.prices),
    )
