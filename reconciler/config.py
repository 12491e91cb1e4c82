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

import yaml

from reconciler.errors import InputError, Location

CONFIG_NAME = "reconciler.yaml"
_KEYS = ("tenant", "seed", "policy", "audit", "graphUrl")
DEFAULT_AUDIT = Path(".reconciler") / "audit.jsonl"


@dataclass(frozen=True, slots=True)
class Config:
    tenant: str | None
    seed: Path | None
    policy: Path
    base: Path  # the folder relative paths are taken from
    audit: Path  # the audit log, JSON Lines
    graph_url: str | None = None  # Microsoft Graph for the `graph` source (None: the global one)


def load_config(path: Path | None) -> Config:
    """The configuration in `path`, or in ./reconciler.yaml when there is one, else defaults."""
    if path is None:
        path = Path(CONFIG_NAME)
        if not path.exists():
            return Config(None, None, Path("policies"), Path("."), DEFAULT_AUDIT)
    try:
        node = yaml.compose(path.read_text(encoding="utf-8-sig"), Loader=yaml.SafeLoader)
    except OSError as exc:
        raise InputError(f"can't read configuration: {exc.strerror}", Location(str(path))) from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        raise InputError(f"invalid YAML: {exc}", Location(str(path), line, column)) from exc
    if node is None:
        return Config(
            None, None, path.parent / "policies", path.parent, path.parent / DEFAULT_AUDIT
        )
    if not isinstance(node, yaml.MappingNode):
        raise InputError(f"expected a mapping of {', '.join(_KEYS)}", _at(path, node))
    document = {}
    for key, value in node.value:
        if key.value not in _KEYS:
            raise InputError(
                f"unknown key {key.value!r}; reconciler.yaml has {', '.join(_KEYS)}", _at(path, key)
            )
        if not isinstance(value, yaml.ScalarNode) or not value.value:
            raise InputError(f"{key.value} must be a path or source text", _at(path, value))
        document[key.value] = value.value
    base = path.parent
    seed = document.get("seed")
    return Config(
        tenant=document.get("tenant"),
        seed=base / seed if seed else None,
        policy=base / document.get("policy", "policies"),
        base=base,
        audit=base / document.get("audit", DEFAULT_AUDIT),
        graph_url=document.get("graphUrl"),
    )


def _at(path: Path, node: yaml.Node) -> Location:
    return Location(str(path), node.start_mark.line + 1, node.start_mark.column + 1)
