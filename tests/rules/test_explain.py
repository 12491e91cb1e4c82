"""The explainer names the expressions that decided membership, like Validate Rules."""

import pytest

from reconciler.rules.explain import Explainer
from reconciler.rules.parser import parse

SALES_US = {"department": "Sales", "country": "US", "accountEnabled": True}
SALES_GB = {"department": "Sales", "country": "GB", "accountEnabled": True}
HR_GB = {"department": "HR", "country": "GB", "accountEnabled": False}


def _decided(rule_text: str, user: dict) -> tuple[bool, list[str]]:
    rule = parse(rule_text)
    decision = Explainer(rule).explain(user)
    return decision.member, [rule.text[n.span.start : n.span.end] for n in decision.decided_by]


@pytest.mark.parametrize(
    ("rule", "user", "member", "decided_by"),
    [
        # a true -and needs every operand
        (
            'user.department -eq "Sales" -and user.country -eq "US"',
            SALES_US,
            True,
            ['user.department -eq "Sales"', 'user.country -eq "US"'],
        ),
        # a false -and is decided by its first false operand
        (
            'user.department -eq "Sales" -and user.country -eq "US"',
            SALES_GB,
            False,
            ['user.country -eq "US"'],
        ),
        # a true -or is decided by its first true operand
        (
            'user.country -eq "US" -or user.department -eq "Sales"',
            SALES_GB,
            True,
            ['user.department -eq "Sales"'],
        ),
        # a false -or needs every operand
        (
            'user.country -eq "US" -or user.department -eq "Sales"',
            HR_GB,
            False,
            ['user.country -eq "US"', 'user.department -eq "Sales"'],
        ),
        # -not passes on the reason of what it negates, as written, parentheses included
        (
            '-not (user.department -eq "HR") -and user.accountEnabled -eq true',
            HR_GB,
            False,
            ['(user.department -eq "HR")'],
        ),
        # a quantifier is one decision
        (
            'user.proxyAddresses -any (_ -startsWith "smtp:")',
            {"proxyAddresses": ["SMTP:a@contoso.com"]},
            True,
            ['user.proxyAddresses -any (_ -startsWith "smtp:")'],
        ),
        (
            'Direct Reports for "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"',
            {"manager": {"id": "AAAAAAAA-0000-1111-2222-BBBBBBBBBBBB"}},
            True,
            ['Direct Reports for "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"'],
        ),
    ],
)
def test_explainer_names_the_deciding_expressions(rule, user, member, decided_by):
    assert _decided(rule, user) == (member, decided_by)


def test_explainer_decision_agrees_with_precedence_of_and_over_or():
    # a -or (b -and c): not in the US, and the -and fails on the disabled account
    member, decided_by = _decided(
        'user.country -eq "US" -or user.department -eq "HR" -and user.accountEnabled -eq true',
        HR_GB,
    )
    assert member is False
    assert decided_by == ['user.country -eq "US"', "user.accountEnabled -eq true"]
