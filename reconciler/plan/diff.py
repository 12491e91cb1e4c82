"""Desired state against the tenant as it is: the ordered changes that make one the other.

Only groups the policy declares are touched: groups it lists under `groups` are created or
brought in line, groups under `retired` lose their licenses and are deleted; every other group
of the tenant is read, never changed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from functools import cached_property

from deepdiff import DeepDiff

from reconciler.errors import InputError
from reconciler.model import DYNAMIC_MEMBERSHIP, UNIFIED, AssignedLicense, Group, Tenant
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    new_group_id,
)
from reconciler.policy.desired import DesiredGroup, DesiredState

# Group properties the policy sets, compared one by one, in the order they are applied.
_PROPERTIES = (
    "displayName",
    "description",
    "securityEnabled",
    "groupTypes",
    "membershipRule",
    "membershipRuleProcessingState",
)
_PROCESSING = "membershipRuleProcessingState"


def diff(desired: DesiredState, tenant: Tenant) -> tuple[Change, ...]:
    """The changes that bring `tenant` in line with `desired`, group by group.

    Each group's changes come in an order the tenant accepts (created before its members are
    added, licenses removed before it is deleted); plan/order.py orders them across groups.
    """
    changes: list[Change] = []
    claimed: dict[str, DesiredGroup] = {}
    directory = _Directory(tenant)
    for wanted in desired.groups:
        existing = find_group(tenant, wanted.displayName, wanted.id)
        if existing is None and wanted.id:
            raise InputError(
                f"group {wanted.displayName} is pinned to id {wanted.id}, "
                "but the tenant has no group with that id",
                wanted.location,
            )
        if existing is None:
            changes.extend(_create(wanted, directory))
            continue
        other = claimed.setdefault(existing.id.lower(), wanted)
        if other is not wanted:
            raise InputError(
                f"group {wanted.displayName} and group {other.displayName} ({other.location}) "
                f"both name the tenant's group {existing.displayName}",
                wanted.location,
            )
        changes.extend(_update(wanted, existing, directory))
    for retired in desired.retired:
        existing = find_group(tenant, retired.displayName, retired.id)
        if existing is not None:
            changes.extend(
                RemoveLicense(existing.id, existing.displayName, assigned.skuId)
                for assigned in existing.assignedLicenses
            )
            changes.append(DeleteGroup(existing.id, existing.displayName))
    return tuple(changes)


def find_group(tenant: Tenant, display_name: str, group_id: str | None) -> Group | None:
    """The tenant's group pinned by id, else the first of that displayName (ignoring case)."""
    by_id, by_name = _group_index(tenant.groups)
    if group_id:
        return by_id.get(group_id.lower())
    return by_name.get(display_name.lower())


# the indexes of the last few tenants' groups: a plan looks up every policy group in the tenant
# before and after its changes, several times over
_GROUP_INDEXES: dict[int, tuple[tuple[Group, ...], dict[str, Group], dict[str, Group]]] = {}


def _group_index(groups: tuple[Group, ...]) -> tuple[dict[str, Group], dict[str, Group]]:
    """The groups by lower-case id and by lower-case displayName (the first of each)."""
    found = _GROUP_INDEXES.get(id(groups))
    if found is None or found[0] is not groups or not isinstance(groups, tuple):
        by_id: dict[str, Group] = {}
        by_name: dict[str, Group] = {}
        for group in groups:
            by_id.setdefault(group.id.lower(), group)
            by_name.setdefault(group.displayName.lower(), group)
        if len(_GROUP_INDEXES) >= 4:
            _GROUP_INDEXES.pop(next(iter(_GROUP_INDEXES)))
        # held with the tuple, so that its id can't be another's while the entry lives
        found = _GROUP_INDEXES[id(groups)] = (groups, by_id, by_name)
    return found[1], found[2]


def _create(wanted: DesiredGroup, directory: _Directory) -> Iterator[Change]:
    group_id = new_group_id(wanted.displayName)
    yield CreateGroup(
        Group(
            group_id,
            wanted.displayName,
            description=wanted.description,
            groupTypes=wanted.groupTypes,
            securityEnabled=wanted.securityEnabled,
            membershipRule=wanted.membershipRule,
            membershipRuleProcessingState=wanted.membershipRuleProcessingState,
        )
    )
    if wanted.members:
        yield AddMembers(group_id, wanted.displayName, directory.member_ids(wanted))
    for assigned in wanted.licenses:
        license = AssignedLicense(assigned.skuId, assigned.disabledPlans)
        yield AddLicense(group_id, wanted.displayName, license)


