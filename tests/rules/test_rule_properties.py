"""Property tests of the rule language: printing, parsing and evaluation agree with each other
and with a plain reference interpreter written from docs/rules.md."""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.rules.ast import (
    Comparison,
    DateTimeValue,
    Duration,
    Not,
    NowValue,
    PropertyRef,
    Rule,
    Span,
    StringValue,
    walk,
)
from reconciler.rules.compiler import compile_rule
from reconciler.rules.errors import RuleError
from reconciler.rules.parser import MAX_NESTING, MAX_RULE_LENGTH, parse
from reconciler.rules.printer import to_text
from reconciler.rules.values import format_duration
from tests.rules import strategies as s
from tests.rules.reference_interpreter import evaluate

NOW = s.NOW
PARSE_SECONDS = 1.0

# RULE_PROPERTIES_SCALE=20 runs twenty times as many examples, for a longer bug hunt.
SCALE = float(os.environ.get("RULE_PROPERTIES_SCALE", "1"))


def examples(count: int) -> settings:
    return settings(
        max_examples=max(1, int(count * SCALE)),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )


property_settings = examples(200)


def parse_or_error(text: str) -> Rule | RuleError:
    """Parse `text`, checking it ends in a Rule or a RuleError with a sane span, quickly."""
    started = time.perf_counter()
    try:
        result: Rule | RuleError = parse(text)
    except RuleError as error:
        result = error
    elapsed = time.perf_counter() - started
    assert elapsed < PARSE_SECONDS, f"parse took {elapsed:.2f}s"
    if isinstance(result, RuleError):
        span = result.span
        assert isinstance(span, Span)
        assert 0 <= span.start <= span.end <= len(text), (result.code, span, len(text))
    else:
        assert isinstance(result, Rule)
        for node in walk(result):
            span = getattr(node, "span", None)
            if span is not None:
                assert 0 <= span.start <= span.end <= len(text), (node, len(text))
    return result


# --- printing and parsing -----------------------------------------------------------------------


@property_settings
@given(s.rules)
def test_printed_rule_parses_back_to_an_equal_tree(rule):
    text = to_text(rule)
    assume(len(text) <= MAX_RULE_LENGTH)
    assert parse(text) == rule


@property_settings
@given(s.rules)
def test_canonical_text_is_a_fixed_point_of_parse_and_print(rule):
    text = to_text(rule)
    assume(len(text) <= MAX_RULE_LENGTH)
    assert to_text(parse(text)) == text


# --- evaluation ------------------------------------------------------------------------------


@property_settings
@given(s.rules_with_objects())
def test_compiled_rule_agrees_with_reference_interpreter(case):
    rule, objects = case
    compiled = compile_rule(rule, now=NOW)
    for obj in objects:
        assert compiled(obj) is evaluate(rule, obj, NOW), obj


# --- robustness ----------------------------------------------------------------------------------


@examples(600)
@given(s.rule_like_text)
def test_parser_returns_a_rule_or_raises_rule_error_on_any_text(text):
    parse_or_error(text)


@st.composite
def mutated_rule_texts(draw):
    """A printed rule with one character inserted, deleted, replaced or its case swapped."""
    text = to_text(draw(s.rules))
    position = draw(st.integers(0, len(text)))
    edit = draw(st.sampled_from(["insert", "delete", "replace", "swapcase"]))
    character = draw(st.one_of(st.sampled_from(s.RULE_FRAGMENTS[:40]), st.characters()))
    if edit == "insert":
        return text[:position] + character + text[position:]
    if edit == "delete":
        return text[:position] + text[position + 1 :]
    if edit == "replace":
        return text[:position] + character + text[position + 1 :]
    return text[:position] + text[position : position + 1].swapcase() + text[position + 1 :]


@property_settings
@given(mutated_rule_texts())
def test_parser_returns_a_rule_or_raises_rule_error_on_mutated_rules(text):
    parse_or_error(text)


