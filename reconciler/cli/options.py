"""Options every command that reads a tenant or a policy accepts, declared once."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.config import Config, load_config
from reconciler.policy import LoadedPolicy
from reconciler.progress import NO_PROGRESS, Progress
from reconciler.providers.base import Provider
from reconciler.providers.sources import open_tenant


@dataclass(frozen=True, slots=True)
class Sources:
    """Where this run's tenant, policy and audit log are: reconciler.yaml, overridden by options."""

    tenant: str | None
    seed: Path | None
    policy: Path
    base: Path
    audit: Path
    graph_url: str | None = None  # where the `graph` source finds Microsoft Graph


format_option = click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Output for people (text) or for scripts (json).",
)


config_option = click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (default: ./reconciler.yaml).",
)


def source_options(command: Callable) -> Callable:
    """Add --config, --tenant and --policy; the command receives `sources: Sources`."""
    decorators = [
        config_option,
        click.option(
            "--tenant",
            "tenant_source",
            metavar="SOURCE",
            help="local:PATH (embedded tenant), snapshot:FILE.json (read-only) or graph.",
        ),
        click.option(
            "--policy",
            "policy_path",
            type=click.Path(path_type=Path),
            help="A policy file or a folder of them (default: policies/).",
        ),
        click.option(
            "--graph-url",
            "graph_url",
            metavar="URL",
            help="Microsoft Graph for --tenant graph: a national cloud, or the emulator's "
            "http://127.0.0.1:PORT/v1.0 (default: https://graph.microsoft.com/v1.0).",
        ),
    ]

    @functools.wraps(command)
    def wrapper(config_file, tenant_source, policy_path, graph_url, **kwargs):
        config: Config = load_config(config_file)
        sources = Sources(
            tenant=tenant_source or config.tenant,
            seed=config.seed,
            policy=policy_path or config.policy,
            base=config.base,
            audit=config.audit,
            graph_url=graph_url or config.graph_url,
        )
        return command(sources=sources, **kwargs)

    for decorator in reversed(decorators):
        wrapper = decorator(wrapper)
    return wrapper


def quiet_azure_logging() -> None:
    """Keep the Azure SDK's own log records off stderr.

    With no logging configured, Python prints warnings through its last-resort handler, and
    azure-identity logs a failed sign-in as a warning listing every credential it tried, over
    a dozen lines, once per attempt. The sign-in error reconciler raises already says, in one
    line, what failed and what to do (providers/graph_auth.py).
    """
    azure = logging.getLogger("azure")
    if not any(isinstance(handler, logging.NullHandler) for handler in azure.handlers):
        azure.addHandler(logging.NullHandler())
    azure.propagate = False


def open_tenant_for(
    sources: Sources,
    loaded: LoadedPolicy | None,
    *,
    seed: bool = True,
    progress: Progress = NO_PROGRESS,
) -> Provider:
    """The tenant `sources` name, read for what `loaded`'s rules need (None: for any rule);
    without `seed`, a local tenant that doesn't exist yet isn't made."""
    quiet_azure_logging()
    return open_tenant(
        sources.tenant,
        sources.seed if seed else None,
        sources.base,
        graph_url=sources.graph_url,
        user_properties=None if loaded is None else loaded.user_properties(),
        progress=progress,
    )


def open_tenant_for_licensing(sources: Sources, *, progress: Progress = NO_PROGRESS) -> Provider:
    """The tenant `sources` name, its users read for licensing only, not what rules read."""
    quiet_azure_logging()
    return open_tenant(
        sources.tenant,
        sources.seed,
        sources.base,
        graph_url=sources.graph_url,
        user_properties=frozenset(),
        progress=progress,
    )


def apply_lock(provider: Provider) -> AbstractContextManager[object]:
    """The provider's apply lock, held across reads and writes; Graph has no such lock."""
    lock = getattr(provider, "lock", None)
    return lock() if callable(lock) else nullcontext()
