"""`reconciler rule check|test|diff` driven as a user would, in a real subprocess."""

import json
import subprocess
import sys
from pathlib import Path

import pytest


def test_check_valid_rule_exits_zero_and_names_the_object_type(run):
    result = run("rule", "check", 'user.department -eq "Sales"')
    assert result.code == 0, result.stderr
    assert "valid user rule" in result.stdout


def test_check_invalid_rule_exits_one_with_caret_under_the_column(run):
    result = run("rule", "check", 'user.departmnt -eq "Sales"')
    assert result.code == 1
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == (
        "error[unknown-property]: unknown property 'user.departmnt' (did you mean 'department'?)"
    )
    assert lines[1] == '  user.departmnt -eq "Sales"'
    assert lines[2] == "  ^^^^^^^^^^^^^^"


def test_check_points_the_caret_at_a_missing_logical_operator(run):
    rule = '(user.department -eq "Sales") (user.department -eq "Marketing")'
    result = run("rule", "check", rule)
    assert result.code == 1
    caret_line = result.stderr.splitlines()[2]
    assert caret_line.index("^") - 2 == rule.index(") (") + 2
    assert "missing -and/-or between two expressions" in result.stderr


def test_check_json_reports_error_code_and_span(run):
    result = run("rule", "check", "--format", "json", "(user.accountEnabled -contains true)")
    assert result.code == 1
    document = result.json()
    assert document["valid"] is False
    [error] = document["errors"]
    assert error["code"] == "operator-not-supported"
    assert (
        error["message"] == "operator -contains is not supported on boolean property accountEnabled"
    )
    assert (error["line"], error["column"], error["start"], error["end"]) == (1, 22, 21, 30)


def test_check_prints_lints_as_warnings_and_still_exits_zero(run):
    result = run("rule", "check", 'user.city -match "^Lagos$"')
    assert result.code == 0
    assert "warning[match-could-be-simpler]" in result.stdout


def test_check_json_lists_lints_with_codes(run):
    result = run("rule", "check", "--format", "json", "user.mail \u2013ne null")
    assert result.code == 0
    document = result.json()
    assert document["valid"] is True
    assert document["canonical"] == "user.mail -ne null"
    assert "typographic-dash" in [lint["code"] for lint in document["lints"]]


def test_check_reads_rule_from_file_and_reports_file_line_and_column(run, tmp_path: Path):
    rule_file = tmp_path / "rule.txt"
    rule_file.write_text('user.department -eq "Sales" -or\n  user.cty -eq "Lagos"\n')
    result = run("rule", "check", "--file", str(rule_file))
    assert result.code == 1
    assert result.stderr.startswith(f"{rule_file}:2:3: error[unknown-property]")


def test_check_accepts_a_rule_starting_with_not_after_double_dash(run):
    result = run("rule", "check", "--", '-not (user.department -eq "Sales")')
    assert result.code == 0, result.stderr


def test_check_needs_exactly_one_of_rule_and_file(run):
    assert "give a RULE, or --file with one" in run("rule", "check").stderr
    result = run("rule", "check", "user.a -eq 'b'", "--file", "rule.txt")
    assert result.code == 1
    assert "give either RULE or --file, not both" in result.stderr


def test_test_lists_member_or_not_for_every_user_with_deciding_expression(run, users_file):
    rule = 'user.department -eq "Sales" -and user.accountEnabled -eq true'
    result = run("rule", "test", rule, "--users", str(users_file))
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "member",
        "ana@contoso.com",
        "user.department",
        "-eq",
        '"Sales";',
        "user.accountEnabled",
        "-eq",
        "true",
    ]
    assert lines[1].startswith("not member  ben@contoso.com")
    assert lines[1].endswith("user.accountEnabled -eq true")
    assert lines[2].endswith('user.department -eq "Sales"')
    assert lines[-1] == "members: 1 of 4 users"


def test_test_json_has_id_upn_member_for_each_user(run, users_file):
    result = run(
        "rule", "test", 'user.country -eq "US"', "--users", str(users_file), "--format", "json"
    )
    assert result.code == 0
    document = result.json()
    assert [(row["userPrincipalName"], row["member"]) for row in document] == [
        ("ana@contoso.com", True),
        ("ben@contoso.com", False),
        ("cy@contoso.com", True),
        ("di@contoso.com", False),
    ]
    assert document[0]["id"] == "11111111-1111-1111-1111-111111111111"


