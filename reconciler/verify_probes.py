"""The temporary groups of rule verification: made, waited on, read, deleted (docs/verify.md).

reconciler/verify.py decides what to verify and compares; this module only handles the groups,
through a tenant's `RuleProbes` (providers/graph_verify.py). Deletion is guarded: every group
asked for is deleted, or named in a warning, whatever ended the check (an error, a timeout,
a second Ctrl-C, SIGTERM turned into KeyboardInterrupt by the CLI).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from reconciler.audit import FAILURE, SUCCESS, AuditLog
from reconciler.errors import ReconcilerError
from reconciler.model import DYNAMIC_MEMBERSHIP, mail_nickname

__all__ = [
    "MARKER",
    "PREFIX",
    "Member",
    "Probe",
    "ProbeListener",
    "ProbeStatus",
    "RuleEvaluationFailed",
    "RuleEvaluationTimeout",
    "RuleProbes",
    "clean_up",
    "create_all",
    "delete_all",
    "probe_group",
    "settled_members",
    "wait_all",
]

PREFIX = "reconciler-verify-"
# every temporary group's description starts so: `verify --cleanup` deletes no other group
MARKER = "Temporary group made by reconciler verify"
_WHEN = "%Y-%m-%dT%H:%M:%SZ"  # when a temporary group was made, in its description
SUCCEEDED, FAILED = "Succeeded", "Failed"
MEMBER_READS = 5  # reads of a group's members to find two that agree
_NAME_MAX = 256  # Graph's longest displayName


class RuleEvaluationTimeout(ReconcilerError):
    """Entra hadn't finished evaluating a temporary group's rule within the time allowed."""


class RuleEvaluationFailed(ReconcilerError):
    """Entra reported its evaluation of a temporary group's rule as failed, or unreadable."""


@dataclass(frozen=True, slots=True)
class Member:
    """A member of a group, as Graph lists it; also one person in a verdict."""

    id: str
    userPrincipalName: str | None  # None for an object that isn't a user, or unknown


@dataclass(frozen=True, slots=True)
class ProbeStatus:
    """How Entra's evaluation of a group's rule stands (membershipRuleProcessingStatus)."""

    status: str  # NotStarted, Running, Succeeded, Failed
    errorMessage: str | None = None


@dataclass(frozen=True, slots=True)
class Probe:
    """The temporary group of one edit, and whether it is gone again."""

    displayName: str
    group: str  # the displayName of the group whose rule it evaluates
    id: str | None = None  # None: not created, or its creation's answer lost
    deleted: bool = False
    error: str | None = None  # why it couldn't be deleted, or found
    may_exist: bool = False  # its creation was asked for, and not refused outright
    unresolved: bool = False  # it may exist, and no group by its name was found to delete


class RuleProbes(Protocol):
    """Temporary groups in a tenant that evaluates rules itself (providers/graph_verify.py)."""

    def create_probe(self, group: Mapping[str, Any]) -> str: ...

    def probe_status(self, group_id: str) -> ProbeStatus: ...

    def probe_members(self, group_id: str) -> Sequence[Member]: ...

    def delete_probe(self, group_id: str) -> None: ...

    def find_probes(self, displayName: str) -> list[str]: ...

    def leftover_probes(self, prefix: str) -> list[Mapping[str, Any]]: ...

    def tenant_id(self) -> str: ...


class ProbeListener(Protocol):
    """Hears how the temporary groups go, to tell the person waiting."""

    def created(self, probe: Probe) -> None: ...

    def waiting(self, probe: Probe, status: str, seconds: float) -> None: ...

    def deleted(self, probe: Probe) -> None: ...


class _Quiet:
    def created(self, probe: Probe) -> None: ...

    def waiting(self, probe: Probe, status: str, seconds: float) -> None: ...

    def deleted(self, probe: Probe) -> None: ...


QUIET: ProbeListener = _Quiet()


def probe_name(group: str) -> str:
    """A name that says whose rule it checks and whose it is, unique to this run."""
    tail = f"-{uuid.uuid4().hex[:8]}"
    return f"{PREFIX}{group}"[: _NAME_MAX - len(tail)] + tail


