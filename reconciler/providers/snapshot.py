"""The read-only `snapshot:FILE.json` tenant source: a snapshot file read and checked into a
`Tenant`, and written from one (the conversion itself: providers/graph_shape.py).

The file is described by `schemas/tenant.schema.json`. Reading checks JSON syntax, then the
schema, then what a schema can't say (unique ids), and reports the first problem as one
InputError with the file, the JSON path and the line and column of the offending value. A valid
file is read a user at a time; anything off is read the careful way, whole, to be explained.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from reconciler.directory_audit import AuditQuery, DirectoryAudit
from reconciler.errors import InputError, Location
from reconciler.jsonpath import JsonPath, format_path, locate
from reconciler.jsonschemas import CompiledCheck, compile_check, load_schema
from reconciler.model import (
    Tenant,
    User,
)
from reconciler.objectfile import (
    JsonSource,
    Mapped,
    mapped,
    parse_json_bytes,
    plain_json,
    read_bytes,
)
from reconciler.plan.changes import Change
from reconciler.private_files import writing_text
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.providers.base import AppliedChange, ProviderError, collector_paused
from reconciler.providers.graph_shape import (
    FORMAT_VERSION,
    GraphObjects,
    group_document,
    snapshot_chunks,
    snapshot_document,
    snapshot_text,
    user_document,
    user_licenses,
)

__all__ = [
    "FORMAT_VERSION",
    "SnapshotTenant",
    "check_document",
    "group_document",
    "owned_tenant",
    "parse_snapshot",
    "read_snapshot",
    "snapshot_chunks",
    "snapshot_document",
    "snapshot_text",
    "tenant_from_document",
    "tenant_from_parts",
    "user_document",
    "user_licenses",
    "write_snapshot",
]

SCHEMA_NAME = "tenant.schema.json"


def read_snapshot(path: str | os.PathLike[str], *, progress: Progress = NO_PROGRESS) -> Tenant:
    """The tenant in the snapshot file at `path`; InputError if it can't be read or is malformed.

    Only a regular file is read, of any size: a snapshot grows with the tenant.
    """
    file = str(path)
    progress.stage(f"reading snapshot {file}")
    with collector_paused():
        with mapped(Path(path), file) as view:
            tenant = _read_user_by_user(view)
        if tenant is not None:
            return tenant
        # anything odd (a byte order mark, an escaped surrogate, a problem to explain)
        data = read_bytes(Path(path), file)
        document, source = parse_json_bytes(data, file)
        del data  # held by `source` alone, let go of once the document is checked
        return _checked_tenant(document, file, source)


_RELEASE_EVERY = 4096  # users parsed between letting go of the file's pages before them


@cache
def _outline() -> tuple[Any, dict[str, str]]:
    """A msgspec type of a snapshot with its users left as JSON text, to be parsed one at a
    time (the schema's top-level properties, nothing else), and each field's name in the file."""
    names = {f"f{index}": name for index, name in enumerate(_schema()["properties"])}
    fields = [
        (field, list[msgspec.Raw] if name == "users" else Any, msgspec.UNSET)
        for field, name in names.items()
    ]
    kind = msgspec.defstruct("Outline", fields, rename=names, forbid_unknown_fields=True)
    return kind, names


def _read_user_by_user(view: Mapped) -> Tenant | None:
    """The tenant in a valid snapshot, parsed a user at a time, each user's licenses let go of
    once in the model and the file's pages once parsed, so a large tenant is never whole twice
    in memory; None if anything is off (the careful reading then finds and explains it)."""
    if not plain_json(view.data):
        return None
    kind, names = _outline()
    try:
        outline = msgspec.json.decode(view.data, type=kind)
    except (msgspec.MsgspecError, RecursionError):
        return None
    head = {
        names[field]: value
        for field, value in msgspec.structs.asdict(outline).items()
        if value is not msgspec.UNSET
    }
    users = head.pop("users", None)
    if users is None:
        return None  # the careful reading says what is missing
    return tenant_from_parts(head, _parsed_users(users, view))


def _parsed_users(raws: list[msgspec.Raw], view: Mapped) -> Iterator[Any]:
    """Each user parsed, the file's pages before it let go of as it goes: the users come in the
    file's order, and the bytes parsed so far are a lower bound of where the next one starts."""
    parsed = 0
    view.release(len(view.data))  # the outline read it all: each page is read again when used
    for count, raw in enumerate(raws, 1):
        yield msgspec.json.decode(raw)
        parsed += len(raw)
        if count % _RELEASE_EVERY == 0:
            view.release(parsed)


def tenant_from_parts(head: Mapping[str, Any], users: Iterable[Any]) -> Tenant | None:
    """The tenant of a snapshot document given as all but its users, and its users one by one,
    each checked and turned into the model as it comes (its licenses then let go of: the model
    has them), so a large tenant is never whole twice in memory; None if anything is off, or
    can't be parsed (msgspec.MsgspecError, RecursionError), for the careful reading to explain."""
    check, shared = _quick_check(), GraphObjects(owned=True)
    objects: list[Any] = []
    model: list[User] = []
    try:
        for obj in users:
            if not check.item("users", obj):
                return None
            objects.append(obj)
            model.append(shared.user(obj))
    except (msgspec.MsgspecError, RecursionError):
        return None
    document = {**head, "users": objects}
    if not check(document, checked={"users"}) or _duplicates(document) is not None:
        return None
    return Tenant(
        organization=shared.organization(document["organization"]),
        subscribedSkus=tuple(shared.sku(sku) for sku in document["subscribedSkus"]),
        users=tuple(model),
        groups=tuple(shared.group(group) for group in document["groups"]),
        devices=tuple(document.get("devices", ())),
    )


def parse_snapshot(data: bytes | str, file: str = "<snapshot>") -> Tenant:
    """The tenant in the snapshot `data` (UTF-8; a byte order mark is dropped: Windows editors
    and PowerShell's exports write one); errors are located in `file`."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    document, source = parse_json_bytes(data, file)
    return _checked_tenant(document, file, source)


def _checked_tenant(document: Any, file: str, source: JsonSource) -> Tenant:
    try:
        check_document(document, file, source.text)
    except RecursionError:
        # nesting the parser took, a step short of Python's limit, that checking it can't
        raise InputError("JSON nests too deeply", Location(file)) from None
    source.release()
    return _tenant(document, owned=True)


def tenant_from_document(
    document: Any, file: str = "<snapshot>", text: Callable[[], str] | str | None = None
) -> Tenant:
    """Validates a parsed snapshot and converts it; `text`, when given, locates errors in it."""
    check_document(document, file, text)
    return _tenant(document)


def owned_tenant(document: Any, file: str = "<snapshot>") -> Tenant:
    """`tenant_from_document` for a document parsed for it alone: its users' objects become
    the model's attributes rather than copies."""
    check_document(document, file)
    return _tenant(document, owned=True)


def check_document(
    document: Any, file: str = "<snapshot>", text: Callable[[], str | None] | str | None = None
) -> None:
    """InputError at the first problem of a parsed snapshot; `text` (or a function giving it,
    called only for a problem), when given, locates it."""
    problem = _first_problem(document)
    if problem is not None:
        path, message = problem
        source = text() if callable(text) else text
        raise InputError(f"{format_path(path)}: {message}", locate(file, source, path))


def _tenant(document: Mapping[str, Any], *, owned: bool = False) -> Tenant:
    """The tenant of a checked document; an `owned` document (parsed here, for no one else)
    gives its users' objects to the model rather than copies."""
    shared = GraphObjects(owned)
    return Tenant(
        organization=shared.organization(document["organization"]),
        subscribedSkus=tuple(shared.sku(sku) for sku in document["subscribedSkus"]),
        users=tuple(shared.user(user) for user in document["users"]),
        groups=tuple(shared.group(group) for group in document["groups"]),
        devices=tuple(document.get("devices", ())),
    )


def write_snapshot(tenant: Tenant, path: str | os.PathLike[str]) -> None:
    """Writes the tenant to `path`, whole (a reader never sees half of it) and private: a
    snapshot holds every user of the tenant."""
    with writing_text(path) as out:
        for chunk in snapshot_chunks(tenant):
            out.write(chunk)


# --- checking -------------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return load_schema(SCHEMA_NAME)


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema())


