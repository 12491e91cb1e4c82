import http.client
import shutil
import time
import urllib.error

import pytest

from reconciler.emulator import running
from reconciler.emulator.faults import Faults
from reconciler.errors import InputError
from tests.emulator.conftest import CONTOSO, Client, by_name


def _statuses(spec, requests=30):
    with running(str(CONTOSO), faults=spec) as emulator:
        graph = Client(emulator)
        statuses = []
        for _ in range(requests):
            try:
                statuses.append(graph.get("/organization").status)
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError):
                statuses.append("dropped")
        return statuses, emulator.counts(), emulator.faults_injected()


def test_faults_are_reproducible_from_the_seed():
    spec = "429:rate=0.2,retry-after=0.1;503:rate=0.1;seed=7"
    first, counts, injected = _statuses(spec)
    second, _, _ = _statuses(spec)
    assert first == second
    assert {429, 503} <= set(first) and 200 in first
    assert counts["GET /organization"] == 30  # faulted requests are counted too
    assert injected["429"] == first.count(429)
    other, _, _ = _statuses("429:rate=0.2,retry-after=0.1;503:rate=0.1;seed=8")
    assert other != first


def test_every_nth_request_is_throttled_with_a_fractional_retry_after():
    with running(str(CONTOSO), faults="429:every=2,retry-after=0.2") as emulator:
        graph = Client(emulator)
        answers = [graph.get("/organization") for _ in range(4)]
    assert [a.status for a in answers] == [200, 429, 200, 429]
    assert answers[1].headers["retry-after"] == "0.2"
    assert answers[1].body["error"]["code"] == "TooManyRequests"


def test_dropped_connections_close_without_an_answer():
    statuses, _, injected = _statuses("drop:every=3", requests=6)
    assert statuses == [200, 200, "dropped", 200, 200, "dropped"]
    assert injected == {"drop": 2}


def test_slow_answers_wait():
    import time

    with running(str(CONTOSO), faults="slow:ms=150") as emulator:
        start = time.monotonic()
        Client(emulator).get("/organization")
        assert time.monotonic() - start >= 0.15


@pytest.mark.parametrize("spec", ["418:every=2", "429:every=0", "429:rate=2", "drop:often=1"])
def test_a_bad_fault_spec_is_an_input_error(spec):
    with pytest.raises(InputError):
        Faults(spec)


def _description(emulator, group_id):
    """The group's description as the tenant holds it, not as an answer said."""
    return next(g for g in emulator.tenant.read().groups if g.id == group_id).description


@pytest.mark.parametrize("kind", ["504-after", "drop-after"])
def test_a_write_faulted_after_it_was_handled_changes_the_tenant_but_loses_the_answer(
    contoso_db, tmp_path, kind
):
    shutil.copy(contoso_db, tmp_path / "tenant.db")
    with running(f"local:{tmp_path / 'tenant.db'}", faults=f"{kind}:after=1,times=1") as emulator:
        graph = Client(emulator)
        group = by_name(graph, "Finance Analysts")  # request 1: left alone
        try:
            answer = graph("PATCH", f"/groups/{group['id']}", {"description": "made"})
            assert answer.status == 504 and answer.body["error"]["code"] == "GatewayTimeout"
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError):
            assert kind == "drop-after"
        assert _description(emulator, group["id"]) == "made"
        assert emulator.faults_injected() == {kind: 1}


def test_a_504_before_the_write_leaves_the_tenant_alone(contoso_db, tmp_path):
    shutil.copy(contoso_db, tmp_path / "tenant.db")
    with running(f"local:{tmp_path / 'tenant.db'}", faults="504:after=1,times=1") as emulator:
        graph = Client(emulator)
        group = by_name(graph, "Finance Analysts")
        answer = graph("PATCH", f"/groups/{group['id']}", {"description": "made"})
        assert answer.status == 504
        assert _description(emulator, group["id"]) == group["description"]


