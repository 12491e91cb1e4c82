"""The desired state: a policy with every name resolved against the tenant, as frozen data.

Field names are Graph's where Graph has one (displayName, groupTypes, disabledPlans), so the
plan can compare a DesiredGroup with a model.Group attribute by attribute.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.errors import Location
from reconciler.policy.group_lock import GroupLock
from reconciler.policy.lock import SkuLock
from reconciler.policy.prices import Price

ON, PAUSED = "On", "Paused"  # membershipRuleProcessingState


@dataclass(frozen=True, slots=True)
class Settings:
    """Guards; None means the guard's built-in default (set by the plan's guards)."""

    maxLicenseRemovals: int | None = None
    maxMembershipDropPercent: float | None = None
    # sets of service plan ids a user may have only one of, added to the engine's catalog
    mutuallyExclusivePlans: tuple[frozenset[str], ...] = ()
    # (dependent plan id, plan ids of which it needs one), added to the engine's catalog
    dependentPlans: tuple[tuple[str, frozenset[str]], ...] = ()
    # what a seat of a product costs a month, in the tenant's order of products
    prices: tuple[Price, ...] = ()


@dataclass(frozen=True, slots=True)
class DesiredLicense:
    """A product a group hands out, with the service plan ids to turn off.

    `enabledPlans` is the allow-list as written (plan ids), or None for a deny-list; with an
    allow-list, `disabledPlans` is every other plan the SKU has today.
    """

    skuId: str
    skuPartNumber: str
    disabledPlans: frozenset[str]
    enabledPlans: frozenset[str] | None
    location: Location

    @property
    def is_allow_list(self) -> bool:
        return self.enabledPlans is not None


@dataclass(frozen=True, slots=True)
class DesiredGroup:
    """A group the policy manages, shaped as Graph's group.

    `members` is None when the policy leaves membership alone (neither rule nor members);
    `membershipRule` has surrounding whitespace removed, as a YAML block scalar adds a newline.
    """

    displayName: str
    id: str | None
    description: str | None
    securityEnabled: bool
    mailEnabled: bool
    groupTypes: tuple[str, ...]
    membershipRule: str | None
    membershipRuleProcessingState: str | None
    members: tuple[str, ...] | None
    licenses: tuple[DesiredLicense, ...]
    protect: bool
    location: Location

    @property
    def is_dynamic(self) -> bool:
        return self.membershipRule is not None


@dataclass(frozen=True, slots=True)
class RetiredGroup:
    """A group that leaves management: licenses removed first, then deleted."""

    displayName: str
    id: str | None
    location: Location


@dataclass(frozen=True, slots=True)
class DesiredState:
    """Everything the policy asks for; only these groups are ever changed.

    `lock` is the policy's skus.lock.yaml (the service plans its SKUs had when last locked),
    `groupLock` its groups.lock.yaml (the groups it managed when last locked); None when the
    policy has none yet.
    """

    tenant: str | None
    settings: Settings
    groups: tuple[DesiredGroup, ...]
    retired: tuple[RetiredGroup, ...]
    lock: SkuLock | None = None
    groupLock: GroupLock | None = None
