"""The events of `apply --format json`: JSON Lines, one event a line, in the manner of
Terraform's machine-readable UI (`terraform apply -json`); schemas/apply-events.schema.json
describes them and docs/apply-events.md shows them.

Each function turns one fact of an apply into an event (a dict); `event_line` stamps it with
the time it happened and makes it a line. Nothing here writes or reads the clock.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.errors import Location, ReconcilerError
from reconciler.plan.changes import reprocesses
from reconciler.policy.errors import PolicyError
from reconciler.providers.base import AppliedChange
from reconciler.render.apply_text import applied_summary, processing_failed

# bumped when an event changes in a way that breaks a consumer; new event types and new keys
# come without a bump, so consumers ignore what they don't know
FORMAT_VERSION = 1

Event = dict[str, Any]
Document = Mapping[str, Any]

# diagnostic severities, as the plan's warnings name them, and the log level each is written at
_LEVELS = {"error": "error", "warning": "warn", "info": "info"}
# how a run ended; these end well, the others exit 1
GOOD_OUTCOMES = ("applied", "no-changes")


def event_line(event: Event, at: datetime) -> str:
    """The event as one compact line of JSON, stamped `at` (UTC, to the millisecond)."""
    stamp = at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    stamped = {"@level": event["@level"], "@message": event["@message"], "@timestamp": stamp}
    # names, rules and descriptions stay readable; the line is UTF-8, as JSON Lines wants
    return json.dumps({**stamped, **event}, ensure_ascii=False, separators=(",", ":"))


def version_event(tool_version: str) -> Event:
    """The first event: which reconciler writes the log, and in which format version."""
    return _event(
        "version",
        "info",
        f"reconciler {tool_version}",
        reconciler=tool_version,
        formatVersion=FORMAT_VERSION,
    )


def plan_event(document: Document, plan_file: str | None, tenant_id: str) -> Event:
    """What is about to be applied: a saved plan (`plan_file`) or one planned now (None)."""
    summary = document["summary"]
    counts = _counts(summary)
    where = f"saved plan {plan_file}" if plan_file is not None else "a new plan"
    return _event(
        "plan",
        "info",
        f"Applying {where} to tenant {tenant_id}: {counts}.",
        planFile=plan_file,
        tenantId=tenant_id,
        changesPresent=document["changesPresent"],
        summary=_summary(summary),
        changeCount=len(document["changes"]),
        licenseRemovals=document["guards"]["licenseRemovals"],
    )


def change_started(changes: Sequence[Document], index: int, group_id: str) -> Event:
    """The change at `index` (from 0) is being sent to the tenant."""
    change = _change(changes, index, group_id)
    return _event("apply_start", "info", f"{_label(change)}: applying", change=change)


def change_done(
    changes: Sequence[Document], index: int, applied: AppliedChange, seconds: float
) -> Event:
    """The change at `index` is made; `applied` says how the tenant took it."""
    change = _change(changes, index, applied.groupId)
    return _event(
        "apply_complete",
        "info",
        f"{_label(change)}: done",
        change=change,
        elapsedSeconds=_seconds(seconds),
        licenseProcessing=_processing(applied),
    )


def change_failed(
    changes: Sequence[Document], index: int, group_id: str, error: ReconcilerError, seconds: float
) -> Event:
    """The tenant refused the change at `index`; the ones after it are not attempted."""
    change = _change(changes, index, group_id)
    return _event(
        "apply_errored",
        "error",
        f"{_label(change)}: failed: {error}",
        change=change,
        elapsedSeconds=_seconds(seconds),
        error=str(error),
    )


def processing_wait(
    changes: Sequence[Document], index: int, group_id: str, state: str, seconds: float
) -> Event:
    """While the change at `index` waits for Entra to process its group's licenses."""
    change = _change(changes, index, group_id)
    return _event(
        "apply_progress",
        "info",
        f"{_label(change)}: waiting for Entra to process its licenses: {state} ({seconds:.0f} s)",
        change=change,
        licenseProcessingState=state,
        elapsedSeconds=_seconds(seconds),
    )


def diagnostic(
    severity: str,
    code: str,
    message: str,
    location: Location | None = None,
    group: Mapping[str, str] | None = None,
) -> Event:
    """An error, warning or note, with a stable `code` to alert on."""
    body: Event = {"severity": severity, "code": code, "message": message}
    if location is not None:
        body["location"] = _location(location)
    if group is not None:
        body["group"] = {"id": group["id"], "displayName": group["displayName"]}
    where = f"{location}: " if location is not None else ""
    return _event("diagnostic", _LEVELS[severity], f"{severity}: {where}{message}", diagnostic=body)


