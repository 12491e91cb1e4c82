"""The Graph side of rule verification over loopback HTTP: temporary groups made, watched
through beta's membershipRuleProcessingStatus, read, and deleted; against the emulator, and
against a scripted server for answers the emulator doesn't give (403, Failed, a null status)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from reconciler.emulator import running
from reconciler.plan.planning import plan_now
from reconciler.policy import load_policy
from reconciler.providers.base import ProviderError
from reconciler.providers.graph import GraphTenant
from reconciler.providers.graph_http import GraphClient, GraphError
from reconciler.providers.graph_verify import GraphRuleProbes, beta_url
from reconciler.verify import PREFIX, RuleEdit, RuleEvaluationFailed, rule_edits, verify_rules
from reconciler.verify_probes import Probe, probe_group
from tests.providers.conftest import ROOT
from tests.providers.graph_support import FAST, SECRET

SALES = 'user.department -eq "Sales"'
THROTTLED = "429:every=3,retry-after=0.01;503:every=7;seed=3"


def _provider(url: str) -> GraphTenant:
    return GraphTenant(url, token=lambda: SECRET, retry=FAST)


def _group(name: str, rule: str = SALES) -> dict[str, Any]:
    return probe_group(Probe(name, "LIC-Sales"), "group-id", rule, datetime.now(UTC))


def _left(emulator) -> list[str]:
    names = [g.displayName for g in emulator.tenant.read().groups]
    return [name for name in names if name.startswith(PREFIX)]


def test_beta_url_is_beside_v1():
    assert beta_url("https://graph.microsoft.com/v1.0") == "https://graph.microsoft.com/beta"
    assert beta_url("http://127.0.0.1:8080/v1.0/") == "http://127.0.0.1:8080/beta"
    assert beta_url("https://graph.microsoft.us/V1.0") == "https://graph.microsoft.us/beta"


@pytest.mark.parametrize("faults", [None, THROTTLED], ids=["clean", "throttled"])
def test_a_probe_is_made_evaluated_read_and_deleted(tenant_file, faults):
    with running(str(tenant_file), faults=faults, rule_reads=2) as emulator:
        with _provider(emulator.url) as provider:
            probes = provider.rule_probes
            group_id = probes.create_probe(_group(f"{PREFIX}sales-1"))
            statuses = [probes.probe_status(group_id).status for _ in range(3)]
            members = probes.probe_members(group_id)
            probes.delete_probe(group_id)
            probes.delete_probe(group_id)  # already gone counts as deleted
        tenant = emulator.tenant.read()
        if faults is not None:
            assert emulator.faults_injected().get("429")
    assert statuses == ["NotStarted", "Running", "Succeeded"]
    sales = {u.id for u in tenant.users if u.attributes.get("department") == "Sales"}
    assert {m.id for m in members} == sales
    assert all(m.userPrincipalName.endswith("@contoso.com") for m in members)
    assert not [g for g in tenant.groups if g.displayName.startswith(PREFIX)]


def test_a_probe_lagging_after_creation_is_waited_for(tenant_file):
    with running(str(tenant_file), faults="lag:requests=2", rule_reads=1) as emulator:
        with _provider(emulator.url) as provider:
            probes = provider.rule_probes
            group_id = probes.create_probe(_group(f"{PREFIX}lag"))
            # the first two requests naming it are 404: taken for replication, NotStarted
            assert [probes.probe_status(group_id).status for _ in range(4)] == [
                "NotStarted",
                "NotStarted",
                "NotStarted",  # known now, and not evaluated yet (rule_reads=1)
                "Succeeded",
            ]
            probes.delete_probe(group_id)
        assert emulator.faults_injected()["lag"] == 2
        assert _left(emulator) == []


def test_verify_rules_through_graph_finds_a_disagreement_and_cleans_up(tenant_file):
    faults = "disagree:leave-out=1,put-in=2;429:every=4,retry-after=0.01"
    with running(str(tenant_file), faults=faults, rule_reads=3) as emulator:
        with _provider(emulator.url) as provider:
            tenant = provider.read()
            group = next(g for g in tenant.groups if g.is_dynamic and g.assignedLicenses)
            edit = RuleEdit(group.id, group.displayName, SALES, group.membershipRule)
            (verdict,) = verify_rules([edit], tenant, provider.rule_probes, poll=0.01)
        assert _left(emulator) == []
    assert (len(verdict.onlyEntra), len(verdict.onlyPredicted)) == (2, 1)
    assert verdict.probe.deleted and verdict.probe.id


def test_the_demo_plans_rule_edit_is_found(tenant_file):
    with running(str(tenant_file)) as emulator, _provider(emulator.url) as provider:
        tenant = provider.read()
        plan = plan_now(load_policy(ROOT / "policies"), tenant)
    edits = rule_edits(plan.changes, tenant)
    assert [edit.displayName for edit in edits] == ["LIC-M365-E5-Sales"]
    assert "user.country" in edits[0].membershipRule


@pytest.mark.parametrize("fault", ["drop-after:times=1", "504-after:times=1"])
def test_a_creation_whose_answer_is_lost_is_found_by_name_not_sent_again(tenant_file, fault):
    with running(str(tenant_file), faults=fault) as emulator:
        with _provider(emulator.url) as provider:
            probes = provider.rule_probes
            group_id = probes.create_probe(_group(f"{PREFIX}lost"))
            assert probes.find_probes(f"{PREFIX}lost") == [group_id]
            probes.delete_probe(group_id)
        assert emulator.counts()["POST /groups"] == 1
        assert _left(emulator) == []


def test_members_are_paged_through_the_client(tenant_file):
    with running(str(tenant_file)) as emulator:
        with _provider(emulator.url) as provider:
            probes = provider.rule_probes
            probes.page_size = 2
            group_id = probes.create_probe(_group(f"{PREFIX}pages"))
            members = probes.probe_members(group_id)
            probes.delete_probe(group_id)
        tenant = emulator.tenant.read()
        pages = emulator.counts()["GET /groups/{id}/members"]
    sales = {u.id for u in tenant.users if u.attributes.get("department") == "Sales"}
    assert {m.id for m in members} == sales and pages >= len(sales) // 2


def test_rule_probes_are_one_instance_per_tenant(tenant_file):
    with running(str(tenant_file)) as emulator, _provider(emulator.url) as provider:
        assert provider.rule_probes is provider.rule_probes


# --- against a scripted server ------------------------------------------------------------

DENIED = (403, {"error": {"code": "Authorization_RequestDenied", "message": "Insufficient"}})


class Script:
    """What the server answers, per "METHOD /path" (beta paths keep /beta), in turn."""

    def __init__(self) -> None:
        self.answers: dict[str, list[tuple[int, Any]]] = {}
        self.seen: list[str] = []

    def on(self, key: str, *answers: tuple[int, Any]) -> None:
        self.answers.setdefault(key, []).extend(answers)

    def next(self, key: str) -> tuple[int, Any]:
        queue = self.answers.get(key) or [(404, {"error": {"code": "NotFound", "message": "?"}})]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@pytest.fixture
def scripted() -> Iterator[tuple[GraphRuleProbes, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _serve(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = f"{self.command} {self.path.split('?', 1)[0].removeprefix('/v1.0')}"
            script.seen.append(f"{self.command} {self.path}")
            status, payload = script.next(key)
            data = json.dumps(payload).encode() if payload is not None else b""
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_DELETE = _serve

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    client = GraphClient(f"{base}/v1.0", lambda: SECRET, retry=FAST)
    beta = GraphClient(f"{base}/beta", lambda: SECRET, retry=FAST)
    try:
        yield GraphRuleProbes(client, beta, replication_timeout=0.3), script
    finally:
        client.close()
        beta.close()
        server.shutdown()
        server.server_close()


def _status(status: Any) -> tuple[int, Any]:
    return 200, {"id": "g1", "membershipRuleProcessingStatus": status}


def test_a_403_on_the_beta_status_names_beta_and_the_permission(scripted):
    probes, script = scripted
    script.on("GET /beta/groups/g1", DENIED)
    with pytest.raises(GraphError) as caught:
        probes.probe_status("g1")
    message = str(caught.value)
    assert "GET /beta/groups/g1" in message and "GroupMember.Read.All" in message


def test_a_403_on_delete_names_the_permission(scripted):
    probes, script = scripted
    script.on("DELETE /groups/g1", DENIED)
    with pytest.raises(GraphError, match=r"DELETE /groups/g1: 403 .*Group\.ReadWrite\.All"):
        probes.delete_probe("g1")


def test_a_403_on_the_second_page_of_members_names_the_permission(scripted):
    probes, script = scripted
    next_link = f"{probes.client.base_url}/groups/g1/members?$skiptoken=2"
    first = {"value": [{"id": "u1", "userPrincipalName": "a@x"}], "@odata.nextLink": next_link}
    script.on("GET /groups/g1/members", (200, first), DENIED)
    with pytest.raises(GraphError, match=r"403 .*GroupMember\.Read\.All"):
        probes.probe_members("g1")


def test_failed_from_graph_fails_the_check_with_its_message_and_deletes_the_group(scripted):
    probes, script = scripted
    script.on("POST /groups", (201, {"id": "g1"}))
    failed = {"status": "Failed", "errorMessage": "The rule is too complex"}
    script.on("GET /beta/groups/g1", _status({"status": "Running"}), _status(failed))
    script.on("DELETE /groups/g1", (204, None))
    tenant = _tiny_tenant()
    edit = RuleEdit("lic", "LIC", SALES, None)
    with pytest.raises(RuleEvaluationFailed, match="The rule is too complex"):
        verify_rules([edit], tenant, probes, poll=0.01)
    assert script.seen[-1] == "DELETE /v1.0/groups/g1"


def test_unknown_future_value_is_an_error_not_a_wait(scripted):
    probes, script = scripted
    script.on("GET /beta/groups/g1", _status({"status": "UnknownFutureValue"}))
    with pytest.raises(ProviderError, match="UnknownFutureValue: a status newer"):
        probes.probe_status("g1")


def test_a_null_status_is_not_started_within_the_replication_window_then_an_error(scripted):
    probes, script = scripted
    script.on("GET /beta/groups/g1", _status(None))
    clock = [0.0]
    probes._clock = lambda: clock[0]
    assert probes.probe_status("g1").status == "NotStarted"
    clock[0] = 1.0  # past the 0.3 s window
    with pytest.raises(ProviderError, match="gave no membershipRuleProcessingStatus"):
        probes.probe_status("g1")


def test_a_404_for_a_group_never_seen_is_not_started_only_within_the_window(scripted):
    probes, _ = scripted
    clock = [0.0]
    probes._clock = lambda: clock[0]
    assert probes.probe_status("g1").status == "NotStarted"
    clock[0] = 1.0
    with pytest.raises(ProviderError, match="still doesn't know the temporary group g1"):
        probes.probe_status("g1")


def test_a_delete_404_for_a_group_never_seen_is_confirmed_by_a_lookup(scripted):
    probes, script = scripted
    # Graph still lists it: the 404 is a replica behind; asked again, then deleted
    script.on("DELETE /groups/g1", (404, None), (204, None))
    script.on("GET /groups", (200, {"value": [{"id": "g1"}]}))
    probes.delete_probe("g1")
    assert [s.split("?")[0] for s in script.seen] == [
        "DELETE /v1.0/groups/g1",
        "GET /v1.0/groups",
        "DELETE /v1.0/groups/g1",
    ]


def test_a_delete_404_for_a_group_still_listed_past_the_window_is_an_error(scripted):
    probes, script = scripted
    script.on("DELETE /groups/g1", (404, None))
    script.on("GET /groups", (200, {"value": [{"id": "g1"}]}))
    with pytest.raises(GraphError, match="answers 404 though Graph still lists the group"):
        probes.delete_probe("g1")


def test_a_lost_creation_not_found_within_the_window_is_not_sent_again(scripted):
    probes, script = scripted
    script.on("POST /groups", (504, None))
    script.on("GET /groups", (200, {"value": []}))
    with pytest.raises(GraphError, match=r"no group named .* appeared within 0\.3 s"):
        probes.create_probe(_group(f"{PREFIX}gone"))
    assert sum(s.startswith("POST") for s in script.seen) == 1
    assert sum(s.startswith("GET /v1.0/groups?") for s in script.seen) >= 2  # polled


def _tiny_tenant():
    from reconciler.model import Organization, Tenant
    from tests.builders import user

    return Tenant(Organization("org", "Contoso"), users=(user("ana", "Sales"),), groups=())


def test_find_probes_returns_every_group_of_the_name(tenant_file):
    with running(str(tenant_file)) as emulator, _provider(emulator.url) as provider:
        probes = provider.rule_probes
        made = {probes.create_probe(_group(f"{PREFIX}twin")) for _ in range(2)}
        assert set(probes.find_probes(f"{PREFIX}twin")) == made and len(made) == 2
        for group_id in made:
            probes.delete_probe(group_id)
        assert _left(emulator) == []
