"""The emulator's tenant: a LocalTenant read through a cache, written through the engine.

Every write is a plan `Change` handed to `LocalTenant.apply`, so the engine settles memberships
and licenses exactly as for the local tenant. Reads come from a cache of the Graph-shaped
documents (`snapshot_document`), refreshed after our own writes and whenever someone else writes
the tenant: every LocalTenant write changes the `revision` in its `meta` table, which is what is
compared (not the file's mtime and size, which two quick writes of one size leave alike). Each
refresh that finds a difference is a new *version*; the store remembers at which version every
user and group last changed or went away, which is what delta queries answer from.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from reconciler.emulator.audit_log import caller
from reconciler.emulator.errors import GraphError, bad_request, not_found
from reconciler.engine.licensing import LicensingError
from reconciler.errors import ReconcilerError
from reconciler.model import Group, Tenant, User
from reconciler.plan.changes import Change
from reconciler.providers.base import AppliedChange, ProviderError
from reconciler.providers.local import LocalTenant
from reconciler.providers.snapshot import group_document, snapshot_document, user_document

KINDS = ("users", "groups")
# the licenseProcessingState a group shows while it still has reads to wait, and at the end
QUEUED, IN_PROGRESS = "QueuedForProcessing", "ProcessingInProgress"
COMPLETE, FAILED = "ProcessingComplete", "ProcessingFailed"


@dataclass
class State:
    """One consistent view of the tenant, Graph-shaped."""

    version: int
    tenant: Tenant
    organization: dict[str, Any]
    skus: list[dict[str, Any]]
    objects: dict[str, list[dict[str, Any]]]  # "users"/"groups" -> documents in Graph's order
    index: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)  # kind -> id -> doc
    upns: dict[str, dict[str, Any]] = field(default_factory=dict)
    member_of: dict[str, list[str]] = field(default_factory=dict)  # object id -> group ids
    groups_with_errors: set[str] = field(default_factory=set)

    def user(self, key: str) -> dict[str, Any]:
        found = self.index["users"].get(key.lower()) or self.upns.get(key.lower())
        if found is None:
            raise not_found(key)
        return found

    def group(self, key: str) -> dict[str, Any]:
        found = self.index["groups"].get(key.lower())
        if found is None:
            raise not_found(key)
        return found

    def directory_object(self, key: str) -> tuple[str, dict[str, Any]] | None:
        """(type name, document) of a user, group or device by id."""
        for kind, type_name in (("users", "user"), ("groups", "group"), ("devices", "device")):
            found = self.index.get(kind, {}).get(key.lower())
            if found is not None:
                return type_name, found
        return None


class Store:
    """Thread-safe access to the local tenant behind the emulator."""

    def __init__(self, tenant: LocalTenant, license_reads: int = 2) -> None:
        self.tenant = tenant
        self.license_reads = license_reads
        self.lock = threading.RLock()
        self._state: State | None = None
        self._stamp: tuple[object, ...] | None = None
        self._texts: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}
        self._ids: dict[str, dict[str, str]] = {kind: {} for kind in KINDS}  # lower -> stored
        self._dirty = True
        # kind -> lower-case id -> (user or group, its document, its text) as of the last refresh
        self._made: dict[str, dict[str, tuple[User | Group, dict[str, Any], str]]] = {
            "users": {},
            "groups": {},
        }
        # kind -> lower id -> version it last changed at; removed: -> (version, id as stored)
        self.changed: dict[str, dict[str, int]] = {kind: {} for kind in KINDS}
        self.removed: dict[str, dict[str, tuple[int, str]]] = {kind: {} for kind in KINDS}
        # group lower id -> [(version, members)], to answer members@delta
        self.members_history: dict[str, list[tuple[int, tuple[str, ...]]]] = {}
        # group lower id -> (reads still unfinished, the state shown after them)
        self._processing: dict[str, tuple[int, str]] = {}
        self.version = 0

    # --- reads --------------------------------------------------------------------------

    def state(self) -> State:
        with self.lock:
            stamp = self._file_stamp()
            if self._dirty or self._state is None or stamp != self._stamp:
                self._refresh(stamp)
            assert self._state is not None
            return self._state

    def _file_stamp(self) -> tuple[object, ...]:
        """What changes when anyone writes the tenant: its revision; for a file no apply has
        written yet (just created or imported), which file it is, its mtime and its size."""
        try:
            revision = self.tenant.revision()
        except ReconcilerError:
            revision = None  # being replaced or written: the file's stamp still tells
        if revision is not None:
            return ("revision", revision)
        info = os.stat(self.tenant.path)
        return ("file", info.st_ino, info.st_mtime_ns, info.st_size)

    def _refresh(self, stamp: tuple[object, ...]) -> None:
        tenant = self.tenant.read()
        document = snapshot_document(replace(tenant, users=(), groups=()))
        users = self._documents("users", tenant.users, user_document)
        groups = self._documents("groups", tenant.groups, group_document)
        document["users"] = [doc for _, doc, _ in users.values()]
        document["groups"] = [doc for _, doc, _ in groups.values()]
        texts = {
            "users": {key: text for key, (_, _, text) in users.items()},
            "groups": {key: text for key, (_, _, text) in groups.items()},
        }
        first = self._state is None
        differs = any(texts[kind] != self._texts[kind] for kind in KINDS)
        if first or differs:
            self.version += 1
        if not first:
            for kind in KINDS:
                self._record(kind, document[kind], texts[kind])
        self._texts = texts
        self._ids = {
            kind: {doc["id"].lower(): doc["id"] for doc in document[kind]} for kind in KINDS
        }
        for group in document["groups"]:
            history = self.members_history.setdefault(group["id"].lower(), [])
            members = tuple(group.get("members", ()))
            if not history or history[-1][1] != members:
                history.append((self.version, members))
        self._state = _build_state(self.version, tenant, document)
        self._stamp = stamp
        self._dirty = False

    def _documents(
        self, kind: str, objects: Sequence[User | Group], make: Callable[[Any], dict[str, Any]]
    ) -> dict[str, tuple[User | Group, dict[str, Any], str]]:
        """Each user's (or group's) document and text by lower-case id; one the engine left as
        it was (the same object) keeps those made before: a large tenant's users and groups
        are most of the work, and a write changes few."""
        before = self._made[kind]
        made: dict[str, tuple[User | Group, dict[str, Any], str]] = {}
        for obj in objects:
            key = obj.id.lower()
            found = before.get(key)
            if found is None or found[0] is not obj:
                doc = make(obj)
                found = (obj, doc, json.dumps(doc, sort_keys=True))
            made[key] = found
        self._made[kind] = made
        return made

    def _record(self, kind: str, docs: list[dict[str, Any]], texts: dict[str, str]) -> None:
        before = self._texts[kind]
        for key, text in texts.items():
            if before.get(key) != text:
                self.changed[kind][key] = self.version
                self.removed[kind].pop(key, None)
        for key in before.keys() - texts.keys():
            self.removed[kind][key] = (self.version, self._ids[kind].get(key, key))
            self.changed[kind].pop(key, None)

    def processing_state(self, group_id: str, *, advance: bool = True) -> str:
        """The group's licenseProcessingState; each read of it counts towards completion."""
        with self.lock:
            key = group_id.lower()
            remaining, final = self._processing.get(key, (0, COMPLETE))
            if remaining <= 0:
                return final
            shown = QUEUED if remaining == self.license_reads else IN_PROGRESS
            if advance:
                self._processing[key] = (remaining - 1, final)
            return shown

    def start_processing(self, group_id: str, *, failed: bool = False) -> None:
        """Entra queues the group's license processing; it ends ProcessingFailed if `failed`."""
        with self.lock:
            final = FAILED if failed else COMPLETE
            self._processing[group_id.lower()] = (self.license_reads, final)

    # --- writes -------------------------------------------------------------------------

    def apply(self, changes: Iterable[Change], together: bool = False) -> list[AppliedChange]:
        """Applies the changes in order through the engine, or `together` as one processing;
        a refusal becomes a GraphError."""
        with self.lock:
            try:
                # the directory audit log names the request's caller as making the change
                with self.tenant.lock(), self.tenant.acting_as(caller()):
                    if together:
                        applied = self.tenant.apply_together(list(changes))
                    else:
                        applied = [self.tenant.apply(change) for change in changes]
            except LicensingError as exc:
                raise bad_request(exc.message) from exc
            except ProviderError as exc:
                raise bad_request(exc.message) from exc
            except ReconcilerError as exc:
                raise bad_request(exc.message) from exc
            finally:
                self._dirty = True
            return applied

    def reprocess(self, user_id: str) -> None:
        """Entra's reprocessLicenseAssignment: the user's failed group assignments tried again."""
        with self.lock:
            try:
                with self.tenant.lock(), self.tenant.acting_as(caller()):
                    self.tenant.reprocess([user_id])
            except ReconcilerError as exc:
                raise GraphError(500, "InternalServerError", exc.message) from exc
            finally:
                self._dirty = True


def _build_state(version: int, tenant: Tenant, document: dict[str, Any]) -> State:
    organization = document["organization"]
    skus = [
        {"id": f"{organization['id']}_{sku['skuId']}", **sku} for sku in document["subscribedSkus"]
    ]
    objects = {kind: document[kind] for kind in KINDS}
    index = {kind: {doc["id"].lower(): doc for doc in docs} for kind, docs in objects.items()}
    index["devices"] = {
        str(device.get("id", "")).lower(): device for device in document.get("devices", ())
    }
    member_of: dict[str, list[str]] = {}
    for group in objects["groups"]:
        for member in group.get("members", ()):
            member_of.setdefault(member.lower(), []).append(group["id"])
    errors = {
        state["assignedByGroup"].lower()
        for user in objects["users"]
        for state in user.get("licenseAssignmentStates", ())
        if state.get("assignedByGroup") and state.get("error") not in (None, "None")
    }
    return State(
        version=version,
        tenant=tenant,
        organization=organization,
        skus=skus,
        objects=objects,
        index=index,
        upns={doc["userPrincipalName"].lower(): doc for doc in objects["users"]},
        member_of=member_of,
        groups_with_errors=errors,
    )
