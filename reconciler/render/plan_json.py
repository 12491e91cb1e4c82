"""Renders a plan document as JSON, as `schemas/plan.schema.json` describes it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def plan_json(document: Mapping[str, Any]) -> str:
    """The plan document, keys sorted and 2-space indented, so equal plans give equal bytes."""
    # ASCII only: the text goes to pipes and consoles of any encoding, and stays valid JSON
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True)
