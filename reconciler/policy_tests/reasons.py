"""Why a user is, or isn't, a member of a group after the plan, in a line: for a dynamic group,
the rule's expressions that decided it, each with its value and the user's property, such as
`LIC-M365-E5-Sales: user.country -in ["United States", "France"] is false (country is "Canada")`.

The standing itself (direct or nested membership, the rule's decision) is explain's
(explain_groups.GroupStanding); this module words it for a failing test.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from reconciler.engine.membership import PROCESSING_ON
from reconciler.explain_groups import GroupStanding, RuleDecision
from reconciler.model import Group, Tenant, User
from reconciler.rules.ast import Comparison, DirectReports, PropertyRef
from reconciler.rules.compiler import attribute_getter, compile_node
from reconciler.rules.explain import Node
from reconciler.rules.properties import spec_of

_VALUE_LIMIT = 60  # characters of a property's value shown
AFTER = 1  # GroupStanding's side for the tenant after the plan


class Memberships:
    """The groups of one settled tenant, and why a user stands where they do in each."""

    def __init__(self, tenant: Tenant, now: datetime | None = None) -> None:
        self.tenant = tenant
        self.now = now
        self.groups = {group.id.lower(): group for group in tenant.groups}
        self.parents: dict[str, list[str]] = {}
        for group in tenant.groups:
            for member in group.members:
                self.parents.setdefault(member.lower(), []).append(group.id.lower())
        self._standing: dict[str, GroupStanding] = {}

    def group(self, group_id: str) -> Group | None:
        return self.groups.get(group_id.lower())

    def is_member(self, user: User, group_id: str) -> bool:
        """A direct member: the only members whose licenses a group gives."""
        return group_id.lower() in self.parents.get(user.id.lower(), ())

    def direct_groups(self, user: User) -> list[Group]:
        return [self.groups[key] for key in self.parents.get(user.id.lower(), ())]

    def standing(self, user: User) -> GroupStanding:
        """The user's standing in the groups of this tenant (both sides are this tenant)."""
        found = self._standing.get(user.id)
        if found is None:
            found = GroupStanding(self.tenant, self.tenant, user.id, self.now)
            self._standing[user.id] = found
        return found

    def why(self, user: User, group_id: str, name: str) -> str:
        """Why `user` is or isn't a direct member of the group, after its name."""
        group = self.group(group_id)
        if group is None:
            return f"{name}: the plan retires the group"
        member = self.is_member(user, group_id)
        standing = self.standing(user)
        if not group.is_dynamic or not group.membershipRule:
            if member:
                return f"{name}: among its members (an assigned group)"
            path = standing.paths[AFTER].get(group.id.lower())
            if path:
                through = standing.by_id[AFTER][path[0]].displayName
                return (
                    f"{name}: a member only through {through}; Entra licenses direct members only"
                )
            return f"{name}: not among its members (an assigned group)"
        state = group.membershipRuleProcessingState or PROCESSING_ON
        if state != PROCESSING_ON:
            kept = "keeps them" if member else "doesn't add them"
            return f"{name}: membership processing is {state}, so the group {kept}"
        decided = standing.rule_decision(AFTER, group)
        if decided is None:
            verdict = "selected by" if member else "not selected by"
            return f"{name}: {verdict} its rule"
        return f"{name}: {'; '.join(_expression(node, decided) for node in _nodes(decided))}"


def _nodes(decided: RuleDecision) -> tuple[Node, ...]:
    return decided.decision.decided_by


def _expression(node: Node, decided: RuleDecision) -> str:
    """One deciding expression: its text, whether it holds for the user, and what it read."""
    explainer, subject = decided.explainer, decided.subject
    text = " ".join(explainer.rule.text[node.span.start : node.span.end].split())
    holds = bool(compile_node(node, explainer.now)[1](subject))
    found = f"{text} is {str(holds).lower()}"
    if isinstance(node, Comparison) and isinstance(node.target, PropertyRef):
        value = attribute_getter(spec_of(node.target))(subject)
        found += f" ({node.target.name} {_value(value)})"
    elif isinstance(node, DirectReports):
        manager = subject.get("manager")
        found += f" (manager {_value(manager.get('id') if isinstance(manager, dict) else None)})"
    # a memberOf expression names its groups by id in the rule; the user's are in the plan
    return found


def _value(value: Any) -> str:
    """A property's value as `is "Canada"`, or `is not set`."""
    if value is None or value == "" or value == []:
        return "is not set"
    if isinstance(value, bool):
        return f"is {str(value).lower()}"
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > _VALUE_LIMIT:
        shown = shown[: _VALUE_LIMIT - 3] + "..."
    return f"is {shown}"
