"""A tenant in Graph's shape and in the model's: Graph's objects (as a snapshot, the local tenant
and a Graph read hold them) turned into the model, and the model written back in Graph's shape,
the same object the same bytes."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import replace
from typing import Any

from reconciler.model import (
    ACTIVE,
    NO_ERROR,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
    User,
)

FORMAT_VERSION = 1  # of the snapshot document (schemas/tenant.schema.json)

# user properties the model holds itself; the writer emits these from the model, not attributes
_USER_FIELDS = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation")
_USER_LICENSES = ("assignedLicenses", "licenseAssignmentStates")


# --- Graph -> model ---------------------------------------------------------------------------


class GraphObjects:
    """Turns Graph's objects into the model, with one object for each distinct license and
    license state read (a group gives all its members the same ones, and a large tenant's users
    hold millions of them) and each member id the very string of its user's id. An `owned`
    document (parsed for this alone) gives its users' objects to the model rather than copies."""

    def __init__(self, owned: bool = False) -> None:
        self._objects: dict[object, Any] = {}
        self.owned = owned
        self.ids: dict[str, str] = {}  # each user's id, to share as groups' member ids

    def _shared(self, obj: Any) -> Any:
        return self._objects.setdefault(obj, obj)

    @staticmethod
    def organization(obj: Mapping[str, Any]) -> Organization:
        domains = obj.get("verifiedDomains") or ()
        # the initial domain (contoso.onmicrosoft.com) first, the rest in Graph's order
        ordered = sorted(domains, key=lambda domain: not domain.get("isInitial", False))
        return Organization(
            id=obj["id"],
            displayName=obj["displayName"],
            countryLetterCode=obj.get("countryLetterCode"),
            verifiedDomains=tuple(domain["name"] for domain in ordered),
        )

    @staticmethod
    def sku(obj: Mapping[str, Any]) -> Sku:
        units = obj.get("prepaidUnits") or {}
        return Sku(
            skuId=obj["skuId"],
            skuPartNumber=obj["skuPartNumber"],
            servicePlans=tuple(
                ServicePlan(
                    servicePlanId=plan["servicePlanId"],
                    servicePlanName=plan["servicePlanName"],
                    provisioningStatus=plan.get("provisioningStatus", "Success"),
                    appliesTo=plan.get("appliesTo", "User"),
                )
                for plan in obj.get("servicePlans", ())
            ),
            prepaidUnits=PrepaidUnits(
                enabled=units.get("enabled", 0),
                suspended=units.get("suspended", 0),
                warning=units.get("warning", 0),
                lockedOut=units.get("lockedOut", 0),
            ),
            consumedUnits=obj.get("consumedUnits", 0),
            capabilityStatus=obj.get("capabilityStatus", "Enabled"),
            appliesTo=obj.get("appliesTo", "User"),
        )

    def licenses(self, items: Iterable[Mapping[str, Any]]) -> tuple[AssignedLicense, ...]:
        found = []
        for item in items:
            # looked up by the values as read: making each object only to find it is known
            # would cost most of what sharing saves
            key = ("license", item["skuId"], *item.get("disabledPlans", ()))
            made = self._objects.get(key)
            if made is None:
                made = self._shared(AssignedLicense(item["skuId"], frozenset(key[2:])))
                self._objects[key] = made
            found.append(made)
        return tuple(found)

    def states(self, items: Iterable[Mapping[str, Any]]) -> tuple[LicenseAssignmentState, ...]:
        found = []
        for item in items:
            key = (
                item["skuId"],
                item.get("assignedByGroup"),
                item.get("state", ACTIVE),
                # Graph's docs say null on success, its responses say "None": keep one form
                item.get("error") or NO_ERROR,
                *item.get("disabledPlans", ()),
            )
            made = self._objects.get(key)
            if made is None:
                state = LicenseAssignmentState(
                    key[0], frozenset(key[4:]), assignedByGroup=key[1], state=key[2], error=key[3]
                )
                made = self._objects[key] = self._shared(state)
            found.append(made)
        return tuple(found)

    def user(self, obj: dict[str, Any]) -> User:
        licenses = obj.get("assignedLicenses", ())
        states = obj.get("licenseAssignmentStates", ())
        self.ids[obj["id"]] = obj["id"]
        return User(
            id=obj["id"],
            userPrincipalName=obj["userPrincipalName"],
            displayName=obj.get("displayName"),
            # absent means unknown (Graph returns it only when selected), not enabled
            accountEnabled=obj.get("accountEnabled"),
            usageLocation=obj.get("usageLocation"),
            assignedLicenses=self.licenses(licenses),
            licenseAssignmentStates=self.states(states),
            attributes=_without_licenses(obj, self.owned),
        )

    def group(self, obj: Mapping[str, Any]) -> Group:
        return Group(
            id=obj["id"],
            displayName=obj["displayName"],
            description=obj.get("description"),
            groupTypes=tuple(obj.get("groupTypes", ())),
            securityEnabled=obj.get("securityEnabled", True),
            mailEnabled=obj.get("mailEnabled", False),
            mailNickname=obj.get("mailNickname"),
            membershipRule=obj.get("membershipRule"),
            membershipRuleProcessingState=obj.get("membershipRuleProcessingState"),
            assignedLicenses=self.licenses(obj.get("assignedLicenses", ())),
            # a member id is the very string of the user's id: a large tenant has millions of them
            members=tuple([self.ids.get(member, member) for member in obj.get("members", ())]),
        )


