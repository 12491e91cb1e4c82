"""Saved plans: the plan document written by `plan --out`, read by `show` and `apply`.

What a saved plan was made from is its `origin` (plan/origin.py); whether it still holds is
plan/stale.py's question. This module only writes and reads the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from reconciler.errors import InputError, Location
from reconciler.jsonpath import format_path, locate
from reconciler.jsonschemas import load_schema
from reconciler.render.plan_json import plan_json


def write_plan_file(document: dict[str, Any], path: Path) -> None:
    """Writes the plan document to `path`; InputError if it can't."""
    try:
        path.write_text(plan_json(document) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"can't write plan file: {exc.strerror}", Location(str(path))) from exc


def read_plan_file(path: Path) -> dict[str, Any]:
    """A saved plan, checked against the plan schema; errors name the line and column."""
    try:
        text = path.read_text(encoding="utf-8-sig")
        document = json.loads(text)
    except OSError as exc:
        raise InputError(f"can't read plan file: {exc.strerror}", Location(str(path))) from exc
    except UnicodeDecodeError as exc:
        raise InputError("plan file is not UTF-8 text", Location(str(path))) from exc
    except json.JSONDecodeError as exc:
        location = Location(str(path), exc.lineno, exc.colno)
        raise InputError(f"not a plan file: invalid JSON: {exc.msg}", location) from exc
    validator = Draft202012Validator(load_schema("plan.schema.json"))
    # the most specific of the errors: inside a change, the field that is wrong, not the change
    error = best_match(validator.iter_errors(document))
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
