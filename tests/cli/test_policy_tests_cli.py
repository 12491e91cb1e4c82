"""`reconciler test`, run as a user runs it, on a copy of the demo: its shipped tests pass; a test
that doesn't hold fails with why; bad test files are one message with file, line and column."""

import json
import os
import stat
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from reconciler.jsonschemas import load_schema

RESULTS_SCHEMA = Draft202012Validator(load_schema("policy-tests-results.schema.json"))

NOBODY_LOSES_EXCHANGE = """\
tests:
  - name: Nobody loses Exchange Online
    plan:
      servicePlanRemovals: {servicePlan: EXCHANGE_S_ENTERPRISE, atMost: 0}
  - name: A new Sales hire in Canada gets E5
    newUser: {department: Sales, country: Canada, usageLocation: CA}
    expect:
      licenses: [{sku: SPE_E5, assignedByGroup: LIC-M365-E5-Sales}]
"""


def shipped_tests(folder: Path) -> list[str]:
    names = []
    for file in sorted((folder / "policies" / "tests").glob("*.yaml")):
        names += [test["name"] for test in yaml.safe_load(file.read_text())["tests"]]
    return names


def add_tests(demo: Path, name: str, text: str) -> Path:
    path = demo / "policies" / "tests" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_tests_pass(run, demo):
    result = run("test", cwd=demo)
    assert result.code == 0, result.stdout + result.stderr
    names = shipped_tests(demo)
    assert len(names) >= 10
    for name in names:
        assert f"  PASS  {name}" in result.stdout.splitlines()
    assert result.stdout.rstrip().endswith(f"{len(names)} passed")
    assert "Traceback" not in result.stderr


def test_a_failing_test_exits_1_and_says_who_and_why(run, demo):
    add_tests(demo, "exchange.yaml", NOBODY_LOSES_EXCHANGE)
    result = run("test", cwd=demo)
    assert result.code == 1
    out = result.stdout
    assert "  FAIL  Nobody loses Exchange Online" in out.splitlines()
    assert "  expected: at most 0 people losing EXCHANGE_S_ENTERPRISE" in out
    # a Sales person outside the three countries, through the group whose rule was edited
    assert (
        "    adaeze.nwosu@contoso.com loses EXCHANGE_S_ENTERPRISE (of SPE_E5 through "
        "LIC-M365-E5-Sales: no longer matches the edited membership rule)"
    ) in out
    assert (
        '    LIC-M365-E5-Sales: user.country -in ["United States", "France", "Germany"] is '
        'false (country is "Canada")'
    ) in out
    assert out.rstrip().endswith(
        f"2 failed, {len(shipped_tests(demo)) - 2} passed ({len(shipped_tests(demo))} tests)"
    )


def test_junit_file_is_written_private_and_readable_by_test_reporters(run, demo):
    add_tests(demo, "exchange.yaml", NOBODY_LOSES_EXCHANGE)
    result = run("test", "--junit", "out/results.xml", cwd=demo)
    assert result.code == 1
    path = demo / "out" / "results.xml"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    root = ElementTree.parse(path).getroot()
    cases = root.findall("testsuite/testcase")
    assert int(root.get("tests")) == len(cases) == len(shipped_tests(demo))
    assert root.get("failures") == "2"
    failed = {c.get("name"): c.find("failure") for c in cases if c.find("failure") is not None}
    assert set(failed) == {"Nobody loses Exchange Online", "A new Sales hire in Canada gets E5"}
    assert failed["Nobody loses Exchange Online"].get("message") == (
        "expected: at most 0 people losing EXCHANGE_S_ENTERPRISE"
    )
    suite = next(s for s in root.findall("testsuite") if s.get("name").endswith("exchange.yaml"))
    assert suite.get("name") == "policies/tests/exchange.yaml"


def test_json_output(run, demo):
    result = run("test", "--format", "json", cwd=demo)
    assert result.code == 0
    document = result.json()
    RESULTS_SCHEMA.validate(document)
    assert document["passed"] is True
    assert document["summary"]["failed"] == 0
    assert [t["name"] for t in document["tests"]] == shipped_tests(demo)
    assert document["plan"]["change"] > 0  # the demo plan changes groups: tests see the after


def test_a_name_filter_runs_only_the_matching_tests(run, demo):
    add_tests(demo, "exchange.yaml", NOBODY_LOSES_EXCHANGE)
    result = run("test", "-k", "retail", "--format", "json", cwd=demo)
    assert result.code == 0, result.stdout
    names = [t["name"] for t in result.json()["tests"]]
    assert names and all("retail" in name.lower() for name in names)
    missing = run("test", "-k", "no such test", cwd=demo)
    assert missing.code == 1
    assert missing.stderr.startswith("error: policies/tests: no test's name holds 'no such test'")


def test_malformed_yaml_is_one_message_with_file_line_and_column(run, demo):
    add_tests(demo, "bad.yaml", "tests:\n  - name: x\n    user: [a\n")
    result = run("test", cwd=demo)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: policies/tests/bad.yaml:4:1: invalid YAML: expected ',' or ']', but got "
        "'<stream end>' (while parsing a flow sequence at line 3)\n"
    )


