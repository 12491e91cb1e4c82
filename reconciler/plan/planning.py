"""A plan from a loaded policy and a tenant read: names resolved, the pin checked, then built."""

from __future__ import annotations

import gc

from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.build import Plan, build_plan
from reconciler.plan.document import Document, plan_document
from reconciler.plan.origin import plan_origin
from reconciler.plan.stale import Freshness, check_freshness
from reconciler.policy import LoadedPolicy, resolve


def freshness_now(saved: Document, loaded: LoadedPolicy, tenant: Tenant) -> Freshness:
    """How the saved plan stands against `tenant` and the policy `loaded`."""
    return check_freshness(
        saved, plan_origin(loaded, tenant), lambda: plan_document(plan_now(loaded, tenant))
    )


def plan_now(loaded: LoadedPolicy, tenant: Tenant) -> Plan:
    """The plan from `tenant` to the policy `loaded`."""
    # the tenant is millions of frozen objects without cycles: sparing them the collector's
    # passes saves about a third of a large tenant's planning time
    gc.freeze()
    desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
    check_pin(desired.tenant, tenant, loaded)
    return build_plan(desired, tenant)


def check_pin(pinned: str | None, tenant: Tenant, loaded: LoadedPolicy) -> None:
    """A policy pinned to one tenant refuses to plan against another."""
    if pinned is None:
        return
    names = {domain.lower() for domain in tenant.organization.verifiedDomains}
    if pinned.lower() not in names and pinned.lower() != tenant.organization.id.lower():
        raise InputError(
            f"the policy is for tenant {pinned}, but this tenant is "
            f"{tenant.organization.displayName} ({', '.join(tenant.organization.verifiedDomains)})",
            loaded.positions.location(("tenant",)),
        )
