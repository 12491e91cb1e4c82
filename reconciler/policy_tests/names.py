"""Policy tests as written, their names looked up in the tenant: SKUs, service plans, groups
and users. An unknown name is an error at its line and column, never a test that fails.

Products, service plans and users are found as every command finds them (reconciler/lookup.py).
Only values the schema found whole are looked up (WrittenTest.whole), so a file with a schema
problem still has its names checked in the same run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from reconciler.errors import Location
from reconciler.lookup import Catalog, Directory
from reconciler.model import Group, Tenant
from reconciler.policy.errors import PolicyError, closest, raise_all
from reconciler.policy_tests.files import WrittenTest
from reconciler.policy_tests.new_user import new_user_attributes
from reconciler.policy_tests.spec import (
    LIMIT_KINDS,
    NEW_ASSIGNMENT_ERRORS,
    SERVICE_PLAN_REMOVALS,
    AbsentLicense,
    GroupRef,
    HeldLicense,
    Limit,
    PlanRef,
    PolicyTest,
    SeatFloor,
    SkuRef,
    UserExpectations,
)

Path = tuple[str | int, ...]


class Names:
    """The tenant's names, before and after the plan (a group the plan creates is known, and
    so is one it retires); every lookup that fails is kept in `errors`."""

    def __init__(self, before: Tenant, after: Tenant) -> None:
        self.catalog = Catalog(before.subscribedSkus)
        self.directory = Directory(before.users)
        self.by_id: dict[str, Group] = {}
        for group in (*after.groups, *before.groups):
            self.by_id.setdefault(group.id.casefold(), group)
        # Entra lets two groups share a displayName: a name is then ambiguous, never one of them
        self.by_name: dict[str, list[Group]] = {}
        for group in self.by_id.values():
            self.by_name.setdefault(group.displayName.casefold(), []).append(group)
        self.errors: list[PolicyError] = []

    def error(self, message: str, location: Location, code: str = "policy") -> None:
        self.errors.append(PolicyError(message, location, code=code))

    def sku(self, name: str, where: str, location: Location) -> SkuRef | None:
        found = self.catalog.sku(name)
        if found is None:
            self.error(f"{where}: {self.catalog.unknown_sku(name)}", location, "unknown-sku")
            return None
        return SkuRef(found.skuId, found.skuPartNumber)

    def plan(
        self, name: str, where: str, location: Location, sku: SkuRef | None = None
    ) -> PlanRef | None:
        """A service plan by name or id: of `sku` when given, else of any of the tenant's."""
        product = self.catalog.sku(sku.skuId) if sku is not None else None
        found = self.catalog.plan(name, product)
        if found is None:
            message = f"{where}: {self.catalog.unknown_plan(name, product)}"
            self.error(message, location, "unknown-service-plan")
            return None
        return PlanRef(found.servicePlanId.lower(), found.servicePlanName)

    def group(self, name: str, where: str, location: Location) -> GroupRef | None:
        """A group by object id, or by displayName when no other group has it too."""
        found = self.by_id.get(name.casefold())
        namesakes = self.by_name.get(name.casefold(), []) if found is None else [found]
        if len(namesakes) > 1:
            ids = ", ".join(sorted(group.id for group in namesakes))
            message = (
                f"{where}: {len(namesakes)} groups are named '{name}' (ids {ids}); "
                "give the object id of the one meant"
            )
            self.error(message, location)
            return None
        if not namesakes:
            names = sorted({g.displayName for g in self.by_id.values()}, key=str.casefold)
            message = (
                f"{where}: no group '{name}' in the tenant or the policy{closest(name, names)}"
            )
            self.error(message, location)
            return None
        return GroupRef(namesakes[0].id, namesakes[0].displayName)

    def user_id(self, name: str, where: str, location: Location) -> str:
        """The id of a user of the tenant by userPrincipalName or object id; "" if unknown."""
        found = self.directory.user(name)
        if found is None:
            self.error(f"{where}: {self.directory.unknown_user(name)}", location, "unknown-member")
            return ""
        return found.id


def resolve_tests(
    written: Sequence[WrittenTest],
    before: Tenant,
    after: Tenant,
    problems: Iterable[PolicyError] = (),
) -> list[PolicyTest]:
    """The tests with every name looked up; PolicyError with every unknown name and every
    problem the files had (`problems`), in file order."""
    names = Names(before, after)
    tests = [_test(test, names, before) for test in written]
    raise_all([*problems, *names.errors])
    return tests


class _Reader:
    """Looks up the names of one test, in the values the schema found whole."""

    def __init__(self, test: WrittenTest, names: Names) -> None:
        self.test = test
        self.names = names
        self.label = f"test '{test.name}'"

    def where(self, *path: str | int) -> str:
        text = ""
        for part in path:
            text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
        return f"{self.label}, {text}"

    def items(self, *path: str | int) -> list[tuple[int | None, Any, Path]]:
        """The whole entries of a list at `path` (or the one mapping given instead of a list,
        index None), each with its path."""
        value = self.value(path)
        if isinstance(value, dict):
            return [(None, value, path)] if self.test.whole(*path) else []
        entries = value if isinstance(value, list) else []
        return [
            (index, item, (*path, index))
            for index, item in enumerate(entries)
            if self.test.whole(*path, index)
        ]

    def value(self, path: Path) -> Any:
        """The value at `path` below the test; None where there is none."""
        value: Any = self.test.entry
        for part in path:
            if isinstance(value, dict) and isinstance(part, str):
                value = value.get(part)
            elif isinstance(value, list) and isinstance(part, int) and part < len(value):
                value = value[part]
            else:
                return None
        return value

    def sku(self, name: str, path: Path) -> SkuRef | None:
        return self.names.sku(name, self.where(*path), self.test.at(*path))

    def plans(self, *path: str | int, sku: SkuRef | None = None) -> tuple[PlanRef, ...]:
        found = (
            self.names.plan(name, self.where(*at), self.test.at(*at), sku)
            for _, name, at in self.items(*path)
        )
        return tuple(plan for plan in found if plan is not None)

    def groups(self, *path: str | int) -> tuple[GroupRef, ...]:
        found = (
            self.names.group(name, self.where(*at), self.test.at(*at))
            for _, name, at in self.items(*path)
        )
        return tuple(group for group in found if group is not None)

    def optional_group(self, item: Mapping[str, Any], path: Path) -> GroupRef | None:
        if "assignedByGroup" not in item:
            return None
        at = (*path, "assignedByGroup")
        return self.names.group(item["assignedByGroup"], self.where(*at), self.test.at(*at))


