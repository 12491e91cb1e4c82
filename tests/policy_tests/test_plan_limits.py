"""Limits on the plan as a whole: what it takes away and gives, through which group, the
assignments it leaves in error and the seats it leaves free."""

from dataclasses import replace

from reconciler.engine import recompute
from reconciler.errors import Location
from reconciler.model import LicenseAssignmentState
from reconciler.policy import load_policy
from reconciler.policy_tests import PolicyTestRun, plan_for_tests
from reconciler.policy_tests.reasons import Memberships
from reconciler.policy_tests.run import _run
from reconciler.policy_tests.spec import PolicyTest, UserExpectations
from tests.policy_tests.world import (
    EXCHANGE_S_ENTERPRISE,
    POLICY,
    SKUS,
    TENANT,
    USERS,
    policy_folder,
    reasons,
    run_in,
    sku,
)

ENTERPRISEPACK = "6fd2c87f-b296-42f0-b197-1e91e994b900"


def verdicts(run: PolicyTestRun) -> dict[str, bool]:
    return {result.name: result.passed for result in run.results}


def test_license_removals_count_people_losing_a_product_through_the_group_named(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: nobody loses a license
            plan: {licenseRemovals: {atMost: 0}}
          - name: one person loses E5 at most
            plan: {licenseRemovals: [{atMost: 1, sku: SPE_E5}]}
          - name: nobody loses a license through leadership
            plan: {licenseRemovals: {atMost: 0, assignedByGroup: LIC-Leadership}}
        """,
    )
    assert verdicts(run) == {
        "nobody loses a license": False,
        "one person loses E5 at most": True,
        "nobody loses a license through leadership": True,
    }
    assert reasons(run) == [
        "1 found",
        "ben@contoso.com loses SPE_E5 through LIC-Sales (no longer matches the edited membership "
        "rule)",
    ]
    assert run.results[0].failures[0].expected == "at most 0 people losing a license"


def test_a_service_plan_another_product_still_gives_is_not_lost(tmp_path):
    # ben holds Office 365 E3 directly: he loses E5, and keeps Exchange through E3
    office = sku(
        ENTERPRISEPACK, "ENTERPRISEPACK", 5, (EXCHANGE_S_ENTERPRISE, "EXCHANGE_S_ENTERPRISE")
    )
    ben = replace(USERS[1], licenseAssignmentStates=(LicenseAssignmentState(ENTERPRISEPACK),))
    tenant = recompute(
        replace(TENANT, subscribedSkus=(*SKUS, office), users=(USERS[0], ben, *USERS[2:]))
    )
    tests = """
        tests:
          - name: nobody loses Exchange
            plan: {servicePlanRemovals: {servicePlan: EXCHANGE_S_ENTERPRISE, atMost: 0}}
          - name: nobody loses Teams
            plan: {servicePlanRemovals: {servicePlan: TEAMS1, atMost: 0}}
        """
    run = run_in(tmp_path, tests, tenant)
    assert verdicts(run) == {"nobody loses Exchange": True, "nobody loses Teams": False}
    assert reasons(run) == [
        "1 found",
        "ben@contoso.com loses TEAMS1 (of SPE_E5 through LIC-Sales: no longer matches the "
        "edited membership rule)",
    ]
    # without the other product, Exchange goes with E5
    assert not run_in(tmp_path / "alone", tests).results[0].passed


def test_removals_count_as_the_guard_does_products_whose_plans_shrink_too(tmp_path):
    policy = POLICY.replace(
        "      - sku: SPE_E5\n  - displayName: LIC-AllStaff",
        "      - sku: SPE_E5\n        disabledPlans: [TEAMS1]\n  - displayName: LIC-AllStaff",
    )
    assert policy != POLICY
    run = run_in(
        tmp_path,
        """
        tests:
          - name: one removal at most
            plan: {removals: {atMost: 1}}
          - name: one license removal at most
            plan: {licenseRemovals: {atMost: 1}}
          - name: dee keeps every plan
            plan: {removals: {atMost: 0, assignedByGroup: LIC-Leadership}}
        """,
        policy=policy,
    )
    assert verdicts(run) == {
        "one removal at most": False,
        "one license removal at most": True,
        "dee keeps every plan": False,
    }
    assert "dee@contoso.com loses TEAMS1 of SPE_E5 through LIC-Leadership" in reasons(run)[-1]


def test_new_assignment_errors_and_free_seats(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: nobody waits for a seat
            plan: {newAssignmentErrors: {atMost: 0, error: CountViolation}}
          - name: no conflicting plans
            plan: {newAssignmentErrors: {atMost: 0, error: MutuallyExclusiveViolation}}
          - name: a Visio seat to spare
            plan: {freeSeats: {sku: VISIOCLIENT, atLeast: 1}}
          - name: E5 seats to spare
            plan: {freeSeats: [{sku: SPE_E5, atLeast: 8}]}
        """,
    )
    assert verdicts(run) == {
        "nobody waits for a seat": False,
        "no conflicting plans": True,
        "a Visio seat to spare": False,
        "E5 seats to spare": True,
    }
    assert reasons(run) == [
        "1 found",
        "fay@contoso.com: VISIOCLIENT through LIC-Visio fails with CountViolation",
        "0 left after the plan (1 of 1 taken)",
    ]


