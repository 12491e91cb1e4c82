"""Characters a group's displayName and description may not hold: control characters (C0, DEL,
C1: ESC, CSI, a line break in a name), Unicode's line and paragraph separators, and the
bidirectional controls that reorder text (U+202E RIGHT-TO-LEFT OVERRIDE and its kin).

Microsoft Graph documents a length for displayName and no character rules for either property
(mailNickname, which reconciler makes itself, has its own). None of these characters has a use
in a name people read: a line break or an ESC sequence in a name could draw a plan line of its
own, and an override could make a name read as another. A description may run over several
lines, as Entra keeps it and `reconciler import` writes it, so it may hold line breaks and tabs
(every text shows it quoted, escaped); nothing else. The schema's `pattern` says the same; the
tenant's own names are shown escaped instead (render/safe_text.py).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from reconciler.policy.errors import PolicyError
from reconciler.policy.schema import rule_location
from reconciler.policy.source import Pointer, Positions
from reconciler.render.safe_text import UNSAFE, escape, shown

CODE = "invalid-characters"  # reconciler/codes.py
# the properties checked, and the characters each may hold that `shown` would escape
_ALLOWED = {"displayName": "", "description": "\t\n\r"}
# where they are: a declared group has both; a retired one names a tenant group by displayName
_FIELDS = {"groups": ("displayName", "description"), "retired": ("displayName",)}


def character_errors(
    document: Mapping[str, Any], positions: Positions
) -> tuple[list[PolicyError], frozenset[Pointer]]:
    """A PolicyError at the first refused character of each value that holds one, and the
    paths of those values (for the schema check to skip: it would refuse them again)."""
    errors: list[PolicyError] = []
    paths: set[Pointer] = set()
    for section, fields in _FIELDS.items():
        items = document.get(section)
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not isinstance(item, dict):
                continue
            for field in fields:
                value = item.get(field)
                found = refused(value, _ALLOWED[field]) if isinstance(value, str) else None
                if found is None:
                    continue
                path: Pointer = (section, index, field)
                errors.append(_error(section, item, field, value, found, path, positions))
                paths.add(path)
    return errors, frozenset(paths)


def refused_in(field: str, text: str) -> int | None:
    """The index of the first character the policy refuses in a group's `field`, or None."""
    return refused(text, _ALLOWED[field])


def refused(text: str, allowed: str = "") -> int | None:
    """The index of the first character of `text` the policy refuses, or None."""
    return next((m.start() for m in UNSAFE.finditer(text) if m[0] not in allowed), None)


def _error(
    section: str,
    item: Mapping[str, Any],
    field: str,
    value: str,
    index: int,
    path: Pointer,
    positions: Positions,
) -> PolicyError:
    char = value[index]
    label = "group" if section == "groups" else "retired group"
    name = item.get("displayName")
    # the name as the message shows it: escaped, and cut short as schema errors cut it
    named = shown(name if len(name) <= 60 else name[:57] + "...") if isinstance(name, str) else ""
    prefix = f"{label} '{named}'" if named else f"{section}[{path[1]}]"
    what = unicodedata.name(char, "control character")
    kinds = (
        "a line break, a control character or a bidirectional control"
        if field == "displayName"
        else "a control character or a bidirectional control (line breaks and tabs are fine)"
    )
    message = (
        f"{prefix}, {field}: holds {escape(char)} ({what}) at character {index + 1}; a "
        f"{field} can't hold {kinds}, which could make a plan line or a name read as "
        "something else: remove it"
    )
    return PolicyError(message, rule_location(positions, path, value, index), code=CODE)
