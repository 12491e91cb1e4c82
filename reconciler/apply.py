"""Runs a plan's changes through a provider, in order, stopping at the first failure."""

from __future__ import annotations

from collections.abc import Callable

from reconciler.plan.build import Plan
from reconciler.plan.changes import Change
from reconciler.providers.base import Provider


def apply_plan(
    plan: Plan, provider: Provider, progress: Callable[[Change], None] = lambda change: None
) -> dict[str, int]:
    """Apply every change of `plan`; `progress` hears of each as it completes. The summary."""
    for change in plan.changes:
        provider.apply(change)
        progress(change)
    return plan.summary()
