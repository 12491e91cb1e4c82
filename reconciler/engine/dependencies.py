"""Service plans left without their prerequisite, as Entra settles them for one user.

Taking away a plan that another of the user's plans depends on fails: the user keeps that
group's licenses, `state: ActiveWithError, error: DependencyViolation`, until the dependency is
met another way or the dependent plan goes. A group product whose plan would lack its
prerequisite fails with `DependencyViolation`, all or nothing for the group.

A dependent plan inside a product that carries one of its prerequisites too (Phone System in
Microsoft 365 E5, beside Teams and Skype for Business) is taken as met by that product:
Microsoft sells products that work, and a snapshot may list only some of a product's plans.
The catalog's dependencies bite where Microsoft's examples put them, on add-ons bought apart;
those a policy declares (`settings.dependentPlans`) bite wherever they apply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.engine.assigned_plans import plans_on
from reconciler.engine.catalog import ServicePlanRules
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    DEPENDENCY_VIOLATION,
    ERROR,
    LicenseAssignmentState,
    User,
)

OTHER_ERROR = "Other"  # "the result of an error with another license assigned by the same group"


def delivered(state: LicenseAssignmentState) -> bool:
    """Whether the user has the assignment's plans: active, or kept in error by a dependency."""
    return state.state in (ACTIVE, ACTIVE_WITH_ERROR)


def held_skus(user: User) -> frozenset[str]:
    """The products (lower-case skuId) a user holds before a change, from any assignment."""
    return frozenset(s.skuId.lower() for s in user.licenseAssignmentStates if delivered(s))


def bundled(
    plans: Mapping[str, frozenset[str]], rules: ServicePlanRules
) -> dict[str, frozenset[str]]:
    """Per product (lower-case skuId), its dependent plans it carries a prerequisite for."""
    return {
        sku: frozenset(plan for plan in on if rules.prerequisites([plan]) & on)
        for sku, on in plans.items()
    }


def settle_dependencies(
    user: User,
    found: list[LicenseAssignmentState],
    plans: Mapping[str, frozenset[str]],
    rules: ServicePlanRules,
    exempt: Mapping[str, frozenset[str]],
) -> list[LicenseAssignmentState]:
    """The user's states once plans left without their prerequisite are dealt with.

    Each round either keeps a group's removed licenses or fails a group's new ones, and a group
    goes through each at most once, so the rounds end.
    """

    def on(state: LicenseAssignmentState) -> frozenset[str]:
        return plans_on(plans, state.skuId, state.disabledPlans)

    def failed(
        state: LicenseAssignmentState, how: str, cause: frozenset[str]
    ) -> LicenseAssignmentState:
        # the product that breaks the dependency names it; the group's others show `Other`
        error = DEPENDENCY_VIOLATION if on(state) & cause else OTHER_ERROR
        return replace(state, state=how, error=error)

    held = held_skus(user)
    while True:
        giving = [s for s in found if delivered(s)]
        judged = frozenset().union(
            *(on(s) - exempt.get(s.skuId.lower(), frozenset()) for s in giving)
        )
        unmet = rules.unmet(frozenset().union(*(on(s) for s in giving))) & judged
        if not unmet:
            return found
        needed = rules.prerequisites(unmet)
        now = {(s.assignedByGroup, s.skuId.lower(), s.disabledPlans) for s in found if delivered(s)}
        removed = [
            s
            for s in user.licenseAssignmentStates
            if s.assignedByGroup is not None
            and delivered(s)
            and (s.assignedByGroup, s.skuId.lower(), s.disabledPlans) not in now
        ]
        # Entra refuses the removal of a prerequisite: the user keeps that group's licenses
        keeping = {s.assignedByGroup for s in removed if on(s) & needed}
        if keeping:
            kept = [
                failed(s, ACTIVE_WITH_ERROR, needed)
                for s in removed
                if s.assignedByGroup in keeping
            ]
            kept_skus = {(s.assignedByGroup, s.skuId.lower()) for s in kept}
            found = [
                # the group's other products go into error too; those held stay delivered
                replace(
                    s,
                    state=ACTIVE_WITH_ERROR if s.skuId.lower() in held else ERROR,
                    error=OTHER_ERROR,
                )
                if s.assignedByGroup in keeping
                else s
                for s in found
                if (s.assignedByGroup, s.skuId.lower()) not in kept_skus
            ] + kept
            continue

        # otherwise a group hands out a plan the user has no prerequisite for: that group's
        # new products fail; what the user already held stays held
        def new(state: LicenseAssignmentState) -> bool:
            return state.assignedByGroup is not None and state.skuId.lower() not in held

        failing = {
            s.assignedByGroup for s in found if new(s) and s.state == ACTIVE and on(s) & unmet
        }
        if not failing:
            return found  # only a direct assignment, or what was held, lacks it
        found = [
            failed(s, ERROR, unmet) if s.assignedByGroup in failing and new(s) else s for s in found
        ]
