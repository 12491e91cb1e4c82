"""Turns rule text into tokens, each with its span."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from reconciler.rules.ast import Span
from reconciler.rules.errors import RuleError
from reconciler.rules.properties import ALL_OPERATORS


class Kind(Enum):
    LPAREN = "'('"
    RPAREN = "')'"
    LBRACKET = "'['"
    RBRACKET = "']'"
    COMMA = "','"
    STRING = "string"
    OPERATOR = "operator"
    WORD = "word"
    EOF = "end of rule"


@dataclass(frozen=True)
class Token:
    kind: Kind
    text: str
    span: Span
    # STRING: the decoded value; OPERATOR: the name without its dash; WORD: the text.
    value: str
    # OPERATOR written with an en or em dash, as some of Microsoft's examples are (A5).
    typographic_dash: bool = False


# Every operator name, in lower case: a word in operator position may drop its hyphen (A4).
OPERATOR_WORDS = frozenset(name.lower() for name in ALL_OPERATORS) | {
    "and",
    "or",
    "not",
    "any",
    "all",
    "plus",
    "minus",
}

_PUNCTUATION = {"(": Kind.LPAREN, ")": Kind.RPAREN, "[": Kind.LBRACKET, "]": Kind.RBRACKET}
_PUNCTUATION[","] = Kind.COMMA
_DASHES = "-\u2013\u2014"
_TYPOGRAPHIC_QUOTES = "\u201c\u201d\u2018\u2019"


def _is_word_char(ch: str, leading_digit: bool) -> bool:
    # A word that starts with a digit is a date such as 2020-06-10T18:13:20Z, so it may hold
    # '-', ':' and '+'; any other word stops at them, letting `user.department-eq"x"` split.
    if ch.isalnum() or ch in "_.$":
        return True
    return leading_digit and ch in "-:+"


def tokenize(text: str) -> list[Token]:
    """Split `text` into tokens, ending with an EOF token."""
    tokens: list[Token] = []
    pos, length = 0, len(text)
    while pos < length:
        ch = text[pos]
        if ch.isspace():
            pos += 1
        elif ch in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[ch], ch, Span(pos, pos + 1), ch))
            pos += 1
        elif ch in "\"'":
            token = _string(text, pos)
            tokens.append(token)
            pos = token.span.end
        elif ch == "`":
            token = _backtick_word(text, pos)
            tokens.append(token)
            pos = token.span.end
        elif ch in _DASHES:
            end = pos + 1
            # a decimal point belongs to a negative duration such as -PT0.5S
            while end < length and (
                text[end].isalnum() or (text[end] == "." and text[end + 1 : end + 2].isdigit())
            ):
                end += 1
            if end == pos + 1:
                raise RuleError(
                    "stray-dash",
                    f"'{ch}' must be followed by an operator name such as -eq",
                    Span(pos, pos + 1),
                )
            tokens.append(
                Token(
                    Kind.OPERATOR,
                    text[pos:end],
                    Span(pos, end),
                    text[pos + 1 : end],
                    typographic_dash=ch != "-",
                )
            )
            pos = end
        elif ch in _TYPOGRAPHIC_QUOTES:
            raise RuleError(
                "typographic-quote",
                f"typographic quote {ch} can't delimit a string; use a straight quote \"",
                Span(pos, pos + 1),
            )
        elif _is_word_char(ch, leading_digit=False):
            end = pos + 1
            leading_digit = ch.isdigit()
            while end < length and _is_word_char(text[end], leading_digit):
                end += 1
            tokens.append(Token(Kind.WORD, text[pos:end], Span(pos, end), text[pos:end]))
            pos = end
        else:
            raise RuleError(
                "unexpected-character", f"unexpected character {ch!r}", Span(pos, pos + 1)
            )
    tokens.append(Token(Kind.EOF, "", Span(length, length), ""))
    return tokens


def _string(text: str, start: int) -> Token:
    """A quoted string.

    Inside double quotes a backtick escapes the next character (the docs' example
    ``-eq `"Sales`"``), and so does a backslash before a double quote (the 2025 wording, A1);
    any other backslash is kept, so regular expressions pass through. Inside single quotes
    a doubled quote stands for one.
    """
    quote = text[start]
    chars: list[str] = []
    pos = start + 1
    while pos < len(text):
        ch = text[pos]
        if quote == '"' and ch == "`" and pos + 1 < len(text):
            chars.append(text[pos + 1])
            pos += 2
        elif quote == '"' and ch == "\\" and text[pos + 1 : pos + 2] == '"':
            chars.append('"')
            pos += 2
        elif ch == quote:
            if quote == "'" and text[pos + 1 : pos + 2] == "'":
                chars.append("'")
                pos += 2
                continue
            end = pos + 1
            return Token(Kind.STRING, text[start:end], Span(start, end), "".join(chars))
        else:
            chars.append(ch)
            pos += 1
    content = text[start + 1 :]
    hint = None
    if any(mark in content for mark in _TYPOGRAPHIC_QUOTES):
        hint = "the string holds a typographic quote; close it with a straight quote"
    elif not content.strip(" )"):
        hint = "if this quote closes a value, the value is missing its opening quote"
    raise RuleError(
        "unterminated-string",
        f"string starting at column {start + 1} is never closed; add a closing {quote}",
        Span(start, len(text)),
        hint=hint,
    )


def _backtick_word(text: str, start: int) -> Token:
    """An unquoted value of backtick-escaped characters: the docs' ``-eq `"Sales`"``.

    Its value keeps the escaped quotes, `"Sales"`, as the older docs describe it (A1).
    """
    chars: list[str] = []
    pos = start
    while pos < len(text) and not text[pos].isspace() and text[pos] not in "()[],":
        if text[pos] == "`" and pos + 1 < len(text):
            chars.append(text[pos + 1])
            pos += 2
        else:
            chars.append(text[pos])
            pos += 1
    return Token(Kind.STRING, text[start:pos], Span(start, pos), "".join(chars))


class TokenStream:
    """The tokens of one rule, read front to back."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self, ahead: int = 0) -> Token:
        return self.tokens[min(self.pos + ahead, len(self.tokens) - 1)]

    def previous(self) -> Token:
        return self.tokens[self.pos - 1]

    def advance(self) -> Token:
        token = self.peek()
        self.pos += 1
        return token

    def expect(self, kind: Kind, what: str) -> Token:
        token = self.peek()
        if token.kind is not kind:
            raise RuleError(
                "unexpected-token", f"expected {what}, found {describe(token)}", token.span
            )
        return self.advance()


def operator_word(token: Token) -> str:
    """The operator name a token spells, with or without its dash, in lower case; else ""."""
    if token.kind is Kind.OPERATOR:
        return token.value.lower()
    if token.kind is Kind.WORD and token.value.lower() in OPERATOR_WORDS:
        return token.value.lower()
    return ""


def describe(token: Token) -> str:
    """A token as an error message quotes it."""
    if token.kind is Kind.EOF:
        return "the end of the rule"
    return f"'{token.text}'"
