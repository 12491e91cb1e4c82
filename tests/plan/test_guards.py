"""Removal guards: too many removals, or any through a protected group, make apply refuse."""

from dataclasses import replace

from reconciler.engine import recompute
from reconciler.model import (
    AssignedLicense,
    Group,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
)
from reconciler.plan.build import build_plan
from reconciler.plan.guards import DEFAULT_MAX_LICENSE_REMOVALS
from reconciler.policy.desired import DesiredState, RetiredGroup, Settings
from tests.builders import HERE, desired_group, desired_license, user

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS

STAFF = [user(f"u{n:02}", "Sales" if n < 15 else "HR") for n in range(20)]
TENANT = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        (Sku(E3, "SPE_E3", (), PrepaidUnits(50)), Sku(EMS, "EMS", (), PrepaidUnits(50))),
        tuple(STAFF),
        (
            Group(
                "g-sales",
                "LIC-Sales",
                groupTypes=("DynamicMembership",),
                membershipRule='user.department -in ["Sales", "HR"]',
                membershipRuleProcessingState="On",
                assignedLicenses=(AssignedLicense(E3),),
            ),
            Group(
                "g-ems", "LIC-EMS", members=("u00", "u01"), assignedLicenses=(AssignedLicense(EMS),)
            ),
        ),
    )
)
SALES_ONLY = desired_group(
    "LIC-Sales", 'user.department -eq "Sales"', licenses=[desired_license(E3)]
)
EMS_BOTH = desired_group("LIC-EMS", members=("u00", "u01"), licenses=[desired_license(EMS)])


def _guards(*groups, **settings):
    return build_plan(DesiredState(None, Settings(**settings), groups, ()), TENANT).guards


def test_a_plan_within_the_limit_is_not_refused():
    found = _guards(SALES_ONLY, EMS_BOTH)  # HR's 5 people lose E3
    assert (found.licenseRemovals, found.maxLicenseRemovals) == (5, DEFAULT_MAX_LICENSE_REMOVALS)
    assert not found.refused


def test_more_removals_than_the_policy_allows_are_refused_naming_count_and_limit():
    found = _guards(SALES_ONLY, EMS_BOTH, maxLicenseRemovals=4)
    assert found.refused
    [reason] = found.reasons
    assert reason == "the plan takes 5 licenses away, more than settings.maxLicenseRemovals (4)"


def test_the_default_limit_applies_when_the_policy_sets_none():
    everyone_loses = desired_group("LIC-Sales", 'user.department -eq "Legal"', licenses=[])
    found = _guards(everyone_loses, EMS_BOTH)
    assert found.licenseRemovals == 20 > DEFAULT_MAX_LICENSE_REMOVALS
    assert found.refused


def test_any_removal_through_a_protected_group_is_refused():
    protected = replace(SALES_ONLY, protect=True)
    found = _guards(protected, EMS_BOTH, maxLicenseRemovals=100)
    assert found.protected == (("g-sales", "LIC-Sales"),)
    assert found.refused
    assert "protected group LIC-Sales" in found.reasons[0]


def test_a_protected_group_that_takes_nothing_away_is_no_reason_to_refuse():
    protected_ems = replace(EMS_BOTH, protect=True)
    found = _guards(SALES_ONLY, protected_ems, maxLicenseRemovals=100)
    assert found.protected == ()
    assert not found.refused


def test_a_loss_through_two_groups_at_once_counts_for_the_protected_one():
    # u00 loses EMS through LIC-EMS (protected) while another group giving it goes too
    second = Group(
        "g-ems2", "LIC-EMS-2", members=("u00",), assignedLicenses=(AssignedLicense(EMS),)
    )
    tenant = recompute(replace(TENANT, groups=(*TENANT.groups, second)))
    desired = DesiredState(
        None,
        Settings(maxLicenseRemovals=100),
        (
            desired_group("LIC-EMS-2", members=(), licenses=[desired_license(EMS)]),
            replace(EMS_BOTH, members=("u01",), protect=True),
        ),
        (),
    )
    found = build_plan(desired, tenant).guards
    assert found.protected == (("g-ems", "LIC-EMS"),)


