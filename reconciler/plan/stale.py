"""Is a saved plan still the plan? What `apply PLANFILE` and `show PLANFILE` ask before acting.

`apply` (check_before_apply) never takes the file's word for it: a digest detects accidents, not
edits, since whoever edits a plan can compute its digest again. So, after refusing another
tenant's plan outright, it always plans again now (the policy as it is, the tenant as it is) and
compares what matters to the people affected: the changes, in apply order, and the license and
service plan removals. Any difference refuses the plan; none means the saved plan does exactly
what planning now does, and apply then runs the plan made now, with its guards.

`show` (check_freshness) only warns, so it takes a shortcut apply doesn't: when the plan's origin
equals the origin now and its digest still seals it, planning now would give this very plan
unless the file was forged, which apply would refuse; it is reported current without planning.

A plan without origin can't name its tenant, but comparing its changes covers that too: they
carry the group ids of the tenant they were made for.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from deepdiff import DeepDiff

from reconciler.plan.origin import Origin, plan_digest

Document = dict[str, Any]

# how many differing items a message names before it counts the rest
SHOWN = 3


@dataclass(frozen=True, slots=True)
class Freshness:
    """What checking a saved plan against the tenant found; `replanned` if it had to plan again."""

    # what moved since the plan was made: "the tenant", "the policy", "reconciler 0.1.0 -> ..."
    moved: tuple[str, ...] = ()
    differences: tuple[str, ...] = ()
    # (the plan's tenant id, the id of the tenant read) when they differ
    other_tenant: tuple[str, str] | None = None
    replanned: Document | None = None
    # False for a plan file an older reconciler wrote, without `origin`
    has_origin: bool = True

    @property
    def current(self) -> bool:
        return self.other_tenant is None and not self.differences

    def problem(self) -> str | None:
        """Why the plan can't be applied, in one sentence or two; None when it can."""
        if self.other_tenant is not None:
            made_for, this = self.other_tenant
            return f"plan is for another tenant: it was made for tenant {made_for}, not {this}."
        if not self.differences:
            return None
        if self.has_origin and not self.moved:
            # nothing the file records has moved, yet planning gives another plan: it was
            # changed after `plan` wrote it, and sealed again so the digest matches
            return (
                f"plan is not what the policy asks now: {'; '.join(self.differences)}. The plan "
                "file says the tenant, the policy and reconciler are as they were when it was "
                "made, so the file itself was changed after `plan` wrote it."
            )
        return f"plan is stale: {'; '.join(self.differences)}. {self._since()}"

    def drift_note(self) -> str | None:
        """For a current plan that was planned again: what moved, and that it didn't matter."""
        if self.replanned is None or not self.current:
            return None
        if self.has_origin and not self.moved:
            return None  # nothing moved: nothing to say
        return f"{self._since()} Planning again gives the same changes and removals."

    def _since(self) -> str:
        if not self.has_origin:
            return "The plan file records no origin (an older reconciler wrote it)."
        return f"Since the plan was made, {_and(self.moved)} changed."


def check_before_apply(
    saved: Document, origin: Origin, replan: Callable[[], Document]
) -> Freshness:
    """How `saved` stands against the tenant and policy `origin` describes, for apply: always
    planned again with `replan`, unless it is another tenant's; `replanned` is what to apply."""
    recorded = saved.get("origin")
    if recorded is not None and recorded["tenantId"].lower() != origin["tenantId"].lower():
        return Freshness(other_tenant=(recorded["tenantId"], origin["tenantId"]))
    return _replanned(saved, recorded, origin, replan)


def check_freshness(saved: Document, origin: Origin, replan: Callable[[], Document]) -> Freshness:
    """How `saved` stands against the tenant and policy `origin` describes, for show: a plan
    whose origin matches and whose digest seals it is taken as current without planning again."""
    recorded = saved.get("origin")
    if recorded is not None and recorded["tenantId"].lower() != origin["tenantId"].lower():
        return Freshness(other_tenant=(recorded["tenantId"], origin["tenantId"]))
    sealed = recorded is not None and recorded.get("planDigest") == plan_digest(saved)
    if sealed and all(recorded[key] == value for key, value in origin.items()):
        return Freshness()
    return _replanned(saved, recorded, origin, replan)


def _replanned(
    saved: Document, recorded: Origin | None, origin: Origin, replan: Callable[[], Document]
) -> Freshness:
    """`saved` against the plan `replan` makes now, and what moved since `saved` was made."""
    now = replan()
    differences = plan_differences(saved, now)
    if recorded is None:
        return Freshness(differences=differences, replanned=now, has_origin=False)
    sealed = recorded.get("planDigest") == plan_digest(saved)
    return Freshness(_moved(recorded, origin, sealed), differences, replanned=now)


def _moved(recorded: Origin, origin: Origin, sealed: bool) -> tuple[str, ...]:
    moved = [] if sealed else ["the plan file (edited after `plan` wrote it)"]
    if recorded["stateFingerprint"] != origin["stateFingerprint"]:
        moved.append("the tenant")
    if recorded["policyDigest"] != origin["policyDigest"]:
        moved.append("the policy")
    if recorded["toolVersion"] != origin["toolVersion"]:
        moved.append(f"reconciler (from {recorded['toolVersion']} to {origin['toolVersion']})")
    return tuple(moved)