@cache
def _quick_check() -> CompiledCheck:
    return compile_check(_schema())


Problem = tuple[JsonPath, str]  # where a snapshot is wrong, and how


def _first_problem(document: Any) -> Problem | None:
    """(path, message) of the most telling problem in `document`, or None when it is valid."""
    # jsonschema takes ~10x json.load's time on a large tenant; the compiled check, a small
    # fraction of it, but its "no" may be too strict (2.0 as a count), so jsonschema explains or
    # overrules a "no"
    if not _quick_check()(document):
        error = best_match(_validator().iter_errors(document))
        if error is not None:
            return tuple(error.absolute_path), _schema_message(error)
    return _duplicates(document)


def _duplicates(document: Mapping[str, Any]) -> Problem | None:
    """Two objects of a checked document with one id, or two users with one name."""
    for collection in ("users", "groups", "devices"):
        problem = _duplicate(document.get(collection, ()), collection, "id")
        if problem is not None:
            return problem
    # Entra keeps userPrincipalName unique, ignoring case; two users with one would make
    # every lookup by name (a static member list, --user) pick one of them silently
    return _duplicate(document["users"], "users", "userPrincipalName")


def _duplicate(objects: list[dict[str, Any]], collection: str, key: str) -> Problem | None:
    """The second object holding a value of `key` that an earlier one holds, ignoring case."""
    seen: dict[str, int] = {}
    for position, obj in enumerate(objects):
        # Graph compares ids (GUIDs) and names without regard to case
        value = obj[key].lower()
        if value in seen:
            first = format_path((collection, seen[value]))
            return (collection, position, key), f"duplicate {key} {obj[key]!r} (also {first})"
        seen[value] = position
    return None


