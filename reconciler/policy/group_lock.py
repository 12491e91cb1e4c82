"""groups.lock.yaml: the groups the policy manages, with their ids and protection.

The memory of what was managed lives in the repository, beside the policy, so a fresh clone in a
stateless CI job has it. `reconciler lock` (and `import`) writes it; the plan reads it to say
which groups leave management, to keep matching a group renamed on either side by its id, to
keep a protection that a removed or retired block can no longer state (plan/managed.py), and to
know a retired group it saw as deleted since rather than as a name that never matched.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from reconciler.errors import Location
from reconciler.jsonschemas import load_schema
from reconciler.model import Group, Tenant
from reconciler.policy.errors import PolicyError, raise_all
from reconciler.policy.lock import lock_yaml, with_hint, write_lock_file
from reconciler.policy.schema import schema_errors
from reconciler.policy.source import GROUP_LOCK_NAME, Positions, read_file

if TYPE_CHECKING:
    from reconciler.policy.desired import DesiredState, RetiredGroup

FORMAT_VERSION = 1
_HEADER = """\
# The groups the policy manages, as `reconciler lock` recorded them. Commit it with the
# policies: `reconciler plan` says when a group here leaves management, keeps matching a renamed
# group by its id, and keeps a group's protection until it is removed in a change of its own.
"""


@dataclass(frozen=True, slots=True)
class LockedGroup:
    """One managed group: its name, its object id (None before it exists) and protection."""

    displayName: str
    id: str | None
    protect: bool = False
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class GroupLock:
    """Every group the lock records, sorted by displayName; `retired`: the retired groups it
    saw in the tenant, so that one deleted since is known as done."""

    groups: tuple[LockedGroup, ...]
    file: str | None = None
    retired: tuple[LockedGroup, ...] = ()

    def find(self, display_name: str, group_id: str | None) -> LockedGroup | None:
        """The managed entry with that id, else the one of that displayName (ignoring case)."""
        return _find(self.groups, display_name, group_id)

    def find_retired(self, display_name: str, group_id: str | None) -> LockedGroup | None:
        """The retired entry with that id, else the one of that displayName (ignoring case)."""
        return _find(self.retired, display_name, group_id)


def _find(
    entries: tuple[LockedGroup, ...], display_name: str, group_id: str | None
) -> LockedGroup | None:
    if group_id:
        wanted = group_id.lower()
        found = next((g for g in entries if g.id and g.id.lower() == wanted), None)
        if found is not None:
            return found
    name = display_name.lower()
    return next((g for g in entries if g.displayName.lower() == name), None)


@dataclass(frozen=True, slots=True)
class Kept:
    """A protected entry `lock` keeps although the policy no longer says so, and why."""

    group: LockedGroup
    reason: str


@dataclass(frozen=True, slots=True)
class GroupLockUpdate:
    path: Path
    lock: GroupLock
    previous: GroupLock | None
    added: tuple[LockedGroup, ...]
    dropped: tuple[LockedGroup, ...]
    kept: tuple[Kept, ...]
    written: bool


def group_lock_path(policy: Path) -> Path:
    """Where the group lock of the policy at `policy` is: in the folder, or beside the file."""
    return policy.parent / GROUP_LOCK_NAME if policy.is_file() else policy / GROUP_LOCK_NAME


def build_group_lock(
    desired: DesiredState,
    tenant: Tenant,
    previous: GroupLock | None,
    losing: Collection[str] = (),
) -> tuple[GroupLock, tuple[Kept, ...]]:
    """The lock of `desired` in `tenant`, and the protected entries of `previous` it keeps.

    A protection goes only in a change of its own: an entry stays protected while its block is
    gone or retired, or while the plan takes licenses away through it (`losing`: group ids).
    """
    by_id = {g.id.lower(): g for g in tenant.groups}
    by_name = {g.displayName.lower(): g for g in tenant.groups}
    entries: dict[str, LockedGroup] = {}
    kept: list[Kept] = []
    for wanted in desired.groups:
        if wanted.id:
            group = by_id.get(wanted.id.lower())
        else:
            group = by_name.get(wanted.displayName.lower())
        group_id = group.id if group is not None else wanted.id
        old = previous.find(wanted.displayName, group_id) if previous else None
        protect = wanted.protect
        if old is not None and old.protect and not protect and group_id in losing:
            protect = True
            reason = "the plan takes licenses away through it; remove the protection first"
            kept.append(Kept(old, reason))
        entries[wanted.displayName.lower()] = LockedGroup(wanted.displayName, group_id, protect)
    for old in previous.groups if previous else ():
        if not old.protect or _listed(old, entries.values()):
            continue
        where = "is retired" if _listed(old, desired.retired) else "is no longer in the policy"
        kept.append(Kept(old, f"it {where}; set `protect: false` in its block first"))
        entries.setdefault(old.displayName.lower(), LockedGroup(old.displayName, old.id, True))
    retired = _retired_entries(desired, by_id, by_name, previous)
    return GroupLock(_sorted(entries.values()), retired=_sorted(retired)), tuple(kept)


def _retired_entries(
    desired: DesiredState,
    by_id: dict[str, Group],
    by_name: dict[str, Group],
    previous: GroupLock | None,
) -> list[LockedGroup]:
    """The retired groups with their ids: pinned, seen by the previous lock (the group may be
    gone since), or found in the tenant as the plan finds them."""
    entries = []
    for item in desired.retired:
        seen = previous.find_retired(item.displayName, None) if previous else None
        managed = previous.find(item.displayName, None) if previous else None
        group_id = item.id or (seen.id if seen else None)
        if group_id is None:
            group = by_id.get(managed.id.lower()) if managed and managed.id else None
            group = group or by_name.get(item.displayName.lower())
            group_id = group.id if group else None
        if group_id:
            entries.append(LockedGroup(item.displayName, group_id.lower()))
    return entries


def _sorted(entries: Iterable[LockedGroup]) -> tuple[LockedGroup, ...]:
    return tuple(sorted(entries, key=lambda g: (g.displayName.casefold(), g.id or "")))


def _listed(old: LockedGroup, entries: Iterable[LockedGroup | RetiredGroup]) -> bool:
    """Whether one of `entries` is the group `old`: the same id, or the same name."""
    return any(
        (old.id and entry.id and entry.id.lower() == old.id.lower())
        or entry.displayName.lower() == old.displayName.lower()
        for entry in entries
    )


def group_lock_text(lock: GroupLock) -> str:
    """The lock as YAML: sorted, one entry per group, the same on any machine."""
    groups: list[dict[str, Any]] = []
    for group in lock.groups:
        entry: dict[str, Any] = {"displayName": group.displayName, "id": group.id}
        if group.protect:
            entry["protect"] = True
        groups.append(entry)
    document: dict[str, Any] = {"formatVersion": FORMAT_VERSION, "groups": groups}
    if lock.retired:
        document["retired"] = [{"displayName": g.displayName, "id": g.id} for g in lock.retired]
    return lock_yaml(_HEADER, document)


def read_group_lock(path: Path) -> GroupLock:
    """Read a group lock; PolicyError with every problem found, each at file:line:column."""
    name = str(path)
    source = read_file(path, name, kind="lock file", keys="formatVersion, groups, retired")
    document, positions = source.document, Positions(source.entries, {name: source.text})
    schema = load_schema("groups-lock.schema.json")
    errors = [
        problem
        for error in Draft202012Validator(schema).iter_errors(document)
        for problem in schema_errors(error, document, positions)
    ]
    raise_all(errors)
    entries = {
        section: tuple(
            LockedGroup(
                item["displayName"],
                item["id"].lower() if item.get("id") else None,
                bool(item.get("protect", False)),
                positions.location((section, index)),
            )
            for index, item in enumerate(document.get(section, []))
        )
        for section in ("groups", "retired")
    }
    return GroupLock(entries["groups"], name, entries["retired"])


def load_group_lock(policy: Path) -> GroupLock | None:
    """The group lock of the policy at `policy`, or None when it has none yet."""
    path = group_lock_path(policy)
    if not path.exists():
        return None
    try:
        return read_group_lock(path)
    except PolicyError as error:
        # it can't be written anew: what it remembers is not derived from anything
        raise with_hint(error, "; mend it by hand, keeping every `protect: true`") from error


def update_group_lock(
    policy: Path, desired: DesiredState, tenant: Tenant, losing: Collection[str] = ()
) -> GroupLockUpdate:
    """Write the group lock of `desired` in `tenant` beside the policy at `policy`.

    `losing` names the groups (ids) the current plan takes licenses away through. Unlike the
    SKU lock, an unreadable group lock is an error: the protections it remembers can't be
    derived again.
    """
    path = group_lock_path(policy)
    previous, old_text = None, None
    if path.exists():
        previous = read_group_lock(path)
        old_text = path.read_text(encoding="utf-8-sig")
    lock, kept = build_group_lock(desired, tenant, previous, losing)
    text = group_lock_text(lock)
    written = text != old_text
    if written:
        write_lock_file(path, text)
    before = previous.groups if previous else ()
    added = tuple(g for g in lock.groups if not _listed(g, before))
    dropped = tuple(g for g in before if not _listed(g, lock.groups))
    return GroupLockUpdate(path, lock, previous, added, dropped, kept, written)