def _update(wanted: DesiredGroup, existing: Group, directory: _Directory) -> Iterator[Change]:
    if (UNIFIED in existing.groupTypes) != (UNIFIED in wanted.groupTypes):
        kinds = ("a Microsoft 365 group", "a security group")
        was, want = kinds if UNIFIED in existing.groupTypes else kinds[::-1]
        raise InputError(
            f"group {existing.displayName} is {was} in the tenant and Entra can't make it "
            f"{want}; declare it with groupType {'m365' if want == kinds[0] else 'security'}",
            wanted.location,
        )
    if wanted.membershipRule is None and wanted.members is None:
        # a policy silent about membership leaves it as it is: dynamic with its rule, or not
        kept = tuple(t for t in existing.groupTypes if t == DYNAMIC_MEMBERSHIP)
        wanted = replace(wanted, groupTypes=(*wanted.groupTypes, *kept))
    managed = [
        name
        for name in _PROPERTIES
        # a policy silent about the description leaves it as it is, and a group found by its
        # name (ignoring case, as Entra does) has nothing to rename
        if not (name == "description" and wanted.description is None)
        and not (name == "displayName" and not wanted.id)
        and not (name in _FOLDED and wanted.membershipRule is None and wanted.members is None)
    ]
    changed = _changed_properties(
        {name: getattr(existing, name) for name in managed},
        {name: getattr(wanted, name) for name in managed},
    )
    updates = [
        UpdateGroup(
            existing.id, existing.displayName, name, getattr(existing, name), getattr(wanted, name)
        )
        for name in managed
        if name in changed
    ]
    updates = _with_conversion(updates)
    # Pausing goes first and resuming last, so a rule edited alongside is never evaluated in
    # between: apply then takes away exactly what the plan, which simulates all at once, shows.
    updates.sort(key=lambda u: u.property == _PROCESSING and u.after != "Paused")
    updates.sort(key=lambda u: not (u.property == _PROCESSING and u.after == "Paused"))
    yield from updates
    if wanted.members is not None and DYNAMIC_MEMBERSHIP not in wanted.groupTypes:
        members = directory.member_ids(wanted)
        current = {member.lower() for member in existing.members}
        added = tuple(m for m in members if m.lower() not in current)
        wanted_ids = {member.lower() for member in members}
        removed = tuple(m for m in existing.members if m.lower() not in wanted_ids)
        if added:
            yield AddMembers(existing.id, existing.displayName, added)
        if removed:
            yield RemoveMembers(existing.id, existing.displayName, removed)
    yield from _license_changes(wanted, existing)


def _with_conversion(updates: list[UpdateGroup]) -> list[UpdateGroup]:
    """A group turned dynamic or static sets its rule and processing in the same change.

    Graph refuses a dynamic group without a rule, and a rule on a group that isn't dynamic.
    """
    kind = next(
        (
            u
            for u in updates
            if u.property == "groupTypes"
            and (DYNAMIC_MEMBERSHIP in u.before) != (DYNAMIC_MEMBERSHIP in u.after)  # type: ignore[operator]
        ),
        None,
    )
    if kind is None:
        return updates
    also = tuple((u.property, u.before, u.after) for u in updates if u.property in _FOLDED)
    return [replace(u, also=also) if u is kind else u for u in updates if u.property not in _FOLDED]


_FOLDED = ("membershipRule", _PROCESSING)


def _changed_properties(before: dict[str, object], after: dict[str, object]) -> set[str]:
    """The properties whose values differ; groupTypes is a set, so its order doesn't count."""
    found = DeepDiff(before, after, ignore_order=True, view="tree")
    return {level.path(output_format="list")[0] for report in found.values() for level in report}


def _license_changes(wanted: DesiredGroup, existing: Group) -> Iterator[Change]:
    current = {assigned.skuId.lower(): assigned for assigned in existing.assignedLicenses}
    desired = {assigned.skuId.lower(): assigned for assigned in wanted.licenses}
    for key, assigned in desired.items():
        if key not in current:
            license = AssignedLicense(assigned.skuId, assigned.disabledPlans)
            yield AddLicense(existing.id, existing.displayName, license)
        elif current[key].disabledPlans != assigned.disabledPlans:
            yield ChangeDisabledPlans(
                existing.id,
                existing.displayName,
                current[key].skuId,
                current[key].disabledPlans,
                assigned.disabledPlans,
            )
    for key, assigned in current.items():
        if key not in desired:
            yield RemoveLicense(existing.id, existing.displayName, assigned.skuId)


class _Directory:
    """The tenant's users and groups by UPN and object id, looked up without regard to case;
    made once a policy names members, and once for all its groups."""

    def __init__(self, tenant: Tenant) -> None:
        self._tenant = tenant

    @cached_property
    def _by_name(self) -> dict[str, str]:
        found = {user.id.lower(): user.id for user in self._tenant.users}
        found.update({group.id.lower(): group.id for group in self._tenant.groups})
        # a UPN first, as before: an id never looks like one
        found.update({user.userPrincipalName.lower(): user.id for user in self._tenant.users})
        return found

    def member_ids(self, wanted: DesiredGroup) -> tuple[str, ...]:
        """Members named by UPN or object id, as object ids; an unknown one is an input error."""
        ids = []
        for member in wanted.members or ():
            found = self._by_name.get(member.lower())
            if found is None:
                raise InputError(
                    f"group {wanted.displayName}: no user or group '{member}' in the tenant",
                    wanted.location,
                )
            ids.append(found)
        return tuple(ids)
