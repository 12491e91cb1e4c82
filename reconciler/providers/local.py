"""The `local:PATH` tenant source: an embedded tenant in one SQLite file, written via the engine.

Schema (format 1): `meta(key, value)` holds formatVersion and the organization (JSON); `skus`,
`users`, `groups` and `devices` are each `(seq, id, doc)`. `doc` is the Graph-shaped object
exactly as the snapshot format has it (`snapshot_document` in, `tenant_from_document` out: one
conversion, one check); `id` is its object id (skuId for skus), unique regardless of case as
Graph's GUIDs are; `seq` keeps Graph's order, on which the engine's seat order depends. Every
write stores what `engine.recompute` settles, so the file always holds what Entra would show.
Every write also appends to Entra's directory audit log, in tables of its own (local_audit), and
keeps the changeIds of apply's audit log for the changes it made (local_journal: `recording`,
`recorded`).

Each `apply` is one `BEGIN IMMEDIATE` transaction. On top of that, an apply session holds an OS
lock on `<file>.lock` (flock on POSIX, msvcrt.locking on Windows) from its first apply until
`close`, so two applies can't interleave. An OS lock rather than a lock row: the OS releases it
when its process dies, so a crashed apply leaves no stale lock. The lock file stays in place:
deleting it could let two processes each lock a different file.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Self

import msgspec

from reconciler.audit import Clock, default_actor, utc_now
from reconciler.directory_audit import AuditQuery, DirectoryAudit, Initiator, reconciler_initiator
from reconciler.engine.licensing import recompute, settle_changes
from reconciler.engine.positions import differences
from reconciler.errors import InputError, Location, ReconcilerError
from reconciler.model import ERROR, Group, Tenant
from reconciler.plan.changes import (
    AddMembers,
    Change,
    CreateGroup,
    RemoveMembers,
    UpdateGroup,
    apply_to_groups,
)
from reconciler.private_files import private_dir, replacing
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.providers import local_audit, local_journal, snapshot
from reconciler.providers.base import (
    AppliedChange,
    ProviderError,
    TenantBusyError,
    collector_paused,
    real_id,
)
from reconciler.providers.local_lock import FileLock
from reconciler.providers.snapshot import (
    group_document,
    owned_tenant,
    read_snapshot,
    snapshot_document,
    tenant_from_parts,
    user_document,
)

__all__ = ["FORMAT_VERSION", "LocalTenant", "import_snapshot", "open_local"]

FORMAT_VERSION = 1
LOCK_TIMEOUT = 1.0  # seconds an apply waits for another to finish before giving up
BUSY_TIMEOUT = 5.0  # seconds one statement waits for another connection's transaction

# table -> (snapshot collection, the key holding the object id)
_TABLES = {
    "skus": ("subscribedSkus", "skuId"),
    "users": ("users", "id"),
    "groups": ("groups", "id"),
    "devices": ("devices", "id"),
}
_SCHEMA = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);\n" + "".join(
    f"CREATE TABLE {table} (seq INTEGER PRIMARY KEY, "
    "id TEXT NOT NULL COLLATE NOCASE UNIQUE, doc TEXT NOT NULL);\n"
    for table in _TABLES
)
_GROUP_FIELDS = frozenset(field.name for field in fields(Group)) - {"id"}

StrPath = str | os.PathLike[str]


class LocalTenant:
    """A tenant in one SQLite file; implements `Provider`."""

    def __init__(
        self,
        path: StrPath,
        *,
        lock_timeout: float = LOCK_TIMEOUT,
        initiator: Initiator | None = None,
        clock: Clock = utc_now,
        progress: Progress = NO_PROGRESS,
    ):
        self.path = Path(path)
        # who the directory audit log names as making this provider's writes (local_audit)
        self.initiator = initiator or reconciler_initiator(default_actor())
        self._clock = clock
        self.progress = progress
        self._lock_timeout = lock_timeout
        self._lock: FileLock | None = None
        # placeholder id (new:<name>) -> the id this provider gave the group it created
        self._created: dict[str, str] = {}
        # apply's changeIds for the changes of the next write (`recording`)
        self._recording: tuple[str, ...] = ()
        # (mark, tenant, rows) as this provider last read or wrote them: the next change starts
        # from there instead of parsing the whole file again, if no one has written since
        self._last: tuple[tuple[str | None, int], Tenant] | None = None
        if not self.path.is_file():
            message = "no local tenant here; `reconciler tenant import SNAPSHOT` creates one"
            raise InputError(message, Location(str(path)))
        with self._transaction("DEFERRED") as connection:
            _check_schema(connection, str(path))

    @classmethod
    def create(cls, path: StrPath, tenant: Tenant, *, replace: bool = False) -> LocalTenant:
        """A new local tenant at `path` holding `tenant` as Entra settles it."""
        if Path(path).exists() and not replace:
            raise InputError("a local tenant already exists here", Location(str(path)))
        _create(Path(path), tenant, LOCK_TIMEOUT, replace=True)
        return cls(path)

    def read(self) -> Tenant:
        """The tenant as stored: as this provider last wrote it, if no one has written since."""
        with self._transaction("DEFERRED") as connection:
            mark = self._mark(connection)
            if self._last is not None and self._last[0] == mark:
                return self._last[1]
            self.progress.stage(f"reading local tenant {self.path}")
            tenant = _load(connection, str(self.path))
            # the apply that follows a read starts from it rather than parsing the file again
            self._last = (mark, tenant)
            return tenant

    def revision(self) -> str | None:
        """A mark every change through this class makes anew; None before the first change."""
        with self._transaction("DEFERRED") as connection:
            return _revision(connection)

    def apply(self, change: Change) -> AppliedChange:
        """Make one change through the engine, in one transaction; starts an apply session."""
        return self.apply_together([change])[0]

    def apply_together(self, changes: Sequence[Change]) -> list[AppliedChange]:
        """Make several changes as one processing through the engine, in one transaction, as
        Entra processes one `assignLicense` call that adds and removes several products."""
        self._start_session()
        resolved: list[Change] = []
        change_ids, self._recording = self._recording, ()
        if change_ids and len(change_ids) != len(changes):
            raise ValueError(f"{len(change_ids)} change ids for {len(changes)} changes")

        def make(before: Tenant) -> Tenant:
            resolved.clear()
            for change in changes:
                resolved.append(self._resolve(change, before))
            groups = {group.id: group for group in before.groups}
            return settle_changes(before, apply_to_groups(groups, resolved))

        def made() -> list[tuple[str, str]]:
            return list(zip(change_ids, (done.groupId for done in resolved), strict=False))

        self._update(make, local_audit.change_records, made)
        for change, done in zip(changes, resolved, strict=True):
            if isinstance(change, CreateGroup):
                # only once committed: a CreateGroup that failed created nothing to refer to
                self._created[change.group.id] = done.groupId
        return [AppliedChange(done, done.groupId) for done in resolved]

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        """Entra's reprocessLicenseAssignment: the users' failed group assignments tried again,
        in one transaction; what failed, by user id."""
        self._start_session()
        wanted = {user_id.lower(): user_id for user_id in user_ids}
        failed: dict[str, str] = {}

        def retry(before: Tenant) -> Tenant:
            failed.clear()
            known = {user.id.lower() for user in before.users}
            failed.update({i: "no such user" for key, i in wanted.items() if key not in known})
            users = tuple(
                replace(
                    user,
                    licenseAssignmentStates=tuple(
                        s
                        for s in user.licenseAssignmentStates
                        if s.assignedByGroup is None or s.state != ERROR
                    ),
                )
                if user.id.lower() in wanted
                else user
                for user in before.users
            )
            return recompute(replace(before, users=users))

        self._update(retry, local_audit.reprocess_records(user_ids))
        return failed

    @contextmanager
    def recording(self, change_ids: Sequence[str]) -> Iterator[None]:
        """The next write in the block keeps `change_ids` (apply's audit log names its changes
        so, one id each) in its own transaction, so `recorded` tells for certain if it was made."""
        self._recording = tuple(change_ids)
        try:
            yield
        finally:
            self._recording = ()

    def recorded(self, change_ids: Sequence[str]) -> dict[str, str]:
        """Of `change_ids`, those a write made (`recording`), with the id of the group each
        changed: a created group's own."""
        with self._transaction("DEFERRED") as connection:
            return local_journal.journaled(connection, list(change_ids))

    def _start_session(self) -> None:
        """Takes the apply lock for the rest of the session, if not held already."""
        if self._lock is None:
            self._lock = FileLock(self.path, self._lock_timeout)

    def _update(
        self,
        make: Callable[[Tenant], Tenant],
        record: local_audit.Recorder,
        made: Callable[[], list[tuple[str, str]]] = list,
    ) -> None:
        """Stores `make(tenant)`, what `record` makes of it for the directory audit log, and
        the (changeId, groupId) pairs `made` then gives for apply's journal, in one transaction,
        starting from this provider's last write when no one has written since, rather than
        parsing the whole file again."""
        with collector_paused(), self._transaction("IMMEDIATE") as connection:
            mark = self._mark(connection)
            if self._last is not None and self._last[0] == mark:
                before = self._last[1]
            else:
                before = _load(connection, str(self.path))
            after = make(before)
            _write(connection, before, after)
            local_audit.append(connection, record(before, after, self.initiator, self._clock()))
            local_journal.journal(connection, made())
            written = str(uuid.uuid4())
            connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('revision', ?)", (written,)
            )
            mark = (written, mark[1])
        self._last = (mark, after)

    def directory_audits(self, query: AuditQuery) -> Iterator[DirectoryAudit]:
        """The directory audit records this tenant kept, newest first (Provider's contract)."""
        with self._transaction("DEFERRED") as connection:
            found = local_audit.select(connection, query, str(self.path))
        return iter(found)

    @contextmanager
    def acting_as(self, initiator: Initiator) -> Iterator[None]:
        """The block's writes are recorded as `initiator`'s (a user in the portal, an app)."""
        kept, self.initiator = self.initiator, initiator
        try:
            yield
        finally:
            self.initiator = kept

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Holds the apply lock for the block, so no other apply runs between a read and the
        applies after it; TenantBusyError if another holds it."""
        taken = self._lock is None
        self._start_session()
        try:
            yield
        finally:
            if taken:
                self.close()

    def close(self) -> None:
        """Ends the apply session, if any; the placeholder ids it created stay known."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _resolve(self, change: Change, tenant: Tenant) -> Change:
        """`change` with real ids: a new one for a created group, stored ones for the rest."""
        if isinstance(change, CreateGroup):
            if change.group.id in self._created:
                real = self._created[change.group.id]
                raise ProviderError(f"group {change.group.displayName} was created as {real}")
            return CreateGroup(replace(change.group, id=str(uuid.uuid4())))
        stored = {group.id.lower(): group.id for group in tenant.groups}
        group_id = stored.get(self._real_id(change.groupId).lower())
        if group_id is None:
            raise ProviderError(f"no group {change.displayName} ({change.groupId}) in the tenant")
        change = replace(change, groupId=group_id)
        if isinstance(change, UpdateGroup) and not change.values().keys() <= _GROUP_FIELDS:
            raise ProviderError(f"groups have no property {change.property!r}")
        if isinstance(change, AddMembers | RemoveMembers):
            members = tuple(self._real_id(member) for member in change.memberIds)
            known = _object_ids(tenant)
            missing = [m for m in members if m.lower() not in known]
            if isinstance(change, AddMembers) and missing:
                raise ProviderError(f"no object {', '.join(missing)} in the tenant to add")
            change = replace(change, memberIds=members)
        return change

    def _mark(self, connection: sqlite3.Connection) -> tuple[str | None, int]:
        """What tells the stored tenant from any other: the last write's revision, and the
        file's inode (a file replaced whole by `tenant import` has none yet)."""
        return _revision(connection), os.stat(self.path).st_ino

    def _real_id(self, object_id: str) -> str:
        return real_id(object_id, self._created)

    @contextmanager
    def _transaction(self, mode: str) -> Iterator[sqlite3.Connection]:
        """One connection, one transaction, committed at the end or rolled back whole."""
        file = str(self.path)
        # mode=rw: never create a database as a side effect of opening a wrong path
        uri = self.path.resolve().as_uri() + "?mode=rw"
        try:
            # isolation_level None: BEGIN and COMMIT are ours to issue
            connection = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT, isolation_level=None)
        except sqlite3.Error as exc:
            raise _translate(exc, file) from exc
        try:
            connection.execute(f"BEGIN {mode}")
            yield connection
            connection.execute("COMMIT")
        except BaseException as exc:
            # SQLite rolls back by itself after some errors; a second ROLLBACK would then fail
            if connection.in_transaction:
                connection.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error):
                raise _translate(exc, file) from exc
            raise
        finally:
            connection.close()


