"""`reconciler tenant export|import`: tenant snapshots in and out."""

from __future__ import annotations

from pathlib import Path

import click

from reconciler.cli.options import Sources, open_tenant_for, source_options
from reconciler.cli.progress import StderrProgress, quiet_option
from reconciler.providers.local import import_snapshot
from reconciler.providers.snapshot import write_snapshot
from reconciler.providers.sources import DEFAULT_SOURCE
from reconciler.render.safe_text import shown


@click.group()
def tenant() -> None:
    """Export a tenant to a snapshot file, or load one into a local tenant."""


@tenant.command("export")
@source_options
@click.option(
    "--out",
    "out_file",
    required=True,
    # a directory, a FIFO or a device is refused when written, in one message (private_files)
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="The snapshot file to write (Graph-shaped JSON), private (0600): it holds every user.",
)
@quiet_option
def export(sources: Sources, out_file: Path, progress: StderrProgress) -> None:
    """Write the tenant, from any source, as a snapshot file."""
    progress.stage("reading tenant")
    # no policy: every user property a rule could name is exported
    with open_tenant_for(sources, None, progress=progress) as provider:
        tenant = provider.read()
        progress.stage(f"writing {out_file}")
        write_snapshot(tenant, out_file)
    progress.done()
    click.echo(f"wrote {shown(out_file)}")


@tenant.command("import")
@click.argument("snapshot", type=click.Path(dir_okay=False, path_type=Path))
@source_options
@quiet_option
def import_(sources: Sources, snapshot: Path, progress: StderrProgress) -> None:
    """Load a snapshot file into the local tenant, replacing what it held."""
    spec = sources.tenant or DEFAULT_SOURCE
    kind, _, where = spec.partition(":")
    if kind != "local" or not where:
        raise click.UsageError(f"import loads into a local tenant, not {spec}")
    import_snapshot(snapshot, sources.base / where, progress=progress).close()
    progress.done()
    click.echo(f"loaded {shown(snapshot)} into {shown(spec)}")
