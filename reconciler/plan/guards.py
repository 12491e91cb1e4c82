"""Removal guards: a plan that takes too many licenses away, or any through a protected group,
is refused unless the operator allows removals explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import Tenant
from reconciler.plan.diff import find_group
from reconciler.plan.impact import Impact
from reconciler.plan.losses import Losses
from reconciler.plan.managed import retired_protected
from reconciler.policy.desired import DesiredState

# Small enough that a mistaken rule on a large group is stopped before it runs, large enough
# that a day's joiners and leavers in a small tenant pass.
DEFAULT_MAX_LICENSE_REMOVALS = 10


@dataclass(frozen=True, slots=True)
class Guards:
    licenseRemovals: int  # products lost plus products whose plans shrink, per user
    temporaryRemovals: int  # of those, losses that revert once Entra processes the group
    maxLicenseRemovals: int
    protected: tuple[tuple[str, str], ...]  # (id, displayName) of protected groups taking away
    reasons: tuple[str, ...]  # why apply refuses, and what to do; empty when it doesn't

    @property
    def refused(self) -> bool:
        return bool(self.reasons)


def guards(desired: DesiredState, impact: Impact, before: Tenant) -> Guards:
    """What the plan takes away, measured against the policy's limits."""
    limit = desired.settings.maxLicenseRemovals
    if limit is None:
        limit = DEFAULT_MAX_LICENSE_REMOVALS
    removals = (*impact.licenseRemovals, *impact.planRemovals)
    count = len(removals)
    temporary = sum(1 for removal in removals if removal.temporary)
    protected = _protected_losing(desired, impact, before)
    reasons = []
    if count > limit:
        which = f" ({count - temporary} lasting, {temporary} temporary)" if temporary else ""
        reasons.append(
            f"the plan takes {count} licenses away{which}, "
            f"more than settings.maxLicenseRemovals ({limit})"
        )
    reasons += [
        f"the plan takes licenses away through protected group {name}" for _, name in protected
    ]
    # the block no longer says `protect: true`, but groups.lock.yaml still does
    reasons += [
        f"the plan retires protected group {item.displayName} (protected in groups.lock.yaml: "
        "set `protect: false` in its block and run `reconciler lock` first, in a change of its own)"
        for item in retired_protected(desired, desired.groupLock)
    ]
    return Guards(count, temporary, limit, protected, tuple(reasons))


def _protected_losing(
    desired: DesiredState, impact: Impact, before: Tenant
) -> tuple[tuple[str, str], ...]:
    """Protected groups (id, displayName) whose assignment of something a user loses goes away.

    Every group is looked at, not only the one a removal names: a user can lose a product
    through two groups at once (plan/losses.py).
    """
    protected: dict[str, str] = {}  # lower-case id -> id
    names: dict[str, str] = {}
    for wanted in desired.groups:
        group = find_group(before, wanted.displayName, wanted.id) if wanted.protect else None
        if group is not None:
            protected[group.id.lower()] = group.id
            names[group.id.lower()] = group.displayName
    if not protected:
        return ()
    losses = Losses(before)
    found = set()
    for removal in (*impact.licenseRemovals, *impact.planRemovals):
        for group_id in losses.through(removal):
            if group_id in protected:
                found.add((protected[group_id], names[group_id]))
    return tuple(sorted(found, key=lambda pair: pair[1].lower()))
