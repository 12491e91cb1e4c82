"""Renders a plan document for a terminal, in Terraform's style: what changes, then who loses what.

It renders the same document `plan --format json` prints and a saved plan holds, so `plan` and
`show` print the same thing, with every GUID replaced by the name beside it. Every name and
value from the tenant or the policy goes through `shown`: none can draw a line of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

from reconciler.render.drift_text import drift_lines
from reconciler.render.plan_cost import cost_lines
from reconciler.render.safe_text import shown

SYMBOLS = {"create": "+", "update": "~", "destroy": "-"}
_LEGEND = {"create": "create", "update": "update in place", "destroy": "destroy"}
VERBS = {"create": "created", "update": "updated in place", "destroy": "retired"}
REMOVALS_SHOWN = 50
_UNMANAGED_SHOWN = 5

Document = Mapping[str, Any]


def plan_text(document: Document, show_all: bool = False) -> str:
    """The whole plan as text: changes, who loses and gains what, seats, warnings, summary."""
    if not document["changesPresent"]:
        lines = _warning_lines(document["warnings"], show_all)
        lines.append("No changes. Licensing matches the policy.")
        # then what reconciler leaves alone
        management = _released_lines(document)
        return "\n".join([*lines, *(["", *management] if management else [])]).rstrip()
    blocks = group_blocks(document["changes"])
    actions = {name: group_action(changes) for name, changes in blocks.items()}
    used = [kind for kind in SYMBOLS if kind in actions.values()]
    closing = "This plan sets them back to the policy unless the policy changes."
    lines = drift_lines(document.get("drift") or [], closing)
    lines += ["reconciler will perform these actions on managed groups:", ""]
    lines += [f"  {SYMBOLS[kind]} {_LEGEND[kind]}" for kind in used] + [""]
    for name, changes in blocks.items():
        kind = actions[name]
        lines.append(f"  # {shown(name)} will be {VERBS[kind]}")
        lines.append(f"  # (because {group_reason(kind, changes)})")
        lines.append(f'  {SYMBOLS[kind]} group "{shown(name)}" {{')
        lines += [f"      {line}" for change in changes for line in change_lines(change)]
        lines += ["    }", ""]
    lines += _released_lines(document)
    impact = document["impact"]
    lines += _removal_lines(impact, show_all)
    lines += _addition_lines(impact["licenseAdditions"], impact.get("planAdditions", []))
    lines += _seat_lines(impact.get("seats", []))
    lines += cost_lines(impact.get("cost"))
    lines += _unmanaged_lines(document)
    lines += _warning_lines(document["warnings"], show_all)
    lines += _guard_lines(document["guards"])
    summary = document["summary"]
    lines.append(
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['remove']} to remove."
    )
    return "\n".join(lines)


def group_blocks(changes: Sequence[Document]) -> dict[str, list[Document]]:
    """The changes by the group they touch, groups in the order apply first touches them."""
    blocks: dict[str, list[Document]] = {}
    for change in changes:
        blocks.setdefault(change["group"]["displayName"], []).append(change)
    return blocks


def _released_lines(document: Document) -> list[str]:
    lines = []
    for item in document.get("released", []):
        lines.append(
            f"  # {shown(item['group']['displayName'])} will no longer be managed (left as it is)"
        )
        if item["protect"]:
            lines.append(
                "  # (groups.lock.yaml keeps its protection until `protect: false` is locked "
                "in its block)"
            )
    return [*lines, ""] if lines else []


def _unmanaged_lines(document: Document) -> list[str]:
    groups = document.get("unmanaged", [])
    if not groups:
        return []
    named = [
        f"{shown(group['displayName'])} ({', '.join(sku_name(sku) for sku in group['skus'])})"
        for group in groups[:_UNMANAGED_SHOWN]
    ]
    more = len(groups) - len(named)
    tail = f" and {more} more" if more else ""
    count = f"{len(groups)} group{'s' * (len(groups) != 1)}"
    return [
        f"Not managed by this policy: {count} assigning products it assigns too: "
        f"{'; '.join(named)}{tail}. `reconciler report groups` lists every group.",
        "",
    ]


def change_line(change: Document) -> str:
    """One line saying a change is done, as apply prints it."""
    name = shown(change["group"]["displayName"])
    return f"{name}: " + "; ".join(change_lines(change)) + ": done"


_WHAT = {
    "updateGroup": None,
    "addMembers": "its members",
    "removeMembers": "its members",
    "addLicense": "its licenses",
    "removeLicense": "its licenses",
    "changeDisabledPlans": "its service plans",
}


def group_reason(kind: str, changes: Sequence[Document]) -> str:
    """Why a group is created, updated (what the policy sets) or retired."""
    if kind == "create":
        return "the policy declares it and the tenant has no group of that name"
    if kind == "destroy":
        return "the policy retires it"
    what: list[str] = []
    for change in changes:
        item = _WHAT[change["action"]] or f"its {shown(change['property'])}"
        if item not in what:
            what.append(item)
    return "the policy sets " + ", ".join(what[:-1]) + (" and " if len(what) > 1 else "") + what[-1]


def group_action(changes: Sequence[Document]) -> str:
    """What happens to a group as a whole: create, update or destroy."""
    actions = {change["action"] for change in changes}
    if "createGroup" in actions:
        return "create"
    return "destroy" if "deleteGroup" in actions else "update"


def change_lines(change: Document) -> list[str]:
    """A change as lines that start with its symbol: + added, ~ updated, - removed.

    Values are quoted with repr, which escapes control and formatting characters itself."""
    action = change["action"]
    if action == "createGroup":
        after = change["after"]
        kind = "Microsoft 365" if "Unified" in after["groupTypes"] else "security"
        membership = "dynamic" if "DynamicMembership" in after["groupTypes"] else "assigned"
        lines = [f"+ type = {kind}, {membership}"]
        for field in ("description", "membershipRule", "membershipRuleProcessingState"):
            if after[field]:
                lines.append(f"+ {field} = {after[field]!r}")
        return lines
    if action == "updateGroup":
        return [
            f"~ {shown(item['property'])} = {item['before']!r} -> {item['after']!r}"
            for item in (change, *change.get("also", ()))
        ]
    if action in ("addMembers", "removeMembers"):
        sign = "+" if action == "addMembers" else "-"
        return [f"{sign} member {_member(member)}" for member in change["members"]]
    if action == "addLicense":
        disabled = change["disabledPlans"]
        suffix = f" (disabled: {_plans(disabled)})" if disabled else ""
        return [f"+ license {sku_name(change['sku'])}{suffix}"]
    if action == "changeDisabledPlans":
        return [
            f"~ license {sku_name(change['sku'])} disabledPlans = "
            f"{_plans(change['before'])} -> {_plans(change['after'])}"
        ]
    if action == "removeLicense":
        return [f"- license {sku_name(change['sku'])}"]
    return ["- delete the group"]


def sku_name(sku: Document) -> str:
    """A product's part number, or its id when the tenant no longer has it, shown safely."""
    return shown(sku["skuPartNumber"] or sku["skuId"])


