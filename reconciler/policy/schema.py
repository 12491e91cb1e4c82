"""Checks a merged policy against schemas/policy.schema.json and its membership rules.

jsonschema's messages are written for schema authors ("'x' does not match '^[0-9a-f...'");
each error is turned into plain English at the YAML node it is about. All errors are reported
at once, in file order, so one run shows everything to fix (see PolicyError).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from reconciler.errors import Location, location_in
from reconciler.jsonschemas import load_schema
from reconciler.policy.errors import PolicyError, PolicyRuleError
from reconciler.policy.source import Pointer, Positions
from reconciler.rules import RuleError, parse

CONFLICTING_KEYS = "conflicting-keys"  # codes: reconciler/codes.py
_TYPE_NAMES = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a mapping of keys to values",
    "null": "nothing",
}


def policy_schema() -> Mapping[str, Any]:
    """The policy JSON Schema (2020-12)."""
    return load_schema("policy.schema.json")


def check(
    document: Mapping[str, Any], positions: Positions, broken: AbstractSet[Pointer] = frozenset()
) -> tuple[list[PolicyError], frozenset[Pointer]]:
    """Every schema and membership rule problem in the merged policy, each at its node, and
    the paths they spoil (with `broken`, values an earlier stage left empty and this one skips).
    """
    validator = Draft202012Validator(policy_schema())
    errors: list[PolicyError] = []
    spoiled: set[Pointer] = set(broken)
    for error in validator.iter_errors(document):
        path = tuple(error.absolute_path)
        if is_broken(path, broken):
            continue  # an empty value an earlier stage reported: not a second problem
        errors.extend(schema_errors(error, document, positions))
        spoiled.update(spoiled_paths(error, path))
    groups = document.get("groups")
    for index, group in enumerate(groups if isinstance(groups, list) else []):
        path = ("groups", index, "membershipRule")
        rule = group.get("membershipRule") if isinstance(group, dict) else None
        if isinstance(rule, str) and not is_broken(path, spoiled):
            try:
                parse(rule)
            except RuleError as error:
                errors.append(_rule_error(error, rule, path, document, positions))
                spoiled.add(path)
    return errors, frozenset(spoiled)


def spoiled_paths(error: ValidationError, path: Pointer) -> Iterator[Pointer]:
    """The paths a schema error leaves in doubt, for the stages after it to skip.

    An unknown, missing or conflicting key is a problem of that key, not of the values beside
    it: those are still checked (a group without displayName still has its SKUs looked up).
    """
    keyword, expected, value = error.validator, error.validator_value, error.instance
    if keyword == "additionalProperties":
        keys = [key for key in value if key not in error.schema.get("properties", {})]
    elif keyword == "required":
        keys = [key for key in expected if key not in value]
    elif keyword == "dependentRequired":
        keys = [name for key, needed in expected.items() if key in value for name in (key, *needed)]
    elif keyword == "not" and set(expected) == {"required"}:
        keys = list(expected["required"])
    else:
        keys = None
    if keys is None:
        yield path
    else:
        yield from ((*path, key) for key in keys)


def is_broken(path: Pointer, broken: AbstractSet[Pointer]) -> bool:
    """Whether the value at `path`, or one holding it, is in `broken`."""
    return bool(broken) and any(path[:length] in broken for length in range(len(path) + 1))


def is_whole(path: Pointer, broken: AbstractSet[Pointer]) -> bool:
    """Whether nothing at `path`, above it or inside it is in `broken`."""
    return not is_broken(path, broken) and not any(p[: len(path)] == path for p in broken)


def intact_items(value: Any, path: Pointer, broken: AbstractSet[Pointer]) -> list[tuple[int, Any]]:
    """The entries of the list `value` at `path`, with their indexes, that aren't broken."""
    if not isinstance(value, list) or is_broken(path, broken):
        return []
    return [
        (index, item) for index, item in enumerate(value) if not is_broken((*path, index), broken)
    ]


def where(path: Pointer, document: Mapping[str, Any]) -> str:
    """A path as a person reads it: groups by name, since indexes run across files."""
    if not path:
        return ""
    head, rest = str(path[0]), list(path[1:])
    if head in ("groups", "retired") and rest and isinstance(rest[0], int):
        index = rest.pop(0)
        items = document.get(head)
        item = items[index] if isinstance(items, list) and index < len(items) else None
        name = item.get("displayName") if isinstance(item, dict) else None
        label = "group" if head == "groups" else "retired group"
        if isinstance(name, str):
            # a name too long is itself the error; a prefix of it identifies the group
            head = f"{label} '{name if len(name) <= 60 else name[:57] + '...'}'"
        else:
            head = f"{head}[{index}]"
        if rest:
            head += ","
    text = head
    for part in rest:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f" {part}" if text.endswith(",") else f".{part}"
    return text


