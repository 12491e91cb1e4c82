"""A user of the tenant, as the policy leaves them: what they hold, through which group, with
which service plans, in which groups; and, when that isn't what the test expects, why."""

from tests.policy_tests.world import only, reasons, run_in


def test_a_license_through_its_group_with_its_plans_passes(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: US sales staff get E5 without Viva Engage
            user: ana@contoso.com
            expect:
              memberOf: [LIC-Sales]
              notMemberOf: [LIC-Leadership]
              licenses:
                - sku: SPE_E5
                  assignedByGroup: LIC-Sales
                  enabledPlans: [EXCHANGE_S_ENTERPRISE, TEAMS1]
                  disabledPlans: [YAMMER_ENTERPRISE]
              servicePlans: [EXCHANGE_S_ENTERPRISE]
              noServicePlans: [YAMMER_ENTERPRISE]
              usageLocation: US
        """,
    )
    result = only(run)
    assert result.passed, result.failures
    assert result.checked == 6  # one per entry of each list, and usageLocation
    assert result.subject == "ana@contoso.com"


def test_a_license_the_edited_rule_takes_away_fails_naming_the_expression_and_the_value(
    tmp_path,
):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: Canadian sales staff keep E5
            user: ben@contoso.com
            expect:
              licenses: [SPE_E5]
        """,
    )
    [failure] = only(run).failures
    assert failure.expected == "holds SPE_E5"
    assert failure.reasons[0] == "SPE_E5 is not held"
    # every group that assigns the product says why it doesn't give it to him
    assert (
        'LIC-Sales: user.country -in ["United States"] is false (country is "Canada")'
        in failure.reasons
    )
    assert (
        'LIC-Leadership: user.jobTitle -startsWith "VP" is false (jobTitle is not set)'
        in failure.reasons
    )


def test_kept_through_another_group_passes_and_names_that_group_when_another_was_expected(
    tmp_path,
):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: the VP keeps E5 through leadership
            user: dee@contoso.com
            expect:
              licenses: [{sku: SPE_E5, assignedByGroup: LIC-Leadership}]
              noLicenses: [{sku: SPE_E5, assignedByGroup: LIC-Sales}]
          - name: the VP keeps E5 through sales
            user: dee@contoso.com
            expect:
              licenses: [{sku: SPE_E5, assignedByGroup: LIC-Sales}]
        """,
    )
    kept, through_sales = run.results
    assert kept.passed, kept.failures
    [failure] = through_sales.failures
    assert failure.expected == "holds SPE_E5 through LIC-Sales"
    assert (
        failure.reasons[0]
        == "SPE_E5 is not assigned through LIC-Sales; held through LIC-Leadership"
    )
    assert failure.reasons[1].startswith("LIC-Sales: user.country -in")


def test_a_plan_another_group_turns_on_is_on_for_the_user(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: the VP has no Viva Engage
            user: dee@contoso.com
            expect:
              licenses: [{sku: SPE_E5, disabledPlans: [YAMMER_ENTERPRISE]}]
              noServicePlans: [YAMMER_ENTERPRISE]
        """,
    )
    assert reasons(run) == [
        "YAMMER_ENTERPRISE is on through LIC-Leadership",
        "it is on in SPE_E5 through LIC-Leadership",
    ]


def test_a_license_held_that_should_not_be_says_through_what_and_which_expressions(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: the VP has no E5
            user: dee@contoso.com
            expect:
              noLicenses: [SPE_E5]
        """,
    )
    assert reasons(run) == [
        "SPE_E5 is held through LIC-Leadership",
        'LIC-Leadership: user.jobTitle -startsWith "VP" is true (jobTitle is "VP of Sales")',
    ]


def test_a_service_plan_in_no_product_held(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: ben keeps Exchange
            user: ben@contoso.com
            expect:
              servicePlans: [EXCHANGE_S_ENTERPRISE]
        """,
    )
    assert reasons(run) == ["no product they hold has EXCHANGE_S_ENTERPRISE (they hold: EMS)"]


def test_membership_of_an_assigned_group(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: eve draws
            user: eve@contoso.com
            expect: {memberOf: [LIC-Visio]}
          - name: ana draws
            user: ana@contoso.com
            expect: {memberOf: [LIC-Visio]}
        """,
    )
    eve, ana = run.results
    assert eve.passed
    assert [f.reasons for f in ana.failures] == [
        ("LIC-Visio: not among its members (an assigned group)",)
    ]


def test_usage_location_is_the_tenants_country_when_the_user_has_none(tmp_path):
    run = run_in(
        tmp_path,
        """
        tests:
          - name: eve is licensed in the US
            user: eve@contoso.com
            expect: {usageLocation: us}
          - name: eve is licensed in GB
            user: eve@contoso.com
            expect: {usageLocation: GB}
        """,
    )
    us, gb = run.results
    assert us.passed
    assert reasons(run) == [
        "usageLocation is not set: group licensing uses the tenant's country, US"
    ]
    assert gb.failures[0].expected == "is licensed in GB (usageLocation)"


def test_a_seat_shortage_is_reported_as_the_error_entra_leaves(tmp_path):
    # one Visio seat for two new members: in seat order (by userPrincipalName) eve gets it
    run = run_in(
        tmp_path,
        """
        tests:
          - name: eve gets Visio
            user: eve@contoso.com
            expect: {licenses: [VISIOCLIENT]}
          - name: fay gets Visio
            user: fay@contoso.com
            expect: {licenses: [VISIOCLIENT]}
        """,
    )
    eve, fay = run.results
    assert eve.passed
    assert fay.failures[0].reasons == (
        "VISIOCLIENT is not held",
        "the assignment through LIC-Visio fails: CountViolation "
        "(VISIOCLIENT: 1 of 1 seats taken after the plan)",
    )