def probe_group(probe: Probe, group_id: str, rule: str, made: datetime) -> dict[str, Any]:
    """The temporary group as created: the POST body, and the audit record's `after`. Its
    description says when it was made, so `verify --cleanup` leaves a running check's alone."""
    return {
        "displayName": probe.displayName,
        "description": (
            f"{MARKER} at {made.astimezone(UTC):{_WHEN}} to have Entra evaluate the new "
            f"membership rule of {probe.group} "
            f"({group_id}). It assigns no licenses. reconciler deletes it when the check ends; "
            "if it is still here, it may be deleted."
        ),
        "mailEnabled": False,
        "mailNickname": mail_nickname(probe.displayName),
        "securityEnabled": True,
        "groupTypes": [DYNAMIC_MEMBERSHIP],
        "membershipRule": rule,
        "membershipRuleProcessingState": "On",
    }


def create_all(
    probes: RuleProbes,
    made: list[Probe],
    groups: Sequence[tuple[str, str]],
    audit: AuditLog | None,
    listener: ProbeListener,
) -> None:
    """Creates each temporary group in `made` (each with its (group id, rule)), in place;
    a creation cut short leaves its probe without an id, for `delete_all` to look up."""
    for n, (group_id, rule) in enumerate(groups):
        group = probe_group(made[n], group_id, rule, datetime.now(UTC))
        made[n] = replace(made[n], may_exist=True)  # from here on, even if cut short
        try:
            made[n] = replace(made[n], id=probes.create_probe(group))
        except ReconcilerError as error:
            if _refused(error):
                made[n] = replace(made[n], may_exist=False)
            _record_creation(audit, group, None, str(error))
            raise
        _record_creation(audit, group, made[n].id, None)
        listener.created(made[n])


