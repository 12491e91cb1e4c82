"""A user who doesn't exist yet, evaluated by every group rule and settled by the engine as a new
user is: the licenses their groups give, in seat order after everyone already there."""

from dataclasses import replace

from reconciler.engine import recompute
from reconciler.model import PrepaidUnits
from reconciler.policy import load_policy
from reconciler.policy_tests import plan_for_tests, read_tests, run_tests
from reconciler.policy_tests.new_user import EXTENSIONS, new_user_attributes
from tests.policy_tests.world import (
    POLICY,
    SKUS,
    SPE_E5,
    TENANT,
    only,
    policy_folder,
    reasons,
    run_in,
)

US_HIRE = """
tests:
  - name: a new US sales hire gets E5 without Viva Engage
    newUser:
      department: Sales
      country: United States
      usageLocation: US
    expect:
      memberOf: [LIC-Sales, LIC-AllStaff]
      licenses:
        - sku: SPE_E5
          assignedByGroup: LIC-Sales
          disabledPlans: [YAMMER_ENTERPRISE]
        - sku: EMS
          assignedByGroup: LIC-AllStaff
"""


def test_a_new_user_joins_the_groups_whose_rules_select_them_and_gets_their_licenses(tmp_path):
    result = only(run_in(tmp_path, US_HIRE))
    assert result.passed, result.failures
    assert result.kind == "newUser"
    assert result.notes == (
        "the new user joins: LIC-AllStaff, LIC-Sales",
        "the new user holds: EMS, SPE_E5",
    )


def test_a_new_user_the_rules_leave_out_fails_with_the_expressions_that_decided(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: a new Canadian sales hire gets E5
            newUser: {department: Sales, country: Canada}
            expect: {licenses: [SPE_E5]}
        """,
    )
    assert 'LIC-Sales: user.country -in ["United States"] is false (country is "Canada")' in (
        reasons(run)
    )


def test_a_new_disabled_account_gets_nothing(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: a disabled new account is licensed
            newUser: {department: Sales, country: United States, accountEnabled: false}
            expect: {licenses: [EMS]}
        """,
    )
    assert "LIC-AllStaff: user.accountEnabled -eq true is false (accountEnabled is false)" in (
        reasons(run)
    )


def test_a_new_user_lands_in_count_violation_when_the_seats_run_out(tmp_path):
    # after the plan ana and dee hold E5 (ben, short of a seat before, leaves): two of two
    skus = tuple(
        replace(sku, prepaidUnits=PrepaidUnits(2)) if sku.skuId == SPE_E5 else sku for sku in SKUS
    )
    tenant = recompute(replace(TENANT, subscribedSkus=skus))
    run = run_in(tmp_path, US_HIRE, tenant)
    [failure] = only(run).failures
    assert failure.reasons == (
        "SPE_E5 is not held",
        "the assignment through LIC-Sales fails: CountViolation "
        "(SPE_E5: 2 of 2 seats taken after the plan)",
        'LIC-Leadership: user.jobTitle -startsWith "VP" is false (jobTitle is not set)',
    )


def test_the_new_user_is_not_left_in_the_plan(tmp_path):
    folder = policy_folder(tmp_path, US_HIRE)
    planned = plan_for_tests(load_policy(folder), TENANT)
    users = planned.plan.after.users
    run_tests(read_tests(folder / "tests").tests, planned)
    assert planned.plan.after.users is users
    assert len(users) == len(TENANT.users)


def test_new_user_properties_take_graphs_names_and_extension_attributes_as_rules_name_them():
    found, problems = new_user_attributes(
        {
            "department": "Sales",
            "extensionAttribute3": "contractor",
            "onPremisesExtensionAttributes": {"extensionAttribute7": "north"},
            "extension_b7d8e5f4a3c2b1a0f9e8d7c6b5a4f3e2_costCenter": "42",
            "manager": "dee@contoso.com",
            "officeLocation": "Building 9",
        },
        TENANT,
    )
    assert problems == []
    assert found[EXTENSIONS] == {
        "extensionAttribute3": "contractor",
        "extensionAttribute7": "north",
    }
    assert found["manager"] == {"id": "dee"}
    assert found["accountEnabled"] is True and found["userType"] == "Member"
    assert found["userPrincipalName"] == "new.user@contoso.com"
    assert found["extension_b7d8e5f4a3c2b1a0f9e8d7c6b5a4f3e2_costCenter"] == "42"


def test_new_user_properties_that_graph_does_not_have_are_named():
    _, problems = new_user_attributes(
        {
            "departmnt": "Sales",
            "physicalDeliveryOfficeName": "9",
            "accountEnabled": "yes",
            "manager": "nobody@contoso.com",
            "assignedPlans": [],
            "id": "dee",
        },
        TENANT,
    )
    assert dict(problems) == {
        ".departmnt": "unknown user property 'departmnt' (did you mean 'department'?); "
        "give Graph's names",
        ".physicalDeliveryOfficeName": "'physicalDeliveryOfficeName' is the rule's name; "
        "Graph calls it 'officeLocation'",
        ".accountEnabled": "expected true or false, found text",
        ".manager": "no user 'nobody@contoso.com' in the tenant (did you mean "
        "'fay@contoso.com'?); give a userPrincipalName or an object id",
        ".assignedPlans": "'assignedPlans' is worked out from the user's licenses and groups, "
        "not given",
        ".id": "a new user has no object id yet; reconciler gives them one of its own",
    }


def test_rules_on_member_of_and_assigned_plans_follow_the_new_users_groups_and_licenses(
    tmp_path,
):
    # LIC-Visio selects members of LIC-Sales; Exchange-Users selects whoever has Exchange on:
    # both can only select the new user once their other groups and licenses are settled
    # (Visio's one seat is taken: they wait for it, which is not what this test is about)
    policy = POLICY.replace(
        "    members: [eve@contoso.com, fay@contoso.com]\n",
        "    membershipRule: user.memberOf -any (group.objectId -in ['g-sales'])\n",
    ) + (
        "  - displayName: Exchange-Users\n"
        "    membershipRule: user.assignedPlans -any (assignedPlan.servicePlanId -eq "
        '"efb87545-963c-4e0d-99df-69c6916d9eb0" -and assignedPlan.capabilityStatus -eq '
        '"Enabled")\n'
    )
    run = run_in(
        tmp_path,
        """
        tests:
          - name: a new US sales hire joins Visio through sales, and is an Exchange user
            newUser: {department: Sales, country: United States, usageLocation: US}
            expect:
              memberOf: [LIC-Sales, LIC-Visio, Exchange-Users]
              licenses: [{sku: SPE_E5, assignedByGroup: LIC-Sales}]
        """,
        policy=policy,
    )
    result = only(run)
    assert result.passed, result.failures
    # everyone else stays as the plan left them: nobody else joined or left
    planned = plan_for_tests(load_policy(tmp_path / "policies"), TENANT)
    members = {g.displayName: g.members for g in planned.plan.after.groups}
    assert "ana" in members["LIC-Visio"] and "ana" in members["Exchange-Users"]
