"""Test results as text (a line per test, then why each failure failed), JSON and JUnit XML."""

import json
import xml.etree.ElementTree as ElementTree

from jsonschema import Draft202012Validator

from reconciler.errors import Location
from reconciler.jsonschemas import load_schema
from reconciler.policy_tests import Failure, PolicyTestResult, PolicyTestRun
from reconciler.render.policy_tests_junit import results_junit
from reconciler.render.policy_tests_text import results_json, results_text

PLAN = {"add": 1, "change": 2, "remove": 0}
PASSED = PolicyTestResult(
    "US sales staff get E5", Location("policies/tests/sales.yaml", 3, 5), "user", "ana@x.com", 2
)
FAILED = PolicyTestResult(
    "A new hire gets E5",
    Location("policies/tests/sales.yaml", 9, 5),
    "newUser",
    "a new user",
    1,
    (
        Failure(
            "holds SPE_E5 through LIC-Sales",
            (
                "SPE_E5 is not held",
                'LIC-Sales: user.country -in ["US"] is false (country is "Canada")',
            ),
        ),
    ),
    ("the new user joins: LIC-AllStaff",),
)
# a group named to draw a line of its own, and an escape sequence
HOSTILE = PolicyTestResult(
    "limits",
    Location("policies/tests/plan.yaml", 2, 5),
    "plan",
    "the plan",
    1,
    (
        Failure(
            "at most 0 people losing a license", ("x loses E5 through G\n  PASS  forged\x1b[2J",)
        ),
    ),
)
RUN = PolicyTestRun((PASSED, FAILED, HOSTILE), "tenant-id", PLAN)


def test_text_has_a_line_per_test_then_the_reasons_of_each_failure_then_the_counts():
    lines = results_text(RUN, "policies/tests").splitlines()
    assert lines[0] == (
        "Tests of the tenant as the plan leaves it (1 to add, 2 to change, 0 to remove; "
        "not applied):"
    )
    assert lines[2:5] == [
        "  PASS  US sales staff get E5",
        "  FAIL  A new hire gets E5",
        "  FAIL  limits",
    ]
    block = lines[lines.index("FAIL  A new hire gets E5") :]
    assert block[1:6] == [
        "  policies/tests/sales.yaml:9:5: a new user",
        "  expected: holds SPE_E5 through LIC-Sales",
        "    SPE_E5 is not held",
        '    LIC-Sales: user.country -in ["US"] is false (country is "Canada")',
        "  the new user joins: LIC-AllStaff",
    ]
    assert lines[-1] == "2 failed, 1 passed (3 tests)"


def test_text_shows_names_escaped_so_none_draws_a_line():
    text = results_text(RUN, "policies/tests")
    assert "x loses E5 through G\\n  PASS  forged\\x1b[2J" in text
    assert "\x1b" not in text
    assert not any(line.startswith("  PASS  forged") for line in text.splitlines())


def test_text_of_a_run_with_no_tests_and_of_a_plan_without_changes():
    assert (
        results_text(PolicyTestRun((), ""), "policies/tests")
        == "No policy tests in policies/tests."
    )
    calm = PolicyTestRun((PASSED,), "t", {"add": 0, "change": 0, "remove": 0})
    assert (
        results_text(calm, "p").splitlines()[0]
        == "Tests of the tenant as it is (the plan changes nothing):"
    )
    assert results_text(calm, "p").splitlines()[-1] == "1 passed"


RESULTS_SCHEMA = Draft202012Validator(load_schema("policy-tests-results.schema.json"))


def test_json_document():
    document = json.loads(results_json(RUN))
    RESULTS_SCHEMA.validate(document)
    assert document["formatVersion"] == 1
    assert document["passed"] is False
    assert document["summary"] == {"tests": 3, "passed": 1, "failed": 2}
    assert document["plan"] == PLAN
    first, second, _ = document["tests"]
    assert first == {
        "name": "US sales staff get E5",
        "file": "policies/tests/sales.yaml",
        "line": 3,
        "column": 5,
        "subject": "user",
        "user": "ana@x.com",
        "passed": True,
        "checked": 2,
        "failures": [],
        "notes": [],
    }
    assert second["user"] is None and second["subject"] == "newUser"
    assert second["failures"][0]["reasons"][0] == "SPE_E5 is not held"


def test_json_document_of_no_tests_still_names_the_tenant_and_counts_the_plan():
    document = json.loads(results_json(PolicyTestRun((), "tenant-id", PLAN)))
    RESULTS_SCHEMA.validate(document)
    assert document["tenantId"] == "tenant-id"
    assert document["plan"] == PLAN
    assert document["tests"] == [] and document["passed"] is True
    # the schema holds the document to its shape: a missing count is refused
    assert not RESULTS_SCHEMA.is_valid({**document, "plan": {"add": 1}})


def test_junit_has_a_suite_per_file_and_a_case_per_test_with_the_failure():
    root = ElementTree.fromstring(results_junit(RUN))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "2", "0")
    suites = {suite.get("name"): suite for suite in root.findall("testsuite")}
    assert list(suites) == ["policies/tests/sales.yaml", "policies/tests/plan.yaml"]
    sales = suites["policies/tests/sales.yaml"]
    assert (sales.get("tests"), sales.get("failures")) == ("2", "1")
    passed, failed = sales.findall("testcase")
    assert passed.get("name") == "US sales staff get E5" and passed.find("failure") is None
    assert failed.get("classname") == "policies.tests.sales"
    assert (failed.get("file"), failed.get("line")) == ("policies/tests/sales.yaml", "9")
    failure = failed.find("failure")
    assert failure.get("message") == "expected: holds SPE_E5 through LIC-Sales"
    assert failure.get("type") == "PolicyTestFailure"
    assert failure.text.splitlines() == [
        "policies/tests/sales.yaml:9:5: a new user",
        "expected: holds SPE_E5 through LIC-Sales",
        "  SPE_E5 is not held",
        '  LIC-Sales: user.country -in ["US"] is false (country is "Canada")',
        "the new user joins: LIC-AllStaff",
    ]


def test_junit_stays_well_formed_xml_whatever_the_names_hold():
    # XML 1.0 can't carry ESC at all: it is written as an escape, and the document parses
    document = results_junit(RUN)
    assert "\x1b" not in document
    root = ElementTree.fromstring(document)
    [case] = root.find("testsuite[@name='policies/tests/plan.yaml']").findall("testcase")
    assert "\\x1b[2J" in case.find("failure").text
