"""Runs a plan's changes through a provider, in order, stopping at the first failure."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from reconciler.plan.changes import Change
from reconciler.providers.base import Provider


def apply_changes(
    changes: Sequence[Change],
    provider: Provider,
    progress: Callable[[int], None] = lambda index: None,
) -> None:
    """Apply every change in order; `progress` hears the index of each as it completes."""
    for index, change in enumerate(changes):
        provider.apply(change)
        progress(index)
