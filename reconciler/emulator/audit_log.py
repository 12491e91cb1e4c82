"""Entra's directory audit log in the emulator: who each caller is, and
`GET /auditLogs/directoryAudits` listing what the local tenant recorded.

The bearer token says whom a write is recorded as: `user:UPN` that user (as an admin in the
portal), `app:APPID:NAME` that app, and any other token (the fixed one reconciler sends on
loopback) the app "reconciler". `App.dispatch` sets the caller for each request, the items of a
`$batch` taking the batch's; the store's writes record it.

`$filter` takes the subset of Graph's that `AuditQuery` expresses, joined with `and`:
`activityDateTime ge|le|eq DATETIME` (unquoted, as OData writes it), `category eq '...'`,
`activityDisplayName eq '...'`, `loggedByService eq '...'`, and up to two
`targetResources/any(t: t/id eq '...')`; one kind's values may be joined with `or` inside
parentheses. Anything else is a 400. `$top` and paging are the directory's (odata.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from reconciler.audit import parse_time
from reconciler.directory_audit import (
    CORE_DIRECTORY,
    AuditQuery,
    Initiator,
    reconciler_initiator,
)
from reconciler.emulator import odata
from reconciler.emulator.errors import GraphError, bad_request
from reconciler.emulator.filters import invalid, tokenize, unsupported
from reconciler.emulator.messages import Request, Response

if TYPE_CHECKING:
    from reconciler.emulator.app import App

_CALLER: ContextVar[Initiator | None] = ContextVar("emulator_caller", default=None)


def initiator_for(authorization: str | None) -> Initiator:
    """Whom a request with this Authorization header is recorded as."""
    token = (authorization or "").partition(" ")[2].strip()
    kind, _, rest = token.partition(":")
    if kind == "user" and rest:
        return Initiator.user(rest)
    app_id, _, name = rest.partition(":")
    if kind == "app" and app_id and name:
        return Initiator.app(name, app_id)
    return reconciler_initiator()


@contextmanager
def calling(request: Request) -> Iterator[None]:
    """The block runs as the request's caller; a request without a token (a batch item)
    keeps the caller of the request it is part of."""
    header = request.header("Authorization")
    if header is None:
        yield
        return
    token = _CALLER.set(initiator_for(header))
    try:
        yield
    finally:
        _CALLER.reset(token)


def caller() -> Initiator:
    """Who the request being handled comes from."""
    return _CALLER.get() or reconciler_initiator()


def directory_audits(app: App, request: Request) -> Response:
    """GET /auditLogs/directoryAudits: the tenant's records, newest first."""
    for option in ("$skip", "$search", "$expand", "$select", "$orderby", "$count"):
        if option in request.query:
            raise bad_request(f"Query option '{option}' is not supported by the emulator here.")
    query, services = parse_filter(request.query.get("$filter", ""))
    wanted = services is None or CORE_DIRECTORY.lower() in services
    records = list(app.store.tenant.directory_audits(query)) if wanted else []
    context = f"{request.base}/$metadata#auditLogs/directoryAudits"
    chosen, envelope = odata.page(request, records, app.run_id, context)
    return Response(200, {**envelope, "value": [record.document() for record in chosen]})


# --- $filter --------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')"
    r"|(?P<time>\d{4}-\d\d-\d\d(?:T\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?)?)"
    r"|(?P<punct>[(),:/])|(?P<word>[A-Za-z_$][\w$.]*))"
)
_KINDS = ("category", "activityDisplayName", "loggedByService")


def parse_filter(text: str) -> tuple[AuditQuery, set[str] | None]:
    """The query a `$filter` asks, and the loggedByService values it allows (None: any)."""
    parser = _Parser(tokenize(text, _TOKEN))
    query, services = AuditQuery(), None
    targets: list[tuple[str, ...]] = []
    while parser.tokens:
        kind, operator, values = parser.clause()
        if kind == "activityDateTime":
            query = _timed(query, operator, values[0])
        elif kind == "target":
            if len(targets) == 2:
                raise _unsupported("targetResources")
            targets.append(tuple(values))
        elif kind == "loggedByService":
            allowed = {str(value).lower() for value in values}
            services = allowed if services is None else services & allowed
        else:
            field = "categories" if kind == "category" else "activities"
            if getattr(query, field):
                raise _unsupported(kind)
            query = replace(query, **{field: tuple(values)})
        if parser.peek() is None:
            break
        parser.take("and")
    # the query's two id lists are the same kind of condition: a target among these ids
    while len(targets) < 2:
        targets.append(())
    query = replace(query, group_ids=targets[0], user_ids=targets[1])
    return query, services


def _timed(query: AuditQuery, operator: str, moment: datetime) -> AuditQuery:
    if operator in ("ge", "eq") and query.since is None:
        query = replace(query, since=moment)
    elif operator != "le":
        raise _unsupported("activityDateTime")
    if operator in ("le", "eq"):
        if query.until is not None:
            raise _unsupported("activityDateTime")
        query = replace(query, until=moment)
    return query


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.position = tokens, 0

    def peek(self) -> str | None:
        return self.tokens[self.position][1] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None, kind: str | None = None) -> str:
        if self.position >= len(self.tokens):
            raise invalid(f"expected '{expected or kind or 'more'}' at the end")
        token_kind, token = self.tokens[self.position]
        if (expected is not None and token.lower() != expected.lower()) or (
            kind is not None and token_kind != kind
        ):
            raise invalid(f"expected '{expected or kind}', not '{token}'")
        self.position += 1
        return token

    def clause(self) -> tuple[str, str, list]:
        """(kind, operator, values): one comparison, or several of one kind joined by `or`."""
        if self.peek() != "(":
            kind, operator, value = self.comparison()
            return kind, operator, [value]
        self.take("(")
        kind, operator, value = self.comparison()
        values = [value]
        while (self.peek() or "").lower() == "or":
            self.take()
            other = self.comparison()
            if other[:2] != (kind, "eq") or kind == "activityDateTime":
                raise _unsupported(other[0])
            values.append(other[2])
        self.take(")")
        return kind, operator, values

    def comparison(self) -> tuple[str, str, object]:
        name = self.take(kind="word")
        if name == "targetResources":
            self.take("/")
            self.take("any")
            self.take("(")
            variable = self.take(kind="word")
            self.take(":")
            if self.take(kind="word") != variable:
                raise invalid("expected the lambda variable")
            self.take("/")
            if self.take(kind="word") != "id":
                raise _unsupported("targetResources")
            self.take("eq")
            value = _string(self.take(kind="string"))
            self.take(")")
            return "target", "eq", value
        operator = self.take(kind="word").lower()
        if name == "activityDateTime":
            if operator not in ("ge", "le", "eq"):
                raise _unsupported(name)
            try:
                return name, operator, parse_time(self.take(kind="time"))
            except ValueError:
                raise invalid("not a date and time") from None
        if name not in _KINDS or operator != "eq":
            raise _unsupported(name)
        return name, operator, _string(self.take(kind="string"))


def _string(token: str) -> str:
    return token[1:-1].replace("''", "'")


def _unsupported(name: str) -> GraphError:
    return unsupported(name, "directoryAudits")
