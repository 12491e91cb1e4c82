"""Opens the tenant a command names: `local:PATH`, `snapshot:FILE.json` or `graph`."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from reconciler.errors import InputError
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.providers.base import Provider
from reconciler.providers.local import open_local
from reconciler.providers.snapshot import SnapshotTenant

DEFAULT_SOURCE = "local:.reconciler/tenant.db"


def open_tenant(
    source: str | None,
    seed: Path | None = None,
    base: Path = Path("."),
    *,
    graph_url: str | None = None,
    user_properties: Collection[str] | None = None,
    progress: Progress = NO_PROGRESS,
) -> Provider:
    """The provider for `source`; relative paths are taken from `base` (the config's folder).

    `graph_url` is where the `graph` source finds Microsoft Graph (default: the global cloud);
    `user_properties` what the policy's rules read of users (None: all a rule can name), which
    is all a `graph` read asks for beside licensing (providers/graph_select.py); `progress`
    hears how a snapshot or `graph` read goes.
    """
    spec = source or DEFAULT_SOURCE
    kind, _, where = spec.partition(":")
    if kind == "local" and where:
        return open_local(base / where, seed, progress=progress)
    if kind == "snapshot" and where:
        return SnapshotTenant(base / where, progress=progress)
    if kind == "graph":
        if where:
            raise InputError(f"tenant source {spec!r}: write `graph`, and the URL in --graph-url")
        from reconciler.providers.graph import open_graph  # httpx and azure only when used

        # delta state (deltaLinks and the objects last read) lives beside the local tenant's
        return open_graph(
            graph_url,
            state_dir=base / ".reconciler",
            rule_properties=user_properties,
            progress=progress,
        )
    raise InputError(f"unknown tenant source {spec!r}; use local:PATH, snapshot:FILE.json or graph")
