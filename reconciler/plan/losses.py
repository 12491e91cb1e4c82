"""Which groups a loss comes through: the one rule the removal guard (plan/guards.py) and the
policy tests' limits (policy_tests/plan_checks.py) share, so that the two never disagree.

An impact record names one group, but a user can lose a product through two groups at once
(they leave both): a product lost whole is taken by every group whose assignment of it the user
had before. Lost service plans are taken by the group the record names only: the other groups
still give the product.
"""

from __future__ import annotations

from reconciler.model import Tenant
from reconciler.plan.impact import LicenseRemoval, PlanRemoval

Removal = LicenseRemoval | PlanRemoval


class Losses:
    """The groups (lower-case ids) each removal of a plan's impact comes through."""

    def __init__(self, before: Tenant, after: Tenant | None = None) -> None:
        # (user id, lower-case skuId) -> the groups whose assignment of it the user had
        self._givers: dict[tuple[str, str], set[str]] = {}
        for user in before.users:
            for state in user.licenseAssignmentStates:
                if state.assignedByGroup is not None:
                    key = (user.id, state.skuId.lower())
                    self._givers.setdefault(key, set()).add(state.assignedByGroup.lower())
        # impact records name groups by displayName, which two groups may share (Entra allows
        # it, and a policy pins one by id): a name stands for every group that has it, so a
        # protected group is never hidden behind another of its name
        self._ids: dict[str, set[str]] = {}
        for tenant in (before, after) if after is not None else (before,):
            for group in tenant.groups:
                self._ids.setdefault(group.displayName.casefold(), set()).add(group.id.lower())

    def through(self, removal: Removal) -> frozenset[str]:
        """The groups (lower-case ids) the removal comes through."""
        found = set(self.group_ids(removal.group))
        if isinstance(removal, LicenseRemoval):
            found |= self._givers.get((removal.userId, removal.skuId.lower()), set())
        return frozenset(found)

    def group_ids(self, name: str | None) -> frozenset[str]:
        """The lower-case ids of the groups of the displayName an impact record names."""
        return frozenset(self._ids.get(name.casefold(), ())) if name is not None else frozenset()

    def comes_through(self, removal: Removal, group_id: str) -> bool:
        """Whether the removal is a loss through the group `group_id`."""
        return group_id.lower() in self.through(removal)
