"""Seat forecast: how many seats of each product are used now and after the plan.

Users who would land in CountViolation are those the engine leaves in that error after the plan
and not before; which users run short follows the engine's documented seat order.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.model import COUNT_VIOLATION, Tenant


@dataclass(frozen=True, slots=True)
class SeatForecast:
    skuId: str
    skuPartNumber: str
    prepaid: int  # prepaidUnits.enabled
    consumedNow: int
    consumedAfter: int
    countViolations: tuple[str, ...] = ()  # userPrincipalName of users newly short of a seat

    @property
    def shortfall(self) -> int:
        return len(self.countViolations)

    @property
    def moves(self) -> bool:
        """The plan changes the seats in use, or leaves someone short of one."""
        return self.consumedNow != self.consumedAfter or bool(self.countViolations)


def seat_forecast(before: Tenant, after: Tenant) -> tuple[SeatForecast, ...]:
    """Per product the tenant has: seats bought, used now, used after the plan."""
    short_before = _short(before)
    short_after = _short(after)
    consumed_after = {sku.skuId.lower(): sku.consumedUnits for sku in after.subscribedSkus}

    def newly_short(key: str) -> tuple[str, ...]:
        already = {upn for _, upn in short_before.get(key, set())}
        return tuple(upn for _, upn in sorted(short_after.get(key, set())) if upn not in already)

    return tuple(
        SeatForecast(
            sku.skuId,
            sku.skuPartNumber,
            sku.prepaidUnits.enabled,
            sku.consumedUnits,
            consumed_after.get(sku.skuId.lower(), sku.consumedUnits),
            newly_short(sku.skuId.lower()),
        )
        for sku in before.subscribedSkus
    )


def _short(tenant: Tenant) -> dict[str, set[tuple[tuple[str, str], str]]]:
    """Users in CountViolation by product, each with its place in the engine's seat order."""
    names = {group.id: group.displayName.lower() for group in tenant.groups}
    found: dict[str, set[tuple[tuple[str, str], str]]] = {}
    for user in tenant.users:
        for state in user.licenseAssignmentStates:
            if state.error == COUNT_VIOLATION:
                order = (names.get(state.assignedByGroup or "", ""), user.userPrincipalName.lower())
                found.setdefault(state.skuId.lower(), set()).add((order, user.userPrincipalName))
    return found
