"""A request and an answer, the same whether they came over HTTP or inside a `$batch`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit


@dataclass
class Request:
    method: str
    path: str  # below the version, e.g. "/groups/{id}/members"
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: Any = None
    base: str = ""  # the absolute Graph base URL, e.g. http://127.0.0.1:8080/v1.0
    beta: bool = False  # sent to Graph's /beta version rather than /v1.0

    @classmethod
    def from_target(
        cls,
        method: str,
        target: str,
        headers: dict[str, str],
        body: Any,
        base: str,
        beta: bool = False,
    ) -> Request:
        """`target` is the path and query below the version ("/users?$top=5")."""
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        headers = {name.lower(): value for name, value in headers.items()}
        return cls(method.upper(), parts.path or "/", query, headers, body, base, beta)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def link(self, path: str | None = None, **params: str) -> str:
        """An absolute URL to `path` (default: this one) with this query changed by `params`."""
        query = {k: v for k, v in self.query.items() if k not in params}
        query.update({k: v for k, v in params.items() if v is not None})
        text = urlencode(query, safe="$,()'/:")
        return f"{self.base}{path or self.path}" + (f"?{text}" if text else "")

    @property
    def advanced(self) -> bool:
        """Graph's advanced query mode: `ConsistencyLevel: eventual` and `$count=true`."""
        level = (self.header("ConsistencyLevel") or "").lower()
        return level == "eventual" and self.query.get("$count", "").lower() == "true"


@dataclass
class Response:
    status: int = 200
    body: Any = None  # a dict (JSON), a str (text/plain) or None (no content)
    headers: dict[str, str] = field(default_factory=dict)
