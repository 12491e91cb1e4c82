"""The diff turns desired state and the tenant into the changes between them, and no others."""

from dataclasses import replace

import pytest

from reconciler.engine import recompute, simulate
from reconciler.errors import InputError
from reconciler.model import (
    AssignedLicense,
    Group,
    Organization,
    PrepaidUnits,
    Sku,
    Tenant,
)
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    apply_to_groups,
    new_group_id,
)
from reconciler.plan.diff import diff
from reconciler.policy.desired import (
    DesiredGroup,
    DesiredState,
    RetiredGroup,
    Settings,
)
from tests.builders import HERE, user
from tests.builders import desired_group as group
from tests.builders import desired_license as license_of

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"


def _desired(*groups, retired=()) -> DesiredState:
    return DesiredState(None, Settings(), tuple(groups), tuple(retired))


TENANT = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        (Sku(E3, "SPE_E3", (), PrepaidUnits(50)), Sku(E5, "SPE_E5", (), PrepaidUnits(50))),
        (user("ana", "Sales"), user("ben", "HR"), user("cy", "Sales")),
        (
            Group(
                "g-sales",
                "LIC-Sales",
                groupTypes=("DynamicMembership",),
                membershipRule='user.department -in ["Sales", "HR"]',
                membershipRuleProcessingState="On",
                assignedLicenses=(AssignedLicense(E3), AssignedLicense(E5, frozenset({YAMMER}))),
            ),
            Group("g-static", "LIC-Static", members=("ana", "ben")),
            Group("g-old", "LIC-Old", members=("cy",), assignedLicenses=(AssignedLicense(E3),)),
            Group(
                "g-other", "Unmanaged", members=("ana",), assignedLicenses=(AssignedLicense(E5),)
            ),
        ),
    )
)


def test_a_tenant_that_matches_the_policy_needs_no_changes():
    desired = _desired(
        group(
            "lic-sales",  # names match ignoring case, as Entra's do
            rule='user.department -in ["Sales", "HR"]',
            licenses=[license_of(E3), license_of(E5, YAMMER)],
        )
    )
    assert diff(desired, TENANT) == ()


def test_every_kind_of_change_comes_out_group_by_group_in_an_order_the_tenant_accepts():
    desired = _desired(
        group(
            "LIC-Sales",
            rule='user.department -eq "Sales"',
            licenses=[license_of(E5), license_of("c7df2760-2c81-4ef7-b578-5b5392b571df")],
        ),
        group("LIC-Static", members=("ben@contoso.com", "cy")),
        group(
            "LIC-New",
            members=("ana@contoso.com",),
            licenses=[license_of(E3)],
            description="New",
        ),
        retired=[RetiredGroup("LIC-Old", None, HERE)],
    )
    new = new_group_id("LIC-New")
    assert diff(desired, TENANT) == (
        UpdateGroup(
            "g-sales",
            "LIC-Sales",
            "membershipRule",
            'user.department -in ["Sales", "HR"]',
            'user.department -eq "Sales"',
        ),
        ChangeDisabledPlans("g-sales", "LIC-Sales", E5, frozenset({YAMMER}), frozenset()),
        AddLicense("g-sales", "LIC-Sales", AssignedLicense("c7df2760-2c81-4ef7-b578-5b5392b571df")),
        RemoveLicense("g-sales", "LIC-Sales", E3),
        AddMembers("g-static", "LIC-Static", ("cy",)),
        RemoveMembers("g-static", "LIC-Static", ("ana",)),
        CreateGroup(Group(new, "LIC-New", description="New")),
        AddMembers(new, "LIC-New", ("ana",)),
        AddLicense(new, "LIC-New", AssignedLicense(E3)),
        RemoveLicense("g-old", "LIC-Old", E3),
        DeleteGroup("g-old", "LIC-Old"),
    )


def test_groups_the_policy_does_not_name_are_never_changed():
    changes = diff(_desired(), TENANT)
    assert changes == ()
    after = simulate(TENANT, apply_to_groups({g.id: g for g in TENANT.groups}, changes))
    assert [g for g in after.groups if g.id == "g-other"] == [TENANT.groups[3]]


def test_after_applying_the_changes_the_diff_is_empty():
    desired = _desired(
        group("LIC-Sales", rule='user.department -eq "Sales"', licenses=[license_of(E5)]),
        retired=[RetiredGroup("LIC-Old", None, HERE)],
    )
    changes = diff(desired, TENANT)
    after = simulate(TENANT, apply_to_groups({g.id: g for g in TENANT.groups}, changes))
    assert diff(desired, after) == ()
    ben = next(user for user in after.users if user.id == "ben")
    # ben stops matching the rule and loses E5; ana keeps E5 through the unmanaged group too
    assert ben.assignedLicenses == ()
    assert [g.displayName for g in after.groups] == ["LIC-Sales", "LIC-Static", "Unmanaged"]


