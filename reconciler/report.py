"""Read-only reports on a tenant: who holds which license and how, seats, licensing groups.

Each report is a generator of rows made as the tenant is walked, so a report on a million users
is written out row by row and never held whole; the tenant itself is already in memory.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from reconciler.directory_audit import is_object_id
from reconciler.errors import ReconcilerError
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    ERROR,
    Group,
    LicenseAssignmentState,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.cost import CurrencyTotal, ProductCost, currency_totals, product_cost, to_cent
from reconciler.plan.managed import managed_groups, with_memory
from reconciler.plan.seats import SeatForecast
from reconciler.policy import LoadedPolicy, resolve
from reconciler.policy.errors import raise_all
from reconciler.policy.prices import Price, resolve_prices

DIRECT = "direct"  # assignedBy of a license assigned to the user directly
YES, NO = "yes", "no"
DYNAMIC, ASSIGNED = "dynamic", "assigned"
# The states in which Entra gives the user the product, and a seat: `ActiveWithError` is a
# group license whose removal failed (DependencyViolation), which the user keeps meanwhile.
HOLDING = frozenset({ACTIVE, ACTIVE_WITH_ERROR})
# The states of a group assignment that failed, as Microsoft's membersWithLicenseErrors lists
# them: not assigned (`Error`), or not taken away (`ActiveWithError`).
FAILED = frozenset({ERROR, ACTIVE_WITH_ERROR})


class ReportFilterError(ReconcilerError):
    """A report's --sku or --group names nothing in the tenant."""


@dataclass(frozen=True, slots=True)
class LicenseRow:
    """One assignment of a product to a user: direct, or inherited from a group."""

    userPrincipalName: str
    userId: str
    skuPartNumber: str  # empty for a product the tenant's subscribedSkus don't list
    skuId: str
    assignedBy: str  # "direct", the group's displayName, or its id when it no longer exists
    groupId: str | None  # None for a direct assignment
    state: str
    error: str


@dataclass(frozen=True, slots=True)
class SeatRow:
    """One product's seats: bought, used, and how its holders got it."""

    skuPartNumber: str
    skuId: str
    enabled: int  # prepaidUnits.enabled
    consumed: int  # consumedUnits, as Graph counts them: one per user holding the product
    heldDirectly: int  # users holding it through a direct assignment (and maybe groups too)
    heldOnlyThroughGroups: int  # users holding it through groups only
    inError: int  # users with an assignment of it in Error and none holding it
    available: int  # enabled - consumed


@dataclass(frozen=True, slots=True)
class PricedSeatRow:
    """SeatRow with what the seats cost a month, for a tenant whose policy sets prices."""

    skuPartNumber: str
    skuId: str
    enabled: int
    consumed: int
    heldDirectly: int
    heldOnlyThroughGroups: int
    inError: int
    available: int
    currency: str | None  # None: the policy sets no price for the product
    monthly: Decimal | None  # a seat a month
    paidMonthly: Decimal | None  # enabled seats a month
    unusedMonthly: Decimal | None  # seats paid for but not in use, a month


