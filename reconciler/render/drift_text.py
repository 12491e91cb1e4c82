"""Drift as text: what changed outside reconciler, who changed it and when."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.render.safe_text import shown

Document = Mapping[str, Any]


def drift_lines(drift: Sequence[Document], closing: str) -> list[str]:
    """Terraform's drift note: what changed outside reconciler, who and when, then `closing`."""
    if not drift:
        return []
    lines = ["Note: managed groups changed outside reconciler (from the tenant's audit log):", ""]
    for item in drift:
        who = shown(item["changedBy"] or "someone")
        when = f" at {shown(item['changedAt'])}" if item["changedAt"] else ""
        name, what = shown(item["group"]["displayName"]), shown(item["property"])
        lines.append(f"  # {name}: {what} changed by {who}{when}")
        lines.append(f"      now:    {shown(drift_value(item['current']))}")
        lines.append(f"      policy: {shown(drift_value(item['desired']))}")
    return [*lines, "", closing, ""]


def drift_value(value: Any) -> str:
    """A property's value as one piece of text (as the tenant holds it: not escaped)."""
    if isinstance(value, list):
        return ", ".join(str(each) for each in value) or "(none)"
    return "(none)" if value is None else str(value)


def drift_text(drift: Sequence[Document]) -> str:
    """`reconciler drift`'s report."""
    if not drift:
        return "No drift. Managed groups are as reconciler left them, or as the policy says."
    closing = "`reconciler plan` shows the changes that set them back to the policy."
    return "\n".join(drift_lines(drift, closing)).rstrip()
