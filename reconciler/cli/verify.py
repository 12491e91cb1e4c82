"""`reconciler verify`: have Entra evaluate each new membership rule of a licensed group on a
temporary group, and compare its members with reconciler's prediction (docs/verify.md).
`verify --cleanup` deletes the temporary groups a run left behind.

Also the verification `apply --verify-rules` runs before it changes anything (`verified`).
SIGTERM (how CI cancels a job) is turned into KeyboardInterrupt while it runs, so the
temporary groups are deleted then too.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from types import FrameType

import click

from reconciler.audit import AuditLog, default_actor
from reconciler.cli.options import Sources, format_option, open_tenant_for, source_options
from reconciler.cli.progress import StderrProgress, quiet_option
from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.changes import Change
from reconciler.plan.planning import plan_now
from reconciler.policy import load_policy
from reconciler.providers.base import Provider
from reconciler.render.verify import (
    cleanup_text,
    created_text,
    nothing_text,
    probe_done,
    verdicts_json,
    verdicts_text,
    waiting_text,
)
from reconciler.verify import (
    DEFAULT_POLL,
    DEFAULT_TIMEOUT,
    Probe,
    ProbesLeftBehind,
    Verdict,
    differ,
    left_behind,
    probes_of,
    rule_edits,
    verify_rules,
)
from reconciler.verify_probes import clean_up

REPORT_EVERY = 60.0  # seconds between two "waiting for Entra" lines for one group
_SECONDS = click.FloatRange(min=0, min_open=True)


def timing_options(timeout_flag: str, poll_flag: str):
    """The time allowed for Entra's evaluation and the pause between two reads of its status."""

    def decorate(command):
        command = click.option(
            poll_flag,
            "poll_interval",
            type=_SECONDS,
            default=DEFAULT_POLL,
            show_default=True,
            metavar="SECONDS",
            help="Seconds between two reads of Entra's evaluation status.",
        )(command)
        return click.option(
            timeout_flag,
            "verify_timeout",
            type=_SECONDS,
            default=DEFAULT_TIMEOUT,
            show_default=True,
            metavar="SECONDS",
            help="Seconds to wait for Entra to evaluate the temporary groups (minutes in a "
            "small tenant, hours in a large one); then nothing is changed.",
        )(command)

    return decorate


# a running check's temporary groups live at most about its timeout: twice the default is older
CLEANUP_AGE = 2 * DEFAULT_TIMEOUT


@click.command()
@quiet_option
@source_options
@format_option
@timing_options("--timeout", "--poll-interval")
@click.option(
    "--cleanup",
    is_flag=True,
    help="Delete the temporary groups (reconciler-verify-*) an interrupted run left behind, "
    "and nothing else; for an `if: always()` step in CI.",
)
@click.option(
    "--older-than",
    type=click.FloatRange(min=0),
    default=CLEANUP_AGE,
    show_default=True,
    metavar="SECONDS",
    help="With --cleanup: only temporary groups made this long ago; a younger one may be "
    "another run's check still going.",
)
def verify(
    sources: Sources,
    output_format: str,
    verify_timeout: float,
    poll_interval: float,
    cleanup: bool,
    older_than: float,
    progress: StderrProgress,
) -> None:
    """Check each new membership rule of a licensed group against Entra's own evaluation.

    For every licensed group whose rule the plan changes, a temporary security group with the
    new rule and no licenses is created, evaluated by Entra, compared with reconciler's
    prediction and deleted. Needs a Microsoft Graph tenant. Exit 1 when they differ, or when
    a temporary group couldn't be deleted.
    """
    if cleanup:
        _cleanup(sources, output_format, timedelta(seconds=older_than), progress)
        return
    progress.stage("reading policy")
    loaded = load_policy(sources.policy)
    progress.stage("reading tenant")
    with open_tenant_for(sources, loaded, progress=progress) as provider:
        probes_of(provider)  # refused before anything is read
        tenant = provider.read()
        plan = plan_now(loaded, tenant, progress)
        progress.done()
        verdicts = verified(
            sources,
            provider,
            tenant,
            plan.changes,
            plan.after,
            verify_timeout,
            poll_interval,
            progress,
        )
    if output_format == "json":
        click.echo(verdicts_json(verdicts, tenant.organization.id))
    elif verdicts:
        click.echo(verdicts_text(verdicts))
    else:
        click.echo(nothing_text())
    if not all(verdict.agrees for verdict in verdicts):
        raise differ(verdicts, "Fix the rule, or the prediction's cause, and verify again.")
    left = left_behind(verdicts)
    if left is not None:
        raise left  # after the verdict: CI must not pass with groups left in the tenant


def _cleanup(
    sources: Sources, output_format: str, older_than: timedelta, progress: StderrProgress
) -> None:
    """`verify --cleanup`: the leftover temporary groups deleted, each named."""
    if output_format != "text":
        raise InputError("verify --cleanup writes text only: leave out --format")
    with open_tenant_for(sources, None, progress=progress) as provider:
        probes = probes_of(provider)
        audit = AuditLog(sources.audit, default_actor(), probes.tenant_id())
        audit.check()
        progress.stage("looking for temporary groups left behind")
        with sigterm_as_interrupt():
            deleted, young = clean_up(probes, audit, datetime.now(UTC), older_than)
        progress.done()
    click.echo(cleanup_text(deleted, young))
    failed = [probe for probe in deleted if not probe.deleted]
    if failed:
        raise ProbesLeftBehind(
            f"{len(failed)} temporary group(s) couldn't be deleted: "
            f"{', '.join(probe.displayName for probe in failed)}"
        )


def verified(
    sources: Sources,
    provider: Provider,
    tenant: Tenant,
    changes: Sequence[Change],
    after: Tenant | None,
    timeout: float,
    poll: float,
    progress: StderrProgress,
) -> list[Verdict]:
    """The verdict on each rule edit of `changes` (`after`: the plan's after-state); the
    temporary groups' creation and deletion go into the audit log, what happens to stderr."""
    probes = probes_of(provider)
    edits = rule_edits(changes, tenant)
    if not edits:
        return []
    audit = AuditLog(sources.audit, default_actor(), tenant.organization.id)
    audit.check()  # a log that can't be written: no group is made
    listener = StderrListener(progress)
    with sigterm_as_interrupt():
        return verify_rules(
            edits,
            tenant,
            probes,
            after=after,
            timeout=timeout,
            poll=poll,
            audit=audit,
            listener=listener,
        )


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt within the block, as Ctrl-C does, so the temporary
    groups are deleted when CI cancels; the handler before is put back after."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set handlers; it is the one signals reach
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class StderrListener:
    """Says on stderr which temporary groups are made and deleted, and while Entra works."""

    def __init__(self, progress: StderrProgress) -> None:
        self._progress = progress
        self._next: dict[str, float] = {}

    def created(self, probe: Probe) -> None:
        self._say(created_text(probe))

    def waiting(self, probe: Probe, status: str, seconds: float) -> None:
        key = probe.displayName
        if seconds < self._next.get(key, 0.0):
            return
        self._next[key] = seconds + REPORT_EVERY
        self._say(waiting_text(probe, status, seconds))

    def deleted(self, probe: Probe) -> None:
        self._say(probe_done(probe))

    def _say(self, line: str) -> None:
        with self._progress.hold():
            click.echo(line, err=True)
