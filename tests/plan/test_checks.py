"""The plan's warnings: each code fires on what it names, and not on the rest."""

from dataclasses import replace

from reconciler.engine import recompute
from reconciler.model import (
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
)
from reconciler.plan.build import build_plan
from reconciler.policy.desired import DesiredState, Settings
from tests.builders import desired_group, desired_license, user

E1 = "18181a46-0d4e-45cd-891e-60aabd171b4e"  # STANDARDPACK
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
ARCHIVE = "ee02fd1b-340e-4a4b-b355-4a514e4c8943"  # EXCHANGEARCHIVE_ADDON
SHAREPOINT_1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"
SHAREPOINT_2 = "5dbe027f-2339-4123-9542-606e4d348a72"
EXCHANGE_2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"
ARCHIVING = "176a09a6-7ec5-4039-ac02-b2791c6ba793"

SKUS = (
    Sku(E1, "STANDARDPACK", (ServicePlan(SHAREPOINT_1, "SHAREPOINTSTANDARD"),), PrepaidUnits(10)),
    Sku(
        E3,
        "ENTERPRISEPACK",
        (
            ServicePlan(SHAREPOINT_2, "SHAREPOINTENTERPRISE"),
            ServicePlan(EXCHANGE_2, "EXCHANGE_S_ENTERPRISE"),
        ),
        PrepaidUnits(10),
    ),
    Sku(EMS, "EMS", (), PrepaidUnits(10)),
    Sku(
        ARCHIVE,
        "EXCHANGEARCHIVE_ADDON",
        (ServicePlan(ARCHIVING, "EXCHANGE_S_ARCHIVE_ADDON"),),
        PrepaidUnits(10),
    ),
)


def _tenant(users, groups=()) -> Tenant:
    return recompute(
        Tenant(Organization("org", "Contoso", "GB"), SKUS, tuple(users), tuple(groups))
    )


def _found(desired: DesiredState, tenant: Tenant) -> list:
    """The plan's warnings but the lock file's, which tests/plan/test_service_plan_checks.py has."""
    return [w for w in build_plan(desired, tenant).warnings if w.code != "new-service-plan"]


def _warnings(tenant: Tenant, *groups, **settings) -> set[tuple]:
    desired = DesiredState(None, Settings(**settings), groups, ())
    return {(w.code, w.severity, w.group, w.user) for w in _found(desired, tenant)}


def _static(name: str, *members: str, sku: str = EMS) -> Group:
    return Group(f"g-{name}", name, members=members, assignedLicenses=(AssignedLicense(sku),))


def test_a_user_licensed_without_usage_location_is_named_with_the_tenant_country():
    tenant = _tenant([user("ana", "Sales"), user("ben", "Sales", usageLocation="FR")])
    group = desired_group("LIC-EMS", members=("ana", "ben"), licenses=[desired_license(EMS)])
    desired = DesiredState(None, Settings(), (group,), ())
    [warning] = _found(desired, tenant)
    assert (warning.code, warning.user) == ("usage-location-missing", "ana@contoso.com")
    assert "as if in GB" in warning.message


def test_users_who_already_hold_the_license_are_no_usage_location_finding():
    tenant = _tenant([user("ana", "Sales")], [_static("LIC-EMS", "ana")])
    group = desired_group("LIC-EMS", members=("ana",), licenses=[desired_license(EMS)])
    assert _warnings(tenant, group) == set()


def test_a_licensed_group_with_groups_as_members_is_named():
    tenant = _tenant(
        [user("ana", "Sales")], [_static("LIC-EMS", "ana", "g-team"), Group("g-team", "Team")]
    )
    group = desired_group("LIC-EMS", members=("ana", "g-team"), licenses=[desired_license(EMS)])
    assert _warnings(tenant, group) == {
        ("nested-group-members", "warning", "LIC-EMS", None),
    }


def test_licenses_on_a_group_that_is_not_security_enabled_are_an_error():
    unified = replace(_static("Team-Sales", "ana"), groupTypes=("Unified",), securityEnabled=False)
    tenant = _tenant([user("ana", "Sales", usageLocation="GB")], [unified])
    assert ("group-not-security-enabled", "error", "Team-Sales", None) in _warnings(tenant)


def test_a_product_held_directly_and_through_a_group_is_redundant():
    direct = LicenseAssignmentState(EMS)
    tenant = _tenant(
        [user("ana", "Sales", usageLocation="GB", licenseAssignmentStates=(direct,))],
        [_static("LIC-EMS", "ana")],
    )
    group = desired_group("LIC-EMS", members=("ana",), licenses=[desired_license(EMS)])
    assert _warnings(tenant, group) == {
        ("redundant-direct-license", "info", "LIC-EMS", "ana@contoso.com"),
    }


def test_users_already_in_a_licensing_error_are_named_with_the_reprocess_command_as_hint():
    full = replace(SKUS[2], prepaidUnits=PrepaidUnits(1))
    tenant = recompute(
        Tenant(
            Organization("org", "Contoso", "GB"),
            (full,),
            (user("ana", "S", usageLocation="GB"), user("ben", "S", usageLocation="GB")),
            (_static("LIC-EMS", "ana", "ben"),),
        )
    )
    desired = DesiredState(None, Settings(), (), ())
    [warning] = _found(desired, tenant)
    assert (warning.code, warning.user) == ("license-error-state", "ben@contoso.com")
    assert "CountViolation" in warning.message
    # the command that does it, and Entra's own call for whoever does it by hand
    assert "`reconciler reprocess`" in warning.hint
    assert "reprocessLicenseAssignment" in warning.hint


