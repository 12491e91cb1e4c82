"""Graph's shapes for the tenant's objects: default properties, `$select`, `@odata.type`."""

from __future__ import annotations

from typing import Any

from reconciler.emulator.errors import bad_request
from reconciler.emulator.store import State, Store

# [doc] what GET /users returns without $select
USER_DEFAULT = (
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
)
# user properties Graph knows, beyond those any user of the tenant carries
USER_KNOWN = frozenset(
    (
        *USER_DEFAULT,
        "accountEnabled",
        "assignedLicenses",
        "assignedPlans",
        "licenseAssignmentStates",
        "usageLocation",
        "department",
        "companyName",
        "country",
        "city",
        "state",
        "employeeId",
        "employeeType",
        "employeeHireDate",
        "userType",
        "mailNickname",
        "proxyAddresses",
        "onPremisesSyncEnabled",
        "onPremisesExtensionAttributes",
        "createdDateTime",
        "deletedDateTime",
        # the rest of the user properties a membership rule can name (docs/rules.md)
        "faxNumber",
        "onPremisesDistinguishedName",
        "onPremisesSecurityIdentifier",
        "passwordPolicies",
        "postalCode",
        "streetAddress",
        "otherMails",
    )
)
GROUP_DEFAULT = (
    "id",
    "deletedDateTime",
    "description",
    "displayName",
    "groupTypes",
    "mail",
    "mailEnabled",
    "mailNickname",
    "membershipRule",
    "membershipRuleProcessingState",
    "proxyAddresses",
    "securityEnabled",
    "visibility",
)
# selectable only; hasMembersWithLicenseErrors is never returned, not even when selected
GROUP_SELECTABLE = frozenset((*GROUP_DEFAULT, "assignedLicenses", "licenseProcessingState"))
GROUP_NEVER = frozenset(("hasMembersWithLicenseErrors",))
# Graph beta only, with $select: how Entra's evaluation of a dynamic group's rule stands
PROCESSING_STATUS = "membershipRuleProcessingStatus"
TYPES = {"user": "#microsoft.graph.user", "group": "#microsoft.graph.group"}
TYPES["device"] = "#microsoft.graph.device"


def check_select(kind: str, select: list[str] | None, state: State, beta: bool = False) -> None:
    """400 for a property the type doesn't have (in this version), as Graph answers it."""
    if not select:
        return
    for name in select:
        if kind == "users":
            known = name in USER_KNOWN or any(name in u for u in state.objects["users"][:50])
        else:
            known = name in GROUP_SELECTABLE or name in GROUP_NEVER
            known = known or (beta and name == PROCESSING_STATUS)
        if not known:
            type_name = "user" if kind == "users" else "group"
            raise bad_request(
                f"Could not find a property named '{name}' on type 'microsoft.graph.{type_name}'."
            )


def user(doc: dict[str, Any], select: list[str] | None = None) -> dict[str, Any]:
    names = _names(select, USER_DEFAULT)
    out: dict[str, Any] = {}
    for name in names:
        value = doc.get(name)
        if name == "businessPhones" or name == "proxyAddresses":
            value = doc.get(name, [])
        out[name] = value
    return out


def group(doc: dict[str, Any], store: Store, select: list[str] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _names(select, GROUP_DEFAULT):
        if name in GROUP_NEVER or name == PROCESSING_STATUS:
            continue  # the status is the caller's to add (reads.get_object)
        if name == "licenseProcessingState":
            out[name] = {"state": store.processing_state(doc["id"])}
        elif name == "proxyAddresses":
            out[name] = doc.get(name, [])
        else:
            out[name] = doc.get(name)
    return out


def directory_object(
    type_name: str, doc: dict[str, Any], store: Store, select: list[str] | None = None
) -> dict[str, Any]:
    """A member as /members lists it: `@odata.type` first."""
    if type_name == "user":
        body = user(doc, select)
    elif type_name == "group":
        body = group(doc, store, select)
    else:
        body = {"id": doc.get("id"), "displayName": doc.get("displayName")}
    return {"@odata.type": TYPES[type_name], **body}


def organization(doc: dict[str, Any]) -> dict[str, Any]:
    return {**doc, "tenantType": "AAD"}


def _names(select: list[str] | None, default: tuple[str, ...]) -> list[str]:
    if not select:
        return list(default)
    return ["id", *(name for name in select if name != "id")]
