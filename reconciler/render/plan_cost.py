"""The plan's cost (`impact.cost`) in words and table rows, for the text and Markdown plans."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.render.safe_text import shown

Document = dict[str, Any]


def money(value: float, currency: str, signed: bool = False) -> str:
    """`1,140.00 USD`; signed: `+1,140.00 USD`, `-684.00 USD`, `0.00 USD`."""
    return f"{amount(value, signed)} {currency}"


def amount(value: float, signed: bool = False) -> str:
    """`1,140.00`; signed: `+1,140.00`, `-684.00`; never `-0.00` nor `+0.00`."""
    number = f"{value:,.2f}"
    if number == "-0.00":
        return "0.00"
    return f"+{number}" if signed and number != "0.00" and value > 0 else number


def priced_changes(cost: Document) -> list[Document]:
    """The priced products whose seats the plan moves."""
    return [
        product
        for product in cost["products"]
        if product["consumedNow"] != product["consumedAfter"] or product["shortfall"]
    ]


def cost_lines(cost: Document | None) -> list[str]:
    """The text plan's block: each product whose seats move, then totals per currency."""
    if not cost:
        return []
    changed = priced_changes(cost)
    if not changed and not cost["unpriced"]:
        return []
    lines = ["Cost a month, at settings.prices:"]
    width = max((len(shown(p["skuPartNumber"])) for p in changed), default=0)
    for product in changed:
        lines.append(f"  {shown(product['skuPartNumber']):<{width}}  {product_text(product)}")
    lines += [f"  {total_text(total)}" for total in cost["totals"]]
    if cost["unpriced"]:
        names = ", ".join(shown(item["skuPartNumber"]) for item in cost["unpriced"])
        lines.append(f"  Not priced, though their seats change: {names}")
    return [*lines, ""]


def product_text(product: Document) -> str:
    """`in use 49 -> 37: -684.00 USD; unused 2 -> 14 seats, 114.00 -> 798.00 USD`."""
    currency = product["currency"]
    text = (
        f"in use {product['consumedNow']:,} -> {product['consumedAfter']:,}: "
        f"{money(product['monthlyChange'], currency, signed=True)}; "
        f"unused {product['unusedNow']:,} -> {product['unusedAfter']:,} seats, "
        f"{amount(product['unusedMonthlyNow'])} -> {money(product['unusedMonthlyAfter'], currency)}"
    )
    if product["shortfall"]:
        to_buy = money(product["shortfallMonthly"], currency)
        text += f"; {product['shortfall']:,} short: {to_buy} to buy"
    return text


def total_text(total: Document, arrow: str = "->") -> str:
    """One currency's totals over every priced product, in a line."""
    text = (
        f"Total in {total['currency']}: {amount(total['monthlyChange'], signed=True)} in use; "
        f"unused {amount(total['unusedMonthlyNow'])} {arrow} {amount(total['unusedMonthlyAfter'])}"
    )
    if total["shortfallMonthly"]:
        text += f"; {amount(total['shortfallMonthly'])} to buy the seats short"
    return text


def cost_rows(products: Sequence[Document]) -> list[tuple[str, ...]]:
    """Table cells per product: in use now -> after, change, unused now -> after, to buy."""
    return [
        (
            f"{p['consumedNow']:,} → {p['consumedAfter']:,}",
            money(p["monthlyChange"], p["currency"], signed=True),
            f"{p['unusedNow']:,} → {p['unusedAfter']:,} "
            f"({money(p['unusedMonthlyNow'], p['currency'])} → "
            f"{money(p['unusedMonthlyAfter'], p['currency'])})",
            f"{p['shortfall']:,} ({money(p['shortfallMonthly'], p['currency'])})"
            if p["shortfall"]
            else "",
        )
        for p in products
    ]
