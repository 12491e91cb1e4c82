"""Every property a rule can name: its type, its operators and where Graph keeps its value.

Lookups ignore case: the docs call names case-sensitive, yet their own examples write
`employeehiredate`, `objectid` and `memberof`, so case alone never rejects.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from reconciler.rules.ast import DirectReports, ObjectType, PropertyRef, Rule, walk


class PropertyType(Enum):
    STRING = "string"
    BOOL = "boolean"
    DATETIME = "dateTime"
    STRING_COLLECTION = "string collection"
    OBJECT_COLLECTION = "object collection"
    MEMBER_OF = "memberOf"


class Derivation(Enum):
    """How a legacy property is read from Graph objects that have no property of that name."""

    NONE = "none"
    FIRST_ITEM = "first item"  # telephoneNumber: Graph keeps businessPhones, a list
    SIP_ADDRESS = "sip address"  # sipProxyAddress: the "SIP:" entry of proxyAddresses
    EXTENSION = "extension"  # extension_<appId>_<name>: matched ignoring case, like every name


@dataclass(frozen=True)
class PropertySpec:
    object_type: ObjectType
    name: str
    type: PropertyType
    graph_path: tuple[str, ...]
    derivation: Derivation = Derivation.NONE
    user_editable: bool = False

    @property
    def operators(self) -> frozenset[str]:
        return OPERATORS_BY_TYPE[self.type]


STRING_OPERATORS = frozenset(
    {
        "eq",
        "ne",
        "startsWith",
        "notStartsWith",
        "endsWith",
        "notEndsWith",
        "contains",
        "notContains",
        "match",
        "notMatch",
        "in",
        "notIn",
    }
)

# String operators written straight on a string collection (documented, A7): true when any
# item passes, and the negated forms are their exact complements.
COLLECTION_DIRECT_OPERATORS = frozenset(
    {"startsWith", "notStartsWith", "endsWith", "notEndsWith", "contains", "notContains"}
)

OPERATORS_BY_TYPE: dict[PropertyType, frozenset[str]] = {
    PropertyType.STRING: STRING_OPERATORS,
    PropertyType.BOOL: frozenset({"eq", "ne"}),
    PropertyType.DATETIME: frozenset({"eq", "ne", "le", "ge"}),
    PropertyType.STRING_COLLECTION: COLLECTION_DIRECT_OPERATORS,
    PropertyType.OBJECT_COLLECTION: frozenset(),
    PropertyType.MEMBER_OF: frozenset(),
}

ALL_OPERATORS = STRING_OPERATORS | {"le", "ge"}

# Each negated operator and the positive one it is the exact complement of.
POSITIVE_FORM = {
    "ne": "eq",
    "notStartsWith": "startsWith",
    "notEndsWith": "endsWith",
    "notContains": "contains",
    "notMatch": "match",
    "notIn": "in",
}

# Operators people try that Entra doesn't have, with what to write instead (A12).
UNSUPPORTED_OPERATORS = {
    "lt": "use -le (dates only) or -notIn",
    "gt": "use -ge (dates only)",
    "like": "use -startsWith, -endsWith, -contains or -match",
    "notlike": "use -notStartsWith, -notEndsWith, -notContains or -notMatch",
    "minus": "only -plus is documented; write a negative duration such as -P30D",
    "neq": "use -ne",
    "isnull": "use -eq null",
}

ASSIGNED_PLAN_FIELDS = ("capabilityStatus", "service", "servicePlanId")

S, B, D = PropertyType.STRING, PropertyType.BOOL, PropertyType.DATETIME
SC, OC, MO = (
    PropertyType.STRING_COLLECTION,
    PropertyType.OBJECT_COLLECTION,
    PropertyType.MEMBER_OF,
)

# (rule name, type, Graph JSON path, user can edit it in their own profile)
_USER = [
    ("accountEnabled", B, "accountEnabled"),
    ("dirSyncEnabled", B, "onPremisesSyncEnabled"),
    ("employeeHireDate", D, "employeeHireDate"),
    ("city", S, "city"),
    ("country", S, "country"),
    ("companyName", S, "companyName"),
    ("department", S, "department"),
    ("displayName", S, "displayName"),
    ("employeeId", S, "employeeId"),
    ("facsimileTelephoneNumber", S, "faxNumber"),
    ("givenName", S, "givenName"),
    ("jobTitle", S, "jobTitle"),
    ("mail", S, "mail"),
    ("mailNickName", S, "mailNickname"),
    ("mobile", S, "mobilePhone"),
    ("objectId", S, "id"),
    ("onPremisesDistinguishedName", S, "onPremisesDistinguishedName"),
    ("onPremisesSecurityIdentifier", S, "onPremisesSecurityIdentifier"),
    ("passwordPolicies", S, "passwordPolicies"),
    ("physicalDeliveryOfficeName", S, "officeLocation"),
    ("postalCode", S, "postalCode"),
    ("preferredLanguage", S, "preferredLanguage"),
    ("sipProxyAddress", S, "proxyAddresses"),
    ("state", S, "state"),
    ("streetAddress", S, "streetAddress"),
    ("surname", S, "surname"),
    ("telephoneNumber", S, "businessPhones"),
    ("usageLocation", S, "usageLocation"),
    ("userPrincipalName", S, "userPrincipalName"),
    ("userType", S, "userType"),
    ("otherMails", SC, "otherMails"),
    ("proxyAddresses", SC, "proxyAddresses"),
    ("assignedPlans", OC, "assignedPlans"),
    ("memberOf", MO, "memberOf"),
]
_USER += [
    (f"extensionAttribute{n}", S, f"onPremisesExtensionAttributes.extensionAttribute{n}")
    for n in range(1, 16)
]

# Attributes users can set about themselves (phone numbers and language in their account
# settings, alternate email through password-reset registration); Microsoft's guidance is not to
# grant access or licenses on them.
_USER_EDITABLE = frozenset({"mobile", "telephoneNumber", "otherMails", "preferredLanguage"})

_DEVICE = [
    ("accountEnabled", B, "accountEnabled"),
    ("deviceCategory", S, "deviceCategory"),
    ("deviceId", S, "deviceId"),
    ("deviceManagementAppId", S, "mdmAppId"),
    ("deviceManufacturer", S, "manufacturer"),
    ("deviceModel", S, "model"),
    ("displayName", S, "displayName"),
    ("deviceOSType", S, "operatingSystem"),
    ("deviceOSVersion", S, "operatingSystemVersion"),
    ("deviceOwnership", S, "deviceOwnership"),
    ("devicePhysicalIds", SC, "physicalIds"),
    ("deviceTrustType", S, "trustType"),
    ("enrollmentProfileName", S, "enrollmentProfileName"),
    ("isRooted", B, "isRooted"),
    ("managementType", S, "managementType"),
    ("memberOf", MO, "memberOf"),
    ("objectId", S, "id"),
    ("profileType", S, "profileType"),
    # The docs call systemLabels a string; Graph holds a list (A8), so it is a collection here.
    ("systemLabels", SC, "systemLabels"),
]
_DEVICE += [
    (f"extensionAttribute{n}", S, f"extensionAttributes.extensionAttribute{n}")
    for n in range(1, 16)
]

_DERIVATIONS = {
    ("user", "telephoneNumber"): Derivation.FIRST_ITEM,
    ("user", "sipProxyAddress"): Derivation.SIP_ADDRESS,
}


def _build(object_type: ObjectType, rows: list) -> dict[str, PropertySpec]:
    specs = {}
    for name, type_, path in rows:
        specs[name.lower()] = PropertySpec(
            object_type=object_type,
            name=name,
            type=type_,
            graph_path=tuple(path.split(".")),
            derivation=_DERIVATIONS.get((object_type, name), Derivation.NONE),
            user_editable=object_type == "user" and name in _USER_EDITABLE,
        )
    return specs


PROPERTIES: dict[ObjectType, dict[str, PropertySpec]] = {
    "user": _build("user", _USER),
    "device": _build("device", _DEVICE),
}

# extension_<application id without hyphens>_<attribute name>; the docs say "0-9 and A-Z" but
# show lower-case hex, so either case is taken (A25).
_CUSTOM_EXTENSION = re.compile(r"extension_([0-9a-f]{32})_(\w+)", re.IGNORECASE)


def lookup(object_type: ObjectType, name: str) -> PropertySpec | None:
    """The property `object_type.name`, or None if Entra doesn't know it."""
    spec = PROPERTIES[object_type].get(name.lower())
    if spec is not None:
        return spec
    if object_type == "user" and _CUSTOM_EXTENSION.fullmatch(name):
        return PropertySpec("user", name, PropertyType.STRING, (name,), Derivation.EXTENSION)
    return None


def spec_of(target: PropertyRef) -> PropertySpec:
    """The property a parsed reference names; the parser only builds known ones."""
    spec = lookup(target.object_type, target.name)
    assert spec is not None, target
    return spec


def names(object_type: ObjectType) -> list[str]:
    """Documented property names of one object type, for suggestions."""
    return [spec.name for spec in PROPERTIES[object_type].values()]


def graph_properties(rule: Rule) -> frozenset[str]:
    """The top-level Graph properties a rule reads of the objects it selects: what a read of
    them must `$select` for the rule to see what Entra sees."""
    names: set[str] = set()
    for node in walk(rule):
        if isinstance(node, PropertyRef):
            names.add(spec_of(node).graph_path[0])
    if isinstance(rule.body, DirectReports):
        names.add("manager")
    return frozenset(names)
