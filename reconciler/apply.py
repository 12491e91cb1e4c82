"""Runs a plan's changes through a provider, in order, stopping at the first failure.

It never prints: it reports progress through a callback and returns what happened, so the
caller can say what was made, what failed and what was never tried.

No change is made without its record in the audit log: its intent is on disk before it is sent,
and its outcome follows. What a run cut short left is recorded by the next (interrupted.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from reconciler.audit import FAILURE, NOT_APPLIED, SUCCESS, AuditLog, Record, group_results
from reconciler.errors import ReconcilerError
from reconciler.interrupted import record_interrupted
from reconciler.plan.changes import Change, LicenseChange, reprocesses
from reconciler.plan.document import changes_from_document
from reconciler.providers.base import AppliedChange, Provider


@dataclass(frozen=True, slots=True)
class Failure:
    """The change the tenant refused, and why."""

    change: Change
    error: ReconcilerError


@dataclass(frozen=True, slots=True)
class ApplyResult:
    """What an apply did, in plan order: the changes made, the one that failed, those not tried.

    The plan's changes are `succeeded`, then `failure` (if any), then `not_attempted`, so the
    position of each in the plan is known from the lengths.
    """

    succeeded: tuple[AppliedChange, ...]
    failure: Failure | None = None
    not_attempted: tuple[Change, ...] = ()

    @property
    def complete(self) -> bool:
        return self.failure is None

    @property
    def processing_failed(self) -> tuple[AppliedChange, ...]:
        """Per group, the last change after which Entra processed its licenses, where that
        processing failed (ProcessingFailed): its members' licenses need looking at."""
        last: dict[str, AppliedChange] = {}
        for applied in self.succeeded:
            if reprocesses(applied.change):
                last[applied.groupId.lower()] = applied
        return tuple(applied for applied in last.values() if applied.processingFailed)


class RemovalsRefused(ReconcilerError):
    """The plan's removal guards refuse it and the operator didn't allow removals."""


Sending = Callable[[range], AbstractContextManager[object]]


def apply_changes(
    changes: Sequence[Change],
    provider: Provider,
    progress: Callable[[int, AppliedChange], None] = lambda index, applied: None,
    *,
    starting: Callable[[int], None] = lambda index: None,
    sending: Sending = lambda indexes: nullcontext(),
) -> ApplyResult:
    """Apply the changes in order until one fails; `starting` hears of each as it is sent,
    `progress` of each as it completes.

    `sending` is called with the indexes of each batch before it is sent, and the batch is
    sent inside the context it returns; what it raises propagates, and nothing is sent.
    Only a ReconcilerError from the tenant (it refused, or couldn't be written) stops the run
    with a result; anything else is a bug and propagates.
    """
    succeeded: list[AppliedChange] = []
    index = 0
    for batch in license_batches(changes):
        indexes = range(index, index + len(batch))
        # outside the try: an audit log that can't be written is no refusal by the tenant
        context = sending(indexes)
        for each in indexes:  # a batch is one request: its changes start together
            starting(each)
        try:
            with context:
                applied = provider.apply_together(batch)
        except ReconcilerError as error:
            # each batch is all or nothing, so the later ones may depend on what didn't happen
            return ApplyResult(
                tuple(succeeded), Failure(changes[index], error), tuple(changes[index + 1 :])
            )
        for done in applied:
            succeeded.append(done)
            progress(index, done)
            index += 1
    return ApplyResult(tuple(succeeded))


def license_batches(changes: Sequence[Change]) -> Iterator[list[Change]]:
    """The changes in order, a group's license changes that come together in one batch: one
    `assignLicense`, so Entra assigns a group's new products all or nothing, as plans foresee."""
    batch: list[Change] = []
    for change in changes:
        joins = (
            batch
            and isinstance(change, LicenseChange)
            and isinstance(batch[0], LicenseChange)
            and change.groupId == batch[0].groupId
        )
        if batch and not joins:
            yield batch
            batch = []
        batch.append(change)
    if batch:
        yield batch


