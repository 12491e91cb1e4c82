"""Renders an explanation of one user's licenses for a terminal, in the style of `plan`, and as
the JSON document docs/explain.md describes. The text shows every name and value from the tenant
or the policy through `shown`, so none can draw a line of its own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.explain import (
    CHANGED,
    DIRECT,
    GAINED,
    KEPT,
    LOST,
    LOST_FOR_A_WHILE,
    NOT_HELD,
    Assignment,
    ExplainedLicense,
    ExplainedUser,
    Explanation,
    ServicePlanState,
    UserChange,
)
from reconciler.explain_groups import ExplainedGroup, Membership
from reconciler.model import ACTIVE, ACTIVE_WITH_ERROR, NO_ERROR
from reconciler.render.safe_text import shown

FORMAT_VERSION = 1

_AFTER = {
    KEPT: "kept",
    CHANGED: "kept, with other service plans",
    GAINED: "gained",
    LOST: "lost",
    LOST_FOR_A_WHILE: "kept, lost for a while",
    NOT_HELD: "not held",
}


def explain_text(explanation: Explanation) -> str:
    """The user, each product with its assignments and plans, their groups, the plan's changes."""
    lines = _user_lines(explanation.user)
    lines += ["Licenses:"]
    for license in explanation.licenses:
        lines += _license_lines(license)
    if not explanation.licenses:
        lines += ["  none, now or after the plan", ""]
    if explanation.groups:
        lines += ["Groups:"]
        for group in explanation.groups:
            lines += _group_lines(group)
    lines += _plan_lines(explanation.plan)
    return "\n".join(lines)


def _user_lines(user: ExplainedUser) -> list[str]:
    name = f" ({shown(user.displayName)})" if user.displayName else ""
    enabled = "unknown" if user.accountEnabled is None else str(user.accountEnabled).lower()
    if user.usageLocation:
        location = shown(user.usageLocation)
    elif user.effectiveUsageLocation:
        country = shown(user.effectiveUsageLocation)
        location = f"none: group licensing uses the tenant's country, {country}"
    else:
        location = "none, and the tenant has no country: licenses can't be assigned"
    return [
        f"{shown(user.userPrincipalName)}{name}",
        f"  id              {shown(user.id)}",
        f"  accountEnabled  {enabled}",
        f"  usageLocation   {location}",
        "",
    ]


def _license_lines(license: ExplainedLicense) -> list[str]:
    lines = [f"  {shown(license.skuPartNumber or license.skuId)}: {_AFTER[license.after]}"]
    if license.assignments:
        lines += _state_lines(license.assignments, license.servicePlans, "    ")
    else:
        lines.append("    not assigned now")
    if (license.assignments, license.servicePlans) != (
        license.assignmentsAfter,
        license.servicePlansAfter,
    ):
        lines.append("    after the plan:")
        if license.assignmentsAfter:
            lines += _state_lines(license.assignmentsAfter, license.servicePlansAfter, "      ")
        else:
            lines.append("      not assigned")
    return [*lines, ""]


def _state_lines(
    assignments: Sequence[Assignment], plans: Sequence[ServicePlanState], indent: str
) -> list[str]:
    lines = [indent + _assignment(a) for a in assignments]
    on = [p for p in plans if p.enabled]
    if not on and plans:
        return [*lines, f"{indent}service plans: none on"]
    if not plans:
        return lines
    giving = sum(1 for a in assignments if a.state in (ACTIVE, ACTIVE_WITH_ERROR))
    seat = f", one seat for {giving} assignments" if giving > 1 else ""
    lines.append(f"{indent}service plans: {len(on)} of {len(plans)} on{seat}")
    off = [shown(p.servicePlanName) for p in plans if not p.enabled]
    if off:
        lines.append(f"{indent}  off: {', '.join(off)}")
    # the union of several assignments: say which plans only some of them turn on
    everyone = {s for p in on for s in p.sources}
    partial: dict[tuple[str, ...], list[str]] = {}
    for plan in on:
        if len(plan.sources) < len(everyone):
            partial.setdefault(plan.sources, []).append(shown(plan.servicePlanName))
    for sources, names in partial.items():
        through = ", ".join(_through(s) for s in sources)
        lines.append(f"{indent}  on {through} only: {', '.join(names)}")
    return lines


