"""Small generated tenants and policies, and the tenant reached by applying a plan step by step.

A scenario is plain data with a readable repr (so hypothesis prints a counterexample one can
read, and a test can pin one with `@example`): a tenant (SKUs with a few seats, users with a
department and maybe a direct license, static or dynamic licensing groups) and a policy that
declares, changes, retires or leaves alone each of its groups, and maybe creates one.

SKU and service plan ids are Microsoft's own (the product names and service plan identifiers
reference); each SKU carries only the few plans the tests need, including SharePoint Plan 1 and
Plan 2 (mutually exclusive in the engine's catalog) and Exchange Online Archiving (which needs an
Exchange Online plan).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

from reconciler.apply import license_batches
from reconciler.engine import recompute, simulate
from reconciler.engine.catalog import ServicePlanRules
from reconciler.errors import Location
from reconciler.model import (
    DYNAMIC_MEMBERSHIP,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.changes import Change, apply_to_groups
from reconciler.policy.desired import (
    DesiredGroup,
    DesiredLicense,
    DesiredState,
    RetiredGroup,
    Settings,
)

HERE = Location("policies/groups.yaml", 1, 1)

# servicePlanName -> (servicePlanId, assignedPlan.service)
PLANS = {
    "EXCHANGE_S_ENTERPRISE": ("efb87545-963c-4e0d-99df-69c6916d9eb0", "exchange"),
    "EXCHANGE_S_STANDARD": ("9aaf7827-d63c-4b61-89c3-182f06f82e5c", "exchange"),
    "EXCHANGE_S_ARCHIVE_ADDON": ("176a09a6-7ec5-4039-ac02-b2791c6ba793", "exchange"),
    "SHAREPOINTENTERPRISE": ("5dbe027f-2339-4123-9542-606e4d348a72", "SharePoint"),
    "SHAREPOINTSTANDARD": ("c7699d2e-19aa-44de-8edf-1736da088ca1", "SharePoint"),
    "TEAMS1": ("57ff2da0-773e-42df-b2af-ffb7a2317929", "TeamspaceAPI"),
    "YAMMER_ENTERPRISE": ("7547a3fe-08ee-4ccb-b430-5077c5041653", "YammerEnterprise"),
    "INTUNE_A": ("c1ec4a95-1f05-45b3-a911-aa3fa01094f5", "SCO"),
    "AAD_PREMIUM": ("41781fb2-bc02-4b7c-bd55-b576c07bb09d", "AADPremiumService"),
    "RMS_S_PREMIUM": ("6c57d4b6-3b23-47a5-9bc9-69f17b4947b3", "RMSOnline"),
    "BI_AZURE_P2": ("70d33638-9c74-4d01-bfd3-562de28bd4ba", "ProcessSimple"),
}

# skuPartNumber -> (skuId, the plan names it carries here)
SKUS = {
    "SPE_E3": (
        "05e9a617-0261-4cee-bb44-138d3ef5d965",
        ("EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE", "TEAMS1", "INTUNE_A"),
    ),
    "SPE_E5": (
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        ("EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE", "TEAMS1", "BI_AZURE_P2"),
    ),
    "ENTERPRISEPACK": (
        "6fd2c87f-b296-42f0-b197-1e91e994b900",
        ("EXCHANGE_S_ENTERPRISE", "SHAREPOINTENTERPRISE", "TEAMS1", "YAMMER_ENTERPRISE"),
    ),
    "STANDARDPACK": (
        "18181a46-0d4e-45cd-891e-60aabd171b4e",
        ("EXCHANGE_S_STANDARD", "SHAREPOINTSTANDARD", "TEAMS1", "YAMMER_ENTERPRISE"),
    ),
    "EMS": (
        "efccb6f7-5641-4e0e-bd10-b4976e1bf68e",
        ("AAD_PREMIUM", "INTUNE_A", "RMS_S_PREMIUM"),
    ),
    "EXCHANGEARCHIVE_ADDON": (
        "ee02fd1b-340e-4a4b-b355-4a514e4c8943",
        ("EXCHANGE_S_ARCHIVE_ADDON",),
    ),
}
PART_NUMBERS = {sku_id: part for part, (sku_id, _) in SKUS.items()}
PLAN_NAMES = {plan_id: name for name, (plan_id, _) in PLANS.items()}
DEPARTMENTS = ("Sales", "Support", "HR", "IT")
RULE_PLANS = ("EXCHANGE_S_ENTERPRISE", "EXCHANGE_S_STANDARD", "TEAMS1", "INTUNE_A")


# --- the scenario as plain data ---------------------------------------------------------------


@dataclass(frozen=True)
class Dept:
    """`user.department -eq/-in ...`"""

    departments: tuple[str, ...]

    def text(self, group_ids: Mapping[str, str]) -> str:
        if len(self.departments) == 1:
            return f'user.department -eq "{self.departments[0]}"'
        listed = ", ".join(f'"{d}"' for d in self.departments)
        return f"user.department -in [{listed}]"


@dataclass(frozen=True)
class HasPlan:
    """`user.assignedPlans -any (...)`: users with that service plan enabled."""

    plan: str

    def text(self, group_ids: Mapping[str, str]) -> str:
        return (
            f'user.assignedPlans -any (assignedPlan.servicePlanId -eq "{PLANS[self.plan][0]}" '
            '-and assignedPlan.capabilityStatus -eq "Enabled")'
        )


@dataclass(frozen=True)
class MemberOf:
    """`user.memberOf -any (group.objectId -in [...])`: direct members of another group."""

    group: str

    def text(self, group_ids: Mapping[str, str]) -> str:
        return f"user.memberOf -any (group.objectId -in ['{group_ids[self.group]}'])"


Rule = Dept | HasPlan | MemberOf


@dataclass(frozen=True)
class Lic:
    """A product a group or a user is assigned, with some plans (by name) turned off."""

    sku: str
    disabled: tuple[str, ...] = ()

    def assigned(self) -> AssignedLicense:
        return AssignedLicense(SKUS[self.sku][0], frozenset(PLANS[p][0] for p in self.disabled))


@dataclass(frozen=True)
class GroupSpec:
    """A security group: dynamic with `rule`, else static with `members` (user or group names)."""

    name: str
    rule: Rule | None = None
    members: tuple[str, ...] = ()
    licenses: tuple[Lic, ...] = ()


@dataclass(frozen=True)
class UserSpec:
    name: str
    department: str
    direct: Lic | None = None


@dataclass(frozen=True)
class Scenario:
    """A tenant (`seats` by skuPartNumber, users, groups) and the policy's groups and retirees.

    Groups of the tenant the policy neither declares nor retires are left alone.
    """

    seats: tuple[tuple[str, int], ...]
    users: tuple[UserSpec, ...]
    groups: tuple[GroupSpec, ...]
    policy: tuple[GroupSpec, ...]
    retired: tuple[str, ...] = ()

    def group_ids(self) -> dict[str, str]:
        names = [g.name for g in self.groups]
        return {name: str(uuid.uuid5(uuid.NAMESPACE_URL, f"group/{name}")) for name in names}

    def tenant(self, rules: ServicePlanRules) -> Tenant:
        """The tenant as Entra has settled it."""
        ids = self.group_ids()
        skus = tuple(
            Sku(
                SKUS[part][0],
                part,
                tuple(ServicePlan(PLANS[p][0], p) for p in SKUS[part][1]),
                PrepaidUnits(seats),
            )
            for part, seats in self.seats
        )
        users = tuple(_user(spec) for spec in self.users)
        groups = tuple(_group(spec, ids) for spec in self.groups)
        return settle(Tenant(Organization("org", "Contoso", "US"), skus, users, groups), rules)

    def desired(self) -> DesiredState:
        ids = self.group_ids()
        return DesiredState(
            None,
            Settings(),
            tuple(_desired(spec, ids) for spec in self.policy),
            tuple(RetiredGroup(name, None, HERE) for name in self.retired),
        )


def _user(spec: UserSpec) -> User:
    upn = f"{spec.name}@contoso.com"
    attributes = {"id": spec.name, "userPrincipalName": upn, "department": spec.department}
    states = ()
    if spec.direct is not None:
        assigned = spec.direct.assigned()
        states = (LicenseAssignmentState(assigned.skuId, assigned.disabledPlans),)
    return User(spec.name, upn, licenseAssignmentStates=states, attributes=attributes)


def _member_id(name: str, group_ids: Mapping[str, str]) -> str:
    return group_ids.get(name, name)


def _group(spec: GroupSpec, group_ids: Mapping[str, str]) -> Group:
    licenses = tuple(sorted((lic.assigned() for lic in spec.licenses), key=lambda a: a.skuId))
    if spec.rule is not None:
        return Group(
            group_ids[spec.name],
            spec.name,
            groupTypes=(DYNAMIC_MEMBERSHIP,),
            membershipRule=spec.rule.text(group_ids),
            membershipRuleProcessingState="On",
            assignedLicenses=licenses,
        )
    members = tuple(_member_id(m, group_ids) for m in spec.members)
    return Group(group_ids[spec.name], spec.name, assignedLicenses=licenses, members=members)


def _desired(spec: GroupSpec, group_ids: Mapping[str, str]) -> DesiredGroup:
    dynamic = spec.rule is not None
    return DesiredGroup(
        displayName=spec.name,
        id=None,
        description=None,
        securityEnabled=True,
        mailEnabled=False,
        groupTypes=(DYNAMIC_MEMBERSHIP,) if dynamic else (),
        membershipRule=spec.rule.text(group_ids) if dynamic else None,
        membershipRuleProcessingState="On" if dynamic else None,
        members=None
        if dynamic
        else tuple(group_ids.get(m, f"{m}@contoso.com") for m in spec.members),
        licenses=tuple(
            DesiredLicense(
                SKUS[lic.sku][0],
                lic.sku,
                frozenset(PLANS[p][0] for p in lic.disabled),
                None,
                HERE,
            )
            for lic in spec.licenses
        ),
        protect=False,
        location=HERE,
    )


# --- Entra settling, and a plan applied one change at a time ---------------------------------


class NotSettled(Exception):
    """Memberships and licenses that keep changing (a rule that feeds on its own licenses)."""


def enabled_plans(tenant: Tenant, assigned: AssignedLicense) -> frozenset[str]:
    """The lower-case service plan ids the license turns on."""
    sku = next(s for s in tenant.subscribedSkus if s.skuId.lower() == assigned.skuId.lower())
    off = {plan.lower() for plan in assigned.disabledPlans}
    return frozenset(p.servicePlanId.lower() for p in sku.servicePlans) - off


def _with_assigned_plans(tenant: Tenant) -> Tenant:
    """Each user's assignedPlans as Graph shows it: every plan their licenses turn on."""
    services = {plan_id: service for plan_id, service in PLANS.values()}
    users = []
    for user in tenant.users:
        plans = sorted(
            {plan for assigned in user.assignedLicenses for plan in enabled_plans(tenant, assigned)}
        )
        listed = [
            {"servicePlanId": plan, "capabilityStatus": "Enabled", "service": services[plan]}
            for plan in plans
        ]
        users.append(replace(user, attributes={**user.attributes, "assignedPlans": listed}))
    return replace(tenant, users=tuple(users))


