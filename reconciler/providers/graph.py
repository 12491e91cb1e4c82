"""The `graph` tenant source: a real Entra ID tenant through Microsoft Graph v1.0.

Reading (`read`): `/organization`, `/subscribedSkus`, `/users` and `/groups` are fetched at the
same time (a few threads), each page at `$top=999` and followed through `@odata.nextLink`; users
with a `$select` of every property the rule language can name plus the licensing ones, and
`$expand=manager($select=id)` for "Direct Reports" rules. Then every group's direct members,
their first pages 20 to a JSON batch. The pages become one snapshot document, checked and
converted by `tenant_from_document` as a snapshot file is. Given a `state_dir`, users and groups
come from delta queries instead, and a repeated read asks only for changes (graph_delta). A read
tells its `progress` how many users, groups and members it has read so far.

Writing (`apply`, `reprocess`) is graph_writes's; reading Entra's audit log, graph_audit's; the
temporary groups that have Entra evaluate a rule (`rule_probes`, for `reconciler verify`),
graph_verify's.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, TypeVar

from reconciler.directory_audit import AuditQuery, DirectoryAudit
from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.changes import Change
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.providers import graph_audit
from reconciler.providers.base import AppliedChange, ProviderError, collector_paused
from reconciler.providers.graph_auth import TokenSource, token_source
from reconciler.providers.graph_delta import sync
from reconciler.providers.graph_http import BATCH_LIMIT, GraphClient, GraphError, RetryPolicy
from reconciler.providers.graph_select import MANAGER, covering, user_properties
from reconciler.providers.graph_state import (
    DeltaState,
    DeltaStore,
    KindState,
    Saved,
    state_path,
)
from reconciler.providers.graph_verify import GraphRuleProbes, beta_url
from reconciler.providers.graph_writes import SETTLE_TIMEOUT, GraphWriter, ProcessingWait
from reconciler.providers.snapshot import FORMAT_VERSION, owned_tenant, tenant_from_document

__all__ = ["DEFAULT_GRAPH_URL", "GraphTenant", "open_graph"]

DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
PAGE_SIZE = 999  # Graph's largest page for users, groups and members
READ_THREADS = 4

GROUP_SELECT = (
    "id,displayName,description,groupTypes,securityEnabled,mailEnabled,mailNickname,"
    "membershipRule,membershipRuleProcessingState,assignedLicenses"
)
DELTA_GROUP_SELECT = f"{GROUP_SELECT},members"  # members@delta: who joined and who left
ORGANIZATION = "/organization?$select=id,displayName,countryLetterCode,verifiedDomains"
READING = "reading tenant from Microsoft Graph"  # the stages of a read, as progress names them
CHECKING = "checking the tenant Graph returned"
_T = TypeVar("_T")
_UNKNOWN_PROPERTY = re.compile(r"Could not find a property named '(\w+)' on type")


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
        rule_properties: Collection[str] | None = None,
        progress: Progress = NO_PROGRESS,
    ) -> None:
        self.url = url.rstrip("/")
        self._token = token or token_source(self.url)
        self._retry, self._sleep = retry, sleep
        self.client = GraphClient(self.url, self._token, retry=retry, sleep=sleep)
        self._probes: GraphRuleProbes | None = None  # made when first needed, then kept
        self.writer = GraphWriter(self.client, settle_timeout=settle_timeout, sleep=sleep)
        # user properties this Graph said it doesn't have; not asked for again
        self.unknown: set[str] = set()
        # where delta state is kept (`.reconciler/`); None: every read is a full one
        self.state_dir = Path(state_dir) if state_dir is not None else None
        # how the last read went: "full" or "delta" (users and groups both from deltaLinks)
        self.last_read: str | None = None
        # the user properties the policy's rules read; None: every one a rule can name
        self.rule_properties = None if rule_properties is None else frozenset(rule_properties)
        # hears how many users, groups and members each read has read so far
        self.progress = progress
        self._kept: _Kept | None = None

    # --- reading ----------------------------------------------------------------------------

    def read(self) -> Tenant:
        """The tenant as Graph shows it now; from delta rounds when there is a state folder."""
        with collector_paused():
            tenant = self._read_delta() if self.state_dir is not None else self._read_full()
        self.progress.done()
        return tenant

    def _read_full(self) -> Tenant:
        self.last_read = "full"
        client = self.client
        self.progress.stage(READING)
        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="graph-read") as pool:
            organization = pool.submit(lambda: list(client.pages(ORGANIZATION)))
            skus = pool.submit(lambda: list(client.pages("/subscribedSkus")))
            # the groups first: their rules say which user properties to read
            groups = list(
                client.pages(
                    f"/groups?$select={GROUP_SELECT}&$top={PAGE_SIZE}", self._counter("groups")
                )
            )
            users = pool.submit(self._users, user_properties(self.rule_properties, groups))
            members = self._members(pool, [group["id"] for group in groups])
            document = {
                "formatVersion": FORMAT_VERSION,
                "organization": _first(organization.result(), "organization"),
                "subscribedSkus": [_clean(sku) for sku in skus.result()],
                "users": [_user(user) for user in users.result()],
                "groups": [{**_clean(group), "members": members[group["id"]]} for group in groups],
            }
        self.progress.stage(CHECKING)
        # the document was made for this read alone: its users become the model's, not copies
        return owned_tenant(document, self.url)

    def _read_delta(self, *, full: bool = False) -> Tenant:
        """Users and groups from delta rounds, merged into the state saved last time (a full
        round where there is none to use); organization and SKUs read whole (graph_delta)."""
        assert self.state_dir is not None
        client = self.client
        # taken out while the rounds merge into it: a read that fails leaves nothing half-done
        kept, self._kept = self._kept, None
        self.progress.stage(READING)
        with ThreadPoolExecutor(READ_THREADS, thread_name_prefix="graph-read") as pool:
            skus = pool.submit(lambda: list(client.pages("/subscribedSkus")))
            organization = _first(list(client.pages(ORGANIZATION)), "organization")
            tenant_id = str(organization.get("id", ""))
            store = DeltaStore(state_path(self.state_dir, self.url, tenant_id))
            saved = None if full else _saved(store, kept, self.url, tenant_id)
            if saved is None:
                saved = _Kept(store.path, "", DeltaState(self.url, tenant_id), {})
            self.unknown |= set(saved.state.unknown_user_properties)
            kinds = saved.state.kinds
            groups = sync(
                client,
                "groups",
                DELTA_GROUP_SELECT,
                kinds.get("groups"),
                _clean,
                page_size=PAGE_SIZE,
                progress=self.progress,
            )
            wanted = user_properties(self.rule_properties, groups[0].objects.values())
            users = self._delta_users(wanted, kinds.get("users"))
            rounds = {"users": users, "groups": groups}
            subscribed = [_clean(sku) for sku in skus.result()]
        state = DeltaState(self.url, tenant_id, sorted(self.unknown))
        state.kinds = {kind: kept_kind for kind, (kept_kind, _) in rounds.items()}
        changes = {kind: what for kind, (_, what) in rounds.items()}
        self.progress.stage(CHECKING)
        try:
            tenant = _tenant(organization, subscribed, state, saved.models, changes, self.url)
        except InputError:
            if all(what.full for what in changes.values()):
                raise
            return self._read_delta(full=True)  # the saved objects didn't hold up: start over
        # a folder we can't write only costs the next read
        with contextlib.suppress(OSError, sqlite3.Error):
            self._kept = _Kept(store.path, store.save(state, changes), state, saved.models)
        # "delta" only when neither kind needed a full round
        self.last_read = "full" if any(what.full for what in changes.values()) else "delta"
        return tenant

    def _delta_users(self, wanted: list[str], saved: KindState | None) -> tuple[KindState, Saved]:
        """The users' round, going on from `saved` if its `$select` covers what is wanted."""
        known = [name for name in wanted if name not in self.unknown]
        names = covering(known, saved.select if saved is not None else None)
        return self._without_unknown(
            names,
            lambda select: sync(
                self.client,
                "users",
                select,
                saved,
                _user_clean,
                page_size=PAGE_SIZE,
                progress=self.progress,
            ),
        )

    def _users(self, names: list[str]) -> list[dict[str, Any]]:
        """Every user, with these properties (`manager` expanded)."""
        expand = f"&$expand={MANAGER}($select=id)" if MANAGER in names else ""
        return self._without_unknown(
            [name for name in names if name != MANAGER],
            lambda select: list(
                self.client.pages(
                    f"/users?$select={select}{expand}&$top={PAGE_SIZE}", self._counter("users")
                )
            ),
        )

    def _without_unknown(self, names: list[str], read: Callable[[str], _T]) -> _T:
        """`read(select)` with the properties this Graph knows, learning those it doesn't."""
        while True:
            select = ",".join(name for name in names if name not in self.unknown)
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
        counted = self._counter("members")
        for found in pool.map(lambda each: self.client.batch_pages(each, counted), slices):
            for gid, items in found.items():
                members[gid] = [item["id"] for item in items]
        return members

    def _counter(self, what: str) -> Callable[[int], None]:
        """Tells `progress` of each page of `what` read."""
        return lambda items: self.progress.advance(items, what=what)

    # --- writing ----------------------------------------------------------------------------

    def apply(self, change: Change) -> AppliedChange:
        """Make one change, wait (within reason) for Entra to process the group's licenses."""
        return self.writer.apply(change)

    def apply_together(self, changes: Sequence[Change]) -> list[AppliedChange]:
        """Several license changes of one group in one `assignLicense` call."""
        return self.writer.apply_together(changes)

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Entra's reprocessLicenseAssignment for each user; what failed, by user id."""
        return self.writer.reprocess(user_ids)

    def directory_audits(self, query: AuditQuery) -> Iterator[DirectoryAudit]:
        """Entra's audit records from `/auditLogs/directoryAudits`, newest first (graph_audit)."""
        return graph_audit.directory_audits(self.client, query)

    @property
    def rule_probes(self) -> GraphRuleProbes:
        """Temporary groups that have Entra evaluate a rule (graph_verify), for verify; one
        instance, so what it learnt of the groups' replication holds across calls."""
        if self._probes is None:
            # the same sign-in: the token's scope is the host's, whatever the version
            beta = GraphClient(
                beta_url(self.url), self._token, retry=self._retry, sleep=self._sleep
            )
            self._probes = GraphRuleProbes(self.client, beta, sleep=self._sleep)
        return self._probes

    def on_processing_wait(self, callback: Callable[[ProcessingWait], None]) -> None:
        """`callback` hears of each poll that finds a group's license processing unfinished."""
        self.writer.waiting = callback

    def close(self) -> None:
        self.client.close()
        if self._probes is not None:
            self._probes.beta.close()

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
    """A user as read, its `manager` null when Graph gave none."""
    return _with_manager(_user_clean(obj))