def test_license_additions(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: nobody gains Visio
            plan: {licenseAdditions: {atMost: 0, sku: VISIOCLIENT}}
          - name: nobody gains E5
            plan: {licenseAdditions: {atMost: 0, sku: SPE_E5}}
        """,
    )
    assert verdicts(run) == {"nobody gains Visio": False, "nobody gains E5": True}
    assert "eve@contoso.com gains VISIOCLIENT through LIC-Visio" in reasons(run)


def test_a_loss_through_two_groups_at_once_counts_for_each_as_the_guard_sees_it(tmp_path):
    # dee (a VP of Sales in Canada) leaves LIC-Sales (the US only) and LIC-Leadership (chiefs
    # only) at once: she loses E5 through both, though the plan's record names only one
    policy = POLICY.replace('"VP"', '"Chief"').replace(
        "  - displayName: LIC-Sales\n", "  - displayName: LIC-Sales\n    protect: true\n"
    )
    tests = """
        tests:
          - name: nobody loses E5 through sales
            plan: {removals: {assignedByGroup: LIC-Sales, atMost: 0}}
          - name: nobody loses Teams through sales
            plan:
              servicePlanRemovals: {assignedByGroup: LIC-Sales, servicePlan: TEAMS1, atMost: 0}
        """
    run = run_in(tmp_path, tests, policy=policy)
    removals, teams = (result.failures[0].reasons for result in run.results)
    assert removals[0] == "2 found"
    assert [line.split()[0] for line in removals[1:]] == ["ben@contoso.com", "dee@contoso.com"]
    assert "through LIC-Leadership" in removals[2]  # the group the plan's record names
    assert teams[0] == "2 found"
    # the removal guard refuses the plan for the same loss through the protected group
    planned = plan_for_tests(load_policy(tmp_path / "policies"), TENANT)
    assert [name for _, name in planned.plan.guards.protected] == ["LIC-Sales"]


def test_a_test_that_checks_nothing_fails(tmp_path):
    # the schema refuses empty lists; should a test still reach the run with nothing to check,
    # it fails rather than pass whatever the plan does
    policy = policy_folder(tmp_path)
    planned = plan_for_tests(load_policy(policy), TENANT)
    where = Location("t.yaml", 1, 1)
    for test in (
        PolicyTest("nothing", where),
        PolicyTest("no expectation", where, userId="ana", expect=UserExpectations()),
    ):
        result = _run(test, planned, Memberships(planned.plan.after))
        assert (result.passed, result.checked) == (False, 0)
        assert result.failures[0].reasons == ("the test checks nothing: give it a check",)
