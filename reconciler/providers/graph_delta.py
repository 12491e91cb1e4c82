"""Delta reads for the Graph provider: `users/delta` and `groups/delta`, kept between runs.

A *round* starts at `/{kind}/delta?$select=...` (or at the deltaLink saved last time), follows
`@odata.nextLink` at `Prefer: odata.maxpagesize=999`, and ends at the page with an
`@odata.deltaLink`. The first round lists every object; a round from a deltaLink lists only the
objects changed since, and `{"id", "@removed": {...}}` for those gone (deleted, or soft-deleted
and restorable: either way a full read no longer lists them).

Merging a round into the saved objects: a removed object is dropped; a changed one is merged
over its saved self (Graph may send only the changed properties), in its place; a new one is
appended, as a full read lists the newest last. Groups are read with `$select=...,members`, so
they carry `members@delta`: the members added and, with `@removed`, the members that left
(all members on the first round; a large group's may come in parts, on several pages, and
replays are possible, so adding and removing are idempotent). A changed group without
`members@delta` kept its members. Users are read with `$select=...,manager`: `manager` (an
object or null) or `manager@delta` (a list; `@removed` clears it); neither keeps the manager.

What a round gave is kept between reads by graph_state.

A full round is done instead of a delta round when there is no saved state (graph_state says
when a saved one can't be used), when it was made with another `$select`, or when Graph refuses
the saved token (410 Gone, an error code like `syncStateNotFound`, or a 400 on a round resumed
from a saved link).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from reconciler.progress import NO_PROGRESS, Progress
from reconciler.providers.graph_http import GraphClient, GraphError, GraphResponse, error_for
from reconciler.providers.graph_state import KindState, Saved

__all__ = ["TokenRefused", "merge", "read_round", "sync"]

# error codes Graph answers a delta token it no longer has (or never had) with
_RESTART_CODES = frozenset(
    {"syncstatenotfound", "syncstateinvalid", "resyncrequired", "resyncapplicationrequired"}
)


class TokenRefused(Exception):
    """Graph no longer knows the saved delta token: start again with a full round."""


@dataclass
class DeltaRound:
    """What one round gave: its items in order, its deltaLink, and the requests it took."""

    items: list[dict[str, Any]]
    delta_link: str
    requests: int


def read_round(
    client: GraphClient,
    start: str,
    *,
    page_size: int,
    resumed: bool,
    counted: Callable[[int], None] = lambda items: None,
) -> DeltaRound:
    """Every page of a round from `start`, `counted` told how many items each brought;
    TokenRefused if Graph refuses a resumed round's token (GraphError for anything else)."""
    url = start
    items: list[dict[str, Any]] = []
    requests = 0
    headers = {"Prefer": f"odata.maxpagesize={page_size}"}
    while True:
        response = client.send("GET", url, headers=headers)
        requests += 1
        if not response.ok:
            if _refused_token(response, resumed or url != start):
                raise TokenRefused(response.error_code or str(response.status))
            raise error_for("GET", client.relative(url), response)
        body = response.body if isinstance(response.body, dict) else {}
        page = body.get("value") or ()
        items += page
        counted(len(page))
        if isinstance(body.get("@odata.deltaLink"), str):
            return DeltaRound(items, body["@odata.deltaLink"], requests)
        if not isinstance(body.get("@odata.nextLink"), str):
            raise error_for(
                "GET",
                client.relative(url),
                GraphResponse(502, {}, {"error": {"message": "a delta page without a link"}}),
            )
        url = body["@odata.nextLink"]


def merge(
    objects: dict[str, dict[str, Any]],
    items: list[dict[str, Any]],
    kind: str,
    clean: Callable[[dict[str, Any]], dict[str, Any]],
) -> Saved:
    """Merges a round's `items` into `objects` (by lower-case id), as the module's docstring
    says; which keys it changed and which it removed."""
    changed: set[str] = set()
    removed: set[str] = set()
    for item in items:
        key = str(item["id"]).lower()
        if "@removed" in item:
            if objects.pop(key, None) is not None or key in changed:
                removed.add(key)
            changed.discard(key)
            continue
        before = objects.get(key)
        fields = {
            name: value
            for name, value in clean(item).items()
            if not name.endswith("@delta") and name != "@removed"
        }
        merged = {**before, **fields} if before is not None else fields
        if kind == "groups":
            merged["members"] = _members(
                before.get("members", []) if before else [], item.get("members@delta")
            )
        elif "manager@delta" in item:
            entries = item["manager@delta"] or []
            live = [e for e in entries if isinstance(e, dict) and "@removed" not in e]
            merged["manager"] = {"id": live[-1]["id"]} if live else None
        objects[key] = merged
        changed.add(key)
        removed.discard(key)
    return Saved(full=False, changed=frozenset(changed), removed=frozenset(removed))


def sync(
    client: GraphClient,
    kind: str,
    select: str,
    saved: KindState | None,
    clean: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    page_size: int,
    progress: Progress = NO_PROGRESS,
) -> tuple[KindState, Saved]:
    """This kind's objects now and its new deltaLink, and what changed: a delta round from
    `saved` (whose objects it updates in place) when it was made with the same `$select` and
    Graph still knows its token, else a full round. `progress` counts the objects read."""
    if saved is not None and saved.select == select:
        try:
            found = read_round(
                client,
                saved.delta_link,
                page_size=page_size,
                resumed=True,
                # a delta round lists only what changed: "3 changed users", not "3 users"
                counted=_counter(progress, f"changed {kind}"),
            )
        except TokenRefused:
            pass
        else:
            changes = merge(saved.objects, found.items, kind, clean)
            return KindState(select, found.delta_link, saved.objects), changes
    start = f"/{kind}/delta?$select={select}"
    for attempt in range(2):
        try:
            found = read_round(
                client, start, page_size=page_size, resumed=False, counted=_counter(progress, kind)
            )
            break
        except TokenRefused as exc:
            # the round's own nextLink expired under it: once more from the start
            if attempt:
                raise GraphError(f"Graph kept refusing GET /{kind}/delta: {exc}") from exc
    objects: dict[str, dict[str, Any]] = {}
    merge(objects, found.items, kind, clean)
    return KindState(select, found.delta_link, objects), Saved(full=True)


def _counter(progress: Progress, what: str) -> Callable[[int], None]:
    """Tells `progress` of each page of `what` read."""
    return lambda items: progress.advance(items, what=what)


def _members(before: list[str], delta: Any) -> list[str]:
    if not isinstance(delta, list):
        return list(before)
    members = {member.lower(): member for member in before}
    for entry in delta:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            continue
        if "@removed" in entry:
            members.pop(entry["id"].lower(), None)
        else:
            members.setdefault(entry["id"].lower(), entry["id"])
    return list(members.values())


def _refused_token(response: GraphResponse, from_token: bool) -> bool:
    """Whether the answer says the delta token is gone: start again with a full round."""
    if response.status == 410 or response.error_code.lower() in _RESTART_CODES:
        return True
    # a token Graph can't use (mangled, or made for another query) is a plain 400
    return from_token and response.status == 400