@dataclass(frozen=True, slots=True)
class GroupLicense:
    """A product a group assigns, with the names of the service plans it turns off."""

    skuPartNumber: str
    skuId: str
    disabledPlans: tuple[str, ...]  # servicePlanName, or the id of a plan the SKU doesn't list


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A group that assigns licenses (or any security group, asked for all)."""

    displayName: str
    id: str
    managed: str  # "yes" when a block of the policy declares the group, else "no"
    membership: str  # "dynamic" or "assigned"
    membershipRule: str | None
    members: int  # direct user members: the only ones group licensing reaches
    licenses: tuple[GroupLicense, ...]
    usersInError: int  # users with one of the group's assignments in Error or ActiveWithError


# --- report licenses ------------------------------------------------------------------------


def license_rows(
    tenant: Tenant, skus: Sequence[str] = (), groups: Sequence[str] = ()
) -> Iterator[LicenseRow]:
    """Every license assignment of every user, in the tenant's user order, then by
    skuPartNumber, direct first; only of the products in `skus` and the groups in `groups`,
    when given (names or ids)."""
    # filters are checked now, so a misspelt name fails before any row is written
    chosen_skus = _chosen_skus(tenant.subscribedSkus, skus) if skus else None
    chosen_groups = _chosen_groups(tenant.groups, groups) if groups else None
    part_numbers = {sku.skuId.lower(): sku.skuPartNumber for sku in tenant.subscribedSkus}
    names = {group.id.lower(): group.displayName for group in tenant.groups}
    return _license_rows(tenant.users, part_numbers, names, chosen_skus, chosen_groups)


def _license_rows(
    users: Iterable[User],
    part_numbers: Mapping[str, str],
    names: Mapping[str, str],
    chosen_skus: frozenset[str] | None,
    chosen_groups: frozenset[str] | None,
) -> Iterator[LicenseRow]:
    for user in users:
        if not user.licenseAssignmentStates:
            continue
        rows = [
            _license_row(user, state, part_numbers, names)
            for state in user.licenseAssignmentStates
            if _chosen(state, chosen_skus, chosen_groups)
        ]
        rows.sort(key=_license_order)
        yield from rows


def _chosen(
    state: LicenseAssignmentState,
    skus: frozenset[str] | None,
    groups: frozenset[str] | None,
) -> bool:
    if skus is not None and state.skuId.lower() not in skus:
        return False
    if groups is None:
        return True
    return state.assignedByGroup is not None and state.assignedByGroup.lower() in groups


def _license_row(
    user: User,
    state: LicenseAssignmentState,
    part_numbers: Mapping[str, str],
    names: Mapping[str, str],
) -> LicenseRow:
    group = state.assignedByGroup
    # a group deleted since is named by its id: there is no displayName left to give
    assigned_by = DIRECT if group is None else names.get(group.lower(), group)
    return LicenseRow(
        user.userPrincipalName,
        user.id,
        part_numbers.get(state.skuId.lower(), ""),
        state.skuId,
        assigned_by,
        group,
        state.state,
        state.error,
    )


def _license_order(row: LicenseRow) -> tuple[str, bool, str, str]:
    return (
        row.skuPartNumber,
        row.groupId is not None,
        row.assignedBy.casefold(),
        row.groupId or "",
    )


def _chosen_skus(skus: Iterable[Sku], wanted: Sequence[str]) -> frozenset[str]:
    """The lower-case skuIds `wanted` names by skuPartNumber or skuId, ignoring case."""
    found: set[str] = set()
    unknown = []
    for name in wanted:
        named = {
            sku.skuId.lower()
            for sku in skus
            if name.lower() in (sku.skuId.lower(), sku.skuPartNumber.lower())
        }
        if not named:
            unknown.append(name)
        found |= named
    if unknown:
        raise ReportFilterError(
            f"no product {', '.join(unknown)} in the tenant's subscribedSkus "
            "(give a skuPartNumber or a skuId)"
        )
    return frozenset(found)


def _chosen_groups(groups: Iterable[Group], wanted: Sequence[str]) -> frozenset[str]:
    """The lower-case ids of the groups `wanted` names by displayName or id, ignoring case;
    a displayName several groups share names them all, and a GUID no group has is taken as
    the id of a group deleted since, which users' assignments may still name."""
    found: set[str] = set()
    unknown = []
    for name in wanted:
        named = {
            group.id.lower()
            for group in groups
            if name.lower() in (group.id.lower(), group.displayName.lower())
        }
        if not named and is_object_id(name):
            named = {name.lower()}
        if not named:
            unknown.append(name)
        found |= named
    if unknown:
        raise ReportFilterError(
            f"no group {', '.join(unknown)} in the tenant (give a displayName or an id)"
        )
    return frozenset(found)


# --- report seats ---------------------------------------------------------------------------


def seat_rows(tenant: Tenant) -> Iterator[SeatRow]:
    """Per product of subscribedSkus, in the tenant's order: its seats and how they are held."""
    direct: dict[str, int] = {}
    through_groups: dict[str, int] = {}
    in_error: dict[str, int] = {}
    for user in tenant.users:
        if not user.licenseAssignmentStates:
            continue
        for sku, (by_direct, by_group, errored) in _holdings(user).items():
            if by_direct:
                direct[sku] = direct.get(sku, 0) + 1
            elif by_group:
                through_groups[sku] = through_groups.get(sku, 0) + 1
            elif errored:
                in_error[sku] = in_error.get(sku, 0) + 1
    for sku in tenant.subscribedSkus:
        key = sku.skuId.lower()
        enabled = sku.prepaidUnits.enabled
        yield SeatRow(
            sku.skuPartNumber,
            sku.skuId,
            enabled,
            sku.consumedUnits,
            direct.get(key, 0),
            through_groups.get(key, 0),
            in_error.get(key, 0),
            enabled - sku.consumedUnits,
        )


def tenant_prices(loaded: LoadedPolicy, tenant: Tenant) -> tuple[Price, ...]:
    """The prices the policy sets for the tenant's products; PolicyError for an unknown one."""
    prices, errors = resolve_prices(loaded.prices, tenant.subscribedSkus)
    raise_all(errors)
    return prices


