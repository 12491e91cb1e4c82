"""`explain`: a user's licenses, where each comes from, and what a plan changes for them, on
small local tenants settled as Entra settles them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.explain import (
    ExplainedLicense,
    Explanation,
    UserChange,
    UserNotFoundError,
    explain_plan,
    find_user,
)
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
from reconciler.plan.build import build_plan
from reconciler.policy.desired import DesiredState, Settings
from reconciler.providers.local import LocalTenant
from reconciler.render.explain_text import explain_text
from tests.builders import desired_group, desired_license, user

# Microsoft's ids (Product names and service plan identifiers for licensing)
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"  # YAMMER_ENTERPRISE
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"  # TEAMS1
EXCHANGE = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"  # VISIOCLIENT
VISIO_PLAN = "663a804f-1c30-4ff0-9915-9db84f0d1cea"  # VISIO_CLIENT_SUBSCRIPTION

SKUS = (
    Sku(
        E5,
        "SPE_E5",
        (
            ServicePlan(YAMMER, "YAMMER_ENTERPRISE"),
            ServicePlan(TEAMS, "TEAMS1"),
            ServicePlan(EXCHANGE, "EXCHANGE_S_ENTERPRISE"),
        ),
        PrepaidUnits(10),
    ),
    Sku(
        VISIO,
        "VISIOCLIENT",
        (ServicePlan(VISIO_PLAN, "VISIO_CLIENT_SUBSCRIPTION"),),
        PrepaidUnits(1),
    ),
)
SALES_RULE = 'user.department -eq "Sales"'


def _person(name: str, department: str, country: str = "US", **fields) -> User:
    base = user(name, department, **fields)
    return replace(base, attributes={**base.attributes, "country": country})


def _sales(*off: str) -> Group:
    return Group(
        "g-sales",
        "LIC-Sales",
        groupTypes=("DynamicMembership",),
        membershipRule=SALES_RULE,
        membershipRuleProcessingState="On",
        assignedLicenses=(AssignedLicense(E5, frozenset(off)),),
    )


def _static(group_id: str, name: str, members: tuple[str, ...], *licenses) -> Group:
    return Group(group_id, name, members=members, assignedLicenses=tuple(licenses))


def _local(tmp_path: Path, users: tuple[User, ...], groups: tuple[Group, ...]) -> Tenant:
    """The tenant as a local tenant holds it: memberships, licenses and errors settled."""
    organization = Organization("org", "Contoso", "US", ("contoso.com",))
    tenant = Tenant(organization, SKUS, users, groups)
    return LocalTenant.create(tmp_path / "tenant.db", tenant).read()


def _explain(tenant: Tenant, name: str, *groups) -> Explanation:
    """The explanation of `name` under a policy declaring `groups`."""
    plan = build_plan(DesiredState(None, Settings(), tuple(groups), ()), tenant)
    return explain_plan(plan, find_user(tenant, name).id)


def _license(explanation: Explanation, part_number: str) -> ExplainedLicense:
    (found,) = [lic for lic in explanation.licenses if lic.skuPartNumber == part_number]
    return found


def _sources(license: ExplainedLicense, after: bool = False) -> dict[str, set[str]]:
    plans = license.servicePlansAfter if after else license.servicePlans
    return {p.servicePlanName: set(p.sources) for p in plans if p.enabled}


def test_a_direct_and_an_inherited_license_of_one_product_are_one_license_with_both_plans(
    tmp_path,
):
    ana = _person("ana", "Sales", licenseAssignmentStates=(LicenseAssignmentState(E5, {TEAMS}),))
    tenant = _local(tmp_path, (ana,), (_sales(YAMMER),))
    found = _explain(
        tenant,
        "ana@contoso.com",
        desired_group("LIC-Sales", SALES_RULE, licenses=[desired_license(E5, YAMMER)]),
    )
    e5 = _license(found, "SPE_E5")
    assert {(a.assignedByGroup, a.group, a.disabledPlans) for a in e5.assignments} == {
        (None, None, ("TEAMS1",)),
        ("g-sales", "LIC-Sales", ("YAMMER_ENTERPRISE",)),
    }
    assert {(a.state, a.error) for a in e5.assignments} == {("Active", "None")}
    # the enabled plans are the union of both assignments: each turns on what the other doesn't
    assert _sources(e5) == {
        "YAMMER_ENTERPRISE": {"direct"},
        "TEAMS1": {"LIC-Sales"},
        "EXCHANGE_S_ENTERPRISE": {"direct", "LIC-Sales"},
    }
    assert e5.after == "kept" and found.plan == ()


def test_two_groups_with_one_product_give_the_union_of_their_enabled_plans(tmp_path):
    ben = _person("ben", "Sales")
    leaders = _static("g-lead", "LIC-Leaders", ("ben",), AssignedLicense(E5, frozenset({TEAMS})))
    tenant = _local(tmp_path, (ben,), (_sales(YAMMER), leaders))
    found = _explain(tenant, "BEN@contoso.com")
    (e5,) = found.licenses
    assert {a.group: a.disabledPlans for a in e5.assignments} == {
        "LIC-Sales": ("YAMMER_ENTERPRISE",),
        "LIC-Leaders": ("TEAMS1",),
    }
    assert _sources(e5) == {
        "YAMMER_ENTERPRISE": {"LIC-Leaders"},
        "TEAMS1": {"LIC-Sales"},
        "EXCHANGE_S_ENTERPRISE": {"LIC-Sales", "LIC-Leaders"},
    }
    text = explain_text(found)
    assert "service plans: 3 of 3 on, one seat for 2 assignments" in text
    assert "on through LIC-Leaders only: YAMMER_ENTERPRISE" in text


def test_a_group_license_short_of_seats_shows_count_violation_now_and_for_a_new_member(tmp_path):
    # one seat, held by ana's direct assignment: the group can't license anyone
    ana = _person("ana", "Sales", licenseAssignmentStates=(LicenseAssignmentState(VISIO),))
    visio = _static("g-visio", "LIC-Visio", ("ben",), AssignedLicense(VISIO))
    people = (ana, _person("ben", "Sales"), _person("cy", "HR"))
    tenant = _local(tmp_path, people, (visio,))
    policy = desired_group("LIC-Visio", members=("ben", "cy"), licenses=[desired_license(VISIO)])

    ben = _license(_explain(tenant, "ben@contoso.com", policy), "VISIOCLIENT")
    assert [(a.group, a.state, a.error) for a in ben.assignments] == [
        ("LIC-Visio", "Error", "CountViolation")
    ]
    assert not any(p.enabled for p in ben.servicePlans)
    assert ben.after == "notHeld"

    cy = _explain(tenant, "cy@contoso.com", policy)
    assert _license(cy, "VISIOCLIENT").assignments == ()
    assert [(a.group, a.state, a.error) for a in _license(cy, "VISIOCLIENT").assignmentsAfter] == [
        ("LIC-Visio", "Error", "CountViolation")
    ]
    assert [(c.action, c.group) for c in cy.plan] == [
        ("joinGroup", "LIC-Visio"),
        ("assignmentError", "LIC-Visio"),
    ]
    assert (cy.plan[1].state, cy.plan[1].error) == ("Error", "CountViolation")
    assert "! VISIOCLIENT through LIC-Visio ends in Error (CountViolation)" in explain_text(cy)


def test_a_rule_edit_takes_a_product_from_one_user_and_another_group_keeps_it_for_the_other(
    tmp_path,
):
    ana = _person("ana", "Sales", country="GB")
    dee = _person("dee", "Sales", country="GB")
    leaders = _static("g-lead", "LIC-Leaders", ("ana",), AssignedLicense(E5, frozenset({TEAMS})))
    tenant = _local(tmp_path, (ana, dee), (_sales(YAMMER), leaders))
    edited = desired_group(
        "LIC-Sales",
        SALES_RULE + ' -and user.country -eq "US"',
        licenses=[desired_license(E5, YAMMER)],
    )
    left = "no longer matches the edited membership rule"

    kept = _explain(tenant, "ana@contoso.com", edited)
    assert kept.plan[:2] == (
        UserChange("leaveGroup", "LIC-Sales", "g-sales", reason=left),
        UserChange(
            "loseServicePlans",
            "LIC-Sales",
            skuId=E5,
            skuPartNumber="SPE_E5",
            servicePlans=("TEAMS1",),
            reason=left,
            keptBy=("LIC-Leaders",),
        ),
    )
    assert (
        UserChange(
            "keepLicense", "LIC-Sales", skuId=E5, skuPartNumber="SPE_E5", keptBy=("LIC-Leaders",)
        )
        in kept.plan
    )
    e5 = _license(kept, "SPE_E5")
    assert e5.after == "changed"
    assert _sources(e5, after=True) == {
        "YAMMER_ENTERPRISE": {"LIC-Leaders"},
        "EXCHANGE_S_ENTERPRISE": {"LIC-Leaders"},
    }
    (sales,) = [g for g in kept.groups if g.displayName == "LIC-Sales"]
    assert (sales.now.member, sales.now.matchesRule, sales.now.decidedBy) == (
        True,
        True,
        ('user.department -eq "Sales"',),
    )
    assert (sales.after.member, sales.after.matchesRule, sales.after.decidedBy) == (
        False,
        False,
        ('user.country -eq "US"',),
    )

    lost = _explain(tenant, "dee@contoso.com", edited)
    assert _license(lost, "SPE_E5").after == "lost"
    assert _license(lost, "SPE_E5").assignmentsAfter == ()
    assert (
        UserChange("loseLicense", "LIC-Sales", skuId=E5, skuPartNumber="SPE_E5", reason=left)
        in lost.plan
    )
    assert f"- loses SPE_E5 through LIC-Sales ({left})" in explain_text(lost)


def test_a_static_group_turned_dynamic_takes_its_license_away_for_a_while(tmp_path):
    # Microsoft: converting a static group to dynamic removes every member, then the rule
    # adds those it selects back
    ana = _person("ana", "Sales")
    static = _static("g-sales", "LIC-Sales", ("ana",), AssignedLicense(E5))
    tenant = _local(tmp_path, (ana,), (static,))
    found = _explain(
        tenant, "ana", desired_group("LIC-Sales", SALES_RULE, licenses=[desired_license(E5)])
    )
    assert _license(found, "SPE_E5").after == "lostForAWhile"
    actions = {(c.action, c.temporary) for c in found.plan}
    assert {("leaveGroup", True), ("loseLicense", True)} <= actions


def test_a_member_only_through_a_nested_group_gets_nothing_from_the_licensed_group(tmp_path):
    eve = _person("eve", "Finance")
    inner = _static("g-inner", "Finance Analysts", ("eve",))
    outer = _static("g-bi", "LIC-PowerBI", ("g-inner",), AssignedLicense(E5))
    found = _explain(_local(tmp_path, (eve,), (inner, outer)), "eve@contoso.com")
    assert found.licenses == ()
    (bi,) = [g for g in found.groups if g.displayName == "LIC-PowerBI"]
    assert (bi.now.member, bi.now.nestedThrough, bi.now.licenses) == (
        False,
        ("Finance Analysts",),
        ("SPE_E5",),
    )
    assert "Entra licenses direct members only" in explain_text(found)


def test_a_user_without_a_usage_location_is_licensed_in_the_tenants_country(tmp_path):
    tenant = _local(
        tmp_path, (_person("ana", "Sales"), _person("ben", "Sales", usageLocation="GB")), ()
    )
    ana, ben = (_explain(tenant, name).user for name in ("ana", "ben"))
    assert (ana.usageLocation, ana.effectiveUsageLocation) == (None, "US")
    assert (ben.usageLocation, ben.effectiveUsageLocation) == ("GB", "GB")
    assert "none: group licensing uses the tenant's country, US" in explain_text(
        _explain(tenant, "ana")
    )


def test_an_unknown_user_is_one_error_naming_the_closest_user(tmp_path):
    tenant = _local(tmp_path, (_person("anastasia", "Sales"), _person("ben", "HR")), ())
    with pytest.raises(UserNotFoundError) as raised:
        find_user(tenant, "anastasia@contoso.co")
    assert "no user 'anastasia@contoso.co'" in str(raised.value)
    assert "did you mean 'anastasia@contoso.com'?" in str(raised.value)
    with pytest.raises(UserNotFoundError) as raised:
        find_user(tenant, "zzzzzz")
    assert "did you mean" not in str(raised.value)
