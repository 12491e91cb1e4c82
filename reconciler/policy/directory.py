"""The policy's names for the tenant's users and groups: static members, pinned ids, retired.

A retired entry names the group that apply deletes, so it is looked up with care:
- by its `id` when pinned: the tenant's group with that id, whose displayName must agree
  (ignoring case), since a wrong id would delete another group; a pinned id the tenant lacks
  means the group is gone (ids are never reused), unless a group of the entry's name is there;
- else by the id groups.lock.yaml saw it retired with: gone means deleted since (most likely
  by an earlier apply), and a group of its name created after is another group;
- else by the id groups.lock.yaml recorded while managing it (a group renamed in the tenant),
  else by displayName, ignoring case; two groups of that name are ambiguous;
- a name matching nothing is an error, with the closest name the policy doesn't claim, since a
  typo here would leave the group meant in place. Without groups.lock.yaml there is no memory
  to tell a deleted group from a typo: the name is taken as deleted already unless a group the
  policy doesn't claim has a name so close that it looks like a typo.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.model import Group, Tenant
from reconciler.policy.errors import PolicyError, closest
from reconciler.policy.schema import intact_items, is_broken, is_whole, where
from reconciler.policy.source import Pointer

if TYPE_CHECKING:  # resolve.py imports this module
    from reconciler.policy.resolve import LoadedPolicy

# Without a group lock, how alike a retired name and a tenant group's must be to take the first
# for a typo. Names share prefixes by convention (LIC-...), so difflib's 0.6 would call most close.
TYPO = 0.85
AMBIGUOUS = "retired-group-ambiguous"  # its code (reconciler/codes.py)


def directory_errors(policy: LoadedPolicy, tenant: Tenant) -> list[PolicyError]:
    """Every member, pinned id and retired group of `policy` that `tenant` doesn't have, and a
    `tenant` pin naming another tenant."""
    directory = _Directory(policy, tenant)
    directory.check()
    return [*pin_errors(policy, tenant), *directory.errors]


def pin_errors(policy: LoadedPolicy, tenant: Tenant) -> list[PolicyError]:
    """The policy's `tenant` pin, when it names another tenant than `tenant`."""
    pinned = policy.document.get("tenant")
    if not isinstance(pinned, str) or is_broken(("tenant",), policy.broken):
        return []
    organization = tenant.organization
    names = {domain.lower() for domain in organization.verifiedDomains}
    if pinned.lower() in names or pinned.lower() == organization.id.lower():
        return []
    message = (
        f"the policy is for tenant {pinned}, but this tenant is "
        f"{organization.displayName} ({', '.join(organization.verifiedDomains)})"
    )
    location = policy.positions.location(("tenant",))
    return [PolicyError(message, location, code="tenant-mismatch")]


