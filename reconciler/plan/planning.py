"""A plan from a loaded policy and a tenant read: names and the tenant pin resolved, then built."""

from __future__ import annotations

import gc

from reconciler.model import Tenant
from reconciler.plan.build import Plan, build_plan
from reconciler.plan.document import Document, plan_document
from reconciler.plan.origin import plan_origin
from reconciler.plan.stale import Freshness, check_before_apply, check_freshness
from reconciler.policy import LoadedPolicy, resolve
from reconciler.progress import NO_PROGRESS, Progress


def freshness_now(saved: Document, loaded: LoadedPolicy, tenant: Tenant) -> Freshness:
    """How the saved plan stands against `tenant` and the policy `loaded`, for `show`."""
    return check_freshness(
        saved, plan_origin(loaded, tenant), lambda: plan_document(plan_now(loaded, tenant))
    )


def checked_before_apply(saved: Document, loaded: LoadedPolicy, tenant: Tenant) -> Freshness:
    """The saved plan against the plan from `tenant` to the policy `loaded`, made now."""
    return check_before_apply(
        saved, plan_origin(loaded, tenant), lambda: plan_document(plan_now(loaded, tenant))
    )


def plan_now(loaded: LoadedPolicy, tenant: Tenant, progress: Progress = NO_PROGRESS) -> Plan:
    """The plan from `tenant` to the policy `loaded`; its steps are reported to `progress`."""
    # the tenant is millions of frozen objects without cycles: sparing them the collector's
    # passes saves about a third of a large tenant's planning time
    gc.freeze()
    desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
    return build_plan(desired, tenant, progress=progress)
