"""A user's `assignedPlans` as Graph shows it once their licenses change, for rules that read it.

Graph lists every service plan the user's licenses enable with `capabilityStatus: Enabled`; a
plan the user no longer has stays in the list as `Deleted` (assignedPlan resource: the statuses
run Enabled, Warning, Suspended, LockedOut, Deleted). That is why Microsoft's example rules test
`assignedPlan.capabilityStatus -eq "Enabled"` beside the plan's id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from reconciler.model import AssignedLicense, Tenant, User

ENABLED, DELETED = "Enabled", "Deleted"

# `assignedPlan.service` of plans Microsoft's example rules name; a tenant read through Graph
# teaches the rest (service_names), since subscribedSkus doesn't carry it.
KNOWN_SERVICES = {
    "efb87545-963c-4e0d-99df-69c6916d9eb0": "exchange",  # EXCHANGE_S_ENTERPRISE
    "9aaf7827-d63c-4b61-89c3-182f06f82e5c": "exchange",  # EXCHANGE_S_STANDARD
    "4a82b400-a79f-41a4-b4e2-e94f5787b113": "exchange",  # EXCHANGE_S_DESKLESS
    "176a09a6-7ec5-4039-ac02-b2791c6ba793": "exchange",  # EXCHANGE_S_ARCHIVE_ADDON
    "5dbe027f-2339-4123-9542-606e4d348a72": "SharePoint",  # SHAREPOINTENTERPRISE
    "c7699d2e-19aa-44de-8edf-1736da088ca1": "SharePoint",  # SHAREPOINTSTANDARD
    "0feaeb32-d00e-4d66-bd5a-43b5b83db82c": "MicrosoftCommunicationsOnline",  # MCOSTANDARD
    "3e26ee1f-8a5f-4d52-aee2-b81ce45c8f40": "MicrosoftCommunicationsOnline",  # MCOMEETADV
    "4828c8ec-dc2e-4779-b502-87ac9ce28ab7": "MicrosoftCommunicationsOnline",  # MCOEV
    "57ff2da0-773e-42df-b2af-ffb7a2317929": "TeamspaceAPI",  # TEAMS1
    "c1ec4a95-1f05-45b3-a911-aa3fa01094f5": "SCO",  # INTUNE_A
    "41781fb2-bc02-4b7c-bd55-b576c07bb09d": "AADPremiumService",  # AAD_PREMIUM
    "eec0eb4f-6444-4f95-aba0-50c24d67f998": "AADPremiumService",  # AAD_PREMIUM_P2
}


def service_names(tenant: Tenant) -> dict[str, str]:
    """Each plan's `service`, from the users' assignedPlans where the tenant has them."""
    names = dict(KNOWN_SERVICES)
    for user in tenant.users:
        for plan in _plans_of(user.attributes):
            plan_id, service = plan.get("servicePlanId"), plan.get("service")
            if isinstance(plan_id, str) and isinstance(service, str):
                names[plan_id.lower()] = service
    return names


def plans_by_sku(tenant: Tenant) -> dict[str, frozenset[str]]:
    """Each product's lower-case plan ids, by lower-case skuId."""
    return {
        sku.skuId.lower(): frozenset(plan.servicePlanId.lower() for plan in sku.servicePlans)
        for sku in tenant.subscribedSkus
    }


def plans_on(
    plans: Mapping[str, frozenset[str]], sku_id: str, disabled: Iterable[str]
) -> frozenset[str]:
    """The lower-case plan ids one assignment of a product turns on."""
    return plans.get(sku_id.lower(), frozenset()) - {plan.lower() for plan in disabled}


def enabled_plans(
    licenses: Iterable[AssignedLicense], plans: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """The lower-case plan ids a user's licenses turn on."""
    return frozenset().union(*(plans_on(plans, a.skuId, a.disabledPlans) for a in licenses))


def with_assigned_plans(
    user: User,
    enabled: frozenset[str],
    services: Mapping[str, str],
    now: datetime | None = None,
) -> User:
    """The user with `assignedPlans` that match `enabled`; the same user if they already do."""
    listed = _plans_of(user.attributes)
    shown = {
        str(plan.get("servicePlanId", "")).lower()
        for plan in listed
        if plan.get("capabilityStatus") != DELETED
    }
    if shown == enabled and (listed or not enabled):
        return user
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    result: list[dict[str, Any]] = []
    seen: set[str] = set()
    for plan in listed:
        plan_id = str(plan.get("servicePlanId", "")).lower()
        seen.add(plan_id)
        if plan_id in enabled:
            # a plan in its subscription's grace period keeps its status
            kept = plan.get("capabilityStatus") != DELETED
            again = {"assignedDateTime": stamp, "capabilityStatus": ENABLED}
            result.append(dict(plan) if kept else {**plan, **again})
        else:
            result.append({**plan, "capabilityStatus": DELETED})
    for plan_id in sorted(enabled - seen):
        result.append(
            {
                "assignedDateTime": stamp,
                "capabilityStatus": ENABLED,
                "service": services.get(plan_id),
                "servicePlanId": plan_id,
            }
        )
    return replace(user, attributes={**user.attributes, "assignedPlans": result})


def _plans_of(attributes: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    plans = attributes.get("assignedPlans")
    return [plan for plan in plans if isinstance(plan, Mapping)] if isinstance(plans, list) else []
