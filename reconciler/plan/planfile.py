"""Saved plans: the plan document written by `plan --out`, read by `show` and `apply`.

What a saved plan was made from is its `origin` (plan/origin.py); whether it still holds is
plan/stale.py's question. This module only writes and reads the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from reconciler.errors import InputError, Location
from reconciler.jsonschemas import load_schema
from reconciler.render.plan_json import plan_json


def write_plan_file(document: dict[str, Any], path: Path) -> None:
    """Writes the plan document to `path`; InputError if it can't."""
    try:
        path.write_text(plan_json(document) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"can't write plan file: {exc.strerror}", Location(str(path))) from exc


def read_plan_file(path: Path) -> dict[str, Any]:
    """A saved plan, checked against the plan schema."""
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except OSError as exc:
        raise InputError(f"can't read plan file: {exc.strerror}", Location(str(path))) from exc
    except UnicodeDecodeError as exc:
        raise InputError("plan file is not UTF-8 text", Location(str(path))) from exc
    except json.JSONDecodeError as exc:
        location = Location(str(path), exc.lineno, exc.colno)
        raise InputError(f"not a plan file: invalid JSON: {exc.msg}", location) from exc
    error = next(Draft202012Validator(load_schema("plan.schema.json")).iter_errors(document), None)
    if error is not None:
        where = "/".join(str(step) for step in error.absolute_path) or "the document"
        raise InputError(f"not a plan file: at {where}: {error.message}", Location(str(path)))
    return document