def _schema_message(error: ValidationError) -> str:
    """jsonschema's message, reworded where its own would quote a regular expression."""
    if error.validator == "pattern":
        pattern = error.validator_value
        if "{12}" in pattern:
            return f"{error.instance!r} is not a GUID"
        if pattern == "^[A-Za-z]{2}$":
            return f"{error.instance!r} is not a two-letter country code"
    if error.validator == "const" and list(error.absolute_path) == ["formatVersion"]:
        return f"{error.instance!r} is not supported; this reconciler reads {FORMAT_VERSION}"
    return error.message


class SnapshotTenant:
    """The read-only `snapshot:FILE.json` source; implements `Provider`."""

    def __init__(self, path: str | os.PathLike[str], *, progress: Progress = NO_PROGRESS) -> None:
        self.path = Path(path)
        self.progress = progress

    def read(self) -> Tenant:
        return read_snapshot(self.path, progress=self.progress)

    def apply(self, change: Change) -> AppliedChange:
        raise self._read_only()

    def apply_together(self, changes: Sequence[Change]) -> list[AppliedChange]:
        raise self._read_only()

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        raise self._read_only()

    def directory_audits(self, query: AuditQuery) -> Iterator[DirectoryAudit]:
        raise ProviderError(
            f"{self.path} is a snapshot, which has no audit log; read a local or graph tenant"
        )

    def _read_only(self) -> ProviderError:
        return ProviderError(
            f"{self.path} is a snapshot, which is read only; change a local or graph tenant"
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> SnapshotTenant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
