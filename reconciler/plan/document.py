"""A plan as the document `schemas/plan.schema.json` describes: plain dicts and lists, camelCase.

Built apart from its rendering so `plan --format json`, a saved plan file and `show` share it.
Every GUID stands beside its name, looked up in the tenant the plan was computed from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import fields
from functools import cache, cached_property
from typing import Any

from reconciler.model import AssignedLicense, Group, Tenant
from reconciler.plan.build import Plan
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    ChangeDisabledPlans,
    CreateGroup,
    DeleteGroup,
    RemoveLicense,
    RemoveMembers,
    UpdateGroup,
)
from reconciler.plan.cost import TOTALLED, Cost, amount
from reconciler.plan.warnings import PlanWarning

FORMAT_VERSION = 1

Document = dict[str, Any]


def plan_document(plan: Plan) -> Document:
    """The plan as a JSON-ready dict, valid against plan.schema.json."""
    names = _Names(plan.before, plan.after)
    return {
        "formatVersion": FORMAT_VERSION,
        "changesPresent": plan.changes_present,
        "summary": plan.summary(),
        "changes": [_change(change, names) for change in plan.changes],
        "impact": {
            "licenseRemovals": list(map(_record, plan.impact.licenseRemovals)),
            "planRemovals": list(map(_record, plan.impact.planRemovals)),
            "licenseAdditions": list(map(_record, plan.impact.licenseAdditions)),
            "planAdditions": list(map(_record, plan.impact.planAdditions)),
            "seats": list(map(_record, plan.seats)),
            "kept": list(map(_record, plan.impact.kept)),
            **({} if plan.cost is None else {"cost": _cost(plan.cost)}),
        },
        "warnings": [_warning(warning) for warning in plan.warnings],
        "guards": {
            "licenseRemovals": plan.guards.licenseRemovals,
            "temporaryRemovals": plan.guards.temporaryRemovals,
            "maxLicenseRemovals": plan.guards.maxLicenseRemovals,
            "protected": [_group(group_id, name) for group_id, name in plan.guards.protected],
            "refused": plan.guards.refused,
            "reasons": list(plan.guards.reasons),
        },
        "released": [
            {"group": _group(item.group.id, item.group.displayName), "protect": item.protect}
            for item in plan.released
        ],
        "unmanaged": [_unmanaged(group, names) for group in plan.unmanaged],
    }


def _record(record: Any) -> Document:
    """An impact record or seat forecast: its fields in order, tuples as lists. A large plan has
    one record per user who loses a product; dataclasses.asdict, which deep-copies, takes
    several times as long."""
    document: Document = {}
    for name in _field_names(type(record)):
        value = getattr(record, name)
        document[name] = list(value) if isinstance(value, tuple) else value
    return document


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(field.name for field in fields(kind))


def _cost(cost: Cost) -> Document:
    """The plan's cost: money as numbers to the cent, per product and per currency."""
    products = [
        {
            "skuId": product.skuId,
            "skuPartNumber": product.skuPartNumber,
            "currency": product.currency,
            **_money(product, ("monthly",)),
            "prepaid": product.prepaid,
            "consumedNow": product.consumedNow,
            "consumedAfter": product.consumedAfter,
            "shortfall": product.shortfall,
            "unusedNow": product.unusedNow,
            "unusedAfter": product.unusedAfter,
            **_money(product, _AMOUNTS),
        }
        for product in cost.products
    ]
    totals = [{"currency": total.currency, **_money(total, _AMOUNTS)} for total in cost.totals]
    unpriced = [
        {"skuId": seat.skuId, "skuPartNumber": seat.skuPartNumber} for seat in cost.unpriced
    ]
    return {"products": products, "totals": totals, "unpriced": unpriced}


_AMOUNTS = TOTALLED  # a product's money and its currency's totals: the same figures


def _money(source: object, names: Iterable[str]) -> Document:
    return {name: amount(getattr(source, name)) for name in names}


def _unmanaged(group: Group, names: _Names) -> Document:
    skus = [names.sku(assigned.skuId) for assigned in group.assignedLicenses]
    return {**_group(group.id, group.displayName), "skus": skus}


def _warning(warning: PlanWarning) -> Document:
    """A finding, without the fields it leaves empty."""
    document: Document = {"code": warning.code, "severity": warning.severity}
    document["message"] = warning.message
    for field in ("hint", "group", "user"):
        if getattr(warning, field) is not None:
            document[field] = getattr(warning, field)
    if warning.location is not None:
        document["file"] = warning.location.file
        for field in ("line", "column"):
            if getattr(warning.location, field) is not None:
                document[field] = getattr(warning.location, field)
    return document