def open_local(
    path: StrPath,
    seed: StrPath | None = None,
    *,
    lock_timeout: float = LOCK_TIMEOUT,
    progress: Progress = NO_PROGRESS,
) -> LocalTenant:
    """The local tenant at `path`, created from the `seed` snapshot the first time; its reads
    are reported to `progress`."""
    if seed is not None and not Path(path).exists():
        tenant = read_snapshot(seed, progress=progress)
        progress.stage(f"writing local tenant {path}")
        _create(Path(path), tenant, lock_timeout, replace=False)
    return LocalTenant(path, lock_timeout=lock_timeout, progress=progress)


def import_snapshot(
    snapshot_path: StrPath, db_path: StrPath, *, progress: Progress = NO_PROGRESS
) -> LocalTenant:
    """(Re)creates the local tenant at `db_path` from a snapshot file, replacing any there."""
    tenant = read_snapshot(snapshot_path, progress=progress)
    progress.stage(f"writing local tenant {db_path}")
    return LocalTenant.create(db_path, tenant, replace=True)


# --- rows <-> tenant ------------------------------------------------------------------------


def _dumps(obj: Any) -> str:
    # msgspec's compact JSON: several times quicker than json's, and a write stores a row for
    # every user whose licenses it changes
    return msgspec.json.encode(obj).decode()