def test_test_restricts_to_selected_users_by_upn_or_id(run, users_file):
    result = run(
        "rule",
        "test",
        'user.country -eq "US"',
        "--users",
        str(users_file),
        "--user",
        "CY@contoso.com",
        "--user",
        "44444444-4444-4444-4444-444444444444",
        "--format",
        "json",
    )
    assert [row["userPrincipalName"] for row in result.json()] == [
        "cy@contoso.com",
        "di@contoso.com",
    ]


def test_test_unknown_selected_user_is_an_error(run, users_file):
    result = run(
        "rule",
        "test",
        'user.country -eq "US"',
        "--users",
        str(users_file),
        "--user",
        "nobody@contoso.com",
    )
    assert result.code == 1
    assert "no object with id or name 'nobody@contoso.com'" in result.stderr


def test_test_invalid_rule_exits_one_without_traceback(run, users_file):
    result = run("rule", "test", "user.department -lt 'x'", "--users", str(users_file))
    assert result.code == 1
    assert "unsupported-operator" in result.stderr
    assert "Traceback" not in result.stderr


def test_test_reads_graph_list_and_tenant_snapshot_alike(run, users_file, tmp_path):
    users = json.loads(users_file.read_text())["value"]
    as_list = tmp_path / "list.json"
    as_list.write_text(json.dumps(users))
    snapshot = tmp_path / "tenant.json"
    snapshot.write_text(
        json.dumps(
            {
                "users": users,
                "groups": [
                    {"id": "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb", "members": [users[2]["id"]]}
                ],
            }
        )
    )
    rule = "user.memberOf -any (group.objectId -in ['aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb'])"
    from_snapshot = run("rule", "test", rule, "--users", str(snapshot), "--format", "json")
    assert [row["member"] for row in from_snapshot.json()] == [False, False, True, False]
    from_list = run(
        "rule", "test", 'user.country -eq "US"', "--users", str(as_list), "--format", "json"
    )
    assert [row["member"] for row in from_list.json()] == [True, False, True, False]


def test_device_rule_is_tested_against_devices_of_a_snapshot(run, tmp_path):
    snapshot = tmp_path / "tenant.json"
    snapshot.write_text(
        json.dumps(
            {
                "users": [{"id": "u1", "displayName": "not a device"}],
                "devices": [
                    {"id": "d1", "displayName": "Rob iPhone", "operatingSystem": "iOS"},
                    {"id": "d2", "displayName": "Build agent", "operatingSystem": "Windows"},
                ],
            }
        )
    )
    result = run(
        "rule",
        "test",
        'device.deviceOSType -eq "iOS"',
        "--users",
        str(snapshot),
        "--format",
        "json",
    )
    assert result.json() == [
        {
            "id": "d1",
            "displayName": "Rob iPhone",
            "member": True,
            "decidedBy": ['device.deviceOSType -eq "iOS"'],
        },
        {
            "id": "d2",
            "displayName": "Build agent",
            "member": False,
            "decidedBy": ['device.deviceOSType -eq "iOS"'],
        },
    ]


@pytest.mark.parametrize(
    ("content", "where"),
    [
        ('{"value": [1, }', ":1:"),
        ('{\n  "value": [\n    {"id": "x"\n  ]\n}', ":4:"),
    ],
)
def test_damaged_users_file_names_file_line_and_column(run, tmp_path, content, where):
    path = tmp_path / "broken.json"
    path.write_text(content)
    result = run("rule", "test", 'user.country -eq "US"', "--users", str(path))
    assert result.code == 1
    assert result.stderr.startswith(f"error: {path}{where}")
    assert "invalid JSON" in result.stderr
    assert "Traceback" not in result.stderr


def test_users_file_of_wrong_shape_is_an_error(run, tmp_path):
    path = tmp_path / "users.json"
    path.write_text('{"people": []}')
    result = run("rule", "test", 'user.country -eq "US"', "--users", str(path))
    assert result.code == 1
    assert "expected a JSON list of users" in result.stderr


def test_diff_lists_who_joins_and_who_leaves(run, users_file):
    old = 'user.department -eq "Sales"'
    new = 'user.country -eq "US"'
    result = run("rule", "diff", old, new, "--users", str(users_file))
    assert result.code == 0, result.stderr
    assert result.stdout.splitlines() == [
        "- leaves  ben@contoso.com",
        "+ joins   cy@contoso.com",
        "1 joining, 1 leaving, 1 staying",
    ]


