"""Service plan checks: plans Microsoft added since the lock, and plans not provisioned yet.

A new plan is enabled in every group that assigns its SKU (design scenario 5): a deny-list
(`disabledPlans`) hands it out unreviewed, an allow-list (`enabledPlans`) keeps it off.
"""

from __future__ import annotations

from collections.abc import Iterator

from reconciler.model import ServicePlan, Sku
from reconciler.plan.checks import Facts
from reconciler.plan.warnings import INFO, WARNING, PlanWarning
from reconciler.policy.desired import DesiredGroup, DesiredLicense
from reconciler.policy.source import LOCK_NAME

NEW_SERVICE_PLAN = "new-service-plan"
PLAN_PENDING_PROVISIONING = "plan-pending-provisioning"

_ACKNOWLEDGE = "run `reconciler lock` to acknowledge"
# provisioningStatus values of a plan members can't use yet (Graph's servicePlanInfo)
_PENDING_HINTS = {
    "PendingProvisioning": (
        "Microsoft is still setting the service up in this tenant; it reaches members once its "
        "provisioningStatus is Success, with no change to the policy"
    ),
    "PendingActivation": "an admin must activate the service in the tenant first",
}

Assignment = tuple[DesiredGroup, DesiredLicense, Sku]


def new_service_plans(facts: Facts) -> list[PlanWarning]:
    """A finding per group for each plan of its SKU the lock doesn't list.

    No lock at all is one `info` finding; a SKU missing from the lock, one `info` finding for
    the SKU (its plans are taken as known: they are not new, only never locked).
    """
    assignments = list(_assignments(facts))
    if not assignments:
        return []
    lock = facts.desired.lock
    if lock is None:
        message = f"the policy has no {LOCK_NAME}, so service plans Microsoft adds go unnoticed"
        hint = f"run `reconciler lock` and commit {LOCK_NAME} with the policies"
        return [PlanWarning(NEW_SERVICE_PLAN, INFO, message, hint)]
    found: list[PlanWarning] = []
    unlocked: set[str] = set()
    for group, license_, sku in assignments:
        locked = lock.sku(sku.skuId)
        if locked is None:
            if sku.skuId.lower() not in unlocked:
                unlocked.add(sku.skuId.lower())
                found.append(_not_locked(sku, license_))
            continue
        for plan in sku.servicePlans:
            if plan.servicePlanId.lower() not in locked.plan_ids:
                found.append(_new_plan(plan, sku, group, license_))
    return found


def pending_provisioning(facts: Facts) -> list[PlanWarning]:
    """A warning per group for each plan it hands out that the tenant hasn't provisioned yet."""
    found = []
    for group, license_, sku in _assignments(facts):
        for plan in sku.servicePlans:
            hint = _PENDING_HINTS.get(plan.provisioningStatus)
            if hint is None or not _enabled(license_, plan.servicePlanId.lower()):
                continue  # a plan the group turns off reaches nobody, provisioned or not
            message = (
                f"{plan.servicePlanName} in {sku.skuPartNumber} is {plan.provisioningStatus}: "
                f"members of {group.displayName} won't have it yet"
            )
            found.append(
                PlanWarning(
                    PLAN_PENDING_PROVISIONING,
                    WARNING,
                    message,
                    hint,
                    group=group.displayName,
                    location=license_.location,
                )
            )
    return found


def _assignments(facts: Facts) -> Iterator[Assignment]:
    """Each license of each managed group, with its SKU as the tenant lists it now."""
    skus = {sku.skuId.lower(): sku for sku in facts.before.subscribedSkus}
    for group in facts.desired.groups:
        for license_ in group.licenses:
            sku = skus.get(license_.skuId.lower())
            if sku is not None:  # resolve() found it there; a hand-built state may not
                yield group, license_, sku


def _new_plan(
    plan: ServicePlan, sku: Sku, group: DesiredGroup, license_: DesiredLicense
) -> PlanWarning:
    """The finding for `plan`, new in `sku`, in one group: enabled (warning) or off (info)."""
    plan_id = plan.servicePlanId.lower()
    enabled = _enabled(license_, plan_id)
    allow = license_.enabledPlans is not None
    # the policy already names the plan when it was edited before the lock was run
    named = enabled if allow else not enabled
    added = f"{plan.servicePlanName} was added to {sku.skuPartNumber}"
    name = group.displayName
    if named:
        state, key = ("enabled", "enabledPlans") if allow else ("disabled", "disabledPlans")
        message = f"{added} and is {state} for group {name}, as its {key} say"
        severity, hint = INFO, _ACKNOWLEDGE
    elif allow:
        message = f"{added} and stays disabled for group {name}: its enabledPlans don't list it"
        severity, hint = INFO, f"add it to enabledPlans to hand it out; {_ACKNOWLEDGE}"
    else:
        # as Entra does: a plan no deny-list names is on, so it reaches members unreviewed
        message = f"{added} and is enabled for group {name}"
        hint = f"add it to disabledPlans or switch to enabledPlans; {_ACKNOWLEDGE}"
        severity = WARNING
    return PlanWarning(
        NEW_SERVICE_PLAN, severity, message, hint, group=name, location=license_.location
    )


def _enabled(license_: DesiredLicense, plan_id: str) -> bool:
    """Whether the group hands out the plan `plan_id` (lower case) of the license's SKU."""
    if license_.enabledPlans is not None:
        return plan_id in {plan.lower() for plan in license_.enabledPlans}
    return plan_id not in {plan.lower() for plan in license_.disabledPlans}


def _not_locked(sku: Sku, license_: DesiredLicense) -> PlanWarning:
    """The one finding for a SKU the policy assigns that the lock has no entry for."""
    message = (
        f"{sku.skuPartNumber} is not in {LOCK_NAME}: its {len(sku.servicePlans)} service plans "
        "are taken as known, so plans Microsoft adds to it go unnoticed"
    )
    hint = f"run `reconciler lock` to record them, and commit {LOCK_NAME}"
    return PlanWarning(NEW_SERVICE_PLAN, INFO, message, hint, location=license_.location)