def _without_licenses(obj: dict[str, Any], owned: bool) -> dict[str, Any]:
    """The user's properties but its licenses: the model holds those, and kept here too they'd
    be half of a large tenant's memory."""
    if "assignedLicenses" not in obj and "licenseAssignmentStates" not in obj:
        return obj
    if not owned:
        return {key: value for key, value in obj.items() if key not in _USER_LICENSES}
    for key in _USER_LICENSES:
        obj.pop(key, None)
    return obj


# --- model -> Graph ---------------------------------------------------------------------------


def _organization_document(organization: Organization) -> dict[str, Any]:
    names = organization.verifiedDomains
    # The model keeps no default domain; Graph has exactly one. Take the first custom domain,
    # else the initial one (the generator and Graph exports list the default right after).
    default = names[1] if len(names) > 1 else (names[0] if names else None)
    return {
        "id": organization.id,
        "displayName": organization.displayName,
        "countryLetterCode": organization.countryLetterCode,
        "verifiedDomains": [
            {"name": name, "isInitial": index == 0, "isDefault": name == default}
            for index, name in enumerate(names)
        ],
    }


def _sku_document(sku: Sku) -> dict[str, Any]:
    units = sku.prepaidUnits
    return {
        "skuId": sku.skuId,
        "skuPartNumber": sku.skuPartNumber,
        "appliesTo": sku.appliesTo,
        "capabilityStatus": sku.capabilityStatus,
        "consumedUnits": sku.consumedUnits,
        "prepaidUnits": {
            "enabled": units.enabled,
            "suspended": units.suspended,
            "warning": units.warning,
            "lockedOut": units.lockedOut,
        },
        "servicePlans": [
            {
                "servicePlanId": plan.servicePlanId,
                "servicePlanName": plan.servicePlanName,
                "provisioningStatus": plan.provisioningStatus,
                "appliesTo": plan.appliesTo,
            }
            for plan in sku.servicePlans
        ],
    }


def _license_documents(licenses: Iterable[AssignedLicense]) -> list[dict[str, Any]]:
    return [{"skuId": item.skuId, "disabledPlans": sorted(item.disabledPlans)} for item in licenses]


def user_document(user: User) -> dict[str, Any]:
    """One user as a snapshot holds it: Graph's shape."""
    document: dict[str, Any] = {name: getattr(user, name) for name in _USER_FIELDS}
    # every other Graph property as read, in name order so the output doesn't depend on the input
    for name in sorted(user.attributes):
        if name not in document and name not in _USER_LICENSES:
            document[name] = user.attributes[name]
    document.update(user_licenses(user))
    return document


def user_licenses(user: User) -> dict[str, list[dict[str, Any]]]:
    """A user's assignedLicenses and licenseAssignmentStates, as a snapshot holds them."""
    return {
        "assignedLicenses": _license_documents(user.assignedLicenses),
        "licenseAssignmentStates": [
            {
                "skuId": state.skuId,
                "disabledPlans": sorted(state.disabledPlans),
                "assignedByGroup": state.assignedByGroup,
                "state": state.state,
                "error": state.error,
            }
            for state in user.licenseAssignmentStates
        ],
    }


def group_document(group: Group) -> dict[str, Any]:
    """One group as a snapshot holds it: Graph's shape."""
    return {
        "id": group.id,
        "displayName": group.displayName,
        "description": group.description,
        "groupTypes": list(group.groupTypes),
        "securityEnabled": group.securityEnabled,
        "mailEnabled": group.mailEnabled,
        "mailNickname": group.mailNickname,
        "membershipRule": group.membershipRule,
        "membershipRuleProcessingState": group.membershipRuleProcessingState,
        "assignedLicenses": _license_documents(group.assignedLicenses),
        "members": list(group.members),
    }


def snapshot_document(tenant: Tenant) -> dict[str, Any]:
    """The tenant as a snapshot document: Graph's shape, keys in a fixed order."""
    document: dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "organization": _organization_document(tenant.organization),
        "subscribedSkus": [_sku_document(sku) for sku in tenant.subscribedSkus],
        "users": [user_document(user) for user in tenant.users],
        "groups": [group_document(group) for group in tenant.groups],
    }
    if tenant.devices:
        document["devices"] = [dict(device) for device in tenant.devices]
    return document


def snapshot_text(tenant: Tenant) -> str:
    """The snapshot file's text: 2-space indent, trailing newline, same tenant -> same bytes."""
    return "".join(snapshot_chunks(tenant))


def snapshot_chunks(tenant: Tenant) -> Iterator[str]:
    """`snapshot_text` in pieces, an object at a time, as json.dumps(indent=2) writes the whole:
    a large tenant's text at once would take several times its own memory."""
    head = snapshot_document(replace(tenant, users=(), groups=(), devices=()))
    del head["users"], head["groups"]
    collections: dict[str, Iterator[Mapping[str, Any]]] = {
        "users": (user_document(user) for user in tenant.users),
        "groups": (group_document(group) for group in tenant.groups),
    }
    if tenant.devices:
        collections["devices"] = (dict(device) for device in tenant.devices)
    separator = "{\n"
    for key in (*head, *collections):
        yield f"{separator}  {json.dumps(key)}: "
        separator = ",\n"
        if key in head:
            yield _indented(json.dumps(head[key], indent=2, ensure_ascii=False), "  ")
            continue
        empty = True
        for obj in collections[key]:
            yield "[\n    " if empty else ",\n    "
            yield _indented(json.dumps(obj, indent=2, ensure_ascii=False), "    ")
            empty = False
        yield "[]" if empty else "\n  ]"
    yield "\n}\n"


def _indented(text: str, prefix: str) -> str:
    # JSON escapes a newline inside a string: every one in the text starts a line
    return text.replace("\n", "\n" + prefix)
