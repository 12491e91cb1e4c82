"""`reconciler lock`: record the service plans of the policy's SKUs in skus.lock.yaml, and the
groups it manages in groups.lock.yaml."""

from __future__ import annotations

from dataclasses import replace

import click

from reconciler.cli.options import Sources, open_tenant_for, source_options
from reconciler.plan.build import build_plan
from reconciler.policy import LockUpdate, load_policy, resolve, update_lock
from reconciler.policy.group_lock import GroupLockUpdate, load_group_lock, update_group_lock
from reconciler.render.safe_text import shown


@click.command()
@source_options
def lock(sources: Sources) -> None:
    """Record the service plans of the policy's SKUs in skus.lock.yaml, and the groups it
    manages in groups.lock.yaml.

    Commit both with the policies; `plan` then reports a service plan Microsoft adds to one of
    those SKUs later, and a group that leaves management. Reads the tenant, changes nothing.
    """
    # without the old SKU lock: it is rewritten whatever it holds, a merge conflict included;
    # the group lock is read, since the protections it remembers can't be derived again
    loaded = load_policy(sources.policy, with_lock=False, keep_going=True)
    loaded = replace(loaded, group_lock=load_group_lock(sources.policy))
    with open_tenant_for(sources, loaded) as provider:
        tenant = provider.read()
    desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
    plan = build_plan(desired, tenant)
    losing = {group_id for group_id, _ in plan.guards.protected}
    update = update_lock(sources.policy, desired, tenant.subscribedSkus)
    groups = update_group_lock(sources.policy, desired, tenant, losing)
    if update.unreadable is not None:
        click.echo(f"warning: replacing a lock that can't be read: {update.unreadable}", err=True)
    # SKU and service plan names are the tenant's: escaped, so none draws a line of its own
    click.echo("\n".join(map(shown, [*lock_report(update), *group_lock_report(groups)])))


def lock_report(update: LockUpdate) -> list[str]:
    """What the command did, then a line per SKU added or dropped and per plan added or gone."""
    skus = len(update.lock.skus)
    plans = sum(len(sku.servicePlans) for sku in update.lock.skus)
    counts = f"{_count(skus, 'SKU')}, {_count(plans, 'service plan')}"
    if not update.written:
        return [f"{update.path} is up to date: {counts}"]
    done = "created" if update.previous is None else "updated"
    lines = [f"{done} {update.path}: {counts}"]
    for change in update.changes:
        name = change.skuPartNumber
        if change.kind == "added":
            lines.append(f"  + {name}: {_count(len(change.added), 'service plan')}")
        elif change.kind == "removed":
            lines.append(f"  - {name}: no longer assigned by the policy")
        else:
            lines += [f"  {name}: + {plan.servicePlanName}" for plan in change.added]
            lines += [f"  {name}: - {plan.servicePlanName}" for plan in change.removed]
    return lines


def group_lock_report(update: GroupLockUpdate) -> list[str]:
    """What the command did to groups.lock.yaml: groups added, dropped, and protections kept."""
    count = _count(len(update.lock.groups), "group")
    if update.lock.retired:
        count += f", {len(update.lock.retired)} retired"
    if not update.written:
        lines = [f"{update.path} is up to date: {count}"]
    else:
        done = "created" if update.previous is None else "updated"
        lines = [f"{done} {update.path}: {count}"]
        lines += [f"  + {group.displayName}" for group in update.added]
        lines += [f"  - {group.displayName}: no longer managed" for group in update.dropped]
    lines += [f"  {kept.group.displayName} stays protected: {kept.reason}" for kept in update.kept]
    return lines


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"
