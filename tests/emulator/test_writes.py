from tests.emulator.conftest import by_name


def _user_states(graph, user_id):
    answer = graph.get(f"/users/{user_id}?$select=assignedLicenses,licenseAssignmentStates")
    assert answer.status == 200, answer.body
    return answer.body


def _unlicensed_user(graph, sku_id):
    users = graph.get("/users?$top=999&$select=assignedLicenses").body["value"]
    return next(u for u in users if all(a["skuId"] != sku_id for a in u["assignedLicenses"]))


def test_a_user_added_to_a_licensed_group_gets_its_license(graph):
    group = by_name(graph, "LIC-PowerBI-Pro")
    detail = graph.get(f"/groups/{group['id']}?$select=assignedLicenses").body
    sku = detail["assignedLicenses"][0]["skuId"]
    user = _unlicensed_user(graph, sku)
    reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}
    assert graph("POST", f"/groups/{group['id']}/members/$ref", reference).status == 204
    states = _user_states(graph, user["id"])
    assert sku in {a["skuId"] for a in states["assignedLicenses"]}
    (state,) = [s for s in states["licenseAssignmentStates"] if s["assignedByGroup"] == group["id"]]
    assert (state["state"], state["error"]) == ("Active", "None")
    again = graph("POST", f"/groups/{group['id']}/members/$ref", reference)
    assert again.status == 400 and "already exist" in again.body["error"]["message"]
    removed = graph("DELETE", f"/groups/{group['id']}/members/{user['id']}/$ref")
    assert removed.status == 204
    assert sku not in {a["skuId"] for a in _user_states(graph, user["id"])["assignedLicenses"]}
    assert graph("DELETE", f"/groups/{group['id']}/members/{user['id']}/$ref").status == 404


def test_adding_an_unknown_object_is_404(graph):
    group = by_name(graph, "Finance Analysts")
    body = {"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/0000"}
    answer = graph("POST", f"/groups/{group['id']}/members/$ref", body)
    assert answer.status == 404 and answer.body["error"]["code"] == "Request_ResourceNotFound"


def test_members_cannot_be_added_to_or_removed_from_a_dynamic_group(graph):
    group = by_name(graph, "LIC-M365-E5-Sales")
    user = graph.get("/users?$top=1").body["value"][0]
    body = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}
    answer = graph("POST", f"/groups/{group['id']}/members/$ref", body)
    assert answer.status == 400 and "dynamic" in answer.body["error"]["message"]
    member = graph.get(f"/groups/{group['id']}/members?$top=1").body["value"][0]
    assert graph("DELETE", f"/groups/{group['id']}/members/{member['id']}/$ref").status == 400


def test_a_licensed_group_cannot_be_deleted_until_its_licenses_are_removed(graph):
    group = by_name(graph, "LIC-PowerBI-Pro")
    refused = graph("DELETE", f"/groups/{group['id']}")
    assert refused.status == 400 and refused.body["error"]["code"] == "Request_BadRequest"
    detail = graph.get(f"/groups/{group['id']}?$select=assignedLicenses").body
    sku = detail["assignedLicenses"][0]["skuId"]
    body = {"addLicenses": [], "removeLicenses": [sku]}
    assert graph("POST", f"/groups/{group['id']}/assignLicense", body).status == 202
    assert graph("DELETE", f"/groups/{group['id']}").status == 204
    assert graph.get(f"/groups/{group['id']}").status == 404