def schema_errors(
    error: ValidationError, document: Mapping[str, Any], positions: Positions
) -> Iterator[PolicyError]:
    """One schema violation as PolicyErrors at the YAML node, worded for the person who wrote it."""
    path = tuple(error.absolute_path)
    prefix = where(path, document)
    value, schema = error.instance, error.schema
    keyword, expected = error.validator, error.validator_value
    location = positions.location(path)
    if keyword == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        thing = schema.get("title", "mapping")
        for key in value:
            if key not in known:
                hint = _suggest(key, known) or f"; expected one of: {', '.join(known)}"
                message = f"unknown key '{key}' in {thing}{hint}"
                yield _at(prefix, message, positions.key_location((*path, key)), "unknown-key")
        return
    if keyword == "not" and set(expected) == {"required"}:
        first, second = expected["required"]
        places = [positions.key_location((*path, key)) for key in (first, second)]
        # point at whichever of the two comes second: that is the one to remove
        message = f"give either '{first}' or '{second}', not both"
        second = max(places, key=lambda loc: (loc.line or 0, loc.column or 0))
        yield _at(prefix, message, second, CONFLICTING_KEYS)
        return
    if keyword == "dependentRequired":
        for key, needed in expected.items():
            missing = [name for name in needed if key in value and name not in value]
            for name in missing:
                message = f"'{key}' needs '{name}': it applies to a dynamic group only"
                yield _at(prefix, message, positions.key_location((*path, key)), CONFLICTING_KEYS)
        return
    if keyword == "required":
        for key in expected:
            if isinstance(value, dict) and key not in value:
                yield _at(prefix, f"missing required key '{key}'", location, "missing-key")
        return
    message = _problem(keyword, expected, value, schema, error.message)
    yield _at(prefix, message, location, "invalid-value")


def _problem(keyword: str, expected: Any, value: Any, schema: Mapping[str, Any], raw: str) -> str:
    if keyword == "type":
        wanted = [expected] if isinstance(expected, str) else expected
        return f"expected {' or '.join(_TYPE_NAMES[t] for t in wanted)}, found {_kind(value)}"
    if keyword == "enum":
        choices = ", ".join(str(choice) for choice in expected)
        if not isinstance(value, str):
            return f"expected one of {choices}, found {_kind(value)}"
        return f"'{value}' is not one of {choices}{_suggest(value, [str(c) for c in expected])}"
    if keyword == "minLength":
        return "can't be empty" if expected == 1 else f"is shorter than {expected} characters"
    if keyword == "maxLength":
        return f"is {len(value)} characters long; at most {expected} are allowed"
    if keyword == "minimum":
        return f"is {value}; the smallest allowed is {expected}"
    if keyword == "maximum":
        return f"is {value}; the largest allowed is {expected}"
    if keyword == "pattern":
        return f"'{value}' is not {schema.get('description', 'in the expected form')}"
    return raw


def _kind(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text '{value}'"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _suggest(word: str, choices: list[str]) -> str:
    """' (did you mean 'x'?)' for the closest choice, ignoring case, or nothing."""
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def _at(prefix: str, message: str, location: Any, code: str) -> PolicyError:
    return PolicyError(f"{prefix}: {message}" if prefix else message, location, code=code)


def _rule_error(
    error: RuleError, rule: str, path: Pointer, document: Mapping[str, Any], positions: Positions
) -> PolicyError:
    location = rule_location(positions, path, rule, error.span.start)
    message = f"{where(path, document)}: {error.message} [{error.code}]"
    if error.hint:
        message += f"; {error.hint}"
    policy_error = PolicyRuleError(message, location, error)
    policy_error.__cause__ = error
    return policy_error


def rule_location(positions: Positions, path: Pointer, rule: str, offset: int) -> Location:
    """Where in its file character `offset` of the rule text `rule` at `path` is."""
    position = positions.get(path)
    location = positions.location(path)
    if position is None or location.file not in positions.texts:
        return location
    text = positions.texts[location.file]
    start, end, style = position.start, position.end, position.style
    return location_in(location.file, text, source_index(text, start, end, style, rule, offset))


def source_index(
    text: str, start: int, end: int, style: str | None, value: str, offset: int
) -> int:
    """The index in the file's `text` of character `offset` of a scalar's `value`.

    YAML only changes whitespace (line folding, indentation) and, in quoted styles, escapes
    (`''`, `\\"`, `\\x41`); the value's non-space characters appear in the source in order. So
    count the non-space characters before `offset` and find that many non-space source units.
    """
    if style in ("|", ">"):
        newline = text.find("\n", start, end)
        position = newline + 1 if newline != -1 else start  # content starts below the header
    else:
        position = start + (1 if style in ("'", '"') else 0)
    wanted = sum(1 for char in value[:offset] if not char.isspace())
    target_is_space = offset >= len(value) or value[offset].isspace()
    after_last = position
    while position < end:
        size, is_space = _unit(text, position, style)
        if not is_space:
            if wanted == 0 and not target_is_space:
                return position
            if wanted == 0:
                return after_last
            wanted -= 1
            after_last = position + size
        position += size
    return after_last


def _unit(text: str, position: int, style: str | None) -> tuple[int, bool]:
    """The size of the source unit at `position` for one value character, and if it's space."""
    char = text[position]
    if style == "'" and text.startswith("''", position):
        return 2, False
    if style == '"' and char == "\\" and position + 1 < len(text):
        code = text[position + 1]
        digits = {"x": 2, "u": 4, "U": 8}.get(code)
        if digits:
            try:
                decoded = chr(int(text[position + 2 : position + 2 + digits], 16))
            except ValueError:
                decoded = "?"
            return 2 + digits, decoded.isspace()
        return 2, code in " \t\r\nnrtvfNLP_"
    return 1, char.isspace()
