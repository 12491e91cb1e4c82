"""reconciler.yaml: where a repository's tenant and policies are.

    tenant: local:.reconciler/tenant.db     # or snapshot:FILE.json, or graph
    seed: examples/contoso/tenant.json      # a local tenant is created from this on first use
    policy: policies/
    audit: .reconciler/audit.jsonl          # where apply appends its audit log (docs/audit.md)
    graphUrl: https://graph.microsoft.us/v1.0   # Microsoft Graph for the `graph` source

Relative paths are relative to the file's folder. tenant and policy may be overridden on the
command line (--tenant, --policy); without a file, the defaults below apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from reconciler.errors import InputError
from reconciler.objectfile import MIB
from reconciler.policy.source import read_file

CONFIG_NAME = "reconciler.yaml"
_KEYS = ("tenant", "seed", "policy", "audit", "graphUrl")
DEFAULT_POLICY = "policies"  # the policy folder, beside reconciler.yaml
DEFAULT_AUDIT = Path(".reconciler") / "audit.jsonl"
# a handful of lines; a bigger file is the wrong file
MAX_CONFIG_SIZE = MIB


@dataclass(frozen=True, slots=True)
class Config:
    tenant: str | None
    seed: Path | None
    policy: Path
    base: Path  # the folder relative paths are taken from
    audit: Path  # the audit log, JSON Lines
    graph_url: str | None = None  # Microsoft Graph for the `graph` source (None: the global one)


def load_config(path: Path | None) -> Config:
    """The configuration in `path`, or in ./reconciler.yaml when there is one, else defaults.

    The file is read as policy files are (source.py): UTF-8, one YAML mapping, no duplicate
    key, nesting and size limited; anything else is an InputError at its line and column.
    """
    if path is None:
        path = Path(CONFIG_NAME)
        if not path.exists():
            return Config(None, None, Path(DEFAULT_POLICY), Path("."), DEFAULT_AUDIT)
    name = str(path)
    source = read_file(path, name, "configuration file", ", ".join(_KEYS), limit=MAX_CONFIG_SIZE)
    document: dict[str, str] = {}
    for key, value in source.document.items():
        position = source.entries[(key,)]
        if key not in _KEYS:
            raise InputError(
                f"unknown key {key!r}; reconciler.yaml has {', '.join(_KEYS)}",
                position.key or position.location,
            )
        if isinstance(value, int | float) and not isinstance(value, bool) and not position.style:
            # a plain number is a folder's name here (policy: 2025): keep it as written
            value = source.text[position.start : position.end]
        if not isinstance(value, str) or not value:
            raise InputError(f"{key} must be a path or source text", position.location)
        document[key] = value
    base = path.parent
    seed = document.get("seed")
    return Config(
        tenant=document.get("tenant"),
        seed=base / seed if seed else None,
        policy=base / document.get("policy", DEFAULT_POLICY),
        base=base,
        audit=base / document.get("audit", DEFAULT_AUDIT),
        graph_url=document.get("graphUrl"),
    )
