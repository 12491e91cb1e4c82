"""-match takes .NET-style patterns, as Entra does; a runaway pattern fails instead of hanging."""

import time
from functools import partial

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


@pytest.mark.parametrize(
    ("pattern", "value"),
    [
        ("^(a|aa)+$", "a" * 60 + "b"),  # exponential: overlapping choices in a quantified group
        ("^(a|aa)*$", "a" * 60 + "b"),
        (r"\S*\S*\d", "a" * 4096),  # no group at all: cubic over the start positions
    ],
)
def test_runaway_pattern_fails_the_evaluation_with_a_clear_error(monkeypatch, pattern, value):
    monkeypatch.setattr(attributes, "REGEX_TIMEOUT_SECONDS", 0.2)
    rule = compile_rule(f'user.city -match "{pattern}"')
    started = time.monotonic()
    with pytest.raises(RuleEvaluationError) as raised:
        rule({"city": value})
    assert time.monotonic() - started < 5
    assert "took more than 0.2 s" in str(raised.value)


def test_a_runaway_match_names_the_comparison_and_the_value_length(monkeypatch):
    monkeypatch.setattr(attributes, "REGEX_TIMEOUT_SECONDS", 0.2)
    rule = compile_rule(r'user.city -notMatch "\S*\S*\d"')
    with pytest.raises(RuleEvaluationError) as raised:
        rule({"city": "a" * 4096})
    assert str(raised.value).startswith(r'user.city -notMatch "\S*\S*\d": ')
    assert "on a value of 4,096 characters" in str(raised.value)
    assert raised.value.value_length == 4096


@pytest.mark.parametrize("pattern", [r"^.*@contoso\.com$", r".*vid", r"^Da", r"\S*\S*\d"])
def test_every_pattern_is_searched_with_the_timeout(pattern):
    # no pattern is exempt: which ones can run away is not a question to answer by looking
    matcher = attributes.pattern_matcher(pattern)
    assert isinstance(matcher, partial) and matcher.func is attributes.pattern_search
