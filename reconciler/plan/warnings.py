"""What a plan tells the admin beside its changes: one finding, with a stable code."""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import Location

ERROR, WARNING, INFO = "error", "warning", "info"  # severities, most serious first


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """A finding in `warnings[]`: `group` is a displayName, `user` a userPrincipalName."""

    code: str
    severity: str
    message: str
    hint: str | None = None
    group: str | None = None
    user: str | None = None
    location: Location | None = None  # where the policy says what the finding is about
