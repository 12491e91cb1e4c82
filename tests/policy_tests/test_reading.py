"""Bad test files and unknown names: one clear message per problem, at its file, line and
column, every problem of every file at once; an unknown name is an error, never a failed test."""

from dataclasses import replace
from pathlib import Path
from textwrap import dedent

import pytest

from reconciler.engine import recompute
from reconciler.model import Group
from reconciler.policy import PolicyError, load_policy
from reconciler.policy_tests import read_tests, selected
from reconciler.policy_tests.files import default_tests_path
from tests.policy_tests.world import TENANT, USERS, policy_folder, run_in


def problems(error: PolicyError) -> list[str]:
    return [str(problem) for problem in error.errors]


def read_problems(folder: Path) -> list[str]:
    """Every problem of the test files under `folder`, as read before the tenant is."""
    return [str(problem) for problem in read_tests(folder).problems]


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(dedent(text), encoding="utf-8")
    return path


def test_malformed_yaml_is_one_error_at_its_line_and_column(tmp_path):
    write(tmp_path, "a.yaml", "tests:\n  - name: x\n    user: [a\n")
    assert read_problems(tmp_path) == [
        f"{tmp_path / 'a.yaml'}:4:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 3)"
    ]


def test_every_schema_problem_of_every_file_names_the_test(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        """\
        tests:
          - name: one
            user: ava@contoso.com
            expect:
              licences: [SPE_E5]
          - name: two
            plan:
              licenseRemovals: {atMost: -1}
        """,
    )
    write(
        tmp_path,
        "b.yaml",
        """\
        tests:
          - name: three
            user: x@contoso.com
            plan: {removals: {atMost: 1}}
          - name: four
            user: x@contoso.com
          - name: One
            plan: {freeSeats: {sku: SPE_E5}}
        """,
    )
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert read_problems(tmp_path) == [
        f"{a}:5:7: test 'one', expect: unknown key 'licences' in expect (did you mean 'licenses'?)",
        f"{a}:8:33: test 'two', plan.licenseRemovals.atMost: is -1; the smallest allowed is 0",
        f"{b}:4:5: test 'three': give one of 'user', 'newUser' or 'plan', not both 'user' and "
        "'plan'",
        f"{b}:5:5: test 'four': missing required key 'expect': what must be true of the user",
        f"{b}:7:11: test 'One' is declared twice: first at {a}:2:11",
        f"{b}:8:23: test 'One', plan.freeSeats: missing required key 'atLeast'",
    ]


def test_a_plan_test_takes_no_expect(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        "tests:\n  - name: x\n    plan: {removals: {atMost: 1}}\n    expect: {}\n",
    )
    assert read_problems(tmp_path)[0].endswith(
        "a.yaml:4:5: test 'x': a plan test has its limits under 'plan', not 'expect'"
    )


def test_unknown_names_are_errors_at_their_place_with_the_closest_name(tmp_path):
    with pytest.raises(PolicyError) as raised:
        run_in(
            tmp_path,
            """\
            tests:
              - name: names
                user: ana@contoso.co
                expect:
                  licenses:
                    - sku: SPE_E6
                    - sku: SPE_E5
                      assignedByGroup: LIC-Sale
                      disabledPlans: [INTUNE_A]
                  noServicePlans: [EXCHANGE_S_ENTERPRISES]
              - name: new
                newUser: {departmnt: Sales}
                expect: {memberOf: [LIC-Sales]}
              - name: limits
                plan:
                  licenseAdditions: {atMost: 1, servicePlan: TEAMS1}
            """,
        )
    file = tmp_path / "policies" / "tests" / "tests.yaml"
    assert problems(raised.value) == [
        f"{file}:3:11: test 'names', user: no user 'ana@contoso.co' in the tenant (did you mean "
        "'ana@contoso.com'?); give a userPrincipalName or an object id",
        f"{file}:6:16: test 'names', expect.licenses[0].sku: unknown SKU 'SPE_E6' (did you "
        "mean 'SPE_E5'?); the tenant has: EMS, SPE_E5, VISIOCLIENT",
        f"{file}:8:28: test 'names', expect.licenses[1].assignedByGroup: no group 'LIC-Sale' in "
        "the tenant or the policy (did you mean 'LIC-Sales'?)",
        f"{file}:9:27: test 'names', expect.licenses[1].disabledPlans[0]: unknown service plan "
        "'INTUNE_A' in SPE_E5",
        f"{file}:10:24: test 'names', expect.noServicePlans[0]: unknown service plan "
        "'EXCHANGE_S_ENTERPRISES' (did you mean 'EXCHANGE_S_ENTERPRISE'?)",
        f"{file}:12:15: test 'new', newUser.departmnt: unknown user property 'departmnt' (did "
        "you mean 'department'?); give Graph's names",
        f"{file}:16:37: test 'limits', plan.licenseAdditions: 'servicePlan' filters "
        "servicePlanRemovals only",
    ]


