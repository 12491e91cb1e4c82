"""From a checked policy to a DesiredState: names resolved against the tenant.

Every stage reports every problem of every file: a file that can't be read doesn't stop the
others from being checked, and a value a stage found wrong is skipped, not reported again, by
the stages after it (`broken`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.errors import Location
from reconciler.lookup import Catalog
from reconciler.model import DYNAMIC_MEMBERSHIP, UNIFIED, Sku, Tenant
from reconciler.policy.characters import character_errors
from reconciler.policy.desired import (
    ON,
    DesiredGroup,
    DesiredLicense,
    DesiredState,
    RetiredGroup,
    Settings,
)
from reconciler.policy.directory import directory_errors
from reconciler.policy.errors import PolicyError, closest, in_order, raise_all, with_code
from reconciler.policy.group_lock import GroupLock, load_group_lock
from reconciler.policy.lock import SkuLock, load_lock, lock_skus
from reconciler.policy.merge import load_sources
from reconciler.policy.prices import PriceEntry, price_entries, resolve_prices
from reconciler.policy.schema import check, intact_items, is_broken, is_whole, where
from reconciler.policy.source import LOCK_NAME, Pointer, Positions
from reconciler.rules import parse
from reconciler.rules.properties import graph_properties

UNKNOWN_PLAN = "unknown-service-plan"  # its code (reconciler/codes.py)


@dataclass(frozen=True)
class LoadedPolicy:
    """A policy read, merged and checked (schema, rules), its names not yet resolved.

    `lock` is its skus.lock.yaml and `group_lock` its groups.lock.yaml, each None when it has
    none (or it wasn't asked for).
    """

    document: Mapping[str, Any]
    positions: Positions
    lock: SkuLock | None = None
    group_lock: GroupLock | None = None
    # found offline and kept for resolve() to report with the names (load_policy(keep_going))
    problems: tuple[PolicyError, ...] = ()
    broken: frozenset[Pointer] = frozenset()  # paths of the values those problems are about
    prices: tuple[PriceEntry, ...] = ()  # settings.prices, after its prices file's

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(self.positions.texts)

    def user_properties(self) -> frozenset[str]:
        """What the policy's rules read of users, in Graph's names: what a tenant read needs."""
        names: set[str] = set()
        groups = self.document.get("groups", ())
        for index, group in enumerate(groups if isinstance(groups, list) else ()):
            text = group.get("membershipRule") if isinstance(group, dict) else None
            if isinstance(text, str) and text and is_whole(("groups", index), self.broken):
                rule = parse(text)  # checked when loaded: it parses
                if rule.object_type == "user":
                    names |= graph_properties(rule)
        return frozenset(names)


def load_policy(
    path: str | os.PathLike[str], with_lock: bool = True, *, keep_going: bool = False
) -> LoadedPolicy:
    """Read every policy file under `path` and check it, offline; PolicyError if invalid.

    With `with_lock`, the lock file is read too (an unreadable lock is a PolicyError);
    `reconciler lock` reads without it, as it rewrites the lock whatever it holds. With
    `keep_going`, problems are kept in `problems` for resolve() to report with the names'.
    """
    merged = load_sources(Path(path))
    # names with control or bidirectional characters, at the character: the schema skips them
    refused, places = character_errors(merged.document, merged.positions)
    errors, broken = check(merged.document, merged.positions, merged.broken | places)
    prices, price_problems = price_entries(merged.document, merged.positions, broken)
    problems = [*merged.errors, *refused, *errors, *price_problems]
    lock, group_lock = None, None
    if with_lock:
        try:
            lock = load_lock(Path(path))
        except PolicyError as error:
            problems.extend(error.errors)
        try:
            group_lock = load_group_lock(Path(path))
        except PolicyError as error:
            problems.extend(with_code(error.errors, "invalid-group-lock"))
    if not keep_going:
        raise_all(problems)
    return LoadedPolicy(
        merged.document, merged.positions, lock, group_lock, in_order(problems), broken, prices
    )


def resolve(
    policy: LoadedPolicy, skus: Sequence[Sku], *, tenant: Tenant | None = None
) -> DesiredState:
    """The DesiredState of `policy` in a tenant with `skus` (its subscribedSkus).

    With `tenant`, static members, pinned ids and retired groups are looked up in its users
    and groups too, and the policy's `tenant` pin is checked against it. PolicyError with
    every problem: the policy's own (`problems`) and the names'.
    """
    resolver = _Resolver(policy, skus)
    document = policy.document
    groups = [
        resolver.group(group, ("groups", index))
        for index, group in resolver.items(("groups",), document.get("groups", []))
    ]
    retired = tuple(
        RetiredGroup(item["displayName"], _guid(item.get("id")), resolver.at(("retired", index)))
        for index, item in resolver.items(("retired",), document.get("retired", []))
        if resolver.whole(("retired", index))
    )
    settings = document.get("settings", {})
    if not isinstance(settings, dict) or not resolver.intact(("settings",)):
        settings = {}
    exclusive = tuple(
        resolver.plan_set(names, ("settings", "mutuallyExclusivePlans", index))
        for index, names in resolver.items(
            ("settings", "mutuallyExclusivePlans"), settings.get("mutuallyExclusivePlans", [])
        )
        if resolver.whole(("settings", "mutuallyExclusivePlans", index))
    )
    dependent = tuple(
        (
            resolver.plan_id(
                item["servicePlan"], ("settings", "dependentPlans", index, "servicePlan")
            ),
            resolver.plan_set(item["requires"], ("settings", "dependentPlans", index, "requires")),
        )
        for index, item in resolver.items(
            ("settings", "dependentPlans"), settings.get("dependentPlans", [])
        )
        if resolver.whole(("settings", "dependentPlans", index))
    )
    prices, price_errors = resolve_prices(policy.prices, skus)
    resolver.errors += price_errors
    if tenant is not None:
        resolver.errors += directory_errors(policy, tenant)
    raise_all([*policy.problems, *resolver.errors])
    return DesiredState(
        tenant=document.get("tenant"),
        settings=Settings(
            maxLicenseRemovals=settings.get("maxLicenseRemovals"),
            maxMembershipDropPercent=settings.get("maxMembershipDropPercent"),
            mutuallyExclusivePlans=exclusive,
            dependentPlans=dependent,
            prices=prices,
        ),
        # a group is None only where a problem was found, and then this isn't reached
        groups=tuple(group for group in groups if group is not None),
        retired=retired,
        lock=policy.lock,
        groupLock=policy.group_lock,
    )


def check_offline(policy: LoadedPolicy) -> None:
    """PolicyError with every problem found without a tenant: the policy's own and, when it has
    a skus.lock.yaml, the SKUs and service plans its groups name that the lock doesn't list.

    The plans in `settings` aren't checked: they may be of SKUs the policy doesn't assign,
    which the lock doesn't list.
    """
    errors = list(policy.problems)
    if policy.lock is not None:
        lock_file = policy.lock.file or LOCK_NAME
        resolver = _Resolver(policy, lock_skus(policy.lock), lock_file)
        for index, group in resolver.items(("groups",), policy.document.get("groups", [])):
            resolver.group(group, ("groups", index))
        errors += resolver.errors
    raise_all(errors)


def _guid(value: str | None) -> str | None:
    # Graph writes object ids in lower case; compare and store them that way
    return value.lower() if value is not None else None


class _Resolver:
    """Looks names up in the tenant's SKUs, collecting an error per unknown name.

    Values the policy's own problems are about are skipped: their shape is not known. With
    `lock_file`, `skus` are those the lock lists, and the messages say so.
    """

    def __init__(
        self, policy: LoadedPolicy, skus: Sequence[Sku], lock_file: str | None = None
    ) -> None:
        self.policy = policy
        self.broken = policy.broken
        self.skus = skus
        self.lock_file = lock_file
        self.catalog = Catalog(skus)
        self.errors: list[PolicyError] = []

    def plan_set(self, names: Sequence[str], path: Pointer) -> frozenset[str]:
        """Service plans named by servicePlanName or servicePlanId in any of the tenant's SKUs."""
        found = (self.plan_id(name, (*path, index)) for index, name in enumerate(names))
        return frozenset(plan for plan in found if plan)

    def plan_id(self, name: str, path: Pointer) -> str:
        """The servicePlanId of a plan named in any of the tenant's SKUs; "" if unknown."""
        plan = self.catalog.plan(name)
        if plan is not None:
            return plan.servicePlanId.lower()
        self.error(path, self.catalog.unknown_plan(name), UNKNOWN_PLAN)
        return ""

    def unknown_sku(self, name: str) -> str:
        if self.lock_file is None:
            return self.catalog.unknown_sku(name)
        # the lock lists only the SKUs the policy assigned when it was written: a new one is
        # most likely missing from it, not from the tenant
        names = self.catalog.sku_names()
        listed = f"which lists: {', '.join(names)}" if names else "which lists no SKU"
        return (
            f"unknown SKU '{name}'{closest(name, names)}; checked against {self.lock_file}, "
            f"{listed}; run `reconciler lock` if the tenant has it"
        )

    def unknown_plan(self, name: str, sku: Sku) -> str:
        message = self.catalog.unknown_plan(name, sku)
        if self.lock_file is None:
            return message
        # the lock lists a SKU's plans as they were when it was written
        return (
            f"{message}; checked against {self.lock_file}: run `reconciler lock` if Microsoft "
            "added it since"
        )

    def at(self, path: Pointer) -> Location:
        return self.policy.positions.location(path)

    def intact(self, path: Pointer) -> bool:
        """No problem was found at `path` or above it: the value has the shape the schema says."""
        return not is_broken(path, self.broken)

    def whole(self, path: Pointer) -> bool:
        """No problem was found at `path`, above it or anywhere inside it."""
        return is_whole(path, self.broken)

    def items(self, path: Pointer, value: Any) -> list[tuple[int, Any]]:
        """The intact entries, with their indexes, of the list `value` at `path`."""
        return intact_items(value, path, self.broken)

    def error(self, path: Pointer, message: str, code: str) -> None:
        prefix = where(path, self.policy.document)
        self.errors.append(PolicyError(f"{prefix}: {message}", self.at(path), code=code))

    def group(self, group: Mapping[str, Any], path: Pointer) -> DesiredGroup | None:
        """The group resolved; None when the policy has a problem in it (its licenses are still
        checked)."""
        licenses = []
        seen: dict[str, Location] = {}
        for index, entry in self.items((*path, "licenses"), group.get("licenses", [])):
            if not self.whole((*path, "licenses", index)):
                continue
            license_ = self.license(entry, (*path, "licenses", index))
            if license_ is None:
                continue
            first = seen.get(license_.skuId.casefold())
            if first is not None:
                sku_path = (*path, "licenses", index, "sku")
                message = f"{license_.skuPartNumber} is already listed at {first}"
                self.error(sku_path, message, "duplicate-license")
            else:
                seen[license_.skuId.casefold()] = license_.location
                licenses.append(license_)
        if not self.whole(path):
            return None
        rule = group.get("membershipRule")
        m365 = group.get("groupType", "security") == "m365"
        group_types = ((UNIFIED,) if m365 else ()) + ((DYNAMIC_MEMBERSHIP,) if rule else ())
        members = group.get("members")
        return DesiredGroup(
            displayName=group["displayName"],
            id=_guid(group.get("id")),
            description=group.get("description"),
            # group licensing needs securityEnabled; a Microsoft 365 group is created with it
            securityEnabled=True,
            mailEnabled=m365,
            groupTypes=group_types,
            membershipRule=rule.strip() if rule else None,
            membershipRuleProcessingState=group.get("membershipRuleProcessingState", ON)
            if rule
            else None,
            members=None if members is None else _unique_members(members),
            licenses=tuple(licenses),
            protect=group.get("protect", False),
            location=self.at(path),
        )

    def license(self, entry: Mapping[str, Any], path: Pointer) -> DesiredLicense | None:
        name = entry["sku"]
        sku = self.catalog.sku(name)
        if sku is None:
            self.error((*path, "sku"), self.unknown_sku(name), "unknown-sku")
            return None
        mode = "enabledPlans" if "enabledPlans" in entry else "disabledPlans"
        chosen: set[str] = set()
        for index, plan_name in enumerate(entry.get(mode, [])):
            plan = self.catalog.plan(plan_name, sku)
            if plan is None:
                self.error((*path, mode, index), self.unknown_plan(plan_name, sku), UNKNOWN_PLAN)
            else:
                chosen.add(plan.servicePlanId)
        if mode == "enabledPlans":
            # allow-list: every other plan is off, so a plan Microsoft adds later arrives off
            everything = {plan.servicePlanId for plan in sku.servicePlans}
            disabled, enabled = frozenset(everything - chosen), frozenset(chosen)
        else:
            disabled, enabled = frozenset(chosen), None
        return DesiredLicense(sku.skuId, sku.skuPartNumber, disabled, enabled, self.at(path))


def _unique_members(members: Sequence[str]) -> tuple[str, ...]:
    """Members without repeats; UPNs and object ids compare ignoring case, as in Entra."""
    seen: dict[str, str] = {}
    for member in members:
        seen.setdefault(member.casefold(), member.lower() if "@" not in member else member)
    return tuple(seen.values())
