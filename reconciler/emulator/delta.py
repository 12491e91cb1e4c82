"""`GET /users/delta` and `/groups/delta`: nextLink pages, then a deltaLink for the next round.

A round's tokens hold the store version it started from and the `$select` of its first request
(Graph encodes both in its tokens). A deltaLink round returns the objects changed since that
version, and `{"id", "@removed": {"reason": "changed"}}` for those deleted since: deleted
security and Microsoft 365 groups go to deleted items and stay restorable, which Graph reports
as `changed` (`deleted` would mean gone for good). With `$select=members`, groups carry
`members@delta`, every member on the first round and the added and removed ones after.
A token from another emulator run, from before `Emulator.expire_delta_tokens()`, or older than
the 7 days Graph keeps directory delta tokens (by the emulator's clock), gets 410 Gone, code
`syncStateNotFound`, and a Location to restart a full round from.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from reconciler.emulator import odata, resources
from reconciler.emulator.errors import GraphError
from reconciler.emulator.messages import Request, Response

if TYPE_CHECKING:
    from reconciler.emulator.app import App

_MAXPAGESIZE = re.compile(r"odata\.maxpagesize=(\d+)")
TOKEN_LIFETIME = 7 * 24 * 3600.0  # [doc] seconds a directory delta token lasts


def delta(app: App, request: Request, *, kind: str) -> Response:
    for option in ("$top", "$orderby", "$expand", "$skip"):
        if option in request.query:
            raise GraphError(
                400, "Request_UnsupportedQuery", f"{option} is not supported on delta."
            )
    state = app.store.state()
    now = state.version
    deltatoken = request.query.get("$deltatoken")
    skiptoken = request.query.get("$skiptoken")
    if deltatoken == "latest":
        data = {"r": app.run_id, "k": kind, "v": now, "t": app.now()}
        link = _link(request, kind, "$deltatoken", data)
        return Response(
            200, {"@odata.context": _context(request, kind), "@odata.deltaLink": link, "value": []}
        )
    if deltatoken:
        token = _token(app, request, kind, deltatoken)
        since, names, offset, start = token["v"], token.get("s"), 0, now
    elif skiptoken:
        token = _token(app, request, kind, skiptoken)
        since, names, offset, start = token.get("v"), token.get("s"), token["o"], token["n"]
    else:
        since, names, offset, start = None, odata.select(request), 0, now
        _check_select(kind, names, state)
    items = _items(app, kind, since)
    size = _page_size(request)
    chosen = [
        item if "@removed" in item else _render(app, kind, item, since, names)
        for item in items[offset : offset + size]
    ]
    body: dict[str, Any] = {"@odata.context": _context(request, kind)}
    headers = (
        {"Preference-Applied": f"odata.maxpagesize={size}"} if request.header("Prefer") else {}
    )
    if offset + size < len(items):
        data = {"r": app.run_id, "k": kind, "v": since, "s": names, "o": offset + size, "n": start}
        body["@odata.nextLink"] = _link(request, kind, "$skiptoken", {**data, "t": app.now()})
    else:
        data = {"r": app.run_id, "k": kind, "v": start, "s": names, "t": app.now()}
        body["@odata.deltaLink"] = _link(request, kind, "$deltatoken", data)
    body["value"] = chosen
    return Response(200, body, headers)


def _token(app: App, request: Request, kind: str, text: str) -> dict[str, Any]:
    data = odata.decode_token(text)
    known = (
        data is not None
        and data.get("r") == app.run_id
        and data.get("k") == kind
        and (data.get("v") is None or data["v"] >= app.delta_floor)
        and isinstance(data.get("t"), int | float)
        and app.now() - data["t"] <= TOKEN_LIFETIME
    )
    if not known:
        location = f"{request.base}/{kind}/delta?$deltatoken="
        raise GraphError(
            410,
            "syncStateNotFound",
            "The delta token is not known or has expired; start again with a full synchronization.",
            {"Location": location},
        )
    assert data is not None
    return data


def _items(app: App, kind: str, since: int | None) -> list[dict[str, Any]]:
    """The round's objects (documents) and removals (`@removed` entries), unrendered."""
    state = app.store.state()
    store = app.store
    changed = store.changed[kind]
    out = [
        doc
        for doc in state.objects[kind]
        if since is None or changed.get(doc["id"].lower(), 0) > since
    ]
    if since is not None:
        for version, stored_id in store.removed[kind].values():
            if version > since:
                out.append({"id": stored_id, "@removed": {"reason": "changed"}})
    return out


def _render(
    app: App, kind: str, doc: dict[str, Any], since: int | None, names: list[str] | None
) -> dict[str, Any]:
    fields = [n for n in names or () if n != "members"] or None
    if kind == "users":
        return resources.user(doc, fields)
    body = resources.group(doc, app.store, fields)
    if names and "members" in names:
        state = app.store.state()
        now = list(doc.get("members", ()))
        before = _members_at(app, doc["id"], since) if since is not None else []
        lowered = {m.lower() for m in before}
        entries = [_member(state, m) for m in now if m.lower() not in lowered]
        current = {m.lower() for m in now}
        entries += [
            {**_member(state, m), "@removed": {"reason": "deleted"}}
            for m in before
            if m.lower() not in current
        ]
        if since is None or entries:
            body["members@delta"] = entries
    return body


def _member(state: Any, member_id: str) -> dict[str, Any]:
    typed = state.directory_object(member_id)
    type_name = typed[0] if typed else "user"
    return {"@odata.type": resources.TYPES[type_name], "id": member_id}


def _members_at(app: App, group_id: str, version: int) -> list[str]:
    history = app.store.members_history.get(group_id.lower(), [])
    found: tuple[str, ...] = ()
    for at, members in history:
        if at <= version:
            found = members
    return list(found)


def _check_select(kind: str, names: list[str] | None, state: Any) -> None:
    extra = {"members"} if kind == "groups" else {"manager"}
    resources.check_select(kind, [n for n in names or () if n not in extra] or None, state)


def _page_size(request: Request) -> int:
    match = _MAXPAGESIZE.search(request.header("Prefer") or "")
    return max(1, min(int(match.group(1)), odata.MAX_PAGE)) if match else odata.DEFAULT_PAGE


def _link(request: Request, kind: str, name: str, data: dict[str, Any]) -> str:
    return f"{request.base}/{kind}/delta?{name}={odata.encode_token(data)}"


def _context(request: Request, kind: str) -> str:
    return f"{request.base}/$metadata#{kind}"
