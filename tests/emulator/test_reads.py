import json
import urllib.request

from tests.emulator.conftest import CONTOSO, by_name

CONTOSO_USERS = len(json.loads(CONTOSO.read_text())["users"])


def test_a_request_without_a_bearer_token_is_401_with_graphs_error(graph):
    answer = graph.get("/organization", token=None)
    assert answer.status == 401
    assert answer.body["error"]["code"] == "InvalidAuthenticationToken"
    assert "request-id" in answer.body["error"]["innerError"]


def test_organization_and_subscribed_skus_are_value_arrays(graph):
    organization = graph.get("/organization").body["value"]
    assert organization[0]["displayName"] == "Contoso"
    skus = graph.get("/subscribedSkus").body["value"]
    assert skus and all(sku["id"] == f"{organization[0]['id']}_{sku['skuId']}" for sku in skus)
    assert {"prepaidUnits", "consumedUnits", "servicePlans", "skuPartNumber"} <= set(skus[0])


def test_users_come_in_pages_of_100_by_default_with_absolute_nextlinks(graph, emulator):
    first = graph.get("/users").body
    assert len(first["value"]) == 100
    assert first["@odata.nextLink"].startswith(emulator.url + "/users?")
    assert "$skiptoken=" in first["@odata.nextLink"]
    users, pages = graph.all_pages("/users")
    assert pages == -(-CONTOSO_USERS // 100)
    assert len({user["id"] for user in users}) == CONTOSO_USERS


def test_top_999_reads_the_whole_tenant_in_one_page_per_999_objects(graph, emulator):
    users, pages = graph.all_pages("/users?$top=999")
    assert (len(users), pages) == (CONTOSO_USERS, 1)
    users, pages = graph.all_pages("/users?$top=60")
    assert (len(users), pages) == (CONTOSO_USERS, -(-CONTOSO_USERS // 60))
    assert emulator.counts()["GET /users"] == 1 + pages


def test_top_above_999_and_skip_are_refused_with_400(graph):
    assert graph.get("/users?$top=1000").status == 400
    answer = graph.get("/groups?$skip=10")
    assert answer.status == 400
    assert answer.body["error"]["code"] == "Request_BadRequest"


def test_a_forged_skiptoken_is_refused(graph):
    assert graph.get("/users?$skiptoken=bm9wZQ").status == 400


def test_select_returns_only_the_listed_properties_and_the_id(graph):
    users = graph.get("/users?$top=5&$select=usageLocation,licenseAssignmentStates").body["value"]
    assert all(set(user) == {"id", "usageLocation", "licenseAssignmentStates"} for user in users)
    licensed = [s for user in users for s in user["licenseAssignmentStates"]]
    assert licensed and all(
        state["error"] == "None" for state in licensed if state["state"] == "Active"
    )


def test_users_default_properties_leave_licenses_out(graph):
    user = graph.get("/users?$top=1").body["value"][0]
    assert "userPrincipalName" in user and "assignedLicenses" not in user


def test_select_of_an_unknown_group_property_is_400(graph):
    assert graph.get("/groups?$select=nonsense").status == 400


def test_groups_never_return_has_members_with_license_errors(graph):
    groups = graph.get("/groups?$select=displayName,hasMembersWithLicenseErrors").body["value"]
    assert groups and all("hasMembersWithLicenseErrors" not in group for group in groups)


def test_members_are_paged_and_typed(graph):
    group = by_name(graph, "LIC-EMS-E3-AllStaff")
    members, pages = graph.all_pages(f"/groups/{group['id']}/members?$top=50")
    assert pages > 1
    assert all(member["@odata.type"] == "#microsoft.graph.user" for member in members)


def test_a_missing_group_is_404_request_resource_not_found(graph):
    answer = graph.get("/groups/00000000-0000-0000-0000-000000000000")
    assert answer.status == 404
    assert answer.body["error"]["code"] == "Request_ResourceNotFound"


def test_expand_manager_and_member_of(graph):
    users = graph.get("/users?$top=20&$select=id&$expand=manager,memberOf($select=id)").body
    managed = [user for user in users["value"] if "manager" in user]
    assert managed and managed[0]["manager"]["@odata.type"] == "#microsoft.graph.user"
    assert any(user["memberOf"] for user in users["value"])


def test_the_counts_endpoint_serves_requests_per_endpoint_as_json(graph, emulator):
    graph.get("/users")
    group = by_name(graph, "LIC-PowerBI-Pro")
    graph.get(f"/groups/{group['id']}")
    base = emulator.url.removesuffix("/v1.0")
    with urllib.request.urlopen(base + "/_emulator/counts") as response:
        counts = json.load(response)
    assert counts == emulator.counts()
    assert counts["GET /users"] == 1 and counts["GET /groups/{id}"] == 1


def test_search_needs_consistency_level_and_count_true_without_it_is_ignored(graph):
    answer = graph.get('/users?$search="displayName:a"')
    assert answer.status == 400 and answer.body["error"]["code"] == "Request_UnsupportedQuery"
    assert "ConsistencyLevel: eventual" in answer.body["error"]["message"]
    plain = graph.get("/users?$count=true&$top=5")
    assert plain.status == 200 and "@odata.count" not in plain.body


def test_odata_count_is_on_the_first_page_only(graph):
    first = graph.get("/users?$count=true&$top=50", headers={"ConsistencyLevel": "eventual"})
    assert first.body["@odata.count"] == CONTOSO_USERS
    following = graph.get(first.body["@odata.nextLink"], headers={"ConsistencyLevel": "eventual"})
    assert following.status == 200 and "@odata.count" not in following.body


def test_consumed_units_count_each_user_once_however_many_assignments_give_the_sku(graph):
    users, _ = graph.all_pages("/users?$top=999&$select=licenseAssignmentStates")
    for sku in graph.get("/subscribedSkus").body["value"]:
        assignments = [
            user["id"]
            for user in users
            for state in user["licenseAssignmentStates"]
            if state["skuId"] == sku["skuId"] and state["state"] != "Error"
        ]
        assert sku["consumedUnits"] == len(set(assignments))
    # the demo tenant has users holding one SKU twice (two groups, or direct and a group)
    assert any(
        len(states) != len({s["skuId"] for s in states})
        for states in (u["licenseAssignmentStates"] for u in users)
    )