def _plans(plans: Sequence[Document]) -> str:
    names = sorted(shown(plan["servicePlanName"] or plan["servicePlanId"]) for plan in plans)
    return ", ".join(names) if names else "none"


def _member(member: Document) -> str:
    return shown(member.get("userPrincipalName") or member.get("displayName") or member["id"])


def _removal_lines(impact: Document, show_all: bool) -> list[str]:
    """Lasting losses, then temporary ones, then those who leave a group but keep the license."""
    lasting, temporary = (
        {key: [r for r in impact[key] if bool(r.get("temporary")) is flag] for key in _LOSSES}
        for flag in (False, True)
    )
    lines = _loss_lines("Licenses removed:", lasting, show_all)
    lines += _loss_lines(
        "Licenses removed for a while (they return once Entra processes the group):",
        temporary,
        show_all,
    )
    return lines + _kept_lines(impact.get("kept", []), show_all)


_LOSSES = ("licenseRemovals", "planRemovals")


def _kept_lines(kept: Sequence[Document], show_all: bool) -> list[str]:
    """Users who leave a group and keep what it gave them, and through what."""
    if not kept:
        return []
    lines = ["Leaving a group but keeping its licenses:"]
    ordered = sorted(kept, key=lambda k: (k["group"].lower(), k["userPrincipalName"].lower()))
    listed = ordered if show_all else ordered[:REMOVALS_SHOWN]
    for k in listed:
        through = ", ".join(shown(name or "a direct assignment") for name in k["keptBy"])
        lines.append(
            f"  {shown(k['userPrincipalName'])} leaves {shown(k['group'])} and keeps "
            f"{shown(k['skuPartNumber'])} through {through}"
        )
    if len(listed) < len(ordered):
        lines.append(f"  ... and {len(ordered) - len(listed)} more (--show-all lists them)")
    return [*lines, ""]


