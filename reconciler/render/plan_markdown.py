"""Renders a plan document as GitHub-flavoured Markdown, for a pull-request comment.

The verdict, the counts and the banners (people losing licenses, a plan apply will refuse) come
first and always stay. GitHub refuses a comment longer than 65,536 characters, so the details
after them shrink, least important first, until the comment fits BUDGET, and a note says what
was left out and where the whole plan is. Names from the tenant or the policy are escaped: they
can't break a table, open HTML or mention anyone.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote, unquote

from reconciler.render import markdown as md
from reconciler.render.drift_text import drift_value
from reconciler.render.loss_facts import NAMES_SHOWN, lose, losses, who_loses
from reconciler.render.plan_cost import cost_rows, priced_changes, total_text
from reconciler.render.plan_text import (
    SYMBOLS,
    VERBS,
    addition_counts,
    change_lines,
    finding_place,
    group_action,
    group_blocks,
    group_reason,
    kept_through,
    seats_changed,
    sku_name,
)

Document = Mapping[str, Any]

COMMENT_LIMIT = 65_536  # GitHub's limit on a comment body: "Body is too long"
BUDGET = 64_000  # a little under the limit, so a workflow can add a footer of its own
OPEN_ROWS = 20  # a longer table or diff is collapsed in <details>


@dataclass(frozen=True, slots=True)
class Context:
    """What the comment says besides the plan: whose plan it is, and where the whole plan is."""

    tenant: str  # the tenant's id, as a saved plan's origin.tenantId has it
    policy: str  # the policy path, as the workflow names it
    plan_file: str | None = None  # the saved plan (`plan --out`), which holds every detail
    run_url: str | None = None  # the workflow run the comment comes from
    stale: str | None = None  # `show`: why the saved plan can't be applied as it is


def plan_marker(tenant: str, policy: str) -> str:
    """The hidden first line a workflow finds its earlier comment by: one per tenant and policy."""
    return f"<!-- reconciler plan: tenant={_token(tenant.lower())} policy={_token(policy)} -->"


_MARKER = re.compile(r"<!-- reconciler plan: tenant=(\S+) policy=(\S+) -->")


def marker_fields(text: str) -> tuple[str, str] | None:
    """(tenant, policy) of the marker that starts `text`, or None when it has none."""
    found = _MARKER.match(text)
    return (unquote(found[1]), unquote(found[2])) if found else None


@dataclass(frozen=True, slots=True)
class _Limits:
    """How much of each list one rendering shows; None shows all."""

    members: int | None = None  # member lines per group
    user_gains: int | None = None  # gains listed user by user
    info: bool = True  # info findings listed, else only counted
    findings: int | None = None  # findings listed per code
    kept: int | None = None  # users who leave a group but keep its licenses
    drift: int | None = None  # changes made outside reconciler
    losses: int | None = None  # loss rows
    groups: int | None = None  # group sections, and rows of the per-group tables


# What goes first: long member lists, then who gains what, then info findings and other detail.
_FIRST = (
    _Limits(),
    _Limits(members=10),
    _Limits(members=10, user_gains=0),
)
# Then loss rows, as many as fit beside the rest; then the rest but for a few groups' changes;
# then everything but the summary, the banners and the counts.
_LOSSES_SHRINK = (
    _Limits(members=10, user_gains=0, info=False, findings=3, kept=0, drift=10),
    _Limits(members=0, user_gains=0, info=False, findings=1, kept=0, drift=0, groups=50),
    _Limits(members=0, user_gains=0, info=False, findings=0, kept=0, drift=0, groups=0),
)


def plan_markdown(document: Document, context: Context, budget: int = BUDGET) -> str:
    """The plan as one comment of at most `budget` characters (as `size` counts them)."""
    for limits in _FIRST:
        text = _Comment(document, context, limits, budget).text()
        if md.size(text) <= budget:
            return text
    for limits in _LOSSES_SHRINK:
        found = _most_losses(document, context, limits, budget)
        if found is not None:
            return found
    smallest = replace(_LOSSES_SHRINK[-1], losses=0)
    return _cut(_Comment(document, context, smallest, budget).text(), budget)


def _most_losses(document: Document, context: Context, limits: _Limits, budget: int) -> str | None:
    """The comment with as many loss rows as fit (a binary search); None if none fit."""
    impact = document["impact"]
    low, high = 0, len(impact["licenseRemovals"]) + len(impact["planRemovals"])
    high = min(high, budget // 32)  # no more rows than could ever fit
    best = None
    while low <= high:
        middle = (low + high) // 2
        text = _Comment(document, context, replace(limits, losses=middle), budget).text()
        if md.size(text) <= budget:
            best, low = text, middle + 1
        else:
            high = middle - 1
    return best


def _cut(text: str, budget: int) -> str:
    """The last resort, for names long enough to overflow even the summary: whole lines that fit."""
    tail = "\n\n_… cut here: even the shortest form of this plan is too long for a comment._"
    room = budget - md.size(tail)
    kept: list[str] = []
    used = 0
    for line in text.splitlines():
        used += md.size(line) + 1
        if used > room:
            break
        kept.append(line)
    return "\n".join(kept) + tail


class _Comment:
    """One rendering of the comment under `limits`; `hidden` counts what it left out."""

    def __init__(self, document: Document, context: Context, limits: _Limits, budget: int):
        self.document = document
        self.impact = document["impact"]
        self.context = context
        self.limits = limits
        # no list longer than could ever fit is rendered at all: a row takes 32 characters or more
        self.most = max(budget // 32, 1)
        self.hidden: dict[str, list[int]] = {}  # what -> [left out, total]

    def text(self) -> str:
        body = [
            *self._drift(),
            *self._changes(),
            *self._released(),
            *self._losses(),
            *self._kept(),
            *self._gains(),
            *self._seats(),
            *self._cost(),
            *self._warnings(),
            *self._guards(),
        ]
        lines = [*self._head(), *self._banners(), *self._note(), *body]
        # one blank line between blocks is enough (no fenced block has blank lines)
        tidy = [line for i, line in enumerate(lines) if line or (i and lines[i - 1])]
        return "\n".join(tidy).strip()

    def _take(self, items: Sequence[Any], limit: int | None, what: str) -> tuple[Sequence, int]:
        """The first `limit` items, and how many were left out (counted under `what`)."""
        cap = self.most if limit is None else min(limit, self.most)
        if len(items) <= cap:
            return items, 0
        counts = self.hidden.setdefault(what, [0, 0])
        counts[0] += len(items) - cap
        counts[1] += len(items)
        return items[:cap], len(items) - cap

    def _head(self) -> list[str]:
        context, summary = self.context, self.document["summary"]
        lines = [
            plan_marker(context.tenant, context.policy),
            f"### reconciler plan: {md.code(context.policy)} on tenant {md.code(context.tenant)}",
            "",
        ]
        if self.document["changesPresent"]:
            lines.append(
                f"**Plan: {summary['add']} to add, {summary['change']} to change, "
                f"{summary['remove']} to remove.**"
            )
        else:
            lines.append("**No changes.** Licensing matches the policy.")
        removals = self.document["guards"]["licenseRemovals"]
        gains = len(self.impact["licenseAdditions"]) + len(self.impact.get("planAdditions", []))
        severities = [w["severity"] for w in self.document["warnings"]]
        facts = [
            md.count(removals, "license removal"),
            md.count(gains, "license addition"),
            md.count(severities.count("error"), "error"),
            md.count(severities.count("warning"), "warning"),
            f"{severities.count('info'):,} info",
        ]
        return [*lines, "", " · ".join(facts), ""]

    def _banners(self) -> list[str]:
        lines = []
        if self.context.stale:
            stale = f"**This saved plan can't be applied as it is:** {md.prose(self.context.stale)}"
            lines += md.alert("CAUTION", [stale])
        guards = self.document["guards"]
        if guards["refused"]:
            lines += md.alert("CAUTION", self._refusal(guards))
        removals = [*self.impact["licenseRemovals"], *self.impact["planRemovals"]]
        if removals:
            lines += md.alert("WARNING", _loss_banner(removals))
        short = [s for s in self.impact.get("seats", []) if s.get("countViolations")]
        if short:
            lines += md.alert("WARNING", _seat_banner(short))
        return lines

    def _refusal(self, guards: Document) -> list[str]:
        reasons = list(guards["reasons"]) or ["the removal guards refuse the plan"]
        lines = ["**Apply will refuse this plan** unless `--allow-removals` is given:"]
        lines += [f"- {md.inline(reason)}" for reason in reasons[:NAMES_SHOWN]]
        if len(reasons) > NAMES_SHOWN:
            lines.append(f"- … and {len(reasons) - NAMES_SHOWN} more")
        plan_file = self.context.plan_file
        command = "reconciler apply " + (f"{shlex.quote(plan_file)} " if plan_file else "")
        ways = [f"apply with {md.code(command + '--allow-removals')}"]
        count, limit = guards["licenseRemovals"], guards["maxLicenseRemovals"]
        if limit is not None and count > limit:
            ways.append(f"raise `settings.maxLicenseRemovals` to at least {count}")
        if guards["protected"]:
            ways.append("remove `protect: true` from the protected groups")
        tail = " in the policy and plan again" if len(ways) > 1 else ""
        return [*lines, "", f"If they are intended: {', or '.join(ways)}{tail}."]

    def _note(self) -> list[str]:
        if not self.hidden:
            return []
        left_out = "; ".join(f"{h:,} of {t:,} {what}" for what, (h, t) in self.hidden.items())
        lines = [
            f"**Shortened** to fit GitHub's comment limit ({COMMENT_LIMIT:,} characters). "
            f"Not listed here: {left_out}."
        ]
        plan_file = self.context.plan_file
        if plan_file:
            show = f"reconciler show {shlex.quote(plan_file)}"
            every, document = md.code(show + " --show-all"), md.code(show + " --format json")
            lines.append(
                f"The whole plan is the saved plan {md.code(plan_file)}: {every} lists every "
                f"change and loss, {document} gives all of it."
            )
        else:
            lines.append(
                "`reconciler plan --show-all` lists every change and loss; "
                "`--out FILE` saves the whole plan, for the workflow to keep."
            )
        if self.context.run_url:
            lines.append(f"Workflow run: {md.link(self.context.run_url)}")
        return md.alert("NOTE", lines)

    def _drift(self) -> list[str]:
        drift = self.document.get("drift") or []
        if not drift:
            return []
        items, more = self._take(drift, self.limits.drift, "changes made outside reconciler")
        rows = [
            (
                md.inline(item["group"]["displayName"]),
                md.inline(item["property"]),
                md.inline(md.short(drift_value(item["current"]))),
                md.inline(md.short(drift_value(item["desired"]))),
                md.inline(item["changedBy"] or "someone"),
                md.inline(item["changedAt"] or ""),
            )
            for item in items
        ]
        table = (
            md.table(("Group", "Property", "Now", "Policy", "Changed by", "At"), rows)
            if rows
            else []
        )
        body = [*table, *md.more(more, "change"), "", "This plan sets them back to the policy."]
        title = (
            f"{_ICONS['warning']} {md.count(len(drift), 'change')} made outside reconciler "
            "(the tenant's audit log)"
        )
        return md.details(title, body)

    def _changes(self) -> list[str]:
        blocks = group_blocks(self.document["changes"])
        if not blocks:
            return []
        names, more = self._take(list(blocks), self.limits.groups, "groups' changes")
        lines = ["### Changes", ""]
        for name in names:
            kind = group_action(blocks[name])
            lines.append(f"#### `{SYMBOLS[kind]}` {md.inline(name)} will be {VERBS[kind]}")
            lines += [f"Because {md.inline(group_reason(kind, blocks[name]))}.", ""]
            diff = self._diff(blocks[name])
            fenced = md.fenced("diff", diff)
            lines += (
                md.details(f"{len(diff):,} lines of changes", fenced)
                if len(diff) > OPEN_ROWS
                else fenced
            )
            lines.append("")
        return [*lines, *md.more(more, "group with changes", "groups with changes")]

    def _diff(self, changes: Sequence[Document]) -> list[str]:
        """The group's changes as diff lines: +, - and ! (for ~) in column 0, as GitHub colours."""
        lines = []
        for change in changes:
            more = 0
            if "members" in change:
                members, more = self._take(change["members"], self.limits.members, "members")
                change = {**change, "members": members}
            for line in change_lines(change):
                line = md.one_line(line)
                lines.append("!" + line[1:] if line.startswith("~") else line)
            if more:
                lines.append(f"  … and {more:,} more members")
        return lines

    def _released(self) -> list[str]:
        lines = []
        released, more = self._take(
            self.document.get("released", []), self.limits.groups, "released groups"
        )
        for item in released:
            protect = " (`groups.lock.yaml` keeps its protection)" if item["protect"] else ""
            name = md.inline(item["group"]["displayName"])
            lines.append(f"- {name} will no longer be managed: left as it is{protect}.")
        lines += [f"- … and {more:,} more released groups"] if more else []
        unmanaged = self.document.get("unmanaged", [])
        if unmanaged:
            groups, more = self._take(unmanaged, NAMES_SHOWN, "unmanaged groups")
            named = "; ".join(
                f"{md.inline(group['displayName'])} "
                f"({md.inline(', '.join(map(sku_name, group['skus'])))})"
                for group in groups
            )
            tail = f" and {more:,} more" if more else ""
            lines.append(
                f"- Not managed by this policy: {md.count(len(unmanaged), 'group')} assigning "
                f"products it assigns too: {named}{tail}. `reconciler report groups` lists them."
            )
        return [*lines, ""] if lines else []

    def _losses(self) -> list[str]:
        rows = _loss_rows(self.impact)
        if not rows:
            return []
        shown, more = self._take(rows, self.limits.losses, "license removals")
        cells = [tuple(map(md.inline, row)) for row in shown]
        table = md.table(("User", "Loses", "Through", "Why"), cells) if cells else []
        table += md.more(more, "license removal")
        lines = [f"### License removals ({len(rows):,})", ""]
        if len(shown) > OPEN_ROWS:
            return [*lines, *md.details(f"Who loses what ({len(rows):,})", table)]
        return [*lines, *table, ""]

    def _kept(self) -> list[str]:
        kept = sorted(
            self.impact.get("kept", []),
            key=lambda k: (k["group"].lower(), k["userPrincipalName"].lower()),
        )
        if not kept:
            return []
        shown, more = self._take(kept, self.limits.kept, "users keeping their licenses")
        rows = [
            (
                md.inline(k["userPrincipalName"]),
                md.inline(k["group"]),
                md.inline(k["skuPartNumber"]),
                md.inline(", ".join(name or "a direct assignment" for name in k["keptBy"])),
            )
            for k in shown
        ]
        table = md.table(("User", "Leaves", "Keeps", "Through"), rows) if rows else []
        title = (
            "1 user leaves a group but keeps its licenses"
            if len(kept) == 1
            else f"{len(kept):,} users leave a group but keep its licenses"
        )
        return md.details(title, [*table, *md.more(more, "user")])

    def _gains(self) -> list[str]:
        additions = self.impact["licenseAdditions"]
        plans = self.impact.get("planAdditions", [])
        if not additions and not plans:
            return []
        counts, more = self._take(
            addition_counts(additions, plans), self.limits.groups, "rows of the additions table"
        )
        rows = [(md.inline(group), md.inline(what), f"{count:,}") for group, what, count in counts]
        lines = [f"### License additions ({len(additions) + len(plans):,})", ""]
        lines += [*md.table(("Through", "Gains", "Users"), rows), *md.more(more, "row"), ""]
        every = [
            (a["group"] or "a direct assignment", a["userPrincipalName"], _what(a))
            for a in (*additions, *plans)
        ]
        every.sort(key=lambda row: (row[0].lower(), row[1].lower()))
        users, more = self._take(every, self.limits.user_gains, "license additions by user")
        if users:
            rows = [
                (md.inline(user), md.inline(what), md.inline(group)) for group, user, what in users
            ]
            table = [*md.table(("User", "Gains", "Through"), rows), *md.more(more, "addition")]
            lines += md.details(f"Who gains what ({len(every):,})", table)
        return lines

    def _seats(self) -> list[str]:
        seats, more = self._take(
            seats_changed(self.impact.get("seats", [])), self.limits.groups, "seat forecasts"
        )
        if not seats:
            return []
        rows = [
            (
                md.inline(s["skuPartNumber"]),
                f"{s['consumedNow']:,}",
                f"{s['consumedAfter']:,}",
                f"{s['prepaid']:,}",
                f"**{len(s['countViolations']):,}**" if s.get("countViolations") else "",
            )
            for s in seats
        ]
        table = md.table(("Product", "Used now", "After", "Enabled", "Short"), rows)
        return ["### Seats", "", *table, *md.more(more, "product"), ""]

    def _cost(self) -> list[str]:
        cost = self.impact.get("cost")
        if not cost or not (priced_changes(cost) or cost["unpriced"]):
            return []
        products, more = self._take(priced_changes(cost), self.limits.groups, "cost rows")
        rows = [
            (md.inline(product["skuPartNumber"]), *cells)
            for product, cells in zip(products, cost_rows(products), strict=True)
        ]
        head = ("Product", "Seats in use", "A month", "Unused seats", "Short (to buy)")
        lines = ["### Cost a month", "", *md.table(head, rows), *md.more(more, "product"), ""]
        lines += [f"- {md.prose(total_text(total, '→'))}" for total in cost["totals"]]
        if cost["unpriced"]:
            names = ", ".join(md.inline(item["skuPartNumber"]) for item in cost["unpriced"])
            lines.append(f"- Not priced, though their seats change: {names}")
        return [*lines, ""]

    def _warnings(self) -> list[str]:
        findings = sorted(self.document["warnings"], key=lambda w: _SEVERITY_ORDER[w["severity"]])
        if not findings:
            return []
        main = [w for w in findings if w["severity"] != "info"]
        info = [w for w in findings if w["severity"] == "info"]
        lines = [f"### Warnings ({len(main):,}, and {len(info):,} info)", ""] if main else []
        lines += self._findings(main)
        if info and self.limits.info:
            lines += md.details(f"{_ICONS['info']} {len(info):,} info", self._findings(info))
        elif info:
            self._take(info, 0, "info findings")
            lines += [f"{_ICONS['info']} {len(info):,} info: {_by_code(info)}.", ""]
        return lines

    def _findings(self, findings: Sequence[Document]) -> list[str]:
        by_code: dict[str, list[Document]] = {}
        for finding in findings:
            by_code.setdefault(finding["code"], []).append(finding)
        rows, hints, left_out = [], [], 0
        for code, found in by_code.items():
            listed, more = self._take(found, self.limits.findings, "findings")
            left_out += more
            for w in listed:
                place = finding_place(w)
                where = md.code(place, table=True) if place else ""
                rows.append(
                    (
                        _ICONS[w["severity"]],
                        md.code(code),
                        where,
                        md.prose(w["message"], table=True),
                    )
                )
            # the hints of the findings listed: some name users, and a code can have thousands
            for hint in dict.fromkeys(w["hint"] for w in listed if w.get("hint")):
                hints.append(f"- {md.code(code)}: {md.prose(hint)}")
        lines = md.table(("", "Code", "Where", "Message"), rows) if rows else []
        if left_out:
            lines += ["", f"_… and {left_out:,} more: {_by_code(findings)} in all._"]
        return [*lines, "", *hints, ""] if hints else [*lines, ""]

    def _guards(self) -> list[str]:
        guards = self.document["guards"]
        if guards["refused"] or not guards["licenseRemovals"]:
            return []  # a refusal is a banner at the top
        return [
            f"Guards: {md.count(guards['licenseRemovals'], 'license removal')}, within "
            f"`maxLicenseRemovals` ({guards['maxLicenseRemovals']})."
        ]


