"""Opens the tenant a command names: `local:PATH`, `snapshot:FILE.json` or `graph`."""

from __future__ import annotations

from pathlib import Path

from reconciler.errors import InputError
from reconciler.providers.base import Provider
from reconciler.providers.local import open_local
from reconciler.providers.snapshot import SnapshotTenant

DEFAULT_SOURCE = "local:.reconciler/tenant.db"


def open_tenant(source: str | None, seed: Path | None = None, base: Path = Path(".")) -> Provider:
    """The provider for `source`; relative paths are taken from `base` (the config's folder)."""
    spec = source or DEFAULT_SOURCE
    kind, _, where = spec.partition(":")
    if kind == "local" and where:
        return open_local(base / where, seed)
    if kind == "snapshot" and where:
        return SnapshotTenant(base / where)
    if kind == "graph":
        raise InputError("the graph tenant source arrives with the Microsoft Graph provider")
    raise InputError(f"unknown tenant source {spec!r}; use local:PATH, snapshot:FILE.json or graph")