def _loss_lines(heading: str, impact: Document, show_all: bool) -> list[str]:
    """Every loss, grouped by the group it comes through; 50 unless show_all, products first."""
    products: dict[str, list[str]] = {}
    plans: dict[str, list[str]] = {}
    for r in impact["licenseRemovals"]:
        line = shown(f"{r['userPrincipalName']} loses {r['skuPartNumber']} ({r['reason']})")
        products.setdefault(shown(r["group"] or "an assignment"), []).append(line)
    for r in impact["planRemovals"]:
        kept = kept_through(r)
        line = shown(
            f"{r['userPrincipalName']} loses {', '.join(r['servicePlans'])} of "
            f"{r['skuPartNumber']} ({r['reason']}"
        ) + (f"; keeps {shown(r['skuPartNumber'])} through {kept})" if kept else ")")
        plans.setdefault(shown(r["group"] or "an assignment"), []).append(line)
    groups = sorted(products.keys() | plans.keys(), key=str.lower)
    if not groups:
        return []
    # a whole product lost matters more than a plan: those lines get the room first
    room = None if show_all else REMOVALS_SHOWN
    listed: dict[str, list[str]] = {group: [] for group in groups}
    for kind in (products, plans):
        for group in groups:
            lines = sorted(kind.get(group, []), key=str.lower)
            take = len(lines) if room is None else min(room, len(lines))
            listed[group] += lines[:take]
            if room is not None:
                room -= take
    lines = [heading]
    hidden = []
    for group in groups:
        total = len(products.get(group, [])) + len(plans.get(group, []))
        if listed[group]:
            lines.append(f"  through {group} ({total}):")
            lines += [f"    {line}" for line in listed[group]]
        if total > len(listed[group]):
            hidden.append(f"{total - len(listed[group])} more through {group}")
    if hidden:
        lines.append(f"  ... and {', '.join(hidden)} (--show-all lists them)")
    return [*lines, ""]


def kept_through(removal: Document) -> str:
    """For a service plan loss: the other assignments that still give the product, or ''."""
    others = [name for name in removal.get("keptBy", []) if name != removal["group"]]
    return ", ".join(shown(name or "a direct assignment") for name in others)


def addition_counts(
    additions: Sequence[Document], plans: Sequence[Document]
) -> list[tuple[str, str, int]]:
    """(group, what is gained, users) per group and product (or service plans of one kept)."""
    counts: dict[tuple[str, str], int] = {}
    for a in additions:
        key = (a["group"] or "a direct assignment", a["skuPartNumber"])
        counts[key] = counts.get(key, 0) + 1
    for a in plans:
        what = f"{', '.join(a['servicePlans'])} of {a['skuPartNumber']}"
        key = (a["group"] or "a direct assignment", what)
        counts[key] = counts.get(key, 0) + 1
    ordered = sorted(counts.items(), key=lambda item: item[0][0].lower())
    return [(group, what, count) for (group, what), count in ordered]


def _addition_lines(additions: Sequence[Document], plans: Sequence[Document]) -> list[str]:
    """Gains, counted per group and product (and service plans, for a product kept)."""
    if not additions and not plans:
        return []
    lines = ["Licenses added:"]
    for group, what, count in addition_counts(additions, plans):
        gain = "user gains" if count == 1 else "users gain"
        lines.append(f"  {count} {gain} {shown(what)} through {shown(group)}")
    return [*lines, ""]