def _rows(tenant: Tenant) -> Iterator[tuple[str, Iterator[tuple[str, str]]]]:
    """The tenant's rows, table by table, (object id, doc text) made as they are written: a
    large tenant's documents at once would take as much memory as the tenant."""
    small = snapshot_document(replace(tenant, users=(), groups=()))
    for table, (collection, key) in _TABLES.items():
        if table == "users":
            docs = (user_document(user) for user in tenant.users)
        elif table == "groups":
            docs = (group_document(group) for group in tenant.groups)
        else:
            docs = iter(small.get(collection, ()))
        yield table, ((doc[key], _dumps(doc)) for doc in docs)


def _revision(connection: sqlite3.Connection) -> str | None:
    """A mark every write through `apply` changes; None in a file no apply has written yet."""
    row = connection.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
    return row[0] if row else None


def _load(connection: sqlite3.Connection, file: str) -> Tenant:
    """The stored tenant, checked as a snapshot is: a user at a time when all is well."""
    with collector_paused():
        head = _head(connection, file)
        users = (
            msgspec.json.decode(text)
            for (text,) in connection.execute("SELECT doc FROM users ORDER BY seq")
        )
        tenant = tenant_from_parts(head, users)
        if tenant is not None:
            return tenant
        # something is wrong: read it all again, to say what and where
        head["users"] = _documents(connection, "users", file)
        return owned_tenant(head, file)


