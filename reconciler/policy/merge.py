"""Many policy files, one policy: every file under a path read, then merged.

`groups` and `retired` of all files are concatenated, the other keys set in one file only. A
file that can't be read doesn't stop the others: they are merged and checked all the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.errors import Location
from reconciler.policy.errors import PolicyError
from reconciler.policy.source import (
    Pointer,
    Position,
    Positions,
    SourceFile,
    policy_files,
    read_source,
)

DUPLICATE_GROUP = "duplicate-group"  # its code (reconciler/codes.py)


@dataclass(frozen=True)
class MergedSources:
    """The files that could be read, merged, with every problem reading and merging found.

    `broken` holds the paths (in the merged document) of values those problems left empty.
    """

    document: dict[str, Any]
    positions: Positions
    errors: tuple[PolicyError, ...] = ()
    broken: frozenset[Pointer] = frozenset()


def merge(files: list[SourceFile]) -> MergedSources:
    """One document from many files: groups and retired concatenate, the rest is set once."""
    document: dict[str, Any] = {}
    entries: dict[Pointer, Position] = {}
    errors: list[PolicyError] = []
    broken: set[Pointer] = set()
    for source in files:
        errors.extend(source.errors)
        entries.setdefault((), source.entries[()])
        offsets: dict[str, int] = {}
        for key, value in source.document.items():
            if (key,) in source.broken:
                continue  # left empty by a reading error, reported already
            key_location = source.entries[(key,)].key or source.entries[(key,)].location
            if key in ("groups", "retired"):
                if not isinstance(value, list):
                    message = f"'{key}' must be a list, with a '- displayName: ...' entry per group"
                    location = source.entries[(key,)].location
                    errors.append(PolicyError(message, location, code="invalid-value"))
                    continue
                offsets[key] = len(document.setdefault(key, []))
                document[key].extend(value)
                entries.setdefault((key,), source.entries[(key,)])
            elif key in document:
                first = entries[(key,)].key
                message = f"'{key}' is already set at {first}; set it in one file only"
                errors.append(PolicyError(message, key_location, code="duplicate-setting"))
            else:
                document[key] = value
                offsets[key] = 0
        for path, position in source.entries.items():
            if not path or path[0] not in offsets:
                continue
            if path[0] in ("groups", "retired") and len(path) > 1:
                entries[_shifted(path, offsets)] = position
            else:
                entries.setdefault(path, position)
        broken.update(_shifted(path, offsets) for path in source.broken if path[0] in offsets)
    positions = Positions(entries, {source.name: source.text for source in files})
    errors += _duplicate_groups(document, positions)
    return MergedSources(document, positions, tuple(errors), frozenset(broken))


def _shifted(path: Pointer, offsets: Mapping[str, int]) -> Pointer:
    """A path of one file as a path of the merged document, where groups and retired run on."""
    if path[0] in ("groups", "retired") and len(path) > 1:
        return (path[0], int(path[1]) + offsets[str(path[0])], *path[2:])
    return path


def _duplicate_groups(document: dict[str, Any], positions: Positions) -> list[PolicyError]:
    """A display name declared twice; Entra compares display names ignoring case."""
    errors = []
    declared: dict[str, Location] = {}
    for section in ("groups", "retired"):
        seen: dict[str, Location] = {}
        items = document.get(section)
        for index, group in enumerate(items if isinstance(items, list) else []):
            name = group.get("displayName") if isinstance(group, dict) else None
            if not isinstance(name, str):
                continue
            here = positions.location((section, index, "displayName"))
            first = seen.get(name.casefold())
            if first is None:
                seen[name.casefold()] = here
            else:
                what = "group" if section == "groups" else "retired group"
                message = f"{what} '{name}' is declared twice: first at {first}"
                errors.append(PolicyError(message, here, code=DUPLICATE_GROUP))
            if section == "retired" and name.casefold() in declared:
                first = declared[name.casefold()]
                message = f"group '{name}' is both declared (at {first}) and retired"
                errors.append(PolicyError(message, here, code=DUPLICATE_GROUP))
        if section == "groups":
            declared = seen
    return errors + _duplicate_ids(document, positions)


def _duplicate_ids(document: dict[str, Any], positions: Positions) -> list[PolicyError]:
    """Two entries pinned to one group object, declared or retired."""
    errors = []
    seen: dict[str, Location] = {}
    for section in ("groups", "retired"):
        items = document.get(section)
        for index, group in enumerate(items if isinstance(items, list) else []):
            pin = group.get("id") if isinstance(group, dict) else None
            if not isinstance(pin, str):
                continue
            here = positions.location((section, index, "id"))
            first = seen.get(pin.casefold())
            if first is None:
                seen[pin.casefold()] = here
            else:
                message = f"group id {pin} is already used at {first}"
                errors.append(PolicyError(message, here, code="duplicate-group-id"))
    return errors


def load_sources(path: Path) -> MergedSources:
    """Read and merge every policy file under `path`; an empty directory is an empty policy.

    A file that can't be read doesn't stop the others: they are merged, and its problems are
    in the result's `errors` with theirs. Only a `path` that doesn't exist raises.
    """
    files: list[SourceFile] = []
    unreadable: list[PolicyError] = []
    for file, name in policy_files(path):
        try:
            files.append(read_source(file, name))
        except PolicyError as error:
            unreadable.extend(error.errors)
    if not files:
        positions = Positions({(): Position(Location(str(path)))}, {})
        return MergedSources({}, positions, tuple(unreadable))
    merged = merge(files)
    return replace(merged, errors=(*unreadable, *merged.errors))