def error_diagnostics(error: ReconcilerError, code: str) -> list[Event]:
    """The error as diagnostics: one per problem (a policy may have several)."""
    problems = error.errors if isinstance(error, PolicyError) else (error,)
    return [diagnostic("error", code, problem.message, problem.location) for problem in problems]


def processing_failed_diagnostic(applied: AppliedChange) -> Event:
    """A warning: Entra reported the group's license processing after apply as failed."""
    group = {"id": applied.groupId, "displayName": applied.change.displayName}
    return diagnostic(
        "warning", "license-processing-failed", processing_failed(applied), group=group
    )


def summary_event(document: Document | None, succeeded: int, failed: int, outcome: str) -> Event:
    """The last event: the plan's counts, what became of its changes, and how the run ended.

    `document` is None when the run ended before it had a plan; its counts are then 0.
    """
    summary = document["summary"] if document is not None else {"add": 0, "change": 0, "remove": 0}
    total = len(document["changes"]) if document is not None else 0
    tally = {"succeeded": succeeded, "failed": failed, "notAttempted": total - succeeded - failed}
    if outcome == "applied":
        message = applied_summary(summary)
    elif outcome == "no-changes":
        message = "No changes. Licensing matches the policy."
    elif succeeded == 0 and failed == 0:
        message = f"Apply {outcome}: nothing was changed."
    else:
        message = (
            f"Apply {outcome}: {succeeded} of {total} changes made, {failed} failed, "
            f"{tally['notAttempted']} not attempted."
        )
    return _event(
        "change_summary",
        "info" if outcome in GOOD_OUTCOMES else "error",
        message,
        summary=_summary(summary),
        changeCount=total,
        **tally,
        outcome=outcome,
    )


def _event(kind: str, level: str, message: str, **fields: Any) -> Event:
    return {"@level": level, "@message": message, "type": kind, **fields}


def _summary(summary: Mapping[str, int]) -> dict[str, int]:
    return {"add": summary["add"], "change": summary["change"], "remove": summary["remove"]}


def _counts(summary: Mapping[str, int]) -> str:
    return f"{summary['add']} to add, {summary['change']} to change, {summary['remove']} to remove"


def _change(changes: Sequence[Document], index: int, group_id: str) -> Event:
    """What the change is, by its position (from 1) and its group's id as the tenant knows it."""
    change = changes[index]
    action = change["action"]
    item: Event = {
        "index": index + 1,
        "total": len(changes),
        "action": action,
        "group": {"id": group_id, "displayName": change["group"]["displayName"]},
    }
    if "sku" in change:
        item["sku"] = {
            "skuId": change["sku"]["skuId"],
            "skuPartNumber": change["sku"]["skuPartNumber"],
        }
    if action in ("addMembers", "removeMembers"):
        item["memberCount"] = len(change["members"])
    if action == "updateGroup":
        also = [extra["property"] for extra in change.get("also", ())]
        item["properties"] = [change["property"], *also]
    return item


def _label(change: Event) -> str:
    """`[3/10] LIC-Visio: add license VISIOCLIENT`: a change in a few words, members counted."""
    position = f"[{change['index']}/{change['total']}]"
    return f"{position} {change['group']['displayName']}: {_what(change)}"


def _what(change: Event) -> str:
    action = change["action"]
    if action in ("addMembers", "removeMembers"):
        count = change["memberCount"]
        verb = "add" if action == "addMembers" else "remove"
        return f"{verb} {count} member{'s' * (count != 1)}"
    if action == "updateGroup":
        names = change["properties"]
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        return f"set {listed}"
    if "sku" in change:
        sku = change["sku"]["skuPartNumber"] or change["sku"]["skuId"]
        return {
            "addLicense": f"add license {sku}",
            "changeDisabledPlans": f"change the disabled plans of {sku}",
            "removeLicense": f"remove license {sku}",
        }[action]
    return "create the group" if action == "createGroup" else "delete the group"


def _processing(applied: AppliedChange) -> str | None:
    """How Entra's processing of the group's licenses after the change ended; None when the
    change makes Entra process nothing."""
    if not reprocesses(applied.change):
        return None
    if applied.processingFailed:
        return "failed"
    return "complete" if applied.settled else "unfinished"


def _location(location: Location) -> dict[str, Any]:
    found: dict[str, Any] = {"file": location.file}
    if location.line is not None:
        found["line"] = location.line
    if location.column is not None:
        found["column"] = location.column
    return found


def _seconds(seconds: float) -> float:
    return round(max(seconds, 0.0), 3)