def test_a_protected_group_that_only_enables_a_plan_is_not_blamed_for_another_s_removal():
    yammer, teams = "7547a3fe-08ee-4ccb-b430-5077c5041653", "57ff2da0-773e-42df-b2af-ffb7a2317929"
    e5 = Sku("06ebc4ee-1bb5-47dd-8120-11324bc54e06", "SPE_E5", (), PrepaidUnits(10))
    e5 = replace(
        e5,
        servicePlans=(ServicePlan(yammer, "YAMMER_ENTERPRISE"), ServicePlan(teams, "TEAMS1")),
    )
    execs = Group(
        "g-x",
        "LIC-Execs",
        members=("u00",),
        assignedLicenses=(AssignedLicense(e5.skuId, frozenset({yammer, teams})),),
    )
    extra = Group(
        "g-e", "LIC-Extra", members=("u00",), assignedLicenses=(AssignedLicense(e5.skuId),)
    )
    tenant = recompute(Tenant(TENANT.organization, (e5,), (STAFF[0],), (execs, extra)))
    # Execs now enables Teams; Extra, which gave Viva Engage too, is retired
    desired = DesiredState(
        None,
        Settings(maxLicenseRemovals=100),
        (
            replace(
                desired_group(
                    "LIC-Execs", members=("u00",), licenses=[desired_license(e5.skuId, yammer)]
                ),
                protect=True,
            ),
        ),
        (RetiredGroup("LIC-Extra", None, HERE),),
    )
    plan = build_plan(desired, tenant)
    [removal] = plan.impact.planRemovals
    assert (removal.servicePlans, removal.group) == (("YAMMER_ENTERPRISE",), "LIC-Extra")
    assert plan.guards.protected == () and not plan.guards.refused


def test_a_protected_group_sharing_its_name_with_another_still_refuses_its_plan_removals():
    # Entra lets two groups share a displayName; the policy pins the licensed one by its id
    yammer = "7547a3fe-08ee-4ccb-b430-5077c5041653"
    e5 = Sku(
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
        "SPE_E5",
        (ServicePlan(yammer, "YAMMER_ENTERPRISE"),),
        PrepaidUnits(10),
    )
    namesake = Group("g-a", "LIC-Execs")  # listed first, licenses nothing
    execs = Group(
        "g-x", "LIC-Execs", members=("u00",), assignedLicenses=(AssignedLicense(e5.skuId),)
    )
    tenant = recompute(Tenant(TENANT.organization, (e5,), (STAFF[0],), (namesake, execs)))
    wanted = desired_group(
        "LIC-Execs", members=("u00",), licenses=[desired_license(e5.skuId, yammer)]
    )
    desired = DesiredState(
        None, Settings(maxLicenseRemovals=100), (replace(wanted, id="g-x", protect=True),), ()
    )
    plan = build_plan(desired, tenant)
    [removal] = plan.impact.planRemovals
    assert (removal.servicePlans, removal.group) == (("YAMMER_ENTERPRISE",), "LIC-Execs")
    assert plan.guards.protected == (("g-x", "LIC-Execs"),)
    assert plan.guards.refused


def test_temporary_losses_count_toward_the_guard_and_the_reason_says_which_are_which():
    # LIC-EMS turned dynamic: u00 and u01 (Sales) lose EMS while Entra re-evaluates it
    turned = desired_group(
        "LIC-EMS", 'user.department -eq "Sales"', licenses=[desired_license(EMS)]
    )
    found = _guards(turned, maxLicenseRemovals=1)
    assert (found.licenseRemovals, found.temporaryRemovals) == (2, 2)
    assert found.reasons == (
        "the plan takes 2 licenses away (0 lasting, 2 temporary), "
        "more than settings.maxLicenseRemovals (1)",
    )