def test_diff_json_carries_joins_leaves_and_staying_count(run, users_file):
    result = run(
        "rule",
        "diff",
        'user.country -eq "US"',
        "user.accountEnabled -eq true",
        "--users",
        str(users_file),
        "--format",
        "json",
    )
    assert result.json() == {
        "joins": [
            {"id": "44444444-4444-4444-4444-444444444444", "userPrincipalName": "di@contoso.com"}
        ],
        "leaves": [],
        "staying": 2,
    }


def test_diff_refuses_rules_over_different_object_types(run, users_file):
    result = run(
        "rule",
        "diff",
        'user.country -eq "US"',
        'device.deviceOSType -eq "iOS"',
        "--users",
        str(users_file),
    )
    assert result.code == 1
    assert "OLD selects users and NEW selects devices" in result.stderr


def test_module_entry_point_reports_version(run):
    result = run("--version")
    assert result.code == 0
    assert result.stdout.startswith("reconciler, version ")


def test_rule_file_with_a_byte_order_mark_is_read_as_the_rule(run, tmp_path):
    rule_file = tmp_path / "rule.txt"
    rule_file.write_bytes('\ufeffuser.department -eq "Sales"\r\n'.encode())
    result = run("rule", "check", "--file", str(rule_file))
    assert result.code == 0, result.stderr


def test_users_file_with_a_byte_order_mark_is_read(run, users_file, tmp_path):
    with_bom = tmp_path / "bom.json"
    with_bom.write_bytes(b"\xef\xbb\xbf" + users_file.read_bytes())
    result = run("rule", "test", 'user.country -eq "US"', "--users", str(with_bom))
    assert result.code == 0, result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b'{"value": [{"id": "\xff"}]}',
            "1:20: file is not UTF-8 text (byte 0xff); save it as UTF-8",
        ),
        (b"[" * 100_000, "1:501: JSON nests too deeply"),
    ],
)
def test_unreadable_users_file_is_one_clear_error(run, tmp_path, content, message):
    path = tmp_path / "users.json"
    path.write_bytes(content)
    result = run("rule", "test", 'user.country -eq "US"', "--users", str(path))
    assert result.code == 1
    assert result.stderr == f"error: {path}:{message}\n"


def test_snapshot_with_oddly_typed_values_is_evaluated_without_a_crash(run, tmp_path):
    snapshot = tmp_path / "tenant.json"
    snapshot.write_text(
        json.dumps(
            {
                "users": [
                    {
                        "id": "u1",
                        "userPrincipalName": "a@contoso.com",
                        "memberOf": 5,
                        "onPremisesExtensionAttributes": "x",
                    },
                    {"id": "u2", "userPrincipalName": "b@contoso.com"},
                ],
                "groups": [{"id": "g1", "members": 5}, {"id": "g2", "members": ["u2"]}],
            }
        )
    )
    for rule in (
        "user.memberOf -any (group.objectId -in ['g2'])",
        "user.extensionAttribute1 -eq null",
    ):
        result = run("rule", "test", rule, "--users", str(snapshot), "--format", "json")
        assert result.code == 0, result.stderr
    assert [row["member"] for row in result.json()] == [True, True]


def test_diff_names_which_rule_is_invalid(run, users_file):
    result = run(
        "rule", "diff", 'user.country -eq "US"', 'user.cuntry -eq "US"', "--users", str(users_file)
    )
    assert result.code == 1
    assert result.stderr.startswith("NEW: error[unknown-property]")


def test_runaway_regular_expression_is_an_error_not_a_hang(run, tmp_path):
    path = tmp_path / "users.json"
    path.write_text(json.dumps([{"id": "u1", "city": "a" * 40 + "b"}]))
    result = run("rule", "test", 'user.city -match "^(a|aa)+$"', "--users", str(path))
    assert result.code == 1
    assert "took more than" in result.stderr
    assert "Traceback" not in result.stderr


def test_installed_console_script_runs_the_same_commands(tmp_path):
    script = Path(sys.executable).with_name("reconciler")
    if not script.exists():
        pytest.skip("the package is not installed as a console script in this environment")
    done = subprocess.run(
        [str(script), "rule", "check", 'user.department -eq "Sales"'],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("valid user rule")
