import json

from tests.emulator.conftest import CONTOSO

TENANT = json.loads(CONTOSO.read_text())


def test_filter_users_by_assigned_sku(graph):
    sku = TENANT["subscribedSkus"][0]["skuId"]
    users, _ = graph.all_pages(
        f"/users?$filter=assignedLicenses/any(x:x/skuId eq {sku})&$select=assignedLicenses"
    )
    assert users and all(sku in {a["skuId"] for a in u["assignedLicenses"]} for u in users)
    everyone, _ = graph.all_pages("/users?$top=999&$select=assignedLicenses")
    expected = [u for u in everyone if sku in {a["skuId"] for a in u["assignedLicenses"]}]
    assert len(users) == len(expected)


def test_filter_dynamic_groups_and_by_display_name(graph):
    dynamic = graph.get("/groups?$filter=groupTypes/any(c:c eq 'DynamicMembership')").body
    expected = [g for g in TENANT["groups"] if "DynamicMembership" in g["groupTypes"]]
    assert len(dynamic["value"]) == len(expected)
    (group,) = graph.get("/groups?$filter=displayName eq 'lic-powerbi-pro'").body["value"]
    assert group["displayName"] == "LIC-PowerBI-Pro"


def test_filter_by_id_in_startswith_and_and(graph):
    ids = [u["id"] for u in TENANT["users"][:3]]
    listed = ",".join(f"'{i}'" for i in ids)
    found = graph.get(f"/users?$filter=id in ({listed})").body["value"]
    assert sorted(u["id"] for u in found) == sorted(ids)
    found = graph.get("/users?$filter=startsWith(displayName,'a') and accountEnabled eq true")
    assert found.status == 200 and found.body["value"]


def test_has_members_with_license_errors_filter_is_served(graph):
    answer = graph.get("/groups?$filter=hasMembersWithLicenseErrors eq true&$select=id")
    assert answer.status == 200


def test_unsupported_filters_are_400_with_graphs_code(graph):
    answer = graph.get("/users?$filter=favouriteColour eq 'blue'")
    assert answer.status == 400
    assert answer.body["error"]["code"] == "Request_UnsupportedQuery"
    assert graph.get("/users?$filter=department ne 'Sales'").status == 400
    assert graph.get("/users?$filter=displayName eq").status == 400


def test_ne_works_with_advanced_query_parameters(graph):
    answer = graph.get(
        "/users?$filter=department ne 'Sales'&$count=true&$top=999",
        headers={"ConsistencyLevel": "eventual"},
    )
    expected = [u for u in TENANT["users"] if (u.get("department") or "").lower() != "sales"]
    assert answer.status == 200 and answer.body["@odata.count"] == len(expected)


def test_count_segment_needs_consistency_level(graph):
    assert graph.get("/users/$count").status == 400
    answer = graph.get("/users/$count", headers={"ConsistencyLevel": "eventual"})
    assert answer.body == str(len(TENANT["users"]))
