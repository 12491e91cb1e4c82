"""Reads the value side of a comparison: strings, booleans, null, dates, system.now, lists."""

from __future__ import annotations

import regex

from reconciler.rules.ast import (
    BoolValue,
    DateTimeValue,
    ItemRef,
    ListValue,
    NowValue,
    NullValue,
    PropertyRef,
    Span,
    StringValue,
    Value,
)
from reconciler.rules.errors import RuleError
from reconciler.rules.lexer import Kind, Token, TokenStream, describe, operator_word
from reconciler.rules.printer import reference_text
from reconciler.rules.properties import UNSUPPORTED_OPERATORS, PropertySpec, PropertyType
from reconciler.rules.values import (
    MAX_DURATION_YEARS,
    duration_in_range,
    parse_datetime,
    parse_duration,
)


def read_value(
    stream: TokenStream,
    target: PropertyRef | ItemRef,
    spec: PropertySpec | None,
    operator: str,
    op: Token,
) -> Value:
    """The value after `op`, checked against the property's type and the operator."""
    token = stream.peek()
    lowered = token.value.lower() if token.kind is Kind.WORD else ""
    kind = spec.type if spec is not None else PropertyType.STRING
    if token.kind in (Kind.EOF, Kind.RPAREN):
        raise RuleError("missing-value", f"operator {op.text} needs a value", token.span)
    if operator in ("in", "notIn"):
        if token.kind is not Kind.LBRACKET:
            raise RuleError(
                "expected-list",
                f'{op.text} takes a list such as ["a", "b"], found {describe(token)}',
                token.span,
            )
        return read_list(stream)
    if token.kind is Kind.LBRACKET:
        raise RuleError(
            "unexpected-list", f"a list goes only with -in or -notIn, not {op.text}", token.span
        )
    if lowered in ("null", "$null"):
        stream.advance()
        if operator not in ("eq", "ne"):
            raise RuleError(
                "null-operator",
                f"null can only be compared with -eq or -ne, not {op.text}",
                token.span,
            )
        return NullValue(token.span)
    if kind is PropertyType.BOOL:
        return _boolean(stream, token, target)
    if kind is PropertyType.DATETIME:
        return _datetime(stream, token)
    if token.kind is Kind.STRING:
        stream.advance()
        if operator in ("match", "notMatch"):
            _check_regex(token)
        return StringValue(token.value, token.span)
    if lowered in ("true", "false"):
        raise RuleError(
            "type-mismatch",
            f"{reference_text(target)} is a string; compare it with a quoted string",
            token.span,
            hint=f'write "{token.value}"',
        )
    if token.kind is Kind.WORD:
        raise RuleError(
            "unquoted-string",
            f'string values must be quoted: write "{token.value}"',
            token.span,
        )
    raise RuleError("missing-value", f"operator {op.text} needs a value", token.span)


def _boolean(stream: TokenStream, token: Token, target: PropertyRef | ItemRef) -> BoolValue:
    lowered = token.value.lower()
    if token.kind is Kind.WORD and lowered in ("true", "false"):
        stream.advance()
        return BoolValue(lowered == "true", token.span)
    # A quoted "true" is a string, and Entra rejects a string for a boolean (A14).
    raise RuleError(
        "type-mismatch",
        f"{reference_text(target)} is a boolean; compare it with true or false"
        + (" without quotes" if token.kind is Kind.STRING else ""),
        token.span,
    )


def _datetime(stream: TokenStream, token: Token) -> DateTimeValue | NowValue:
    if token.kind is Kind.WORD and token.value.lower() == "system.now":
        stream.advance()
        check_supported(stream.peek())
        if operator_word(stream.peek()) != "plus":
            return NowValue(None, token.span)
        stream.advance()
        amount = stream.advance()
        text = amount.value if amount.kind is Kind.WORD else ""
        if amount.kind is Kind.OPERATOR:
            text = "-" + amount.value
        duration = parse_duration(text) if text else None
        if duration is None:
            raise RuleError(
                "invalid-duration",
                f"expected an ISO 8601 duration such as P1D after -plus, found {describe(amount)}",
                amount.span,
            )
        if not duration_in_range(duration):
            raise RuleError(
                "invalid-duration",
                f"duration {amount.text} is longer than {MAX_DURATION_YEARS} years",
                amount.span,
            )
        return NowValue(duration, token.span.cover(amount.span))
    if token.kind in (Kind.WORD, Kind.STRING):
        moment = parse_datetime(token.value)
        if moment is not None:
            stream.advance()
            return DateTimeValue(moment, token.span)
    raise RuleError(
        "invalid-date",
        f"expected a date such as 2020-06-10T18:13:20Z or system.now, found {describe(token)}",
        token.span,
    )


def read_list(stream: TokenStream) -> ListValue:
    """A `[...]` list of quoted strings."""
    opening = stream.expect(Kind.LBRACKET, "'['")
    unclosed = RuleError(
        "unbalanced-bracket",
        f"'[' at column {opening.span.start + 1} is never closed",
        opening.span,
    )
    items: list[StringValue] = []
    while True:
        token = stream.peek()
        if token.kind is Kind.RBRACKET and not items:
            raise RuleError("empty-list", "the list is empty", opening.span.cover(token.span))
        if token.kind is Kind.EOF:
            raise unclosed
        if token.kind is Kind.WORD:
            raise RuleError(
                "unquoted-string",
                f'list items must be quoted strings: write "{token.value}"',
                token.span,
            )
        if token.kind is not Kind.STRING:
            raise RuleError(
                "unexpected-token", f"expected a quoted string, found {describe(token)}", token.span
            )
        items.append(StringValue(token.value, token.span))
        stream.advance()
        separator = stream.peek()
        if separator.kind is Kind.EOF:
            raise unclosed
        if separator.kind is Kind.RBRACKET:
            stream.advance()
            return ListValue(tuple(items), opening.span.cover(separator.span))
        stream.expect(Kind.COMMA, "',' or ']'")


def check_supported(token: Token) -> None:
    """Reject an operator people try that Entra doesn't have, saying what to write instead."""
    hint = UNSUPPORTED_OPERATORS.get(operator_word(token) or token.value.lower())
    if hint and token.kind in (Kind.OPERATOR, Kind.WORD):
        raise RuleError(
            "unsupported-operator",
            f"operator {token.text} isn't supported by Entra; {hint}",
            token.span,
        )


def _check_regex(token: Token) -> None:
    """Compile the pattern as evaluation will, so an invalid one fails here, with its column."""
    try:
        regex.compile(token.value, regex.IGNORECASE)
    except regex.error as exc:
        # Point at the offending character when the string has no escapes shifting it.
        span = token.span
        plain = len(token.text) == len(token.value) + 2
        if exc.pos is not None and plain and exc.pos < len(token.value):
            start = token.span.start + 1 + exc.pos
            span = Span(start, start + 1)
        raise RuleError("invalid-regex", f"invalid regular expression: {exc.msg}", span) from None
    except (OverflowError, RecursionError, ValueError):
        # huge repeat counts and very deep groups are beyond any regular-expression engine
        raise RuleError(
            "invalid-regex",
            "invalid regular expression: too large or too deeply nested",
            token.span,
        ) from None
