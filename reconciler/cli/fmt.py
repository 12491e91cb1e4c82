"""`reconciler fmt`: lay out policy files the one canonical way (docs/fmt.md)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

import click

from reconciler.cli.options import config_option
from reconciler.config import load_config
from reconciler.policy.fmt import FormattedFile, format_paths


@click.command()
@config_option
@click.option(
    "--check", is_flag=True, help="Change nothing; list the files that would change, exit 1 if any."
)
@click.option("--diff", "show_diff", is_flag=True, help="Show the changes as a unified diff.")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path), metavar="[PATH]...")
@click.pass_context
def fmt(
    ctx: click.Context,
    config_file: Path | None,
    check: bool,
    show_diff: bool,
    paths: tuple[Path, ...],
) -> None:
    """Lay out policy files the canonical way, keeping comments and key order.

    PATH is a policy file or a folder of them (default: the configured policy folder).
    Rewrites the files that aren't canonical and lists them.
    """
    # a PATH given needs no configuration, so a broken reconciler.yaml doesn't stop it
    targets = list(paths) or [load_config(config_file).policy]
    changed = format_paths(targets, write=not check)
    if show_diff:
        click.echo(fmt_diff(changed), nl=False)
    else:
        for file in changed:
            click.echo(file.name)
    if check and changed:
        ctx.exit(1)


def fmt_diff(files: Iterable[FormattedFile]) -> str:
    """A unified diff per file, from the text as it is to its canonical layout."""
    lines: list[str] = []
    for file in files:
        before = file.before.splitlines(keepends=True)
        after = file.after.splitlines(keepends=True)
        for line in difflib.unified_diff(before, after, file.name, file.name):
            lines.append(line if line.endswith("\n") else f"{line}\n\\ No newline at end of file\n")
    return "".join(lines)
