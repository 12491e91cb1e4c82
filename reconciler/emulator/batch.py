"""`POST /$batch`: up to 20 requests, `dependsOn`, 424 for a failed dependency, per-item 429.

The envelope is 200 whenever it parses and 400 when it is malformed, as Graph documents it.
Graph runs items without `dependsOn` in any order, so here they run in an order shuffled from
the faults' seed, each after the items it depends on (which must come earlier in the batch);
their answers come back in the *reverse* of that order, so a client that matches answers to
requests by position rather than by `id`, or relies on items running in turn, fails here as it
would against Graph.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Any

from reconciler.emulator.errors import GraphError, error_body
from reconciler.emulator.faults import fault_response
from reconciler.emulator.messages import Request, Response

if TYPE_CHECKING:
    from reconciler.emulator.app import App

MAX_REQUESTS = 20
ITEM_KEY = "$batch: "  # counts of the requests inside batches: "$batch: POST /groups/{id}/..."


def _malformed(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def batch(app: App, request: Request) -> Response:
    items = request.body.get("requests") if isinstance(request.body, dict) else None
    if not isinstance(items, list) or not items:
        raise _malformed("Invalid batch payload format.")
    if len(items) > MAX_REQUESTS:
        raise _malformed(
            f"The batch has {len(items)} requests; at most {MAX_REQUESTS} are allowed."
        )
    seen: dict[str, str] = {}
    for item in items:
        _check_item(item, seen)
        seen[str(item["id"]).lower()] = str(item["id"])
    with app.batch_order_lock:
        order = _order(items, app.batch_order)
    statuses: dict[str, int] = {}
    answers = []
    for index in order:
        item = items[index]
        answer = _run(app, request, item, statuses)
        statuses[str(item["id"]).lower()] = answer["status"]
        answers.append(answer)
    return Response(200, {"responses": list(reversed(answers))})


def _order(items: list[dict[str, Any]], rng: random.Random) -> list[int]:
    """The items' indexes in a shuffled order in which each comes after its dependencies."""
    needs = [{str(d).lower() for d in item.get("dependsOn") or ()} for item in items]
    done: set[str] = set()
    pending = list(range(len(items)))
    order = []
    while pending:
        # dependencies are earlier items (checked), so the first pending one is always ready
        ready = [index for index in pending if needs[index] <= done]
        chosen = ready[rng.randrange(len(ready))]
        pending.remove(chosen)
        done.add(str(items[chosen]["id"]).lower())
        order.append(chosen)
    return order


def _check_item(item: Any, earlier: dict[str, str]) -> None:
    if not isinstance(item, dict):
        raise _malformed("Invalid batch payload format.")
    item_id = item.get("id")
    if item_id is None or str(item_id) == "":
        raise _malformed("Every request in a batch needs an id.")
    if str(item_id).lower() in earlier:
        raise _malformed(f"Batch request ids must be unique; '{item_id}' appears twice.")
    if not item.get("method") or not item.get("url"):
        raise _malformed(f"Request '{item_id}' needs a method and a url.")
    headers = {k.lower() for k in (item.get("headers") or {})}
    if "body" in item and item["body"] is not None and "content-type" not in headers:
        raise _malformed(f"Request '{item_id}' has a body but no Content-Type header.")
    depends = item.get("dependsOn") or []
    if not isinstance(depends, list):
        raise _malformed(f"dependsOn of request '{item_id}' must be a list of ids.")
    for dependency in depends:
        if str(dependency).lower() not in earlier:
            raise _malformed(
                f"Request '{item_id}' depends on '{dependency}', which is not an earlier request."
            )


def _run(app: App, envelope: Request, item: dict[str, Any], statuses: dict[str, int]) -> dict:
    item_id = str(item["id"])
    method = str(item["method"]).upper()
    target = _relative(str(item["url"]))
    sub = Request.from_target(method, target, item.get("headers") or {}, item.get("body"), "")
    sub.base = envelope.base
    app.count(ITEM_KEY + app.endpoint(method, sub.path))
    failed = [d for d in item.get("dependsOn") or [] if statuses.get(str(d).lower(), 0) >= 400]
    if failed:
        message = f"Request '{item_id}' depends on '{failed[0]}', which failed."
        return _answer(item_id, Response(424, error_body("FailedDependency", message)))
    if sub.path.rstrip("/") == "/$batch":
        return _answer(item_id, Response(400, error_body("BadRequest", "Batches can't nest.")))
    decision = app.faults.decide(batch_item=True)
    if decision.status is not None and not decision.handled:
        return _answer(item_id, fault_response(decision.status, decision.retry_after))
    answer = app.dispatch(sub)
    if decision.status is not None:  # handled, and then the answer lost to a gateway timeout
        return _answer(item_id, fault_response(decision.status, decision.retry_after))
    return _answer(item_id, answer)


def _relative(url: str) -> str:
    for prefix in ("https://graph.microsoft.com", "http://graph.microsoft.com"):
        if url.startswith(prefix):
            url = url[len(prefix) :]
    if url.startswith("/v1.0/") or url == "/v1.0":
        url = url[len("/v1.0") :]
    return url if url.startswith("/") else "/" + url


def _answer(item_id: str, response: Response) -> dict[str, Any]:
    headers = dict(response.headers)
    answer: dict[str, Any] = {"id": item_id, "status": response.status}
    if isinstance(response.body, dict):
        headers.setdefault("Content-Type", "application/json")
        answer["body"] = response.body
    elif isinstance(response.body, str):
        headers.setdefault("Content-Type", "text/plain")
        answer["body"] = response.body
    answer["headers"] = headers
    return answer
