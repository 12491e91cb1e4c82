"""A policy for groups a tenant already has: which groups, and the YAML that declares each.

Pure: a Tenant and what the existing policy declares in, PolicyFiles out. Every file reads back
(load_policy, resolve) as the group is, so a plan against the same tenant has no changes; what
a policy can't state without a change is left out and said, never guessed.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from reconciler.directory_audit import is_object_id
from reconciler.engine.membership import parsed_rule
from reconciler.errors import ReconcilerError
from reconciler.importer_yaml import PolicyFile, policy_files, tenant_name
from reconciler.model import Group, Sku, Tenant
from reconciler.plan.diff import find_group
from reconciler.policy.characters import refused_in
from reconciler.policy.errors import closest
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.rules import MAX_RULE_LENGTH, RuleError
from reconciler.rules.ast import MemberOf


class ImportRefusedError(ReconcilerError):
    """The groups asked for can't be imported: unknown, ambiguous, or named like another."""


@dataclass(frozen=True, slots=True)
class Declared:
    """A group the existing policy declares (or retires), as written there."""

    displayName: str
    id: str | None
    where: str  # the file:line:column of its entry
    retired: bool = False


@dataclass(frozen=True, slots=True)
class Choice:
    """Which groups to import: `names` (--group), `every` security group (--all), else the
    licensed ones; `allowList` writes enabledPlans instead of Graph's disabledPlans."""

    names: tuple[str, ...] = ()
    every: bool = False
    allowList: bool = False


@dataclass(frozen=True, slots=True)
class Dependency:
    """An imported group reads another: a memberOf rule's source, or a nested group."""

    group: str  # displayName of the group that depends
    on: str  # displayName of the group it reads, or its id when the tenant lacks it
    id: str  # the id of the group it reads
    via: Literal["rule", "member"]
    outcome: str  # "imported", "already declared", or why it isn't imported

    def __str__(self) -> str:
        if self.via == "rule":
            return f"{self.group}'s rule reads the members of {self.on}"
        return f"{self.group} has {self.on} as a member"


@dataclass(frozen=True, slots=True)
class Skipped:
    """A group not imported, and why."""

    displayName: str
    id: str
    reason: str


@dataclass(frozen=True, slots=True)
class Import:
    """What `reconciler import` writes and what it says about the groups it didn't."""

    files: tuple[PolicyFile, ...]
    groups: tuple[Group, ...]  # imported, in file order
    dependencies: tuple[Dependency, ...]
    declared: tuple[Skipped, ...]  # already in the policy
    leftOut: tuple[Skipped, ...]  # a policy can't declare them as they are
    notes: tuple[str, ...]  # what a reviewer should know about an imported group
    tenant: str | None  # the pin written to tenant.yaml, if any


def import_policy(
    tenant: Tenant,
    declared: Sequence[Declared],
    choice: Choice,
    pinned: bool,
    protected: Collection[str] = (),
    *,
    progress: Progress = NO_PROGRESS,
) -> Import:
    """The policy files declaring the groups `choice` names, and the groups they depend on.

    `declared` is what the existing policy declares or retires (skipped, and named); `pinned`
    whether it sets `tenant` already (else the pin is written, in tenant.yaml); `protected`
    the ids of groups its groups.lock.yaml keeps protected, imported with `protect: true`;
    `progress` hears of the groups chosen and the files written.
    """
    progress.stage("choosing the groups to import")
    owned = _declared_ids(tenant, declared)
    chosen = _chosen(tenant, choice)
    skus = {sku.skuId.lower(): sku for sku in tenant.subscribedSkus}
    by_id = {group.id.lower(): group for group in tenant.groups}
    taken: dict[str, Group] = {}
    skipped: dict[str, Skipped] = {}
    left_out: dict[str, Skipped] = {}
    dependencies: list[Dependency] = []
    queue: deque[Group] = deque()

    def outcome(group: Group) -> str:
        key = group.id.lower()
        if key in owned:
            skipped.setdefault(key, Skipped(group.displayName, group.id, owned[key]))
            return "already declared"
        reason = _unfit(group, skus)
        if reason:
            left_out.setdefault(key, Skipped(group.displayName, group.id, reason))
            return f"not imported: {reason}"
        if key not in taken:
            taken[key] = group
            queue.append(group)
        return "imported"

    for group in chosen:
        outcome(group)
        if choice.names and group.id.lower() in left_out:
            reason = left_out[group.id.lower()].reason
            raise ImportRefusedError(f"--group: {group.displayName} can't be imported: {reason}")
    while queue:
        group = queue.popleft()
        for other_id, via in _reads(group, by_id):
            other = by_id.get(other_id.lower())
            if other is None:
                found = Dependency(group.displayName, other_id, other_id, via, "not in the tenant")
            else:
                name = other.displayName
                found = Dependency(group.displayName, name, other.id, via, outcome(other))
            dependencies.append(found)
    groups = sorted(taken.values(), key=lambda g: (g.displayName.casefold(), g.id.lower()))
    _check_names(groups, declared)
    pin = None if pinned or not groups else tenant_name(tenant)
    asked = {group.id.lower() for group in chosen}
    because = {  # the first reason for a group the admin didn't ask for
        found.id.lower(): str(found)
        for found in reversed(dependencies)
        if found.outcome == "imported" and found.id.lower() not in asked
    }
    files, notes = policy_files(
        groups,
        tenant,
        allow_list=choice.allowList,
        pin=pin,
        protected=protected,
        because=because,
        progress=progress,
    )
    return Import(
        tuple(files),
        tuple(groups),
        tuple(dependencies),
        tuple(skipped.values()),
        tuple(left_out.values()),
        tuple(notes),
        pin,
    )


