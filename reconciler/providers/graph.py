"""The `graph` tenant source: a real Entra ID tenant through Microsoft Graph v1.0.

Reading (`read`): `/organization`, `/subscribedSkus`, `/users` and `/groups` are fetched at the
same time (a few threads), each page at `$top=999` and followed through `@odata.nextLink`; users
with a `$select` of every property the rule language can name plus the licensing ones, and
`$expand=manager($select=id)` for "Direct Reports" rules. Then every group's direct members,
their first pages 20 to a JSON batch. The pages become one snapshot document, checked and
converted by `tenant_from_document` as a snapshot file is. Given a `state_dir`, users and groups
come from delta queries instead, and a repeated read asks only for changes (graph_delta).

Writing (`apply`, `reprocess`) is graph_writes's.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Self, TypeVar

from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.changes import Change
from reconciler.providers.base import AppliedChange, ProviderError
from reconciler.providers.graph_auth import TokenSource, token_source
from reconciler.providers.graph_delta import DeltaState, KindState, state_path, sync
from reconciler.providers.graph_http import BATCH_LIMIT, GraphClient, GraphError, RetryPolicy
from reconciler.providers.graph_writes import SETTLE_TIMEOUT, GraphWriter
from reconciler.providers.snapshot import FORMAT_VERSION, tenant_from_document
from reconciler.rules.properties import PROPERTIES

__all__ = ["DEFAULT_GRAPH_URL", "GraphTenant", "open_graph", "user_select"]

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
PAGE_SIZE = 999  # Graph's largest page for users, groups and members
READ_THREADS = 4

_LICENSING_FIELDS = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation")
_LICENSING_LISTS = ("assignedLicenses", "licenseAssignmentStates")
GROUP_SELECT = (
    "id,displayName,description,groupTypes,securityEnabled,mailEnabled,mailNickname,"
    "membershipRule,membershipRuleProcessingState,assignedLicenses"
)
DELTA_GROUP_SELECT = f"{GROUP_SELECT},members"  # members@delta: who joined and who left
ORGANIZATION = "/organization?$select=id,displayName,countryLetterCode,verifiedDomains"
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
        self.writer = GraphWriter(self.client, settle_timeout=settle_timeout, sleep=sleep)
        # user properties this Graph said it doesn't have; not asked for again
        self.unknown: set[str] = set()
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
        return self.writer.apply(change)

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Entra's reprocessLicenseAssignment for each user; what failed, by user id."""
        return self.writer.reprocess(user_ids)

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
