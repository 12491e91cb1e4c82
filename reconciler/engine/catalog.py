"""Which service plans conflict or depend on each other, from Microsoft's licensing guidance.

Entra refuses to assign a product whose plan conflicts with a plan the user already has from
another product (`MutuallyExclusiveViolation`), and to leave a user with a plan whose
prerequisite is gone (`DependencyViolation`); it never resolves either itself.

The catalog itself is data, service_plan_rules.json beside this module: every entry names its
plans by servicePlanId and servicePlanName and cites the Microsoft page it rests on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

CATALOG_FILE = "service_plan_rules.json"

# Microsoft's documentation lives on Learn, or in the MicrosoftDocs repositories its pages are
# built from (where older versions of a page can still be read)
SOURCE_PREFIXES = ("https://learn.microsoft.com/", "https://github.com/MicrosoftDocs/")

# what a source must say besides its address: the page's title and the sentence, paraphrased
_SOURCE_TEXTS = ("title", "says")

# callers compare plan ids in lower case, so the catalog must hold them that way
_PLAN_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True, slots=True)
class PlanDependency:
    """A service plan that works only beside one of the `requires` plans."""

    servicePlanId: str
    requires: frozenset[str]


@dataclass(frozen=True, slots=True)
class ServicePlanRules:
    """Conflicting and dependent service plans, by lower-case servicePlanId."""

    mutuallyExclusive: tuple[frozenset[str], ...] = ()
    dependencies: tuple[PlanDependency, ...] = ()

    @property
    def watched(self) -> frozenset[str]:
        """Every plan some conflict names: an assignment without one of them can't conflict."""
        return frozenset().union(*self.mutuallyExclusive)

    def extended(self, other: ServicePlanRules) -> ServicePlanRules:
        """These rules and `other`'s together, as a policy adds its own to the catalog."""
        return ServicePlanRules(
            self.mutuallyExclusive + other.mutuallyExclusive,
            self.dependencies + other.dependencies,
        )

    def conflict(self, adding: Iterable[str], held: Iterable[str]) -> bool:
        """Whether plans being added clash with plans the user holds from other products.

        Plan ids are compared in lower case, as callers pass them.
        """
        adding, held = set(adding), set(held)
        for exclusive in self.mutuallyExclusive:
            new, old = adding & exclusive, held & exclusive
            if new and old and (new | old) != (new & old):
                return True
        return False

    def unmet(self, enabled: frozenset[str]) -> frozenset[str]:
        """The plans in `enabled` whose prerequisites are all missing from `enabled`."""
        return frozenset(
            rule.servicePlanId
            for rule in self.dependencies
            if rule.servicePlanId in enabled and not rule.requires & enabled
        )

    def prerequisites(self, plans: Iterable[str]) -> frozenset[str]:
        """Every plan that one of `plans` may depend on."""
        wanted = set(plans)
        return frozenset().union(
            *(rule.requires for rule in self.dependencies if rule.servicePlanId in wanted)
        )


def read_catalog() -> dict[str, Any]:
    """The catalog file shipped with reconciler, parsed but not yet checked."""
    text = (files("reconciler.engine") / CATALOG_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def rules_from_catalog(catalog: Mapping[str, Any]) -> ServicePlanRules:
    """The rules a catalog document states; ValueError if an entry is malformed or unsourced."""
    names: dict[str, str] = {}
    seen: set[str] = set()

    def plans(entry: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        found = entry.get(key)
        if not isinstance(found, list) or not found:
            raise ValueError(f"{where}: {key} must list at least one service plan")
        ids: dict[str, None] = {}  # in the file's order, which the rules keep
        for plan in found:
            if not isinstance(plan, Mapping):
                raise ValueError(f"{where}: {key} holds {plan!r}, not a service plan")
            plan_id, name = plan.get("servicePlanId"), plan.get("servicePlanName")
            if not isinstance(plan_id, str) or not _PLAN_ID.fullmatch(plan_id):
                raise ValueError(f"{where}: {plan_id!r} isn't a lower-case servicePlanId")
            if not isinstance(name, str) or not name.strip():
                raise ValueError(f"{where}: {plan_id} has no servicePlanName")
            # one id, one name: a reader checks each pair against Microsoft's table
            if names.setdefault(plan_id, name) != name:
                raise ValueError(f"{where}: {plan_id} is {name}, elsewhere {names[plan_id]}")
            ids[plan_id] = None
        return tuple(ids)

    def checked(entry: Any, section: str) -> str:
        if not isinstance(entry, Mapping):
            raise ValueError(f"{section}: {entry!r} isn't an entry")
        where = f"{section} {entry.get('id')!r}"
        if not isinstance(entry.get("id"), str) or entry["id"] in seen:
            raise ValueError(f"{where}: every entry needs an id of its own")
        seen.add(entry["id"])
        sources = entry.get("sources")
        if not isinstance(sources, list) or not sources:
            raise ValueError(f"{where}: cites no source")
        for source in sources:
            url = source.get("url") if isinstance(source, Mapping) else None
            if not isinstance(url, str) or not url.startswith(SOURCE_PREFIXES):
                raise ValueError(f"{where}: {url!r} isn't Microsoft's documentation")
            if not all(isinstance(source.get(k), str) and source[k].strip() for k in _SOURCE_TEXTS):
                raise ValueError(f"{where}: a source needs a title and what it says")
        return where

    dependencies = []
    for entry in catalog.get("dependencies", []):
        where = checked(entry, "dependency")
        requires = frozenset(plans(entry, "requires", where))
        dependent = plans(entry, "servicePlans", where)
        if requires.intersection(dependent):
            raise ValueError(f"{where}: a plan can't be its own prerequisite")
        dependencies += [PlanDependency(plan, requires) for plan in dependent]
    exclusive = []
    for entry in catalog.get("mutuallyExclusive", []):
        where = checked(entry, "conflict")
        conflicting = frozenset(plans(entry, "servicePlans", where))
        if len(conflicting) < 2:
            raise ValueError(f"{where}: a conflict takes two plans at least")
        exclusive.append(conflicting)
    # documented only, so the conflict Microsoft lifted isn't added back; it states no rule
    for entry in catalog.get("noLongerMutuallyExclusive", []):
        plans(entry, "servicePlans", checked(entry, "lifted conflict"))
    return ServicePlanRules(tuple(exclusive), tuple(dependencies))


# Microsoft's documented conflicts and dependencies; a policy adds its own through settings
DEFAULT_RULES = rules_from_catalog(read_catalog())
