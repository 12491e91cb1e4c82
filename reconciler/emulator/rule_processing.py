"""Dynamic membership processing of a new group, as Entra shows it, and `disagree` faults.

Entra evaluates a new dynamic group's rule in the background: until it has, the group has no
members, and its `membershipRuleProcessingStatus` (Graph beta) reads `NotStarted`, then
`Running`, then `Succeeded` with the members in place. The engine settles the tenant at once;
with `rule_reads` > 0, a new dynamic group shows as unprocessed for that many reads of its
status or its members, so a client's wait loop is exercised (0: processed at once).

Emulator's choices: only groups created here go through the wait (a rule changed on an existing
group reads `Succeeded` at once, its members settled as the engine settles them), and every
dynamic group not waiting reads `Succeeded`; a group that isn't dynamic has no status (null).

A `disagree` fault hitting a new dynamic group makes its members, as `/members` lists them,
differ from what its rule selects: the first `leave-out` of them (by userPrincipalName) are
left out, the first `put-in` users the rule doesn't select (likewise) put in. The tenant itself
is not changed, so nothing else (licenses, memberOf rules) sees it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.emulator.faults import Faults
from reconciler.emulator.store import State
from reconciler.model import DYNAMIC_MEMBERSHIP

NOT_STARTED, RUNNING, SUCCEEDED = "NotStarted", "Running", "Succeeded"


@dataclass
class _Shown:
    """What a group's members read as, unlike the tenant's."""

    waiting: int = 0  # reads still to show the group unprocessed
    hidden: frozenset[str] = frozenset()  # lower-case ids left out
    added: tuple[str, ...] = ()  # ids put in
    updated: str | None = None  # lastMembershipUpdated, once processed


class RuleProcessing:
    """The dynamic groups created here whose members don't yet, or don't, read as the tenant's."""

    def __init__(self, faults: Faults, rule_reads: int = 0) -> None:
        self.faults = faults
        self.rule_reads = rule_reads
        self._shown: dict[str, _Shown] = {}
        self._lock = threading.Lock()

    def created(self, group: dict[str, Any], state: State) -> None:
        """A group was just created: if dynamic, Entra has yet to evaluate it."""
        if DYNAMIC_MEMBERSHIP not in (group.get("groupTypes") or ()):
            return
        shown = _Shown(waiting=self.rule_reads)
        disagreement = self.faults.disagreement()
        if disagreement is not None:
            members = {m.lower() for m in group.get("members", ())}
            by_name = sorted(state.objects["users"], key=lambda u: u["userPrincipalName"].lower())
            inside = [u["id"] for u in by_name if u["id"].lower() in members]
            outside = [u["id"] for u in by_name if u["id"].lower() not in members]
            shown.hidden = frozenset(i.lower() for i in inside[: disagreement.leave_out])
            shown.added = tuple(outside[: disagreement.put_in])
        with self._lock:
            self._shown[group["id"].lower()] = shown

    def deleted(self, group_id: str) -> None:
        with self._lock:
            self._shown.pop(group_id.lower(), None)

    def status(self, group: dict[str, Any]) -> dict[str, Any] | None:
        """The group's membershipRuleProcessingStatus; a read counts towards its processing."""
        if DYNAMIC_MEMBERSHIP not in (group.get("groupTypes") or ()):
            return None
        state = self._read(group["id"])
        if state is None:
            return {"status": SUCCEEDED, "lastMembershipUpdated": None, "errorMessage": None}
        waiting, updated = state
        status = SUCCEEDED if waiting < 0 else (NOT_STARTED if waiting == 0 else RUNNING)
        return {"status": status, "lastMembershipUpdated": updated, "errorMessage": None}

    def members(self, group: dict[str, Any]) -> list[str]:
        """The group's member ids as Graph lists them; a read counts towards its processing."""
        members = list(group.get("members", ()))
        key = group["id"].lower()
        if self._read(group["id"]) is None:
            return members
        with self._lock:
            shown = self._shown.get(key)
            if shown is None:
                return members
            if shown.updated is None:
                return []  # not evaluated yet: no members
            kept = [m for m in members if m.lower() not in shown.hidden]
            present = {m.lower() for m in kept}
            return kept + [m for m in shown.added if m.lower() not in present]

    def _read(self, group_id: str) -> tuple[int, str | None] | None:
        """(-1 once processed, else how many reads it has waited: 0 at first), and when it
        was processed; None for a group that reads as the tenant's."""
        with self._lock:
            shown = self._shown.get(group_id.lower())
            if shown is None:
                return None
            if shown.updated is not None:
                return -1, shown.updated
            if shown.waiting <= 0:
                shown.updated = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                return -1, shown.updated
            waited = self.rule_reads - shown.waiting
            shown.waiting -= 1
            return waited, None
