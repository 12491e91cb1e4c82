"""Renders a plan document as JSON, as `schemas/plan.schema.json` describes it.

The text is `json.dumps(document, indent=2, sort_keys=True)`, byte for byte. Python's indenting
encoder runs in Python, a call per value, which is most of the time of printing a plan that
lists tens of thousands of people; here every container of plain values (and every list of
such objects, the impact's records) is encoded by the C encoder in one call, its separators
carrying the newline and indent, and only the few containers above them are walked in Python.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import cache
from itertools import chain
from typing import Any

INDENT = "  "
# values the C encoder writes on their own; `type` on purpose: a subclass takes the general way
_PLAIN = frozenset({str, int, float, bool, type(None)})


def plan_json(document: Mapping[str, Any]) -> str:
    """The plan document, keys sorted and 2-space indented, so equal plans give equal bytes."""
    # ASCII only: the text goes to pipes and consoles of any encoding, and stays valid JSON
    return _indented(document, 0)


def _indented(value: Any, depth: int) -> str:
    """`value` as json.dumps(indent=2, sort_keys=True) writes it `depth` levels deep."""
    if isinstance(value, dict):
        if not value:
            return "{}"
        if set(map(type, value.values())) <= _PLAIN:
            return _flat(value, depth)
        if not set(map(type, value)) <= {str}:
            return _dumps(value, depth)  # other keys are turned into strings: json's own way
        inner = INDENT * (depth + 1)
        items = [
            f"{_encoder(0)(key)}: {_indented(item, depth + 1)}"
            for key, item in sorted(value.items())
        ]
        return "{\n" + inner + f",\n{inner}".join(items) + "\n" + INDENT * depth + "}"
    if isinstance(value, list | tuple):
        if not value:
            return "[]"
        if set(map(type, value)) <= _PLAIN:
            return _flat(value, depth)
        if _records(value):
            return _record_list(value, depth)
        inner = INDENT * (depth + 1)
        items = [_indented(item, depth + 1) for item in value]
        return "[\n" + inner + f",\n{inner}".join(items) + "\n" + INDENT * depth + "]"
    return _encoder(0)(value)


def _flat(value: dict | list | tuple, depth: int) -> str:
    """A non-empty container of plain values: one call of the C encoder (which sorts and
    writes keys of any type as json's Python encoder does)."""
    text = _encoder(depth + 1)(value)
    # the separators indented every item but the first, and the closing bracket goes below
    return text[0] + "\n" + INDENT * (depth + 1) + text[1:-1] + "\n" + INDENT * depth + text[-1]


def _records(items: list | tuple) -> bool:
    """Whether every item is a non-empty object of plain values."""
    # map and chain keep the loops in C: a plan has a record per user who loses a product
    return (
        set(map(type, items)) == {dict}
        and all(items)
        and set(map(type, chain.from_iterable(map(dict.values, items)))) <= _PLAIN
    )


def _record_list(items: list | tuple, depth: int) -> str:
    """A non-empty list of records (see _records): one call of the C encoder."""
    outer, inner = INDENT * (depth + 1), INDENT * (depth + 2)
    # the separator is the records' own, so between two records it is put right: JSON escapes
    # a newline inside a string, so "},\n" is always the end of a record, never text
    text = _encoder(depth + 2)(items)[2:-2]
    between = text.replace("},\n" + inner + "{", f"\n{outer}}},\n{outer}{{\n{inner}")
    return f"[\n{outer}{{\n{inner}{between}\n{outer}}}\n{INDENT * depth}]"


def _dumps(value: Any, depth: int) -> str:
    # every newline json.dumps writes is between items, so indenting after each shifts it all
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True)
    return text.replace("\n", "\n" + INDENT * depth)


@cache
def _encoder(depth: int) -> Callable[[Any], str]:
    """The C encoder whose item separator starts a line `depth` levels deep."""
    separator = ",\n" + INDENT * depth
    return json.JSONEncoder(sort_keys=True, ensure_ascii=True, separators=(separator, ": ")).encode
