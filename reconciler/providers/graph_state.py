"""The Graph provider's delta state, kept between reads: one SQLite file per Graph URL and tenant.

`.reconciler/graph/delta-<key>.db` holds two tables:

    meta(key, value)                      format, version, graphUrl, tenantId,
                                          unknownUserProperties (a JSON list), revision, and
                                          per kind `<kind>.select` and `<kind>.deltaLink`
    objects(kind, key, position, document)  the users and groups as last read: Graph's JSON, in
                                          Graph's order (`position`), keyed by lower-case id

It holds the deltaLinks (Graph's sync state for a `$select`, not a credential) and the objects,
nothing else: no access token, no secret. A read that ends a full round rewrites that kind; a
delta round writes only the objects it changed or removed, so saving costs what changed, not
the tenant. Every save sets a new `revision`: a provider that wrote the file last and finds its
own revision there can keep using the objects it holds in memory.

Whatever can't be trusted (not SQLite, another format or version, another Graph URL or tenant,
a link leading elsewhere, a row that isn't an object with an id) makes `load` answer None, and
the provider reads everything again.

The file holds the tenant's users and groups, so it is private, in a private folder
(private_files.py): made 0600 in a 0700 `.reconciler/graph/`, less what the umask takes away.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import uuid
from collections.abc import Iterable
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.errors import InputError
from reconciler.private_files import private_dir, replacing

__all__ = ["DeltaState", "DeltaStore", "KindState", "Saved", "state_path"]

FORMAT = "reconciler-graph-delta"
VERSION = 2
KINDS = ("users", "groups")
_TIMEOUT = 30.0  # seconds to wait for another reconciler saving the same state

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    position INTEGER NOT NULL,
    document TEXT NOT NULL,
    PRIMARY KEY (kind, key)
);
CREATE INDEX IF NOT EXISTS objects_order ON objects (kind, position);
"""

Document = dict[str, Any]


@dataclass
class KindState:
    """One kind's saved round: the `$select` it was made with, its deltaLink, and its objects
    by lower-case id, in Graph's order."""

    select: str
    delta_link: str
    objects: dict[str, Document]


@dataclass
class DeltaState:
    """The saved state of one Graph URL and tenant (see the module's docstring)."""

    graph_url: str
    tenant_id: str
    unknown_user_properties: list[str] = field(default_factory=list)
    kinds: dict[str, KindState] = field(default_factory=dict)


@dataclass(frozen=True)
class Saved:
    """What one read changed in a kind: everything (a full round), or these keys."""

    full: bool
    changed: frozenset[str] = frozenset()
    removed: frozenset[str] = frozenset()


def state_path(folder: Path, graph_url: str, tenant_id: str) -> Path:
    """Where the state of this Graph URL and tenant is kept under `folder` (`.reconciler/`)."""
    key = hashlib.sha256(f"{graph_url}\n{tenant_id.lower()}".encode()).hexdigest()[:16]
    return folder / "graph" / f"delta-{key}.db"


class DeltaStore:
    """The state file at `path`; each call opens and closes its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def revision(self) -> str | None:
        """The revision of the last save; None when there is no usable file."""
        if not self.path.is_file():
            return None
        try:
            with self._connection() as connection:
                row = connection.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        except sqlite3.Error:
            return None
        return row[0] if row else None

    def load(self, graph_url: str, tenant_id: str) -> tuple[DeltaState, str] | None:
        """The state saved for this Graph and tenant, and its revision; None if unusable."""
        if not self.path.is_file():
            return None
        try:
            with self._connection() as connection:
                meta = dict(connection.execute("SELECT key, value FROM meta").fetchall())
                state = _state(meta, graph_url, tenant_id)
                if state is None:
                    return None
                for kind in KINDS:
                    rows = connection.execute(
                        "SELECT key, document FROM objects WHERE kind = ? ORDER BY position",
                        (kind,),
                    )
                    objects = _objects(rows, kind)
                    if objects is None:
                        return None
                    state.kinds[kind].objects.update(objects)
        except sqlite3.Error:
            return None
        return state, meta["revision"]

    def save(self, state: DeltaState, saved: dict[str, Saved]) -> str:
        """Writes what the read changed, all or nothing; the new revision. A state read whole
        replaces the file, so nothing of a damaged or older one is left in it. OSError or
        sqlite3.Error if it can't be written."""
        try:
            private_dir(self.path.parent)
            if all(what.full for what in saved.values()) or not self.path.is_file():
                return self._replace(state)
        except InputError as error:
            # as an OSError: a folder that can't be written only costs the next read its delta
            raise OSError(str(error)) from error
        return self._write(self.path, state, saved)

    def _replace(self, state: DeltaState) -> str:
        with replacing(self.path) as temporary:
            return self._write(temporary, state, {k: Saved(full=True) for k in state.kinds})

    def _write(self, path: Path, state: DeltaState, saved: dict[str, Saved]) -> str:
        revision = str(uuid.uuid4())
        with _connect(path) as connection:
            connection.executescript(_SCHEMA)
            connection.execute("BEGIN IMMEDIATE")
            try:
                _write_meta(connection, state, revision)
                for kind, what in saved.items():
                    _write_objects(connection, kind, state.kinds[kind].objects, what)
                connection.execute("COMMIT")
            except BaseException:
                connection.rollback()
                raise
        return revision

    def _connection(self) -> closing[sqlite3.Connection]:
        return _connect(self.path)