def _test(test: WrittenTest, names: Names, before: Tenant) -> PolicyTest:
    reader = _Reader(test, names)
    entry = test.entry
    limits, seats = _plan(reader) if "plan" in entry else ((), ())
    expect = _expect(reader) if isinstance(entry.get("expect"), dict) else None
    user_id = None
    if "user" in entry and test.whole("user"):
        user_id = names.user_id(entry["user"], reader.where("user"), test.at("user"))
    attributes = None
    if "newUser" in entry and test.whole("newUser"):
        attributes, problems = new_user_attributes(entry["newUser"], before, names.directory)
        for path, message in problems:
            where = reader.where("newUser") + path
            names.error(f"{where}: {message}", test.key_at("newUser", *_keys(path)))
    # a test with both subjects, or none, is reported by files.py and never run
    if user_id is not None:
        return PolicyTest(test.name, test.location, userId=user_id, expect=expect)
    if attributes is not None:
        return PolicyTest(test.name, test.location, newUser=attributes, expect=expect)
    return PolicyTest(test.name, test.location, limits=limits, seats=seats)


def _keys(path: str) -> list[str]:
    """`.manager` or `.onPremisesExtensionAttributes.x` as the keys of the value's position."""
    return [part for part in path.split(".") if part]


def _expect(reader: _Reader) -> UserExpectations:
    held = []
    for _, item, at in reader.items("expect", "licenses"):
        item = {"sku": item} if isinstance(item, str) else item
        # a SKU given alone has no "sku" key: its place is the entry's
        sku = reader.sku(item["sku"], (*at, "sku"))
        group = reader.optional_group(item, at)
        if sku is None:
            continue
        enabled = reader.plans(*at, "enabledPlans", sku=sku)
        disabled = reader.plans(*at, "disabledPlans", sku=sku)
        held.append(HeldLicense(sku, group, enabled, disabled, reader.test.at(*at)))
    absent = []
    for _, item, at in reader.items("expect", "noLicenses"):
        item = {"sku": item} if isinstance(item, str) else item
        sku = reader.sku(item["sku"], (*at, "sku"))
        group = reader.optional_group(item, at)
        if sku is not None:
            absent.append(AbsentLicense(sku, group, reader.test.at(*at)))
    location = reader.value(("expect", "usageLocation"))
    whole = reader.test.whole("expect", "usageLocation")
    return UserExpectations(
        licenses=tuple(held),
        noLicenses=tuple(absent),
        servicePlans=reader.plans("expect", "servicePlans"),
        noServicePlans=reader.plans("expect", "noServicePlans"),
        memberOf=reader.groups("expect", "memberOf"),
        notMemberOf=reader.groups("expect", "notMemberOf"),
        usageLocation=location.upper() if whole and isinstance(location, str) else None,
    )


def _plan(reader: _Reader) -> tuple[tuple[Limit, ...], tuple[SeatFloor, ...]]:
    limits = []
    for kind in LIMIT_KINDS:
        for _, item, at in reader.items("plan", kind):
            limits.append(_limit(kind, item, reader, at))
    seats = []
    for _, item, at in reader.items("plan", "freeSeats"):
        sku = reader.sku(item["sku"], (*at, "sku"))
        if sku is not None:
            seats.append(SeatFloor(sku, item["atLeast"], reader.test.at(*at)))
    return tuple(limit for limit in limits if limit is not None), tuple(seats)


def _limit(kind: str, item: Mapping[str, Any], reader: _Reader, at: Path) -> Limit | None:
    names, test = reader.names, reader.test
    where = reader.where(*at)
    found = len(names.errors)
    sku = reader.sku(item["sku"], (*at, "sku")) if "sku" in item else None
    plan = None
    if "servicePlan" in item:
        if kind != SERVICE_PLAN_REMOVALS:
            message = f"{where}: 'servicePlan' filters servicePlanRemovals only"
            names.error(message, test.key_at(*at, "servicePlan"))
        plan_at = (*at, "servicePlan")
        plan = names.plan(item["servicePlan"], reader.where(*plan_at), test.at(*plan_at))
    if "error" in item and kind != NEW_ASSIGNMENT_ERRORS:
        message = f"{where}: 'error' filters newAssignmentErrors only"
        names.error(message, test.key_at(*at, "error"))
    group = reader.optional_group(item, at)
    if len(names.errors) > found:
        return None  # reported: the limit isn't run, as it would count the wrong things
    return Limit(kind, item["atMost"], sku, plan, group, item.get("error"), test.at(*at))
