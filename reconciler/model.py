"""Tenant state as plain frozen data, shaped and named as Microsoft Graph returns it.

Attribute names are Graph's own (skuPartNumber, assignedByGroup, usageLocation), so a reader
can hold a Graph response and this model side by side; `reconciler.providers.snapshot` converts
between the two.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# licenseAssignmentState.state and .error values, as Graph reports them
ACTIVE, ACTIVE_WITH_ERROR, DISABLED, ERROR = "Active", "ActiveWithError", "Disabled", "Error"
NO_ERROR = "None"  # Graph reports success as the string "None", not null
COUNT_VIOLATION = "CountViolation"
MUTUALLY_EXCLUSIVE_VIOLATION = "MutuallyExclusiveViolation"
DEPENDENCY_VIOLATION = "DependencyViolation"

DYNAMIC_MEMBERSHIP = "DynamicMembership"  # in group.groupTypes
UNIFIED = "Unified"  # in group.groupTypes: a Microsoft 365 group
# what Graph refuses in a group's mailNickname, besides non-ASCII, and its longest
MAIL_NICKNAME_FORBIDDEN = frozenset('@()\\[]";:<>,. ')
MAIL_NICKNAME_MAX = 64


@dataclass(frozen=True, slots=True)
class ServicePlan:
    """servicePlanInfo: one service of a product."""

    servicePlanId: str
    servicePlanName: str
    provisioningStatus: str = "Success"
    appliesTo: str = "User"


@dataclass(frozen=True, slots=True)
class PrepaidUnits:
    enabled: int = 0
    suspended: int = 0
    warning: int = 0
    lockedOut: int = 0


@dataclass(frozen=True, slots=True)
class Sku:
    """subscribedSku: a product the tenant has bought, with its seats."""

    skuId: str
    skuPartNumber: str
    servicePlans: tuple[ServicePlan, ...] = ()
    prepaidUnits: PrepaidUnits = PrepaidUnits()
    consumedUnits: int = 0
    capabilityStatus: str = "Enabled"
    appliesTo: str = "User"


@dataclass(frozen=True, slots=True)
class AssignedLicense:
    """A product assigned to a user or a group, less the service plans turned off."""

    skuId: str
    disabledPlans: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class LicenseAssignmentState:
    """One assignment of a product to a user: direct (assignedByGroup None) or from a group."""

    skuId: str
    disabledPlans: frozenset[str] = frozenset()
    assignedByGroup: str | None = None
    state: str = ACTIVE
    error: str = NO_ERROR


@dataclass(frozen=True, slots=True)
class User:
    """A user, its licenses, and every attribute a membership rule may read."""

    id: str
    userPrincipalName: str
    displayName: str | None = None
    accountEnabled: bool | None = True
    usageLocation: str | None = None
    # effective licenses: the union over every assignment, one entry per product
    assignedLicenses: tuple[AssignedLicense, ...] = ()
    licenseAssignmentStates: tuple[LicenseAssignmentState, ...] = ()
    # the Graph object as read (department, manager, proxyAddresses, ...), for rules
    attributes: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Group:
    """A group; its direct members are ids of users, groups or devices."""

    id: str
    displayName: str
    description: str | None = None
    groupTypes: tuple[str, ...] = ()
    securityEnabled: bool = True
    mailEnabled: bool = False
    mailNickname: str | None = None
    membershipRule: str | None = None
    membershipRuleProcessingState: str | None = None
    assignedLicenses: tuple[AssignedLicense, ...] = ()
    members: tuple[str, ...] = ()

    @property
    def is_dynamic(self) -> bool:
        return DYNAMIC_MEMBERSHIP in self.groupTypes


def mail_nickname(display_name: str) -> str:
    """A mailNickname Graph accepts, made from a group's displayName."""
    text = "".join(
        c
        for c in display_name
        if c.isascii() and c.isprintable() and c not in MAIL_NICKNAME_FORBIDDEN
    )
    return (text or "group")[:MAIL_NICKNAME_MAX]


def valid_mail_nickname(value: object) -> bool:
    return isinstance(value, str) and mail_nickname(value) == value and bool(value)


@dataclass(frozen=True, slots=True)
class Organization:
    id: str
    displayName: str
    countryLetterCode: str | None = None
    # verified domain names, the first the initial one (contoso.onmicrosoft.com)
    verifiedDomains: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Tenant:
    """Everything reconciler reads from a tenant."""

    organization: Organization
    subscribedSkus: tuple[Sku, ...] = ()
    users: tuple[User, ...] = ()
    groups: tuple[Group, ...] = ()
    devices: tuple[Mapping[str, Any], ...] = ()
