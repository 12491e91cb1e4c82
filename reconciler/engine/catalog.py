"""Which service plans conflict or depend on each other, from Microsoft's licensing guidance.

Entra refuses to assign a product whose plan conflicts with a plan the user already has from
another product (`MutuallyExclusiveViolation`), and to leave a user with a plan whose
prerequisite is gone (`DependencyViolation`); it never resolves either itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SHAREPOINT_PLAN_1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"  # SHAREPOINTSTANDARD (E1)
SHAREPOINT_PLAN_2 = "5dbe027f-2339-4123-9542-606e4d348a72"  # SHAREPOINTENTERPRISE (E3, E5)
EXCHANGE_ARCHIVING = "176a09a6-7ec5-4039-ac02-b2791c6ba793"  # EXCHANGE_S_ARCHIVE_ADDON
EXCHANGE_PLAN_1 = "9aaf7827-d63c-4b61-89c3-182f06f82e5c"  # EXCHANGE_S_STANDARD
EXCHANGE_PLAN_2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE


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


# Office 365 E1's SharePoint (Plan 1) against E3's and E5's (Plan 2): Microsoft's example of
# conflicting products when moving users between them. Exchange Online Plan 1 and Plan 2 used
# to conflict too, but now "allow duplication".
# Exchange Online Archiving is an add-on to an Exchange Online (Plan 1 or 2) mailbox.
DEFAULT_RULES = ServicePlanRules(
    (frozenset({SHAREPOINT_PLAN_1, SHAREPOINT_PLAN_2}),),
    (PlanDependency(EXCHANGE_ARCHIVING, frozenset({EXCHANGE_PLAN_1, EXCHANGE_PLAN_2})),),
)