class _Directory:
    """Looks the policy's members, pinned ids and retired groups up in the tenant."""

    def __init__(self, policy: LoadedPolicy, tenant: Tenant) -> None:
        self.policy = policy
        self.document: Mapping[str, Any] = policy.document
        self.tenant = tenant
        self.by_id = {group.id.lower(): group for group in tenant.groups}
        self.by_name: dict[str, list[Group]] = {}
        for group in tenant.groups:
            self.by_name.setdefault(group.displayName.casefold(), []).append(group)
        self.pins: dict[str, Pointer] = {}  # tenant group id -> the declared entry pinning it
        self.members: set[str] | None = None  # UPNs and object ids, built when needed
        self.others: list[str] | None = None  # names of groups the policy doesn't name
        self.errors: list[PolicyError] = []

    def items(self, section: str) -> list[tuple[int, Any]]:
        return intact_items(self.document.get(section, []), (section,), self.policy.broken)

    def error(self, path: Pointer, message: str, code: str, at: Pointer | None = None) -> None:
        """A problem with the entry or value at `path`, shown at `at` (by default, `path`)."""
        location = self.policy.positions.location(at or path)
        message = f"{where(path, self.document)}: {message}"
        self.errors.append(PolicyError(message, location, code=code))

    def check(self) -> None:
        broken = self.policy.broken
        for index, group in self.items("groups"):
            path = ("groups", index)
            pin = group.get("id")
            if isinstance(pin, str) and not is_broken((*path, "id"), broken):
                if pin.lower() in self.by_id:
                    self.pins[pin.lower()] = path
                else:
                    message = f"the tenant has no group with id {pin}"
                    self.error((*path, "id"), message, "unknown-group-id")
            for number, member in intact_items(group.get("members"), (*path, "members"), broken):
                if isinstance(member, str) and not self.is_member(member):
                    self.error(
                        (*path, "members", number),
                        f"no user or group '{member}' in the tenant{self.closest_user(member)}",
                        "unknown-member",
                    )
        for index, item in self.items("retired"):
            path = ("retired", index)
            if not is_whole(path, broken):
                continue
            pin = item.get("id")
            group = self.retired(item["displayName"], pin.lower() if pin else None, path)
            declared = self.pins.get(group.id.lower()) if group is not None else None
            if group is not None and declared is not None:
                self.error(
                    path,
                    f"the tenant's group {group.displayName} is declared at "
                    f"{self.policy.positions.location(declared)} by its id; it can't be "
                    "retired too",
                    "retired-group-declared",
                    (*path, "displayName"),
                )

    def retired(self, name: str, pin: str | None, path: Pointer) -> Group | None:
        """The tenant's group a retired entry deletes; None if none (or it is ambiguous)."""
        name_path, id_path = (*path, "displayName"), (*path, "id")
        lock = self.policy.group_lock
        if pin is None and lock is not None:
            seen = lock.find_retired(name, None)
            if seen is not None and seen.id:
                return self.seen(seen.id, name, path)
            managed = lock.find(name, None)
            if managed is not None and managed.id and managed.id.lower() in self.by_id:
                return self.by_id[managed.id.lower()]  # renamed in the tenant since
        if pin is not None:
            group = self.by_id.get(pin)
            namesakes = self.by_name.get(name.casefold(), [])
            if group is None and namesakes:
                self.error(
                    path,
                    f"the tenant has no group with id {pin}, but has a group '{name}' with id "
                    f"{namesakes[0].id}: pin that id, or remove this entry if the group is gone",
                    AMBIGUOUS,
                    id_path,
                )
            elif group is not None and group.displayName.casefold() != name.casefold():
                self.error(
                    path,
                    f"id {pin} is the tenant's group '{group.displayName}'; to retire (delete) "
                    "it, write its displayName as the tenant has it",
                    "retired-group-mismatch",
                    name_path,
                )
                return None
            return group
        found = self.by_name.get(name.casefold(), [])
        if len(found) > 1:
            message = f"the tenant has {len(found)} groups of that name; pin the one to retire"
            self.error(path, f"{message} with its id", AMBIGUOUS, name_path)
        elif not found:
            self.unmatched(name, path)
        return found[0] if len(found) == 1 else None

    def unmatched(self, name: str, path: Pointer) -> None:
        """A retired name like no tenant group's: an error with a group lock, which would have
        seen a group deleted since; without one, only when it is a typo apart from a name."""
        if self.policy.group_lock is not None:
            close = closest(name, self.unclaimed())
        elif not (close := closest(name, self.unclaimed(), TYPO)):
            return
        message = f"the tenant has no group of that name{close}"
        message += "; if it was deleted already, remove this entry"
        self.error(path, message, "retired-group-unknown", (*path, "displayName"))

    def seen(self, group_id: str, name: str, path: Pointer) -> Group | None:
        """The group groups.lock.yaml saw retired, by its id; gone means deleted since, and a
        namesake created after is another group, not retired unless pinned."""
        group = self.by_id.get(group_id.lower())
        namesakes = self.by_name.get(name.casefold(), [])
        if group is None and namesakes:
            self.error(
                path,
                f"groups.lock.yaml saw this group with id {group_id}, which the tenant no longer "
                f"has, but the tenant has another group '{name}' with id {namesakes[0].id}: pin "
                "that id to retire it too, or remove this entry",
                AMBIGUOUS,
                (*path, "displayName"),
            )
        return group

    def unclaimed(self) -> list[str]:
        """The names of the tenant's groups no entry of the policy names or pins."""
        if self.others is not None:
            return self.others
        named = {
            item["displayName"].casefold()
            for section in ("groups", "retired")
            for _, item in self.items(section)
            if isinstance(item, dict) and isinstance(item.get("displayName"), str)
        }
        self.others = [
            group.displayName
            for group in self.tenant.groups
            if group.displayName.casefold() not in named and group.id.lower() not in self.pins
        ]
        return self.others

    def is_member(self, member: str) -> bool:
        if self.members is None:
            # as plan/diff.py finds members: a user by UPN or id, or a group by id
            users = self.tenant.users
            self.members = {user.userPrincipalName.lower() for user in users}
            self.members |= {user.id.lower() for user in users} | set(self.by_id)
        return member.lower() in self.members

    def closest_user(self, member: str) -> str:
        if "@" not in member:
            return ""  # an object id: the closest id would be no help
        return closest(member, (user.userPrincipalName for user in self.tenant.users))
