"""The changes a plan makes to managed groups: one type per kind, each with before and after.

A plan is an ordered tuple of these; rendering and applying them are separate. Applying a change
to the groups alone (`apply_to_groups`) is what the engine needs to foresee the tenant after it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from reconciler.engine.licensing import check_deletable
from reconciler.errors import InputError
from reconciler.model import DYNAMIC_MEMBERSHIP, AssignedLicense, Group

# A group that doesn't exist yet has no object id; until apply creates it, it goes by this one.
NEW_ID_PREFIX = "new:"


def new_group_id(display_name: str) -> str:
    return NEW_ID_PREFIX + display_name.lower()


@dataclass(frozen=True, slots=True)
class CreateGroup:
    group: Group  # as created: name, type, rule or no members yet, no licenses yet

    # every change names its group by these two, so callers needn't tell creation apart
    @property
    def groupId(self) -> str:
        return self.group.id

    @property
    def displayName(self) -> str:
        return self.group.displayName


@dataclass(frozen=True, slots=True)
class UpdateGroup:
    """One property of a group set to a new value (description, membershipRule, ...)."""

    groupId: str
    displayName: str
    property: str
    before: object
    after: object
    # (property, before, after) set in the same request: Graph takes a group's groupTypes and
    # membershipRule only together when it becomes dynamic or static
    also: tuple[tuple[str, object, object], ...] = ()

    def values(self) -> dict[str, object]:
        """Every property this change sets, by name, to its new value."""
        return {self.property: self.after, **{name: after for name, _, after in self.also}}

    @property
    def turns_dynamic(self) -> bool:
        """A static group made dynamic: Entra drops every member, then evaluates the rule."""
        return (
            self.property == "groupTypes"
            and DYNAMIC_MEMBERSHIP in self.after  # type: ignore[operator]
            and DYNAMIC_MEMBERSHIP not in self.before  # type: ignore[operator]
        )

    @property
    def turns_static(self) -> bool:
        """A dynamic group made static: it keeps the members it has, so no one drops out."""
        return (
            self.property == "groupTypes"
            and DYNAMIC_MEMBERSHIP in self.before  # type: ignore[operator]
            and DYNAMIC_MEMBERSHIP not in self.after  # type: ignore[operator]
        )


@dataclass(frozen=True, slots=True)
class AddMembers:
    groupId: str
    displayName: str
    memberIds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RemoveMembers:
    groupId: str
    displayName: str
    memberIds: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AddLicense:
    groupId: str
    displayName: str
    license: AssignedLicense


@dataclass(frozen=True, slots=True)
class ChangeDisabledPlans:
    groupId: str
    displayName: str
    skuId: str
    before: frozenset[str]
    after: frozenset[str]


@dataclass(frozen=True, slots=True)
class RemoveLicense:
    groupId: str
    displayName: str
    skuId: str


@dataclass(frozen=True, slots=True)
class DeleteGroup:
    groupId: str
    displayName: str


Change = (
    CreateGroup
    | UpdateGroup
    | AddMembers
    | RemoveMembers
    | AddLicense
    | ChangeDisabledPlans
    | RemoveLicense
    | DeleteGroup
)


# changes to a group's licenses: one `assignLicense` can carry several of one group
LicenseChange = AddLicense | ChangeDisabledPlans | RemoveLicense


def apply_to_groups(
    groups: Mapping[str, Group], changes: Iterable[Change]
) -> dict[str, Group | None]:
    """The groups (by id) that `changes` create, change or delete (None), after all of them."""
    edited: dict[str, Group | None] = {}

    def current(group_id: str) -> Group:
        group = edited.get(group_id, groups.get(group_id))
        if group is None:  # a saved plan applied to a tenant that no longer has the group
            raise InputError(f"the plan changes group {group_id}, which the tenant doesn't have")
        return group

    for change in changes:
        if isinstance(change, CreateGroup):
            edited[change.group.id] = change.group
        elif isinstance(change, DeleteGroup):
            check_deletable(current(change.groupId))
            edited[change.groupId] = None
        elif isinstance(change, UpdateGroup):
            edited[change.groupId] = replace(current(change.groupId), **change.values())
        elif isinstance(change, AddMembers | RemoveMembers):
            group = current(change.groupId)
            if isinstance(change, AddMembers):
                members = group.members + tuple(
                    m for m in change.memberIds if m not in group.members
                )
            else:
                members = tuple(m for m in group.members if m not in change.memberIds)
            edited[change.groupId] = replace(group, members=members)
        else:
            edited[change.groupId] = _with_license_change(current(change.groupId), change)
    return edited


def _with_license_change(group: Group, change: LicenseChange) -> Group:
    licenses = [assigned for assigned in group.assignedLicenses if assigned.skuId != _sku(change)]
    if isinstance(change, AddLicense):
        licenses.append(change.license)
    elif isinstance(change, ChangeDisabledPlans):
        licenses.append(AssignedLicense(change.skuId, change.after))
    return replace(group, assignedLicenses=tuple(sorted(licenses, key=lambda a: a.skuId)))


def _sku(change: LicenseChange) -> str:
    return change.license.skuId if isinstance(change, AddLicense) else change.skuId


# group properties whose change makes Entra evaluate the group's members and licenses again
MEMBERSHIP_PROPERTIES = frozenset(
    {"membershipRule", "membershipRuleProcessingState", "groupTypes", "securityEnabled"}
)


def reprocesses(change: Change) -> bool:
    """Whether Entra processes the group's licenses again after `change`."""
    if isinstance(change, UpdateGroup):
        return bool(change.values().keys() & MEMBERSHIP_PROPERTIES)
    return isinstance(
        change, AddMembers | RemoveMembers | AddLicense | ChangeDisabledPlans | RemoveLicense
    )
