"""`reconciler lock`: record the service plans of the policy's SKUs in skus.lock.yaml."""

from __future__ import annotations

import click

from reconciler.cli.options import Sources, open_tenant_for, source_options
from reconciler.plan.planning import check_pin
from reconciler.policy import LockUpdate, load_policy, resolve, update_lock


@click.command()
@source_options
def lock(sources: Sources) -> None:
    """Record the service plans of the policy's SKUs in skus.lock.yaml.

    Commit the file with the policies; `plan` then reports a service plan Microsoft adds to
    one of those SKUs later. Reads the tenant and changes nothing in it.
    """
    # without the old lock: it is rewritten whatever it holds, a merge conflict included
    loaded = load_policy(sources.policy, with_lock=False)
    with open_tenant_for(sources, loaded) as provider:
        tenant = provider.read()
    desired = resolve(loaded, tenant.subscribedSkus)
    check_pin(desired.tenant, tenant, loaded)
    update = update_lock(sources.policy, desired, tenant.subscribedSkus)
    if update.unreadable is not None:
        click.echo(f"warning: replacing a lock that can't be read: {update.unreadable}", err=True)
    click.echo("\n".join(lock_report(update)))


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


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'s' * (number != 1)}"
