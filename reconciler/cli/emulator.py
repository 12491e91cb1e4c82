"""`reconciler emulator serve`: a Graph-compatible HTTP server over a local tenant."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

import click

from reconciler.emulator import running


@click.group()
def emulator() -> None:
    """Run a Microsoft Graph emulator over a local tenant (docs/emulator.md)."""


@emulator.command("serve")
@click.option("--port", type=int, default=0, show_default=True, help="Port on 127.0.0.1; 0: any.")
@click.option(
    "--tenant",
    "source",
    default="local:.reconciler/tenant.db",
    show_default=True,
    help="local:PATH (a local tenant) or FILE.json (a snapshot, served from a temporary copy).",
)
@click.option(
    "--seed",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Snapshot that creates a local:PATH tenant the first time.",
)
@click.option(
    "--faults",
    default=None,
    help="Fault SPEC, e.g. '429:every=5,retry-after=0.2;503:rate=0.1;drop:every=17;seed=42'.",
)
@click.option(
    "--license-reads",
    type=int,
    default=2,
    show_default=True,
    help="Reads of a group that still see its license processing unfinished once Entra queued "
    "it (after assignLicense, member or rule changes).",
)
@click.option(
    "--rule-reads",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Reads of a new dynamic group's processing status (Graph beta) that see Entra still "
    "evaluating its rule, without members, before it has them (`reconciler verify` waits).",
)
@click.option("--log", is_flag=True, help="Print each request to stderr.")
def serve(
    port: int,
    source: str,
    seed: Path | None,
    faults: str | None,
    license_reads: int,
    rule_reads: int,
    log: bool,
) -> None:
    """Serve Graph v1.0 on 127.0.0.1 until interrupted; prints the base URL first."""
    with running(
        source, seed, faults, port, license_reads=license_reads, rule_reads=rule_reads, log=log
    ) as server:
        click.echo(f"Graph emulator listening on {server.url}", nl=True)
        click.echo("Press Ctrl+C to stop.")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
