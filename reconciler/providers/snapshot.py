"""The read-only `snapshot:FILE.json` tenant source: Graph-shaped JSON <-> `Tenant`.

The file is described by `schemas/tenant.schema.json`. Reading checks JSON syntax, then the
schema, then what a schema can't say (unique ids), and reports the first problem as one
InputError with the file, the JSON path and the line and column of the offending value.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

from reconciler.directory_audit import AuditQuery, DirectoryAudit
from reconciler.errors import InputError, Location
from reconciler.jsonpath import JsonPath, format_path, locate
from reconciler.jsonschemas import Check, compile_check, load_schema
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
from reconciler.objectfile import parse_json, read_text
from reconciler.plan.changes import Change
from reconciler.private_files import write_private
from reconciler.providers.base import AppliedChange, ProviderError, collector_paused

FORMAT_VERSION = 1
SCHEMA_NAME = "tenant.schema.json"

# user properties the model holds itself; the writer emits these from the model, not attributes
_USER_FIELDS = ("id", "userPrincipalName", "displayName", "accountEnabled", "usageLocation")
_USER_LICENSES = ("assignedLicenses", "licenseAssignmentStates")


def read_snapshot(path: str | os.PathLike[str]) -> Tenant:
    """The tenant in the snapshot file at `path`; InputError if it can't be read or is malformed.

    Only a regular file is read, of any size: a snapshot grows with the tenant.
    """
    file = str(path)
    # a leading byte order mark is dropped: Windows editors and PowerShell's exports write one
    text = read_text(Path(path), file)
    with collector_paused():
        return parse_snapshot(text, file)


def parse_snapshot(text: str, file: str = "<snapshot>") -> Tenant:
    """The tenant in snapshot `text`; errors are located in `file`."""
    document = parse_json(text, file)
    try:
        return tenant_from_document(document, file, text)
    except RecursionError:
        # nesting json.loads took, a step short of Python's limit, that checking it can't
        raise InputError("JSON nests too deeply", Location(file)) from None


def tenant_from_document(
    document: Any, file: str = "<snapshot>", text: str | None = None
) -> Tenant:
    """Validates a parsed snapshot and converts it; `text`, when given, locates errors in it."""
    problem = _first_problem(document)
    if problem is not None:
        path, message = problem
        raise InputError(f"{format_path(path)}: {message}", locate(file, text, path))
    return Tenant(
        organization=_organization(document["organization"]),
        subscribedSkus=tuple(_sku(sku) for sku in document["subscribedSkus"]),
        users=tuple(_user(user) for user in document["users"]),
        groups=tuple(_group(group) for group in document["groups"]),
        devices=tuple(document.get("devices", ())),
    )


def snapshot_document(tenant: Tenant) -> dict[str, Any]:
    """The tenant as a snapshot document: Graph's shape, keys in a fixed order."""
    document: dict[str, Any] = {
        "formatVersion": FORMAT_VERSION,
        "organization": _organization_document(tenant.organization),
        "subscribedSkus": [_sku_document(sku) for sku in tenant.subscribedSkus],
        "users": [user_document(user) for user in tenant.users],
        "groups": [_group_document(group) for group in tenant.groups],
    }
    if tenant.devices:
        document["devices"] = [dict(device) for device in tenant.devices]
    return document


def snapshot_text(tenant: Tenant) -> str:
    """The snapshot file's text: 2-space indent, trailing newline, same tenant -> same bytes."""
    return json.dumps(snapshot_document(tenant), indent=2, ensure_ascii=False) + "\n"


def write_snapshot(tenant: Tenant, path: str | os.PathLike[str]) -> None:
    """Writes the tenant to `path`, whole (a reader never sees half of it) and private: a
    snapshot holds every user of the tenant."""
    write_private(path, snapshot_text(tenant))


# --- checking -------------------------------------------------------------------------------


def _schema() -> dict[str, Any]:
    return load_schema(SCHEMA_NAME)


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_schema())


@cache
def _quick_check() -> Check:
    return compile_check(_schema())


Problem = tuple[JsonPath, str]  # where a snapshot is wrong, and how


def _first_problem(document: Any) -> Problem | None:
    """(path, message) of the most telling problem in `document`, or None when it is valid."""
    # jsonschema takes ~10x json.load's time on a large tenant; the compiled check is ~20x
    # faster but answers only yes or no, so jsonschema runs only to explain a "no"
    if not _quick_check()(document):
        error = best_match(_validator().iter_errors(document))
        if error is not None:
            return tuple(error.absolute_path), _schema_message(error)
    for collection in ("users", "groups", "devices"):
        problem = _duplicate(document.get(collection, ()), collection, "id")
        if problem is not None:
            return problem
    # Entra keeps userPrincipalName unique, ignoring case; two users with one would make
    # every lookup by name (a static member list, --user) pick one of them silently
    return _duplicate(document["users"], "users", "userPrincipalName")