def test_create_a_group_bind_members_and_license_it_asynchronously(graph):
    users = graph.get("/users?$top=3").body["value"]
    binds = [f"https://graph.microsoft.com/v1.0/directoryObjects/{u['id']}" for u in users]
    body = {
        "displayName": "LIC-Visio",
        "mailEnabled": False,
        "mailNickname": "lic-visio",
        "securityEnabled": True,
        "members@odata.bind": binds,
    }
    created = graph("POST", "/groups", body)
    assert created.status == 201, created.body
    group_id = created.body["id"]
    assert group_id == group_id.lower() and len(group_id) == 36
    skus = graph.get("/subscribedSkus").body["value"]
    sku = skus[0]["skuId"]
    assigned = graph(
        "POST",
        f"/groups/{group_id}/assignLicense",
        {"addLicenses": [{"skuId": sku, "disabledPlans": []}], "removeLicenses": []},
    )
    assert assigned.status == 202 and assigned.headers["location"]
    seen = [
        graph.get(f"/groups/{group_id}?$select=licenseProcessingState").body[
            "licenseProcessingState"
        ]["state"]
        for _ in range(4)
    ]
    assert seen == [
        "QueuedForProcessing",
        "ProcessingInProgress",
        "ProcessingComplete",
        "ProcessingComplete",
    ]
    holders = graph.get(
        f"/users?$filter=assignedLicenses/any(x:x/skuId eq {sku})&$select=id&$top=999"
    ).body["value"]
    assert {u["id"] for u in users} <= {u["id"] for u in holders}


def test_create_group_needs_graphs_required_properties(graph):
    answer = graph("POST", "/groups", {"displayName": "No nickname", "securityEnabled": True})
    assert answer.status == 400


def test_patch_updates_properties_and_binds_at_most_20_members(graph):
    group = by_name(graph, "Finance Analysts")
    patched = graph("PATCH", f"/groups/{group['id']}", {"description": "Finance team"})
    assert patched.status == 204
    assert graph.get(f"/groups/{group['id']}").body["description"] == "Finance team"
    users = graph.get("/users?$top=30").body["value"]
    binds = [f"https://graph.microsoft.com/v1.0/directoryObjects/{u['id']}" for u in users]
    too_many = graph("PATCH", f"/groups/{group['id']}", {"members@odata.bind": binds[:21]})
    assert too_many.status == 400
    assert graph("PATCH", f"/groups/{group['id']}", {"assignedLicenses": []}).status == 400


def test_patching_a_dynamic_rule_reevaluates_membership(graph):
    group = by_name(graph, "LIC-M365-E5-Sales")
    before, _ = graph.all_pages(f"/groups/{group['id']}/members?$top=999")
    rule = '(user.department -eq "Nobody")'
    assert graph("PATCH", f"/groups/{group['id']}", {"membershipRule": rule}).status == 204
    after, _ = graph.all_pages(f"/groups/{group['id']}/members?$top=999")
    assert before and not after
    paused = {"membershipRuleProcessingState": "Stopped"}
    assert graph("PATCH", f"/groups/{group['id']}", paused).status == 400


def test_reprocess_license_assignment_answers_the_user(graph):
    user = graph.get("/users?$top=1").body["value"][0]
    answer = graph("POST", f"/users/{user['id']}/reprocessLicenseAssignment")
    assert answer.status == 200 and answer.body["id"] == user["id"]
    assert "assignedLicenses" in answer.body


def _processing(graph, group_id, reads=3):
    url = f"/groups/{group_id}?$select=licenseProcessingState"
    return [graph.get(url).body["licenseProcessingState"]["state"] for _ in range(reads)]


DONE = ["ProcessingComplete"] * 3
QUEUED = ["QueuedForProcessing", "ProcessingInProgress", "ProcessingComplete"]


def test_member_changes_of_a_licensed_group_queue_its_license_processing(graph):
    licensed = by_name(graph, "LIC-PowerBI-Pro")
    unlicensed = by_name(graph, "Finance Analysts")
    user = graph.get("/users?$top=1").body["value"][0]
    reference = {"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{user['id']}"}
    for group, expected in ((licensed, QUEUED), (unlicensed, DONE)):
        assert graph("POST", f"/groups/{group['id']}/members/$ref", reference).status == 204
        assert _processing(graph, group["id"]) == expected
        removed = graph("DELETE", f"/groups/{group['id']}/members/{user['id']}/$ref")
        assert removed.status == 204
        assert _processing(graph, group["id"]) == expected
    bind = {"members@odata.bind": [reference["@odata.id"]]}
    assert graph("PATCH", f"/groups/{licensed['id']}", bind).status == 204
    assert _processing(graph, licensed["id"]) == QUEUED
    # a change that doesn't touch membership leaves processing alone
    assert graph("PATCH", f"/groups/{licensed['id']}", {"description": "d"}).status == 204
    assert _processing(graph, licensed["id"]) == DONE