def _connect(path: Path) -> closing[sqlite3.Connection]:
    # isolation_level None: transactions are begun and ended here, explicitly
    return closing(sqlite3.connect(path, timeout=_TIMEOUT, isolation_level=None))


def _state(meta: dict[str, str], graph_url: str, tenant_id: str) -> DeltaState | None:
    try:
        unknown = json.loads(meta.get("unknownUserProperties", ""))
    except ValueError:
        return None
    if not (
        meta.get("format") == FORMAT
        and meta.get("version") == str(VERSION)
        and meta.get("graphUrl") == graph_url
        and meta.get("tenantId", "").lower() == tenant_id.lower()
        and "revision" in meta
        and isinstance(unknown, list)
        and all(isinstance(name, str) for name in unknown)
    ):
        return None
    state = DeltaState(graph_url, tenant_id, unknown)
    for kind in KINDS:
        select, link = meta.get(f"{kind}.select"), meta.get(f"{kind}.deltaLink")
        # the link must lead back to this Graph: the bearer token goes wherever it points
        if select is None or link is None or not link.startswith(f"{graph_url}/{kind}/delta?"):
            return None
        state.kinds[kind] = KindState(select, link, {})
    return state


def _objects(rows: Iterable[tuple[str, str]], kind: str) -> dict[str, Document] | None:
    objects: dict[str, Document] = {}
    for key, text in rows:
        try:
            document = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not (
            isinstance(document, dict)
            and isinstance(document.get("id"), str)
            and document["id"].lower() == key
        ):
            return None
        members = document.get("members")
        if kind == "groups" and not (
            isinstance(members, list) and all(isinstance(m, str) for m in members)
        ):
            return None
        objects[key] = document
    return objects


def _write_meta(connection: sqlite3.Connection, state: DeltaState, revision: str) -> None:
    values = {
        "format": FORMAT,
        "version": str(VERSION),
        "graphUrl": state.graph_url,
        "tenantId": state.tenant_id,
        "unknownUserProperties": json.dumps(sorted(state.unknown_user_properties)),
        "revision": revision,
    }
    for kind, kept in state.kinds.items():
        values[f"{kind}.select"] = kept.select
        values[f"{kind}.deltaLink"] = kept.delta_link
    connection.executemany(
        "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", sorted(values.items())
    )


def _write_objects(
    connection: sqlite3.Connection, kind: str, objects: dict[str, Document], saved: Saved
) -> None:
    def dumps(key: str) -> str:
        return json.dumps(objects[key], separators=(",", ":"))

    if saved.full:
        connection.execute("DELETE FROM objects WHERE kind = ?", (kind,))
        connection.executemany(
            "INSERT INTO objects (kind, key, position, document) VALUES (?, ?, ?, ?)",
            ((kind, key, n, dumps(key)) for n, key in enumerate(objects)),
        )
        return
    connection.executemany(
        "DELETE FROM objects WHERE kind = ? AND key = ?", ((kind, k) for k in saved.removed)
    )
    # a changed object keeps its place; a new one goes last, as a full read lists it
    connection.executemany(
        "INSERT INTO objects (kind, key, position, document) VALUES (?1, ?2, "
        "(SELECT COALESCE(MAX(position), -1) + 1 FROM objects WHERE kind = ?1), ?3) "
        "ON CONFLICT (kind, key) DO UPDATE SET document = excluded.document",
        ((kind, key, dumps(key)) for key in objects if key in saved.changed),
    )
