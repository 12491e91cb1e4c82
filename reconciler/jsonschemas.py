"""The JSON Schemas of schemas/: finding them, installed or in a checkout, and checking
documents against them fast."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any


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


# --- a fast yes/no check compiled from the schema ------------------------------------------

Check = Callable[[Any], bool]

_TYPES: dict[str, Check] = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, list),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": lambda value: (
        (isinstance(value, int) and not isinstance(value, bool))
        or (isinstance(value, float) and value.is_integer())
    ),
    "number": lambda value: isinstance(value, int | float) and not isinstance(value, bool),
}
_ANNOTATIONS = frozenset({"$schema", "$id", "$defs", "$comment", "title", "description"})


def compile_check(schema: Mapping[str, Any]) -> Check:
    """A function telling whether a document is valid against `schema`, without reasons.

    Knows the keywords the snapshot schema uses (local $ref, type, required, properties,
    additionalProperties: false, items, enum, const, pattern, minLength, minimum) and refuses
    any other, so the schema can't outgrow it unnoticed.
    """
    definitions = schema.get("$defs", {})
    compiled: dict[str, Check] = {}

    def reference(name: str) -> Check:
        # late-bound, so a definition may refer to itself
        if name not in compiled:
            compiled[name] = _always
            compiled[name] = node(definitions[name])
        return lambda value: compiled[name](value)

    def node(subschema: Mapping[str, Any]) -> Check:
        tests = [
            _keyword(keyword, argument, subschema, node, reference)
            for keyword, argument in subschema.items()
            if keyword not in _ANNOTATIONS
        ]
        tests = [test for test in tests if test is not _always]
        if not tests:
            return _always
        if len(tests) == 1:
            return tests[0]

        def every(value: Any) -> bool:
            # a plain loop: all() over a generator costs a frame per call on the hot path
            for test in tests:  # noqa: SIM110
                if not test(value):
                    return False
            return True

        return every

    return node(schema)


def _always(value: Any) -> bool:
    return True


def _keyword(
    keyword: str,
    argument: Any,
    subschema: Mapping[str, Any],
    node: Callable[[Mapping[str, Any]], Check],
    reference: Callable[[str], Check],
) -> Check:
    """The test of one keyword; `node` compiles a subschema, `reference` a $ref's target."""
    if keyword == "$ref":
        if not argument.startswith("#/$defs/"):
            raise ValueError(f"only local $ref are supported, not {argument!r}")
        return reference(argument.removeprefix("#/$defs/"))
    if keyword == "type":
        kinds = tuple(
            _TYPES[name] for name in ([argument] if isinstance(argument, str) else argument)
        )
        return kinds[0] if len(kinds) == 1 else lambda value: any(kind(value) for kind in kinds)
    if keyword == "required":
        names = tuple(argument)
        return lambda value: not isinstance(value, dict) or all(name in value for name in names)
    if keyword == "properties":
        checks = tuple((name, node(sub)) for name, sub in argument.items())
        checks = tuple((name, check) for name, check in checks if check is not _always)

        def properties(value: Any) -> bool:
            if isinstance(value, dict):
                for name, check in checks:
                    if name in value and not check(value[name]):
                        return False
            return True

        return properties
    if keyword == "additionalProperties":
        if argument is not False:
            raise ValueError("additionalProperties is supported only as false")
        known = frozenset(subschema.get("properties", ()))
        return lambda value: not isinstance(value, dict) or known.issuperset(value)
    if keyword == "items":
        check = node(argument)

        def items(value: Any) -> bool:
            if isinstance(value, list):
                for item in value:
                    if not check(item):
                        return False
            return True

        return _always if check is _always else items
    if keyword == "enum":
        options = tuple(argument)
        return lambda value: any(_same(value, option) for option in options)
    if keyword == "const":
        return lambda value: _same(value, argument)
    if keyword == "pattern":
        search = re.compile(argument).search
        return lambda value: not isinstance(value, str) or search(value) is not None
    if keyword == "minLength":
        return lambda value: not isinstance(value, str) or len(value) >= argument
    if keyword == "minimum":
        return lambda value: not _TYPES["number"](value) or value >= argument
    raise ValueError(f"keyword {keyword!r} is not supported by compile_check")


def _same(a: Any, b: Any) -> bool:
    # JSON tells true from 1; Python doesn't
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    return a == b
