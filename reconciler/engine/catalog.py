"""Which service plans a user can't have together, from Microsoft's licensing guidance.

Entra refuses to assign a product whose plan conflicts with a plan the user already has from
another product (`MutuallyExclusiveViolation`); it never resolves the conflict itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

SHAREPOINT_PLAN_1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"  # SHAREPOINTSTANDARD (E1)
SHAREPOINT_PLAN_2 = "5dbe027f-2339-4123-9542-606e4d348a72"  # SHAREPOINTENTERPRISE (E3, E5)


@dataclass(frozen=True, slots=True)
class ServicePlanRules:
    """Sets of service plan ids of which one user may have at most one enabled."""

    mutuallyExclusive: tuple[frozenset[str], ...] = ()

    @property
    def watched(self) -> frozenset[str]:
        """Every plan some rule names: an assignment without one of them can't conflict."""
        return frozenset().union(*self.mutuallyExclusive)

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


# Office 365 E1's SharePoint (Plan 1) against E3's and E5's (Plan 2): Microsoft's example of
# conflicting products when moving users between them. Exchange Online Plan 1 and Plan 2 used
# to conflict too, but now "allow duplication".
DEFAULT_RULES = ServicePlanRules((frozenset({SHAREPOINT_PLAN_1, SHAREPOINT_PLAN_2}),))
