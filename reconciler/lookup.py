"""Names a person writes looked up in a tenant: products by skuPartNumber or skuId, service plans
by servicePlanName or servicePlanId, users by userPrincipalName or object id, each ignoring case
as Entra does, with the message and suggestion for a name that isn't there.

One place for every command that takes such names (policy/resolve.py, policy/prices.py,
explain.py, policy_tests/names.py), so that they find the same things and say the same.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from reconciler.model import ServicePlan, Sku, Tenant, User

DIRECT = "direct"  # how a direct assignment is named where groups are named
SHOWN_SKUS = 20  # names listed when a SKU is unknown; a tenant rarely has more
SUGGEST_AMONG = 50_000  # users: beyond this many, finding the closest name costs too much


class Catalog:
    """A tenant's products and their service plans, by name or id."""

    def __init__(self, skus: Sequence[Sku]) -> None:
        self.skus = tuple(skus)
        self._skus: dict[str, Sku] = {}
        for sku in skus:
            # skuPartNumber and skuId both name a SKU; Entra compares them ignoring case
            self._skus.setdefault(sku.skuPartNumber.casefold(), sku)
            self._skus.setdefault(sku.skuId.casefold(), sku)
        self._plans: dict[str, ServicePlan] | None = None  # built when first asked for

    def sku(self, name: str) -> Sku | None:
        """The product named by skuPartNumber or skuId."""
        return self._skus.get(name.casefold())

    def plan(self, name: str, sku: Sku | None = None) -> ServicePlan | None:
        """The service plan named by servicePlanName or servicePlanId: of `sku` when given,
        else of any of the tenant's products."""
        wanted = name.casefold()
        if sku is not None:
            return next(
                (
                    plan
                    for plan in sku.servicePlans
                    if wanted in (plan.servicePlanName.casefold(), plan.servicePlanId.casefold())
                ),
                None,
            )
        if self._plans is None:
            self._plans = {}
            for product in self.skus:
                for plan in product.servicePlans:
                    self._plans.setdefault(plan.servicePlanName.casefold(), plan)
                    self._plans.setdefault(plan.servicePlanId.casefold(), plan)
        return self._plans.get(wanted)

    def sku_names(self) -> list[str]:
        return sorted({sku.skuPartNumber for sku in self.skus}, key=str.casefold)

    def unknown_sku(self, name: str) -> str:
        """`unknown SKU 'x' (did you mean 'y'?); the tenant has: ...`."""
        from reconciler.policy.errors import closest  # here: reconciler.policy imports this module

        names = self.sku_names()
        message = f"unknown SKU '{name}'{closest(name, names)}"
        if not names:
            return message + "; the tenant has no subscribed SKUs"
        shown = ", ".join(names[:SHOWN_SKUS])
        more = f" and {len(names) - SHOWN_SKUS} more" if len(names) > SHOWN_SKUS else ""
        return f"{message}; the tenant has: {shown}{more}"

    def unknown_plan(self, name: str, sku: Sku | None = None) -> str:
        """`unknown service plan 'x' [in SKU] (did you mean 'y'?)`."""
        from reconciler.policy.errors import closest  # here: reconciler.policy imports this module

        if sku is not None:
            names = [plan.servicePlanName for plan in sku.servicePlans]
            return f"unknown service plan '{name}' in {sku.skuPartNumber}{closest(name, names)}"
        known = sorted({p.servicePlanName for s in self.skus for p in s.servicePlans})
        return f"unknown service plan '{name}'{closest(name, known)}"


class Directory:
    """A tenant's users by userPrincipalName or object id, ignoring case."""

    def __init__(self, users: Sequence[User], suggest_among: int | None = SUGGEST_AMONG) -> None:
        self.users = users
        self.suggest_among = suggest_among  # None: always suggest a name
        self._users: dict[str, User] | None = None  # built when first asked for

    def user(self, name: str) -> User | None:
        if self._users is None:
            self._users = {}
            for user in self.users:
                self._users.setdefault(user.userPrincipalName.casefold(), user)
                self._users.setdefault(user.id.casefold(), user)
        return self._users.get(name.strip().casefold())

    def unknown_user(self, name: str) -> str:
        """`no user 'x' in the tenant (did you mean 'y'?); give a userPrincipalName or ...`."""
        # beyond SUGGEST_AMONG users, finding the closest name costs more than it helps
        many = self.suggest_among is not None and len(self.users) >= self.suggest_among
        close = "" if many else suggestion(name.strip().lower(), self.users)
        return f"no user '{name}' in the tenant{close}; give a userPrincipalName or an object id"


def suggestion(wanted: str, users: Iterable[User]) -> str:
    """The closest userPrincipalName, compared whole, by its name before the @, or by the
    user's displayName."""
    keys: dict[str, str] = {}
    for user in users:
        upn = user.userPrincipalName
        keys.setdefault(upn.lower(), upn)
        keys.setdefault(upn.lower().partition("@")[0], upn)
        if user.displayName:
            keys.setdefault(user.displayName.lower(), upn)
    close = difflib.get_close_matches(wanted, list(keys), n=1, cutoff=0.6)
    return f" (did you mean '{keys[close[0]]}'?)" if close else ""


class Names:
    """Names of products, service plans and groups by id, from the first tenant given first
    (the tenant before a plan, then after it)."""

    def __init__(self, *tenants: Tenant) -> None:
        self.skus: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self.plans: dict[str, str] = {}
        self.groups: dict[str, str] = {}
        for tenant in tenants:
            for sku in tenant.subscribedSkus:
                plans = tuple((p.servicePlanId, p.servicePlanName) for p in sku.servicePlans)
                self.skus.setdefault(sku.skuId.lower(), (sku.skuPartNumber, plans))
                for plan_id, plan_name in plans:
                    self.plans.setdefault(plan_id.lower(), plan_name)
            for group in tenant.groups:
                self.groups.setdefault(group.id.lower(), group.displayName)

    def part_number(self, sku_id: str) -> str | None:
        found = self.skus.get(sku_id.lower())
        return found[0] if found else None

    def group(self, group_id: str | None) -> str | None:
        # a deleted group's assignments can outlive it (DependencyViolation): name it by its id
        return None if group_id is None else self.groups.get(group_id.lower(), group_id)

    def source(self, group_id: str | None) -> str:
        return self.group(group_id) or DIRECT

    def plan_names(self, plan_ids: Iterable[str]) -> tuple[str, ...]:
        return tuple(sorted(self.plans.get(p.lower(), p) for p in plan_ids))