def apply_plan(
    document: Mapping[str, Any],
    provider: Provider,
    audit: AuditLog,
    progress: Callable[[int, AppliedChange], None] = lambda index, applied: None,
    *,
    starting: Callable[[int], None] = lambda index: None,
    failed: Callable[[int, ReconcilerError], None] = lambda index, error: None,
) -> ApplyResult:
    """Apply a plan document's changes, writing each, and each group's licensing, to `audit`;
    `starting` and `progress` hear of each change by its index, as apply_changes says, and
    `failed` of the one the tenant refused, before the tenant is read again.

    First the log is checked (InputError if it can't be written: nothing is changed) and what
    a run cut short left in it is recorded. Each change's intent is written before it is sent
    and its outcome after. Then each group whose licensing they changed (members, rule,
    licenses) and that still exists gets Entra's Start and Finish records, counted from the
    tenant as it is now.
    """
    audit.check()
    record_interrupted(provider, audit)
    changes = document["changes"]
    intents: dict[int, Record] = {}  # the changes sent whose outcome isn't written yet
    created: dict[str, str] = {}  # placeholder id (new:<name>) -> the group's real id
    touched: dict[str, dict[str, Any]] = {}

    def sending(indexes: range) -> AbstractContextManager[object]:
        for index in indexes:
            # a group this run created is named by its real id, as the tenant knows it
            group_id = changes[index]["group"]["id"]
            change = _with_group_id(changes[index], created.get(group_id, group_id))
            intents[index] = audit.intent(change)
        return _journaling(provider, [intents[index]["changeId"] for index in indexes])

    def record(index: int, applied: AppliedChange) -> None:
        change = _with_group_id(changes[index], applied.groupId)
        created[changes[index]["group"]["id"]] = applied.groupId
        audit.outcome(intents.pop(index), SUCCESS, group=change["group"])
        if reprocesses(applied.change):
            touched[applied.groupId] = change["group"]
        elif change["action"] == "deleteGroup":
            touched.pop(applied.groupId, None)  # a deleted group is processed no more
        progress(index, applied)

    result = apply_changes(
        changes_from_document(document), provider, record, starting=starting, sending=sending
    )
    if result.failure is not None:
        # the batch refused is all or nothing: its first change failed, the others weren't made
        refused = sorted(intents)
        audit.outcome(intents.pop(refused[0]), FAILURE, result.failure.error.message)
        for index in refused[1:]:
            audit.outcome(intents.pop(index), NOT_APPLIED)
        failed(len(result.succeeded), result.failure.error)
    if touched:
        after = provider.read()
        licensing = {g.id for g in after.groups if g.id in touched}
        counts = group_results(after, licensing)
        for group_id in sorted(licensing, key=lambda gid: touched[gid]["displayName"].lower()):
            audit.group_processing(touched[group_id], *counts[group_id], run_id=audit.run_id)
    return result


def _journaling(provider: Provider, change_ids: list[str]) -> AbstractContextManager[object]:
    """The provider keeps the changeIds in the transaction that makes the changes, where it can
    (the local tenant), so the next run knows for certain whether a run cut short made them."""
    recording = getattr(provider, "recording", None)
    return recording(change_ids) if callable(recording) else nullcontext()


def _with_group_id(change: Mapping[str, Any], group_id: str) -> dict[str, Any]:
    """The change document naming the group by the id the tenant gave it."""
    return {**change, "group": {**change["group"], "id": group_id}}


def check_guards(guards: Mapping[str, Any], allow_removals: bool, rerun: str) -> None:
    """RemovalsRefused when the plan's `guards` refuse it, unless removals are allowed.

    The message names what tripped the guard and how to proceed: `rerun` (the command again
    with --allow-removals), or changing the policy that set the guard and planning again.
    """
    if allow_removals or not guards["refused"]:
        return
    count, limit = guards["licenseRemovals"], guards["maxLicenseRemovals"]
    protected = guards["protected"]
    s = "s" if len(protected) > 1 else ""
    ways = [f"run `{rerun}`"]
    if limit is not None and count > limit:
        ways.append(f"raise settings.maxLicenseRemovals to at least {count}")
    if protected:
        ways.append(f"remove `protect: true` from the group{s}")
    if len(ways) > 1:
        ways[-1] += " in the policy and plan again"
    problems = list(guards["reasons"]) or ["the removal guards refuse the plan"]
    raise RemovalsRefused(
        f"apply refused: {'; and '.join(problems)}. To apply it anyway, {', or '.join(ways)}."
    )
