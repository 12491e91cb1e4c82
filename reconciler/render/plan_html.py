"""Renders a plan document as one self-contained HTML page: a report for a pull request's
artifacts or an email.

It shows what the Markdown plan shows (verdict, counts, banners, warnings, each group's changes,
who loses and gains what, seats) and the cost when the plan has prices, all of it: a page has
no comment limit. It loads nothing (plan_html_assets.py: inline style and script, allowed by
hash, nothing else); the tables of who gains and loses what filter by group, product and user,
and every row shows without the script. The same document gives the same page, byte for byte.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.render.drift_text import drift_value
from reconciler.render.loss_facts import NAMES_SHOWN, lose, losses, who_loses
from reconciler.render.plan_html_assets import page
from reconciler.render.plan_html_tables import (
    OPEN_ROWS,
    cost_section,
    count,
    money,
    people_section,
    seats_section,
    text,
)
from reconciler.render.plan_markdown import Context
from reconciler.render.plan_text import (
    SYMBOLS,
    VERBS,
    change_lines,
    finding_place,
    group_action,
    group_blocks,
    group_reason,
    sku_name,
)
from reconciler.render.safe_text import shown

Document = Mapping[str, Any]

DIFF_OPEN = 20  # a group's diff longer than this is folded
_HINTS_SHOWN = 3  # different hints listed per code: some name users, and a code can have many
_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


def plan_html(document: Document, context: Context) -> str:
    """The plan as a whole HTML document (as text)."""
    impact = document["impact"]
    main = [
        *_stale(context),
        *_verdict(document),
        *_banners(document),
        *_contents(document),
        *_warnings(document["warnings"]),
        *_drift(document.get("drift") or []),
        *_changes(document),
        *people_section(impact),
        *seats_section(impact.get("seats", [])),
        *cost_section(impact.get("cost")),
    ]
    body = [*_header(document, context), '<main class="wrap">', *main, "</main>", *_footer()]
    title = f"reconciler plan: {context.policy} on tenant {context.tenant}"
    return page(shown(title), "\n".join(body))


def _header(document: Document, context: Context) -> list[str]:
    facts = [("Policy", context.policy), ("Tenant", context.tenant)]
    if context.plan_file:
        facts.append(("Saved plan", context.plan_file))
    version = (document.get("origin") or {}).get("toolVersion")
    if version:
        facts.append(("reconciler", version))
    if context.run_url:
        facts.append(("Workflow run", context.run_url))  # as text: the page links nowhere
    meta = "".join(f"<span>{name} <b>{text(value)}</b></span>" for name, value in facts)
    return [
        '<header class="top"><div class="wrap">',
        '<p class="kicker">reconciler · Entra ID group-based licensing</p>',
        "<h1>Licensing plan</h1>",
        f'<p class="meta">{meta}</p>',
        "</div></header>",
    ]


def _stale(context: Context) -> list[str]:
    if not context.stale:
        return []
    return _banner(
        "caution",
        [f"<strong>This saved plan can't be applied as it is:</strong> {_prose(context.stale)}"],
    )


def _verdict(document: Document) -> list[str]:
    summary, guards, impact = document["summary"], document["guards"], document["impact"]
    if document["changesPresent"]:
        verdict = (
            f'<p class="verdict" id="summary">Plan: {summary["add"]:,} to add, '
            f"{summary['change']:,} to change, {summary['remove']:,} to remove.</p>"
        )
    else:
        verdict = (
            '<p class="verdict none" id="summary">No changes. Licensing matches the policy.</p>'
        )
    losses = [*impact["licenseRemovals"], *impact["planRemovals"]]
    gains = len(impact["licenseAdditions"]) + len(impact.get("planAdditions", []))
    severities = [w["severity"] for w in document["warnings"]]
    removals, limit = guards["licenseRemovals"], guards["maxLicenseRemovals"]
    guard = f"<small> / {limit:,}</small>" if limit is not None else "<small> / no limit</small>"
    tiles = [
        _tile(f"{summary['add']:,}", "groups to add", "add" if summary["add"] else ""),
        _tile(f"{summary['change']:,}", "groups to change", "upd" if summary["change"] else ""),
        _tile(f"{summary['remove']:,}", "groups to remove", "del" if summary["remove"] else ""),
        _tile(
            f"{removals:,}{guard}",
            "license removals / guard",
            "bad" if guards["refused"] else "del" if removals else "",
        ),
        _tile(f"{len({r['userId'] for r in losses}):,}", "people lose licenses", ""),
        _tile(f"{gains:,}", "license additions", "add" if gains else ""),
        _tile(
            "Refused" if guards["refused"] else "Allowed",
            "by the removal guard",
            "bad" if guards["refused"] else "good",
        ),
        _tile(
            f"{severities.count('error'):,}<small> · {severities.count('warning'):,} · "
            f"{severities.count('info'):,}</small>",
            "errors · warnings · info",
            "del" if severities.count("error") else "",
        ),
    ]
    for total in (impact.get("cost") or {}).get("totals", []):
        change = total["monthlyChange"]
        number, currency = money(change, total["currency"], signed=True).split(" ", 1)
        kind = "del" if change > 0 else "add" if change < 0 else ""
        tiles.append(_tile(f"{number}<small> {currency}</small>", "a month, seats in use", kind))
    return [verdict, '<div class="tiles">', *tiles, "</div>"]


def _tile(number: str, label: str, kind: str) -> str:
    number = f'<span class="n">{number}</span>'
    return f'<div class="tile {kind}">{number}<span class="l">{label}</span></div>'


def _banner(kind: str, paragraphs: Sequence[str]) -> list[str]:
    return [f'<div class="banner {kind}" role="note">', *paragraphs, "</div>"]


def _banners(document: Document) -> list[str]:
    lines = []
    guards, impact = document["guards"], document["impact"]
    if guards["refused"]:
        lines += _banner("caution", _refusal(guards))
    losses = [*impact["licenseRemovals"], *impact["planRemovals"]]
    if losses:
        lines += _banner("warning", _loss_banner(losses))
    short = [s for s in impact.get("seats", []) if s.get("countViolations")]
    if short:
        items = [
            f"<li><code>{text(s['skuPartNumber'])}</code>: {len(s['countViolations']):,} short "
            f"({s['prepaid']:,} enabled)</li>"
            for s in short[:NAMES_SHOWN]
        ]
        if len(short) > NAMES_SHOWN:
            items.append(f"<li>… and {len(short) - NAMES_SHOWN:,} more products</li>")
        lines += _banner(
            "warning",
            [
                "<p><strong>Seats run short</strong>: the people left without a seat would get "
                "<code>CountViolation</code> and none of their group's new licenses (the "
                "seat-shortfall warning names them):</p>",
                f"<ul>{''.join(items)}</ul>",
            ],
        )
    return lines


def _refusal(guards: Document) -> list[str]:
    reasons = list(guards["reasons"]) or ["the removal guards refuse the plan"]
    ways = ["apply with <code>--allow-removals</code> after review"]
    removals, limit = guards["licenseRemovals"], guards["maxLicenseRemovals"]
    if limit is not None and removals > limit:
        ways.append(f"raise <code>settings.maxLicenseRemovals</code> to at least {removals:,}")
    if guards["protected"]:
        ways.append("remove <code>protect: true</code> from the protected groups")
    tail = " in the policy and plan again" if len(ways) > 1 else ""
    return [
        "<p><strong>Apply will refuse this plan</strong> unless <code>--allow-removals</code> "
        "is given:</p>",
        "<ul>" + "".join(f"<li>{_prose(reason)}</li>" for reason in reasons) + "</ul>",
        f"<p>If they are intended: {', or '.join(ways)}{tail}.</p>",
    ]


def _loss_banner(removals: Sequence[Document]) -> list[str]:
    found = losses(removals)
    through = ", ".join(f"{text(name)} ({number:,})" for name, number in found.through)
    if found.more_groups:
        through += f" and {found.more_groups:,} more groups"
    kept = found.removals - found.whole
    lines = [
        f"<p><strong>{who_loses(found.people)} licenses</strong>: "
        f"{count(found.removals, 'license removal')} through {through}.</p>",
        f"<p>{found.whole:,} {lose(found.whole)} a product entirely; {kept:,} {lose(kept)} "
        "service plans of a product they keep.</p>",
    ]
    if found.temporary:
        lines.append(
            f"<p>{found.temporary:,} of them are temporary: they return once Entra processes the "
            "group.</p>"
        )
    return lines


def _contents(document: Document) -> list[str]:
    """Links to the sections this plan has."""
    impact = document["impact"]
    people = sum(
        len(impact.get(kind, []))
        for kind in ("licenseRemovals", "planRemovals", "licenseAdditions", "planAdditions", "kept")
    )
    links = [
        ("warnings", f"Warnings ({len(document['warnings']):,})", document["warnings"]),
        ("drift", "Changed outside reconciler", document.get("drift")),
        ("changes", f"Changes ({len(group_blocks(document['changes'])):,} groups)", True),
        ("people", f"Who loses and gains what ({people:,})", people),
        ("seats", "Seats", impact.get("seats")),
        ("cost", "Cost", impact.get("cost")),
    ]
    shown = [f'<a href="#{anchor}">{label}</a>' for anchor, label, present in links if present]
    return ['<nav class="toc">', *shown, "</nav>"]


def _warnings(findings: Sequence[Document]) -> list[str]:
    if not findings:
        return []
    ordered = sorted(findings, key=lambda w: _SEVERITY_ORDER[w["severity"]])
    rows = []
    hints: dict[str, list[str]] = {}
    for w in ordered:
        place = finding_place(w)
        rows.append(
            f'<tr><td><span class="badge {w["severity"]}">{w["severity"]}</span></td>'
            f"<td><code>{text(w['code'])}</code></td>"
            f"<td>{f'<code>{text(place)}</code>' if place else ''}</td>"
            f"<td>{_prose(w['message'])}</td></tr>"
        )
        if w.get("hint") and w["hint"] not in hints.setdefault(w["code"], []):
            hints[w["code"]].append(w["hint"])
    table = [
        '<table class="data"><thead><tr><th>Severity</th><th>Code</th><th>Where</th>'
        "<th>Message</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
    ]
    if len(rows) > OPEN_ROWS:
        table = [
            f"<details><summary>Show all {len(rows):,} findings</summary>",
            *table,
            "</details>",
        ]
    listed = [
        f"<li><code>{text(code)}</code>: {_prose(hint)}</li>"
        for code, texts in hints.items()
        for hint in texts[:_HINTS_SHOWN]
    ]
    return [
        '<section id="warnings">',
        f'<h2>Warnings <span class="count">{len(findings):,}</span></h2>',
        *table,
        *([f'<ul class="hints">{"".join(listed)}</ul>'] if listed else []),
        "</section>",
    ]


def _drift(drift: Sequence[Document]) -> list[str]:
    if not drift:
        return []
    rows = [
        f"<tr><td>{text(item['group']['displayName'])}</td><td>{text(item['property'])}</td>"
        f"<td>{text(drift_value(item['current']))}</td>"
        f"<td>{text(drift_value(item['desired']))}</td>"
        f"<td>{text(item['changedBy'] or 'someone')}</td><td>{text(item['changedAt'] or '')}</td>"
        "</tr>"
        for item in drift
    ]
    return [
        '<section id="drift">',
        f'<h2>Changed outside reconciler <span class="count">{len(drift):,}</span></h2>',
        '<p class="desc">From the tenant\'s audit log. This plan sets them back to the policy.</p>',
        '<table class="data"><thead><tr><th>Group</th><th>Property</th><th>Now</th>'
        "<th>Policy</th><th>Changed by</th><th>At</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        "</section>",
    ]


_LINE_CLASSES = {"+": "a", "-": "d", "~": "u"}


def _changes(document: Document) -> list[str]:
    blocks = group_blocks(document["changes"])
    notes = _notes(document)
    if not blocks and not notes:
        return []
    lines = [
        '<section id="changes">',
        f'<h2>Changes <span class="count">{len(blocks):,}</span></h2>',
    ]
    for name, changes in blocks.items():
        kind = group_action(changes)
        diff = [line for change in changes for line in change_lines(change)]
        spans = "\n".join(
            f'<span class="{_LINE_CLASSES.get(line[:1], "")}">{text(line)}</span>' for line in diff
        )
        pre = f'<pre class="diff">{spans}</pre>'
        if len(diff) > DIFF_OPEN:
            pre = f"<details><summary>{len(diff):,} lines of changes</summary>{pre}</details>"
        lines += [
            f'<div class="card {kind}">',
            f'<h3><span class="sym">{SYMBOLS[kind]}</span>{text(name)} '
            f'<span class="verb">will be {VERBS[kind]}</span></h3>',
            f'<p class="why">Because {text(group_reason(kind, changes))}.</p>',
            pre,
            "</div>",
        ]
    if notes:
        lines.append(f'<ul class="notes">{"".join(notes)}</ul>')
    return [*lines, "</section>"]


def _notes(document: Document) -> list[str]:
    """Groups released from management, and licensed groups the policy doesn't manage."""
    notes = []
    for item in document.get("released", []):
        protect = " (<code>groups.lock.yaml</code> keeps its protection)" if item["protect"] else ""
        notes.append(
            f"<li>{text(item['group']['displayName'])} will no longer be managed: left as it "
            f"is{protect}.</li>"
        )
    unmanaged = document.get("unmanaged", [])
    if unmanaged:
        named = "; ".join(
            f"{text(group['displayName'])} ({text(', '.join(map(sku_name, group['skus'])))})"
            for group in unmanaged
        )
        notes.append(
            f"<li>Not managed by this policy: {count(len(unmanaged), 'group')} assigning "
            f"products it assigns too: {named}. <code>reconciler report groups</code> lists "
            "them.</li>"
        )
    return notes


def _prose(message: str) -> str:
    """A message of reconciler's own with names in it: its `commands` as code, all escaped."""
    parts = message.split("`")
    if len(parts) % 2 == 0:  # a backtick in a name: no pairs to trust
        return text(message)
    return "".join(
        f"<code>{text(part)}</code>" if i % 2 else text(part) for i, part in enumerate(parts)
    )


def _footer() -> list[str]:
    return [
        '<footer><div class="wrap">',
        "Made by reconciler from the plan document (<code>plan --format json</code> holds the "
        "same). This page is self-contained: it loads nothing from the network, and its only "
        "script filters the tables. Filters are kept in the address (#group=…&amp;product=…"
        "&amp;user=…), so a link opens the same view.",
        "</div></footer>",
    ]