@property_settings
@given(st.one_of(mutated_rule_texts(), s.rule_like_text))
def test_any_accepted_rule_prints_to_text_that_parses_back_equal(text):
    rule = parse_or_error(text)
    if not isinstance(rule, Rule):
        return
    printed = to_text(rule)
    assume(len(printed) <= MAX_RULE_LENGTH)
    assert parse(printed) == rule


@property_settings
@given(st.one_of(mutated_rule_texts(), s.rule_like_text), s.users, s.devices)
def test_any_accepted_rule_compiles_and_agrees_with_reference_interpreter(text, user, device):
    rule = parse_or_error(text)
    if not isinstance(rule, Rule):
        return
    compiled = compile_rule(rule, now=NOW)
    obj = user if rule.object_type == "user" else device
    assert compiled(obj) is evaluate(rule, obj, NOW)


# --- values on their own ------------------------------------------------------------------------


@examples(300)
@given(st.text(max_size=60))
def test_any_string_value_is_quoted_so_that_it_reads_back_unchanged(value):
    rule = Rule("user", Comparison(PropertyRef("user", "department"), "eq", StringValue(value)))
    parsed = parse(to_text(rule))
    assert parsed == rule
    assert parsed.body.value.value == value


@examples(300)
@given(s.durations)
def test_duration_prints_to_text_that_parses_back_equal(duration):
    rule = Rule(
        "user",
        Comparison(PropertyRef("user", "employeeHireDate"), "ge", NowValue(duration)),
    )
    assert parse(to_text(rule)) == rule


@examples(200)
@given(s.rule_datetimes)
def test_datetime_prints_to_text_that_parses_back_to_the_same_instant(moment):
    rule = Rule(
        "user",
        Comparison(PropertyRef("user", "employeeHireDate"), "le", DateTimeValue(moment)),
    )
    assert parse(to_text(rule)) == rule


# --- nesting ------------------------------------------------------------------------------


@st.composite
def nested_rules(draw, max_depth: int):
    """A comparison wrapped in parentheses and -not, as text, its tree and its nesting level
    (each parenthesis and each -not is one level)."""
    body = draw(s.comparisons("user"))
    text = to_text(body)
    levels = 0
    for _ in range(draw(st.integers(1, max_depth))):
        wrapper = draw(st.sampled_from(["({})", "-not ({})", "not {}", "-NOT({})"]))
        text = wrapper.format(text)
        levels += wrapper.count("(")
        if "not" in wrapper.lower():
            body = Not(body)
            levels += 1
    return text, Rule("user", body), levels


@examples(100)
@given(nested_rules(max_depth=40), s.users)
def test_nested_rule_parses_and_compiles_up_to_the_nesting_limit_and_is_rejected_beyond(case, user):
    text, expected, levels = case
    assume(len(text) <= MAX_RULE_LENGTH)
    result = parse_or_error(text)
    if levels > MAX_NESTING:
        assert isinstance(result, RuleError)
        assert result.code == "too-deeply-nested"
        return
    assert result == expected
    assert compile_rule(result, now=NOW)(user) is evaluate(result, user, NOW)


# --- regression tests for bugs these properties found (all fixed since) ---------------------

EMPTY_STRING_RULES = [
    'user.department -contains ""',
    'user.department -startsWith ""',
    'user.department -endsWith ""',
    'user.department -match ""',
    'user.otherMails -contains ""',
    'user.otherMails -any (_ -startsWith "")',
]


@pytest.mark.parametrize("text", EMPTY_STRING_RULES)
def test_regression_positive_operator_with_empty_string_is_false_on_unset_value(text):
    # Found by test_compiled_rule_agrees_with_reference_interpreter: the compiler read "" as
    # null for every operator; docs/rules.md A9 makes only -eq "" mean -eq null.
    unset = {"department": None, "otherMails": [""]}
    assert compile_rule(text, now=NOW)(unset) is False
    assert evaluate(parse(text), unset, NOW) is False


