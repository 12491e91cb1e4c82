"""What an apply cut short left in the audit log, recorded by the next apply before its changes.

Apply writes an intent before each change and its outcome after (audit.py). A run killed in
between leaves an intent without an outcome, and one killed after its changes leaves the groups
whose licensing it changed without the Start and Finish records of their processing.
`record_interrupted` finds both among the tenant's records and writes what the tenant shows:

- for an intent without an outcome, `found done` if its change was made, else `not applied`
  (the plan that follows makes it, with records of its own). The local tenant says which for
  certain: it keeps the changeIds of the changes it made in each change's own transaction.
  Graph can't, so the tenant is compared with what the change was to leave; a membership
  change, which Graph makes in several requests, member by member.
- for the last run, the Start and Finish records it lacks of each group whose licensing it
  changed and that still exists, counted from the tenant as it is now.

Each record is written alone, so a run cut short while recording this is finished by the next.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reconciler.audit import (
    FINISH,
    FOUND_DONE,
    NOT_APPLIED,
    START,
    STARTED,
    SUCCESS,
    AuditLog,
    Record,
    group_results,
    read_audit,
)
from reconciler.model import Group, Tenant
from reconciler.plan.changes import MEMBERSHIP_PROPERTIES
from reconciler.providers.base import Provider

# the actions after which Entra processes the group's licenses again (plan.changes.reprocesses)
_REPROCESSING = frozenset(
    {"addMembers", "removeMembers", "addLicense", "changeDisabledPlans", "removeLicense"}
)
Outcome = tuple[str, dict[str, Any]]  # a result, and what the outcome states unlike its intent


@dataclass(slots=True)
class _Scan:
    """The tenant's records of apply runs: intents without an outcome, and the last run's."""

    open: dict[str, Record] = field(default_factory=dict)  # changeId -> intent
    runs: set[str] = field(default_factory=set)
    last: str | None = None  # the run that began last
    intents: list[Record] = field(default_factory=list)  # the last run's, in order
    made: dict[str, dict[str, Any]] = field(default_factory=dict)  # its changes made -> group
    started: set[str] = field(default_factory=set)  # its groups with a Start (lower-case id)
    finished: set[str] = field(default_factory=set)  # and with a Finish

    def add(self, record: Record) -> None:
        run = record["runId"]
        if run not in self.runs:
            # a new run begins: only the last one's processing records can be missing, since
            # every run records what the one before it left before it writes a record of its own
            self.runs.add(run)
            self.last, self.intents, self.made = run, [], {}
            self.started, self.finished = set(), set()
        change_id = record.get("changeId")
        if isinstance(change_id, str):
            if record.get("result") == STARTED:
                self.open[change_id] = record
                if run == self.last:
                    self.intents.append(record)
            else:
                self.open.pop(change_id, None)
                if run == self.last and record.get("result") in (SUCCESS, FOUND_DONE):
                    self.made[change_id] = record["group"]
        elif run == self.last and isinstance(record.get("group"), dict):
            group_id = str(record["group"].get("id", "")).lower()
            if record.get("operation") == START:
                self.started.add(group_id)
            elif record.get("operation") == FINISH:
                self.finished.add(group_id)

    def unprocessed(self) -> dict[str, dict[str, Any]]:
        """The groups (by lower-case id) the last run changed the licensing of, as apply_plan
        picks them, whose Finish it lacks; a group the run deleted is processed no more."""
        touched: dict[str, dict[str, Any]] = {}
        for intent in self.intents:
            group = self.made.get(intent["changeId"])
            if group is None:
                continue
            if _reprocesses(intent):
                touched[str(group["id"]).lower()] = group
            elif intent["operation"] == "deleteGroup":
                touched.pop(str(group["id"]).lower(), None)
        return {key: group for key, group in touched.items() if key not in self.finished}


def record_interrupted(provider: Provider, audit: AuditLog) -> list[Record]:
    """Record what runs cut short left (module docstring) in `audit`; the records written.

    Reads the tenant only when there is something to record, and, for the local tenant, only
    for processing records.
    """
    scan = _scan(audit.path, audit.tenant_id)
    if not scan.open and not scan.unprocessed():
        return []
    tenant: Tenant | None = None
    recorded: Callable[[Sequence[str]], dict[str, str]] | None = getattr(provider, "recorded", None)
    made = recorded(list(scan.open)) if callable(recorded) and scan.open else None
    if scan.open and made is None:
        tenant = provider.read()
    written: list[Record] = []
    for intent in list(scan.open.values()):
        outcomes = _journaled(intent, made) if made is not None else _found(intent, tenant)
        for result, stated in outcomes:
            record = audit.outcome(intent, result, **stated)
            scan.add(record)
            written.append(record)
    pending = scan.unprocessed()
    if pending:
        tenant = tenant or provider.read()
        written += _processing(audit, scan, pending, tenant)
    return written


def _scan(path: Path, tenant_id: str) -> _Scan:
    scan = _Scan()
    # a line cut short by a kill is no record: the rest of the log still counts
    for record in read_audit(path, damaged=[], raw=True):
        if record.get("tenantId") == tenant_id and isinstance(record.get("runId"), str):
            scan.add(record)
    return scan


def _processing(
    audit: AuditLog, scan: _Scan, pending: dict[str, dict[str, Any]], tenant: Tenant
) -> list[Record]:
    """The Start and Finish records the last run lacks, for its groups that still exist."""
    groups = [group for group in tenant.groups if group.id.lower() in pending]
    counts = group_results(tenant, [group.id for group in groups])
    actor = scan.intents[0]["actor"] if scan.intents else None
    written: list[Record] = []
    for group in sorted(groups, key=lambda group: group.displayName.lower()):
        named = {"id": group.id, "displayName": group.displayName}
        written += audit.group_processing(
            named,
            *counts[group.id],
            run_id=scan.last,
            actor=actor,
            start=group.id.lower() not in scan.started,
        )
    return written


def _reprocesses(intent: Record) -> bool:
    """Whether Entra processes the group's licenses again after the change `intent` names."""
    if intent["operation"] == "updateGroup":
        return isinstance(intent.get("after"), dict) and bool(
            intent["after"].keys() & MEMBERSHIP_PROPERTIES
        )
    return intent["operation"] in _REPROCESSING


