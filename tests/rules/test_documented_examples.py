"""Every example rule of Microsoft's documentation, as the reference's §11 lists it verbatim.

The expected result of each example follows docs/rules.md: examples the docs present as valid
parse; the docs' own error examples fail with the matching code; historical typos (A26) fail
with the error their typo earns; placeholders fail where the placeholder isn't a valid value.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.rules.errors import RuleError
from reconciler.rules.parser import parse

CASES_FILE = Path(__file__).parent / "cases" / "documented_examples.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))

# The documented error examples (reference §10, §11.5, §11.6 "Error usage") and their codes.
DOCUMENTED_ERRORS = {
    '(user.invalidProperty -eq "Value")': "unknown-property",
    "(user.accountEnabled -contains true)": "operator-not-supported",
    '(user.department -eq "Sales") (user.department -eq "Marketing")': "missing-logical-operator",
    '(user.department -eq "Sales")(user.department -eq "Marketing")': "missing-logical-operator",
    '(user.userPrincipalName -match "*@domain.ext")': "invalid-regex",
}


def _case_id(case: dict) -> str:
    return case["rule"].replace("\n", "\\n")


def test_cases_are_well_formed():
    rules = [case["rule"] for case in CASES]
    assert len(rules) == len(set(rules)), "each example is listed once, with all its sources"
    for case in CASES:
        assert case["source"].startswith("§11."), case
        if case["expect"] == "valid":
            assert case["objectType"] in ("user", "device"), case
            assert "code" not in case, case
        else:
            assert case["expect"] == "error", case
            assert case["code"] and case["why"], case


def test_documented_error_examples_are_listed_with_their_codes():
    listed = {case["rule"]: case for case in CASES}
    for rule, code in DOCUMENTED_ERRORS.items():
        assert listed[rule]["expect"] == "error"
        assert listed[rule]["code"] == code


@pytest.mark.parametrize(
    "case", [case for case in CASES if case["expect"] == "valid"], ids=_case_id
)
def test_documented_valid_example_parses(case):
    rule = parse(case["rule"])
    assert rule.object_type == case["objectType"]


@pytest.mark.parametrize(
    "case", [case for case in CASES if case["expect"] == "error"], ids=_case_id
)
def test_documented_invalid_example_is_rejected(case):
    text = case["rule"]
    with pytest.raises(RuleError) as caught:
        parse(text)
    error = caught.value
    assert error.code == case["code"], f"{error} (why expected: {case['why']})"
    assert 0 <= error.span.start <= error.span.end <= len(text)