def test_regression_negative_duration_with_fractional_seconds_parses():
    # Found by test_canonical_text_is_a_fixed_point_of_parse_and_print: the lexer ended the
    # operator token `-PT0` at the dot, so `-plus -PT0.5S` was rejected as invalid-duration.
    rule = parse("user.employeeHireDate -ge system.now -plus -PT0.5S")
    assert rule.body.value.offset == Duration(seconds=0.5, sign=-1)


@pytest.mark.parametrize("seconds", ["1234567", "123456.5", "0.00001", "0.1234567"])
def test_regression_duration_seconds_print_back_exactly(seconds):
    # Found while writing test_duration_prints_to_text_that_parses_back_equal: format_duration wrote
    # seconds with :g, so PT1234567S printed as PT1.23457e+06S (which doesn't parse) and
    # PT123456.5S as PT123456S.
    rule = parse(f"user.employeeHireDate -ge system.now -plus PT{seconds}S")
    assert parse(to_text(rule)) == rule


BASE = 'user.department -eq "x"'


@pytest.mark.parametrize(
    "text",
    [
        "(" * 500 + BASE + ")" * 500,
        "-not (" * 300 + BASE + ")" * 300,
        "not " * 700 + BASE,
        "user.otherMails -any (" + "(" * 500 + '_ -eq "x"' + ")" * 501,
    ],
    ids=["parentheses", "not-parenthesised", "not", "quantifier-body"],
)
def test_regression_deeply_nested_rule_is_a_rule_error_not_a_crash(text):
    # Found while writing the parser properties: 330 parentheses or 250 `-not (` overflowed
    # the recursive-descent parser's stack (RecursionError), and 200 nested `not`s parsed but
    # made compile_rule fail with "too many nested parentheses" (SyntaxError).
    assert len(text) <= MAX_RULE_LENGTH
    result = parse_or_error(text)
    assert isinstance(result, RuleError)
    assert result.code == "too-deeply-nested"


def test_regression_rule_at_the_nesting_limit_compiles():
    rule = parse("not " * (MAX_NESTING - 1) + BASE)
    assert compile_rule(rule, now=NOW)({"department": "x"}) is ((MAX_NESTING - 1) % 2 == 0)


@pytest.mark.parametrize(
    "pattern", ["a{4294967296}", "(" * 600 + ")" * 600], ids=["repeat", "groups"]
)
def test_regression_regex_python_cannot_compile_is_a_rule_error_not_a_crash(pattern):
    # _check_regex caught only re.error; re.compile raises OverflowError for a huge repeat
    # count and RecursionError for deeply nested groups.
    result = parse_or_error(f'user.department -match "{pattern}"')
    assert isinstance(result, RuleError)


@pytest.mark.parametrize("duration", ["P99999Y", "P999999999D", "-P9999Y", "PT99999999999S"])
def test_regression_huge_duration_is_rejected_or_compiles(duration):
    # A duration moving system.now past year 9999 (or beyond timedelta's range) parsed and then
    # crashed compile_rule with ValueError or OverflowError.
    result = parse_or_error(f"user.employeeHireDate -ge system.now -plus {duration}")
    if isinstance(result, Rule):
        assert compile_rule(result, now=NOW)({}) is False


wide_durations = st.builds(
    Duration,
    years=st.integers(0, 3000),
    months=st.integers(0, 40000),
    weeks=st.integers(0, 10**6),
    days=st.integers(0, 10**9),
    hours=st.integers(0, 10**10),
    minutes=st.integers(0, 10**12),
    seconds=st.one_of(st.integers(0, 10**14).map(float), st.floats(0, 1e15)),
    sign=st.sampled_from([1, -1]),
)


@examples(300)
@given(wide_durations, s.users)
def test_any_duration_the_parser_accepts_compiles_and_evaluates(duration, user):
    text = f"user.employeeHireDate -le system.now -plus {format_duration(duration)}"
    result = parse_or_error(text)
    if isinstance(result, Rule):
        assert compile_rule(result, now=NOW)(user) is evaluate(result, user, NOW)