def _and(items: Sequence[str]) -> str:
    return ", ".join(items[:-1]) + (" and " if len(items) > 1 else "") + items[-1]


def plan_differences(saved: Document, now: Document) -> tuple[str, ...]:
    """What differs between two plans in their changes and removals, one phrase each; () if same."""
    if saved["changesPresent"] and not now["changesPresent"]:
        # the commonest stale plan of all deserves a plain answer
        return ("planning now finds no changes: the tenant already matches the policy",)
    found = [
        _differences("the changes", saved["changes"], now["changes"], _change_key, _change_label),
        _differences(
            "the license removals",
            saved["impact"]["licenseRemovals"],
            now["impact"]["licenseRemovals"],
            lambda removal: (removal["userId"].lower(), removal["skuId"].lower()),
            lambda removal: f"{removal['userPrincipalName']} loses {removal['skuPartNumber']}",
        ),
        _differences(
            "the service plan removals",
            saved["impact"]["planRemovals"],
            now["impact"]["planRemovals"],
            lambda removal: (removal["userId"].lower(), removal["skuPartNumber"]),
            lambda removal: (
                f"{removal['userPrincipalName']} loses {', '.join(removal['servicePlans'])} "
                f"of {removal['skuPartNumber']}"
            ),
        ),
    ]
    return tuple(difference for difference in found if difference is not None)


def _differences(
    what: str,
    saved: Sequence[Document],
    now: Sequence[Document],
    key: Callable[[Document], Hashable],
    label: Callable[[Document], str],
) -> str | None:
    """One phrase naming what `now` adds, drops and alters against `saved`; None if the same."""
    if saved == now:
        return None
    before, after = _keyed(saved, key), _keyed(now, key)
    groups = [
        ("now also", [label(after[k]) for k in after if k not in before]),
        ("no longer", [label(before[k]) for k in before if k not in after]),
        (
            "altered",
            [
                f"{label(after[k])} ({_altered(before[k], after[k])})"
                for k in after
                if k in before and before[k] != after[k]
            ],
        ),
    ]
    phrases = [f"{heading}: {_some(items)}" for heading, items in groups if items]
    if not phrases:  # the same items in another order: matters for changes, which run in order
        if what != "the changes":
            return None
        phrases = ["the same changes in another order"]
    return f"{what} differ ({'; '.join(phrases)})"


def _keyed(
    items: Iterable[Document], key: Callable[[Document], Hashable]
) -> dict[tuple[Hashable, int], Document]:
    """Items by key; a repeated key is numbered so no item hides another."""
    keyed: dict[tuple[Hashable, int], Document] = {}
    for item in items:
        number = 0
        while (key(item), number) in keyed:
            number += 1
        keyed[key(item), number] = item
    return keyed


def _altered(before: Document, after: Document) -> str:
    """What DeepDiff finds changed in one item: list entries by name, other fields by path."""
    # a cutoff of 0 pairs no two different list entries, so a replaced member reads as -old +new
    diff = DeepDiff(before, after, ignore_order=True, cutoff_distance_for_pairs=0, view="tree")
    added: list[str] = []
    removed: list[str] = []
    fields: list[str] = []
    for kind, levels in diff.items():
        for level in levels:
            path = level.path(output_format="list")
            if kind != "iterable_item_removed" and path and isinstance(path[-1], int):
                added.append(f"+{_name(level.t2)}")
            if kind != "iterable_item_added" and path and isinstance(path[-1], int):
                removed.append(f"-{_name(level.t1)}")
            if not path or not isinstance(path[-1], int):
                field = ".".join(str(step) for step in path if isinstance(step, str)) or "it"
                if field not in fields:
                    fields.append(field)
    parts = sorted(added) + sorted(removed)
    if fields:
        parts.append(f"{', '.join(sorted(fields))} differ{'s' if len(fields) == 1 else ''}")
    return "; ".join(parts) or "differs"


def _name(item: object) -> str:
    """A list entry as a person reads it: a member's name, a service plan's name."""
    if isinstance(item, dict):
        for field in ("userPrincipalName", "displayName", "servicePlanName", "skuPartNumber"):
            if item.get(field):
                return str(item[field])
        for field in ("id", "servicePlanId", "skuId"):
            if field in item:
                return str(item[field])
    return str(item)


def _change_key(change: Document) -> Hashable:
    """What a change is about: its action, its group and, within that, a property or product."""
    sku = change.get("sku", {}).get("skuId", "").lower()
    return (change["action"], change["group"]["id"].lower(), change.get("property"), sku)


def _change_label(change: Document) -> str:
    detail = change.get("property") or change.get("sku", {}).get("skuPartNumber") or ""
    return f"{change['group']['displayName']} {change['action']} {detail}".rstrip()


def _some(items: Sequence[str]) -> str:
    rest = len(items) - SHOWN
    return ", ".join(items[:SHOWN]) + (f" and {rest} more" if rest > 0 else "")
