"""The plan's warnings: each family of checks looks at the same facts and reports findings.

A check is a function of `Facts` returning PlanWarnings; `plan_warnings` runs them all and
orders the findings most serious first, so an error is never buried under information.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from reconciler.model import Tenant
from reconciler.plan.changes import Change
from reconciler.plan.seats import SeatForecast
from reconciler.plan.warnings import ERROR, INFO, WARNING, PlanWarning
from reconciler.policy.desired import DesiredState


@dataclass(frozen=True, slots=True)
class Facts:
    """What every check may look at: the policy, the tenant settled now and after the plan."""

    desired: DesiredState
    before: Tenant
    after: Tenant
    changes: tuple[Change, ...]
    seats: tuple[SeatForecast, ...]


Check = Callable[[Facts], Iterable[PlanWarning]]

_SEVERITY_ORDER = {ERROR: 0, WARNING: 1, INFO: 2}


def plan_warnings(facts: Facts, checks: Iterable[Check]) -> tuple[PlanWarning, ...]:
    """Every finding of `checks`, errors first, then by code, group and user."""
    found = [warning for check in checks for warning in check(facts)]
    return tuple(
        sorted(
            found,
            key=lambda w: (_SEVERITY_ORDER[w.severity], w.code, w.group or "", w.user or ""),
        )
    )
