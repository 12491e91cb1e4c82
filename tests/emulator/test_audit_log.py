"""`GET /auditLogs/directoryAudits` on the emulator: who callers are recorded as, the `$filter`
subset, paging, and reconciler's Graph provider reading the log back over loopback HTTP."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest

from reconciler.directory_audit import (
    ADD_MEMBER,
    FINISH_LICENSING,
    SET_GROUP_LICENSE,
    UPDATE_GROUP,
    AuditQuery,
)
from reconciler.emulator import running
from reconciler.emulator.server import Emulator
from reconciler.providers import graph_audit
from reconciler.providers.graph import GraphTenant
from reconciler.providers.graph_audit import audit_filter
from reconciler.providers.graph_auth import EMULATOR_TOKEN
from reconciler.providers.graph_http import GraphError
from tests.emulator.conftest import Client, by_name
from tests.providers.graph_support import FAST, SECRET

AUDITS = "/auditLogs/directoryAudits"


def _audits(graph, filter_text: str | None = None, **kwargs) -> list[dict]:
    path = AUDITS if filter_text is None else f"{AUDITS}?$filter={quote(filter_text)}"
    answer = graph.get(path, **kwargs)
    assert answer.status == 200, answer.body
    return answer.body["value"]


def _describe(graph, group: dict, text: str, token: str) -> None:
    answer = graph("PATCH", f"/groups/{group['id']}", {"description": text}, token=token)
    assert answer.status == 204, answer.body


def test_a_change_with_a_user_token_shows_that_user_as_initiator(graph):
    group = by_name(graph, "Finance Analysts")
    _describe(graph, group, "Changed in the portal", "user:admin@contoso.com")
    (record,) = _audits(graph)
    assert record["activityDisplayName"] == UPDATE_GROUP
    assert record["initiatedBy"]["user"]["userPrincipalName"] == "admin@contoso.com"
    assert record["initiatedBy"]["app"] is None
    assert record["targetResources"][0]["id"] == group["id"]


def test_an_app_token_names_the_app_and_any_other_token_is_reconciler(graph):
    group = by_name(graph, "Finance Analysts")
    _describe(graph, group, "By a script", "app:0f1e2d3c-0000-4000-8000-000000000001:Ops Script")
    _describe(graph, group, "By reconciler", EMULATOR_TOKEN)
    reconciler, script = _audits(graph)
    assert script["initiatedBy"]["app"]["appId"] == "0f1e2d3c-0000-4000-8000-000000000001"
    assert script["initiatedBy"]["app"]["displayName"] == "Ops Script"
    assert reconciler["initiatedBy"]["app"]["displayName"] == "reconciler"
    assert reconciler["initiatedBy"]["user"] is None


def test_the_items_of_a_batch_are_recorded_as_the_batchs_caller(graph):
    group = by_name(graph, "Finance Analysts")
    item = {
        "id": "1",
        "method": "PATCH",
        "url": f"/groups/{group['id']}",
        "body": {"description": "In a batch"},
        "headers": {"Content-Type": "application/json"},
    }
    answer = graph("POST", "/$batch", {"requests": [item]}, token="user:batcher@contoso.com")
    assert answer.body["responses"][0]["status"] == 204
    (record,) = _audits(graph)
    assert record["initiatedBy"]["user"]["userPrincipalName"] == "batcher@contoso.com"


@pytest.fixture(scope="module")
def recorded(contoso_db, tmp_path_factory) -> Iterator[tuple[Emulator, Client, dict]]:
    """An emulator whose log holds a member added to the Power BI group (and its processing),
    then the Finance group described; the tests that only read it share it."""
    path = tmp_path_factory.mktemp("recorded") / "tenant.db"
    shutil.copy(contoso_db, path)
    with running(f"local:{path}", license_reads=0) as emulator:
        graph = Client(emulator)
        yield emulator, graph, _change(graph)


def _change(graph: Client) -> dict:
    power_bi = by_name(graph, "LIC-PowerBI-Pro")
    users = graph.get("/users?$top=999&$select=id").body["value"]
    members = {m["id"] for m in graph.get(f"/groups/{power_bi['id']}/members").body["value"]}
    newcomer = next(u["id"] for u in users if u["id"] not in members)
    reference = {"@odata.id": f"{graph.emulator.url}/directoryObjects/{newcomer}"}
    assert graph("POST", f"/groups/{power_bi['id']}/members/$ref", reference).status == 204
    time.sleep(0.01)  # records keep milliseconds: the second write is the later one
    finance = by_name(graph, "Finance Analysts")
    _describe(graph, finance, "Later", "user:admin@contoso.com")
    return {"power_bi": power_bi["id"], "finance": finance["id"], "newcomer": newcomer}


def test_filters_by_activity_category_target_and_service(recorded):
    _, graph, changed = recorded
    one = _audits(graph, f"activityDisplayName eq '{ADD_MEMBER}'")
    assert [r["activityDisplayName"] for r in one] == [ADD_MEMBER]
    either = _audits(
        graph, f"(activityDisplayName eq '{ADD_MEMBER}' or activityDisplayName eq '{UPDATE_GROUP}')"
    )
    assert [r["activityDisplayName"] for r in either] == [UPDATE_GROUP, ADD_MEMBER]
    users = _audits(graph, "category eq 'UserManagement'")
    assert [r["targetResources"][0]["id"] for r in users] == [changed["newcomer"]]
    targeted = _audits(graph, f"targetResources/any(t: t/id eq '{changed['finance']}')")
    assert [r["activityDisplayName"] for r in targeted] == [UPDATE_GROUP]
    both = _audits(
        graph,
        f"targetResources/any(t: t/id eq '{changed['power_bi']}') and "
        f"targetResources/any(x: x/id eq '{changed['newcomer']}')",
    )
    assert [r["activityDisplayName"] for r in both] == [ADD_MEMBER]
    assert len(_audits(graph, "loggedByService eq 'Core Directory'")) == len(_audits(graph))
    assert _audits(graph, "loggedByService eq 'Self-service Password Management'") == []


def test_filters_by_time_at_or_after_and_at_or_before(recorded):
    graph = recorded[1]
    records = _audits(graph)
    newest, oldest = records[0]["activityDateTime"], records[-1]["activityDateTime"]
    assert newest > oldest
    assert _audits(graph, f"activityDateTime ge {newest}") == records[:1]
    assert _audits(graph, f"activityDateTime le {oldest}") == [
        r for r in records if r["activityDateTime"] == oldest
    ]
    window = _audits(graph, f"activityDateTime ge {oldest} and activityDateTime le {newest}")
    assert window == records


def test_pages_follow_next_links_newest_first(recorded):
    graph = recorded[1]
    everything = _audits(graph)
    assert len(everything) > 3
    paged, pages = graph.all_pages(f"{AUDITS}?$top=2")
    assert paged == everything
    assert pages == -(-len(everything) // 2)
    times = [record["activityDateTime"] for record in everything]
    assert times == sorted(times, reverse=True)


@pytest.mark.parametrize(
    ("filter_text", "code"),
    [
        ("result eq 'success'", "Request_UnsupportedQuery"),
        ("activityDateTime gt 2024-05-01T00:00:00Z", "Request_UnsupportedQuery"),
        ("startswith(activityDisplayName, 'Add')", "BadRequest"),
        ("(category eq 'GroupManagement' or activityDisplayName eq 'Add group')", None),
        ("category eq 'GroupManagement' and", "BadRequest"),
        ("activityDateTime ge 'yesterday'", "BadRequest"),
    ],
)
def test_an_unsupported_filter_is_graphs_400(recorded, filter_text, code):
    graph = recorded[1]
    answer = graph.get(f"{AUDITS}?$filter={quote(filter_text)}")
    assert answer.status == 400
    assert set(answer.body["error"]) >= {"code", "message", "innerError"}
    if code is not None:
        assert answer.body["error"]["code"] == code


def test_the_lowercase_path_of_microsofts_docs_answers_too(recorded):
    graph = recorded[1]
    assert graph.get("/auditLogs/directoryaudits").body["value"] == _audits(graph)


def _provider(url: str) -> GraphTenant:
    return GraphTenant(url, token=lambda: SECRET, retry=FAST)


def test_the_graph_provider_reads_back_what_the_local_tenant_recorded(recorded):
    emulator, graph, changed = recorded
    queries = [
        AuditQuery(),
        AuditQuery(group_ids=(changed["power_bi"],), activities=(ADD_MEMBER, FINISH_LICENSING)),
        AuditQuery(user_ids=(changed["newcomer"],), categories=("UserManagement",)),
    ]
    with _provider(emulator.url) as provider:
        for query in queries:
            read = [r.document() for r in provider.directory_audits(query)]
            kept = [r.document() for r in emulator.tenant.directory_audits(query)]
            assert read == kept and read, query
        every = list(provider.directory_audits(AuditQuery()))
    assert [r.document() for r in every] == _audits(graph)
    (finish,) = [r for r in every if r.activityDisplayName == FINISH_LICENSING]
    assert finish.result_line.startswith("Users successfully assigned licenses: ")


def test_the_provider_sends_one_filter_of_every_part_of_the_query():
    query = AuditQuery(
        group_ids=("g1", "g2"),
        user_ids=("u1",),
        activities=("Set group license",),
        categories=("GroupManagement", "UserManagement"),
    )
    assert audit_filter(query) == (
        "loggedByService eq 'Core Directory' and "
        "(category eq 'GroupManagement' or category eq 'UserManagement') and "
        "activityDisplayName eq 'Set group license' and "
        "(targetResources/any(t: t/id eq 'g1') or targetResources/any(t: t/id eq 'g2')) and "
        "targetResources/any(t: t/id eq 'u1')"
    )
    assert "O''Brien" in audit_filter(AuditQuery(activities=("O'Brien",)))


def test_the_provider_follows_next_links_to_the_last_page(recorded):
    emulator, graph, _ = recorded
    with _provider(emulator.url) as provider:
        emulator.reset_counts()
        every = list(graph_audit.directory_audits(provider.client, AuditQuery(), page_size=2))
        requests = emulator.counts()[f"GET {AUDITS}"]
    assert len(every) == len(_audits(graph))
    assert requests == -(-len(every) // 2)


@contextmanager
def _refusing(status: int) -> Iterator[str]:
    """A loopback Graph that answers every request with Graph's error body at `status`."""

    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps(
                {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient"}}
            ).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1.0"
    finally:
        server.shutdown()
        server.server_close()


def test_a_403_names_the_permission_to_read_the_audit_log_and_never_the_token():
    with _refusing(403) as url, _provider(url) as provider, pytest.raises(GraphError) as raised:
        list(provider.directory_audits(AuditQuery(activities=(SET_GROUP_LICENSE,))))
    message = str(raised.value)
    assert raised.value.status == 403
    assert "GET /auditLogs/directoryAudits" in message
    assert "AuditLog.Read.All" in message
    assert SECRET not in message
