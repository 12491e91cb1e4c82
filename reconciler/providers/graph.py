"""The `graph` tenant source: a real Entra ID tenant through Microsoft Graph v1.0.

Reading (`read`): `/organization`, `/subscribedSkus`, `/users` and `/groups` are fetched at the
same time (a few threads), each page at `$top=999` and followed through `@odata.nextLink`; users
with a `$select` of every property the rule language can name plus the licensing ones, and
`$expand=manager($select=id)` for "Direct Reports" rules. Then every group's direct members,
their first pages 20 to a JSON batch. The pages become one snapshot document, checked and
converted by `tenant_from_document` as a snapshot file is. Given a `state_dir`, users and groups
come from delta queries instead, and a repeated read asks only for changes (graph_delta).

Writing (`apply`): one change at a time, as `apply.py` orders them.

| change             | requests                                                               |
|--------------------|------------------------------------------------------------------------|
| CreateGroup        | POST /groups                                                           |
| UpdateGroup        | PATCH /groups/{id} with its property (and `also`, in one request)      |
| AddMembers         | PATCH /groups/{id} `members@odata.bind` (20 a request), 20 to a batch  |
| RemoveMembers      | DELETE /groups/{id}/members/{member}/$ref, 20 to a batch               |
| Add/Change/Remove  | POST /groups/{id}/assignLicense                                        |
| DeleteGroup        | DELETE /groups/{id}                                                    |

The requests of one change in one batch depend on each other in turn (`dependsOn`), so Graph
runs them in order. Re-applying is harmless: "already a member", a member already gone, a group
already deleted and a license already as wanted all count as done. Entra refusing a change
(400: deleting a licensed group, adding members to a dynamic group, a license it won't assign)
is a LicensingError; anything else that fails is a ProviderError (see graph_http).

Entra processes a group's licenses in the background. After a change that makes it do so,
`apply` polls the group's `licenseProcessingState` until `ProcessingComplete`, for at most
`settle_timeout` seconds; past that it returns `settled=False`, as the Provider protocol allows.

Placeholder ids (`new:<name>`) of groups created in this session are replaced by the real ids
Graph gave them, as the local tenant does.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, Self, TypeVar
from urllib.parse import quote

from reconciler.engine.licensing import LicensingError
from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
    reprocesses,
)
from reconciler.providers.base import AppliedChange, ProviderError, real_id
from reconciler.providers.graph_auth import TokenSource, token_source
from reconciler.providers.graph_delta import DeltaState, KindState, state_path, sync
from reconciler.providers.graph_http import (
    BATCH_LIMIT,
    BatchItem,
    GraphClient,
    GraphError,
    GraphResponse,
    RetryPolicy,
    error_for,
)
from reconciler.providers.snapshot import FORMAT_VERSION, tenant_from_document
from reconciler.rules.properties import PROPERTIES

__all__ = ["DEFAULT_GRAPH_URL", "GraphTenant", "open_graph", "user_select"]

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
PAGE_SIZE = 999  # Graph's largest page for users, groups and members
READ_THREADS = 4
SETTLE_TIMEOUT = 600.0  # seconds apply waits for Entra to process a group's licenses
BIND_LIMIT = 20  # members in one `members@odata.bind`

_LICENSING_FIELDS = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation")
_LICENSING_LISTS = ("assignedLicenses", "licenseAssignmentStates")
GROUP_SELECT = (
    "id,displayName,description,groupTypes,securityEnabled,mailEnabled,mailNickname,"
    "membershipRule,membershipRuleProcessingState,assignedLicenses"
)
DELTA_GROUP_SELECT = f"{GROUP_SELECT},members"  # members@delta: who joined and who left
ORGANIZATION = "/organization?$select=id,displayName,countryLetterCode,verifiedDomains"
_GROUP_PROPERTIES = frozenset(GROUP_SELECT.split(",")) - {"id", "assignedLicenses"}
_PROCESSING_DONE = frozenset({"ProcessingComplete", "ProcessingFailed"})
# changes after which Entra processes the group's licenses again
_T = TypeVar("_T")
_UNKNOWN_PROPERTY = re.compile(r"Could not find a property named '(\w+)' on type")


def user_select() -> str:
    """The user properties read: licensing's, then every one a rule can name, in Graph's names."""
    names = list(_LICENSING_FIELDS)
    for spec in PROPERTIES["user"].values():
        name = spec.graph_path[0]
        # memberOf comes from the groups' members; manager is expanded, not selected
        if name not in names and name not in ("memberOf", "manager"):
            names.append(name)
    return ",".join([*names, *_LICENSING_LISTS])


class GraphTenant:
    """A tenant behind Microsoft Graph; implements `Provider`."""

    def __init__(
        self,
        url: str = DEFAULT_GRAPH_URL,
        *,
        token: TokenSource | None = None,
        retry: RetryPolicy | None = None,
        settle_timeout: float = SETTLE_TIMEOUT,
        sleep: Callable[[float], None] = time.sleep,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.client = GraphClient(
            self.url, token or token_source(self.url), retry=retry, sleep=sleep
        )
        self.settle_timeout = settle_timeout
        # user properties this Graph said it doesn't have; not asked for again
        self.unknown: set[str] = set()
        self._sleep = sleep
        # placeholder id (new:<name>) -> the id Graph gave the group created in this session
        self._created: dict[str, str] = {}
        # where delta state is kept (`.reconciler/`); None: every read is a full one
        self.state_dir = Path(state_dir) if state_dir is not None else None
        # how the last read went: "full" or "delta" (users and groups both from deltaLinks)
        self.last_read: str | None = None

    # --- reading ----------------------------------------------------------------------------

    def read(self) -> Tenant:
        """The tenant as Graph shows it now; from delta rounds when there is a state folder."""
        if self.state_dir is not None:
            return self._read_delta()
        self.last_read = "full"
        client = self.client
        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="graph-read") as pool:
            organization = pool.submit(lambda: list(client.pages(ORGANIZATION)))
            skus = pool.submit(lambda: list(client.pages("/subscribedSkus")))
            users = pool.submit(self._users)
            groups = list(client.pages(f"/groups?$select={GROUP_SELECT}&$top={PAGE_SIZE}"))
            members = self._members(pool, [group["id"] for group in groups])
            document = {
                "formatVersion": FORMAT_VERSION,
                "organization": _first(organization.result(), "organization"),
                "subscribedSkus": [_clean(sku) for sku in skus.result()],
                "users": [_user(user) for user in users.result()],
                "groups": [{**_clean(group), "members": members[group["id"]]} for group in groups],
            }
        return tenant_from_document(document, self.url)

    def _read_delta(self, *, full: bool = False) -> Tenant:
        """Users and groups from delta rounds, merged into the state saved last time (a full
        round where there is none to use); organization and SKUs read whole (graph_delta)."""
        assert self.state_dir is not None
        client = self.client
        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="graph-read") as pool:
            skus = pool.submit(lambda: list(client.pages("/subscribedSkus")))
            organization = _first(list(client.pages(ORGANIZATION)), "organization")
            tenant_id = str(organization.get("id", ""))
            path = state_path(self.state_dir, self.url, tenant_id)
            wanted = user_select()
            saved = None if full else DeltaState.load(path, self.url, tenant_id)
            if saved is not None and saved.user_properties == wanted:
                self.unknown |= set(saved.unknown_user_properties)
            kinds = saved.kinds if saved is not None and saved.user_properties == wanted else {}
            users = pool.submit(self._delta_users, kinds.get("users"))
            groups, groups_full = sync(
                client,
                "groups",
                DELTA_GROUP_SELECT,
                kinds.get("groups"),
                _clean,
                page_size=PAGE_SIZE,
            )
            (users, users_full) = users.result()
            document = {
                "formatVersion": FORMAT_VERSION,
                "organization": organization,
                "subscribedSkus": [_clean(sku) for sku in skus.result()],
                "users": [_user(user) for user in users.objects],
                "groups": groups.objects,
            }
        fresh = users_full and groups_full
        try:
            tenant = tenant_from_document(document, self.url)
        except InputError:
            if fresh:
                raise
            return self._read_delta(full=True)  # the saved objects didn't hold up: start over
        state = DeltaState(
            self.url, tenant_id, wanted, sorted(self.unknown), {"users": users, "groups": groups}
        )
        with contextlib.suppress(OSError):  # a folder we can't write only costs the next read
            state.save(path)
        # "delta" only when neither kind needed a full round
        self.last_read = "full" if users_full or groups_full else "delta"
        return tenant

    def _delta_users(self, saved: KindState | None) -> tuple[KindState, bool]:
        """The users' round; a property this Graph doesn't know is left out, as in `_users`."""
        return self._without_unknown(
            lambda select: sync(
                self.client, "users", f"{select},manager", saved, _user_clean, page_size=PAGE_SIZE
            )
        )

    def _users(self) -> list[dict[str, Any]]:
        """Every user; a property this Graph doesn't know is left out of `$select` and noted."""
        return self._without_unknown(
            lambda select: list(
                self.client.pages(
                    f"/users?$select={select}&$expand=manager($select=id)&$top={PAGE_SIZE}"
                )
            )
        )

    def _without_unknown(self, read: Callable[[str], _T]) -> _T:
        """`read(select)` with the user properties this Graph knows, learning those it doesn't."""
        while True:
            select = ",".join(n for n in user_select().split(",") if n not in self.unknown)
            try:
                return read(select)
            except GraphError as exc:
                unknown = _UNKNOWN_PROPERTY.search(exc.message)
                if exc.status != 400 or unknown is None or unknown.group(1) in self.unknown:
                    raise
                # a cloud or an emulator without the property: rules can't use it there
                self.unknown.add(unknown.group(1))

    def _members(self, pool: ThreadPoolExecutor, group_ids: list[str]) -> dict[str, list[str]]:
        """Each group's direct member ids; the batches split among the threads."""
        paths = {gid: f"/groups/{gid}/members?$select=id&$top={PAGE_SIZE}" for gid in group_ids}
        size = max(BATCH_LIMIT, -(-len(paths) // READ_THREADS // BATCH_LIMIT) * BATCH_LIMIT)
        keys = list(paths)
        slices = [{k: paths[k] for k in keys[i : i + size]} for i in range(0, len(keys), size)]
        members: dict[str, list[str]] = {}
        for found in pool.map(self.client.batch_pages, slices):
            for gid, items in found.items():
                members[gid] = [item["id"] for item in items]
        return members

    # --- writing ----------------------------------------------------------------------------

    def apply(self, change: Change) -> AppliedChange:
        """Make one change, wait (within reason) for Entra to process the group's licenses."""
        if isinstance(change, CreateGroup):
            return AppliedChange(*self._create(change))
        change = replace(change, groupId=self._real_id(change.groupId))
        group = change.groupId
        if isinstance(change, UpdateGroup):
            values = change.values()
            unknown = [name for name in values if name not in _GROUP_PROPERTIES]
            if unknown:
                raise ProviderError(f"groups have no property {unknown[0]!r} to change")
            body = {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}
            self._write(change, "PATCH", f"/groups/{group}", body)
        elif isinstance(change, AddMembers | RemoveMembers):
            members = tuple(self._real_id(member) for member in change.memberIds)
            change = replace(change, memberIds=members)
            self._members_change(change)
        elif isinstance(change, AddLicense | ChangeDisabledPlans | RemoveLicense):
            self._license(change)
        elif isinstance(change, DeleteGroup):
            response = self.client.send("DELETE", f"/groups/{group}")
            if not response.ok and response.status != 404:  # 404: deleted already
                raise _refusal(change, "DELETE", f"/groups/{group}", response)
        settled = self._settle(group) if reprocesses(change) else True
        return AppliedChange(change, group, settled)

    def _create(self, change: CreateGroup) -> tuple[Change, str]:
        placeholder = change.group.id
        if placeholder in self._created:
            real = self._created[placeholder]
            raise ProviderError(f"group {change.displayName} was created as {real}")
        group = change.group
        body: dict[str, Any] = {
            "displayName": group.displayName,
            "mailNickname": group.mailNickname or _nickname(group.displayName),
            "mailEnabled": group.mailEnabled,
            "securityEnabled": group.securityEnabled,
            "groupTypes": list(group.groupTypes),
        }
        for name in ("description", "membershipRule", "membershipRuleProcessingState"):
            if getattr(group, name) is not None:
                body[name] = getattr(group, name)
        try:
            response = self.client.send("POST", "/groups", json=body, idempotent=False)
        except GraphError:
            # the connection dropped: the group may have been made; don't make it twice
            response = self._find_group(group.displayName) or self.client.send(
                "POST", "/groups", json=body, idempotent=False
            )
        if not response.ok:
            raise _refusal(change, "POST", "/groups", response, body)
        real = response.body["id"]
        self._created[placeholder] = real
        return CreateGroup(replace(group, id=real)), real

    def _write(self, change: Change, method: str, url: str, body: Any) -> None:
        response = self.client.send(method, url, json=body)
        if not response.ok:
            raise _refusal(change, method, url, response, body)

    def _find_group(self, name: str) -> GraphResponse | None:
        quoted = name.replace("'", "''")
        # encoded, so a name with '&' or '#' stays one filter
        condition = quote(f"displayName eq '{quoted}'", safe="")
        found = self.client.call("GET", f"/groups?$filter={condition}&$select=id")
        value = (found.body or {}).get("value") or []
        return GraphResponse(201, {}, value[0]) if len(value) == 1 else None

    def _members_change(self, change: AddMembers | RemoveMembers) -> None:
        group = change.groupId
        ids = list(change.memberIds)
        requests: list[tuple[str, str, Any]]
        if isinstance(change, AddMembers):
            requests = [
                ("PATCH", f"/groups/{group}", {"members@odata.bind": [self._ref(m) for m in chunk]})
                for chunk in (ids[i : i + BIND_LIMIT] for i in range(0, len(ids), BIND_LIMIT))
            ]
        else:
            requests = [("DELETE", f"/groups/{group}/members/{m}/$ref", None) for m in ids]
        self._run(change, requests)

    def _ref(self, object_id: str) -> str:
        return f"{self.url}/directoryObjects/{object_id}"

    def _run(self, change: Change, requests: list[tuple[str, str, Any]]) -> None:
        """Sends `requests`, 20 to a batch; what's already done counts as done.

        Member requests don't depend on each other, so none waits for another (`dependsOn`):
        one already done costs nothing more than its own answer.
        """
        queue = list(requests)
        while queue:
            chunk, queue = queue[:BATCH_LIMIT], queue[BATCH_LIMIT:]
            items = [
                BatchItem(str(n), method, url, body, ())
                for n, (method, url, body) in enumerate(chunk)
            ]
            answers = self.client.batch(items)
            again: list[tuple[str, str, Any]] = []
            for n, (method, url, body) in enumerate(chunk):
                answer = answers[str(n)]
                binds = body.get("members@odata.bind", ()) if isinstance(body, dict) else ()
                # a bind of several refused as "already exists" added none of them: split it
                if answer.ok or (_already(method, answer) and len(binds) <= 1):
                    continue
                if answer.status == 424:  # a request it depended on failed; try it again
                    again.append((method, url, body))
                elif method == "PATCH" and answer.status == 400 and len(binds) > 1:
                    # one bind failed, so none was made: add them one by one, to see which
                    again += [
                        ("POST", f"{url}/members/$ref", {"@odata.id": ref})
                        for ref in body["members@odata.bind"]
                    ]
                else:
                    raise _refusal(change, method, url, answer, body)
            queue = again + queue

    def _license(self, change: AddLicense | ChangeDisabledPlans | RemoveLicense) -> None:
        group = change.groupId
        if isinstance(change, RemoveLicense):
            body: dict[str, Any] = {"addLicenses": [], "removeLicenses": [change.skuId]}
            wanted = None
        else:
            sku = change.license.skuId if isinstance(change, AddLicense) else change.skuId
            plans = change.license.disabledPlans if isinstance(change, AddLicense) else change.after
            wanted = {"skuId": sku, "disabledPlans": sorted(plans)}
            body = {"addLicenses": [wanted], "removeLicenses": []}
        url = f"/groups/{group}/assignLicense"
        response = self.client.send("POST", url, json=body, idempotent=True)
        if response.ok:
            return
        if response.status == 400 and self._license_is(group, change, wanted):
            return  # re-applied: the group already assigns it so (or no longer does)
        raise _refusal(change, "POST", url, response, body)

    def _license_is(self, group: str, change: Change, wanted: dict[str, Any] | None) -> bool:
        found = self.client.call("GET", f"/groups/{group}?$select=id,assignedLicenses").body
        assigned = {
            item["skuId"].lower(): sorted(p.lower() for p in item.get("disabledPlans", ()))
            for item in (found or {}).get("assignedLicenses", ())
        }
        if wanted is None:
            return change.skuId.lower() not in assigned  # type: ignore[union-attr]
        plans = sorted(p.lower() for p in wanted["disabledPlans"])
        return assigned.get(wanted["skuId"].lower()) == plans

    def _settle(self, group: str) -> bool:
        """Whether Entra finished processing the group's licenses within the timeout."""
        deadline = time.monotonic() + self.settle_timeout
        pause = 0.1
        while True:
            response = self.client.send("GET", f"/groups/{group}?$select=id,licenseProcessingState")
            if response.status == 404:
                return True  # gone: nothing left to process
            if not response.ok:
                raise error_for("GET", f"/groups/{group}", response)
            state = (response.body or {}).get("licenseProcessingState")
            # the docs show both an object {"state": ...} and a bare string
            state = state.get("state") if isinstance(state, dict) else state
            if state is None or state in _PROCESSING_DONE:
                return True
            if time.monotonic() + pause > deadline:
                return False
            self._sleep(pause)
            pause = min(pause * 2, 5.0)

    def _real_id(self, object_id: str) -> str:
        return real_id(object_id, self._created)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def open_graph(url: str | None = None, **kwargs: Any) -> GraphTenant:
    """The Graph tenant at `url` (default: Microsoft's global cloud)."""
    return GraphTenant(url or DEFAULT_GRAPH_URL, **kwargs)


# --- helpers --------------------------------------------------------------------------------


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """A Graph object without its OData annotations."""
    return {key: value for key, value in obj.items() if not key.startswith("@odata.")}


def _user(obj: dict[str, Any]) -> dict[str, Any]:
    user = _clean(obj)
    manager = user.get("manager")
    user["manager"] = {"id": manager["id"]} if isinstance(manager, dict) else None
    return user


def _user_clean(obj: dict[str, Any]) -> dict[str, Any]:
    """A user from a delta round, as saved: `manager` only when the round says it."""
    user = _clean(obj)
    if "manager" in user:
        manager = user["manager"]
        user["manager"] = {"id": manager["id"]} if isinstance(manager, dict) else None
    return user


def _first(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if not items:
        raise ProviderError(f"Graph returned no {what}")
    return _clean(items[0])


def _nickname(display_name: str) -> str:
    """A mailNickname Graph accepts: ASCII, none of @()\\[]";:<>,. or spaces, at most 64."""
    bad = set('@()\\[]";:<>,. ')
    text = "".join(c for c in display_name if c.isascii() and c not in bad and c.isprintable())
    return (text or "group")[:64]


def _already(method: str, answer: GraphResponse) -> bool:
    """Whether a failed member request only says it had been done before."""
    if method == "DELETE":
        return answer.status == 404  # not a member (anymore)
    return answer.status == 400 and "already exist" in answer.error_message.lower()


def _refusal(
    change: Change, method: str, url: str, answer: GraphResponse, body: Any = None
) -> ProviderError | LicensingError:
    """LicensingError when Entra refuses the change itself (400), else the request's error."""
    error = error_for(method, url, answer, body)
    if answer.status == 400:
        said = answer.error_message or "the change was refused"
        return LicensingError(f"Entra refused the change to group {change.displayName}: {said}")
    return error
