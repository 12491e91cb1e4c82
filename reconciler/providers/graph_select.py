"""Which user properties the Graph provider asks for: no more than the rules and licensing need.

A user page costs what its `$select` holds. The licensing checks need a few properties
(`LICENSING`); the rules need what they name. Which rules: the policy's (given by the command,
which loaded it) and the rules of the tenant's own dynamic groups, which the engine evaluates
too, so their properties are always added once the groups are read. Without the policy's
(`tenant export`, or a caller that didn't say), every property a rule can name is read.

`manager` is read with `$expand=manager($select=id)` on `/users` and selected on `/users/delta`;
`memberOf` is never read from users: it comes from the groups' members.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from reconciler.model import DYNAMIC_MEMBERSHIP
from reconciler.rules import RuleError, parse
from reconciler.rules.properties import PROPERTIES, graph_properties

__all__ = [
    "MANAGER",
    "covering",
    "every_rule_property",
    "tenant_rule_properties",
    "user_properties",
]

LICENSING = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation")
LICENSING_LISTS = ("assignedLicenses", "licenseAssignmentStates")
MANAGER = "manager"
_FROM_GROUPS = "memberOf"


def every_rule_property() -> frozenset[str]:
    """Every user property the rule language can name, in Graph's names (`manager` for Direct
    Reports rules)."""
    named = {spec.graph_path[0] for spec in PROPERTIES["user"].values()}
    return frozenset(named - {_FROM_GROUPS} | {MANAGER})


def tenant_rule_properties(groups: Iterable[Mapping[str, Any]]) -> frozenset[str]:
    """What the rules of the tenant's dynamic user groups read of users."""
    names: set[str] = set()
    for group in groups:
        text = group.get("membershipRule")
        if not text or DYNAMIC_MEMBERSHIP not in (group.get("groupTypes") or ()):
            continue
        try:
            rule = parse(text)
        except RuleError:
            continue  # the engine reports a rule it can't evaluate, with the group's name
        if rule.object_type == "user":
            names |= graph_properties(rule)
    return frozenset(names)


def user_properties(
    policy: Collection[str] | None, groups: Iterable[Mapping[str, Any]]
) -> list[str]:
    """The user properties to read, licensing's first, then in the rule language's order."""
    if policy is None:
        wanted = set(every_rule_property())
    else:
        wanted = set(policy) | tenant_rule_properties(groups)
    wanted -= {_FROM_GROUPS, *LICENSING, *LICENSING_LISTS}
    documented = list(dict.fromkeys(spec.graph_path[0] for spec in PROPERTIES["user"].values()))
    ordered = [name for name in documented if name in wanted]
    # custom extension attributes, and manager
    ordered += sorted(wanted - set(documented))
    return [*LICENSING, *ordered, *LICENSING_LISTS]


def covering(wanted: list[str], saved: str | None) -> list[str]:
    """The properties of a saved delta round's `$select` when they hold all that is wanted (so
    the round can go on), else both together (a new round, which won't shrink next time)."""
    if saved is None:
        return wanted
    have = saved.split(",")
    if set(wanted) <= set(have):
        return have
    return [*wanted, *(name for name in have if name not in wanted)]
