"""The JSON Schemas of schemas/: finding them, installed or in a checkout, and checking
documents against them fast."""

from __future__ import annotations

import functools
import json
import operator
from collections.abc import Callable, Collection, Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema `name` (e.g. "policy.schema.json") as a parsed document."""
    try:
        # an installed wheel carries schemas/ as the package reconciler.schemas (pyproject.toml)
        path = files("reconciler.schemas") / name
    except ModuleNotFoundError:
        # in a checkout, where the package is imported from the source tree, it stands beside it
        path = Path(__file__).resolve().parent.parent / "schemas" / name
    return json.loads(path.read_text(encoding="utf-8"))


# --- a fast check compiled from the schema -------------------------------------------------

_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})
_SCALARS: dict[str, Any] = {
    "string": str,
    "boolean": bool,
    "null": None,
    "integer": int,
    "number": float,
    "array": list,
    "object": dict,
}


def compile_check(schema: Mapping[str, Any]) -> CompiledCheck:
    """A check, in msgspec's compiled code, that a document is valid against `schema`.

    A "yes" is certain; a "no" may be wrong where msgspec is stricter than JSON Schema (2.0 as
    an integer), so a "no" is for jsonschema to confirm and explain. Knows the keywords the
    snapshot schema uses (local $ref, type, required, properties, additionalProperties: false,
    items, enum, const, pattern, minLength, minimum) and refuses any other, so the schema can't
    outgrow it unnoticed.
    """
    return CompiledCheck(schema)


class CompiledCheck:
    """`check(document)`: whether it is valid; `item(name, value)`: whether `value` is a valid
    item of the document's array `name`, for a reader that takes a large array an item at a
    time (and then calls `check(document, checked={name})`)."""

    def __init__(self, schema: Mapping[str, Any]) -> None:
        properties = schema.get("properties", {})
        # a document's long arrays of objects are checked an item at a time: msgspec builds
        # what it checks, and the whole of a large tenant built again would double its memory
        self._items = {
            name: compile_type({"$defs": schema.get("$defs", {}), **sub["items"]})
            for name, sub in properties.items()
            if sub.get("type") == "array" and "$ref" in sub.get("items", {})
        }
        self._whole = compile_type(schema)
        self._outline = compile_type(
            {
                **schema,
                "properties": {
                    name: {"type": "array"} if name in self._items else sub
                    for name, sub in properties.items()
                },
            }
        )

    def __call__(self, document: Any, checked: Collection[str] = ()) -> bool:
        if not self._items or not isinstance(document, dict):
            return _valid(document, self._whole)
        return _valid(document, self._outline) and all(
            self.item(name, value)
            for name in self._items
            if name not in checked
            for value in document.get(name, ())
        )

    def item(self, name: str, value: Any) -> bool:
        return _valid(value, self._items[name])


def _valid(value: Any, kind: Any) -> bool:
    try:
        msgspec.convert(value, kind, strict=True)
    except msgspec.ValidationError:
        return False
    return True


def compile_type(schema: Mapping[str, Any]) -> Any:
    """A msgspec type that accepts only documents valid against `schema`."""
    definitions = schema.get("$defs", {})
    compiled: dict[str, Any] = {}

    def reference(name: str) -> Any:
        if name not in compiled:
            compiled[name] = node(definitions[name], name)
        return compiled[name]

    def node(subschema: Mapping[str, Any], name: str = "Object") -> Any:
        unknown = set(subschema) - _ANNOTATIONS - _KEYWORDS
        if unknown:
            raise ValueError(f"keyword {sorted(unknown)[0]!r} is not supported by compile_check")
        if "$ref" in subschema:
            target = subschema["$ref"]
            if not target.startswith("#/$defs/") or len(set(subschema) - _ANNOTATIONS) > 1:
                raise ValueError(f"only a lone local $ref is supported, not {target!r}")
            return reference(target.removeprefix("#/$defs/"))
        if "const" in subschema:
            return _literal([subschema["const"]])
        if "enum" in subschema:
            return _literal(subschema["enum"])
        kinds = subschema.get("type", list(_SCALARS))
        kinds = [kinds] if isinstance(kinds, str) else kinds
        return _union(*(_typed(kind, subschema, name, node) for kind in kinds))

    return node(schema, "Document")


_KEYWORDS = frozenset(
    {
        "$ref",
        "type",
        "required",
        "properties",
        "additionalProperties",
        "items",
        "enum",
        "const",
        "pattern",
        "minLength",
        "minimum",
    }
)


def _typed(kind: str, subschema: Mapping[str, Any], name: str, node: Callable[..., Any]) -> Any:
    """The msgspec type of one JSON type of a subschema, with the subschema's constraints."""
    if kind == "string":
        meta = {}
        if "pattern" in subschema:
            meta["pattern"] = subschema["pattern"]
        if "minLength" in subschema:
            meta["min_length"] = subschema["minLength"]
        return Annotated[str, msgspec.Meta(**meta)] if meta else str
    if kind in ("integer", "number"):
        base = int if kind == "integer" else float
        if "minimum" in subschema:
            return Annotated[base, msgspec.Meta(ge=subschema["minimum"])]
        return base
    if kind == "array":
        return list[node(subschema["items"], name)] if "items" in subschema else list
    if kind == "object":
        if "properties" not in subschema:
            if subschema.get("additionalProperties", True) is not True or subschema.get("required"):
                raise ValueError("an object without properties is supported only when open")
            return dict
        return _struct(subschema, name, node)
    return _SCALARS[kind]


def _struct(subschema: Mapping[str, Any], name: str, node: Callable[..., Any]) -> Any:
    closed = subschema.get("additionalProperties", True)
    if closed not in (True, False):
        raise ValueError("additionalProperties is supported only as false")
    required = set(subschema.get("required", ()))
    properties = subschema["properties"]
    missing = required - set(properties)
    if missing:
        raise ValueError(f"required property {sorted(missing)[0]!r} has no schema")
    # field names must be identifiers; the JSON names ("$schema") are given by `rename`
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
    rename: dict[str, str] = {}
    for index, (key, value) in enumerate(properties.items()):
        field = f"f{index}"
        rename[field] = key
        kind = node(value, f"{name}_{index}")
        fields.append((field, kind) if key in required else (field, kind, msgspec.UNSET))
    fields.sort(key=lambda field: len(field) == 3)  # required fields first, as Python wants
    return msgspec.defstruct(
        name.title().replace("_", ""), fields, rename=rename, forbid_unknown_fields=not closed
    )


def _literal(values: list[Any]) -> Any:
    """Exactly these JSON values: msgspec's Literal takes strings, integers and null."""
    for value in values:
        if not (value is None or isinstance(value, str) or type(value) is int):
            raise ValueError("enum and const are supported for strings, integers and null only")
    options = tuple(value for value in values if value is not None)
    kind = Literal[options] if options else None  # type: ignore[valid-type]
    return kind | None if None in values and options else kind


def _union(*kinds: Any) -> Any:
    return functools.reduce(operator.or_, kinds) if len(kinds) > 1 else kinds[0]
