"""Checks of the membership rules the policy sets: lints, and edits that drop many members."""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.engine.membership import evaluated_rules
from reconciler.plan.changes import UpdateGroup
from reconciler.plan.checks import Facts
from reconciler.plan.diff import find_group
from reconciler.plan.warnings import INFO, WARNING, PlanWarning
from reconciler.rules import parse
from reconciler.rules.ast import MemberOf
from reconciler.rules.errors import RuleError
from reconciler.rules.linter import lint

DEFAULT_MAX_MEMBERSHIP_DROP_PERCENT = 10.0


def membership_drop(facts: Facts) -> Iterator[PlanWarning]:
    """A rule or processing change that drops more than the allowed share of a group's members."""
    limit = facts.desired.settings.maxMembershipDropPercent
    if limit is None:
        limit = DEFAULT_MAX_MEMBERSHIP_DROP_PERCENT
    edited = {
        change.groupId
        for change in facts.changes
        if isinstance(change, UpdateGroup)
        and change.property in ("membershipRule", "membershipRuleProcessingState", "groupTypes")
    }
    turned_dynamic = {
        change.groupId
        for change in facts.changes
        if isinstance(change, UpdateGroup) and change.turns_dynamic
    }
    for wanted in facts.desired.groups:
        before = find_group(facts.before, wanted.displayName, wanted.id)
        if before is None or before.id not in edited or not before.members:
            continue
        after = find_group(facts.after, wanted.displayName, wanted.id)
        remaining = {m.lower() for m in after.members} if after else set()
        if before.id in turned_dynamic:
            # Entra removes every member before it evaluates the new rule
            dropped, what = list(before.members), "turning it dynamic"
        else:
            dropped = [m for m in before.members if m.lower() not in remaining]
            what = "the membership change"
        percent = 100 * len(dropped) / len(before.members)
        if percent > limit:
            yield PlanWarning(
                "membership-drop",
                WARNING,
                f"{what} drops {len(dropped)} of {before.displayName}'s "
                f"{len(before.members)} members ({percent:.0f}%), more than "
                f"maxMembershipDropPercent ({limit:g}%)",
                "check the rule with `reconciler rule test`; if the drop is intended, raise "
                "settings.maxMembershipDropPercent",
                group=before.displayName,
                location=wanted.location,
            )


def rule_lints(facts: Facts) -> Iterator[PlanWarning]:
    """The rule language's lints of every rule the policy sets, under their own codes."""
    for wanted in facts.desired.groups:
        if not wanted.membershipRule:
            continue
        try:
            rule = parse(wanted.membershipRule)
        except RuleError:
            continue  # loading the policy already refused invalid rules
        for found in lint(rule):
            yield PlanWarning(
                found.code,
                WARNING if found.severity == WARNING else INFO,
                f"membershipRule of {wanted.displayName}: {found.message}",
                f"write it as: {found.suggestion}" if found.suggestion else None,
                group=wanted.displayName,
                location=wanted.location,
            )


def member_of_stale(facts: Facts) -> Iterator[PlanWarning]:
    """memberOf groups that keep members who left every source group, as Entra does.

    Microsoft documents that a memberOf group doesn't update when members are removed from a
    source group or the source is deleted: they stay (with its licenses) until its rule changes.
    """
    try:
        rules = evaluated_rules(facts.after)
    except RuleError:
        return
    bodies = {group_id: rule.body for group_id, rule in rules.items()}
    if not any(isinstance(body, MemberOf) for body in bodies.values()):
        return  # most tenants have none: spared the lookups over every user below
    groups = {group.id.lower(): group for group in facts.after.groups}
    users = {user.id.lower(): user.userPrincipalName for user in facts.after.users}
    locations = {wanted.displayName.lower(): wanted.location for wanted in facts.desired.groups}
    for group in facts.after.groups:
        body = bodies.get(group.id)
        if not isinstance(body, MemberOf):
            continue
        sources = {
            member.lower()
            for source in body.group_ids
            if source.lower() in groups
            for member in groups[source.lower()].members
        }
        stale = sorted(
            users[m.lower()]
            for m in group.members
            if m.lower() not in sources and m.lower() in users
        )
        if not stale:
            continue
        shown = ", ".join(stale[:5]) + (f" and {len(stale) - 5} more" if len(stale) > 5 else "")
        yield PlanWarning(
            "member-of-stale",
            WARNING,
            f"{group.displayName} keeps {len(stale)} "
            f"{'member who is' if len(stale) == 1 else 'members who are'} in none of its source "
            f"groups ({shown}): Entra doesn't update a memberOf group when members leave a "
            "source group or it is deleted, until the group's rule changes",
            "edit the memberOf rule (or remove and add it back) to have Entra evaluate it anew",
            group=group.displayName,
            location=locations.get(group.displayName.lower()),
        )


CHECKS = (membership_drop, rule_lints, member_of_stale)