def _head(connection: sqlite3.Connection, file: str) -> dict[str, Any]:
    """The stored tenant as a snapshot document, but its users."""
    meta = dict(connection.execute("SELECT key, value FROM meta"))
    head: dict[str, Any] = {
        "formatVersion": snapshot.FORMAT_VERSION,
        "organization": _parse(meta.get("organization", "null"), "meta organization", file),
    }
    for table, (collection, _key) in _TABLES.items():
        if table != "users":
            head[collection] = _documents(connection, table, file)
    return head


def _documents(connection: sqlite3.Connection, table: str, file: str) -> list[Any]:
    return [
        _parse(text, f"{table} row {object_id}", file)
        for object_id, text in connection.execute(f"SELECT id, doc FROM {table} ORDER BY seq")
    ]


def _parse(text: str, what: str, file: str) -> Any:
    try:
        return msgspec.json.decode(text)
    except (msgspec.MsgspecError, RecursionError):
        pass  # json has the last word: it reads what msgspec refuses (NaN, huge integers)
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise InputError(f"local tenant is damaged: {what} is not JSON", Location(file)) from exc


def _write(connection: sqlite3.Connection, before: Tenant, after: Tenant) -> None:
    """Writes the rows of what differs from `before` in `after`; a user or group the engine left
    as it was is the very same object, so a write costs what it changes, not the tenant's size.
    New rows go last, as Graph lists new objects."""
    _write_rows(connection, "skus", _sku_rows(before), _sku_rows(after))
    tables: tuple[tuple[str, Sequence[Any], Sequence[Any], Callable[[Any], dict]], ...] = (
        ("users", before.users, after.users, user_document),
        ("groups", before.groups, after.groups, group_document),
    )
    for table, old, new, write in tables:
        changed, removed = differences(old, new)
        connection.executemany(f"DELETE FROM {table} WHERE id = ?", [(o.id,) for o in removed])
        connection.executemany(
            f"UPDATE {table} SET doc = ? WHERE id = ?",
            [(_dumps(write(obj)), obj.id) for was, obj in changed if was is not None],
        )
        connection.executemany(
            f"INSERT INTO {table} (id, doc) VALUES (?, ?)",
            [(obj.id, _dumps(write(obj))) for was, obj in changed if was is None],
        )