def _assignment(assignment: Assignment) -> str:
    where = _through(assignment.group or DIRECT) if assignment.assignedByGroup else "directly"
    state = shown(assignment.state)
    if assignment.error != NO_ERROR:
        state += f" ({shown(assignment.error)})"
    disabled = ", ".join(map(shown, assignment.disabledPlans))
    return f"{where}: {state}" + (f", disabled {disabled}" if disabled else "")


def _through(source: str) -> str:
    return "directly" if source == DIRECT else f"through {shown(source)}"


def _group_lines(group: ExplainedGroup) -> list[str]:
    side = group.now or group.after
    assert side is not None
    kinds = dict.fromkeys(
        "dynamic" if p.dynamic else "assigned" for p in (group.now, group.after) if p
    )
    kind = "; ".join([*kinds][:1] + [f"{k} after the plan" for k in [*kinds][1:]])
    lines = [f"  {shown(group.displayName)} ({kind}): {_standing(group)}"]
    if group.now is not None and group.now.membershipRule:
        lines += _rule_lines(group.now, "    ", "")
    if group.after is not None and group.after.membershipRule:
        unchanged = group.now is not None and (
            group.now.membershipRule,
            group.now.matchesRule,
            group.now.decidedBy,
        ) == (group.after.membershipRule, group.after.matchesRule, group.after.decidedBy)
        if not unchanged:
            lines += _rule_lines(group.after, "    ", " after the plan")
    for part in (group.now, group.after):
        if part is not None and part.nestedThrough and part.licenses:
            lines.append(
                "    Entra licenses direct members only: nothing from this group reaches them"
            )
            break
    if side.licenses:
        lines.append(f"    assigns {', '.join(map(shown, side.licenses))}")
    if side.licenses and not side.securityEnabled:
        lines.append("    not security-enabled: Entra assigns none of its licenses")
    return [*lines, ""]


def _standing(group: ExplainedGroup) -> str:
    now, after = group.now, group.after
    if now is None:
        return f"new; {_member(after)} after the plan"
    if after is None:
        return f"{_member(now)}; the plan retires the group"
    if _member(now) == _member(after):
        return _member(now)
    return f"{_member(now)}; {_member(after)} after the plan"


def _member(part: Membership | None) -> str:
    if part is None or (not part.member and not part.nestedThrough):
        return "not a member"
    if part.member:
        return "member"
    return "member only through " + " in ".join(map(shown, part.nestedThrough))


def _rule_lines(part: Membership, indent: str, when: str) -> list[str]:
    lines = [f"{indent}rule{when}: {shown(' '.join((part.membershipRule or '').split()))}"]
    state = part.membershipRuleProcessingState
    if state and state != "On":
        lines.append(f"{indent}processing {shown(state)}: the group keeps the members it has")
    if part.matchesRule is not None:
        verdict = "selected by" if part.matchesRule else "not selected, because of"
        lines.append(f"{indent}{verdict}: {shown('; '.join(part.decidedBy))}")
    return lines


def _plan_lines(changes: Sequence[UserChange]) -> list[str]:
    if not changes:
        return ["No changes for them: the plan leaves their licenses as they are."]
    lines = ["What the plan changes for them:"]
    lines += [f"  {_change(change)}" for change in changes]
    return lines


def _change(c: UserChange) -> str:
    through = _through(c.group or DIRECT)
    for_a_while = " for a while" if c.temporary else ""
    group, sku, reason = shown(c.group), shown(c.skuPartNumber), shown(c.reason)
    plans = ", ".join(map(shown, c.servicePlans))
    if c.action == "joinGroup":
        return f"+ joins {group} ({reason})"
    if c.action == "leaveGroup":
        return f"- leaves {group}{for_a_while} ({reason})"
    if c.action == "loseLicense":
        return f"- loses {sku} {through}{for_a_while} ({reason})"
    if c.action == "loseServicePlans":
        kept = [_through(name) for name in c.keptBy if name != c.group]
        keeps = f"; keeps {sku} {', '.join(kept)}" if kept else ""
        return f"- loses {plans} of {sku} {through}{for_a_while} ({reason}{keeps})"
    if c.action == "keepLicense":
        kept = ", ".join(_through(name) for name in c.keptBy)
        return f"~ keeps {sku} {kept} after leaving {group}"
    if c.action == "gainLicense":
        return f"+ gains {sku} {through} ({reason})"
    if c.action == "gainServicePlans":
        return f"+ gains {plans} of {sku} {through} ({reason})"
    return f"! {sku} {through} ends in {shown(c.state)} ({shown(c.error)})"


