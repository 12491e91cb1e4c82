"""What `reconciler apply` shows as it runs: text for a person, or JSON events for a pipeline.

The text shows the plan, asks, then writes a line per change and a summary; the events
(render/apply_events.py, docs/apply-events.md) are written on stdout one a line as each happens.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

import click

from reconciler import __version__
from reconciler.apply import ApplyResult, RemovalsRefused, apply_plan
from reconciler.audit import AuditLog
from reconciler.cli.plan import styled
from reconciler.cli.progress import StderrProgress
from reconciler.errors import InputError, ReconcilerError
from reconciler.plan.changes import NEW_ID_PREFIX
from reconciler.plan.document import Document
from reconciler.providers.base import AppliedChange, Provider, ProviderError, TenantBusyError
from reconciler.render import apply_events as events
from reconciler.render.apply_text import (
    applied_summary,
    apply_report,
    processing_warnings,
    waiting_line,
)
from reconciler.render.plan_text import change_line, plan_text
from reconciler.render.safe_text import shown
from reconciler.render.verify import nothing_text, verdicts_text
from reconciler.verify import (
    RuleEvaluationFailed,
    RuleEvaluationTimeout,
    RulesDiffer,
    Verdict,
    VerifyUnsupported,
)

if TYPE_CHECKING:  # httpx is imported only for a graph tenant
    from reconciler.providers.graph_writes import ProcessingWait


class StalePlanError(ReconcilerError):
    """A saved plan that is another tenant's, or no longer what planning now would give."""


class ApplyFailedError(ReconcilerError):
    """The tenant refused a change; the ones before it were made, the ones after not tried."""


class ApprovalRequiredError(InputError):
    """A new plan applied with `--format json`, which never asks, without --auto-approve."""


class Output(Protocol):
    """What apply shows as it goes: text for a person, or the JSON events."""

    def planned(self, document: Document, plan_file: str | None, tenant_id: str) -> None: ...

    def note(self, text: str) -> None: ...

    def confirm(self, auto_approve: bool) -> None: ...

    def verified(self, verdicts: list[Verdict]) -> None: ...

    def run(self, document: Document, provider: Provider, audit: AuditLog) -> None: ...


def _stopped(changes: list[Document], result: ApplyResult) -> ApplyFailedError:
    assert result.failure is not None
    done = len(result.succeeded)
    return ApplyFailedError(
        f"apply stopped at change {done + 1} of {len(changes)} "
        f"({changes[done]['group']['displayName']}): {result.failure.error}"
    )


def _hear_waits(provider: Provider, report: WaitReport) -> None:
    hear = getattr(provider, "on_processing_wait", None)
    if callable(hear):  # Graph processes licenses in the background; say while apply waits
        hear(report)


class TextOutput:
    """apply for a person: the plan shown and confirmed, a line per change, a summary."""

    def __init__(self, progress: StderrProgress) -> None:
        self._progress = progress

    def planned(self, document: Document, plan_file: str | None, tenant_id: str) -> None:
        if plan_file is None:
            # whoever approves sees every license the plan takes away, not the first 50
            click.echo(styled(plan_text(document, show_all=True)))

    def note(self, text: str) -> None:
        with self._progress.hold():
            click.echo(f"note: {shown(text)}", err=True)

    def confirm(self, auto_approve: bool) -> None:
        if auto_approve:
            return
        if not sys.stdin.isatty():
            raise InputError(
                "apply needs an answer and none can be asked here: "
                "pass --auto-approve to apply without asking"
            )
        click.confirm("\nApply these changes?", abort=True)

    def verified(self, verdicts: list[Verdict]) -> None:
        """Entra's verdict on each new rule (apply --verify-rules), before any change."""
        with self._progress.hold():
            click.echo("")
            click.echo(verdicts_text(verdicts) if verdicts else nothing_text())

    def run(self, document: Document, provider: Provider, audit: AuditLog) -> None:
        progress = self._progress
        _hear_waits(provider, WaitReport(lambda wait: _held(progress, _say_waiting, wait)))
        click.echo("")
        changes = document["changes"]
        lines = [change_line(change) for change in changes]

        def done(index: int, applied: AppliedChange) -> None:
            with progress.hold():
                click.echo(lines[index])
            progress.advance()

        progress.stage("applying changes", total=len(changes))
        result = apply_plan(document, provider, audit, done)
        progress.done()
        if result.failure is None:
            click.echo(f"\n{applied_summary(document['summary'])}")
        else:
            click.echo(f"\n{apply_report(changes, result)}")
        for warning in processing_warnings(result):
            click.echo(warning, err=True)
        if result.failure is not None:
            raise _stopped(changes, result)


# the diagnostic code of each error apply ends with, the first class that matches
_CODES: tuple[tuple[type[ReconcilerError], str], ...] = (
    (ApprovalRequiredError, "approval-required"),
    (StalePlanError, "plan-stale"),
    (RemovalsRefused, "removals-refused"),
    (RulesDiffer, "rules-differ"),
    (VerifyUnsupported, "verify-unsupported"),
    (RuleEvaluationTimeout, "verify-timeout"),
    (RuleEvaluationFailed, "verify-failed"),
    (ApplyFailedError, "apply-failed"),
    (TenantBusyError, "tenant-busy"),
    (ProviderError, "tenant-error"),
    (InputError, "invalid-input"),
)
_REFUSALS = (StalePlanError, RemovalsRefused, RulesDiffer)