def _duplicate(objects: list[dict[str, Any]], collection: str, key: str) -> Problem | None:
    """The second object holding a value of `key` that an earlier one holds, ignoring case."""
    seen: dict[str, int] = {}
    for position, obj in enumerate(objects):
        # Graph compares ids (GUIDs) and names without regard to case
        value = obj[key].lower()
        if value in seen:
            first = format_path((collection, seen[value]))
            return (collection, position, key), f"duplicate {key} {obj[key]!r} (also {first})"
        seen[value] = position
    return None


def _schema_message(error: ValidationError) -> str:
    """jsonschema's message, reworded where its own would quote a regular expression."""
    if error.validator == "pattern":
        pattern = error.validator_value
        if "{12}" in pattern:
            return f"{error.instance!r} is not a GUID"
        if pattern == "^[A-Za-z]{2}$":
            return f"{error.instance!r} is not a two-letter country code"
    if error.validator == "const" and list(error.absolute_path) == ["formatVersion"]:
        return f"{error.instance!r} is not supported; this reconciler reads {FORMAT_VERSION}"
    return error.message


# --- Graph -> model ---------------------------------------------------------------------------


def _organization(obj: Mapping[str, Any]) -> Organization:
    domains = obj.get("verifiedDomains") or ()
    # the initial domain (contoso.onmicrosoft.com) first, the rest in Graph's order
    ordered = sorted(domains, key=lambda domain: not domain.get("isInitial", False))
    return Organization(
        id=obj["id"],
        displayName=obj["displayName"],
        countryLetterCode=obj.get("countryLetterCode"),
        verifiedDomains=tuple(domain["name"] for domain in ordered),
    )


def _sku(obj: Mapping[str, Any]) -> Sku:
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


def _assigned_licenses(items: Iterable[Mapping[str, Any]]) -> tuple[AssignedLicense, ...]:
    return tuple(
        AssignedLicense(item["skuId"], frozenset(item.get("disabledPlans", ()))) for item in items
    )


def _user(obj: dict[str, Any]) -> User:
    return User(
        id=obj["id"],
        userPrincipalName=obj["userPrincipalName"],
        displayName=obj.get("displayName"),
        # absent means unknown (Graph returns it only when selected), not enabled
        accountEnabled=obj.get("accountEnabled"),
        usageLocation=obj.get("usageLocation"),
        assignedLicenses=_assigned_licenses(obj.get("assignedLicenses", ())),
        licenseAssignmentStates=tuple(
            LicenseAssignmentState(
                skuId=state["skuId"],
                disabledPlans=frozenset(state.get("disabledPlans", ())),
                assignedByGroup=state.get("assignedByGroup"),
                state=state.get("state", ACTIVE),
                # Graph's docs say null on success, its responses say "None": keep one form
                error=state.get("error") or NO_ERROR,
            )
            for state in obj.get("licenseAssignmentStates", ())
        ),
        attributes=obj,
    )


def _group(obj: Mapping[str, Any]) -> Group:
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
        assignedLicenses=_assigned_licenses(obj.get("assignedLicenses", ())),
        members=tuple(obj.get("members", ())),
    )


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
    document["assignedLicenses"] = _license_documents(user.assignedLicenses)
    document["licenseAssignmentStates"] = [
        {
            "skuId": state.skuId,
            "disabledPlans": sorted(state.disabledPlans),
            "assignedByGroup": state.assignedByGroup,
            "state": state.state,
            "error": state.error,
        }
        for state in user.licenseAssignmentStates
    ]
    return document


def _group_document(group: Group) -> dict[str, Any]:
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


class SnapshotTenant:
    """The read-only `snapshot:FILE.json` source; implements `Provider`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def read(self) -> Tenant:
        return read_snapshot(self.path)

    def apply(self, change: Change) -> AppliedChange:
        raise self._read_only()

    def apply_together(self, changes: Sequence[Change]) -> list[AppliedChange]:
        raise self._read_only()

    def reprocess(self, user_ids: Sequence[str]) -> dict[str, str]:
        raise self._read_only()

    def directory_audits(self, query: AuditQuery) -> Iterator[DirectoryAudit]:
        raise ProviderError(
            f"{self.path} is a snapshot, which has no audit log; read a local or graph tenant"
        )

    def _read_only(self) -> ProviderError:
        return ProviderError(
            f"{self.path} is a snapshot, which is read only; change a local or graph tenant"
        )

    def close(self) -> None:
        pass

    def __enter__(self) -> SnapshotTenant:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