def explain_json(explanation: Explanation) -> str:
    """The explanation as docs/explain.md describes it, 2-space indented, ASCII only."""
    return json.dumps(explain_document(explanation), indent=2, ensure_ascii=True)


def explain_document(explanation: Explanation) -> dict[str, Any]:
    user = explanation.user
    return {
        "formatVersion": FORMAT_VERSION,
        "user": {
            "id": user.id,
            "userPrincipalName": user.userPrincipalName,
            "displayName": user.displayName,
            "usageLocation": user.usageLocation,
            "accountEnabled": user.accountEnabled,
            "effectiveUsageLocation": user.effectiveUsageLocation,
        },
        "licenses": [_license_document(license) for license in explanation.licenses],
        "groups": [_group_document(group) for group in explanation.groups],
        "plan": [_change_document(change) for change in explanation.plan],
    }


def _license_document(license: ExplainedLicense) -> dict[str, Any]:
    return {
        "skuId": license.skuId,
        "skuPartNumber": license.skuPartNumber,
        "assignments": [_assignment_document(a) for a in license.assignments],
        "servicePlans": [_plan_document(p) for p in license.servicePlans],
        "after": license.after,
        "assignmentsAfter": [_assignment_document(a) for a in license.assignmentsAfter],
        "servicePlansAfter": [_plan_document(p) for p in license.servicePlansAfter],
    }


def _assignment_document(assignment: Assignment) -> dict[str, Any]:
    return {
        "assignedByGroup": assignment.assignedByGroup,
        "group": assignment.group,
        "state": assignment.state,
        "error": assignment.error,
        "disabledPlans": list(assignment.disabledPlans),
    }


def _plan_document(plan: ServicePlanState) -> dict[str, Any]:
    return {
        "servicePlanId": plan.servicePlanId,
        "servicePlanName": plan.servicePlanName,
        "enabled": plan.enabled,
        "from": list(plan.sources),
    }


def _group_document(group: ExplainedGroup) -> dict[str, Any]:
    return {
        "id": group.id,
        "displayName": group.displayName,
        "now": _membership_document(group.now),
        "after": _membership_document(group.after),
    }


def _membership_document(part: Membership | None) -> dict[str, Any] | None:
    if part is None:
        return None
    return {
        "member": part.member,
        "nestedThrough": list(part.nestedThrough),
        "dynamic": part.dynamic,
        "membershipRule": part.membershipRule,
        "membershipRuleProcessingState": part.membershipRuleProcessingState,
        "securityEnabled": part.securityEnabled,
        "licenses": list(part.licenses),
        "matchesRule": part.matchesRule,
        "decidedBy": list(part.decidedBy),
    }


# the keys each action carries, beside action and group
_CHANGE_KEYS = {
    "joinGroup": ("groupId", "reason"),
    "leaveGroup": ("groupId", "reason", "temporary"),
    "loseLicense": ("skuId", "skuPartNumber", "reason", "temporary"),
    "loseServicePlans": (
        "skuId",
        "skuPartNumber",
        "servicePlans",
        "reason",
        "temporary",
        "keptBy",
    ),
    "keepLicense": ("skuId", "skuPartNumber", "keptBy"),
    "gainLicense": ("skuId", "skuPartNumber", "reason"),
    "gainServicePlans": ("skuId", "skuPartNumber", "servicePlans", "reason"),
    "assignmentError": ("groupId", "skuId", "skuPartNumber", "state", "error"),
}


def _change_document(change: UserChange) -> dict[str, Any]:
    document: dict[str, Any] = {"action": change.action, "group": change.group}
    for key in _CHANGE_KEYS[change.action]:
        value = getattr(change, key)
        document[key] = list(value) if isinstance(value, tuple) else value
    return document