def test_a_group_the_plan_creates_is_a_known_name(tmp_path):
    # LIC-Visio doesn't exist yet: the policy creates it
    run = run_in(
        tmp_path,
        """\
        tests:
          - name: eve joins the new Visio group
            user: eve@contoso.com
            expect: {memberOf: [LIC-Visio]}
        """,
    )
    assert run.results[0].passed


def test_name_filters_select_tests_and_one_that_selects_none_is_an_error(tmp_path):
    write(
        tmp_path,
        "a.yaml",
        "tests:\n  - name: Sales E5\n    plan: {removals: {atMost: 1}}\n"
        "  - name: Visio\n    plan: {removals: {atMost: 1}}\n",
    )
    tests = read_tests(tmp_path).tests
    assert [t.name for t in selected(tests, ["sales"], "x")] == ["Sales E5"]
    assert [t.name for t in selected(tests, [], "x")] == ["Sales E5", "Visio"]
    assert [t.name for t in selected(tests, ["visio", "E5"], "x")] == ["Sales E5", "Visio"]
    with pytest.raises(PolicyError, match="no test's name holds 'retail'"):
        selected(tests, ["retail"], "x")


def test_the_tests_are_in_the_tests_folder_of_the_policy_folder(tmp_path):
    folder = policy_folder(tmp_path)
    assert default_tests_path(folder) == folder / "tests"
    assert default_tests_path(folder / "groups.yaml") == folder / "tests"
    with pytest.raises(PolicyError, match="policy tests path does not exist"):
        read_tests(tmp_path / "nowhere")


def test_the_policy_reader_skips_the_tests_folder_at_the_top_only(tmp_path):
    # a test file is not a policy file: read as one, `tests:` would be an unknown key
    folder = policy_folder(tmp_path, "tests:\n  - name: x\n    plan: {removals: {atMost: 0}}\n")
    loaded = load_policy(folder)
    assert [g["displayName"] for g in loaded.document["groups"]] == [
        "LIC-Sales",
        "LIC-Leadership",
        "LIC-AllStaff",
        "LIC-Visio",
    ]
    assert all("tests" not in Path(file).parts[-2:-1] for file in loaded.files)
    # a folder called tests deeper down is policy like any other
    write(folder / "teams" / "tests", "more.yaml", "groups:\n  - displayName: LIC-More\n")
    assert "LIC-More" in [g["displayName"] for g in load_policy(folder).document["groups"]]


def test_tests_that_check_nothing_are_schema_problems(tmp_path):
    write(tmp_path, "empty.yaml", "")
    write(tmp_path, "none.yaml", "tests: []\n")
    write(
        tmp_path,
        "lists.yaml",
        """\
        tests:
          - name: empty lists
            user: ana@contoso.com
            expect: {licenses: [], memberOf: []}
          - name: no limit
            plan: {licenseRemovals: [], freeSeats: []}
        """,
    )
    found = read_problems(tmp_path)
    assert [problem.split(": ", 1)[0].rsplit("/", 1)[-1] for problem in found] == [
        "empty.yaml:1:1",
        "lists.yaml:4:24",
        "lists.yaml:4:38",
        "lists.yaml:6:29",
        "lists.yaml:6:44",
        "none.yaml:1:8",
    ]
    assert found[0].endswith("empty.yaml:1:1: missing required key 'tests'")
    assert found[1].endswith(
        "lists.yaml:4:24: test 'empty lists', expect.licenses: give at least one: [] checks nothing"
    )


def test_a_folder_without_test_files_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PolicyError, match="no policy test files"):
        read_tests(tmp_path / "empty")


