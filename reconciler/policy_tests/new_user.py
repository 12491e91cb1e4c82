"""A user who doesn't exist yet, as a policy test describes them: their Graph properties made
into a User, added to the plan's after-state and settled by the engine as Entra settles a new
user (every dynamic rule evaluated for them, then their groups' licenses, in seat order after
everyone already there: when the seats have run out, they land in CountViolation).

The properties' values are checked here, by name, rather than by the schema: a message per
property ("expected true or false") reads better than a union of every type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any

from reconciler.engine.catalog import ServicePlanRules
from reconciler.engine.licensing import settle_joined
from reconciler.engine.membership import evaluated_rules
from reconciler.lookup import Directory
from reconciler.model import Tenant, User
from reconciler.policy.errors import closest
from reconciler.providers.graph_shape import GraphObjects
from reconciler.rules.ast import MemberOf, Rule
from reconciler.rules.compiler import CompiledRule, compile_rule
from reconciler.rules.properties import PROPERTIES

NEW_USER_ID = "00000000-0000-4000-8000-00000000feed"  # no real object id: version 4, all zeros
EXTENSIONS = "onPremisesExtensionAttributes"
_BOOLEAN = frozenset({"accountEnabled", "onPremisesSyncEnabled"})
_LISTS = frozenset({"proxyAddresses", "otherMails", "businessPhones"})
# worked out by Entra, not given: assignedPlans follows the licenses, memberOf the groups
_DERIVED = frozenset({"assignedPlans", "memberOf"})
_EXTENSION_NAMES = {f"extensionattribute{n}": f"extensionAttribute{n}" for n in range(1, 16)}
# the user properties membership rules read, by Graph's name; a rule's own name for one that
# Graph calls otherwise (mobile, physicalDeliveryOfficeName) points to Graph's
_GRAPH = {
    spec.graph_path[0]: spec
    for spec in PROPERTIES["user"].values()
    if spec.graph_path[0] not in _DERIVED
}
_RULE_NAMES = {
    spec.name.casefold(): spec.graph_path[0]
    for spec in PROPERTIES["user"].values()
    if spec.name != spec.graph_path[0] and len(spec.graph_path) == 1
}
# not `id`: a user who doesn't exist has none, and one of another user's would mix the two up
KNOWN = frozenset({*_GRAPH, "manager", "userPrincipalName", "displayName"} - {"id"})

Problem = tuple[str, str]  # (".property" path, message)


def new_user_attributes(
    given: Mapping[str, Any], tenant: Tenant, users: Directory | None = None
) -> tuple[dict[str, Any], list[Problem]]:
    """The Graph object of a new user with the properties `given`, and what is wrong in them.

    accountEnabled is true and userType Member unless given, as for a user created in the
    portal; extensionAttribute1..15 may be given at the top, as rules name them. `users`
    looks the manager up (and a userPrincipalName another user has).
    """
    users = users or Directory(tenant.users)
    domain = next(iter(tenant.organization.verifiedDomains), "contoso.onmicrosoft.com")
    found: dict[str, Any] = {
        "id": NEW_USER_ID,
        "userPrincipalName": f"new.user@{domain}",
        "accountEnabled": True,
        "userType": "Member",
    }
    extensions: dict[str, Any] = {}
    problems: list[Problem] = []
    for key, value in given.items():
        name = _graph_name(key)
        if name is None:
            problems.append((f".{key}", _unknown(key)))
        elif name in _EXTENSION_NAMES.values():
            problems += _text(key, value)
            extensions[name] = value
        elif name == EXTENSIONS:
            problems += _extensions(value, extensions)
        elif name == "manager":
            problems += _manager(value, users, found)
        else:
            problems += _typed(key, name, value)
            found[name] = value
    if extensions:
        found[EXTENSIONS] = extensions
    problems += _taken(found["userPrincipalName"], "userPrincipalName" in given, users)
    return found, problems


def _taken(upn: Any, given: bool, users: Directory) -> list[Problem]:
    """A userPrincipalName is the user's own: a new user with another's would be them."""
    if not isinstance(upn, str) or users.user(upn) is None:
        return []
    if given:
        return [(".userPrincipalName", f"'{upn}' is a user of the tenant already: give another")]
    return [("", f"the default userPrincipalName '{upn}' is a user of the tenant: give one")]


def _graph_name(key: str) -> str | None:
    if key in KNOWN or key.casefold().startswith("extension_"):
        return key
    return _EXTENSION_NAMES.get(key.casefold())


def _unknown(key: str) -> str:
    graph = _RULE_NAMES.get(key.casefold())
    if graph is not None:
        return f"'{key}' is the rule's name; Graph calls it '{graph}'"
    if key == "id":
        return "a new user has no object id yet; reconciler gives them one of its own"
    if key in _DERIVED:
        return f"'{key}' is worked out from the user's licenses and groups, not given"
    names = sorted({*KNOWN, *_EXTENSION_NAMES.values()})
    return f"unknown user property '{key}'{closest(key, names)}; give Graph's names"


def _typed(key: str, name: str, value: Any) -> list[Problem]:
    if name in _BOOLEAN:
        if isinstance(value, bool):
            return []
        return [(f".{key}", f"expected true or false, found {_kind(value)}")]
    if name in _LISTS:
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return []
        return [(f".{key}", f"expected a list of text, found {_kind(value)}")]
    return _text(key, value)


def _text(key: str, value: Any) -> list[Problem]:
    if value is None or isinstance(value, str):
        return []
    # rules read every property but the few above as text, extension properties too
    # (rule-language.md 3.1: "treated as strings"): an unquoted 42 would never match "42"
    hint = f" (rules read it as text: write '{value}')" if isinstance(value, int | float) else ""
    return [(f".{key}", f"expected text, found {_kind(value)}{hint}")]


def _kind(value: Any) -> str:
    """What a YAML value is, as a person calls it."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "nothing" if value is None else "text"


