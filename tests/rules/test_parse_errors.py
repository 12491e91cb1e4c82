"""Table-driven parse errors: the code, the exact text the span covers and the message.

Each case of cases/errors.json gives the rule, the error code, `at` (the text of
rule[span.start:span.end]; `start` too where that text occurs more than once), a fragment of
the message and optionally of the hint. Limits that need long rules are built here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import reconciler.rules
from reconciler.rules import properties
from reconciler.rules.compiler import compile_rule
from reconciler.rules.errors import RuleError
from reconciler.rules.parser import MAX_MEMBER_OF_GROUPS, MAX_RULE_LENGTH, parse

CASES_FILE = Path(__file__).parent / "cases" / "errors.json"
CASES = json.loads(CASES_FILE.read_text(encoding="utf-8"))

# Codes tested here in code rather than in cases/errors.json.
CODES_BUILT_IN_TESTS = {"rule-too-long", "memberof-too-many-groups", "too-deeply-nested"}


def _case_id(case: dict) -> str:
    return f"{case['code']}: {case['rule']}"


def _error(text: str) -> RuleError:
    with pytest.raises(RuleError) as caught:
        parse(text)
    return caught.value


def _codes_raised_by_the_parser() -> set[str]:
    """Every code passed to RuleError(...) in the reconciler.rules sources."""
    codes = set()
    for path in Path(reconciler.rules.__file__).parent.glob("*.py"):
        source = path.read_text(encoding="utf-8")
        codes.update(re.findall(r'RuleError\(\s*"([a-z-]+)"', source))
    return codes


def test_every_error_code_has_a_case():
    covered = {case["code"] for case in CASES} | CODES_BUILT_IN_TESTS
    missing = _codes_raised_by_the_parser() - covered
    assert not missing, f"error codes without a test case: {sorted(missing)}"


def test_cases_name_an_unambiguous_span():
    for case in CASES:
        if case["at"] and case["rule"].count(case["at"]) > 1:
            assert "start" in case, f"'at' occurs more than once; give 'start': {case}"


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_parse_error(case):
    text = case["rule"]
    error = _error(text)
    assert error.code == case["code"], str(error)
    assert text[error.span.start : error.span.end] == case["at"], str(error)
    if "start" in case:
        assert error.span.start == case["start"], str(error)
    assert case["message"] in error.message
    if "hint" in case:
        assert error.hint is not None and case["hint"] in error.hint


# --- the 3,072-character limit (A19) ---------------------------------------------------------


def _rule_of_length(length: int, padding: str = "") -> str:
    head, tail = 'user.department -eq "', '"' + padding
    return head + "a" * (length - len(head) - len(tail)) + tail


def test_rule_of_exactly_3072_characters_is_accepted():
    text = _rule_of_length(3072)
    assert len(text) == MAX_RULE_LENGTH == 3072
    assert parse(text).object_type == "user"


def test_rule_of_3073_characters_is_rule_too_long():
    text = _rule_of_length(3073)
    error = _error(text)
    assert error.code == "rule-too-long"
    assert (error.span.start, error.span.end) == (3072, 3073)
    assert "3073" in error.message and "3072" in error.message


def test_surrounding_whitespace_counts_towards_the_limit():
    assert parse(_rule_of_length(3072, padding="   ")).object_type == "user"
    error = _error(_rule_of_length(3073, padding="   "))
    assert error.code == "rule-too-long"
    assert (error.span.start, error.span.end) == (3072, 3073)


def test_rule_too_long_is_reported_before_any_other_error():
    text = "(" * 3073
    assert _error(text).code == "rule-too-long"


# --- memberOf: at most 50 groups (A21) -------------------------------------------------------


def _member_of(count: int) -> str:
    ids = ", ".join(f"'{n:08x}-0000-1111-2222-bbbbbbbbbbbb'" for n in range(count))
    return f"user.memberOf -any (group.objectId -in [{ids}])"


def test_member_of_with_50_groups_is_accepted():
    assert MAX_MEMBER_OF_GROUPS == 50
    rule = parse(_member_of(50))
    assert len(rule.body.group_ids) == 50


def test_member_of_with_51_groups_is_memberof_too_many_groups():
    text = _member_of(51)
    error = _error(text)
    assert error.code == "memberof-too-many-groups"
    covered = text[error.span.start : error.span.end]
    assert covered.startswith("[") and covered.endswith("]")
    assert "51" in error.message and "50" in error.message


# --- messages docs/rules.md promises ---------------------------------------------------------


def test_unknown_property_organizational_unit_offers_suggestions():
    # A27: "Unknown property, with the suggestion list."
    error = _error('(device.organizationalUnit -eq "US PCs")')
    assert error.code == "unknown-property"
    offered = error.message + " " + (error.hint or "")
    assert any(name in offered for name in properties.names("device")), offered


def test_fifty_levels_of_parentheses_parse_and_compile():
    rule = "(" * 50 + 'user.department -eq "Sales"' + ")" * 50
    assert compile_rule(parse(rule))({"department": "sales"}) is True


@pytest.mark.parametrize(
    "rule",
    [
        "(" * 51 + 'user.department -eq "Sales"' + ")" * 51,
        "(" * 1500 + 'user.department -eq "Sales"',
        "-not " * 600 + 'user.department -eq "Sales"',
    ],
)
def test_deeper_nesting_is_too_deeply_nested_not_a_crash(rule):
    error = _error(rule)
    assert error.code == "too-deeply-nested"
    assert 0 <= error.span.start < error.span.end <= len(rule)
