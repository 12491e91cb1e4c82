"""A plan: the ordered changes from the tenant to the policy, and what they do to people."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.engine import recompute, simulate
from reconciler.engine.catalog import DEFAULT_RULES, PlanDependency, ServicePlanRules
from reconciler.model import Tenant
from reconciler.plan.changes import Change, CreateGroup, DeleteGroup, apply_to_groups
from reconciler.plan.diff import diff
from reconciler.plan.impact import Impact, impact
from reconciler.policy.desired import DesiredState


@dataclass(frozen=True, slots=True)
class Plan:
    """Data only: renderers show it, apply runs its changes; `before`/`after` give names."""

    changes: tuple[Change, ...]
    impact: Impact
    before: Tenant
    after: Tenant

    @property
    def changes_present(self) -> bool:
        return bool(self.changes)

    def summary(self) -> dict[str, int]:
        """Groups to add, change and remove, as Terraform counts resources."""
        created = {c.groupId for c in self.changes if isinstance(c, CreateGroup)}
        removed = {c.groupId for c in self.changes if isinstance(c, DeleteGroup)}
        changed = {c.groupId for c in self.changes} - removed - created
        return {"add": len(created), "change": len(changed), "remove": len(removed)}


def build_plan(desired: DesiredState, tenant: Tenant, now: datetime | None = None) -> Plan:
    """Diff `desired` against `tenant`, and foresee the tenant after the changes."""
    changes = diff(desired, tenant)
    settings = desired.settings
    rules = DEFAULT_RULES.extended(
        ServicePlanRules(
            settings.mutuallyExclusivePlans,
            tuple(PlanDependency(plan, requires) for plan, requires in settings.dependentPlans),
        )
    )
    groups = apply_to_groups({g.id: g for g in tenant.groups}, changes)
    after = simulate(tenant, groups, now, rules)
    # impact compares two settled states, so only the plan's changes make a difference
    return Plan(changes, impact(recompute(tenant, now, rules), after), tenant, after)
