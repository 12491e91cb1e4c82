"""Before a change takes licenses away, the plan knows who loses what, and through which group."""

from dataclasses import replace

from reconciler.engine import recompute, simulate
from reconciler.model import (
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
from reconciler.plan.changes import UpdateGroup
from reconciler.plan.impact import TURNED_DYNAMIC, LicenseRemoval, PlanRemoval, impact

E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"
INTUNE = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"

SKUS = (
    Sku(
        E5,
        "SPE_E5",
        (ServicePlan(YAMMER, "YAMMER_ENTERPRISE"), ServicePlan(TEAMS, "TEAMS1")),
        PrepaidUnits(20),
    ),
    Sku(EMS, "EMS", (ServicePlan(INTUNE, "INTUNE_A"),), PrepaidUnits(20)),
)


def _user(name: str, department: str, *states: LicenseAssignmentState) -> User:
    attributes = {"id": name, "userPrincipalName": f"{name}@contoso.com", "department": department}
    return User(name, f"{name}@contoso.com", licenseAssignmentStates=states, attributes=attributes)


SALES = Group(
    "g-sales",
    "LIC-Sales",
    groupTypes=("DynamicMembership",),
    membershipRule='user.department -in ["Sales", "HR"]',
    membershipRuleProcessingState="On",
    assignedLicenses=(AssignedLicense(E5), AssignedLicense(EMS)),
)
EVERYONE = Group(
    "g-all",
    "LIC-Everyone",
    groupTypes=("DynamicMembership",),
    membershipRule="user.objectId -ne null",
    membershipRuleProcessingState="On",
    assignedLicenses=(AssignedLicense(E5, frozenset({YAMMER})),),
)
BEFORE = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        SKUS,
        (
            _user("ana", "Sales"),
            _user("ben", "HR"),
            _user("dee", "HR", LicenseAssignmentState(EMS)),  # EMS also assigned directly
        ),
        (SALES, EVERYONE),
    )
)


def _edit(group: Group, **fields) -> dict:
    return {group.id: replace(group, **fields)}


def test_rule_edit_lists_who_loses_a_product_and_who_keeps_it_through_another_assignment():
    after = simulate(BEFORE, _edit(SALES, membershipRule='user.department -eq "Sales"'))
    found = impact(BEFORE, after)
    reason = "no longer matches the edited membership rule"
    # ben loses EMS entirely, and E5's Viva Engage while keeping E5 through LIC-Everyone
    assert found.licenseRemovals == (
        LicenseRemoval("ben", "ben@contoso.com", EMS, "EMS", "LIC-Sales", reason),
    )
    assert found.planRemovals == (
        PlanRemoval(
            "ben",
            "ben@contoso.com",
            E5,
            "SPE_E5",
            ("YAMMER_ENTERPRISE",),
            "LIC-Sales",
            reason,
            keptBy=("LIC-Everyone",),
        ),
        PlanRemoval(
            "dee",
            "dee@contoso.com",
            E5,
            "SPE_E5",
            ("YAMMER_ENTERPRISE",),
            "LIC-Sales",
            reason,
            keptBy=("LIC-Everyone",),
        ),
    )
    # dee keeps EMS through her direct assignment, so she isn't listed as losing it


def test_license_removed_from_a_group_is_listed_for_every_member_who_had_it_only_there():
    after = simulate(BEFORE, _edit(SALES, assignedLicenses=(AssignedLicense(E5),)))
    found = impact(BEFORE, after)
    assert [(r.userId, r.skuPartNumber, r.reason) for r in found.licenseRemovals] == [
        ("ana", "EMS", "license removed from the group"),
        ("ben", "EMS", "license removed from the group"),
    ]
    assert found.planRemovals == ()


def test_a_change_that_takes_nothing_away_has_no_impact():
    after = simulate(BEFORE, _edit(SALES, description="Sales and HR"))
    assert impact(BEFORE, after).licenseRemovals == ()
    assert impact(BEFORE, after).planRemovals == ()
    assert impact(BEFORE, after).licenseAdditions == ()


