"""What running policy tests found: per test, what it checked and, where that isn't so, why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from reconciler.errors import Location


@dataclass(frozen=True, slots=True)
class Failure:
    """One expectation that doesn't hold: what was expected, and the facts that say why."""

    expected: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class PolicyTestResult:
    name: str
    location: Location
    kind: str  # user, newUser or plan
    subject: str  # the user's userPrincipalName, "a new user", or "the plan"
    checked: int  # expectations checked
    failures: tuple[Failure, ...] = ()
    notes: tuple[str, ...] = ()  # facts worth showing even when it passes (a new user's groups)

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True, slots=True)
class PolicyTestRun:
    """Every test run, in file order, against one tenant and policy."""

    results: tuple[PolicyTestResult, ...]
    tenant: str  # the tenant's id
    # groups the plan adds, changes and removes (Plan.summary): the tests are of the tenant
    # after those changes
    plan: Mapping[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(result.passed for result in self.results)

    @property
    def failed(self) -> tuple[PolicyTestResult, ...]:
        return tuple(result for result in self.results if not result.passed)
