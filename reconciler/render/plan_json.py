"""Renders a plan as JSON, the document `schemas/plan.schema.json` describes."""

from __future__ import annotations

import json

from reconciler.plan.build import Plan
from reconciler.plan.document import plan_document


def plan_json(plan: Plan) -> str:
    """The plan document, keys sorted and 2-space indented, so equal plans give equal bytes."""
    # ASCII only: the text goes to pipes and consoles of any encoding, and stays valid JSON
    return json.dumps(plan_document(plan), indent=2, sort_keys=True, ensure_ascii=True)