def priced_seats(
    rows: Iterable[SeatRow], prices: Sequence[Price]
) -> tuple[list[PricedSeatRow], tuple[CurrencyTotal, ...]]:
    """`rows` with each product's price (empty for a product without one), and the totals per
    currency, added before rounding as the plan's are."""
    by_sku = {price.skuId.lower(): price for price in prices}
    priced: list[PricedSeatRow] = []
    costs: list[ProductCost] = []
    for row in rows:
        values = tuple(getattr(row, name) for name in SeatRow.__slots__)
        price = by_sku.get(row.skuId.lower())
        if price is None:
            priced.append(PricedSeatRow(*values, None, None, None, None))
            continue
        # the tenant as it is: a forecast in which nothing moves
        cost = product_cost(
            SeatForecast(row.skuId, row.skuPartNumber, row.enabled, row.consumed, row.consumed),
            price,
        )
        costs.append(cost)
        priced.append(
            PricedSeatRow(
                *values,
                price.currency,
                to_cent(price.monthly),
                to_cent(cost.paidMonthly),
                to_cent(cost.unusedMonthlyNow),
            )
        )
    return priced, currency_totals(costs)


def _holdings(user: User) -> dict[str, tuple[bool, bool, bool]]:
    """Per product (lower-case skuId): held directly, held through a group, has an Error."""
    found: dict[str, tuple[bool, bool, bool]] = {}
    for state in user.licenseAssignmentStates:
        sku = state.skuId.lower()
        by_direct, by_group, errored = found.get(sku, (False, False, False))
        if state.state in HOLDING:
            if state.assignedByGroup is None:
                by_direct = True
            else:
                by_group = True
        elif state.state == ERROR:
            errored = True
        found[sku] = (by_direct, by_group, errored)
    return found


# --- report groups --------------------------------------------------------------------------


def managed_ids(loaded: LoadedPolicy | None, tenant: Tenant) -> frozenset[str]:
    """The lower-case ids of the tenant's groups a block of the policy declares, found as a
    plan finds them; none without a policy."""
    if loaded is None:
        return frozenset()
    desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
    # groups.lock.yaml pins groups renamed since, as a plan takes them
    desired = with_memory(desired, desired.groupLock, tenant)
    return frozenset(group_id.lower() for group_id in managed_groups(desired, tenant))


def group_rows(
    tenant: Tenant, managed: Collection[str], all_groups: bool = False
) -> Iterator[GroupRow]:
    """Every group that assigns licenses, in the tenant's order; with `all_groups`, every
    security-enabled group too. `managed` holds the lower-case ids the policy declares."""
    users = {user.id.lower() for user in tenant.users}
    failing = _users_in_error(tenant.users)
    skus = {sku.skuId.lower(): sku for sku in tenant.subscribedSkus}
    for group in tenant.groups:
        if not group.assignedLicenses and not (all_groups and group.securityEnabled):
            continue
        yield GroupRow(
            group.displayName,
            group.id,
            YES if group.id.lower() in managed else NO,
            DYNAMIC if group.is_dynamic else ASSIGNED,
            group.membershipRule if group.is_dynamic else None,
            sum(1 for member in group.members if member.lower() in users),
            tuple(
                _group_license(assigned.skuId, assigned.disabledPlans, skus)
                for assigned in group.assignedLicenses
            ),
            failing.get(group.id.lower(), 0),
        )


def _users_in_error(users: Iterable[User]) -> dict[str, int]:
    """Per lower-case group id, the users with one of its assignments failed."""
    counts: dict[str, int] = {}
    for user in users:
        groups = {
            state.assignedByGroup.lower()
            for state in user.licenseAssignmentStates
            if state.assignedByGroup is not None and state.state in FAILED
        }
        for group in groups:
            counts[group] = counts.get(group, 0) + 1
    return counts


def _group_license(sku_id: str, disabled: Collection[str], skus: Mapping[str, Sku]) -> GroupLicense:
    sku = skus.get(sku_id.lower())
    if sku is None:
        return GroupLicense("", sku_id, tuple(sorted(disabled)))
    names = {plan.servicePlanId.lower(): plan.servicePlanName for plan in sku.servicePlans}
    # in the order the SKU lists its plans, so the same group always reads the same
    order = {plan.servicePlanId.lower(): n for n, plan in enumerate(sku.servicePlans)}
    ids = sorted(disabled, key=lambda plan: (order.get(plan.lower(), len(order)), plan))
    return GroupLicense(
        sku.skuPartNumber, sku.skuId, tuple(names.get(plan.lower(), plan) for plan in ids)
    )
