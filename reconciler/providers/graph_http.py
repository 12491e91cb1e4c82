"""The HTTP side of the Graph provider: requests, retries, paging, JSON batching, errors.

One `GraphClient` wraps one `httpx.Client` (thread-safe, so reads may run a few at a time).
What it does for every request:

* 429, 502, 503 and 504 are retried: after `Retry-After` when the answer has one (seconds, which
  may be fractional, or an HTTP date), otherwise after an exponential backoff with full jitter.
* Timeouts and dropped connections are retried for requests that are safe to repeat (GET, PUT,
  PATCH, DELETE, and the POSTs the caller marks idempotent); a connection that was never made is
  retried for any request.
* `$batch` items are retried on their own: the throttled ones (and those with a gateway error,
  when safe to repeat), and those that failed with 424 only because an item they depend on was
  retried, after the longest `Retry-After` among them.
* Anything else that fails becomes a `GraphError` (a ProviderError) naming the request, Graph's
  error code and message and, for 401/403, the permission the request needs. The bearer token is
  only ever in the request's header: no message here includes a header.
"""

from __future__ import annotations

import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import httpx
import msgspec

from reconciler.providers.base import ProviderError
from reconciler.providers.graph_auth import TokenSource

__all__ = [
    "BATCH_LIMIT",
    "BatchItem",
    "GraphClient",
    "GraphError",
    "GraphResponse",
    "RetryPolicy",
    "permission_for",
]

BATCH_LIMIT = 20  # requests in one JSON batch
CONNECT_RETRIES = 3  # retries of a connection that couldn't be made
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# answers that say the request wasn't carried out: the only ones a create may be resent after
NOT_PROCESSED = frozenset({429, 503})
_SAFE_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_GUID = r"[^/?]+"
# RFC 9110's delay-seconds is digits; Graph also sends fractions ("2.128")
_DELAY_SECONDS = re.compile(r"[0-9]+(?:\.[0-9]+)?")


def _uncounted(items: int) -> None:
    """What hears of the items read when nobody counts them."""


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to wait before trying a request again."""

    attempts: int = 8  # retries after the first try
    base: float = 0.5  # seconds; backoff doubles from here
    cap: float = 30.0  # longest backoff
    max_retry_after: float = 120.0  # longest wait a Retry-After can ask for

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `attempt` (from 0)."""
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.max_retry_after)
        # full jitter: spreads out clients that were throttled together
        return random.uniform(0, min(self.cap, self.base * 2**attempt))


@dataclass(frozen=True, slots=True)
class GraphResponse:
    status: int
    headers: Mapping[str, str]  # names in lower case
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("code", "")) if isinstance(error, dict) else ""

    @property
    def error_message(self) -> str:
        error = self.body.get("error") if isinstance(self.body, dict) else None
        return str(error.get("message", "")) if isinstance(error, dict) else ""

    def retry_after(self) -> float | None:
        return _retry_after(self.headers.get("retry-after"))


class GraphError(ProviderError):
    """Graph answered a request with an error, or couldn't be reached."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One request inside a JSON batch; `url` is relative to the Graph base URL."""

    id: str
    method: str
    url: str
    body: Any = None
    depends_on: tuple[str, ...] = ()
    headers: Mapping[str, str] = field(default_factory=dict)

    def document(self, pending: set[str]) -> dict[str, Any]:
        doc: dict[str, Any] = {"id": self.id, "method": self.method, "url": self.url}
        headers = dict(self.headers)
        if self.body is not None:
            doc["body"] = self.body
            headers.setdefault("Content-Type", "application/json")
        if headers:
            doc["headers"] = headers
        # dependencies already done in an earlier round are no longer in this batch
        depends = [d for d in self.depends_on if d in pending]
        if depends:
            doc["dependsOn"] = depends
        return doc


