"""The rule language's lints of every membership rule a policy sets, each where it points in
its file: warnings about valid rules, reported beside the policy's errors, never instead."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from reconciler.errors import Location
from reconciler.policy.resolve import LoadedPolicy
from reconciler.policy.schema import intact_items, is_broken, rule_location, where
from reconciler.rules import RuleError, parse
from reconciler.rules.linter import lint


@dataclass(frozen=True, slots=True)
class PolicyLint:
    """One lint of a group's rule: `message` names the group, `suggestion` is the rule rewritten."""

    code: str
    severity: str  # "warning" or "info", as the linter says
    message: str
    location: Location
    suggestion: str | None = None


def policy_lints(policy: LoadedPolicy) -> tuple[PolicyLint, ...]:
    """Every lint of every membership rule in `policy`, in file order.

    A rule the policy's problems are about (invalid, or in a value the schema refused) has none:
    its error says what to fix first.
    """
    found: list[PolicyLint] = []
    groups = policy.document.get("groups")
    for index, group in intact_items(groups, ("groups",), policy.broken):
        path = ("groups", index, "membershipRule")
        text = group.get("membershipRule") if isinstance(group, dict) else None
        if not isinstance(text, str) or is_broken(path, policy.broken):
            continue
        try:
            rule = parse(text)
        except RuleError:
            continue  # reported as an error when the policy was loaded
        for each in lint(rule):
            found.append(
                PolicyLint(
                    each.code,
                    each.severity,
                    f"{where(path, policy.document)}: {each.message}",
                    # the lint's own column, as a rule error's: where the rule text says it
                    rule_location(policy.positions, path, text, each.span.start),
                    each.suggestion,
                )
            )
    return tuple(sorted(found, key=_order))


def _order(found: PolicyLint) -> tuple[tuple[str, ...], int, int]:
    where = found.location
    return (PurePath(where.file).parts, where.line or 0, where.column or 0)
