"""The Graph client's retries, batching and errors, against a scripted HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.providers.graph import GraphTenant
from reconciler.providers.graph_http import (
    BatchItem,
    GraphClient,
    GraphError,
    RetryPolicy,
    _retry_after,
    permission_for,
)

SECRET = "eyJ0eXAiOi-very-secret-token"
FAST = RetryPolicy(attempts=4, base=0.01, cap=0.05)

# one scripted answer: (status, headers, body) or "drop" (close the connection unanswered)
Answer = tuple[int, dict[str, str], Any] | str


class Script:
    """What the server answers, per "METHOD /path", in turn; it records what it was asked."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.seen: list[tuple[str, str, dict[str, str], Any]] = []

    def on(self, key: str, *answers: Answer) -> None:
        self.answers.setdefault(key, []).extend(answers)

    def next(self, key: str) -> Answer:
        queue = self.answers.get(key) or []
        if len(queue) > 1:
            return queue.pop(0)
        return queue[0] if queue else (404, {}, {"error": {"code": "NotFound", "message": "?"}})


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            path = self.path.split("?", 1)[0].removeprefix("/v1.0")
            key = f"{self.command} {path}"
            script.seen.append((self.command, self.path, dict(self.headers), body))
            answer = script.next(key)
            if answer == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return
            status, headers, payload = answer  # type: ignore[misc]
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = do_DELETE = _serve

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1.0", script
    finally:
        httpd.shutdown()
        httpd.server_close()


def client(url: str, retry: RetryPolicy = FAST) -> GraphClient:
    return GraphClient(url, lambda: SECRET, retry=retry, timeout=5)


def test_a_429_is_retried_after_its_fractional_retry_after(server):
    url, script = server
    throttled = (429, {"Retry-After": "0.15"}, {"error": {"code": "TooManyRequests"}})
    script.on("GET /users", throttled, throttled, (200, {}, {"value": [{"id": "a"}]}))
    graph = client(url)
    started = time.monotonic()
    assert list(graph.pages("/users?$top=999")) == [{"id": "a"}]
    assert time.monotonic() - started >= 0.3
    assert graph.requests == 3
    assert all(seen[2]["Authorization"] == f"Bearer {SECRET}" for seen in script.seen)


def test_503_and_504_without_retry_after_back_off_and_then_succeed(server):
    url, script = server
    script.on("GET /groups", (503, {}, None), (504, {}, None), (200, {}, {"value": []}))
    graph = client(url)
    assert list(graph.pages("/groups")) == []
    assert graph.requests == 3


