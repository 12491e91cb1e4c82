"""Renders a plan for a terminal, in Terraform's style: what changes, then who loses what."""

from __future__ import annotations

from collections.abc import Iterable

from reconciler.model import AssignedLicense, Tenant
from reconciler.plan.build import Plan
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
)

_SYMBOLS = {"create": "+", "update": "~", "destroy": "-"}
_LEGEND = {"create": "create", "update": "update in place", "destroy": "destroy"}
_VERBS = {"create": "created", "update": "updated in place", "destroy": "retired"}
REMOVALS_SHOWN = 50


class _Names:
    """GUIDs shown with their names: products, plans, users and groups of the tenant."""

    def __init__(self, tenant: Tenant) -> None:
        self.skus = {sku.skuId.lower(): sku.skuPartNumber for sku in tenant.subscribedSkus}
        self.plans = {
            plan.servicePlanId.lower(): plan.servicePlanName
            for sku in tenant.subscribedSkus
            for plan in sku.servicePlans
        }
        self.objects = {user.id.lower(): user.userPrincipalName for user in tenant.users}
        self.objects.update({group.id.lower(): group.displayName for group in tenant.groups})

    def sku(self, sku_id: str) -> str:
        return self.skus.get(sku_id.lower(), sku_id)

    def plans_of(self, plan_ids: Iterable[str]) -> str:
        names = sorted(self.plans.get(plan_id.lower(), plan_id) for plan_id in plan_ids)
        return ", ".join(names) if names else "none"

    def member(self, object_id: str) -> str:
        return self.objects.get(object_id.lower(), object_id)

    def license(self, assigned: AssignedLicense) -> str:
        disabled = (
            f" (disabled: {self.plans_of(assigned.disabledPlans)})"
            if assigned.disabledPlans
            else ""
        )
        return f"{self.sku(assigned.skuId)}{disabled}"


def plan_text(plan: Plan, show_all: bool = False) -> str:
    """The whole plan as text, ending with the summary line."""
    if not plan.changes_present:
        return "No changes. Licensing matches the policy."
    names = _Names(plan.before)
    blocks: dict[str, list[Change]] = {}
    for change in plan.changes:
        blocks.setdefault(_group_name(change), []).append(change)
    actions = {name: _action(changes) for name, changes in blocks.items()}
    used = [kind for kind in _SYMBOLS if kind in actions.values()]
    lines = ["reconciler will perform these actions on managed groups:", ""]
    lines += [f"  {_SYMBOLS[kind]} {_LEGEND[kind]}" for kind in used] + [""]
    for name, changes in blocks.items():
        kind = actions[name]
        lines.append(f"  # {name} will be {_VERBS[kind]}")
        lines.append(f'  {_SYMBOLS[kind]} group "{name}" {{')
        lines += [f"      {line}" for change in changes for line in _change_lines(change, names)]
        lines += ["    }", ""]
    lines += _removal_lines(plan, show_all)
    summary = plan.summary()
    lines.append(
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['remove']} to remove."
    )
    return "\n".join(lines)


def names_of(tenant: Tenant) -> _Names:
    """The name lookups for a tenant, built once for many changes."""
    return _Names(tenant)


def change_line(change: Change, names: _Names) -> str:
    """One line saying a change is done, as apply prints it."""
    return f"{_group_name(change)}: " + "; ".join(_change_lines(change, names)) + ": done"


def _group_name(change: Change) -> str:
    return change.group.displayName if isinstance(change, CreateGroup) else change.displayName


def _action(changes: list[Change]) -> str:
    if any(isinstance(change, CreateGroup) for change in changes):
        return "create"
    if any(isinstance(change, DeleteGroup) for change in changes):
        return "destroy"
    return "update"


def _change_lines(change: Change, names: _Names) -> list[str]:
    if isinstance(change, CreateGroup):
        group = change.group
        lines = [
            f"+ {field} = {value!r}"
            for field, value in (
                ("description", group.description),
                ("membershipRule", group.membershipRule),
                ("membershipRuleProcessingState", group.membershipRuleProcessingState),
            )
            if value
        ]
        kind = "Microsoft 365" if "Unified" in group.groupTypes else "security"
        return [f"+ type = {kind}, {'dynamic' if group.is_dynamic else 'assigned'}", *lines]
    if isinstance(change, UpdateGroup):
        return [f"~ {change.property} = {change.before!r} -> {change.after!r}"]
    if isinstance(change, AddMembers):
        return [f"+ member {names.member(member)}" for member in change.memberIds]
    if isinstance(change, RemoveMembers):
        return [f"- member {names.member(member)}" for member in change.memberIds]
    if isinstance(change, AddLicense):
        return [f"+ license {names.license(change.license)}"]
    if isinstance(change, ChangeDisabledPlans):
        return [
            f"~ license {names.sku(change.skuId)} disabledPlans = "
            f"{names.plans_of(change.before)} -> {names.plans_of(change.after)}"
        ]
    if isinstance(change, RemoveLicense):
        return [f"- license {names.sku(change.skuId)}"]
    return ["- delete the group"]


def _removal_lines(plan: Plan, show_all: bool) -> list[str]:
    removals = [
        f"  {r.userPrincipalName} loses {r.skuPartNumber} (through {r.group}: {r.reason})"
        for r in plan.impact.licenseRemovals
    ]
    removals += [
        f"  {r.userPrincipalName} loses {', '.join(r.servicePlans)} of {r.skuPartNumber} "
        f"(through {r.group}: {r.reason})"
        for r in plan.impact.planRemovals
    ]
    if not removals:
        return []
    shown = removals if show_all else removals[:REMOVALS_SHOWN]
    lines = ["Licenses removed:", *shown]
    if len(shown) < len(removals):
        lines.append(f"  ... and {len(removals) - len(shown)} more (--show-all lists them)")
    return [*lines, ""]
