"""How a user stands in the groups that concern them, now and after a plan: member directly or
only through nested groups, and for a dynamic group, the rule expressions that decide it.

Part of `explain` (reconciler/explain.py), apart so each module does one thing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.engine.membership import parsed_rule, reads_assigned_plans
from reconciler.model import Group, Tenant, User
from reconciler.rules import RuleError
from reconciler.rules.explain import Decision, Explainer

LEAVES_FOR_A_WHILE = (
    "static group turned dynamic: Entra removes every member before evaluating the rule, "
    "and adds back those it selects once processing completes"
)


@dataclass(frozen=True, slots=True)
class Membership:
    """How the user stands in a group, now or after the plan."""

    member: bool  # a direct member: the only members Entra licenses
    nestedThrough: tuple[str, ...]  # groups (displayName) leading to it, if not a direct member
    dynamic: bool
    membershipRule: str | None
    membershipRuleProcessingState: str | None
    securityEnabled: bool
    licenses: tuple[str, ...]  # skuPartNumber of the products the group assigns
    matchesRule: bool | None  # None where no user rule is evaluated
    decidedBy: tuple[str, ...]  # the rule's expressions that decided matchesRule


@dataclass(frozen=True, slots=True)
class ExplainedGroup:
    id: str
    displayName: str
    now: Membership | None  # None: the group doesn't exist yet
    after: Membership | None  # None: the plan retires it (or it was deleted before)


@dataclass(frozen=True, slots=True)
class Move:
    """The user joins or leaves a group (for a while, when it is turned dynamic)."""

    joins: bool
    group: Group
    reason: str
    temporary: bool = False


@dataclass(frozen=True, slots=True)
class RuleDecision:
    """A user rule's verdict on the user, with what it read: the user as the rule sees them."""

    explainer: Explainer
    subject: Mapping[str, Any]
    decision: Decision