def seats_changed(seats: Sequence[Document]) -> list[Document]:
    """The seat forecasts worth showing: use changes, or the product runs short."""
    return [s for s in seats if s["consumedNow"] != s["consumedAfter"] or s["countViolations"]]


def _seat_lines(seats: Sequence[Document]) -> list[str]:
    """Products whose seat use the plan changes, or that run short."""
    changed = seats_changed(seats)
    if not changed:
        return []
    width = max(len(shown(s["skuPartNumber"])) for s in changed)
    lines = ["Seats:"]
    for s in changed:
        line = (
            f"  {shown(s['skuPartNumber']):<{width}}  {s['consumedNow']} -> {s['consumedAfter']} "
            f"of {s['prepaid']}"
        )
        if s["countViolations"]:
            line += f", {len(s['countViolations'])} short"
        lines.append(line)
    return [*lines, ""]


SEVERITIES = {"error": "Error", "warning": "Warning", "info": "Info"}
WARNINGS_SHOWN = 5  # per code: a finding per user can run to thousands


def _warning_lines(warnings: Sequence[Document], show_all: bool) -> list[str]:
    """Findings by code, most serious first, a few of each unless show_all; a hint once."""
    if not warnings:
        return []
    lines = ["Warnings:"]
    by_code: dict[str, list[Document]] = {}
    for warning in warnings:
        by_code.setdefault(warning["code"], []).append(warning)
    for code, found in by_code.items():
        count = f" ({len(found)})" if len(found) > 1 else ""
        lines.append(f"  {SEVERITIES[found[0]['severity']]}: {shown(code)}{count}")
        listed = found if show_all else found[:WARNINGS_SHOWN]
        lines += [f"    {_where(w)}{shown(w['message'])}" for w in listed]
        if len(listed) < len(found):
            lines.append(f"    ... and {len(found) - len(listed)} more (--show-all lists them)")
        hints = dict.fromkeys(shown(w["hint"]) for w in listed if w.get("hint"))
        lines += [f"    hint: {hint}" for hint in hints]
    return [*lines, ""]


def _where(warning: Document) -> str:
    place = finding_place(warning)
    return f"{shown(place)}: " if place else ""


def finding_place(warning: Document) -> str:
    """`file:line:column` of a finding in the policy, as far as known; '' without a file."""
    if not warning.get("file"):
        return ""
    place = [warning["file"], warning.get("line"), warning.get("column")]
    return ":".join(str(part) for part in place if part)


def _guard_lines(guards: Document) -> list[str]:
    """The removal guard, and why apply would refuse the plan."""
    if not guards["licenseRemovals"] and not guards["refused"]:
        return []
    count, limit = guards["licenseRemovals"], guards["maxLicenseRemovals"]
    temporary = guards.get("temporaryRemovals", 0)
    which = f" ({count - temporary} lasting, {temporary} temporary)" if temporary else ""
    if not guards["refused"]:
        return [
            f"Guards: {count} license removals{which}, within maxLicenseRemovals ({limit}).",
            "",
        ]
    lines = ["Apply will refuse this plan without --allow-removals:"]
    lines += [f"  {shown(reason)}" for reason in guards["reasons"]]
    return [*lines, ""]


_COLOURS = {"+": "green", "~": "yellow", "-": "red"}
_HEADINGS = (
    "# ",
    "Plan:",
    "Licenses removed",
    "Leaving a group",
    "Licenses added:",
    "Seats:",
    "Cost a month",
    "Warnings:",
    "Guards:",
    "Apply will refuse",
    "No changes.",
    "Note:",
    "Not managed",
)


def colourize(text: str) -> str:
    """The plan text in Terraform's colours: bold headings, green, yellow and red symbols."""
    lines = []
    for line in text.splitlines():
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        if body.startswith("# (because"):
            lines.append(click.style(line, dim=True))
        elif body.startswith(_HEADINGS):
            lines.append(click.style(line, bold=True))
        elif body[:1] in _COLOURS and body[1:2] in ("", " "):
            lines.append(indent + click.style(body[0], fg=_COLOURS[body[0]]) + body[1:])
        else:
            lines.append(line)
    return "\n".join(lines)
