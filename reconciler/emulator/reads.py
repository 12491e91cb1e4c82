"""GET handlers: organization, subscribedSkus, users, groups and their members."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconciler.emulator import odata, resources
from reconciler.emulator.errors import GraphError, bad_request, not_found
from reconciler.emulator.filters import compile_filter
from reconciler.emulator.messages import Request, Response

if TYPE_CHECKING:
    from reconciler.emulator.app import App


def organization(app: App, request: Request) -> Response:
    state = app.store.state()
    body = {
        "@odata.context": f"{request.base}/$metadata#organization",
        "value": [resources.organization(state.organization)],
    }
    return Response(200, body)


def subscribed_skus(app: App, request: Request) -> Response:
    if "$filter" in request.query:
        raise GraphError(400, "Request_UnsupportedQuery", "$filter is not supported on this API.")
    state = app.store.state()
    names = odata.select(request)
    value = [_pick(sku, names) for sku in state.skus]
    return Response(
        200, {"@odata.context": odata.context_url(request, "subscribedSkus", names), "value": value}
    )


def subscribed_sku(app: App, request: Request, sku_id: str) -> Response:
    for sku in app.store.state().skus:
        if sku["id"].lower() == sku_id.lower():
            names = odata.select(request)
            context = f"{request.base}/$metadata#subscribedSkus/$entity"
            return Response(200, {"@odata.context": context, **_pick(sku, names)})
    raise not_found(sku_id)


def list_objects(app: App, request: Request, *, kind: str) -> Response:
    """GET /users and GET /groups."""
    odata.check_collection_options(request)
    state = app.store.state()
    names = odata.select(request)
    resources.check_select(kind, names, state)
    docs = _filtered(app, request, kind, state.objects[kind])
    chosen, envelope = odata.page(
        request, docs, app.run_id, odata.context_url(request, kind, names)
    )
    value = [_render(app, request, kind, doc, names) for doc in chosen]
    return Response(200, {**envelope, "value": value})


def count_objects(app: App, request: Request, *, kind: str) -> Response:
    """GET /users/$count: text/plain, only with ConsistencyLevel: eventual."""
    if (request.header("ConsistencyLevel") or "").lower() != "eventual":
        raise bad_request("$count is not currently supported.")
    state = app.store.state()
    docs = _filtered(app, request, kind, state.objects[kind])
    return Response(200, str(len(docs)))


def get_object(app: App, request: Request, object_id: str, *, kind: str) -> Response:
    state = app.store.state()
    doc = state.user(object_id) if kind == "users" else state.group(object_id)
    names = odata.select(request)
    resources.check_select(kind, names, state, beta=request.beta)
    context = f"{request.base}/$metadata#{kind}/$entity"
    body = _render(app, request, kind, doc, names)
    if kind == "groups" and names and resources.PROCESSING_STATUS in names:
        body[resources.PROCESSING_STATUS] = app.rules.status(doc)
    return Response(200, {"@odata.context": context, **body})


def members(app: App, request: Request, group_id: str, errors_only: bool = False) -> Response:
    """GET /groups/{id}/members (direct members) and /membersWithLicenseErrors."""
    odata.check_collection_options(request)
    state = app.store.state()
    group = state.group(group_id)
    names = odata.select(request)
    found = []
    for member in app.rules.members(group):
        typed = state.directory_object(member)
        if typed is None:
            continue
        if errors_only and not (typed[0] == "user" and _in_error(typed[1], group["id"])):
            continue
        found.append(typed)
    collection = "users" if errors_only else "directoryObjects"
    chosen, envelope = odata.page(
        request, found, app.run_id, odata.context_url(request, collection, names)
    )
    value = [resources.directory_object(t, doc, app.store, names) for t, doc in chosen]
    return Response(200, {**envelope, "value": value})


def member_of(app: App, request: Request, user_id: str) -> Response:
    state = app.store.state()
    user = state.user(user_id)
    groups = [state.group(g) for g in state.member_of.get(user["id"].lower(), ())]
    names = odata.select(request)
    chosen, envelope = odata.page(
        request, groups, app.run_id, odata.context_url(request, "directoryObjects", names)
    )
    value = [resources.directory_object("group", g, app.store, names) for g in chosen]
    return Response(200, {**envelope, "value": value})


def license_details(app: App, request: Request, user_id: str) -> Response:
    state = app.store.state()
    user = state.user(user_id)
    skus = {sku["skuId"].lower(): sku for sku in state.skus}
    value = []
    for assigned in user.get("assignedLicenses", ()):
        sku = skus.get(assigned["skuId"].lower(), {})
        value.append(
            {
                "id": f"{assigned['skuId']}_{user['id']}",
                "skuId": assigned["skuId"],
                "skuPartNumber": sku.get("skuPartNumber"),
                "servicePlans": sku.get("servicePlans", []),
            }
        )
    context = f"{request.base}/$metadata#users('{user['id']}')/licenseDetails"
    return Response(200, {"@odata.context": context, "value": value})


# --- helpers ------------------------------------------------------------------------------


def _pick(doc: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    if not names:
        return dict(doc)
    return {name: doc.get(name) for name in ["id", *(n for n in names if n != "id")]}


def _filtered(app: App, request: Request, kind: str, docs: list[dict[str, Any]]) -> list:
    text = request.query.get("$filter")
    if not text:
        return docs
    state = app.store.state()
    predicate = compile_filter(
        text, kind, request.advanced, lambda gid: gid.lower() in state.groups_with_errors
    )
    return [doc for doc in docs if predicate(doc)]


def _in_error(user: dict[str, Any], group_id: str) -> bool:
    return any(
        (state.get("assignedByGroup") or "").lower() == group_id.lower()
        and state.get("error") not in (None, "None")
        for state in user.get("licenseAssignmentStates", ())
    )


_EXPAND = re.compile(r"\s*(\w+)\s*(?:\(\s*\$select=([^)]*)\))?\s*(?:,|$)")


def _expansions(request: Request, kind: str) -> dict[str, list[str] | None]:
    text = request.query.get("$expand")
    if not text:
        return {}
    if request.advanced:
        raise GraphError(400, "Request_UnsupportedQuery", "$expand is not supported with $count.")
    out: dict[str, list[str] | None] = {}
    allowed = ("manager", "memberOf") if kind == "users" else ("members",)
    for match in _EXPAND.finditer(text):
        if not match.group(0).strip():
            continue
        name, chosen = match.group(1), match.group(2)
        if name not in allowed:
            raise bad_request(f"Could not find a property named '{name}' to expand.")
        out[name] = [n.strip() for n in chosen.split(",")] if chosen else None
    return out


def _render(
    app: App, request: Request, kind: str, doc: dict[str, Any], names: list[str] | None
) -> dict[str, Any]:
    if kind == "groups":
        body = resources.group(doc, app.store, names)
    else:
        body = resources.user(doc, names)
    expand = _expansions(request, kind)
    if not expand:
        return body
    state = app.store.state()
    if "manager" in expand:
        manager = (doc.get("manager") or {}).get("id")
        found = state.index["users"].get(manager.lower()) if manager else None
        if found is not None:
            body["manager"] = resources.directory_object(
                "user", found, app.store, expand["manager"]
            )
    if "memberOf" in expand:
        groups = [state.group(g) for g in state.member_of.get(doc["id"].lower(), ())]
        body["memberOf"] = [
            resources.directory_object("group", g, app.store, expand["memberOf"]) for g in groups
        ]
    if "members" in expand:
        typed = [state.directory_object(m) for m in doc.get("members", ())]
        body["members"] = [
            resources.directory_object(t[0], t[1], app.store, expand["members"])
            for t in typed
            if t is not None
        ]
    return body
