"""What the policy manages in a tenant, and what it remembers managing (groups.lock.yaml).

The lock in the repository is the memory: a fresh clone in a stateless CI job carries it. It
pins every managed group's id, so a group renamed on either side is still the same group, and
it keeps a group's protection after its block is removed or retired, until `reconciler lock`
records the protection removed in a change of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from reconciler.model import Group, Tenant
from reconciler.plan.diff import find_group
from reconciler.policy.desired import DesiredGroup, DesiredState, RetiredGroup
from reconciler.policy.group_lock import GroupLock, LockedGroup


@dataclass(frozen=True, slots=True)
class Released:
    """A group the lock remembers managing that the policy no longer declares: left as it is."""

    group: Group
    protect: bool


def managed_groups(desired: DesiredState, tenant: Tenant) -> dict[str, DesiredGroup]:
    """The tenant's groups the policy declares, by the tenant group's id."""
    found = {}
    for wanted in desired.groups:
        group = find_group(tenant, wanted.displayName, wanted.id)
        if group is not None:
            found[group.id] = wanted
    return found


def unmanaged_sharing(desired: DesiredState, tenant: Tenant) -> tuple[Group, ...]:
    """Groups outside the policy (neither declared nor retired) that assign a product the
    policy's groups assign too: their members keep it whatever the policy does."""
    known = _declared_or_retired(desired, tenant)
    assigned = {license_.skuId.lower() for g in desired.groups for license_ in g.licenses}
    return tuple(
        group
        for group in tenant.groups
        if group.id not in known
        and any(license_.skuId.lower() in assigned for license_ in group.assignedLicenses)
    )


def _declared_or_retired(desired: DesiredState, tenant: Tenant) -> set[str]:
    """Ids of the tenant's groups the policy declares or retires."""
    known = set(managed_groups(desired, tenant))
    for retired in desired.retired:
        group = find_group(tenant, retired.displayName, retired.id)
        if group is not None:
            known.add(group.id)
    return known


def with_memory(desired: DesiredState, lock: GroupLock | None, tenant: Tenant) -> DesiredState:
    """`desired` as the lock remembers it: unpinned groups pinned to the id the lock recorded
    (when the tenant still has it), and protection kept that the lock still records."""
    if lock is None:
        return desired
    ids = {g.id.lower() for g in tenant.groups}
    groups = tuple(
        _remembered(wanted, lock.find(wanted.displayName, wanted.id), ids)
        for wanted in desired.groups
    )
    retired = tuple(
        _remembered_retired(
            item,
            lock.find_retired(item.displayName, item.id),
            lock.find(item.displayName, item.id),
            ids,
        )
        for item in desired.retired
    )
    return replace(desired, groups=groups, retired=retired)


def _remembered(wanted: DesiredGroup, locked: LockedGroup | None, ids: set[str]) -> DesiredGroup:
    if locked is None:
        return wanted
    pin = wanted.id or (locked.id if locked.id and locked.id.lower() in ids else None)
    return replace(wanted, id=pin, protect=wanted.protect or locked.protect)


def _remembered_retired(
    item: RetiredGroup, seen: LockedGroup | None, managed: LockedGroup | None, ids: set[str]
) -> RetiredGroup:
    """`item` pinned to the id the lock saw it retired with (gone: deleted since, and a namesake
    is another group), else to the id it was managed with while the tenant has it."""
    if item.id:
        return item
    if seen is not None and seen.id:
        return replace(item, id=seen.id)
    if managed is not None and managed.id and managed.id.lower() in ids:
        return replace(item, id=managed.id)
    return item


def released(desired: DesiredState, lock: GroupLock | None, tenant: Tenant) -> tuple[Released, ...]:
    """Groups the lock remembers that the policy neither declares nor retires any more."""
    if lock is None:
        return ()
    declared = _declared_or_retired(desired, tenant)
    found = []
    for locked in lock.groups:
        group = _locate(tenant, locked)
        if group is not None and group.id not in declared:
            found.append(Released(group, locked.protect))
    return tuple(found)


def retired_protected(desired: DesiredState, lock: GroupLock | None) -> tuple[RetiredGroup, ...]:
    """Retired groups whose protection the lock still records."""
    if lock is None:
        return ()
    return tuple(
        item
        for item in desired.retired
        if (locked := lock.find(item.displayName, item.id)) is not None and locked.protect
    )


def _locate(tenant: Tenant, locked: LockedGroup) -> Group | None:
    if locked.id:
        group = find_group(tenant, locked.displayName, locked.id)
        if group is not None:
            return group
    return find_group(tenant, locked.displayName, None)
