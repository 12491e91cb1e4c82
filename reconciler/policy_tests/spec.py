"""Policy tests with their names resolved against the tenant: what each test expects, as data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from reconciler.errors import Location

# the plan-wide limits a test may set (schemas/policy-tests.schema.json, `plan`)
LICENSE_REMOVALS = "licenseRemovals"
SERVICE_PLAN_REMOVALS = "servicePlanRemovals"
REMOVALS = "removals"
LICENSE_ADDITIONS = "licenseAdditions"
NEW_ASSIGNMENT_ERRORS = "newAssignmentErrors"
LIMIT_KINDS = (
    LICENSE_REMOVALS,
    SERVICE_PLAN_REMOVALS,
    REMOVALS,
    LICENSE_ADDITIONS,
    NEW_ASSIGNMENT_ERRORS,
)


@dataclass(frozen=True, slots=True)
class SkuRef:
    skuId: str
    skuPartNumber: str


@dataclass(frozen=True, slots=True)
class PlanRef:
    """A service plan; the id in lower case."""

    servicePlanId: str
    servicePlanName: str


@dataclass(frozen=True, slots=True)
class GroupRef:
    id: str
    displayName: str


@dataclass(frozen=True, slots=True)
class HeldLicense:
    """`expect.licenses`: a product the user holds, maybe through a group, with plans on/off."""

    sku: SkuRef
    group: GroupRef | None = None
    enabledPlans: tuple[PlanRef, ...] = ()
    disabledPlans: tuple[PlanRef, ...] = ()
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class AbsentLicense:
    """`expect.noLicenses`: a product the user doesn't hold (or not through `group`)."""

    sku: SkuRef
    group: GroupRef | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class UserExpectations:
    licenses: tuple[HeldLicense, ...] = ()
    noLicenses: tuple[AbsentLicense, ...] = ()
    servicePlans: tuple[PlanRef, ...] = ()
    noServicePlans: tuple[PlanRef, ...] = ()
    memberOf: tuple[GroupRef, ...] = ()
    notMemberOf: tuple[GroupRef, ...] = ()
    usageLocation: str | None = None


@dataclass(frozen=True, slots=True)
class Limit:
    """A plan-wide limit: at most `atMost` of `kind`, of the things the filters select."""

    kind: str  # one of LIMIT_KINDS
    atMost: int
    sku: SkuRef | None = None
    servicePlan: PlanRef | None = None
    group: GroupRef | None = None
    error: str | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class SeatFloor:
    """`plan.freeSeats`: at least `atLeast` seats of a product left after the plan."""

    sku: SkuRef
    atLeast: int
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class PolicyTest:
    """One test. Its subject is a user of the tenant (`userId`), a new user (`newUser`: Graph
    attributes) or, with neither, the plan as a whole (`limits`, `seats`)."""

    name: str
    location: Location
    userId: str | None = None
    newUser: Mapping[str, Any] | None = field(default=None, compare=False)
    expect: UserExpectations | None = None
    limits: tuple[Limit, ...] = ()
    seats: tuple[SeatFloor, ...] = ()

    @property
    def kind(self) -> str:
        if self.userId is not None:
            return "user"
        return "newUser" if self.newUser is not None else "plan"
