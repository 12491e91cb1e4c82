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

The state file, one per Graph URL and tenant, under the config's `.reconciler/graph/`:

    {"format": "reconciler-graph-delta", "version": 1,
     "graphUrl": "https://graph.microsoft.com/v1.0", "tenantId": "...",
     "userProperties": "<the $select wanted>", "unknownUserProperties": ["..."],
     "users":  {"select": "<$select sent>", "deltaLink": "...", "objects": [{...}, ...]},
     "groups": {"select": "...", "deltaLink": "...", "objects": [{..., "members": [...]}]}}

It holds the deltaLinks (Graph's sync state for this `$select`, not a credential) and the users
and groups as last read, nothing else: no access token, no secret. It is written whole (a
temporary file, then a rename) only after a read succeeded.

A full read (a first round for both kinds) is done instead of a delta round when there is no
state file, when it can't be parsed or doesn't hold what it should, when it was for another
Graph URL, tenant or `$select`, or when Graph refuses the saved token (410 Gone, an error code
like `syncStateNotFound`, or a 400 on a round resumed from a saved link).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.providers.graph_http import GraphClient, GraphError, GraphResponse, error_for

__all__ = ["DeltaState", "KindState", "TokenRefused", "merge", "read_round", "state_path", "sync"]

FORMAT = "reconciler-graph-delta"
VERSION = 1
KINDS = ("users", "groups")
# error codes Graph answers a delta token it no longer has (or never had) with
_RESTART_CODES = frozenset(
    {"syncstatenotfound", "syncstateinvalid", "resyncrequired", "resyncapplicationrequired"}
)


class TokenRefused(Exception):
    """Graph no longer knows the saved delta token: start again with a full round."""


@dataclass
class KindState:
    """One kind's saved round: the `$select` it was made with, its deltaLink, its objects."""

    select: str
    delta_link: str
    objects: list[dict[str, Any]]


@dataclass
class DeltaState:
    """The saved state of one Graph URL and tenant (see the module's docstring)."""

    graph_url: str
    tenant_id: str
    user_properties: str
    unknown_user_properties: list[str] = field(default_factory=list)
    kinds: dict[str, KindState] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "graphUrl": self.graph_url,
            "tenantId": self.tenant_id,
            "userProperties": self.user_properties,
            "unknownUserProperties": sorted(self.unknown_user_properties),
            **{
                kind: {"select": s.select, "deltaLink": s.delta_link, "objects": s.objects}
                for kind, s in self.kinds.items()
            },
        }

    def save(self, path: Path) -> None:
        """Writes the state whole; a reader never sees half a file."""
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                # one dumps is the C encoder at full speed; dump to a file streams in Python
                out.write(json.dumps(self.document(), separators=(",", ":")))
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path, graph_url: str, tenant_id: str) -> DeltaState | None:
        """The state saved at `path` for this Graph and tenant; None if missing or unusable."""
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            return None
        if not (
            isinstance(document, dict)
            and document.get("format") == FORMAT
            and document.get("version") == VERSION
            and document.get("graphUrl") == graph_url
            and isinstance(document.get("tenantId"), str)
            and document["tenantId"].lower() == tenant_id.lower()
            and isinstance(document.get("userProperties"), str)
            and _strings(document.get("unknownUserProperties"))
        ):
            return None
        state = cls(
            graph_url,
            tenant_id,
            document["userProperties"],
            list(document["unknownUserProperties"]),
        )
        for kind in KINDS:
            saved = _kind_state(document.get(kind), graph_url, kind)
            if saved is None:
                return None
            state.kinds[kind] = saved
        return state


def state_path(folder: Path, graph_url: str, tenant_id: str) -> Path:
    """Where the state of this Graph URL and tenant is kept under `folder` (`.reconciler/`)."""
    key = hashlib.sha256(f"{graph_url}\n{tenant_id.lower()}".encode()).hexdigest()[:16]
    return folder / "graph" / f"delta-{key}.json"


@dataclass
class DeltaRound:
    """What one round gave: its items in order, its deltaLink, and the requests it took."""

    items: list[dict[str, Any]]
    delta_link: str
    requests: int


def read_round(client: GraphClient, start: str, *, page_size: int, resumed: bool) -> DeltaRound:
    """Every page of a round from `start`; TokenRefused if Graph refuses a resumed round's
    token (GraphError for anything else that fails)."""
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
        items += body.get("value") or ()
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
    saved: list[dict[str, Any]],
    items: list[dict[str, Any]],
    kind: str,
    clean: Callable[[dict[str, Any]], dict[str, Any]],
) -> list[dict[str, Any]]:
    """`saved` with a round's `items` merged in, as the module's docstring says."""
    objects = {obj["id"].lower(): obj for obj in saved}
    for item in items:
        key = str(item["id"]).lower()
        if "@removed" in item:
            objects.pop(key, None)
            continue
        before = objects.get(key)
        changed = {
            name: value
            for name, value in clean(item).items()
            if not name.endswith("@delta") and name != "@removed"
        }
        merged = {**before, **changed} if before is not None else changed
        if kind == "groups":
            merged["members"] = _members(
                before.get("members", []) if before else [], item.get("members@delta")
            )
        elif "manager@delta" in item:
            entries = item["manager@delta"] or []
            live = [e for e in entries if isinstance(e, dict) and "@removed" not in e]
            merged["manager"] = {"id": live[-1]["id"]} if live else None
        objects[key] = merged
    return list(objects.values())


def sync(
    client: GraphClient,
    kind: str,
    select: str,
    saved: KindState | None,
    clean: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    page_size: int,
) -> tuple[KindState, bool]:
    """This kind's objects now and its new deltaLink, and whether that took a full round:
    a delta round from `saved` when it was made with the same `$select` and Graph still knows
    its token, else a full round."""
    if saved is not None and saved.select == select:
        try:
            found = read_round(client, saved.delta_link, page_size=page_size, resumed=True)
        except TokenRefused:
            pass
        else:
            return KindState(
                select, found.delta_link, merge(saved.objects, found.items, kind, clean)
            ), False
    start = f"/{kind}/delta?$select={select}"
    for attempt in range(2):
        try:
            found = read_round(client, start, page_size=page_size, resumed=False)
            break
        except TokenRefused as exc:
            # the round's own nextLink expired under it: once more from the start
            if attempt:
                raise GraphError(f"Graph kept refusing GET /{kind}/delta: {exc}") from exc
    return KindState(select, found.delta_link, merge([], found.items, kind, clean)), True


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


def _kind_state(saved: Any, graph_url: str, kind: str) -> KindState | None:
    if not isinstance(saved, dict):
        return None
    select, link, objects = saved.get("select"), saved.get("deltaLink"), saved.get("objects")
    # the link must lead back to this Graph: the bearer token goes wherever it points
    if not (
        isinstance(select, str)
        and isinstance(link, str)
        and link.startswith(f"{graph_url}/{kind}/delta?")
        and isinstance(objects, list)
        and all(isinstance(o, dict) and isinstance(o.get("id"), str) for o in objects)
    ):
        return None
    if kind == "groups" and not all(_strings(o.get("members")) for o in objects):
        return None
    return KindState(select, link, objects)


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
