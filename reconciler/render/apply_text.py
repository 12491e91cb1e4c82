"""What `apply` prints when it stops early (what was made, what failed, what was not tried), and
its warnings about groups whose license processing failed."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from reconciler.apply import ApplyResult
from reconciler.providers.base import AppliedChange
from reconciler.render.plan_text import change_line
from reconciler.render.safe_text import shown

Document = dict[str, Any]


def applied_summary(summary: dict[str, int]) -> str:
    """The last line of an apply that made every change."""
    return (
        f"Apply complete! {summary['add']} added, {summary['change']} changed, "
        f"{summary['remove']} removed."
    )


def apply_report(changes: Sequence[Document], result: ApplyResult) -> str:
    """The report of an apply that stopped: `changes` are the plan document's, in order."""
    assert result.failure is not None, "a complete apply has no report"
    done = len(result.succeeded)
    lines = [
        f"Apply failed at change {done + 1} of {len(changes)}; "
        "the changes after it were not attempted.",
        "",
        f"Succeeded ({done}):",
        *_listed(changes[:done]),
        "",
        "Failed (1):",
        *_listed(changes[done : done + 1]),
        f"    error: {shown(result.failure.error)}",
        "",
        f"Not attempted ({len(result.not_attempted)}):",
        *_listed(changes[done + 1 :]),
        "",
        "`reconciler plan` shows what remains to be done.",
    ]
    return "\n".join(lines)


def _listed(changes: Sequence[Document]) -> list[str]:
    # change_line words a change as done; here it is only named
    return [f"  {change_line(change).removesuffix(': done')}" for change in changes] or ["  none"]


def processing_warnings(result: ApplyResult) -> list[str]:
    """One warning per group whose license processing Entra reported as failed after apply."""
    return [f"warning: {processing_failed(applied)}" for applied in result.processing_failed]


def processing_failed(applied: AppliedChange) -> str:
    """What to do about a group whose license processing Entra reported as failed."""
    name, group_id = shown(applied.change.displayName), shown(applied.groupId)
    # a name that needs escapes to be shown can't be pasted back: the command names the id
    which = applied.change.displayName if name == applied.change.displayName else applied.groupId
    return (
        f"Entra reports that processing the licenses of group "
        f"{name} ({group_id}) failed: some of its members may not "
        "have its licenses. Check their licenseAssignmentStates (Graph: GET "
        f"/groups/{group_id}/membersWithLicenseErrors), fix the cause, then reprocess "
        f"them: reconciler reprocess --group {shown(shlex.quote(which))}"
    )


def waiting_line(displayName: str, state: str, seconds: float) -> str:
    """Apply's word while Entra is still processing a group's licenses."""
    name, state = shown(displayName), shown(state)
    return f"  waiting for Entra to process the licenses of {name}: {state} ({seconds:.0f} s)"
