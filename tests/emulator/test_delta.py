from tests.emulator.conftest import by_name


def _round(graph, url):
    """Every item of a delta round and its deltaLink."""
    items = []
    while True:
        answer = graph.get(url, headers={"Prefer": "odata.maxpagesize=50"})
        assert answer.status == 200, answer.body
        items += answer.body["value"]
        if "@odata.deltaLink" in answer.body:
            return items, answer.body["@odata.deltaLink"]
        url = answer.body["@odata.nextLink"]


def test_a_first_delta_round_pages_every_user_then_gives_a_delta_link(graph):
    users, link = _round(graph, "/users/delta?$select=displayName,assignedLicenses")
    assert len(users) == 200 and "$deltatoken=" in link
    again, _ = _round(graph, link)
    assert again == []


def test_the_next_round_has_only_changes_and_removed_groups(graph):
    groups, link = _round(graph, "/groups/delta?$select=displayName,members")
    assert all("members@delta" in group for group in groups)
    finance = by_name(graph, "Finance Analysts")
    assert graph("DELETE", f"/groups/{finance['id']}").status == 204
    powerbi = by_name(graph, "LIC-PowerBI-Pro")
    member = graph.get(f"/groups/{powerbi['id']}/members?$top=1").body["value"][0]
    graph("DELETE", f"/groups/{powerbi['id']}/members/{member['id']}/$ref")
    changed, _ = _round(graph, link)
    by_id = {item["id"]: item for item in changed}
    assert by_id[finance["id"]]["@removed"] == {"reason": "changed"}
    # Finance Analysts was a member of LIC-PowerBI-Pro: a deleted group leaves its groups too
    removed = by_id[powerbi["id"]]["members@delta"]
    assert {m["id"] for m in removed} == {member["id"], finance["id"]}
    assert all(m["@removed"] == {"reason": "deleted"} for m in removed)


def test_user_licenses_changed_by_a_write_show_up_in_the_next_user_round(graph):
    _, link = _round(graph, "/users/delta?$select=assignedLicenses")
    powerbi = by_name(graph, "LIC-PowerBI-Pro")
    member = graph.get(f"/groups/{powerbi['id']}/members?$top=1").body["value"][0]
    graph("DELETE", f"/groups/{powerbi['id']}/members/{member['id']}/$ref")
    changed, _ = _round(graph, link)
    assert [user["id"] for user in changed] == [member["id"]]


def test_an_expired_delta_token_is_410_sync_state_not_found(graph, emulator):
    _, link = _round(graph, "/users/delta")
    emulator.expire_delta_tokens()
    answer = graph.get(link)
    assert answer.status == 410
    assert answer.body["error"]["code"] == "syncStateNotFound"
    assert "$deltatoken=" in answer.headers["location"]
    assert graph.get("/users/delta?$deltatoken=bm9wZQ").status == 410


def test_deltatoken_latest_gives_only_a_delta_link(graph):
    answer = graph.get("/users/delta?$deltatoken=latest")
    assert answer.body["value"] == [] and "@odata.deltaLink" in answer.body


def test_a_delta_token_lasts_seven_days(graph, emulator):
    _, link = _round(graph, "/users/delta?$select=displayName")
    emulator.advance_clock(7 * 24 * 3600 - 60)
    assert graph.get(link).status == 200
    _, fresh = _round(graph, link)
    emulator.advance_clock(120)
    expired = graph.get(link)
    assert expired.status == 410 and expired.body["error"]["code"] == "syncStateNotFound"
    assert graph.get(fresh).status == 200  # issued later: still good