def _sku_rows(tenant: Tenant) -> dict[str, str]:
    document = snapshot_document(replace(tenant, users=(), groups=()))
    return {sku["skuId"]: _dumps(sku) for sku in document["subscribedSkus"]}


def _write_rows(
    connection: sqlite3.Connection, table: str, before: dict[str, str], after: dict[str, str]
) -> None:
    """Writes `after`'s rows of a table that differ from `before`'s (by object id)."""
    connection.executemany(
        f"DELETE FROM {table} WHERE id = ?", [(i,) for i in before if i not in after]
    )
    connection.executemany(
        f"UPDATE {table} SET doc = ? WHERE id = ?",
        [(doc, i) for i, doc in after.items() if i in before and before[i] != doc],
    )
    connection.executemany(
        f"INSERT INTO {table} (id, doc) VALUES (?, ?)",
        [(i, doc) for i, doc in after.items() if i not in before],
    )


def _object_ids(tenant: Tenant) -> set[str]:
    """The ids of everything that can be a group member, in lower case."""
    devices = {str(device.get("id", "")).lower() for device in tenant.devices}
    return {obj.id.lower() for obj in (*tenant.users, *tenant.groups)} | devices


# --- the file -------------------------------------------------------------------------------


def _create(target: Path, tenant: Tenant, lock_timeout: float, *, replace: bool) -> None:
    """Writes `tenant` as Entra settles it to `target`; without `replace`, only if it's absent.
    The file and the folder made for it are private (private_files.py): it holds the tenant."""
    private_dir(target.parent)
    # the lock keeps a running apply from having its file replaced under it, and two first uses
    # from creating the file twice
    with closing(FileLock(target, lock_timeout)):
        if replace or not target.exists():
            _build(target, recompute(tenant))


def _check_schema(connection: sqlite3.Connection, file: str) -> None:
    """InputError unless the file holds a local tenant in the format this reconciler reads."""
    tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    missing = sorted({"meta", *_TABLES} - tables)
    if missing:
        message = f"not a reconciler local tenant: no table {', '.join(missing)}"
        raise InputError(message, Location(file))
    row = connection.execute("SELECT value FROM meta WHERE key = 'formatVersion'").fetchone()
    if row is None or row[0] != str(FORMAT_VERSION):
        version = row[0] if row else "unknown"
        message = f"local tenant format {version} is not supported; this one reads {FORMAT_VERSION}"
        raise InputError(message, Location(file))


def _build(target: Path, tenant: Tenant) -> None:
    """Writes a new database beside `target`, then puts it in place whole (0600, or narrower)."""
    try:
        with replacing(target) as temporary:
            connection = sqlite3.connect(temporary, isolation_level=None)
            try:
                connection.executescript(_SCHEMA)  # a new file: nobody sees it half made
                connection.execute("BEGIN")
                organization = _dumps(snapshot_document(tenant)["organization"])
                connection.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("formatVersion", str(FORMAT_VERSION)), ("organization", organization)],
                )
                for table, rows in _rows(tenant):
                    connection.executemany(f"INSERT INTO {table} (id, doc) VALUES (?, ?)", rows)
                connection.execute("COMMIT")
            finally:
                connection.close()
            # a journal left by a crashed writer of the old file would be rolled into the new one
            for suffix in ("-journal", "-wal", "-shm"):
                Path(f"{target}{suffix}").unlink(missing_ok=True)
    except sqlite3.Error as exc:
        raise _translate(exc, str(target)) from exc
    except OSError as exc:
        raise InputError(f"can't write file: {exc.strerror}", Location(str(target))) from exc


def _translate(exc: sqlite3.Error, file: str) -> ReconcilerError:
    """The reconciler error for a sqlite3 error on `file`."""
    name = getattr(exc, "sqlite_errorname", None)
    if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
        return InputError("not a local tenant: the file is damaged or not SQLite", Location(file))
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED"):
        return TenantBusyError(f"another process is writing the tenant in {file}")
    return ProviderError(f"local tenant {file}: {exc}")