class GroupStanding:
    """The groups that concern the user: those they are in, directly or through nesting (those
    only where they assign licenses), and those their assignments come from."""

    def __init__(
        self, before: Tenant, after: Tenant, user_id: str, now: datetime | None = None
    ) -> None:
        self.users = tuple(next(u for u in t.users if u.id == user_id) for t in (before, after))
        self.now = now
        self.by_id = tuple({g.id.lower(): g for g in t.groups} for t in (before, after))
        self.paths = tuple(_paths_up(t, user_id) for t in (before, after))

    def ids(self) -> dict[str, str]:
        """Every group that concerns the user, lower-case id to id."""
        found: dict[str, str] = {}
        for side in (0, 1):
            for key, path in self.paths[side].items():
                group = self.by_id[side][key]
                if not path or group.assignedLicenses:
                    found.setdefault(key, group.id)
            for state in self.users[side].licenseAssignmentStates:
                if state.assignedByGroup is not None:
                    found.setdefault(state.assignedByGroup.lower(), state.assignedByGroup)
        return found

    def explained(self, part_number: Callable[[str], str | None]) -> tuple[ExplainedGroup, ...]:
        groups = []
        for key, group_id in self.ids().items():
            group = self.by_id[0].get(key) or self.by_id[1].get(key)
            # a deleted group's assignments can outlive it (DependencyViolation): its id names it
            name = group.displayName if group else group_id
            sides = (self._side(side, key, part_number) for side in (0, 1))
            groups.append(ExplainedGroup(group_id, name, *sides))
        return tuple(sorted(groups, key=lambda g: (g.displayName.lower(), g.id)))

    def _side(
        self, side: int, key: str, part_number: Callable[[str], str | None]
    ) -> Membership | None:
        group = self.by_id[side].get(key)
        if group is None:
            return None
        path = self.paths[side].get(key)
        matches, decided = self._decide(side, group)
        return Membership(
            member=path == (),
            nestedThrough=tuple(self.by_id[side][g].displayName for g in path or ()),
            dynamic=group.is_dynamic,
            membershipRule=group.membershipRule,
            membershipRuleProcessingState=group.membershipRuleProcessingState,
            securityEnabled=group.securityEnabled,
            licenses=tuple(part_number(a.skuId) or a.skuId for a in group.assignedLicenses),
            matchesRule=matches,
            decidedBy=decided,
        )

    def _decide(self, side: int, group: Group) -> tuple[bool | None, tuple[str, ...]]:
        """Whether the group's rule selects the user, and the expressions that decided it."""
        found = self.rule_decision(side, group)
        if found is None:
            return None, ()
        rule, decision = found.explainer.rule, found.decision
        spans = (node.span for node in decision.decided_by)
        return decision.member, tuple(" ".join(rule.text[s.start : s.end].split()) for s in spans)

    def rule_decision(self, side: int, group: Group) -> RuleDecision | None:
        """How the group's user rule decides for the user (0: before the plan, 1: after); None
        for a group without one, or whose rule doesn't parse."""
        if not group.is_dynamic or not group.membershipRule:
            return None
        try:
            rule = parsed_rule(group.membershipRule)
        except RuleError:
            return None
        if rule.object_type != "user":
            return None
        # memberOf rules read the user's direct groups, which Graph doesn't list on the user
        direct = [
            {"id": self.by_id[side][g].id} for g, path in self.paths[side].items() if not path
        ]
        user: User = self.users[side]
        subject = {**user.attributes, "memberOf": direct}
        explainer = Explainer(rule, self.now)
        return RuleDecision(explainer, subject, explainer.explain(subject))

    def moves(self, turned: set[str]) -> Iterator[Move]:
        """Groups the user leaves, then those they join; a group turned dynamic that they stay
        in is left for a while (`turned`: ids of the groups the plan turns dynamic)."""
        joins, leaves = [], []
        turned_ids = {group_id.lower() for group_id in turned}
        for key in self.ids():
            before, after = self.by_id[0].get(key), self.by_id[1].get(key)
            member = tuple(self.paths[side].get(key) == () for side in (0, 1))
            if member == (True, False) and before is not None:
                leaves.append(Move(False, before, _reason(before, after, joins=False)))
            elif member == (False, True) and after is not None:
                joins.append(Move(True, after, _reason(before, after, joins=True)))
            elif member == (True, True) and after is not None and key in turned_ids:
                leaves.append(Move(False, after, LEAVES_FOR_A_WHILE, temporary=True))
        yield from leaves
        yield from joins


def _paths_up(tenant: Tenant, user_id: str) -> dict[str, tuple[str, ...]]:
    """Every group (lower-case id) the user is in, with the groups leading to it: () for a
    direct member, else the nested groups from the user's own group up."""
    parents: dict[str, list[str]] = {}
    for group in tenant.groups:
        for member in group.members:
            parents.setdefault(member.lower(), []).append(group.id.lower())
    paths: dict[str, tuple[str, ...]] = {}
    frontier: list[tuple[str, tuple[str, ...]]] = [
        (g, ()) for g in parents.get(user_id.lower(), [])
    ]
    while frontier:
        reached = []
        for key, path in frontier:
            if key in paths:
                continue
            paths[key] = path
            reached += [(parent, (*path, key)) for parent in parents.get(key, [])]
        frontier = reached
    return paths


def _reason(before: Group | None, after: Group | None, joins: bool) -> str:
    """Why the user joins or leaves a group, in what Entra does."""
    if after is None:
        return "group retired"
    if not after.is_dynamic:
        return "added to the group's members" if joins else "removed from the group's members"
    verb = "matches" if joins else "no longer matches"
    if before is None:
        return "matches the new group's membership rule"
    if not before.is_dynamic:
        chosen = "selected" if joins else "not selected"
        return f"{chosen} by the membership rule the group now has"
    if before.membershipRule != after.membershipRule:
        return f"{verb} the edited membership rule"
    if after.membershipRule and _reads_assigned_plans(after.membershipRule):
        return f"{verb} the membership rule once their assignedPlans change"
    return f"{verb} the membership rule"


def _reads_assigned_plans(text: str) -> bool:
    try:
        return reads_assigned_plans(parsed_rule(text))
    except RuleError:
        return False