def test_a_rule_change_of_a_licensed_dynamic_group_queues_its_license_processing(graph):
    group = by_name(graph, "LIC-M365-E5-Sales")
    rule = '(user.department -eq "Marketing")'
    assert graph("PATCH", f"/groups/{group['id']}", {"membershipRule": rule}).status == 204
    assert _processing(graph, group["id"]) == QUEUED
    paused = {"membershipRuleProcessingState": "Paused"}
    assert graph("PATCH", f"/groups/{group['id']}", paused).status == 204
    assert _processing(graph, group["id"]) == QUEUED


def test_a_paused_dynamic_group_keeps_its_members_until_resumed(graph):
    group = by_name(graph, "LIC-M365-E5-Sales")
    url = f"/groups/{group['id']}"
    before, _ = graph.all_pages(f"{url}/members?$top=999")
    assert before
    paused = {"membershipRuleProcessingState": "Paused"}
    assert graph("PATCH", url, paused).status == 204
    assert graph("PATCH", url, {"membershipRule": '(user.department -eq "Nobody")'}).status == 204
    kept, _ = graph.all_pages(f"{url}/members?$top=999")
    assert {m["id"] for m in kept} == {m["id"] for m in before}
    assert graph("PATCH", url, {"membershipRuleProcessingState": "On"}).status == 204
    assert graph.all_pages(f"{url}/members?$top=999")[0] == []


def test_direct_license_assignment_to_a_user_is_answered_as_not_implemented(graph):
    user = graph.get("/users?$top=1").body["value"][0]
    body = {"addLicenses": [], "removeLicenses": []}
    answer = graph("POST", f"/users/{user['id']}/assignLicense", body)
    assert answer.status == 501 and answer.body["error"]["code"] == "NotImplemented"


POWER_BI, VISIO = "f8a1db68-be16-40ed-86d5-cb42ce701560", "c5928f49-12ba-48f7-ada3-0d743a3601d5"


def test_a_group_licenses_each_member_with_all_its_products_or_none(graph):
    # 5 Power BI Pro seats are free but only 3 Visio ones: a member who can't have Visio gets
    # no Power BI from the group either
    users, _ = graph.all_pages("/users?$top=999&$select=assignedLicenses,accountEnabled")
    free = [
        u["id"]
        for u in users
        if u["accountEnabled"]
        and not {a["skuId"] for a in u["assignedLicenses"]} & {POWER_BI, VISIO}
    ][:10]
    binds = [f"https://graph.microsoft.com/v1.0/directoryObjects/{u}" for u in free]
    body = {"displayName": "LIC-Both", "mailEnabled": False, "mailNickname": "lic-both"}
    created = graph(
        "POST", "/groups", {**body, "securityEnabled": True, "members@odata.bind": binds}
    )
    group_id = created.body["id"]
    licenses = [{"skuId": POWER_BI, "disabledPlans": []}, {"skuId": VISIO, "disabledPlans": []}]
    assigned = graph(
        "POST", f"/groups/{group_id}/assignLicense", {"addLicenses": licenses, "removeLicenses": []}
    )
    assert assigned.status == 202
    held = []
    for user_id in free:
        states = _user_states(graph, user_id)["licenseAssignmentStates"]
        held.append(
            frozenset(
                s["skuId"]
                for s in states
                if s["assignedByGroup"] == group_id and s["state"] == "Active"
            )
        )
    assert set(held) == {frozenset({POWER_BI, VISIO}), frozenset()}
    assert held.count(frozenset({POWER_BI, VISIO})) == 3
    skus = {s["skuId"]: s for s in graph.get("/subscribedSkus").body["value"]}
    assert skus[POWER_BI]["consumedUnits"] < skus[POWER_BI]["prepaidUnits"]["enabled"]