def _user_clean(obj: dict[str, Any]) -> dict[str, Any]:
    """A user from a delta round, as saved: `manager` only when the round says it."""
    user = _clean(obj)
    if "manager" in user:
        manager = user["manager"]
        user["manager"] = {"id": manager["id"]} if isinstance(manager, dict) else None
    return user


def _with_manager(user: dict[str, Any]) -> dict[str, Any]:
    """A copy of a cleaned user, with `manager` null if it has none."""
    return {"manager": None, **user}


@dataclass
class _Kept:
    """A delta read's state and the users and groups made of it, held between reads: the next
    read starts from them when the state file is still at `revision`, as this read left it."""

    path: Path
    revision: str
    state: DeltaState
    models: dict[str, dict[str, Any]]  # kind -> lower-case id -> User or Group


def _saved(store: DeltaStore, kept: _Kept | None, url: str, tenant_id: str) -> _Kept | None:
    """The state to start from: the one held in memory if the file is as it left it, else
    the file's (its objects not yet made into users and groups); None if there is none."""
    if kept is not None and kept.path == store.path and kept.revision == store.revision():
        return kept
    loaded = store.load(url, tenant_id)
    return None if loaded is None else _Kept(store.path, loaded[1], loaded[0], {})


def _tenant(
    organization: dict[str, Any],
    skus: list[dict[str, Any]],
    state: DeltaState,
    models: dict[str, dict[str, Any]],
    changes: dict[str, Saved],
    source: str,
) -> Tenant:
    """The tenant of a delta read: only the objects the read changed (or not made yet) are
    checked and made again, the rest are the ones made before; `models` is updated."""
    build: dict[str, list[str]] = {}
    for kind, what in changes.items():
        made = models.setdefault(kind, {})
        if what.full:
            made.clear()
        for key in what.removed:
            made.pop(key, None)
        objects = state.kinds[kind].objects
        build[kind] = [key for key in objects if key in what.changed or key not in made]
    users, groups = state.kinds["users"].objects, state.kinds["groups"].objects
    part = tenant_from_document(
        {
            "formatVersion": FORMAT_VERSION,
            "organization": organization,
            "subscribedSkus": skus,
            # saved users are clean already
            "users": [_with_manager(users[key]) for key in build["users"]],
            "groups": [groups[key] for key in build["groups"]],
        },
        source,
    )
    models["users"].update(zip(build["users"], part.users, strict=True))
    models["groups"].update(zip(build["groups"], part.groups, strict=True))
    return Tenant(
        organization=part.organization,
        subscribedSkus=part.subscribedSkus,
        users=tuple(models["users"][key] for key in users),
        groups=tuple(models["groups"][key] for key in groups),
    )


def _first(items: list[dict[str, Any]], what: str) -> dict[str, Any]:
    if not items:
        raise ProviderError(f"Graph returned no {what}")
    return _clean(items[0])
