"""Entra's group-based licensing behaviour, scenario by scenario."""

from dataclasses import replace

import pytest

from reconciler.engine import recompute, simulate
from reconciler.engine.licensing import LicensingError, check_deletable, effective_usage_location
from reconciler.model import (
    ACTIVE,
    COUNT_VIOLATION,
    ERROR,
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

E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS E3
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"  # YAMMER_ENTERPRISE
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"  # TEAMS1
EXCHANGE = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
INTUNE = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"  # INTUNE_A

SKUS = (
    Sku(
        E5,
        "SPE_E5",
        (
            ServicePlan(YAMMER, "YAMMER_ENTERPRISE"),
            ServicePlan(TEAMS, "TEAMS1"),
            ServicePlan(EXCHANGE, "EXCHANGE_S_ENTERPRISE"),
        ),
        PrepaidUnits(enabled=10),
    ),
    Sku(EMS, "EMS", (ServicePlan(INTUNE, "INTUNE_A"),), PrepaidUnits(enabled=10)),
)


def _user(name: str, department: str = "Sales", **fields) -> User:
    attributes = {
        "id": name,
        "userPrincipalName": f"{name}@contoso.com",
        "department": department,
        "accountEnabled": True,
    }
    return User(name, f"{name}@contoso.com", attributes=attributes, **fields)


def _tenant(users, groups, skus=SKUS) -> Tenant:
    return Tenant(Organization("org", "Contoso", "US"), tuple(skus), tuple(users), tuple(groups))


def _licenses(tenant: Tenant, user_id: str) -> dict[str, frozenset[str]]:
    user = next(user for user in tenant.users if user.id == user_id)
    return {assigned.skuId: assigned.disabledPlans for assigned in user.assignedLicenses}


def _dynamic(group_id: str, rule: str, *licenses: AssignedLicense, state: str = "On") -> Group:
    return Group(
        group_id,
        group_id,
        groupTypes=("DynamicMembership",),
        membershipRule=rule,
        membershipRuleProcessingState=state,
        assignedLicenses=licenses,
    )


def test_dynamic_group_members_are_the_users_its_rule_selects():
    tenant = recompute(
        _tenant(
            [_user("ana"), _user("ben", "HR")],
            [_dynamic("sales", 'user.department -eq "sales"', AssignedLicense(E5))],
        )
    )
    assert tenant.groups[0].members == ("ana",)
    assert _licenses(tenant, "ana") == {E5: frozenset()}
    assert _licenses(tenant, "ben") == {}


def test_paused_group_keeps_its_members_whatever_the_rule_says():
    group = _dynamic("sales", 'user.department -eq "HR"', state="Paused")
    group = Group(**{**group.__getstate__(), "members": ("ana",)}) if False else group
    paused = Group(
        "sales",
        "sales",
        groupTypes=("DynamicMembership",),
        membershipRule='user.department -eq "HR"',
        membershipRuleProcessingState="Paused",
        members=("ana",),
        assignedLicenses=(AssignedLicense(E5),),
    )
    tenant = recompute(_tenant([_user("ana"), _user("ben", "HR")], [paused]))
    assert tenant.groups[0].members == ("ana",)
    assert _licenses(tenant, "ana") == {E5: frozenset()}


def test_same_product_from_two_groups_unions_enabled_plans_and_uses_one_seat():
    tenant = recompute(
        _tenant(
            [_user("ana")],
            [
                _dynamic(
                    "no-yammer",
                    "user.accountEnabled -eq true",
                    AssignedLicense(E5, frozenset({YAMMER, TEAMS})),
                ),
                _dynamic(
                    "no-teams",
                    "user.accountEnabled -eq true",
                    AssignedLicense(E5, frozenset({YAMMER})),
                ),
            ],
        )
    )
    assert _licenses(tenant, "ana") == {E5: frozenset({YAMMER})}
    assert tenant.subscribedSkus[0].consumedUnits == 1
    states = tenant.users[0].licenseAssignmentStates
    assert {state.assignedByGroup for state in states} == {"no-yammer", "no-teams"}


def test_direct_and_inherited_license_coexist_and_use_one_seat():
    direct = LicenseAssignmentState(E5, frozenset({YAMMER}), None)
    tenant = recompute(
        _tenant(
            [_user("ana", licenseAssignmentStates=(direct,))],
            [
                _dynamic(
                    "e5",
                    "user.accountEnabled -eq true",
                    AssignedLicense(E5, frozenset({YAMMER, TEAMS})),
                )
            ],
        )
    )
    assert _licenses(tenant, "ana") == {E5: frozenset({YAMMER})}
    assert [state.assignedByGroup for state in tenant.users[0].licenseAssignmentStates] == [
        None,
        "e5",
    ]
    assert tenant.subscribedSkus[0].consumedUnits == 1


def test_members_of_a_nested_group_get_nothing_from_the_parent():
    child = Group("child", "child", members=("ben",))
    parent = Group(
        "parent", "parent", members=("ana", "child"), assignedLicenses=(AssignedLicense(E5),)
    )
    tenant = recompute(_tenant([_user("ana"), _user("ben")], [parent, child]))
    assert _licenses(tenant, "ana") == {E5: frozenset()}
    assert _licenses(tenant, "ben") == {}


def test_group_that_is_not_security_enabled_assigns_nothing():
    group = Group(
        "m365",
        "m365",
        groupTypes=("Unified",),
        securityEnabled=False,
        members=("ana",),
        assignedLicenses=(AssignedLicense(E5),),
    )
    tenant = recompute(_tenant([_user("ana")], [group]))
    assert _licenses(tenant, "ana") == {}


def test_users_beyond_the_seat_count_get_count_violation_and_keep_nothing_from_that_group():
    skus = (Sku(E5, "SPE_E5", SKUS[0].servicePlans, PrepaidUnits(enabled=2)), SKUS[1])
    group = Group(
        "e5",
        "e5",
        members=("ana", "ben", "cy"),
        assignedLicenses=(AssignedLicense(E5), AssignedLicense(EMS)),
    )
    tenant = recompute(_tenant([_user("ana"), _user("ben"), _user("cy")], [group], skus))
    assert _licenses(tenant, "ana") == {E5: frozenset(), EMS: frozenset()}
    assert _licenses(tenant, "ben") == {E5: frozenset(), EMS: frozenset()}
    # all or nothing: cy has no E5 seat, so the group's EMS is not assigned either
    assert _licenses(tenant, "cy") == {}
    states = {(s.skuId, s.state, s.error) for s in tenant.users[2].licenseAssignmentStates}
    assert states == {(E5, ERROR, COUNT_VIOLATION), (EMS, ERROR, "Other")}
    assert [sku.consumedUnits for sku in tenant.subscribedSkus] == [2, 2]


def test_a_user_who_already_holds_a_seat_keeps_it_when_seats_run_short():
    skus = (Sku(E5, "SPE_E5", (), PrepaidUnits(enabled=1)),)
    held = LicenseAssignmentState(E5, frozenset(), "e5", ACTIVE)
    group = Group("e5", "e5", members=("ana", "zed"), assignedLicenses=(AssignedLicense(E5),))
    tenant = recompute(
        _tenant([_user("ana"), _user("zed", licenseAssignmentStates=(held,))], [group], skus)
    )
    assert _licenses(tenant, "zed") == {E5: frozenset()}
    assert _licenses(tenant, "ana") == {}


def test_rule_edit_removes_licenses_from_users_who_stop_matching():
    before = recompute(
        _tenant(
            [_user("ana"), _user("ben", "HR")],
            [_dynamic("lic", 'user.department -in ["Sales", "HR"]', AssignedLicense(E5))],
        )
    )
    edited = _dynamic("lic", 'user.department -eq "Sales"', AssignedLicense(E5))
    after = simulate(before, {"lic": edited})
    assert _licenses(after, "ben") == {}
    assert _licenses(after, "ana") == {E5: frozenset()}
    assert after.subscribedSkus[0].consumedUnits == 1


def test_a_group_with_licenses_cannot_be_deleted():
    licensed = Group("g", "LIC-Old", members=("ana",), assignedLicenses=(AssignedLicense(E5),))
    with pytest.raises(LicensingError, match="LIC-Old can't be deleted while it assigns licenses"):
        check_deletable(licensed)
    check_deletable(Group("g", "LIC-Old", members=("ana",)))


def test_memberof_rule_selects_direct_members_of_the_listed_group():
    static = Group("aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", "static", members=("ana",))
    rule = "user.memberOf -any (group.objectId -in ['aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb'])"
    tenant = recompute(_tenant([_user("ana"), _user("ben")], [static, _dynamic("dyn", rule)]))
    assert tenant.groups[1].members == ("ana",)


def test_a_deleted_group_leaves_the_groups_it_was_a_member_of():
    child = Group("child", "child", members=("ben",))
    parent = Group("parent", "parent", members=("ana", "child"))
    after = simulate(_tenant([_user("ana"), _user("ben")], [parent, child]), {"child": None})
    assert [(group.id, group.members) for group in after.groups] == [("parent", ("ana",))]


def test_users_without_usage_location_are_licensed_where_the_tenant_is_and_keep_theirs():
    organization = Organization("org", "Contoso", "US")
    assert effective_usage_location(_user("ana"), organization) == "US"
    assert effective_usage_location(_user("ben", usageLocation="DE"), organization) == "DE"
    tenant = recompute(
        _tenant(
            [_user("ana")], [_dynamic("e5", "user.accountEnabled -eq true", AssignedLicense(E5))]
        )
    )
    assert tenant.users[0].usageLocation is None  # group licensing never sets it
    assert _licenses(tenant, "ana") == {E5: frozenset()}


E1 = "18181a46-0d4e-45cd-891e-60aabd171b4e"  # STANDARDPACK (Office 365 E1)
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK (Office 365 E3)
SHAREPOINT_1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"  # SHAREPOINTSTANDARD
SHAREPOINT_2 = "5dbe027f-2339-4123-9542-606e4d348a72"  # SHAREPOINTENTERPRISE
OFFICE_SKUS = (
    Sku(E1, "STANDARDPACK", (ServicePlan(SHAREPOINT_1, "SHAREPOINTSTANDARD"),), PrepaidUnits(5)),
    Sku(
        E3, "ENTERPRISEPACK", (ServicePlan(SHAREPOINT_2, "SHAREPOINTENTERPRISE"),), PrepaidUnits(5)
    ),
)


def test_moving_users_between_conflicting_products_errors_then_clears_without_a_gap():
    held = LicenseAssignmentState(E1, frozenset(), "source", ACTIVE)
    source = Group("source", "E1", members=("ana",), assignedLicenses=(AssignedLicense(E1),))
    target = Group("target", "E3", members=("ana",), assignedLicenses=(AssignedLicense(E3),))
    tenant = recompute(
        _tenant([_user("ana", licenseAssignmentStates=(held,))], [source, target], OFFICE_SKUS)
    )
    # the target license errors while the source one stays active: no gap in service
    assert _licenses(tenant, "ana") == {E1: frozenset()}
    states = {(s.skuId, s.state, s.error) for s in tenant.users[0].licenseAssignmentStates}
    assert (E3, ERROR, "MutuallyExclusiveViolation") in states
    # removed from the source group, the conflict clears and the target license is active
    moved = simulate(
        tenant, {"source": Group("source", "E1", assignedLicenses=source.assignedLicenses)}
    )
    assert _licenses(moved, "ana") == {E3: frozenset()}


def test_a_conflicting_plan_turned_off_in_the_group_is_no_conflict():
    direct = LicenseAssignmentState(E1, frozenset(), None)
    target = Group(
        "target",
        "E3",
        members=("ana",),
        assignedLicenses=(AssignedLicense(E3, frozenset({SHAREPOINT_2})),),
    )
    tenant = recompute(
        _tenant([_user("ana", licenseAssignmentStates=(direct,))], [target], OFFICE_SKUS)
    )
    assert _licenses(tenant, "ana") == {E1: frozenset(), E3: frozenset({SHAREPOINT_2})}


def test_users_a_change_leaves_as_they_were_are_the_very_same_objects():
    sales = _dynamic("sales", 'user.department -eq "Sales"', AssignedLicense(E5))
    before = recompute(_tenant([_user("ana"), _user("bo", department="IT")], [sales]))
    after = simulate(
        before, {"sales": replace(sales, membershipRule="user.accountEnabled -eq true")}
    )
    ana_before, bo_before = before.users
    ana_after, bo_after = after.users
    # writers tell the users a change touched by identity: ana is untouched, bo gains E5
    assert ana_after is ana_before
    assert bo_after is not bo_before and _licenses(after, "bo") == {E5: frozenset()}
