"""The rule linter: each lint fires on the rule it is about, and stays quiet on near misses."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.rules.ast import Span
from reconciler.rules.compiler import compile_rule
from reconciler.rules.lexer import Kind, tokenize
from reconciler.rules.linter import Lint, lint
from reconciler.rules.parser import parse

EXAMPLES = Path(__file__).parent / "cases" / "documented_examples.json"

CODES = {
    "match-could-be-simpler",
    "or-chain-could-be-in",
    "contains-could-be-prefix",
    "redundant-expression",
    "contradictory-expression",
    "user-editable-attribute",
    "memberof-preview",
    "not-a-guid",
    "typographic-dash",
    "property-case",
    "empty-string-comparison",
}

# The "don't use" and "use" rules of Microsoft's efficiency article (reference §11.2).
EFF_CITIES = '"Lagos", "Ibadan", "Kaduna", "Abuja", "Port Harcourt"'
EFF_OR_OF_ANDS = " -or ".join(
    f'(user.department -eq "Accounts" -and user.city -eq "{city}")'
    for city in ("Lagos", "Ibadan", "Kaduna", "Abuja", "Port Harcourt")
)
EFF_AND_OF_NES = " -and ".join(
    f'(user.city -ne "{city}")' for city in ("Lagos", "Ibadan", "Kaduna", "Abuja", "Port Harcourt")
)
EFF_EFFICIENT = [
    f'user.department -eq "Accounts" -and user.city -in [{EFF_CITIES}]',
    f"user.city -notin [{EFF_CITIES}]",
    'user.city -startsWith "Lag"',
    'user.city -eq "Lagos"',
    'user.userPrincipalName -endsWith "@Contoso.com"',
    'user.mail -notEndsWith "@Contoso.com"',
]

GUID = "62e19b97-8b3d-4d4a-a106-4ce66896a863"


def lints_of(text: str, code: str) -> list[Lint]:
    return [found for found in lint(parse(text)) if found.code == code]


def only_lint(text: str, code: str) -> Lint:
    found = lints_of(text, code)
    assert len(found) == 1, found
    return found[0]


def span_text(text: str, found: Lint) -> str:
    return text[found.span.start : found.span.end]


def is_balanced(text: str, span: Span) -> bool:
    """Whether the parentheses inside `span` (outside strings) pair up."""
    depth = 0
    for token in tokenize(text):
        if span.start <= token.span.start and token.span.end <= span.end:
            depth += (token.kind is Kind.LPAREN) - (token.kind is Kind.RPAREN)
            if depth < 0:
                return False
    return depth == 0


def check_trigger(code: str, text: str, expected_span: str, suggestion: str | None) -> Lint:
    """The lint fires once, on `expected_span`, and its suggestion parses and cures it."""
    found = only_lint(text, code)
    assert span_text(text, found) == expected_span
    assert is_balanced(text, found.span)
    assert found.suggestion == suggestion
    if suggestion is not None:
        assert code not in {again.code for again in lint(parse(suggestion))}
    return found


# --- match-could-be-simpler -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        pytest.param(
            'user.department -match "^Sales"',
            'user.department -startsWith "Sales"',
            id="caret-literal-suggests-startswith",
        ),
        pytest.param(
            'user.department -match "Sales$"',
            'user.department -endsWith "Sales"',
            id="literal-dollar-suggests-endswith",
        ),
        pytest.param(
            'user.department -match "^Sales$"',
            'user.department -eq "Sales"',
            id="anchored-both-ends-suggests-eq",
        ),
        pytest.param(
            'user.department -match "ales"',
            'user.department -contains "ales"',
            id="unanchored-literal-suggests-contains",
        ),
        pytest.param(
            'user.jobTitle -match ".*?ago.*"',
            'user.jobTitle -contains "ago"',
            id="lazy-wildcards-on-both-sides-suggest-contains",
        ),
        pytest.param(
            'user.displayName -match "^Da.*"',
            'user.displayName -startsWith "Da"',
            id="trailing-wildcard-undoes-nothing-at-the-start",
        ),
        pytest.param(
            'user.mail -match ".*@Contoso\\.com$"',
            'user.mail -endsWith "@Contoso.com"',
            id="escaped-dot-is-literal-and-leading-wildcard-drops",
        ),
        pytest.param(
            'user.mail -notMatch "^admin"',
            'user.mail -notStartsWith "admin"',
            id="notmatch-caret-suggests-notstartswith",
        ),
        pytest.param(
            'user.mail -notMatch "@contoso\\.com$"',
            'user.mail -notEndsWith "@contoso.com"',
            id="notmatch-dollar-suggests-notendswith",
        ),
        pytest.param(
            'user.department -notMatch "^Sales$"',
            'user.department -ne "Sales"',
            id="notmatch-anchored-suggests-ne",
        ),
        pytest.param(
            'user.department -notMatch "Sales"',
            'user.department -notContains "Sales"',
            id="notmatch-unanchored-suggests-notcontains",
        ),
        pytest.param(
            'user.proxyAddresses -any (_ -match "^smtp:")',
            'user.proxyAddresses -any (_ -startsWith "smtp:")',
            id="item-of-a-collection",
        ),
    ],
)
def test_match_with_plain_pattern_suggests_string_operator(text: str, suggestion: str) -> None:
    # inside -any the comparison's span takes in its parentheses
    comparison = "(" + text.split(" -any (", 1)[1] if " -any (" in text else text
    check_trigger("match-could-be-simpler", text, comparison, suggestion)


def test_match_suggestion_keeps_the_rest_of_the_rule() -> None:
    text = 'user.department -eq "Sales" -and user.jobTitle -match "^Dev"'
    found = check_trigger(
        "match-could-be-simpler",
        text,
        'user.jobTitle -match "^Dev"',
        'user.department -eq "Sales" -and user.jobTitle -startsWith "Dev"',
    )
    assert found.severity == "warning"


@pytest.mark.parametrize(
    "pattern",
    [
        pytest.param(".*@Contoso.com$", id="unescaped-dot-is-a-wildcard"),
        pytest.param("\\d+", id="character-class"),
        pytest.param("Sales|Marketing", id="alternation"),
        pytest.param("[Ss]ales", id="bracket-class"),
        pytest.param("^S.les$", id="dot-in-the-middle"),
        pytest.param(".*", id="matches-everything"),
        pytest.param("^$", id="empty-literal"),
        pytest.param("\\bSales", id="word-boundary"),
        pytest.param("(?i)sales", id="inline-flag"),
    ],
)
def test_match_with_real_regex_is_not_flagged(pattern: str) -> None:
    assert lints_of(f'user.department -match "{pattern}"', "match-could-be-simpler") == []


# --- or-chain-could-be-in -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_span", "suggestion"),
    [
        pytest.param(
            'user.department -eq "a" -or user.department -eq "b" -or user.department -eq "c"',
            'user.department -eq "a" -or user.department -eq "b" -or user.department -eq "c"',
            'user.department -in ["a", "b", "c"]',
            id="three-eq-suggest-in",
        ),
        pytest.param(
            'user.jobTitle -eq "x" -or user.department -eq "a" -or user.DEPARTMENT -eq "b"'
            ' -or user.department -eq "c"',
            'user.department -eq "a" -or user.DEPARTMENT -eq "b" -or user.department -eq "c"',
            'user.jobTitle -eq "x" -or user.department -in ["a", "b", "c"]',
            id="property-case-ignored-among-other-operands",
        ),
        pytest.param(
            'user.department -eq "a" -or user.jobTitle -eq "x" -or user.department -eq "b"'
            ' -or user.department -eq "c"',
            'user.department -eq "a" -or user.jobTitle -eq "x" -or user.department -eq "b"'
            ' -or user.department -eq "c"',
            'user.department -in ["a", "b", "c"] -or user.jobTitle -eq "x"',
            id="interleaved-operand-is-kept",
        ),
        pytest.param(
            EFF_AND_OF_NES,
            EFF_AND_OF_NES,
            f"user.city -notIn [{EFF_CITIES}]",
            id="three-ne-in-an-and-suggest-notin",
        ),
        pytest.param(
            EFF_OR_OF_ANDS,
            EFF_OR_OF_ANDS,
            f'user.department -eq "Accounts" -and user.city -in [{EFF_CITIES}]',
            id="common-factor-in-every-branch-is-factored-out",
        ),
        pytest.param(
            'user.assignedPlans -any (assignedPlan.service -eq "a" -or assignedPlan.service -eq'
            ' "b" -or assignedPlan.service -eq "c")',
            'assignedPlan.service -eq "a" -or assignedPlan.service -eq "b" -or'
            ' assignedPlan.service -eq "c"',
            'user.assignedPlans -any (assignedPlan.service -in ["a", "b", "c"])',
            id="item-field-inside-any",
        ),
    ],
)
def test_or_chain_of_eq_suggests_in(text: str, expected_span: str, suggestion: str) -> None:
    check_trigger("or-chain-could-be-in", text, expected_span, suggestion)


def test_or_chain_lists_each_value_once_ignoring_case() -> None:
    text = 'user.department -eq "a" -or user.department -eq "A" -or user.department -eq "b"'
    found = only_lint(text, "or-chain-could-be-in")
    assert found.suggestion == 'user.department -in ["a", "b"]'


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('user.department -eq "a" -or user.department -eq "b"', id="only-two"),
        pytest.param(
            'user.department -eq "a" -or user.jobTitle -eq "b" -or user.country -eq "c"',
            id="different-properties",
        ),
        pytest.param(
            'user.department -ne "a" -or user.department -ne "b" -or user.department -ne "c"',
            id="ne-joined-by-or",
        ),
        pytest.param(
            'user.department -eq "a" -or user.department -eq "b" -or user.department -eq null',
            id="null-cannot-go-in-a-list",
        ),
        pytest.param(
            '(user.department -eq "A" -and user.country -eq "x") -or (user.department -eq "A"'
            ' -and user.country -eq "y") -or (user.department -eq "B" -and user.country -eq "z")',
            id="factor-differs-in-one-branch",
        ),
        pytest.param(
            '(user.department -eq "A" -and user.country -eq "x") -or'
            ' (user.department -eq "A" -and user.country -eq "y")',
            id="two-branches",
        ),
    ],
)
def test_or_chain_near_miss_is_not_flagged(text: str) -> None:
    assert lints_of(text, "or-chain-could-be-in") == []


# --- contains-could-be-prefix ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_span", "suggestion"),
    [
        pytest.param(
            'user.userPrincipalName -contains "@contoso.com"',
            'user.userPrincipalName -contains "@contoso.com"',
            'user.userPrincipalName -endsWith "@contoso.com"',
            id="upn-domain-suggests-endswith",
        ),
        pytest.param(
            'user.mail -notContains "@contoso.com"',
            'user.mail -notContains "@contoso.com"',
            'user.mail -notEndsWith "@contoso.com"',
            id="mail-domain-notcontains-suggests-notendswith",
        ),
        pytest.param(
            'user.proxyAddresses -any (_ -contains "@contoso.com")',
            '(_ -contains "@contoso.com")',
            'user.proxyAddresses -any (_ -endsWith "@contoso.com")',
            id="proxy-address-items-suggest-endswith",
        ),
        pytest.param(
            'user.proxyAddresses -contains "@contoso.com"',
            'user.proxyAddresses -contains "@contoso.com"',
            'user.proxyAddresses -endsWith "@contoso.com"',
            id="proxy-addresses-directly-suggest-endswith",
        ),
        pytest.param(
            'user.jobTitle -contains "SDE"',
            'user.jobTitle -contains "SDE"',
            None,
            id="other-contains-is-noted-without-suggestion",
        ),
        pytest.param(
            'user.userPrincipalName -contains "admin"',
            'user.userPrincipalName -contains "admin"',
            None,
            id="address-without-domain-has-no-suggestion",
        ),
    ],
)
def test_contains_is_noted_as_slower(text: str, expected_span: str, suggestion: str | None) -> None:
    found = check_trigger("contains-could-be-prefix", text, expected_span, suggestion)
    assert found.severity == "info"


@pytest.mark.parametrize(
    "text",
    [
        'user.jobTitle -startsWith "SDE"',
        'user.mail -endsWith "@contoso.com"',
        'user.department -eq "contains"',
        'user.department -match "SDE"',
    ],
)
def test_no_contains_no_contains_lint(text: str) -> None:
    assert lints_of(text, "contains-could-be-prefix") == []


# --- redundant-expression -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_span", "suggestion"),
    [
        pytest.param(
            'user.city -eq "Lagos" or user.city -startswith "Lag"',
            'user.city -eq "Lagos"',
            'user.city -startsWith "Lag"',
            id="eq-or-startswith-its-prefix-drops-eq",
        ),
        pytest.param(
            'user.mail -eq "a@contoso.com" -or user.mail -endsWith "@CONTOSO.com"',
            'user.mail -eq "a@contoso.com"',
            'user.mail -endsWith "@CONTOSO.com"',
            id="eq-or-endswith-its-suffix-drops-eq",
        ),
        pytest.param(
            'user.jobTitle -contains "sde" -or user.jobTitle -eq "Senior SDE"',
            'user.jobTitle -eq "Senior SDE"',
            'user.jobTitle -contains "sde"',
            id="eq-or-contains-its-substring-drops-eq",
        ),
        pytest.param(
            'user.jobTitle -eq "Senior SDE" -and user.jobTitle -contains "SDE"',
            'user.jobTitle -contains "SDE"',
            'user.jobTitle -eq "Senior SDE"',
            id="eq-and-contains-its-substring-drops-contains",
        ),
        pytest.param(
            'user.department -startsWith "ab" -or user.department -startsWith "a"',
            'user.department -startsWith "ab"',
            'user.department -startsWith "a"',
            id="or-of-prefixes-drops-the-longer",
        ),
        pytest.param(
            'user.department -startsWith "ab" -and user.department -startsWith "a"',
            'user.department -startsWith "a"',
            'user.department -startsWith "ab"',
            id="and-of-prefixes-drops-the-shorter",
        ),
        pytest.param(
            'user.department -in ["a", "b"] -or user.department -eq "A"',
            'user.department -eq "A"',
            'user.department -in ["a", "b"]',
            id="eq-of-a-listed-value-drops-eq",
        ),
        pytest.param(
            'user.department -eq "Sales" -and user.jobTitle -eq "x" -and'
            ' user.department -eq "Sales"',
            'user.department -eq "Sales"',
            'user.department -eq "Sales" -and user.jobTitle -eq "x"',
            id="same-comparison-twice",
        ),
        pytest.param(
            '(user.jobTitle -eq "a" -or user.country -eq "b") -and (user.jobTitle -eq "a"'
            ' -or user.country -eq "b")',
            '(user.jobTitle -eq "a" -or user.country -eq "b")',
            'user.jobTitle -eq "a" -or user.country -eq "b"',
            id="same-group-twice",
        ),
        pytest.param(
            'user.assignedPlans -any (assignedPlan.service -eq "exchange" -and'
            ' assignedPlan.service -startsWith "ex")',
            'assignedPlan.service -startsWith "ex"',
            'user.assignedPlans -any (assignedPlan.service -eq "exchange")',
            id="inside-any",
        ),
    ],
)
def test_redundant_operand_is_flagged_and_removed(
    text: str, expected_span: str, suggestion: str
) -> None:
    check_trigger("redundant-expression", text, expected_span, suggestion)


def test_repeated_comparison_points_at_the_later_copy() -> None:
    text = 'user.department -eq "Sales" -and user.department -eq "Sales"'
    found = only_lint(text, "redundant-expression")
    assert found.span.start == text.rindex("user.department")
    assert "repeats" in found.message


def test_every_redundant_operand_is_flagged() -> None:
    text = (
        'user.department -eq "Lagos" -or user.department -eq "Lagos2"'
        ' -or user.department -startsWith "Lag"'
    )
    found = lints_of(text, "redundant-expression")
    assert [span_text(text, item) for item in found] == [
        'user.department -eq "Lagos"',
        'user.department -eq "Lagos2"',
    ]


@pytest.mark.parametrize(
    "text",
    [
        'user.department -eq "Sales" -or user.department -startsWith "Mark"',
        'user.department -startsWith "ab" -or user.department -startsWith "ac"',
        'user.department -eq "a" -or user.jobTitle -eq "a"',
        'user.department -eq "a" -or user.department -eq "b"',
        'user.department -eq "Sales" -and user.department -contains "x"',
        'user.otherMails -startsWith "a" -and user.otherMails -startsWith "b"',
        'user.department -eq "a" -and -not (user.jobTitle -eq "a")',
    ],
)
def test_independent_operands_are_not_redundant(text: str) -> None:
    assert lints_of(text, "redundant-expression") == []


# --- contradictory-expression ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_span"),
    [
        pytest.param(
            'user.department -eq "a" -and user.department -eq "b"',
            'user.department -eq "a" -and user.department -eq "b"',
            id="two-different-values",
        ),
        pytest.param(
            'user.department -eq "a" -and user.department -ne "A"',
            'user.department -eq "a" -and user.department -ne "A"',
            id="eq-and-ne-of-one-value-ignoring-case",
        ),
        pytest.param(
            "user.department -eq null -and user.department -ne null",
            "user.department -eq null -and user.department -ne null",
            id="null-and-not-null",
        ),
        pytest.param(
            'user.department -eq "" -and user.department -ne $null',
            'user.department -eq "" -and user.department -ne $null',
            id="empty-string-is-null",
        ),
        pytest.param(
            'user.jobTitle -eq "x" -and user.department -in ["a", "b"] -and'
            ' user.department -eq "c"',
            'user.department -in ["a", "b"] -and user.department -eq "c"',
            id="eq-of-a-value-not-in-the-list",
        ),
        pytest.param(
            '(user.department -eq "a" -or user.jobTitle -eq "b") -and'
            ' -not (user.department -eq "a" -or user.jobTitle -eq "b")',
            '(user.department -eq "a" -or user.jobTitle -eq "b") -and'
            ' -not (user.department -eq "a" -or user.jobTitle -eq "b")',
            id="expression-and-its-negation",
        ),
        pytest.param(
            "user.accountEnabled -eq true -and user.accountEnabled -eq false",
            "user.accountEnabled -eq true -and user.accountEnabled -eq false",
            id="true-and-false",
        ),
        pytest.param(
            'user.department -eq "Sales" -and user.department -startsWith "Mark"',
            'user.department -eq "Sales" -and user.department -startsWith "Mark"',
            id="eq-of-a-value-without-the-prefix",
        ),
    ],
)
def test_contradiction_matches_nobody(text: str, expected_span: str) -> None:
    found = check_trigger("contradictory-expression", text, expected_span, None)
    assert "the rule matches nobody" in found.message


def test_contradiction_under_or_names_only_its_branch() -> None:
    text = 'user.jobTitle -eq "x" -or (user.department -eq "a" -and user.department -eq "b")'
    found = only_lint(text, "contradictory-expression")
    assert span_text(text, found) == 'user.department -eq "a" -and user.department -eq "b"'
    assert "this -and matches nobody" in found.message


@pytest.mark.parametrize(
    "text",
    [
        'user.department -eq "a" -and user.department -eq "A"',
        'user.department -eq "a" -or user.department -eq "b"',
        'user.department -in ["a", "b"] -and user.department -eq "a"',
        'user.department -eq "a" -and user.department -ne "b"',
        'user.department -eq "a" -and user.jobTitle -eq "b"',
        'user.otherMails -startsWith "a" -and user.otherMails -startsWith "b"',
        "user.employeeHireDate -ge system.now -and user.employeeHireDate -le system.now",
        'user.department -ne null -and user.department -ne "a"',
    ],
)
def test_satisfiable_and_is_not_contradictory(text: str) -> None:
    assert lints_of(text, "contradictory-expression") == []


# --- user-editable-attribute ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected_span"),
    [
        pytest.param('user.mobile -startsWith "+44"', "user.mobile", id="mobile"),
        pytest.param(
            'user.otherMails -any (_ -endsWith "@contoso.com")',
            "user.otherMails",
            id="collection-under-any",
        ),
        pytest.param(
            'user.mobile -eq "1" -or user.mobile -eq "2"', "user.mobile", id="once-per-property"
        ),
    ],
)
def test_user_editable_attribute_is_flagged(text: str, expected_span: str) -> None:
    found = check_trigger("user-editable-attribute", text, expected_span, None)
    assert found.severity == "warning"


@pytest.mark.parametrize(
    "text",
    [
        'user.department -eq "Sales"',
        'user.mail -endsWith "@contoso.com"',
        'device.displayName -eq "x"',
    ],
)
def test_admin_managed_attribute_is_not_flagged(text: str) -> None:
    assert lints_of(text, "user-editable-attribute") == []


# --- memberof-preview and not-a-guid --------------------------------------------------------


def test_memberof_rule_is_noted_as_preview() -> None:
    text = f"user.memberOf -any (group.objectId -in ['{GUID}'])"
    found = check_trigger("memberof-preview", text, text, None)
    assert found.severity == "info"


@pytest.mark.parametrize("text", ['user.department -eq "Sales"', f'Direct Reports for "{GUID}"'])
def test_rule_without_memberof_is_not_noted_as_preview(text: str) -> None:
    assert lints_of(text, "memberof-preview") == []


@pytest.mark.parametrize(
    ("text", "expected_span"),
    [
        pytest.param('Direct Reports for "{managerId}"', '"{managerId}"', id="manager"),
        pytest.param(
            f"user.memberof -any (group.objectId -in ['{GUID}', 'groupId'])",
            "'groupId'",
            id="group",
        ),
        pytest.param(f'Direct Reports for "{GUID[:-1]}"', f'"{GUID[:-1]}"', id="one-digit-short"),
    ],
)
def test_id_that_is_not_a_guid_is_flagged(text: str, expected_span: str) -> None:
    found = check_trigger("not-a-guid", text, expected_span, None)
    assert "matches nobody" in found.message


@pytest.mark.parametrize(
    "text",
    [
        f'Direct Reports for "{GUID}"',
        f"Direct Reports for '{GUID.upper()}'",
        f"device.memberOf -any (group.objectId -in ['{GUID}', '{GUID.replace('6', '7')}'])",
    ],
)
def test_guid_ids_are_not_flagged(text: str) -> None:
    assert lints_of(text, "not-a-guid") == []


# --- typographic-dash, property-case, empty-string-comparison -------------------------------


@pytest.mark.parametrize(
    ("text", "expected_span", "suggestion"),
    [
        pytest.param("user.mail \u2013ne null", "\u2013ne", "user.mail -ne null", id="en-dash"),
        pytest.param(
            'user.department \u2014eq "Sales"',
            "\u2014eq",
            'user.department -eq "Sales"',
            id="em-dash",
        ),
    ],
)
def test_typographic_dash_suggests_hyphen(text: str, expected_span: str, suggestion: str) -> None:
    check_trigger("typographic-dash", text, expected_span, suggestion)


def test_each_typographic_dash_is_flagged() -> None:
    text = '(user.department \u2013eq "Marketing") \u2013and (user.country \u2013eq "US")'
    found = lints_of(text, "typographic-dash")
    assert [span_text(text, item) for item in found] == ["\u2013eq", "\u2013and", "\u2013eq"]


@pytest.mark.parametrize(
    ("text", "expected_span", "suggestion"),
    [
        pytest.param(
            "user.employeehiredate -ge 2020-06-10",
            "user.employeehiredate",
            "user.employeeHireDate -ge 2020-06-10T00:00:00Z",
            id="lower-case-name",
        ),
        pytest.param(
            'User.Department -eq "Sales"',
            "User.Department",
            'user.department -eq "Sales"',
            id="capitalised-object-and-name",
        ),
    ],
)
def test_property_case_suggests_documented_spelling(
    text: str, expected_span: str, suggestion: str
) -> None:
    check_trigger("property-case", text, expected_span, suggestion)


@pytest.mark.parametrize(
    "text",
    [
        "user.employeeHireDate -ge 2020-06-10",
        'user.extension_c272a57b722d4eb29bfe327874ae79cb_OfficeNumber -eq "1"',
        'user.department -EQ "Sales"',
        'user.mailNickName -eq "x"',
    ],
)
def test_documented_spelling_is_not_flagged(text: str) -> None:
    assert lints_of(text, "property-case") == []
    assert lints_of(text, "typographic-dash") == []


@pytest.mark.parametrize(
    ("text", "expected_span", "suggestion"),
    [
        pytest.param(
            'user.department -eq ""', 'user.department -eq ""', "user.department -eq null", id="eq"
        ),
        pytest.param(
            "user.department -ne ''", "user.department -ne ''", "user.department -ne null", id="ne"
        ),
        pytest.param(
            'user.assignedPlans -all (assignedPlan.servicePlanId -eq "")',
            '(assignedPlan.servicePlanId -eq "")',
            "user.assignedPlans -all (assignedPlan.servicePlanId -eq null)",
            id="item-field",
        ),
    ],
)
def test_empty_string_comparison_suggests_null(
    text: str, expected_span: str, suggestion: str
) -> None:
    check_trigger("empty-string-comparison", text, expected_span, suggestion)


@pytest.mark.parametrize(
    "text", ["user.department -eq null", 'user.department -eq " "', 'user.employeeId -ne "null"']
)
def test_non_empty_comparison_is_not_flagged(text: str) -> None:
    assert lints_of(text, "empty-string-comparison") == []


# --- the whole linter -----------------------------------------------------------------------


@pytest.mark.parametrize("text", EFF_EFFICIENT)
def test_efficient_examples_from_the_docs_have_no_warnings(text: str) -> None:
    assert [found.code for found in lint(parse(text)) if found.severity == "warning"] == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('user.city -match "ago"', "match-could-be-simpler"),
        ('user.city -match ".*?ago.*"', "match-could-be-simpler"),
        (EFF_OR_OF_ANDS, "or-chain-could-be-in"),
        (EFF_AND_OF_NES, "or-chain-could-be-in"),
        ('user.city -eq "Lagos" or user.city -startswith "Lag"', "redundant-expression"),
    ],
)
def test_inefficient_examples_from_the_docs_are_flagged(text: str, code: str) -> None:
    assert code in {found.code for found in lint(parse(text))}


def test_lints_are_sorted_by_position_and_use_known_codes() -> None:
    text = (
        'user.Department \u2013eq "" -and user.mobile -match "^07" -and '
        'user.jobTitle -contains "x" -and user.jobTitle -contains "x"'
    )
    found = lint(parse(text))
    assert [item.span.start for item in found] == sorted(item.span.start for item in found)
    assert {item.code for item in found} <= CODES
    assert {item.severity for item in found} <= {"warning", "info"}
    assert len({item.code for item in found}) >= 6


def test_clean_rule_has_no_lints() -> None:
    assert lint(parse('user.department -eq "Sales" -and user.accountEnabled -eq true')) == []


def test_lint_is_frozen() -> None:
    found = lint(parse('user.department -eq ""'))[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        found.code = "other"  # type: ignore[misc]


def _documented_valid_rules() -> list[str]:
    if not EXAMPLES.exists():
        return []
    return [case["rule"] for case in json.loads(EXAMPLES.read_text()) if case["expect"] == "valid"]


@pytest.mark.parametrize("text", _documented_valid_rules())
def test_documented_rules_lint_with_balanced_spans_and_parsable_suggestions(text: str) -> None:
    for found in lint(parse(text)):
        assert found.code in CODES
        assert 0 <= found.span.start < found.span.end <= len(text)
        assert is_balanced(text, found.span)
        if found.suggestion is not None:
            assert parse(found.suggestion).object_type == parse(text).object_type


# --- suggestions keep the rule's meaning ----------------------------------------------------

# Every suggestion but the address one rewrites the rule into an equivalent one.
EQUIVALENT_CODES = CODES - {"contains-could-be-prefix"}
VALUES = ["a", "A", "ab", "b", "ba", ""]
OPERATORS = ["eq", "ne", "startsWith", "notStartsWith", "endsWith", "notEndsWith", "contains"]


@st.composite
def comparisons_of_one_property(draw) -> str:
    """A comparison of user.department, from a few values that overlap as prefixes."""
    choice = draw(st.sampled_from([*OPERATORS, "in", "notIn", "match", "notMatch"]))
    if choice in ("in", "notIn"):
        items = draw(st.lists(st.sampled_from(VALUES[:-1]), min_size=1, max_size=3))
        return f"user.department -{choice} [{', '.join(f'{item!r}' for item in items)}]"
    if choice in ("match", "notMatch"):
        pattern = draw(st.sampled_from(["^a", "a$", "^ab$", "b", ".*a", "^a.*", "a.b"]))
        return f'user.department -{choice} "{pattern}"'
    value = draw(st.sampled_from(VALUES + ["null"] * (choice in ("eq", "ne"))))
    return f"user.department -{choice} {value if value == 'null' else repr(value)}"


@st.composite
def small_rules(draw) -> str:
    """-and/-or of comparisons of one property, sometimes negated or grouped."""
    parts = draw(st.lists(comparisons_of_one_property(), min_size=2, max_size=4))
    parts = [f"-not ({p})" if i and draw(st.booleans()) else p for i, p in enumerate(parts)]
    joiner = draw(st.sampled_from([" -and ", " -or "]))
    if len(parts) > 2 and draw(st.booleans()):
        inner = " -and " if joiner == " -or " else " -or "
        return joiner.join([*parts[:-2], f"({parts[-2]}{inner}{parts[-1]})"])
    return joiner.join(parts)


DEPARTMENTS = [{}, *({"department": v} for v in ["a", "A", "ab", "abc", "b", "ba", "c", ""])]


@settings(max_examples=300, deadline=None)
@given(small_rules())
def test_suggestions_keep_membership_and_contradictions_match_nobody(text: str) -> None:
    rule = parse(text)
    compiled = compile_rule(rule)
    for found in lint(rule):
        if found.code == "contradictory-expression" and "the rule matches nobody" in found.message:
            assert not any(compiled(user) for user in DEPARTMENTS), found
        if found.suggestion is not None and found.code in EQUIVALENT_CODES:
            rewritten = compile_rule(parse(found.suggestion))
            for user in DEPARTMENTS:
                assert compiled(user) == rewritten(user), (found, user)