class EventOutput:
    """apply for a pipeline: its events on stdout, each written and flushed as it happens."""

    def __init__(self, progress: StderrProgress) -> None:
        self._progress = progress
        self.document: Document | None = None
        self.succeeded = 0
        self.failed = 0
        self._changes: list[Document] = []
        self._created: dict[str, str] = {}  # placeholder id of a group made -> its real id
        self._started: dict[int, float] = {}  # changes sent and not yet done -> when
        self.emit(events.version_event(__version__))

    def emit(self, event: events.Event) -> None:
        # bytes: the log is UTF-8 whatever the locale; click.echo flushes every line
        line = events.event_line(event, datetime.now(UTC)).encode("utf-8")
        with self._progress.hold():  # stdout and stderr may share a terminal
            click.echo(line)

    def planned(self, document: Document, plan_file: str | None, tenant_id: str) -> None:
        self.document, self._changes = document, document["changes"]
        self.emit(events.plan_event(document, plan_file, tenant_id))

    def note(self, text: str) -> None:
        self.emit(events.diagnostic("info", "plan-drift", text))

    def confirm(self, auto_approve: bool) -> None:
        """Never asks: the json mode checked --auto-approve before it began."""

    def verified(self, verdicts: list[Verdict]) -> None:
        """A diagnostic per rule verified: a note when Entra agrees, a warning when not (the
        error that refuses the apply, if it does, follows)."""
        for verdict in verdicts:
            group = {"id": verdict.edit.groupId, "displayName": verdict.edit.displayName}
            text = verdicts_text([verdict])
            if verdict.agrees:
                self.emit(events.diagnostic("info", "rule-verified", text, group=group))
            else:
                self.emit(events.diagnostic("warning", "rule-differs", text, group=group))

    def run(self, document: Document, provider: Provider, audit: AuditLog) -> None:
        _hear_waits(provider, WaitReport(self._waiting))
        self._progress.stage("applying changes", total=len(self._changes))
        result = apply_plan(
            document, provider, audit, self._done, starting=self._starting, failed=self._failed
        )
        self._progress.done()
        for applied in result.processing_failed:
            self.emit(events.processing_failed_diagnostic(applied))
        if result.failure is not None:
            raise _stopped(self._changes, result)

    def errored(self, error: ReconcilerError) -> None:
        """The error that ends the run, then the summary."""
        code = next((code for kind, code in _CODES if isinstance(error, kind)), "error")
        for event in events.error_diagnostics(error, code):
            self.emit(event)
        if self.failed:
            outcome = "failed"
        elif isinstance(error, _REFUSALS):
            outcome = "refused"
        else:
            outcome = "errored"
        self._summary(outcome)

    def interrupted(self) -> None:
        """Ctrl-C or SIGTERM: said as the error that ends the run, then the summary, so a
        pipeline's log is whole even when the run was cancelled."""
        made = (
            f"{self.succeeded} change(s) were made before it"
            if self.succeeded
            else ("nothing was changed")
        )
        text = f"apply was interrupted; {made}. `reconciler plan` shows what remains."
        self.emit(events.diagnostic("error", "interrupted", text))
        self._summary("failed" if self.succeeded or self.failed else "errored")

    def finished(self) -> None:
        changed = self.document is not None and self.document["changes"]
        self._summary("applied" if changed else "no-changes")

    def _summary(self, outcome: str) -> None:
        self.emit(events.summary_event(self.document, self.succeeded, self.failed, outcome))

    def _group_id(self, index: int) -> str:
        """The change's group by the id the tenant knows it by, once this apply made it."""
        group_id = self._changes[index]["group"]["id"]
        return self._created.get(group_id, group_id)

    def _starting(self, index: int) -> None:
        self._started[index] = time.monotonic()
        self.emit(events.change_started(self._changes, index, self._group_id(index)))

    def _done(self, index: int, applied: AppliedChange) -> None:
        planned = self._changes[index]["group"]["id"]
        if planned.startswith(NEW_ID_PREFIX):
            self._created[planned] = applied.groupId
        self.succeeded += 1
        seconds = time.monotonic() - self._started.pop(index)
        self.emit(events.change_done(self._changes, index, applied, seconds))
        self._progress.advance()

    def _failed(self, index: int, error: ReconcilerError) -> None:
        self.failed = 1
        seconds = time.monotonic() - self._started.pop(index)
        self._started.clear()  # the rest of its batch is not attempted either
        group_id = self._group_id(index)
        self.emit(events.change_failed(self._changes, index, group_id, error, seconds))

    def _waiting(self, wait: ProcessingWait) -> None:
        # the change waited on is the first sent and not yet done (a batch is one processing)
        index = min(self._started, default=None)
        if index is None:
            return
        seconds = wait.seconds
        state = wait.licenseProcessingState
        self.emit(events.processing_wait(self._changes, index, wait.groupId, state, seconds))


class WaitReport:
    """Says that apply is waiting for a group's license processing: at the first unfinished
    poll, then every REPORT_EVERY seconds; on stderr, unless told to `say` it otherwise."""

    REPORT_EVERY = 15.0

    def __init__(self, say: Callable[[ProcessingWait], None] | None = None) -> None:
        self._next: dict[str, float] = {}
        self._say = say or _say_waiting

    def __call__(self, wait: ProcessingWait) -> None:
        if wait.seconds < self._next.get(wait.groupId, 0.0):
            return
        self._next[wait.groupId] = wait.seconds + self.REPORT_EVERY
        self._say(wait)


def _held(
    progress: StderrProgress, say: Callable[[ProcessingWait], None], wait: ProcessingWait
) -> None:
    """`say(wait)` on a screen the progress line has made way for."""
    with progress.hold():
        say(wait)


def _say_waiting(wait: ProcessingWait) -> None:
    line = waiting_line(wait.displayName, wait.licenseProcessingState, wait.seconds)
    click.echo(line, err=True)
