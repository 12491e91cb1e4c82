"""The cost of a plan: its seat forecast at the policy's prices (`settings.prices`).

Microsoft bills the seats bought (prepaidUnits), not those in use, so a plan changes no bill by
itself: what it changes is what the seats in use are worth (`monthlyChange`), how much of what
is paid for lies unused, and what the seats it runs short of would cost to buy. Amounts are
exact decimals, per currency; a total never adds two currencies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from reconciler.plan.seats import SeatForecast
from reconciler.policy.prices import Price

CENT = Decimal("0.01")
# what a total adds up, in CurrencyTotal's order
TOTALLED = (
    "paidMonthly",
    "monthlyChange",
    "shortfallMonthly",
    "unusedMonthlyNow",
    "unusedMonthlyAfter",
)


@dataclass(frozen=True, slots=True)
class ProductCost:
    """One priced product: its seats now and after the plan, and what they cost a month."""

    skuId: str
    skuPartNumber: str
    currency: str
    monthly: Decimal  # a seat a month
    prepaid: int
    consumedNow: int
    consumedAfter: int
    shortfall: int  # seats the plan runs short of: users left in CountViolation

    @property
    def paidMonthly(self) -> Decimal:
        """The seats bought: what the product costs a month whatever the plan does."""
        return self.prepaid * self.monthly

    @property
    def monthlyChange(self) -> Decimal:
        return (self.consumedAfter - self.consumedNow) * self.monthly

    @property
    def shortfallMonthly(self) -> Decimal:
        return self.shortfall * self.monthly

    @property
    def unusedNow(self) -> int:
        return max(self.prepaid - self.consumedNow, 0)

    @property
    def unusedAfter(self) -> int:
        return max(self.prepaid - self.consumedAfter, 0)

    @property
    def unusedMonthlyNow(self) -> Decimal:
        return self.unusedNow * self.monthly

    @property
    def unusedMonthlyAfter(self) -> Decimal:
        return self.unusedAfter * self.monthly


@dataclass(frozen=True, slots=True)
class CurrencyTotal:
    """The products priced in one currency, added up."""

    currency: str
    paidMonthly: Decimal
    monthlyChange: Decimal
    shortfallMonthly: Decimal
    unusedMonthlyNow: Decimal
    unusedMonthlyAfter: Decimal


@dataclass(frozen=True, slots=True)
class Cost:
    """The priced products, totals per currency, and products whose seats move unpriced."""

    products: tuple[ProductCost, ...]
    totals: tuple[CurrencyTotal, ...]
    unpriced: tuple[SeatForecast, ...]


def plan_cost(seats: Sequence[SeatForecast], prices: Sequence[Price]) -> Cost | None:
    """What the seat forecast costs at `prices`; None when the policy sets no prices."""
    if not prices:
        return None
    by_sku = {price.skuId.lower(): price for price in prices}
    products = tuple(
        product_cost(seat, by_sku[seat.skuId.lower()])
        for seat in seats
        if seat.skuId.lower() in by_sku
    )
    unpriced = tuple(seat for seat in seats if seat.skuId.lower() not in by_sku and seat.moves)
    return Cost(products, currency_totals(products), unpriced)


def product_cost(seat: SeatForecast, price: Price) -> ProductCost:
    return ProductCost(
        seat.skuId,
        seat.skuPartNumber,
        price.currency,
        price.monthly,
        seat.prepaid,
        seat.consumedNow,
        seat.consumedAfter,
        seat.shortfall,
    )


def currency_totals(products: Iterable[ProductCost]) -> tuple[CurrencyTotal, ...]:
    """Per currency, in the order the products first name it."""
    sums: dict[str, list[Decimal]] = {}
    for product in products:
        amounts = sums.setdefault(product.currency, [Decimal(0)] * len(TOTALLED))
        for index, name in enumerate(TOTALLED):
            amounts[index] += getattr(product, name)
    return tuple(CurrencyTotal(currency, *amounts) for currency, amounts in sums.items())


def to_cent(value: Decimal) -> Decimal:
    """Rounded to the cent as money is, half a cent up (not to even, as Decimal would)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def amount(value: Decimal) -> float:
    """Money as the plan document carries it: a number rounded to the cent."""
    return float(to_cent(value))
