"""The HTML plan's tables: who loses and gains what (filtered by group, product and user), the
seat forecast and the cost.

Each row of the people tables starts with the same three cells (user, product, the group it
comes through), which the page's script reads to filter them. Every value from the tenant or
the policy goes through `text` (render/safe_text.py's `shown`, then html.escape).
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from reconciler.render.plan_cost import money as money_text
from reconciler.render.plan_text import kept_through
from reconciler.render.safe_text import shown

Document = Mapping[str, Any]

OPEN_ROWS = 200  # a longer table starts folded, so a plan of 100,000 rows opens quickly
_COLUMNS = ("User", "Product", "Through", "Why")
_PLAN_COLUMNS = ("User", "Product", "Through", "Service plans", "Why")
_KEPT_COLUMNS = ("User", "Product", "Leaves", "Keeps it through")


def text(value: object) -> str:
    """A value from the tenant or the policy, safe as HTML text or an attribute value."""
    return html.escape(shown(value), quote=True)


def count(number: int, noun: str, plural: str | None = None) -> str:
    return f"{number:,} {noun if number == 1 else plural or noun + 's'}"


# A row: (user, product, group, *more cells), each already HTML text.
Row = tuple[str, ...]


class _Table(NamedTuple):
    anchor: str  # the section's id, for links
    title: str
    description: str
    columns: Sequence[str]
    rows: Sequence[Row]


def people_section(impact: Document) -> list[str]:
    """Every loss and gain, a table each, under one filter bar; [] when nobody gains or loses."""
    tables = [
        _Table(
            "license-removals",
            "License removals",
            "People who lose a product entirely. Lasting losses first, then temporary ones.",
            _COLUMNS,
            _change_rows(impact["licenseRemovals"], "an assignment", losses=True),
        ),
        _Table(
            "plan-removals",
            "Service-plan removals",
            "People who keep a product but lose some of its service plans.",
            _PLAN_COLUMNS,
            _change_rows(impact["planRemovals"], "an assignment", losses=True),
        ),
        _Table(
            "license-additions",
            "License additions",
            "People who gain a product they don't have.",
            _COLUMNS,
            _change_rows(impact["licenseAdditions"], "a direct assignment"),
        ),
        _Table(
            "plan-additions",
            "Service-plan additions",
            "People who keep a product and gain some of its service plans.",
            _PLAN_COLUMNS,
            _change_rows(impact.get("planAdditions", []), "a direct assignment"),
        ),
        _Table(
            "kept",
            "Leaving a group, keeping its licenses",
            "People who leave a group but keep the product it gave them, through other "
            "assignments: they lose nothing.",
            _KEPT_COLUMNS,
            _kept_rows(impact.get("kept", [])),
        ),
    ]
    present = [table for table in tables if table.rows]
    if not present:
        return []
    rows = [row for table in present for row in table.rows]
    lines = [
        '<section id="people">',
        "<h2>Who loses and gains what</h2>",
        *_filter_bar(
            sorted({r[2] for r in rows}, key=str.lower), sorted({r[1] for r in rows}, key=str.lower)
        ),
    ]
    for table in present:
        lines += _people_table(table)
    return [*lines, "</section>"]


def _change_rows(records: Sequence[Document], nobody: str, losses: bool = False) -> list[Row]:
    """Rows of an impact list: lasting before temporary, then by group and user."""

    def order(r: Document) -> tuple[bool, str, str]:
        return (
            bool(r.get("temporary")),
            (r["group"] or "").lower(),
            r["userPrincipalName"].lower(),
        )

    rows = []
    for r in sorted(records, key=order):
        why = text(r["reason"])
        kept = kept_through(r) if losses and "servicePlans" in r else ""
        if kept:
            why += f"; keeps {text(r['skuPartNumber'])} through {html.escape(kept, quote=True)}"
        if r.get("temporary"):
            why += ' <span class="badge temporary">temporary</span>'
        user, product = text(r["userPrincipalName"]), text(r["skuPartNumber"])
        plans = (text(", ".join(r["servicePlans"])),) if "servicePlans" in r else ()
        rows.append((user, product, text(r["group"] or nobody), *plans, why))
    return rows


def _kept_rows(kept: Sequence[Document]) -> list[Row]:
    ordered = sorted(kept, key=lambda k: (k["group"].lower(), k["userPrincipalName"].lower()))
    return [
        (
            text(k["userPrincipalName"]),
            text(k["skuPartNumber"]),
            text(k["group"]),
            text(", ".join(name or "a direct assignment" for name in k["keptBy"])),
        )
        for k in ordered
    ]


def _filter_bar(groups: Iterable[str], products: Iterable[str]) -> list[str]:
    # hidden until the script shows it: without the script there is nothing to filter with
    def options(values: Iterable[str], every: str) -> str:
        return f'<option value="">{every}</option>' + "".join(
            f'<option value="{value}">{value}</option>' for value in values
        )

    return [
        f'<form id="filters" class="filters" hidden data-open-rows="{OPEN_ROWS}">',
        f'<label>Group<select name="group">{options(groups, "All groups")}</select></label>',
        f'<label>Product<select name="product">{options(products, "All products")}</select>'
        "</label>",
        '<label>User<input name="user" type="search" placeholder="name or part of it" '
        'autocomplete="off" spellcheck="false"></label>',
        '<button type="reset">Clear</button>',
        '<output aria-live="polite"></output>',
        "</form>",
    ]


def _people_table(table: _Table) -> list[str]:
    anchor, title, description, columns, rows = table
    head = "".join(f"<th>{column}</th>" for column in columns)
    body = [
        f'<tr><td class="user">{row[0]}</td><td class="product">{row[1]}</td>'
        + "".join(f"<td>{cell}</td>" for cell in row[2:])
        + "</tr>"
        for row in rows
    ]
    long = len(rows) > OPEN_ROWS
    kind = "data" + (" long" if long else "") + (" plans" if len(columns) == 5 else "")
    markup = [
        f'<table class="{kind}" data-filter><thead><tr>{head}</tr></thead><tbody>',
        *body,
        "</tbody></table>",
    ]
    if long:
        markup = [f"<details><summary>Show all {len(rows):,} rows</summary>", *markup, "</details>"]
    return [
        f'<section id="{anchor}">',
        f'<h3>{title} <span class="count">{len(rows):,}</span></h3>',
        f'<p class="desc">{description}</p>',
        *markup,
        '<p class="none" hidden>No row matches the filter.</p>',
        "</section>",
    ]


def seats_section(seats: Sequence[Document]) -> list[str]:
    """The seat forecast of every product: prepaid, used now and after, and how many short."""
    if not seats:
        return []
    rows = []
    for s in seats:
        now, after, short = s["consumedNow"], s["consumedAfter"], len(s["countViolations"])
        quiet = ' class="quiet"' if now == after and not short else ""
        rows.append(
            f'<tr{quiet}><td class="product">{text(s["skuPartNumber"])}</td>'
            f'<td class="num">{s["prepaid"]:,}</td><td class="num">{now:,}</td>'
            f'<td class="num">{after:,}</td><td class="num">{_signed(after - now)}</td>'
            f'<td class="num">{f"<span class=short>{short:,}</span>" if short else ""}</td></tr>'
        )
    head = "".join(
        f'<th class="num">{name}</th>'
        for name in ("Prepaid", "Used now", "Used after", "Change", "Short")
    )
    return [
        '<section id="seats">',
        "<h2>Seats</h2>",
        '<p class="desc">Seats of each product: prepaid (enabled), used now and after this plan. '
        "People a product is short for would get <code>CountViolation</code> and none of "
        "their group's new licenses. Products whose use doesn't change are greyed.</p>",
        f'<table class="data fit"><thead><tr><th>Product</th>{head}</tr></thead><tbody>',
        *rows,
        "</tbody></table>",
        "</section>",
    ]


def _signed(number: int) -> str:
    if not number:
        return ""
    return f'<span class="{"up" if number > 0 else "down"}">{number:+,}</span>'


def money(amount: float, currency: str, signed: bool = False) -> str:
    """An amount as the text plan writes it (`+1,234.50 USD`), escaped for HTML."""
    return text(money_text(amount, currency, signed))


def _change(amount: float, currency: str) -> str:
    """A signed monthly change, red when it costs more, green when it saves."""
    kind = "up" if amount > 0 else "down" if amount < 0 else ""
    value = money(amount, currency, signed=True)
    return f'<span class="{kind}">{value}</span>' if kind else value


def cost_section(cost: Document | None) -> list[str]:
    """What the plan does to the cost of seats, per product and per currency; [] without prices."""
    if not cost:
        return []
    lines = [
        '<section id="cost">',
        "<h2>Cost</h2>",
        '<p class="desc">A month, at the prices in the policy (<code>settings.prices</code>). '
        "The change is what the seats in use are worth after the plan less now; prepaid seats "
        "are billed whether used or not, so seats freed show as unused until the subscription "
        "is reduced. The seats short are what it takes to buy them.</p>",
    ]
    totals = cost.get("totals", [])
    if totals:
        head = "".join(
            f'<th class="num">{name}</th>'
            for name in ("Change", "Seats short, to buy", "Unused now", "Unused after")
        )
        rows = [
            f"<tr><td>{text(t['currency'])}</td>"
            f'<td class="num">{_change(t["monthlyChange"], t["currency"])}</td>'
            f'<td class="num">{_short_money(t["shortfallMonthly"], t["currency"])}</td>'
            f'<td class="num">{money(t["unusedMonthlyNow"], t["currency"])}</td>'
            f'<td class="num">{money(t["unusedMonthlyAfter"], t["currency"])}</td></tr>'
            for t in totals
        ]
        lines += [
            "<h3>Totals per month</h3>",
            f'<table class="data fit"><thead><tr><th>Currency</th>{head}</tr></thead><tbody>',
            *rows,
            "</tbody></table>",
        ]
    products = cost.get("products", [])
    if products:
        lines += ["<h3>Per product</h3>", *_cost_products(products)]
    unpriced = cost.get("unpriced", [])
    if unpriced:
        names = ", ".join(
            f"<code>{text(item['skuPartNumber'] or item['skuId'])}</code>" for item in unpriced
        )
        lines.append(
            f"<p>Not priced in <code>settings.prices</code>: "
            f"{count(len(unpriced), 'product')}, {names}.</p>"
        )
    return [*lines, "</section>"]


def _cost_products(products: Sequence[Document]) -> list[str]:
    head = "".join(
        f'<th class="num">{name}</th>'
        for name in (
            "Per seat",
            "Prepaid",
            "Used now",
            "Used after",
            "Change",
            "Short",
            "To buy",
            "Unused now → after",
            "Unused, cost now → after",
        )
    )
    rows = []
    for p in products:
        currency = p["currency"]
        short = p["shortfall"]
        quiet = p["consumedNow"] == p["consumedAfter"] and not short
        rows.append(
            f"<tr{' class=quiet' if quiet else ''}>"
            f'<td class="product">{text(p["skuPartNumber"] or p["skuId"])}</td>'
            f'<td class="num">{money(p["monthly"], currency)}</td>'
            f'<td class="num">{p["prepaid"]:,}</td>'
            f'<td class="num">{p["consumedNow"]:,}</td>'
            f'<td class="num">{p["consumedAfter"]:,}</td>'
            f'<td class="num">{_change(p["monthlyChange"], currency)}</td>'
            f'<td class="num">{f"<span class=short>{short:,}</span>" if short else ""}</td>'
            f'<td class="num">{_short_money(p["shortfallMonthly"], currency)}</td>'
            f'<td class="num">{p["unusedNow"]:,} → {p["unusedAfter"]:,}</td>'
            f'<td class="num">{money(p["unusedMonthlyNow"], currency)} → '
            f"{money(p['unusedMonthlyAfter'], currency)}</td></tr>"
        )
    return [
        f'<table class="data"><thead><tr><th>Product</th>{head}</tr></thead><tbody>',
        *rows,
        "</tbody></table>",
    ]


def _short_money(amount: float, currency: str) -> str:
    return f'<span class="short">{money(amount, currency)}</span>' if amount else ""
