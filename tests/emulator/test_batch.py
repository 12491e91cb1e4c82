from reconciler.emulator import running
from tests.emulator.conftest import CONTOSO, Client, by_name


def _item(item_id, method, url, body=None, depends=None):
    item = {"id": item_id, "method": method, "url": url}
    if body is not None:
        item["body"] = body
        item["headers"] = {"Content-Type": "application/json"}
    if depends:
        item["dependsOn"] = depends
    return item


def test_a_batch_of_more_than_20_requests_is_400(graph):
    items = [_item(str(i), "GET", "/organization") for i in range(21)]
    answer = graph("POST", "/$batch", {"requests": items})
    assert answer.status == 400 and answer.body["error"]["code"] == "BadRequest"


def test_duplicate_ids_and_a_body_without_content_type_fail_the_whole_batch(graph):
    twice = [_item("a", "GET", "/organization"), _item("A", "GET", "/organization")]
    assert graph("POST", "/$batch", {"requests": twice}).status == 400
    bare = [{"id": "1", "method": "PATCH", "url": "/groups/x", "body": {"description": "d"}}]
    assert graph("POST", "/$batch", {"requests": bare}).status == 400


def test_items_are_answered_by_id_and_counted_on_their_own(graph, emulator):
    items = [_item("1", "GET", "/organization"), _item("2", "GET", "/users?$top=2")]
    answer = graph("POST", "/$batch", {"requests": items})
    assert answer.status == 200
    responses = {r["id"]: r for r in answer.body["responses"]}
    assert responses["1"]["status"] == 200 and len(responses["2"]["body"]["value"]) == 2
    counts = emulator.counts()
    assert counts["POST /$batch"] == 1
    assert counts["$batch: GET /organization"] == 1 and counts["$batch: GET /users"] == 1


def test_a_failed_dependency_gives_424_and_the_rest_still_runs(graph):
    group = by_name(graph, "Finance Analysts")
    items = [
        _item("1", "DELETE", "/groups/00000000-0000-0000-0000-000000000000"),
        _item("2", "PATCH", f"/groups/{group['id']}", {"description": "x"}, depends=["1"]),
        _item("3", "PATCH", f"/groups/{group['id']}", {"description": "kept"}),
    ]
    answer = graph("POST", "/$batch", {"requests": items})
    statuses = {r["id"]: r["status"] for r in answer.body["responses"]}
    assert statuses == {"1": 404, "2": 424, "3": 204}
    assert graph.get(f"/groups/{group['id']}").body["description"] == "kept"


def test_a_dependency_on_an_unknown_request_is_400(graph):
    items = [_item("1", "GET", "/organization", depends=["9"])]
    assert graph("POST", "/$batch", {"requests": items}).status == 400


def test_items_are_throttled_on_their_own_with_their_own_retry_after():
    with running(str(CONTOSO), faults="429:every=3,retry-after=0.25") as emulator:
        graph = Client(emulator)
        items = [_item(str(i), "GET", "/organization") for i in range(1, 6)]
        answer = graph("POST", "/$batch", {"requests": items})
        assert answer.status == 200  # the envelope was request 1, items 2..6
        throttled = [r for r in answer.body["responses"] if r["status"] == 429]
        # answers come in the reverse of the order the items ran: the 2nd and 5th ran were hit
        ran = [r["id"] for r in reversed(answer.body["responses"])]
        assert sorted(r["id"] for r in throttled) == sorted([ran[1], ran[4]])
        assert all(r["headers"]["Retry-After"] == "0.25" for r in throttled)
        assert throttled[0]["body"]["error"]["code"] == "TooManyRequests"


def _ran(spec, depends=False):
    """The order ten PATCHes of one group ran in (from the description left), and the answers."""
    with running(str(CONTOSO), faults=spec) as emulator:
        graph = Client(emulator)
        group = by_name(graph, "Finance Analysts")
        url = f"/groups/{group['id']}"
        items = [
            _item(
                str(n),
                "PATCH",
                url,
                {"description": str(n)},
                [str(n - 1)] if depends and n else None,
            )
            for n in range(10)
        ]
        answer = graph("POST", "/$batch", {"requests": items})
        assert {r["status"] for r in answer.body["responses"]} == {204}
        last = graph.get(url).body["description"]
    # answers come back in the reverse of the order the items ran
    order = [r["id"] for r in reversed(answer.body["responses"])]
    assert order[-1] == last
    return order


def test_items_without_depends_on_run_in_a_seeded_shuffled_order():
    shuffled = _ran("seed=3")
    assert sorted(shuffled) == sorted(str(n) for n in range(10))
    assert shuffled != [str(n) for n in range(10)]
    assert _ran("seed=3") == shuffled  # the same seed, the same order
    assert _ran("seed=4") != shuffled


def test_items_run_after_the_items_they_depend_on():
    assert _ran("seed=3", depends=True) == [str(n) for n in range(10)]
