"""What `reprocess` prints: each user's failed group licenses before and after, as text or JSON.

The text shows names and errors through `shown`: none can draw a line of its own."""

from __future__ import annotations

import json
from typing import Any

from reconciler.model import ERROR
from reconciler.render.safe_text import shown
from reconciler.reprocess import (
    CLEAN,
    FAILING,
    FIXED,
    NOT_REPROCESSED,
    FailedAssignment,
    ReprocessResult,
    UserResult,
)

FORMAT_VERSION = 1

# what removes the cause, per error, from Microsoft's guide to group license problems
_FIXES = {
    "CountViolation": "free seats (remove direct assignments or other groups' members) or buy more",
    "MutuallyExclusiveViolation": "remove the conflicting license or group membership, or "
    "disable the conflicting service plan in one of the groups",
    "DependencyViolation": "keep the required service plan through another assignment, or "
    "disable the plan that depends on it",
    "ProhibitedInUsageLocationViolation": "correct the user's usageLocation, or remove them "
    "from the group",
    "UniquenessViolation": "fix the duplicate proxy address in Exchange",
    "Other": "fix the error of the group's other product",
}
_UNKNOWN_FIX = "find the cause in Entra's audit log (activity: Change user license)"


def reprocess_text(result: ReprocessResult) -> str:
    """Per user, each failed license and how it came out; then the counts, and what to do."""
    if result.dry_run:
        return _dry_run_text(result)
    lines = []
    for user in result.users:
        lines.append(f"{shown(user.userPrincipalName)}: {_status(user)}")
        lines += [f"  {line}" for line in _outcome_lines(user)]
    users, refused = len(result.users), result.count(NOT_REPROCESSED)
    counts = [f"{result.count(FIXED)} fixed", f"{result.count(FAILING)} still failing"]
    if result.count(CLEAN):
        counts.append(f"{result.count(CLEAN)} without failures")
    summary = f"Reprocessed {users} user{_s(users)}: {', '.join(counts)}."
    if refused:
        summary = (
            f"Reprocessed {users - refused} of {users} user{_s(users)}: {', '.join(counts)}; "
            f"{refused} not reprocessed."
        )
    lines += ["", summary]
    lines += _hints(result)
    return "\n".join(lines)


def nothing_text(group: str | None = None) -> str:
    """What `reprocess` says when no user has a failed group license (from `group`)."""
    where = f" from {shown(group)}" if group is not None else ""
    return f"Nothing to reprocess: no user has a failed group license{where}."


def reprocess_json(result: ReprocessResult) -> str:
    """The result as a JSON document, keys sorted, as `plan --format json` prints plans."""
    document = {
        "formatVersion": FORMAT_VERSION,
        "dryRun": result.dry_run,
        "summary": {
            "users": len(result.users),
            **{status: result.count(status) for status in (FIXED, FAILING, CLEAN, NOT_REPROCESSED)},
        },
        "users": [_user_document(user) for user in result.users],
    }
    # ASCII only, as plans: the text goes to pipes and consoles of any encoding
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=True)


def _dry_run_text(result: ReprocessResult) -> str:
    users = len(result.users)
    lines = [f"Would reprocess {users} user{_s(users)}:"]
    for user in result.users:
        if not user.before:
            lines.append(f"{shown(user.userPrincipalName)}: no failed group licenses")
            continue
        lines.append(shown(user.userPrincipalName))
        lines += [f"  {_named(failed)}: {_failure(failed)}" for failed in user.before]
    lines += ["", "Dry run: nothing was reprocessed. Run it again without --dry-run to do so."]
    return "\n".join(lines)


def _status(user: UserResult) -> str:
    if user.status == NOT_REPROCESSED:
        return f"not reprocessed: {shown(user.error)}"
    if user.status == FAILING:
        fixed = len(user.fixed)
        return f"{fixed} fixed, still failing" if fixed else "still failing"
    if user.status == FIXED:
        return "fixed"
    return "no failed group licenses before or after"


def _outcome_lines(user: UserResult) -> list[str]:
    """One line per failed license: fixed, still failing, or newly failing."""
    if user.after is None:
        return [f"{_named(failed)}: {_failure(failed)}" for failed in user.before]
    after = {failed.key: failed for failed in user.after}
    lines = []
    for failed in user.before:
        now = after.pop(failed.key, None)
        if now is None:
            lines.append(f"{_named(failed)}: fixed (was {_failure(failed)})")
        elif (now.state, now.error) == (failed.state, failed.error):
            lines.append(f"{_named(now)}: still failing ({_failure(now)})")
        else:
            lines.append(f"{_named(now)}: still failing ({_failure(now)}, was {_failure(failed)})")
    lines += [f"{_named(failed)}: now failing ({_failure(failed)})" for failed in after.values()]
    return lines


def _hints(result: ReprocessResult) -> list[str]:
    """What removes the cause of each error still failing, then: reprocess again."""
    errors = sorted({failed.error for user in result.users for failed in user.after or ()})
    if not errors:
        return []
    lines = ["", "Reprocessing can't remove what causes an error. First:"]
    lines += [f"  {shown(error)}: {_FIXES.get(error, _UNKNOWN_FIX)}" for error in errors]
    lines.append("then run `reconciler reprocess` again.")
    return lines


def _named(failed: FailedAssignment) -> str:
    group = failed.groupDisplayName or f"group {failed.assignedByGroup} (no longer in the tenant)"
    return shown(f"{failed.skuPartNumber} from {group}")


def _failure(failed: FailedAssignment) -> str:
    # Error is the usual state; ActiveWithError says the user keeps the license meanwhile
    return shown(failed.error if failed.state == ERROR else f"{failed.error} ({failed.state})")


def _user_document(user: UserResult) -> dict[str, Any]:
    return {
        "id": user.id,
        "userPrincipalName": user.userPrincipalName,
        "status": user.status,
        "error": user.error,
        "before": [_assignment_document(failed) for failed in user.before],
        "after": None
        if user.after is None
        else [_assignment_document(failed) for failed in user.after],
    }


def _assignment_document(failed: FailedAssignment) -> dict[str, Any]:
    return {
        "group": {"id": failed.assignedByGroup, "displayName": failed.groupDisplayName},
        "sku": {"skuId": failed.skuId, "skuPartNumber": failed.skuPartNumber},
        "state": failed.state,
        "error": failed.error,
    }


def _s(count: int) -> str:
    return "" if count == 1 else "s"