def _journaled(intent: Record, made: dict[str, str]) -> list[Outcome]:
    """The outcome of an intent by the local tenant's journal: made, or not at all."""
    group_id = made.get(intent["changeId"])
    if group_id is None:
        return [(NOT_APPLIED, {})]
    return [(FOUND_DONE, {"group": {**intent["group"], "id": group_id}})]


def _found(intent: Record, tenant: Tenant | None) -> list[Outcome]:
    """The outcome of an intent by what the tenant shows: whether it holds what the change
    was to leave (someone else may have done or undone it since; Graph can't say who)."""
    assert tenant is not None
    action, wanted = intent["operation"], intent["group"]
    groups = {group.id.lower(): group for group in tenant.groups}
    group = groups.get(str(wanted["id"]).lower())
    match action:
        case "createGroup":
            name = str(wanted["displayName"]).casefold()
            created = next((g for g in tenant.groups if g.displayName.casefold() == name), None)
            if created is None:
                return [(NOT_APPLIED, {})]
            return [
                (FOUND_DONE, {"group": {"id": created.id, "displayName": wanted["displayName"]}})
            ]
        case "deleteGroup":
            done = group is None
        case "updateGroup":
            after = intent["after"] or {}
            done = group is not None and all(
                _value(getattr(group, key, None)) == value for key, value in after.items()
            )
        case "addLicense" | "changeDisabledPlans":
            done = group is not None and _holds(group, intent["after"])
        case "removeLicense":
            sku = str(intent["before"]["sku"]["skuId"]).lower()
            done = group is None or all(a.skuId.lower() != sku for a in group.assignedLicenses)
        case "addMembers" | "removeMembers":
            return _members_found(intent, group)
        case _:
            return []  # an action this reconciler doesn't know: it stays interrupted
    return [(FOUND_DONE if done else NOT_APPLIED, {})]


def _members_found(intent: Record, group: Group | None) -> list[Outcome]:
    """Found done for the members the tenant shows added (removed), not applied for the rest."""
    adding = intent["operation"] == "addMembers"
    side = "after" if adding else "before"
    members = list(intent[side]["members"])
    present = {member.lower() for member in group.members} if group is not None else set()
    made = [m for m in members if (str(m["id"]).lower() in present) == adding]
    missing = [m for m in members if m not in made]
    if not missing:
        return [(FOUND_DONE, {})]
    if not made:
        return [(NOT_APPLIED, {})]
    # the part made first: if this is cut short too, what the tenant shows is recorded
    return [(FOUND_DONE, {side: {"members": made}}), (NOT_APPLIED, {side: {"members": missing}})]


def _holds(group: Group, license: dict[str, Any]) -> bool:
    """Whether the group assigns the product with exactly these service plans turned off."""
    sku = str(license["sku"]["skuId"]).lower()
    plans = {str(plan["servicePlanId"]).lower() for plan in license["disabledPlans"]}
    return any(
        assigned.skuId.lower() == sku and {p.lower() for p in assigned.disabledPlans} == plans
        for assigned in group.assignedLicenses
    )


def _value(value: object) -> object:
    """A group property as the plan document writes it: a list, not the model's tuple."""
    return list(value) if isinstance(value, tuple) else value
