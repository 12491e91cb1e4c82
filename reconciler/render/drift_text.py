"""Drift as text: what changed outside reconciler, who changed it and when."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

Document = Mapping[str, Any]


def drift_lines(drift: Sequence[Document], closing: str) -> list[str]:
    """Terraform's drift note: what changed outside reconciler, who and when, then `closing`."""
    if not drift:
        return []
    lines = ["Note: managed groups changed outside reconciler (from the tenant's audit log):", ""]
    for item in drift:
        who = item["changedBy"] or "someone"
        when = f" at {item['changedAt']}" if item["changedAt"] else ""
        lines.append(
            f"  # {item['group']['displayName']}: {item['property']} changed by {who}{when}"
        )
        lines.append(f"      now:    {shown(item['current'])}")
        lines.append(f"      policy: {shown(item['desired'])}")
    return [*lines, "", closing, ""]


def shown(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(each) for each in value) or "(none)"
    return "(none)" if value is None else str(value)


def drift_text(drift: Sequence[Document]) -> str:
    """`reconciler drift`'s report."""
    if not drift:
        return "No drift. Managed groups are as reconciler left them, or as the policy says."
    closing = "`reconciler plan` shows the changes that set them back to the policy."
    return "\n".join(drift_lines(drift, closing)).rstrip()
