"""`$filter` as Graph's directory supports it for users and groups.

Supported without advanced query parameters (Graph's docs for the user and group properties):
  `prop eq 'text'|true|false|number|null`, `prop in ('a','b')`, `startsWith(prop,'text')`,
  `assignedLicenses/any(x:x/skuId eq GUID)`, `groupTypes/any(c:c eq 'Unified')`,
  `hasMembersWithLicenseErrors eq true` (groups), joined with `and` / `or` and parentheses.
Only with `ConsistencyLevel: eventual` and `$count=true`: `ne`, `not`, `endsWith`.
Strings compare without regard to case, as the directory does. Anything else is 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from reconciler.emulator.errors import GraphError

Predicate = Callable[[dict[str, Any]], bool]

FILTERABLE = {
    "users": frozenset(
        (
            "id",
            "userPrincipalName",
            "displayName",
            "jobTitle",
            "accountEnabled",
            "department",
            "usageLocation",
            "mail",
            "mailNickname",
            "givenName",
            "surname",
            "employeeId",
            "employeeType",
            "companyName",
            "country",
            "city",
            "state",
            "userType",
            "officeLocation",
        )
    ),
    "groups": frozenset(
        (
            "id",
            "displayName",
            "mailNickname",
            "mail",
            "mailEnabled",
            "securityEnabled",
            "hasMembersWithLicenseErrors",
            "membershipRuleProcessingState",
        )
    ),
}
COLLECTIONS = {"users": ("assignedLicenses",), "groups": ("assignedLicenses", "groupTypes")}
RESOURCE = {"users": "User", "groups": "Group", "directoryAudits": "directoryAudit"}

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<punct>[(),:/])"
    r"|(?P<word>[A-Za-z_$@.][\w$@.-]*|-?[0-9a-fA-F][\w.-]*))"
)
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def compile_filter(
    text: str, kind: str, advanced: bool, errors_of: Callable[[str], bool] = lambda _: False
) -> Predicate:
    """A predicate over Graph documents of `kind`; GraphError 400 for what Graph refuses."""
    parser = _Parser(_tokens(text), kind, advanced, errors_of)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise invalid(f"unexpected '{parser.peek()}'")
    return predicate


def tokenize(text: str, pattern: re.Pattern[str]) -> list[tuple[str, str]]:
    """(group name, token) for each match of `pattern`'s named groups; 400 where none matches."""
    out, position = [], 0
    text = text.strip()
    while position < len(text):
        match = pattern.match(text, position)
        if match is None or match.end() == position:
            raise invalid(f"syntax error at position {position}")
        kind = match.lastgroup or "word"
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _tokens(text: str) -> list[str]:
    return [token for _, token in tokenize(text, _TOKEN) if token.strip()]


def invalid(detail: str) -> GraphError:
    """Graph's 400 for a `$filter` it can't parse."""
    return GraphError(400, "BadRequest", f"Invalid filter clause: {detail}.")


def unsupported(name: str, kind: str) -> GraphError:
    """Graph's 400 for a clause on `name` that resources of `kind` (a collection) don't filter."""
    return GraphError(
        400,
        "Request_UnsupportedQuery",
        f"Unsupported or invalid query filter clause specified for property '{name}' "
        f"of resource '{RESOURCE[kind]}'.",
    )


def _advanced_only() -> GraphError:
    return GraphError(400, "Request_UnsupportedQuery", "Unsupported Query.")


def _literal(token: str) -> Any:
    if token.startswith("'"):
        return token[1:-1].replace("''", "'")
    lowered = token.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if _GUID.match(token):
        return token
    try:
        return float(token) if "." in token else int(token)
    except ValueError:
        raise invalid(f"'{token}' is not a value") from None


def _equal(value: Any, literal: Any) -> bool:
    if isinstance(value, str) and isinstance(literal, str):
        return value.lower() == literal.lower()
    return value == literal


