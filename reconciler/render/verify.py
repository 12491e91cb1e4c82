"""Rule verification for a person (text) or a script (JSON, schemas/verify.schema.json)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.render.safe_text import shown
from reconciler.verify import Member, Probe, Verdict

FORMAT_VERSION = 1
SHOWN = 10  # people named per list in text before "and N more"


def verdicts_text(verdicts: Sequence[Verdict]) -> str:
    """One paragraph per group: its verdict, and who differs when Entra disagrees."""
    return "\n\n".join(_paragraph(verdict) for verdict in verdicts)


def nothing_text() -> str:
    return "No membership rule of a licensed group changes in this plan: nothing to verify."


def verdicts_json(verdicts: Sequence[Verdict], tenant_id: str) -> str:
    """The verdicts as one JSON document; every person who differs is listed (no cap)."""
    document = {
        "formatVersion": FORMAT_VERSION,
        "tenantId": tenant_id,
        "agrees": all(verdict.agrees for verdict in verdicts),
        "verdicts": [_verdict_document(verdict) for verdict in verdicts],
    }
    return json.dumps(document, indent=2, ensure_ascii=False)


def probe_left(probe: Probe) -> str | None:
    """The warning for a temporary group that may still exist, naming what to search for."""
    if probe.deleted or not probe.may_exist:
        return None
    if probe.id is None:
        return (
            f"warning: the temporary group {shown(probe.displayName)} may have been created "
            f"(its creation's answer was lost) and no group by that name was found to delete"
            f"{': ' + shown(probe.error) if probe.error else ''}. Search the Entra admin center "
            f"for the displayName {shown(probe.displayName)} and delete it, or run "
            "`reconciler verify --cleanup` later"
        )
    return (
        f"warning: the temporary group {shown(probe.displayName)} (id {probe.id}) couldn't be "
        f"deleted: {shown(probe.error or 'unknown error')}. It assigns no licenses; delete it "
        "in the Entra admin center, with `reconciler verify --cleanup`, or: "
        f"DELETE /groups/{probe.id}"
    )


def probe_done(probe: Probe) -> str:
    """The line for a temporary group deleted, or the warning for one that may be left."""
    left = probe_left(probe)
    return left or f"deleted temporary group {shown(probe.displayName)} (id {probe.id})"


def created_text(probe: Probe) -> str:
    return (
        f"created temporary group {shown(probe.displayName)} (id {probe.id}) to have Entra "
        f"evaluate the new membership rule of {shown(probe.group)}"
    )


def waiting_text(probe: Probe, status: str, seconds: float) -> str:
    return (
        f"waiting for Entra to evaluate the new rule of {shown(probe.group)} "
        f"(temporary group {shown(probe.displayName)}): {shown(status)} ({seconds:.0f} s)"
    )


def cleanup_text(probes: Sequence[Probe], young: int = 0) -> str:
    """What `verify --cleanup` deleted, a line each, what it couldn't, and what it left."""
    lines = [probe_done(probe) for probe in probes]
    if young:
        lines.append(
            f"left {young} temporary group(s) made too recently to be a finished check's "
            "(--older-than)"
        )
    return "\n".join(lines) or "No temporary group of reconciler verify is left in the tenant."


def _paragraph(verdict: Verdict) -> str:
    edit = verdict.edit
    name = shown(edit.displayName)
    rule = f"  rule: {shown(edit.membershipRule)}"
    if verdict.agrees:
        lines = [
            f"{name}: agrees. Entra's evaluation of the new rule has the "
            f"{verdict.evaluated} members reconciler predicts",
            rule,
        ]
    else:
        lines = [
            f"{name}: DIFFERS. Entra's evaluation of the new rule has {verdict.evaluated} "
            f"members, reconciler predicts {verdict.predicted}",
            rule,
        ]
        if verdict.onlyEntra:
            lines.append(f"  in Entra's evaluation, not predicted ({len(verdict.onlyEntra)}):")
            lines += _people(verdict.onlyEntra)
        if verdict.onlyPredicted:
            lines.append(f"  predicted, not in Entra's evaluation ({len(verdict.onlyPredicted)}):")
            lines += _people(verdict.onlyPredicted)
    if verdict.otherChangesMove:
        moved = len(verdict.otherChangesMove)
        lines.append(
            f"  verified against the tenant as it is; the plan's other changes move {moved} "
            f"member{'s' if moved != 1 else ''}:"
        )
        lines += _people(verdict.otherChangesMove)
    return "\n".join(lines)


def _people(members: Sequence[Member]) -> list[str]:
    lines = [f"    {shown(m.userPrincipalName or m.id)}" for m in members[:SHOWN]]
    if len(members) > SHOWN:
        lines.append(f"    ... and {len(members) - SHOWN} more")
    return lines


def _verdict_document(verdict: Verdict) -> dict[str, Any]:
    edit, probe = verdict.edit, verdict.probe
    return {
        "group": {"id": edit.groupId, "displayName": edit.displayName},
        "reason": edit.reason,
        "membershipRule": {"before": edit.before, "after": edit.membershipRule},
        "verdict": "agrees" if verdict.agrees else "differs",
        "predicted": verdict.predicted,
        "evaluated": verdict.evaluated,
        "onlyEntra": [_member(m) for m in verdict.onlyEntra],
        "onlyPredicted": [_member(m) for m in verdict.onlyPredicted],
        "verifiedAgainstTenantAsIs": bool(verdict.otherChangesMove),
        "otherChangesMove": [_member(m) for m in verdict.otherChangesMove],
        "temporaryGroup": {
            "id": probe.id,
            "displayName": probe.displayName,
            "deleted": probe.deleted,
            "error": probe.error,
        },
    }


def _member(member: Member) -> dict[str, Any]:
    return {"id": member.id, "userPrincipalName": member.userPrincipalName}