def test_a_license_whose_plan_conflicts_with_one_the_user_has_is_foreseen():
    direct = LicenseAssignmentState(E1)
    tenant = _tenant([user("ana", "S", usageLocation="GB", licenseAssignmentStates=(direct,))])
    group = desired_group("LIC-E3", members=("ana",), licenses=[desired_license(E3)])
    assert _warnings(tenant, group) == {
        ("mutually-exclusive-plans", "warning", "LIC-E3", "ana@contoso.com"),
    }


def test_removing_a_prerequisite_another_plan_needs_is_foreseen():
    archive = LicenseAssignmentState(ARCHIVE)
    tenant = _tenant(
        [user("ana", "S", usageLocation="GB", licenseAssignmentStates=(archive,))],
        [_static("LIC-E3", "ana", sku=E3)],
    )
    group = desired_group("LIC-E3", members=(), licenses=[desired_license(E3)])
    assert _warnings(tenant, group) == {
        ("dependency-violation", "warning", "LIC-E3", "ana@contoso.com"),
    }


def test_a_rule_edit_dropping_more_than_the_allowed_share_of_members_is_named():
    staff = [user(f"u{n}", "Sales" if n < 8 else "HR", usageLocation="GB") for n in range(10)]
    rule = 'user.department -in ["Sales", "HR"]'
    tenant = _tenant(
        staff,
        [
            Group(
                "g-all",
                "LIC-All",
                groupTypes=("DynamicMembership",),
                membershipRule=rule,
                membershipRuleProcessingState="On",
                assignedLicenses=(AssignedLicense(EMS),),
            )
        ],
    )
    narrowed = desired_group(
        "LIC-All", 'user.department -eq "Sales"', licenses=[desired_license(EMS)]
    )
    # 2 of 10 members go: 20%
    assert ("membership-drop", "warning", "LIC-All", None) in _warnings(tenant, narrowed)
    assert _warnings(tenant, narrowed, maxMembershipDropPercent=25) == set()


def test_rule_lints_come_with_their_own_codes():
    tenant = _tenant([user("ana", "Sales", usageLocation="GB")])
    group = desired_group(
        "LIC-EMS",
        'user.department -eq "Sales" -or user.department -eq "HR" -or user.department -eq "IT"',
        licenses=[desired_license(EMS)],
    )
    codes = {code for code, *_ in _warnings(tenant, group)}
    assert "or-chain-could-be-in" in codes


def test_errors_come_before_warnings_and_information():
    unified = replace(_static("Team", "ana"), groupTypes=("Unified",), securityEnabled=False)
    direct = LicenseAssignmentState(EMS)
    tenant = _tenant(
        [user("ana", "S", licenseAssignmentStates=(direct,)), user("ben", "S")],
        [unified, _static("LIC-EMS", "ana")],
    )
    group = desired_group("LIC-EMS", members=("ana", "ben"), licenses=[desired_license(EMS)])
    desired = DesiredState(None, Settings(), (group,), ())
    severities = [w.severity for w in _found(desired, tenant)]
    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert severities[0] == "error" and severities[-1] == "info"


def test_a_static_group_turned_dynamic_drops_every_member_first():
    staff = [user(f"u{n}", "Sales", usageLocation="GB") for n in range(4)]
    tenant = _tenant(staff, [_static("LIC-All", "u0", "u1", "u2", "u3")])
    dynamic = desired_group(
        "LIC-All", 'user.department -eq "Sales"', licenses=[desired_license(EMS)]
    )
    desired = DesiredState(None, Settings(maxMembershipDropPercent=50), (dynamic,), ())
    [warning] = [w for w in _found(desired, tenant) if w.code == "membership-drop"]
    assert "turning it dynamic drops 4 of LIC-All's 4 members (100%)" in warning.message


def test_a_memberof_group_keeping_members_who_left_its_source_is_named():
    source = Group(
        "g-source",
        "Sales",
        groupTypes=("DynamicMembership",),
        membershipRule='user.department -eq "Sales"',
        membershipRuleProcessingState="On",
    )
    licensed = Group(
        "g-licensed",
        "LIC-From-Sales",
        groupTypes=("DynamicMembership",),
        membershipRule="user.memberOf -any (group.objectId -in ['g-source'])",
        membershipRuleProcessingState="On",
        assignedLicenses=(AssignedLicense(EMS),),
    )
    tenant = _tenant([user("ana", "Sales"), user("ben", "HR")], [source, licensed])
    narrowed = desired_group("Sales", 'user.department -eq "Nobody"')
    found = [w for w in _found(DesiredState(None, Settings(), (narrowed,), ()), tenant)]
    stale = [w for w in found if w.code == "member-of-stale"]
    assert [(w.severity, w.group) for w in stale] == [("warning", "LIC-From-Sales")]
    assert "ana@contoso.com" in stale[0].message
    assert _warnings(tenant, desired_group("Sales", 'user.department -eq "Sales"')) == set()