def _fingerprint(tenant: Tenant) -> tuple:
    return (
        tuple(
            (u.id, u.assignedLicenses, u.licenseAssignmentStates, str(u.attributes))
            for u in tenant.users
        ),
        tuple((g.id, g.members) for g in tenant.groups),
    )


def settle(tenant: Tenant, rules: ServicePlanRules, rounds: int = 8) -> Tenant:
    """The tenant once Entra is done: licenses change users' assignedPlans, which assignedPlans
    rules read, and membership changes reach memberOf rules, until nothing moves."""
    for _ in range(rounds):
        settled = recompute(_with_assigned_plans(tenant), None, rules)
        settled = _with_assigned_plans(settled)
        if _fingerprint(settled) == _fingerprint(tenant):
            return settled
        tenant = settled
    raise NotSettled


def apply_one_by_one(
    start: Tenant, changes: Iterable[Change], rules: ServicePlanRules
) -> list[Tenant]:
    """The settled tenant after each step, each applied to the tenant the one before left, as
    apply runs a plan through the local tenant."""
    reached = []
    tenant = start
    # a group's license changes that come together go in one call, as apply sends them
    for batch in license_batches(list(changes)):
        groups = apply_to_groups({group.id: group for group in tenant.groups}, batch)
        tenant = settle(simulate(tenant, groups, None, rules), rules)
        reached.append(tenant)
    return reached