def test_users_who_gain_a_product_are_listed_with_the_group_and_why():
    after = simulate(BEFORE, _edit(EVERYONE, assignedLicenses=(AssignedLicense(EMS),)))
    found = impact(BEFORE, after)
    # ana and ben had EMS through LIC-Sales, dee directly: nobody gains it; E5 stays with Sales
    assert found.licenseAdditions == ()
    widened = simulate(BEFORE, _edit(SALES, membershipRule="user.objectId -ne null"))
    assert impact(BEFORE, widened).licenseAdditions == ()  # everyone had both already
    newcomer = replace(BEFORE, users=(*BEFORE.users, _user("eve", "Legal")))
    after = simulate(recompute(newcomer), _edit(SALES, membershipRule="user.objectId -ne null"))
    found = impact(recompute(newcomer), after)
    assert sorted(
        (a.userId, a.skuPartNumber, a.group, a.reason) for a in found.licenseAdditions
    ) == [
        ("eve", "EMS", "LIC-Sales", "matches the membership rule"),
    ]


def test_a_static_group_turned_dynamic_lists_members_who_lose_the_license_until_processed():
    static = Group(
        "g-static", "LIC-Static", members=("ana",), assignedLicenses=(AssignedLicense(EMS),)
    )
    tenant = recompute(replace(BEFORE, groups=(static,)))
    dynamic = replace(
        static,
        groupTypes=("DynamicMembership",),
        membershipRule='user.department -eq "Sales"',
        membershipRuleProcessingState="On",
    )
    changes = [UpdateGroup("g-static", "LIC-Static", "groupTypes", (), ("DynamicMembership",))]
    after = simulate(tenant, {"g-static": dynamic})
    # ana matches the rule and keeps EMS in the end, but Entra drops her first
    assert [
        (r.userId, r.skuPartNumber, r.reason) for r in impact(tenant, after).licenseRemovals
    ] == []
    assert [
        (r.userId, r.skuPartNumber, r.reason)
        for r in impact(tenant, after, changes).licenseRemovals
    ] == [("ana", "EMS", TURNED_DYNAMIC)]


def test_a_member_kept_by_a_group_turned_dynamic_loses_its_plans_while_entra_reevaluates():
    # ana has E5 from the static group (all plans) and from LIC-Everyone (Viva Engage off)
    static = Group(
        "g-static", "LIC-Static", members=("ana",), assignedLicenses=(AssignedLicense(E5),)
    )
    tenant = recompute(replace(BEFORE, groups=(static, EVERYONE)))
    dynamic = replace(
        static,
        groupTypes=("DynamicMembership",),
        membershipRule='user.department -eq "Sales"',
        membershipRuleProcessingState="On",
    )
    changes = [UpdateGroup("g-static", "LIC-Static", "groupTypes", (), ("DynamicMembership",))]
    found = impact(tenant, simulate(tenant, {"g-static": dynamic}), changes)
    assert found.licenseRemovals == ()
    assert [(r.userId, r.servicePlans, r.reason, r.keptBy) for r in found.planRemovals] == [
        ("ana", ("YAMMER_ENTERPRISE",), TURNED_DYNAMIC, ("LIC-Everyone",))
    ]


def test_service_plans_enabled_on_a_group_are_gains_for_members_who_keep_the_product():
    tenant = recompute(replace(BEFORE, groups=(EVERYONE,)))
    after = simulate(tenant, _edit(EVERYONE, assignedLicenses=(AssignedLicense(E5),)))
    found = impact(tenant, after)
    assert found.licenseAdditions == () and found.planRemovals == ()
    assert {(a.userId, a.servicePlans, a.group, a.reason) for a in found.planAdditions} == {
        (user, ("YAMMER_ENTERPRISE",), "LIC-Everyone", "service plans enabled on the group")
        for user in ("ana", "ben", "dee")
    }