class _Parser:
    def __init__(self, tokens, kind, advanced, errors_of) -> None:
        self.tokens, self.position = tokens, 0
        self.kind, self.advanced, self.errors_of = kind, advanced, errors_of

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token.lower() != expected.lower()):
            raise invalid(f"expected '{expected or 'more'}'")
        self.position += 1
        return token

    def expression(self) -> Predicate:
        terms = [self.conjunction()]
        while (self.peek() or "").lower() == "or":
            self.take()
            terms.append(self.conjunction())
        return terms[0] if len(terms) == 1 else (lambda doc: any(t(doc) for t in terms))

    def conjunction(self) -> Predicate:
        terms = [self.term()]
        while (self.peek() or "").lower() == "and":
            self.take()
            terms.append(self.term())
        return terms[0] if len(terms) == 1 else (lambda doc: all(t(doc) for t in terms))

    def term(self) -> Predicate:
        token = self.take()
        lowered = token.lower()
        if token == "(":
            inner = self.expression()
            self.take(")")
            return inner
        if lowered == "not":
            if not self.advanced:
                raise _advanced_only()
            inner = self.term()
            return lambda doc: not inner(doc)
        if lowered in ("startswith", "endswith") and self.peek() == "(":
            if lowered == "endswith" and not self.advanced:
                raise _advanced_only()
            self.take("(")
            name = self.property(self.take())
            self.take(",")
            prefix = str(_literal(self.take())).lower()
            self.take(")")
            if lowered == "startswith":
                return lambda doc: str(doc.get(name) or "").lower().startswith(prefix)
            return lambda doc: str(doc.get(name) or "").lower().endswith(prefix)
        if self.peek() == "/":
            return self.lambda_(token)
        return self.comparison(self.property(token))

    def property(self, name: str) -> str:
        if name not in FILTERABLE[self.kind]:
            raise unsupported(name, self.kind)
        return name

    def comparison(self, name: str) -> Predicate:
        operator = self.take().lower()
        if operator == "in":
            self.take("(")
            values = [_literal(self.take())]
            while self.peek() == ",":
                self.take(",")
                values.append(_literal(self.take()))
            self.take(")")
            return lambda doc: any(_equal(self.value(doc, name), v) for v in values)
        literal = _literal(self.take())
        if name == "hasMembersWithLicenseErrors":
            if operator != "eq" or literal is not True:
                raise unsupported(name, self.kind)
            return lambda doc: self.errors_of(doc["id"])
        if operator == "eq":
            return lambda doc: _equal(self.value(doc, name), literal)
        if operator == "ne":
            if not self.advanced:
                raise _advanced_only()
            return lambda doc: not _equal(self.value(doc, name), literal)
        raise unsupported(name, self.kind)

    @staticmethod
    def value(doc: dict[str, Any], name: str) -> Any:
        return doc.get(name)

    def lambda_(self, collection: str) -> Predicate:
        if collection not in COLLECTIONS[self.kind]:
            raise unsupported(collection, self.kind)
        self.take("/")
        if self.take().lower() != "any":
            raise unsupported(collection, self.kind)
        self.take("(")
        variable = self.take()
        self.take(":")
        head = self.take()
        member = None
        if self.peek() == "/":
            self.take("/")
            member = self.take()
        if head != variable:
            raise invalid(f"'{head}' is not the lambda variable")
        if self.take().lower() != "eq":
            raise unsupported(collection, self.kind)
        literal = _literal(self.take())
        self.take(")")
        if collection == "assignedLicenses":
            if member != "skuId":
                raise unsupported(f"{collection}/{member}", self.kind)
            return lambda doc: any(
                _equal(item.get("skuId"), literal) for item in doc.get(collection) or ()
            )
        if member is not None:
            raise unsupported(collection, self.kind)
        return lambda doc: any(_equal(item, literal) for item in doc.get(collection) or ())
