"""Reads Graph objects (users or devices) from a JSON file for the rule commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reconciler.engine.membership import member_of_index
from reconciler.errors import InputError, Location
from reconciler.rules.attributes import items, reference_id

_COLLECTIONS = {"user": "users", "device": "devices"}


def load_objects(path: Path, object_type: str) -> list[dict[str, Any]]:
    """The users or devices in `path`: a JSON list, Graph's `{"value": [...]}` or a snapshot.

    In a tenant snapshot, an object without `memberOf` gets it from the groups' `members`,
    so memberOf rules can be tested against a snapshot.
    """
    try:
        # utf-8-sig: Windows editors and PowerShell's exports start files with a BOM
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"can't read file: {exc.strerror}", Location(str(path))) from exc
    except UnicodeDecodeError as exc:
        raise InputError("file is not UTF-8 text", Location(str(path))) from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        location = Location(str(path), exc.lineno, exc.colno)
        raise InputError(f"invalid JSON: {exc.msg}", location) from exc
    except RecursionError as exc:
        raise InputError("JSON nests too deeply", Location(str(path))) from exc
    collection = _COLLECTIONS[object_type]
    if isinstance(document, list):
        objects = document
    elif isinstance(document, dict) and isinstance(document.get("value"), list):
        objects = document["value"]
    elif isinstance(document, dict) and isinstance(document.get(collection), list):
        objects = document[collection]
        _add_member_of(objects, document.get("groups"))
    else:
        raise InputError(
            f'expected a JSON list of {collection}, {{"value": [...]}} or a tenant snapshot '
            f'with "{collection}"',
            Location(str(path), 1, 1),
        )
    for position, obj in enumerate(objects):
        if not isinstance(obj, dict):
            raise InputError(f"{collection}[{position}] is not a JSON object", Location(str(path)))
    return objects


def _add_member_of(objects: list, groups: object) -> None:
    if not isinstance(groups, list):
        return
    member_of = member_of_index(
        (group["id"], filter(None, map(reference_id, items(group.get("members")))))
        for group in groups
        if isinstance(group, dict) and isinstance(group.get("id"), str)
    )
    for obj in objects:
        if isinstance(obj, dict) and "memberOf" not in obj and isinstance(obj.get("id"), str):
            obj["memberOf"] = member_of.get(obj["id"].lower(), [])