def properties(examples: int) -> settings:
    """Hypothesis settings for properties over generated scenarios: deterministic and quick, a
    failure reported as generated, not shrunk (shrinking one takes tens of seconds; add
    Phase.shrink locally to minimise a new one, then pin it as an example)."""
    return settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=(Phase.explicit, Phase.generate),
        suppress_health_check=[HealthCheck.filter_too_much],
    )


# --- strategies -------------------------------------------------------------------------------


@st.composite
def licenses(draw, parts: tuple[str, ...], count: tuple[int, int] = (1, 2)) -> tuple[Lic, ...]:
    chosen = draw(st.lists(st.sampled_from(parts), min_size=count[0], max_size=count[1]))
    found = []
    for part in dict.fromkeys(chosen):
        plans = SKUS[part][1]
        disabled = draw(st.lists(st.sampled_from(plans), max_size=min(2, len(plans) - 1)))
        found.append(Lic(part, tuple(sorted(set(disabled)))))
    return tuple(found)


@st.composite
def changed_licenses(draw, current: tuple[Lic, ...], parts: tuple[str, ...]) -> list[Lic]:
    """Some of a group's products removed, with plans toggled, or one added."""
    changed = []
    for lic in current:
        what = draw(st.sampled_from(("keep", "toggle", "remove")))
        if what == "keep":
            changed.append(lic)
        elif what == "toggle":
            (new,) = draw(licenses((lic.sku,), (1, 1)))
            changed.append(new)
    held = {lic.sku for lic in changed}
    addable = tuple(p for p in parts if p not in held)
    if addable and len(changed) < 2 and (changed == list(current) or draw(st.booleans())):
        changed.extend(draw(licenses(addable, (1, 1))))
    return changed