def _extensions(value: Any, extensions: dict[str, Any]) -> list[Problem]:
    if not isinstance(value, dict):
        return [(f".{EXTENSIONS}", "expected a mapping of extensionAttribute1..15 to text")]
    problems = []
    for key, item in value.items():
        name = _EXTENSION_NAMES.get(key.casefold())
        if name is None:
            problems.append((f".{EXTENSIONS}.{key}", "expected extensionAttribute1..15"))
        else:
            problems += _text(f"{EXTENSIONS}.{key}", item)
            extensions[name] = item
    return problems


def _manager(value: Any, users: Directory, found: dict[str, Any]) -> list[Problem]:
    """The manager, a user of the tenant by userPrincipalName or id, as Graph's reference."""
    if not isinstance(value, str):
        return [(".manager", f"expected a userPrincipalName or an object id, found {_kind(value)}")]
    user = users.user(value)
    if user is None:
        return [(".manager", users.unknown_user(value))]
    found["manager"] = {"id": user.id}
    return []


def new_user(attributes: Mapping[str, Any]) -> User:
    """The User the engine settles, from a new user's Graph object, as a tenant read makes it."""
    return GraphObjects().user(dict(attributes))


def with_new_user(
    after: Tenant, user: User, rules: ServicePlanRules, now: datetime | None = None
) -> Tenant:
    """The settled tenant `after` once `user` joins it: the dynamic groups whose rules select
    them gain them, and the licenses those give are settled.

    Only the new user is evaluated and settled: everyone else is settled already, and one more
    user changes nothing of theirs but the seats left. Rules on memberOf, and on assignedPlans
    once the new user's licenses follow, are evaluated by the engine's later rounds.
    """
    joined = []
    rules_of = evaluated_rules(after)
    for group in after.groups:
        rule = rules_of.get(group.id)
        plain = rule is not None and rule.object_type == "user"
        if plain and not isinstance(rule.body, MemberOf) and _compiled(rule, now)(user.attributes):
            group = replace(group, members=(*group.members, user.id))
        joined.append(group)
    with_user = replace(after, users=(*after.users, user), groups=tuple(joined))
    # settle_changes would evaluate the groups' rules again over every user
    return settle_joined(with_user, (user.id,), now, rules)


@lru_cache(maxsize=256)
def _compiled(rule: Rule, now: datetime | None) -> CompiledRule:
    # a run checks several new users against the same rules: compile each once (a run is
    # short: `system.now`, fixed when compiled, stays the time of the run)
    return compile_rule(rule, now)
