"""`reconciler import`: write a policy for groups the tenant already has, then lock it.

The files are written only when none of them exists yet; the locks are then written for the
policy they join, so the next `reconciler plan` shows no changes and no new-service-plan notes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import click

from reconciler.cli.lock import group_lock_report, lock_report
from reconciler.cli.options import Sources, open_tenant_for_licensing, source_options
from reconciler.cli.progress import StderrProgress, quiet_option
from reconciler.errors import Location, ReconcilerError
from reconciler.importer import (
    Choice,
    Declared,
    Import,
    PolicyFile,
    declared_groups,
    import_policy,
)
from reconciler.model import Tenant
from reconciler.plan.diff import diff
from reconciler.policy import LoadedPolicy, load_policy, resolve, update_lock
from reconciler.policy.directory import pin_errors
from reconciler.policy.errors import raise_all
from reconciler.policy.group_lock import load_group_lock, update_group_lock
from reconciler.render.safe_text import shown


class WouldOverwriteError(ReconcilerError):
    """A file the import would write exists already; nothing was written."""


@click.command("import")
@source_options
@click.option(
    "--group",
    "names",
    multiple=True,
    metavar="GROUP",
    help="Import this group (displayName or id) instead of every licensed one; repeatable.",
)
@click.option("--all", "every", is_flag=True, help="Import every security-enabled group.")
@click.option(
    "--allow-list",
    is_flag=True,
    help="Write enabledPlans (plans Microsoft adds later stay off) instead of disabledPlans.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the files to (default: the policy path).",
)
@quiet_option
def import_(
    sources: Sources,
    names: tuple[str, ...],
    every: bool,
    allow_list: bool,
    out_dir: Path | None,
    progress: StderrProgress,
) -> None:
    """Write a policy for groups the tenant already has, one file per group.

    By default every group that assigns licenses; groups the policy declares already are
    skipped, and groups the imported ones read (memberOf sources, nested groups) are imported
    too. Changes nothing in the tenant, and never overwrites a file.
    """
    progress.stage("reading policy")
    existing = _existing(sources.policy)
    out = out_dir if out_dir is not None else _default_out(sources.policy)
    target = sources.policy if _inside(out, sources.policy) else out
    progress.stage("reading tenant")
    # the import reads ids and names only, not what rules read of users
    with open_tenant_for_licensing(sources, progress=progress) as provider:
        tenant = provider.read()
    declared, pinned = _declared(existing, tenant)
    lock = load_group_lock(target)
    protected = [group.id for group in lock.groups if group.protect and group.id] if lock else []
    choice = Choice(names, every, allow_list)
    result = import_policy(tenant, declared, choice, pinned, protected, progress=progress)
    count = len(result.files)
    progress.stage(f"writing {count} file{'s' * (count != 1)} to {out}")
    written = _write(out, result.files)
    lines = import_report(result, written, out)
    if written:
        progress.stage("locking the policy")
        lines += _lock(target, tenant, result)
    progress.done()
    # group, product and user names are the tenant's: escaped, so none draws a line of its own
    click.echo("\n".join(map(shown, lines)))


def _declared(existing: LoadedPolicy | None, tenant: Tenant) -> tuple[tuple[Declared, ...], bool]:
    """What the existing policy declares, and whether it pins the tenant (refused if another)."""
    if existing is None:
        return (), False
    raise_all(pin_errors(existing, tenant))
    declared = declared_groups(existing.document, existing.positions.location)
    return declared, "tenant" in existing.document


def _existing(policy: Path) -> LoadedPolicy | None:
    """The policy at the policy path, or None where there is none yet."""
    if not policy.exists():
        return None
    return load_policy(policy, with_lock=False)


def _default_out(policy: Path) -> Path:
    if policy.is_file():
        raise ReconcilerError(
            "the policy is this one file; name a folder for the imported files with --out",
            Location(str(policy)),
        )
    return policy


def _inside(out: Path, policy: Path) -> bool:
    """Whether files in `out` are read as part of the policy at `policy`."""
    if policy.is_file() or not policy.exists():
        return out.resolve() == policy.resolve()
    return out.resolve().is_relative_to(policy.resolve())


def _write(out: Path, files: Sequence[PolicyFile]) -> list[Path]:
    """Write every file, or none when one of them exists."""
    paths = [out / file.name for file in files]
    present = [str(path) for path in paths if path.exists()]
    if present:
        raise WouldOverwriteError(
            f"won't overwrite {', '.join(present)}: nothing was written; move "
            f"{'it' if len(present) == 1 else 'them'} away or choose another --out"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for file, path in zip(files, paths, strict=True):
            with path.open("x", encoding="utf-8", newline="\n") as stream:
                stream.write(file.text)
    except OSError as exc:
        where = Location(exc.filename or str(out))
        raise ReconcilerError(f"can't write the policy: {exc.strerror}", where) from exc
    return paths


def _lock(target: Path, tenant: Tenant, result: Import) -> list[str]:
    """Lock the policy the files joined, and say whether its plan will have changes."""
    loaded = load_policy(target, with_lock=False)
    desired = resolve(loaded, tenant.subscribedSkus)
    skus = update_lock(target, desired, tenant.subscribedSkus)
    groups = update_group_lock(target, desired, tenant)
    imported = {group.id.lower() for group in result.groups}
    pending = [change for change in diff(desired, tenant) if change.groupId.lower() in imported]
    # the locks' first lines: every group and SKU they list is in the files just named
    kept = [line for line in group_lock_report(groups) if "stays protected" in line]
    lines = ["", lock_report(skus)[0], group_lock_report(groups)[0], *kept, ""]
    if pending:
        names = sorted({change.displayName for change in pending}, key=str.casefold)
        lines.append(
            f"Next: `reconciler plan` shows changes to {', '.join(names)} that a policy can't "
            "avoid (see the notes above); review the files, then commit them with the locks."
        )
    else:
        lines.append(
            "Next: run `reconciler plan`, which should show no changes for the imported groups;"
            " review the files, then commit them with the locks."
        )
    return lines


def import_report(result: Import, written: Sequence[Path], out: Path) -> list[str]:
    """What was written, which groups came as dependencies, and which were skipped and why."""
    lines = []
    if written:
        lines.append(f"wrote {len(written)} file{'s' * (len(written) != 1)} to {out}:")
        for file, path in zip(result.files, written, strict=True):
            what = f"tenant: {result.tenant}" if file.displayName is None else file.displayName
            lines.append(f"  + {path}  {what}")
    else:
        lines.append("nothing written: no group left to import")
    if result.dependencies:
        lines.append("groups the imported groups read:")
        lines += [f"  {found}: {found.outcome}" for found in result.dependencies]
    if result.declared:
        lines.append("skipped, already in the policy:")
        lines += [f"  {group.displayName}: {group.reason}" for group in result.declared]
    if result.leftOut:
        lines.append("not imported:")
        lines += [f"  {group.displayName} ({group.id}): {group.reason}" for group in result.leftOut]
    if result.notes:
        lines.append("notes:")
        lines += [f"  {note}" for note in result.notes]
    return lines