def declared_groups(
    document: Mapping[str, Any], where: Callable[[tuple[str | int, ...]], object]
) -> tuple[Declared, ...]:
    """What a loaded policy's `document` declares or retires; `where(path)` gives a location."""
    return tuple(
        Declared(item["displayName"], item.get("id"), str(where((key, index))), key == "retired")
        for key in ("groups", "retired")
        for index, item in enumerate(document.get(key, ()))
    )


# --- which groups ------------------------------------------------------------------------------


def _declared_ids(tenant: Tenant, declared: Sequence[Declared]) -> dict[str, str]:
    """The tenant's groups the policy already declares, by id, with where it does."""
    owned: dict[str, str] = {}
    for entry in declared:
        group = find_group(tenant, entry.displayName, entry.id)
        if group is not None:
            done = "retired" if entry.retired else "declared"
            owned.setdefault(group.id.lower(), f"{done} by the policy at {entry.where}")
    return owned


def _chosen(tenant: Tenant, choice: Choice) -> list[Group]:
    if choice.names and choice.every:
        raise ImportRefusedError("give --group or --all, not both")
    if choice.every:
        return [group for group in tenant.groups if group.securityEnabled]
    if not choice.names:
        return [group for group in tenant.groups if group.assignedLicenses]
    return [_named(tenant, name) for name in choice.names]


def _named(tenant: Tenant, name: str) -> Group:
    """The group `--group name` means: by id, else by displayName ignoring case."""
    by_id = next((g for g in tenant.groups if g.id.lower() == name.lower()), None)
    if by_id is not None:
        return by_id
    named = [g for g in tenant.groups if g.displayName.casefold() == name.casefold()]
    if len(named) > 1:
        ids = ", ".join(g.id for g in named)
        raise ImportRefusedError(
            f"--group: {len(named)} groups are named {name} ({ids}); give an id"
        )
    if not named:
        hint = closest(name, (g.displayName for g in tenant.groups))
        raise ImportRefusedError(f"--group: no group '{name}' in the tenant{hint}")
    return named[0]


def _unfit(group: Group, skus: Mapping[str, Sku]) -> str | None:
    """Why a policy can't declare `group` as it is, or None when it can."""
    if not is_object_id(group.id):
        return f"its id {group.id} is not a GUID, so the policy can't pin it"
    if not group.securityEnabled:
        return "it isn't security-enabled, and a policy declares only groups that are"
    if refused_in("displayName", group.displayName) is not None:
        return (
            "its displayName holds a line break, control or bidirectional character, which a "
            "policy refuses: rename it in Entra first"
        )
    if group.description is not None and refused_in("description", group.description) is not None:
        return "its description holds a control or bidirectional character, which a policy refuses"
    for assigned in group.assignedLicenses:
        if assigned.skuId.lower() not in skus:
            return (
                f"it assigns SKU {assigned.skuId}, which the tenant's subscribedSkus don't list, "
                "and a policy names only subscribed SKUs"
            )
    if group.is_dynamic:
        rule = group.membershipRule or ""
        if not rule.strip():
            return "it is dynamic but has no membership rule"
        if len(rule) > MAX_RULE_LENGTH:
            return f"its membership rule is longer than {MAX_RULE_LENGTH} characters"
        try:
            parsed_rule(rule)
        except RuleError as error:
            return f"reconciler can't read its membership rule: {error.message}"
    return None


def _reads(group: Group, by_id: Mapping[str, Group]) -> list[tuple[str, Literal["rule", "member"]]]:
    """The groups `group`'s membership reads: its memberOf rule's sources, its nested groups."""
    if group.is_dynamic:
        try:
            rule = parsed_rule(group.membershipRule or "")
        except RuleError:
            return []
        if isinstance(rule.body, MemberOf):
            return [(source, "rule") for source in rule.body.group_ids]
        return []
    return [(member, "member") for member in group.members if member.lower() in by_id]


def _check_names(groups: Sequence[Group], declared: Sequence[Declared]) -> None:
    """A policy names each group once, ignoring case, where Entra allows two groups one name:
    refuse rather than choose, naming both."""
    policy = {entry.displayName.casefold(): entry for entry in declared}
    imported: dict[str, Group] = {}
    for group in groups:
        key = group.displayName.casefold()
        this = f"{group.displayName} ({group.id})"
        if key in policy:
            entry = policy[key]
            raise ImportRefusedError(
                f"group {this} is named like the policy's group {entry.displayName} "
                f"({entry.where}), and a policy names each group once, ignoring case; rename "
                "one in Entra, or leave it out by naming the groups to import with --group"
            )
        if key in imported:
            other = imported[key]
            raise ImportRefusedError(
                f"groups {other.displayName} ({other.id}) and {this} have one name, and a "
                "policy names each group once, ignoring case; rename one in Entra, or import "
                "one of them with --group ID"
            )
        imported[key] = group