class GraphClient:
    """Graph requests with sign-in, retries and error translation."""

    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        *,
        retry: RetryPolicy | None = None,
        timeout: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._token = token
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._http = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 15.0)),
            headers={"Accept": "application/json", "User-Agent": "reconciler"},
            follow_redirects=False,
        )
        self._lock = threading.Lock()
        self.requests = 0  # HTTP requests sent, retries included

    def close(self) -> None:
        self._http.close()

    def url(self, path: str) -> str:
        """The absolute URL of `path`; a link elsewhere than this Graph never gets the token."""
        if not path.startswith(("http://", "https://")):
            return self.base_url + path
        if not path.startswith(self.base_url + "/"):
            raise GraphError(f"Graph answered with a link outside {self.base_url}; not followed")
        return path

    def relative(self, url: str) -> str:
        """`url` relative to the base URL, for a batch item (a nextLink is absolute)."""
        return url[len(self.base_url) :] if url.startswith(self.base_url) else url

    # --- one request ------------------------------------------------------------------------

    def send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        idempotent: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> GraphResponse:
        """The answer to one request, retried as the module says; errors not raised."""
        safe = method in _SAFE_METHODS if idempotent is None else idempotent
        url = self.url(path)
        attempt = 0
        while True:
            request_headers = {"Authorization": f"Bearer {self._token()}", **(headers or {})}
            try:
                with self._lock:
                    self.requests += 1
                raw = self._http.request(method, url, json=json, headers=request_headers)
            except httpx.TransportError as exc:
                # a connection never made can't have done anything; any other failure can
                unconnected = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                # a Graph that can't be reached at all isn't waited for as long as a busy one
                tries = min(self.retry.attempts, CONNECT_RETRIES) if unconnected else None
                retryable = (safe or unconnected) and attempt < (tries or self.retry.attempts)
                if retryable:
                    self._sleep(self.retry.delay(attempt, None))
                    attempt += 1
                    continue
                what = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
                raise GraphError(
                    f"{method} {_path_of(self.relative(url))} {what} "
                    f"({type(exc).__name__}) after {attempt + 1} tries"
                ) from exc
            response = GraphResponse(raw.status_code, _lower(raw.headers), _json(raw))
            # a gateway error may come after Graph made the change: resend only what is safe
            statuses = RETRY_STATUSES if safe else NOT_PROCESSED
            if response.status in statuses and attempt < self.retry.attempts:
                self._sleep(self.retry.delay(attempt, response.retry_after()))
                attempt += 1
                continue
            return response

    def call(self, method: str, path: str, **kwargs: Any) -> GraphResponse:
        """Like `send`, but a GraphError unless the answer is a success."""
        response = self.send(method, path, **kwargs)
        if not response.ok:
            raise error_for(method, self.relative(self.url(path)), response)
        return response

    def pages(
        self, path: str, counted: Callable[[int], None] = _uncounted
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink` to the end; `counted` hears
        how many items each page brought."""
        url: str | None = path
        while url is not None:
            body = self.call("GET", url).body or {}
            items = body.get("value", ())
            counted(len(items))
            yield from items
            url = body.get("@odata.nextLink")

    # --- JSON batching ----------------------------------------------------------------------

    def batch(
        self, items: Sequence[BatchItem], *, idempotent: bool | None = None
    ) -> dict[str, GraphResponse]:
        """Each item's final answer, by id; up to BATCH_LIMIT items, retried per item.

        `idempotent`: whether every item is safe to repeat (default: by method); the caller
        says so for writes it recognises as done when repeated, such as member references.
        """
        if len(items) > BATCH_LIMIT:
            raise ValueError(f"a batch holds at most {BATCH_LIMIT} requests")
        results: dict[str, GraphResponse] = {}
        pending = list(items)
        attempt = 0
        while pending:
            ids = {item.id for item in pending}
            safe = all(item.method in _SAFE_METHODS for item in pending)
            envelope = self.call(
                "POST",
                "/$batch",
                json={"requests": [item.document(ids) for item in pending]},
                idempotent=safe if idempotent is None else idempotent,
            )
            answers = _batch_answers(envelope.body)
            again: list[BatchItem] = []
            wait = 0.0
            for item in pending:  # dependencies come before their dependants
                answer = answers.get(item.id)
                if answer is None:
                    answer = GraphResponse(502, {}, {"error": {"message": "no answer in batch"}})
                retry_ids = {i.id for i in again}
                # as for one request: a gateway error may come after the item was carried out
                repeatable = idempotent or item.method in _SAFE_METHODS
                throttled = answer.status in (RETRY_STATUSES if repeatable else NOT_PROCESSED)
                blocked = answer.status == 424 and any(d in retry_ids for d in item.depends_on)
                if (throttled or blocked) and attempt < self.retry.attempts:
                    again.append(item)
                    if throttled:
                        wait = max(wait, self.retry.delay(attempt, answer.retry_after()))
                else:
                    results[item.id] = answer
            # each item has its retries: a round in which some finished starts the count again
            attempt = attempt + 1 if len(again) == len(pending) else 0
            pending = again
            if pending:
                self._sleep(wait)
        return results

    def batch_pages(
        self, paths: Mapping[str, str], counted: Callable[[int], None] = _uncounted
    ) -> dict[str, list[dict[str, Any]]]:
        """Every item of several collections (by key), their pages fetched 20 to a batch;
        `counted` hears how many items each batch brought."""
        items: dict[str, list[dict[str, Any]]] = {key: [] for key in paths}
        pending = dict(paths)
        while pending:
            chunk = dict(list(pending.items())[:BATCH_LIMIT])
            keys = {f"{n}": key for n, key in enumerate(chunk)}
            answers = self.batch([BatchItem(n, "GET", chunk[key]) for n, key in keys.items()])
            brought = 0
            for n, key in keys.items():
                answer = answers[n]
                if not answer.ok:
                    raise error_for("GET", chunk[key], answer)
                body = answer.body or {}
                found = body.get("value", ())
                brought += len(found)
                items[key].extend(found)
                following = body.get("@odata.nextLink")
                if following:
                    pending[key] = self.relative(following)
                else:
                    del pending[key]
            counted(brought)
        return items


# --- errors -------------------------------------------------------------------------------

# (method, path pattern) -> the least-privileged application permission the request needs
_PERMISSIONS: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p + r"$"), perm)
    for m, p, perm in [
        ("GET", r"/organization", "Organization.Read.All"),
        ("GET", r"/subscribedSkus", "LicenseAssignment.Read.All"),
        ("GET", r"/users(/delta)?", "User.Read.All"),
        ("GET", rf"/groups(/delta|/{_GUID}(/members)?)?", "GroupMember.Read.All"),
        ("POST", r"/groups", "Group.ReadWrite.All"),
        ("PATCH", rf"/groups/{_GUID}", "Group.ReadWrite.All"),
        ("DELETE", rf"/groups/{_GUID}", "Group.ReadWrite.All"),
        ("POST", rf"/groups/{_GUID}/members/\$ref", "GroupMember.ReadWrite.All"),
        ("DELETE", rf"/groups/{_GUID}/members/{_GUID}/\$ref", "GroupMember.ReadWrite.All"),
        ("POST", rf"/groups/{_GUID}/assignLicense", "LicenseAssignment.ReadWrite.All"),
        ("POST", rf"/users/{_GUID}/reprocessLicenseAssignment", "User.ReadWrite.All"),
        ("GET", r"/auditLogs/directoryAudits", "AuditLog.Read.All"),
    ]
]


def permission_for(method: str, path: str, body: Any = None) -> str | None:
    """The least-privileged Graph permission a request needs, when known."""
    if method == "PATCH" and isinstance(body, dict) and "members@odata.bind" in body:
        return "GroupMember.ReadWrite.All"
    bare = _path_of(path)
    for m, pattern, permission in _PERMISSIONS:
        if m == method and pattern.match(bare):
            return permission
    return None


def error_for(method: str, path: str, response: GraphResponse, body: Any = None) -> GraphError:
    """The GraphError for a failed request: what was asked, what Graph said, what to do."""
    where = f"{method} {_path_of(path)}"
    said = response.error_message or _reason(response.status)
    code = response.error_code
    message = f"Graph refused {where}: {response.status} {code + ': ' if code else ''}{said}"
    if response.status in (401, 403):
        permission = permission_for(method, path, body)
        if permission is not None:
            message += (
                f". The app or user needs the Microsoft Graph permission {permission} "
                "(with admin consent); see docs/graph.md"
            )
        elif response.status == 401:
            message += ". The sign-in was not accepted; see docs/graph.md"
    elif response.status in RETRY_STATUSES:
        message += " (still failing after retries)"
    return GraphError(message, status=response.status, code=code)


def _reason(status: int) -> str:
    try:
        return httpx.codes(status).phrase
    except ValueError:
        return "error"


def _path_of(url: str) -> str:
    return url.split("?", 1)[0]


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in headers.items()}


def _json(raw: httpx.Response) -> Any:
    if not raw.content:
        return None
    try:
        # msgspec: a large tenant is read a thousand objects a page, thousands of pages
        return msgspec.json.decode(raw.content)
    except ValueError:
        return {"error": {"message": raw.text[:200]}}


def _batch_answers(body: Any) -> dict[str, GraphResponse]:
    answers = {}
    responses = body.get("responses") if isinstance(body, dict) else None
    # an item whose answer is missing or malformed is reported as unanswered, not a crash
    for answer in responses if isinstance(responses, list) else ():
        status = answer.get("status", 500) if isinstance(answer, dict) else None
        if isinstance(status, int):
            headers = answer.get("headers")
            headers = _lower(headers if isinstance(headers, dict) else {})
            answers[str(answer.get("id"))] = GraphResponse(status, headers, answer.get("body"))
    return answers


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date (RFC 9110);
    None, for the usual backoff, when it is neither. RetryPolicy caps what it asks for."""
    if not value:
        return None
    text = value.strip()
    if _DELAY_SECONDS.fullmatch(text):
        return float(text)  # a huge number is inf, which the cap turns into the longest wait
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None  # "soon", "-5", "NaN", a date outside the calendar
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are in GMT, whatever they say
    return max(0.0, when.timestamp() - time.time())