@st.composite
def rules_(draw, referable: tuple[str, ...], plan_names: tuple[str, ...]) -> Rule:
    kinds = ["dept", "dept"]
    if plan_names:
        kinds.append("plan")
    if referable:
        kinds.append("memberOf")
    kind = draw(st.sampled_from(kinds))
    if kind == "dept":
        departments = draw(st.lists(st.sampled_from(DEPARTMENTS), min_size=1, max_size=2))
        return Dept(tuple(dict.fromkeys(departments)))
    if kind == "plan":
        return HasPlan(draw(st.sampled_from(plan_names)))
    return MemberOf(draw(st.sampled_from(referable)))


@st.composite
def memberships(
    draw,
    users: tuple[str, ...],
    other_groups: tuple[str, ...],
    referable: tuple[str, ...],
    plan_names: tuple[str, ...],
) -> tuple[Rule | None, tuple[str, ...]]:
    if draw(st.booleans()):
        return draw(rules_(referable, plan_names)), ()
    members = draw(st.lists(st.sampled_from(users), max_size=len(users), unique=True))
    if other_groups and draw(st.integers(0, 5)) == 0:
        members.append(draw(st.sampled_from(other_groups)))  # nested: gets no licenses
    return None, tuple(members)


@st.composite
def scenarios(draw) -> Scenario:
    parts = tuple(
        draw(st.lists(st.sampled_from(sorted(SKUS)), min_size=2, max_size=4, unique=True))
    )
    seats = tuple((part, draw(st.integers(0, 6) | st.integers(1, 3))) for part in parts)
    plan_names = tuple(p for p in RULE_PLANS if any(p in SKUS[part][1] for part in parts))
    direct_parts = tuple(p for p in parts if p != "EXCHANGEARCHIVE_ADDON")
    free = dict(seats)
    users = []
    for index in range(draw(st.integers(3, 10))):
        direct = None
        if direct_parts and draw(st.integers(0, 3)) == 0:
            (lic,) = draw(licenses(direct_parts, (1, 1)))
            if free[lic.sku] > 0:  # Entra assigns a license directly only while a seat is free
                free[lic.sku] -= 1
                direct = lic
        users.append(UserSpec(f"u{index}", draw(st.sampled_from(DEPARTMENTS)), direct))
    names = tuple(u.name for u in users)

    groups: list[GroupSpec] = []
    for index in range(draw(st.integers(1, 4))):
        # a memberOf rule may name any group but one with a memberOf rule, as in Entra
        referable = tuple(g.name for g in groups if not isinstance(g.rule, MemberOf))
        others = tuple(g.name for g in groups)
        rule, members = draw(memberships(names, others, referable, plan_names))
        fewest = 0 if draw(st.integers(0, 3)) == 0 else 1  # a few groups assign nothing
        groups.append(
            GroupSpec(f"LIC-{'ABCD'[index]}", rule, members, draw(licenses(parts, (fewest, 2))))
        )

    policy: list[GroupSpec] = []
    retired: list[str] = []
    # Entra refuses a memberOf rule naming a group that has one itself: groups named by a memberOf
    # rule never get one, and a memberOf rule never names a group that has one
    named = {g.rule.group for g in groups if isinstance(g.rule, MemberOf)}
    member_of = {g.name for g in groups if isinstance(g.rule, MemberOf)}

    def referable(name: str) -> tuple[str, ...]:
        if name in named:
            return ()
        return tuple(g.name for g in groups if g.name not in member_of and g.name != name)

    def chose(name: str, rule: Rule | None) -> None:
        if isinstance(rule, MemberOf):
            named.add(rule.group)
            member_of.add(name)
        else:
            member_of.discard(name)

    for group in groups:
        action = draw(st.sampled_from(("leave", "keep", "retire", *("change",) * 4)))
        if action == "retire":
            retired.append(group.name)
            continue
        if action == "leave":
            continue
        if action == "keep":
            policy.append(group)
            continue
        others = tuple(g.name for g in groups if g is not group)
        rule, members = group.rule, group.members
        membership, licensing = draw(st.sampled_from(((True, False), (False, True), (True, True))))
        if membership:
            rule, members = draw(memberships(names, others, referable(group.name), plan_names))
            chose(group.name, rule)
        changed = list(group.licenses)
        if licensing:
            changed = draw(changed_licenses(group.licenses, parts))
        policy.append(GroupSpec(group.name, rule, members, tuple(changed)))
    if draw(st.booleans()):
        rule, members = draw(memberships(names, (), referable("LIC-New"), plan_names))
        policy.append(GroupSpec("LIC-New", rule, members, draw(licenses(parts))))
    return Scenario(seats, tuple(users), tuple(groups), tuple(policy), tuple(retired))