def test_names_are_checked_in_the_same_run_as_schema_problems(tmp_path):
    with pytest.raises(PolicyError) as raised:
        run_in(
            tmp_path,
            """\
            tests:
              - name: broken
                user: ana@contoso.com
                expect: {licenses: [{sku: SPE_E5, assignedByGrup: LIC-Sales}]}
              - name: whole
                user: ana@contoso.com
                expect: {licenses: [SPE_E6], memberOf: [LIC-Sale]}
            """,
        )
    file = tmp_path / "policies" / "tests" / "tests.yaml"
    assert [str(problem).split(": ", 2)[1] for problem in raised.value.errors] == [
        "test 'broken', expect.licenses[0]",
        "test 'whole', expect.licenses[0].sku",
        "test 'whole', expect.memberOf[0]",
    ]
    assert str(raised.value.errors[1]).startswith(f"{file}:7:25: ")


def test_new_user_values_are_checked_per_property_at_their_place(tmp_path):
    with pytest.raises(PolicyError) as raised:
        run_in(
            tmp_path,
            """\
            tests:
              - name: typed
                newUser:
                  accountEnabled: "yes"
                  proxyAddresses: smtp:a@contoso.com
                  department: 42
                  extension_c272a57b722d4eb29bfe327874ae79cb_OfficeNumber: 123
                expect: {licenses: [SPE_E5]}
            """,
        )
    file = tmp_path / "policies" / "tests" / "tests.yaml"
    assert problems(raised.value) == [
        f"{file}:4:7: test 'typed', newUser.accountEnabled: expected true or false, found text",
        f"{file}:5:7: test 'typed', newUser.proxyAddresses: expected a list of text, found text",
        f"{file}:6:7: test 'typed', newUser.department: expected text, found the number 42 "
        "(rules read it as text: write '42')",
        f"{file}:7:7: test 'typed', newUser.extension_c272a57b722d4eb29bfe327874ae79cb_"
        "OfficeNumber: expected text, found the number 123 (rules read it as text: write '123')",
    ]


def test_a_new_user_may_not_take_an_existing_users_name(tmp_path):
    with pytest.raises(PolicyError) as raised:
        run_in(
            tmp_path,
            """\
            tests:
              - name: ana again
                newUser: {userPrincipalName: ANA@contoso.com, department: Sales}
                expect: {licenses: [SPE_E5]}
            """,
        )
    assert problems(raised.value)[0].endswith(
        "test 'ana again', newUser.userPrincipalName: 'ANA@contoso.com' is a user of the tenant "
        "already: give another"
    )


def test_the_default_user_principal_name_taken_is_an_error(tmp_path):
    taken = replace(USERS[0], id="nu", userPrincipalName="new.user@contoso.com")
    tenant = recompute(replace(TENANT, users=(*TENANT.users, taken)))
    with pytest.raises(PolicyError) as raised:
        run_in(
            tmp_path,
            """\
            tests:
              - name: hire
                newUser: {department: Sales}
                expect: {licenses: [SPE_E5]}
            """,
            tenant,
        )
    assert problems(raised.value)[0].endswith(
        "test 'hire', newUser: the default userPrincipalName 'new.user@contoso.com' is a user "
        "of the tenant: give one"
    )


def test_a_display_name_two_groups_share_is_ambiguous(tmp_path):
    twin = Group("g-twin", "lic-sales")  # Entra compares names ignoring case
    tenant = recompute(replace(TENANT, groups=(*TENANT.groups, twin)))
    with pytest.raises(PolicyError) as raised:
        run_in(
            tmp_path,
            """\
            tests:
              - name: ana
                user: ana@contoso.com
                expect: {memberOf: [LIC-Sales]}
            """,
            tenant,
        )
    assert problems(raised.value)[0].endswith(
        "test 'ana', expect.memberOf[0]: 2 groups are named 'LIC-Sales' (ids g-sales, g-twin); "
        "give the object id of the one meant"
    )
    # the object id names one of them
    run = run_in(
        tmp_path / "by-id",
        "tests:\n  - name: ana\n    user: ana@contoso.com\n    expect: {memberOf: [g-sales]}\n",
        tenant,
    )
    assert run.results[0].passed
