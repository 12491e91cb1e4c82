"""groups.lock.yaml checks: a retired group the lock doesn't remember, and a block that looks
renamed without its `id:`.

Once apply deletes a retired group, its entry matches nothing, and with a group lock a name
that matches nothing is an error (a typo would leave the group meant in place) unless the lock
saw the group retired.
A block renamed in the policy is a name the lock doesn't know: without an `id:` pin the plan
creates a second group and leaves the first unmanaged, which is rarely what was meant.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.plan.changes import CreateGroup
from reconciler.plan.checks import Facts
from reconciler.plan.diff import find_group
from reconciler.plan.managed import released
from reconciler.plan.warnings import WARNING, PlanWarning
from reconciler.policy.source import GROUP_LOCK_NAME

RETIRED_NOT_LOCKED = "retired-not-locked"
RENAMED_WITHOUT_ID = "renamed-without-id"


def retired_not_locked(facts: Facts) -> Iterator[PlanWarning]:
    """A finding for each retired group the plan deletes that the group lock hasn't seen."""
    lock = facts.desired.groupLock
    if lock is None:
        return  # no memory at all: a retired name like no group's is taken as deleted
    for item in facts.desired.retired:
        group = find_group(facts.before, item.displayName, item.id)
        if group is None or lock.find_retired(item.displayName, group.id):
            continue
        yield PlanWarning(
            RETIRED_NOT_LOCKED,
            WARNING,
            f"{GROUP_LOCK_NAME} doesn't remember retired group {item.displayName}: once it is "
            "deleted, its entry matches no group, which is an error until the entry is removed",
            f"run `reconciler lock` and commit {GROUP_LOCK_NAME} with this change, so later "
            "plans know the group as deleted",
            group=item.displayName,
            location=item.location,
        )


def renamed_without_id(facts: Facts) -> Iterator[PlanWarning]:
    """A finding for each group the plan creates while a group assigning the same products
    leaves management: most likely one block renamed without its `id:`."""
    created = {c.displayName.lower() for c in facts.changes if isinstance(c, CreateGroup)}
    leaving = released(facts.desired, facts.desired.groupLock, facts.before)
    for wanted in facts.desired.groups:
        if wanted.displayName.lower() not in created or not wanted.licenses:
            continue
        products = {license_.skuId.lower() for license_ in wanted.licenses}
        for old in leaving:
            if {lic.skuId.lower() for lic in old.group.assignedLicenses} != products:
                continue
            yield PlanWarning(
                RENAMED_WITHOUT_ID,
                WARNING,
                f"the plan creates {wanted.displayName} while {old.group.displayName}, which "
                "assigns the same products, leaves management: if the block was renamed, its "
                "members would get their licenses from a second group",
                f"to rename {old.group.displayName} in place, pin it in the block: "
                f"`id: {old.group.id}`",
                group=wanted.displayName,
                location=wanted.location,
            )