def test_unknown_names_are_errors_not_failing_tests(run, demo):
    add_tests(
        demo,
        "bad.yaml",
        "tests:\n  - name: x\n    user: ava.cooper@contoso.com\n    expect:\n"
        "      licenses: [SPE_E6]\n      memberOf: [LIC-M365-E5-Sale]\n",
    )
    result = run("test", "--junit", "results.xml", cwd=demo)
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "error: policies/tests/bad.yaml:5:18: test 'x', expect.licenses[0].sku: unknown SKU "
        "'SPE_E6' (did you mean 'SPE_E5'?); the tenant has: EMS, ENTERPRISEPACK, POWER_BI_PRO, "
        "SPE_E3, SPE_E5, VISIOCLIENT",
        "error: policies/tests/bad.yaml:6:18: test 'x', expect.memberOf[0]: no group "
        "'LIC-M365-E5-Sale' in the tenant or the policy (did you mean 'LIC-M365-E5-Sales'?)",
        "2 problems in 1 file",
    ]
    assert not (demo / "results.xml").exists()


def test_no_tests_folder_is_no_tests_and_explicit_missing_path_is_an_error(run, demo):
    for file in (demo / "policies" / "tests").iterdir():
        file.unlink()
    (demo / "policies" / "tests").rmdir()
    result = run("test", "--junit", "results.xml", cwd=demo)
    assert result.code == 0
    assert result.stdout == "No policy tests in policies/tests.\n"
    assert ElementTree.parse(demo / "results.xml").getroot().get("tests") == "0"
    missing = run("test", "--tests", "nowhere", cwd=demo)
    assert missing.code == 1
    assert missing.stderr == "error: nowhere: policy tests path does not exist\n"
    # no tests, yet the document names the tenant and counts the plan, as with tests
    document = run("test", "--format", "json", cwd=demo).json()
    RESULTS_SCHEMA.validate(document)
    assert document["tests"] == [] and document["tenantId"]
    assert document["plan"]["change"] > 0


def test_tests_given_that_test_nothing_are_an_error(run, demo):
    (demo / "empty").mkdir()
    (demo / "blank.yaml").write_text("", encoding="utf-8")
    (demo / "none.yaml").write_text("tests: []\n", encoding="utf-8")
    for path, message in (
        ("empty", "error: empty: no policy test files (*.yaml, *.yml) in the folder"),
        ("blank.yaml", "error: blank.yaml:1:1: missing required key 'tests'"),
        ("none.yaml", "error: none.yaml:1:8: tests: give at least one: [] checks nothing"),
    ):
        result = run("test", "--tests", path, "--junit", "results.xml", cwd=demo)
        assert (result.code, result.stderr) == (1, message + "\n"), path
    assert not (demo / "results.xml").exists()


def test_a_schema_problem_and_an_unknown_name_are_reported_in_one_run(run, demo):
    add_tests(
        demo,
        "bad.yaml",
        "tests:\n  - name: x\n    user: ava.cooper@contoso.com\n    expect:\n"
        "      licenses: [SPE_E6]\n      memberOff: [LIC-M365-E5-Sales]\n",
    )
    result = run("test", cwd=demo)
    assert result.code == 1
    assert [line.split(": ")[1] for line in result.stderr.splitlines()[:-1]] == [
        "policies/tests/bad.yaml:5:18",
        "policies/tests/bad.yaml:6:7",
    ]
    assert "unknown SKU 'SPE_E6'" in result.stderr
    assert "unknown key 'memberOff'" in result.stderr


def test_tests_of_a_saved_plan_run_only_when_it_is_the_plan_made_now(run, demo):
    assert run("plan", "--out", "reconciler.plan.json", cwd=demo).code == 0
    current = run("test", "--plan", "reconciler.plan.json", cwd=demo)
    assert current.code == 0, current.stderr
    # the policy moves on after the plan was posted: the tests would check another plan
    policy = demo / "policies" / "microsoft-365.yaml"
    policy.write_text(policy.read_text().replace('"France", ', ""), encoding="utf-8")
    stale = run("test", "--plan", "reconciler.plan.json", "--junit", "results.xml", cwd=demo)
    assert stale.code == 1
    assert stale.stdout == ""
    assert stale.stderr.startswith("error: reconciler.plan.json: plan is stale: ")
    assert "Since the plan was made, the policy changed." in stale.stderr
    assert stale.stderr.rstrip().endswith(
        "The tests were not run: run `reconciler plan --out reconciler.plan.json` again, and "
        "test that."
    )
    assert not (demo / "results.xml").exists()


def test_tests_given_as_a_file(run, demo, tmp_path):
    file = tmp_path / "one.yaml"
    file.write_text(NOBODY_LOSES_EXCHANGE, encoding="utf-8")
    result = run("test", "--tests", str(file), "--format", "json", cwd=demo)
    assert result.code == 1
    assert [t["passed"] for t in result.json()["tests"]] == [False, False]


def test_the_policy_commands_do_not_read_the_tests_folder_as_policy(run, demo):
    # a test file holds `tests:`, a key no policy file has
    assert (demo / "policies" / "tests").is_dir()
    assert run("validate", "--offline", cwd=demo).code == 0
    plan = run("plan", "--format", "json", cwd=demo)
    assert plan.code == 0, plan.stderr
    assert json.loads(plan.stdout)["changesPresent"] is True
    assert run("fmt", "--check", cwd=demo).code == 0