def test_batch_items_faulted_after_they_ran_changed_the_tenant(contoso_db, tmp_path):
    shutil.copy(contoso_db, tmp_path / "tenant.db")
    with running(f"local:{tmp_path / 'tenant.db'}", faults="504-after:after=2") as emulator:
        graph = Client(emulator)
        group = by_name(graph, "Finance Analysts")
        item = {
            "id": "1",
            "method": "PATCH",
            "url": f"/groups/{group['id']}",
            "body": {"description": "in a batch"},
            "headers": {"Content-Type": "application/json"},
        }
        answer = graph("POST", "/$batch", {"requests": [item]})  # request 2, its item 3
        assert answer.status == 200
        assert answer.body["responses"][0]["status"] == 504
        assert _description(emulator, group["id"]) == "in a batch"


def _create(graph, name):
    body = {"displayName": name, "mailEnabled": False, "mailNickname": name.lower()}
    created = graph("POST", "/groups", {**body, "securityEnabled": True})
    assert created.status == 201, created.body
    return created.body["id"]


def test_a_lagging_new_group_is_unknown_to_its_first_requests_then_known():
    with running(str(CONTOSO), faults="lag:requests=2") as emulator:
        graph = Client(emulator)
        old = by_name(graph, "Finance Analysts")
        group_id = _create(graph, "LIC-Lagging")
        user = graph.get("/users?$top=1").body["value"][0]
        reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}
        bind = graph("POST", f"/groups/{group_id}/members/$ref", reference)
        assert bind.status == 400 and bind.body["error"]["code"] == "Request_BadRequest"
        assert "objects being referenced don't exist" in bind.body["error"]["message"]
        missing = graph.get(f"/groups/{group_id}")
        assert missing.status == 404
        assert missing.body["error"]["code"] == "Request_ResourceNotFound"
        # lists see it at once; a group made before never lags
        assert by_name(graph, "LIC-Lagging")["id"] == group_id
        assert graph.get(f"/groups/{old['id']}").status == 200
        assert graph.get(f"/groups/{group_id}").status == 200
        assert graph("POST", f"/groups/{group_id}/members/$ref", reference).status == 204
        assert emulator.faults_injected() == {"lag": 2}


def test_a_group_lags_for_the_time_the_fault_gives():
    with running(str(CONTOSO), faults="lag:ms=400") as emulator:
        graph = Client(emulator)
        group_id = _create(graph, "LIC-Lagging")
        made = time.monotonic()  # the lag started before this
        statuses = []
        while time.monotonic() - made < 0.2:
            statuses.append(graph.get(f"/groups/{group_id}").status)
        assert statuses and set(statuses) == {404}
        time.sleep(max(0.0, 0.45 - (time.monotonic() - made)))
        assert graph.get(f"/groups/{group_id}").status == 200


def test_license_processing_can_be_made_to_fail_until_the_next_processing():
    with running(str(CONTOSO), faults="license-failed:times=1") as emulator:
        graph = Client(emulator)
        group = by_name(graph, "LIC-PowerBI-Pro")
        url = f"/groups/{group['id']}"
        licenses = graph.get(f"{url}?$select=assignedLicenses").body["assignedLicenses"]
        body = {"addLicenses": licenses, "removeLicenses": []}

        def states():
            read = f"{url}?$select=licenseProcessingState"
            return [graph.get(read).body["licenseProcessingState"]["state"] for _ in range(4)]

        assert graph("POST", f"{url}/assignLicense", body).status == 202
        failed = states()
        assert graph("POST", f"{url}/assignLicense", body).status == 202
        again = states()
        assert emulator.faults_injected() == {"license-failed": 1}
    assert failed == [
        "QueuedForProcessing",
        "ProcessingInProgress",
        "ProcessingFailed",
        "ProcessingFailed",
    ]
    assert again[-1] == "ProcessingComplete"


@pytest.mark.parametrize(
    "spec", ["lag:retry-after=1", "429:requests=2", "drop-after:ms=5", "504-after:times=-1"]
)
def test_an_option_a_fault_does_not_take_is_an_input_error(spec):
    with pytest.raises(InputError):
        Faults(spec)
