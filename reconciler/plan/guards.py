"""Removal guards: a plan that takes too many licenses away, or any through a protected group,
is refused unless the operator allows removals explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import Tenant
from reconciler.plan.diff import find_group
from reconciler.plan.impact import Impact
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
    through two groups at once.
    """
    protected = {}
    for wanted in desired.groups:
        group = find_group(before, wanted.displayName, wanted.id) if wanted.protect else None
        if group is not None:
            protected[group.id] = group.displayName
    if not protected:
        return ()
    removals = (*impact.licenseRemovals, *impact.planRemovals)
    # a product lost whole was taken by every group that gave it; lost plans by the group named
    losses = {(r.userId, r.skuId.lower()) for r in impact.licenseRemovals}
    # the removals' own group counts too: a static group turned dynamic takes its licenses
    # away for a while even from the members it keeps in the end
    named = {r.group.lower() for r in removals if r.group is not None}
    found = {(gid, name) for gid, name in protected.items() if name.lower() in named}
    for user in before.users:
        for state in user.licenseAssignmentStates:
            if state.assignedByGroup in protected and (user.id, state.skuId.lower()) in losses:
                found.add((state.assignedByGroup, protected[state.assignedByGroup]))
    return tuple(sorted(found, key=lambda pair: pair[1].lower()))
