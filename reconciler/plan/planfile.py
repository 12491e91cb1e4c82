"""Saved plans: the plan document written by `plan --out`, read by `show` and `apply`.

What a saved plan was made from is its `origin` (plan/origin.py); whether it still holds is
plan/stale.py's question. This module only writes and reads the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from reconciler.errors import InputError, Location
from reconciler.jsonpath import format_path, locate
from reconciler.jsonschemas import load_schema
from reconciler.objectfile import parse_json, read_text
from reconciler.private_files import write_private
from reconciler.render.plan_json import plan_json


def write_plan_file(document: dict[str, Any], path: Path) -> None:
    """Writes the plan document to `path`, whole and private (it names users and their
    licenses); InputError if it can't."""
    write_private(path, plan_json(document) + "\n")


def read_plan_file(path: Path) -> dict[str, Any]:
    """A saved plan, checked against the plan schema; errors name the line and column."""
    # any size (a plan grows with the tenant), but only a regular file: never a FIFO or device
    text = read_text(path)
    try:
        document = parse_json(text, str(path))
    except InputError as error:
        raise InputError(f"not a plan file: {error.message}", error.location) from error
    validator = Draft202012Validator(load_schema("plan.schema.json"))
    try:
        # the most specific error: inside a change, the field that is wrong, not the change
        error = best_match(validator.iter_errors(document))
    except RecursionError:
        # nesting json.loads took, a step short of Python's limit, that the schema check can't
        raise InputError("not a plan file: JSON nests too deeply", Location(str(path))) from None
    if error is not None:
        steps, message = _explain(error)
        raise InputError(
            f"not a plan file: at {format_path(steps) if steps else 'the document'}: {message}",
            locate(str(path), text, steps),
        )
    return document


def _explain(error: ValidationError) -> tuple[list[str | int], str]:
    """Where a schema error is and what it says; for a change, against the kind it names."""
    steps = list(error.absolute_path)
    if error.validator == "oneOf" and isinstance(error.instance, dict) and error.context:
        # each kind of change is a branch: the errors of the branch whose action matches
        branches: dict[object, list[ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.schema_path[0], []).append(sub)
        fitting = [
            errors
            for errors in branches.values()
            if not any(list(e.relative_path)[:1] == ["action"] for e in errors)
        ]
        if not fitting:
            action = error.instance.get("action")
            return [*steps, "action"], f"unknown action {action!r}"
        error = best_match(fitting[0])
        steps = list(error.absolute_path)
    return steps, _short(error.message)


def _short(message: str, limit: int = 160) -> str:
    # jsonschema quotes whole values, and a change is a long one
    return message if len(message) <= limit else message[: limit - 3] + "..."
