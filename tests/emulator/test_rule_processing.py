"""A new dynamic group as Entra shows it: unprocessed for a while (beta
membershipRuleProcessingStatus, no members), then its rule's members; and `disagree` faults."""

from __future__ import annotations

import shutil

import pytest

from reconciler.emulator import running
from reconciler.emulator.faults import parse
from reconciler.errors import InputError
from tests.emulator.conftest import Client

SALES = 'user.department -eq "Sales"'


def _dynamic(name: str, rule: str = SALES) -> dict:
    return {
        "displayName": name,
        "mailNickname": name,
        "mailEnabled": False,
        "securityEnabled": True,
        "groupTypes": ["DynamicMembership"],
        "membershipRule": rule,
        "membershipRuleProcessingState": "On",
    }


@pytest.fixture
def slow_rules(contoso_db, tmp_path):
    shutil.copy(contoso_db, tmp_path / "tenant.db")
    with running(f"local:{tmp_path / 'tenant.db'}", rule_reads=2) as emulator:
        yield emulator


def _beta(emulator, path: str) -> str:
    return emulator.url.replace("/v1.0", "/beta") + path


def _upns(graph: Client, group_id: str) -> list[str]:
    items, _ = graph.all_pages(f"/groups/{group_id}/members?$select=id,userPrincipalName")
    return sorted(item["userPrincipalName"] for item in items)


def _sales(emulator) -> list[str]:
    tenant = emulator.tenant.read()
    return sorted(
        u.userPrincipalName for u in tenant.users if u.attributes.get("department") == "Sales"
    )


def test_a_new_dynamic_group_reads_unprocessed_then_has_its_rules_members(slow_rules):
    graph = Client(slow_rules)
    created = graph("POST", "/groups", _dynamic("probe"))
    assert created.status == 201
    status_url = _beta(slow_rules, f"/groups/{created.body['id']}")
    status_url += "?$select=id,membershipRuleProcessingStatus"
    seen = []
    for _ in range(3):
        answer = graph.get(status_url)
        assert answer.status == 200, answer.body
        seen.append(answer.body["membershipRuleProcessingStatus"]["status"])
    assert seen == ["NotStarted", "Running", "Succeeded"]
    assert answer.body["membershipRuleProcessingStatus"]["lastMembershipUpdated"]
    assert _upns(graph, created.body["id"]) == _sales(slow_rules) != []
    assert slow_rules.counts()["GET /beta/groups/{id}"] == 3


def test_members_read_before_processing_are_none(slow_rules):
    graph = Client(slow_rules)
    group_id = graph("POST", "/groups", _dynamic("probe")).body["id"]
    assert _upns(graph, group_id) == []
    assert _upns(graph, group_id) == []
    assert _upns(graph, group_id) == _sales(slow_rules)


def test_the_status_is_beta_only_and_beta_serves_nothing_else(slow_rules):
    graph = Client(slow_rules)
    group_id = graph("POST", "/groups", _dynamic("probe")).body["id"]
    on_v1 = graph.get(f"/groups/{group_id}?$select=membershipRuleProcessingStatus")
    assert on_v1.status == 400 and "Could not find a property" in on_v1.body["error"]["message"]
    assert graph.get(_beta(slow_rules, "/users")).status == 400


def test_a_static_group_has_no_processing_status(emulator, graph):
    group = next(g for g in emulator.tenant.read().groups if not g.is_dynamic)
    answer = graph.get(
        _beta(emulator, f"/groups/{group.id}?$select=membershipRuleProcessingStatus")
    )
    assert answer.status == 200 and answer.body["membershipRuleProcessingStatus"] is None


def test_disagree_leaves_out_and_puts_in_users(contoso_db, tmp_path):
    shutil.copy(contoso_db, tmp_path / "tenant.db")
    source = f"local:{tmp_path / 'tenant.db'}"
    with running(source, faults="disagree:leave-out=2,put-in=1,times=1") as emulator:
        graph = Client(emulator)
        first = graph("POST", "/groups", _dynamic("first")).body["id"]
        second = graph("POST", "/groups", _dynamic("second")).body["id"]
        sales = _sales(emulator)
        shown = _upns(graph, first)
        assert len(shown) == len(sales) - 2 + 1
        assert set(sales) - set(shown) == set(sales[:2])  # the first two by name left out
        (extra,) = set(shown) - set(sales)
        assert _upns(graph, second) == sales  # times=1: the second group is left alone
        assert emulator.faults_injected() == {"disagree": 1}
        # the tenant itself is as the rule says: nothing else sees the disagreement
        stored = next(g for g in emulator.tenant.read().groups if g.id == first)
        assert len(stored.members) == len(sales)
        assert graph("DELETE", f"/groups/{first}").status == 204
    assert extra.endswith("@contoso.com")


def test_disagree_options_are_checked():
    clauses, _ = parse("disagree:put-in=3")
    assert (clauses[0].leave_out, clauses[0].put_in) == (None, 3)
    with pytest.raises(InputError, match="takes no option 'put-in'"):
        parse("429:put-in=1")
    with pytest.raises(InputError, match="unknown option"):
        parse("disagree:drop=1")