_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}
_ICONS = {
    "error": "\N{CROSS MARK}",
    "warning": "\N{WARNING SIGN}\N{VARIATION SELECTOR-16}",
    "info": "\N{INFORMATION SOURCE}\N{VARIATION SELECTOR-16}",
}


def _loss_rows(impact: Document) -> list[tuple[str, str, str, str]]:
    """A row per loss: lasting before temporary, products before service plans."""
    rows = []
    for temporary in (False, True):
        for kind in ("licenseRemovals", "planRemovals"):
            losses = [r for r in impact[kind] if bool(r.get("temporary")) is temporary]
            losses.sort(key=lambda r: ((r["group"] or "").lower(), r["userPrincipalName"].lower()))
            for r in losses:
                why = r["reason"]
                kept = kept_through(r) if kind == "planRemovals" else ""
                why += f"; keeps {r['skuPartNumber']} through {kept}" if kept else ""
                why += "; temporary: it returns once Entra processes the group" if temporary else ""
                group = r["group"] or "an assignment"
                rows.append((r["userPrincipalName"], _what(r), group, why))
    return rows


def _loss_banner(removals: Sequence[Document]) -> list[str]:
    found = losses(removals)
    through = ", ".join(f"{md.inline(name)} ({count:,})" for name, count in found.through)
    if found.more_groups:
        through += f" and {found.more_groups:,} more groups"
    kept = found.removals - found.whole
    lines = [
        f"**{who_loses(found.people)} licenses**: "
        f"{md.count(found.removals, 'license removal')} through {through}.",
        f"{found.whole:,} {lose(found.whole)} a product entirely; {kept:,} {lose(kept)} service "
        "plans of a product they keep.",
    ]
    if found.temporary:
        lines.append(
            f"{found.temporary:,} of them are temporary: they return once Entra processes the "
            "group."
        )
    return lines


def _seat_banner(short: Sequence[Document]) -> list[str]:
    lines = [
        "**Seats run short**: the people left without a seat would get `CountViolation` and "
        "none of their group's new licenses (the seat-shortfall warning names them):"
    ]
    for s in short[:NAMES_SHOWN]:
        lines.append(
            f"- {md.inline(s['skuPartNumber'])}: {len(s['countViolations']):,} short "
            f"({s['prepaid']:,} enabled)"
        )
    if len(short) > NAMES_SHOWN:
        lines.append(f"- … and {len(short) - NAMES_SHOWN:,} more products")
    return lines


def _what(item: Document) -> str:
    """A product, or service plans of one."""
    if "servicePlans" in item:
        return f"{', '.join(item['servicePlans'])} of {item['skuPartNumber']}"
    return item["skuPartNumber"]


def _by_code(findings: Sequence[Document]) -> str:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding["code"]] = counts.get(finding["code"], 0) + 1
    return ", ".join(f"{md.code(code)} ({count:,})" for code, count in counts.items())


def _token(value: str) -> str:
    # percent-encoded: no space, `>` or `--!>` can end the field or the comment early
    return quote(value, safe="/._~:@+-")