class _Names:
    """Names for the GUIDs a plan mentions: products, service plans, users, groups, devices."""

    def __init__(self, *tenants: Tenant) -> None:
        # later tenants fill gaps only, so the state the plan was computed from wins
        self.tenants = tenants
        self.skus: dict[str, str] = {}
        self.plans: dict[str, str] = {}
        for tenant in tenants:
            for sku in tenant.subscribedSkus:
                self.skus.setdefault(sku.skuId.lower(), sku.skuPartNumber)
                for plan in sku.servicePlans:
                    self.plans.setdefault(plan.servicePlanId.lower(), plan.servicePlanName)

    # members' names, made the first time a change lists members: a large tenant has many users

    @cached_property
    def users(self) -> dict[str, str]:
        users: dict[str, str] = {}
        for tenant in self.tenants:
            for user in tenant.users:
                users.setdefault(user.id.lower(), user.userPrincipalName)
        return users

    @cached_property
    def others(self) -> dict[str, str | None]:
        others: dict[str, str | None] = {}
        for tenant in self.tenants:
            for group in tenant.groups:
                others.setdefault(group.id.lower(), group.displayName)
            for device in tenant.devices:
                if device.get("id"):
                    others.setdefault(str(device["id"]).lower(), device.get("displayName"))
        return others

    def sku(self, sku_id: str) -> Document:
        return {"skuId": sku_id, "skuPartNumber": self.skus.get(sku_id.lower())}

    def service_plans(self, plan_ids: Iterable[str]) -> list[Document]:
        named = [
            {"servicePlanId": plan_id, "servicePlanName": self.plans.get(plan_id.lower())}
            for plan_id in plan_ids
        ]
        # frozensets have no order; sorting by name reads well and keeps output identical
        return sorted(named, key=lambda p: (p["servicePlanName"] or "", p["servicePlanId"]))

    def member(self, object_id: str) -> Document:
        upn = self.users.get(object_id.lower())
        if upn is not None:
            return {"id": object_id, "userPrincipalName": upn}
        return {"id": object_id, "displayName": self.others.get(object_id.lower())}


def _change(change: Change, names: _Names) -> Document:
    """One change: its action, the group it touches, and what it sets."""
    if isinstance(change, CreateGroup):
        group = change.group
        return {
            "action": "createGroup",
            "group": _group(group.id, group.displayName),
            "after": {
                "displayName": group.displayName,
                "description": group.description,
                "groupTypes": sorted(group.groupTypes),
                "securityEnabled": group.securityEnabled,
                "mailEnabled": group.mailEnabled,
                "mailNickname": group.mailNickname,
                "membershipRule": group.membershipRule,
                "membershipRuleProcessingState": group.membershipRuleProcessingState,
            },
        }
    document: Document = {
        "action": _ACTIONS[type(change)],
        "group": _group(change.groupId, change.displayName),
    }
    if isinstance(change, UpdateGroup):
        document.update(
            property=change.property,
            before=_value(change.before),
            after=_value(change.after),
        )
        if change.also:
            document["also"] = [
                {"property": name, "before": _value(before), "after": _value(after)}
                for name, before, after in change.also
            ]
    elif isinstance(change, AddMembers | RemoveMembers):
        document["members"] = [names.member(member) for member in change.memberIds]
    elif isinstance(change, AddLicense):
        document.update(_license(change.license, names))
    elif isinstance(change, ChangeDisabledPlans):
        document.update(
            sku=names.sku(change.skuId),
            before=names.service_plans(change.before),
            after=names.service_plans(change.after),
        )
    elif isinstance(change, RemoveLicense):
        document["sku"] = names.sku(change.skuId)
    return document


_ACTIONS: Mapping[type, str] = {
    UpdateGroup: "updateGroup",
    AddMembers: "addMembers",
    RemoveMembers: "removeMembers",
    AddLicense: "addLicense",
    ChangeDisabledPlans: "changeDisabledPlans",
    RemoveLicense: "removeLicense",
    DeleteGroup: "deleteGroup",
}


def _group(group_id: str, display_name: str) -> Document:
    return {"id": group_id, "displayName": display_name}


def _license(assigned: AssignedLicense, names: _Names) -> Document:
    return {
        "sku": names.sku(assigned.skuId),
        "disabledPlans": names.service_plans(assigned.disabledPlans),
    }


def _value(value: object) -> object:
    # a list, not the model's tuple, so the dict equals the same document read back from JSON
    if isinstance(value, frozenset | set):
        return sorted(value)
    return list(value) if isinstance(value, tuple) else value


def changes_from_document(document: Document) -> tuple[Change, ...]:
    """The changes of a saved plan, as `plan` made them: every change carries its ids."""
    return tuple(_change_from(change) for change in document["changes"])


def _change_from(change: Document) -> Change:
    group_id, name = change["group"]["id"], change["group"]["displayName"]
    action = change["action"]
    if action == "createGroup":
        after = change["after"]
        return CreateGroup(
            Group(
                group_id,
                name,
                description=after["description"],
                groupTypes=tuple(after["groupTypes"]),
                securityEnabled=after["securityEnabled"],
                mailEnabled=after["mailEnabled"],
                mailNickname=after["mailNickname"],
                membershipRule=after["membershipRule"],
                membershipRuleProcessingState=after["membershipRuleProcessingState"],
            )
        )
    if action == "updateGroup":
        also = tuple((item["property"], *_property_values(item)) for item in change.get("also", ()))
        return UpdateGroup(group_id, name, change["property"], *_property_values(change), also)
    if action in ("addMembers", "removeMembers"):
        kind = AddMembers if action == "addMembers" else RemoveMembers
        return kind(group_id, name, tuple(member["id"] for member in change["members"]))
    if action == "addLicense":
        license = AssignedLicense(change["sku"]["skuId"], _plan_ids(change["disabledPlans"]))
        return AddLicense(group_id, name, license)
    if action == "changeDisabledPlans":
        return ChangeDisabledPlans(
            group_id,
            name,
            change["sku"]["skuId"],
            _plan_ids(change["before"]),
            _plan_ids(change["after"]),
        )
    if action == "removeLicense":
        return RemoveLicense(group_id, name, change["sku"]["skuId"])
    return DeleteGroup(group_id, name)


def _property_values(change: Document) -> tuple[object, object]:
    """A property's before and after as the model holds them: groupTypes as a tuple."""
    before, after = change["before"], change["after"]
    if change["property"] == "groupTypes":
        return tuple(before), tuple(after)
    return before, after


def _plan_ids(plans: Iterable[Document]) -> frozenset[str]:
    return frozenset(plan["servicePlanId"] for plan in plans)