def test_an_unknown_static_member_is_an_error_at_the_group_in_the_policy():
    desired = _desired(group("LIC-Static", members=("nobody@contoso.com",)))
    with pytest.raises(InputError) as raised:
        diff(desired, TENANT)
    assert raised.value.location == HERE
    assert "no user or group 'nobody@contoso.com'" in raised.value.message


def _pinned(name: str, group_id: str, **fields) -> DesiredGroup:
    return replace(group(name, **fields), id=group_id)


def test_a_group_pinned_by_id_under_a_new_name_is_renamed():
    desired = _desired(
        _pinned("LIC-Retired-Soon", "g-old", members=("cy",), licenses=[license_of(E3)])
    )
    assert diff(desired, TENANT) == (
        UpdateGroup("g-old", "LIC-Old", "displayName", "LIC-Old", "LIC-Retired-Soon"),
    )


def test_a_pin_to_an_id_the_tenant_lacks_is_an_error_not_a_new_group():
    desired = _desired(_pinned("LIC-Visio", "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"))
    with pytest.raises(InputError, match="the tenant has no group with that id"):
        diff(desired, TENANT)


def test_two_declarations_of_one_tenant_group_are_an_error():
    desired = _desired(
        group("LIC-Static", members=("ana",)),
        _pinned("Another name", "g-static", members=("ana",)),
    )
    with pytest.raises(InputError, match="both name the tenant's group LIC-Static"):
        diff(desired, TENANT)


def test_a_microsoft_365_group_cannot_be_declared_a_security_group():
    unified = Group("g-m365", "Team", groupTypes=("Unified",), securityEnabled=True)
    tenant = replace(TENANT, groups=(*TENANT.groups, unified))
    with pytest.raises(InputError, match="is a Microsoft 365 group in the tenant"):
        diff(_desired(group("Team", members=())), tenant)


def test_pausing_comes_before_a_rule_edit_so_no_one_drops_out_in_between():
    paused = replace(
        group(
            "LIC-Sales",
            rule='user.department -eq "Sales"',
            licenses=[license_of(E3), license_of(E5, YAMMER)],
        ),
        membershipRuleProcessingState="Paused",
    )
    updates = [c.property for c in diff(_desired(paused), TENANT) if isinstance(c, UpdateGroup)]
    assert updates == ["membershipRuleProcessingState", "membershipRule"]
    resumed = group(
        "LIC-Sales",
        rule='user.department -eq "HR"',
        licenses=[license_of(E3), license_of(E5, YAMMER)],
    )
    paused_tenant = simulate(
        TENANT,
        {"g-sales": replace(TENANT.groups[0], membershipRuleProcessingState="Paused")},
    )
    updates = [
        c.property for c in diff(_desired(resumed), paused_tenant) if isinstance(c, UpdateGroup)
    ]
    assert updates == ["membershipRule", "membershipRuleProcessingState"]


def test_group_types_in_another_order_are_no_change():
    m365 = Group(
        "g-team",
        "Team",
        groupTypes=("DynamicMembership", "Unified"),
        membershipRule='user.department -eq "HR"',
        membershipRuleProcessingState="On",
    )
    tenant = replace(TENANT, groups=(m365,))
    wanted = replace(
        group("Team", rule='user.department -eq "HR"'), groupTypes=("Unified", "DynamicMembership")
    )
    assert diff(_desired(wanted), tenant) == ()


def test_a_static_group_turned_dynamic_sets_its_rule_and_processing_in_the_same_change():
    # Graph refuses a dynamic group without a rule, and a rule on a static group
    desired = _desired(group("LIC-Static", rule='user.department -eq "HR"', description="HR"))
    changes = [c for c in diff(desired, TENANT) if isinstance(c, UpdateGroup)]
    assert [(c.property, c.before, c.after, c.also) for c in changes] == [
        ("description", None, "HR", ()),
        (
            "groupTypes",
            (),
            ("DynamicMembership",),
            (
                ("membershipRule", None, 'user.department -eq "HR"'),
                ("membershipRuleProcessingState", None, "On"),
            ),
        ),
    ]


def test_a_dynamic_group_declared_without_rule_or_members_keeps_its_membership():
    # the policy manages only LIC-Sales's licenses: it stays dynamic, with its rule
    changes = diff(
        _desired(group("LIC-Sales", licenses=[license_of(E3)])),
        TENANT,
    )
    assert changes == (RemoveLicense("g-sales", "LIC-Sales", E5),)