def wait_all(
    made: Sequence[Probe],
    probes: RuleProbes,
    timeout: float,
    poll: float,
    listener: ProbeListener,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    """Until Entra has evaluated every temporary group: its membershipRuleProcessingStatus is
    Succeeded (providers/graph_verify.py says why that reading)."""
    started = clock()
    pending = list(made)
    while True:
        for probe in list(pending):
            status = probes.probe_status(_id(probe))
            if status.status == SUCCEEDED:
                pending.remove(probe)
            elif status.status == FAILED:
                raise RuleEvaluationFailed(
                    f"Entra couldn't evaluate the new membership rule of {probe.group} "
                    f"(temporary group {probe.displayName}): "
                    f"{status.errorMessage or 'no reason given'}"
                )
            else:
                listener.waiting(probe, status.status, clock() - started)
        if not pending:
            return
        waited = clock() - started
        if waited + poll > timeout:
            names = ", ".join(probe.group for probe in pending)
            raise RuleEvaluationTimeout(
                f"Entra hadn't finished evaluating the new membership rule of {names} after "
                f"{_duration(waited)}, the time allowed ({timeout:g} s); nothing was changed. "
                "Entra can take hours in a large tenant: allow more time"
            )
        sleep(poll)


def settled_members(
    probes: RuleProbes, probe: Probe, pause: float, sleep: Callable[[float], None]
) -> list[Member]:
    """The group's members once two reads in a row agree: a replica behind the one that said
    Succeeded may list part of them (RuleEvaluationFailed if they never settle)."""
    last = probes.probe_members(_id(probe))
    for _ in range(MEMBER_READS - 1):
        sleep(pause)
        again = probes.probe_members(_id(probe))
        if {m.id.lower() for m in again} == {m.id.lower() for m in last}:
            return list(again)
        last = again
    raise RuleEvaluationFailed(
        f"the members of the temporary group {probe.displayName} kept changing over "
        f"{MEMBER_READS} reads after Entra said it had evaluated the new rule of {probe.group}; "
        "verify again when the directory is quieter"
    )


def delete_all(
    probes: RuleProbes,
    made: list[Probe],
    audit: AuditLog | None,
    listener: ProbeListener,
) -> None:
    """Deletes every temporary group in `made` that may exist, in place, each on its own: a
    failure or a second Ctrl-C doesn't stop the others; an interruption is raised after."""
    interrupted: BaseException | None = None
    for n, probe in enumerate(made):
        if not probe.may_exist:
            continue
        try:
            made[n] = _delete(probes, probe, audit)
        except BaseException as exc:  # KeyboardInterrupt too: the rest still get deleted
            made[n] = replace(probe, error=f"interrupted ({type(exc).__name__})")
            interrupted = interrupted or exc
        try:
            listener.deleted(made[n])
        except BaseException as exc:
            interrupted = interrupted or exc
    if interrupted is not None:
        raise interrupted


def clean_up(
    probes: RuleProbes, audit: AuditLog | None, now: datetime, older_than: timedelta
) -> tuple[list[Probe], int]:
    """Deletes the temporary groups a run left behind: named with PREFIX and described with
    MARKER, never another group, and made `older_than` before `now` (a younger one may be a
    check still running); each as it ended, and how many younger ones were left."""
    found, young = [], 0
    for group in probes.leftover_probes(PREFIX):
        description = str(group.get("description") or "")
        if not (
            str(group.get("displayName") or "").startswith(PREFIX)
            and description.startswith(MARKER)
        ):
            continue
        made = _made_at(description)
        # `older_than` 0 means every age: also a group whose maker's clock ran ahead of ours
        if made is not None and older_than > timedelta(0) and now - made < older_than:
            young += 1
            continue
        found.append(Probe(str(group["displayName"]), "", str(group["id"]), may_exist=True))
    delete_all(probes, found, audit, QUIET)
    return found, young


def _made_at(description: str) -> datetime | None:
    """When a temporary group was made, from its description; None when it doesn't say."""
    words = description.removeprefix(MARKER).split()
    if len(words) < 2 or words[0] != "at":
        return None
    try:
        return datetime.strptime(words[1], _WHEN).replace(tzinfo=UTC)
    except ValueError:
        return None


def _refused(error: ReconcilerError) -> bool:
    """Whether the tenant refused a creation outright (a 4xx: bad rule, no permission), so
    that no group was made; a lost answer or a gateway error may hide one that was."""
    status = getattr(error, "status", None)  # GraphError's
    return isinstance(status, int) and 400 <= status < 500 and status not in (408, 429)


def _delete(probes: RuleProbes, probe: Probe, audit: AuditLog | None) -> Probe:
    """The probe deleted, or with why not; one whose creation's answer was lost is looked up by
    its unique name, and every group found so is deleted."""
    ids = [probe.id] if probe.id is not None else None
    try:
        if ids is None:
            ids = probes.find_probes(probe.displayName)
            if not ids:
                return replace(probe, unresolved=True)
        for group_id in ids:
            probe = replace(probe, id=group_id, deleted=False)
            probes.delete_probe(group_id)
            probe = replace(probe, deleted=True)
            _record_deletion(audit, probe)
    except (ReconcilerError, OSError) as error:
        failed = replace(probe, error=str(error), unresolved=probe.id is None)
        if failed.id is not None:
            _record_deletion(audit, failed)
        return failed
    return probe


def _record_creation(
    audit: AuditLog | None, group: Mapping[str, Any], group_id: str | None, error: str | None
) -> None:
    if audit is None:
        return
    named = {"id": group_id, "displayName": group["displayName"]}
    change = {"action": "createGroup", "group": named, "after": dict(group)}
    audit.change(change, FAILURE if error is not None else SUCCESS, error)


def _record_deletion(audit: AuditLog | None, probe: Probe) -> None:
    if audit is None:
        return
    group = {"id": probe.id, "displayName": probe.displayName}
    change = {"action": "deleteGroup", "group": group}
    audit.change(change, SUCCESS if probe.deleted else FAILURE, probe.error)


def _id(probe: Probe) -> str:
    assert probe.id is not None  # created before it is asked about
    return probe.id


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min"
