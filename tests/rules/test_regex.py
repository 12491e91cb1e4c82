"""-match takes .NET-style patterns, as Entra does; a runaway pattern fails instead of hanging."""

import time

import pytest

from reconciler.rules import attributes
from reconciler.rules.compiler import compile_rule
from reconciler.rules.errors import RuleError, RuleEvaluationError
from reconciler.rules.parser import parse


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        (r"^(?<prefix>[A-Z]{2})-\d+$", "US-1234", True),  # .NET named group
        (r"^\p{Lu}", "Zoë", True),  # Unicode category
        (r"^\p{Lu}", "1Zoë", False),
        (r"ago", "Lagos", True),  # a search, not a full match
        (r"^LAG", "lagos", True),  # ignoring case
    ],
)
def test_match_accepts_dotnet_syntax_and_searches_ignoring_case(pattern, value, expected):
    rule = compile_rule(f'user.city -match "{pattern}"')
    assert rule({"city": value}) is expected


def test_pattern_invalid_in_dotnet_and_here_is_rejected_when_parsed():
    with pytest.raises(RuleError) as raised:
        parse('user.city -match "(?<name"')
    assert raised.value.code == "invalid-regex"


def test_catastrophic_pattern_fails_the_evaluation_with_a_clear_error(monkeypatch):
    monkeypatch.setattr(attributes, "REGEX_TIMEOUT_SECONDS", 0.2)
    rule = compile_rule('user.city -match "^(a|aa)+$"')
    started = time.monotonic()
    with pytest.raises(RuleEvaluationError) as raised:
        rule({"city": "a" * 60 + "b"})
    assert time.monotonic() - started < 5
    assert "took more than 0.2 s" in str(raised.value)