def test_backoff_grows_exponentially_with_full_jitter_and_a_cap():
    policy = RetryPolicy(base=1.0, cap=8.0)
    for attempt, ceiling in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (6, 8.0)]:
        delays = [policy.delay(attempt, None) for _ in range(200)]
        assert all(0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jittered over the whole range, not fixed
    assert policy.delay(5, 0.25) == 0.25  # Retry-After wins over the backoff
    assert RetryPolicy(max_retry_after=10).delay(0, 3600) == 10


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert _retry_after("2.128") == pytest.approx(2.128)
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    later = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 < _retry_after(later) <= 31


def test_throttling_that_never_ends_is_an_error_naming_the_request(server):
    url, script = server
    script.on("GET /users", (429, {"Retry-After": "0"}, {"error": {"code": "TooManyRequests"}}))
    with pytest.raises(GraphError) as caught:
        list(client(url).pages("/users"))
    message = str(caught.value)
    assert "GET /users" in message and "429" in message and "after retries" in message
    assert len(script.seen) == FAST.attempts + 1


def test_a_403_names_the_missing_permission_and_never_the_token(server):
    url, script = server
    denied = {
        "error": {"code": "Authorization_RequestDenied", "message": "Insufficient privileges"}
    }
    script.on("GET /subscribedSkus", (403, {}, denied))
    with pytest.raises(GraphError) as caught:
        list(client(url).pages("/subscribedSkus"))
    message = str(caught.value)
    assert "LicenseAssignment.Read.All" in message
    assert "Authorization_RequestDenied" in message
    assert SECRET not in message and SECRET not in repr(caught.value)


@pytest.mark.parametrize(
    ("method", "path", "body", "permission"),
    [
        ("GET", "/users?$select=id", None, "User.Read.All"),
        ("GET", "/groups/abc/members?$top=999", None, "GroupMember.Read.All"),
        ("POST", "/groups", {}, "Group.ReadWrite.All"),
        ("PATCH", "/groups/abc", {"description": "x"}, "Group.ReadWrite.All"),
        ("PATCH", "/groups/abc", {"members@odata.bind": []}, "GroupMember.ReadWrite.All"),
        ("DELETE", "/groups/abc/members/def/$ref", None, "GroupMember.ReadWrite.All"),
        ("POST", "/groups/abc/assignLicense", {}, "LicenseAssignment.ReadWrite.All"),
        ("DELETE", "/groups/abc", None, "Group.ReadWrite.All"),
        ("POST", "/users/a@contoso.com/reprocessLicenseAssignment", None, "User.ReadWrite.All"),
        ("GET", "/auditLogs/directoryAudits?$filter=x&$top=999", None, "AuditLog.Read.All"),
    ],
)
def test_every_request_knows_its_least_privileged_permission(method, path, body, permission):
    assert permission_for(method, path, body) == permission


def test_a_dropped_connection_is_retried_for_a_get_but_not_for_a_create(server):
    url, script = server
    script.on("GET /users", "drop", (200, {}, {"value": [{"id": "a"}]}))
    assert list(client(url).pages("/users")) == [{"id": "a"}]
    script.on("POST /groups", "drop", (201, {}, {"id": "g"}))
    with pytest.raises(GraphError, match="POST /groups failed"):
        client(url).send("POST", "/groups", json={}, idempotent=False)
    assert sum(1 for seen in script.seen if seen[0] == "POST") == 1


def test_batch_items_are_retried_alone_with_those_that_waited_on_them(server):
    url, script = server
    first = {
        "responses": [
            {"id": "0", "status": 204, "body": None},
            {"id": "1", "status": 429, "headers": {"Retry-After": "0.1"}, "body": None},
            {"id": "2", "status": 424, "body": None},
        ]
    }
    second = {
        "responses": [
            {"id": "2", "status": 204, "body": None},
            {"id": "1", "status": 204, "body": None},
        ]
    }
    script.on("POST /$batch", (200, {}, first), (200, {}, second))
    items = [
        BatchItem("0", "DELETE", "/groups/g/members/a/$ref"),
        BatchItem("1", "DELETE", "/groups/g/members/b/$ref", depends_on=("0",)),
        BatchItem("2", "DELETE", "/groups/g/members/c/$ref", depends_on=("1",)),
    ]
    answers = client(url).batch(items)
    assert {key: answer.status for key, answer in answers.items()} == {"0": 204, "1": 204, "2": 204}
    sent = [seen[3]["requests"] for seen in script.seen]
    assert [r["id"] for r in sent[1]] == ["1", "2"]
    assert "dependsOn" not in sent[1][0]  # item 0 is done, so no longer depended on
    assert sent[1][1]["dependsOn"] == ["1"]


def test_batch_pages_follow_each_collections_next_link(server):
    url, script = server
    page_1 = {
        "responses": [
            {
                "id": "0",
                "status": 200,
                "body": {
                    "value": [{"id": "m1"}],
                    "@odata.nextLink": f"{url}/groups/a/members?$skiptoken=x",
                },
            },
            {"id": "1", "status": 200, "body": {"value": [{"id": "m3"}]}},
        ]
    }
    page_2 = {"responses": [{"id": "0", "status": 200, "body": {"value": [{"id": "m2"}]}}]}
    script.on("POST /$batch", (200, {}, page_1), (200, {}, page_2))
    found = client(url).batch_pages({"a": "/groups/a/members", "b": "/groups/b/members"})
    assert found == {"a": [{"id": "m1"}, {"id": "m2"}], "b": [{"id": "m3"}]}
    assert script.seen[1][3]["requests"][0]["url"] == "/groups/a/members?$skiptoken=x"


def test_a_gateway_error_on_a_create_is_not_sent_again(server):
    # a 504 may come after Graph made the group: sending it again would make a second one
    url, script = server
    script.on("POST /groups", (504, {}, None), (201, {}, {"id": "g"}))
    answer = client(url).send("POST", "/groups", json={}, idempotent=False)
    assert answer.status == 504
    assert sum(1 for seen in script.seen if seen[0] == "POST") == 1


def test_a_batch_item_with_a_gateway_error_is_sent_again_only_when_safe(server):
    # a 504 may come after the item was carried out: only what may be repeated is repeated
    url, script = server
    lost = {"responses": [{"id": "0", "status": 504, "body": None}]}
    done = {"responses": [{"id": "0", "status": 204, "body": None}]}
    script.on("POST /$batch", (200, {}, lost), (200, {}, lost), (200, {}, done))
    item = BatchItem("0", "POST", "/groups/g/members/$ref", {"@odata.id": "x"})
    assert client(url).batch([item])["0"].status == 504
    assert client(url).batch([item], idempotent=True)["0"].status == 204
    assert len(script.seen) == 3


def test_a_batch_the_caller_calls_idempotent_is_sent_again_after_a_lost_answer(server):
    url, script = server
    done = {"responses": [{"id": "0", "status": 204, "body": None}]}
    script.on("POST /$batch", "drop", (200, {}, done), "drop", (200, {}, done))
    item = BatchItem("0", "POST", "/users/u/reprocessLicenseAssignment")
    with pytest.raises(GraphError, match="POST /\\$batch failed"):
        client(url).batch([item])
    assert client(url).batch([item], idempotent=True)["0"].status == 204


def test_a_throttled_create_is_sent_again(server):
    url, script = server
    script.on("POST /groups", (429, {"Retry-After": "0.01"}, None), (201, {}, {"id": "g"}))
    assert client(url).send("POST", "/groups", json={}, idempotent=False).status == 201


def test_a_next_link_to_another_host_is_not_followed_with_the_token(server):
    url, script = server
    elsewhere = "http://198.51.100.7/v1.0/users?$skiptoken=x"
    script.on("GET /users", (200, {}, {"value": [{"id": "a"}], "@odata.nextLink": elsewhere}))
    with pytest.raises(GraphError, match="link outside"):
        list(client(url).pages("/users"))


def test_a_user_property_this_graph_lacks_is_left_out_and_the_read_goes_on(server):
    url, script = server
    unknown = {
        "error": {
            "code": "Request_BadRequest",
            "message": "Could not find a property named 'faxNumber' on type "
            "'microsoft.graph.user'.",
        }
    }
    organization = {"id": "6762b34f-4e26-4a8e-a032-35a1e58e1b1c", "displayName": "Contoso"}
    script.on("GET /organization", (200, {}, {"value": [organization]}))
    script.on("GET /subscribedSkus", (200, {}, {"value": []}))
    script.on("GET /groups", (200, {}, {"value": []}))
    user = {"id": "2f0e6a5c-1111-4a8e-a032-35a1e58e1b1c", "userPrincipalName": "ana@contoso.com"}
    script.on("GET /users", (400, {}, unknown), (200, {}, {"value": [user]}))
    provider = GraphTenant(url, token=lambda: SECRET, retry=FAST)
    tenant = provider.read()
    assert [u.userPrincipalName for u in tenant.users] == ["ana@contoso.com"]
    assert provider.unknown == {"faxNumber"}
    selects = [seen[1] for seen in script.seen if seen[1].startswith("/v1.0/users")]
    assert "faxNumber" in selects[0] and "faxNumber" not in selects[1]
