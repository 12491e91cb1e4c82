"""Renders a plan document for a terminal, in Terraform's style: what changes, then who loses what.

It renders the same document `plan --format json` prints and a saved plan holds, so `plan` and
`show` print the same thing, with every GUID replaced by the name beside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import click

_SYMBOLS = {"create": "+", "update": "~", "destroy": "-"}
_LEGEND = {"create": "create", "update": "update in place", "destroy": "destroy"}
_VERBS = {"create": "created", "update": "updated in place", "destroy": "retired"}
REMOVALS_SHOWN = 50

Document = Mapping[str, Any]


def plan_text(document: Document, show_all: bool = False) -> str:
    """The whole plan as text, ending with the summary line."""
    if not document["changesPresent"]:
        return "No changes. Licensing matches the policy."
    blocks: dict[str, list[Document]] = {}
    for change in document["changes"]:
        blocks.setdefault(change["group"]["displayName"], []).append(change)
    actions = {name: _action(changes) for name, changes in blocks.items()}
    used = [kind for kind in _SYMBOLS if kind in actions.values()]
    lines = ["reconciler will perform these actions on managed groups:", ""]
    lines += [f"  {_SYMBOLS[kind]} {_LEGEND[kind]}" for kind in used] + [""]
    for name, changes in blocks.items():
        kind = actions[name]
        lines.append(f"  # {name} will be {_VERBS[kind]}")
        lines.append(f"  # (because {_reason(kind, changes)})")
        lines.append(f'  {_SYMBOLS[kind]} group "{name}" {{')
        lines += [f"      {line}" for change in changes for line in _change_lines(change)]
        lines += ["    }", ""]
    lines += _removal_lines(document["impact"], show_all)
    summary = document["summary"]
    lines.append(
        f"Plan: {summary['add']} to add, {summary['change']} to change, "
        f"{summary['remove']} to remove."
    )
    return "\n".join(lines)


def change_line(change: Document) -> str:
    """One line saying a change is done, as apply prints it."""
    return f"{change['group']['displayName']}: " + "; ".join(_change_lines(change)) + ": done"


_WHAT = {
    "updateGroup": None,
    "addMembers": "its members",
    "removeMembers": "its members",
    "addLicense": "its licenses",
    "removeLicense": "its licenses",
    "changeDisabledPlans": "its service plans",
}


def _reason(kind: str, changes: Sequence[Document]) -> str:
    if kind == "create":
        return "the policy declares it and the tenant has no group of that name"
    if kind == "destroy":
        return "the policy retires it"
    what: list[str] = []
    for change in changes:
        item = _WHAT[change["action"]] or f"its {change['property']}"
        if item not in what:
            what.append(item)
    return "the policy sets " + ", ".join(what[:-1]) + (" and " if len(what) > 1 else "") + what[-1]


def _action(changes: Sequence[Document]) -> str:
    actions = {change["action"] for change in changes}
    if "createGroup" in actions:
        return "create"
    return "destroy" if "deleteGroup" in actions else "update"


def _change_lines(change: Document) -> list[str]:
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
        return [f"~ {change['property']} = {change['before']!r} -> {change['after']!r}"]
    if action in ("addMembers", "removeMembers"):
        sign = "+" if action == "addMembers" else "-"
        return [f"{sign} member {_member(member)}" for member in change["members"]]
    if action == "addLicense":
        disabled = change["disabledPlans"]
        suffix = f" (disabled: {_plans(disabled)})" if disabled else ""
        return [f"+ license {_sku(change['sku'])}{suffix}"]
    if action == "changeDisabledPlans":
        return [
            f"~ license {_sku(change['sku'])} disabledPlans = "
            f"{_plans(change['before'])} -> {_plans(change['after'])}"
        ]
    if action == "removeLicense":
        return [f"- license {_sku(change['sku'])}"]
    return ["- delete the group"]


def _sku(sku: Document) -> str:
    return sku["skuPartNumber"] or sku["skuId"]


def _plans(plans: Sequence[Document]) -> str:
    names = sorted(plan["servicePlanName"] or plan["servicePlanId"] for plan in plans)
    return ", ".join(names) if names else "none"


def _member(member: Document) -> str:
    return member.get("userPrincipalName") or member.get("displayName") or member["id"]


def _removal_lines(impact: Document, show_all: bool) -> list[str]:
    removals = [
        f"  {r['userPrincipalName']} loses {r['skuPartNumber']} {_through(r)}"
        for r in impact["licenseRemovals"]
    ]
    removals += [
        f"  {r['userPrincipalName']} loses {', '.join(r['servicePlans'])} of {r['skuPartNumber']} "
        f"{_through(r)}"
        for r in impact["planRemovals"]
    ]
    if not removals:
        return []
    shown = removals if show_all else removals[:REMOVALS_SHOWN]
    lines = ["Licenses removed:", *shown]
    if len(shown) < len(removals):
        lines.append(f"  ... and {len(removals) - len(shown)} more (--show-all lists them)")
    return [*lines, ""]


def _through(removal: Document) -> str:
    return f"(through {removal['group']}: {removal['reason']})"


_COLOURS = {"+": "green", "~": "yellow", "-": "red"}


def colourize(text: str) -> str:
    """The plan text in Terraform's colours: bold headings, green, yellow and red symbols."""
    lines = []
    for line in text.splitlines():
        body = line.lstrip()
        indent = line[: len(line) - len(body)]
        if body.startswith("# (because"):
            lines.append(click.style(line, dim=True))
        elif body.startswith(("# ", "Plan:", "Licenses removed:", "No changes.")):
            lines.append(click.style(line, bold=True))
        elif body[:1] in _COLOURS and body[1:2] in ("", " "):
            lines.append(indent + click.style(body[0], fg=_COLOURS[body[0]]) + body[1:])
        else:
            lines.append(line)
    return "\n".join(lines)
