"""What a plan says it does to people agrees with the tenant its changes lead to.

Over small generated tenants and policies (tests/plan/generated.py), the plan's changes are
applied in the plan's order, each (or a group's license changes that come together, one
`assignLicense`) to the settled tenant the one before left, as apply runs them through the
local tenant, and the users' licenses at every step are compared with the plan's impact.
"Settled" is as Entra settles a tenant: license changes show in the users' assignedPlans, which
assignedPlans rules read, and membership changes reach memberOf rules.

A removal marked temporary (a static group turned dynamic loses every member before Entra
evaluates its rule) is the one listed loss a user may come back from.

The counterexamples below were found by these properties. Those fixed since are explicit
examples of every property; those still open are known gaps, each checked to still fail
(strict xfail) so that its fix is noticed and it moves to the fixed ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import assume, given, reject

from reconciler.engine import recompute
from reconciler.model import ACTIVE, ACTIVE_WITH_ERROR, DEPENDENCY_VIOLATION, Tenant
from reconciler.plan.build import Plan, build_plan, service_plan_rules
from tests.plan.generated import (
    PART_NUMBERS,
    PLAN_NAMES,
    Dept,
    GroupSpec,
    HasPlan,
    Lic,
    MemberOf,
    NotSettled,
    Scenario,
    UserSpec,
    apply_one_by_one,
    enabled_plans,
    properties,
    scenarios,
)

PROPERTY = properties(25)

# --- counterexamples --------------------------------------------------------------------------

# One ENTERPRISEPACK seat, held by u1 through LIC-A; the policy moves u0 and u1 to a new group
# and retires LIC-A. Plan: u1 loses it, u0 gains it. Applied (licenses added first): u1 already
# holds it when LIC-New's license arrives, so keeps it through LIC-New without a new seat, and
# u0 is left in CountViolation.
HOLDER_MOVED_TO_A_NEW_GROUP = Scenario(
    seats=(("ENTERPRISEPACK", 1),),
    users=(UserSpec("u0", "Sales"), UserSpec("u1", "IT")),
    groups=(GroupSpec("LIC-A", Dept(("IT",)), (), (Lic("ENTERPRISEPACK"),)),),
    policy=(GroupSpec("LIC-New", None, ("u0", "u1"), (Lic("ENTERPRISEPACK"),)),),
    retired=("LIC-A",),
)

# One seat each of ENTERPRISEPACK (SharePoint Plan 2) and STANDARDPACK (SharePoint Plan 1); u0
# holds ENTERPRISEPACK through LIC-A, and the policy moves Sales to STANDARDPACK in a new group.
# Plan: u0 loses ENTERPRISEPACK and gains STANDARDPACK. Applied: while u0 still has
# ENTERPRISEPACK their STANDARDPACK conflicts, u1 takes the only seat, and u0 ends with nothing.
CONFLICTING_MOVE_LOSES_THE_SEAT = Scenario(
    seats=(("ENTERPRISEPACK", 1), ("STANDARDPACK", 1)),
    users=(UserSpec("u0", "Sales"), UserSpec("u1", "Sales")),
    groups=(GroupSpec("LIC-A", Dept(("Sales",)), (), (Lic("ENTERPRISEPACK"),)),),
    policy=(
        GroupSpec("LIC-A", Dept(("Sales",))),
        GroupSpec("LIC-New", Dept(("Sales",)), (), (Lic("STANDARDPACK"),)),
    ),
)

# u0 has Exchange Online Archiving (LIC-C) and two prerequisites for it, ENTERPRISEPACK (LIC-A)
# and SPE_E3 (LIC-B); the policy removes u0 from both. Plan: no loss (both kept, in
# DependencyViolation). Applied: leaving LIC-A first breaks nothing (SPE_E3 has Exchange), so u0
# loses ENTERPRISEPACK; only LIC-B is kept.
TWO_PREREQUISITES_TAKEN_AWAY = Scenario(
    seats=(("ENTERPRISEPACK", 5), ("SPE_E3", 5), ("EXCHANGEARCHIVE_ADDON", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-A", None, ("u0",), (Lic("ENTERPRISEPACK"),)),
        GroupSpec("LIC-B", None, ("u0",), (Lic("SPE_E3"),)),
        GroupSpec("LIC-C", None, ("u0",), (Lic("EXCHANGEARCHIVE_ADDON"),)),
    ),
    policy=(
        GroupSpec("LIC-A", None, (), (Lic("ENTERPRISEPACK"),)),
        GroupSpec("LIC-B", None, (), (Lic("SPE_E3"),)),
    ),
)

# LIC-B (dynamic, Support) becomes static with u0 only; LIC-A, which gave u0 the same product,
# is retired. Plan: u1 loses ENTERPRISEPACK, u0 keeps it through LIC-B. Applied: AddMembers
# runs before the groupTypes change (a taking change, as u1 leaves), so u0 is added to a group
# that is still dynamic and its rule drops them; u0 loses ENTERPRISEPACK too.
DYNAMIC_TURNED_STATIC_GETS_ITS_MEMBERS_TOO_EARLY = Scenario(
    seats=(("ENTERPRISEPACK", 5),),
    users=(UserSpec("u0", "Sales"), UserSpec("u1", "Support")),
    groups=(
        GroupSpec("LIC-A", Dept(("Sales",)), (), (Lic("ENTERPRISEPACK"),)),
        GroupSpec("LIC-B", Dept(("Support",)), (), (Lic("ENTERPRISEPACK"),)),
    ),
    policy=(GroupSpec("LIC-B", None, ("u0",), (Lic("ENTERPRISEPACK"),)),),
    retired=("LIC-A",),
)

# LIC-A gives EMS to users with Exchange Online (Plan 2) enabled; the policy adds ENTERPRISEPACK
# to u0's group. Plan: u0 gains ENTERPRISEPACK. Applied: u0's assignedPlans now show Exchange,
# so u0 joins LIC-A and gains EMS too.
ASSIGNED_PLANS_RULE_GAINS = Scenario(
    seats=(("ENTERPRISEPACK", 5), ("EMS", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-A", HasPlan("EXCHANGE_S_ENTERPRISE"), (), (Lic("EMS"),)),
        GroupSpec("LIC-B", None, ("u0",)),
    ),
    policy=(GroupSpec("LIC-B", None, ("u0",), (Lic("ENTERPRISEPACK"),)),),
)

# The same tenant the other way: taking ENTERPRISEPACK away also drops u0 from LIC-A, and EMS
# with it; the plan lists ENTERPRISEPACK only.
ASSIGNED_PLANS_RULE_LOSES = Scenario(
    seats=(("ENTERPRISEPACK", 5), ("EMS", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-A", HasPlan("EXCHANGE_S_ENTERPRISE"), (), (Lic("EMS"),)),
        GroupSpec("LIC-B", None, ("u0",), (Lic("ENTERPRISEPACK"),)),
    ),
    policy=(GroupSpec("LIC-B", None, ("u0",)),),
)

# LIC-M gives EMS to the members of LIC-X; the policy edits LIC-X's rule from Sales to IT. Plan:
# nothing changes (LIC-M was evaluated against LIC-X's members before the edit). Applied: LIC-M
# follows LIC-X's new members, and u1 gains EMS.
MEMBER_OF_A_GROUP_WHOSE_RULE_CHANGES = Scenario(
    seats=(("EMS", 5),),
    users=(UserSpec("u0", "Sales"), UserSpec("u1", "IT")),
    groups=(
        GroupSpec("LIC-X", Dept(("Sales",))),
        GroupSpec("LIC-M", MemberOf("LIC-X"), (), (Lic("EMS"),)),
    ),
    policy=(GroupSpec("LIC-X", Dept(("IT",))),),
)

# LIC-B's rule becomes "members of LIC-A", and u0 is added to LIC-A. Plan: nobody's licenses
# change. Applied: the rule edit runs first, while LIC-A is still empty, so u0 goes without EMS
# until LIC-A's members are added.
MEMBER_OF_RULE_EDITED_BEFORE_ITS_GROUP_FILLS = Scenario(
    seats=(("EMS", 1),),
    users=(UserSpec("u0", "Sales"),),
    groups=(GroupSpec("LIC-A"), GroupSpec("LIC-B", Dept(("Sales",)), (), (Lic("EMS"),))),
    policy=(
        GroupSpec("LIC-A", None, ("u0",)),
        GroupSpec("LIC-B", MemberOf("LIC-A"), (), (Lic("EMS"),)),
    ),
)

# u0 has SPE_E3 and STANDARDPACK from one group (their SharePoint plans conflict); the policy
# gives SPE_E3 through a new group and retires the old one. Plan: u0 loses STANDARDPACK only.
# Applied: LIC-New's SPE_E3 is refused while STANDARDPACK is held, and LIC-A's SPE_E3 is removed
# before its STANDARDPACK, so u0 goes without SPE_E3 between the two removals.
CONFLICT_CLEARED_AFTER_THE_KEPT_PRODUCT_GOES = Scenario(
    seats=(("SPE_E3", 5), ("STANDARDPACK", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(GroupSpec("LIC-A", None, ("u0",), (Lic("SPE_E3"), Lic("STANDARDPACK"))),),
    policy=(GroupSpec("LIC-New", None, ("u0",), (Lic("SPE_E3"),)),),
    retired=("LIC-A",),
)

# u0 has SPE_E3 (one seat) through LIC-A; the policy adds EMS (no seats) to LIC-A and gives
# SPE_E3 through a new group too. Plan: no change for u0. Applied: EMS is added to LIC-A before
# SPE_E3 to LIC-New, and LIC-A fails all or nothing, so u0 goes without SPE_E3 for a step.
FAILING_ADDITION_BEFORE_THE_NEW_PATH = Scenario(
    seats=(("SPE_E3", 1), ("EMS", 0)),
    users=(UserSpec("u0", "Sales"),),
    groups=(GroupSpec("LIC-A", None, ("u0",), (Lic("SPE_E3"),)),),
    policy=(
        GroupSpec("LIC-A", None, ("u0",), (Lic("SPE_E3"), Lic("EMS"))),
        GroupSpec("LIC-New", None, ("u0",), (Lic("SPE_E3"),)),
    ),
)

# A new group gives u0 ENTERPRISEPACK (a seat free) and EMS (no seat). Plan: the group fails for
# u0 all or nothing, so u0 gains nothing. Applied: the two licenses are added one change at a
# time; u0 gets ENTERPRISEPACK from the first, and keeps it when EMS then fails.
NEW_GROUP_PRODUCTS_ADDED_ONE_AT_A_TIME = Scenario(
    seats=(("ENTERPRISEPACK", 1), ("EMS", 0)),
    users=(UserSpec("u0", "Sales"),),
    groups=(),
    policy=(GroupSpec("LIC-New", None, ("u0",), (Lic("ENTERPRISEPACK"), Lic("EMS"))),),
)

# LIC-A gives STANDARDPACK (SharePoint Plan 1) to users with Exchange Online (Plan 2); a new
# group gives u0 ENTERPRISEPACK (Exchange Online Plan 2, SharePoint Plan 2). Entra settles with
# u0 in LIC-A and its STANDARDPACK refused as MutuallyExclusiveViolation; building the plan
# raises instead ("memberships don't settle").
CONFLICT_REACHED_THROUGH_ASSIGNED_PLANS = Scenario(
    seats=(("STANDARDPACK", 5), ("ENTERPRISEPACK", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(GroupSpec("LIC-A", HasPlan("EXCHANGE_S_ENTERPRISE"), (), (Lic("STANDARDPACK"),)),),
    policy=(GroupSpec("LIC-New", None, ("u0",), (Lic("ENTERPRISEPACK"),)),),
)

# u0 has ENTERPRISEPACK from LIC-B and LIC-D, and Exchange Online Archiving from LIC-D; the
# policy drops ENTERPRISEPACK from LIC-D and retires LIC-B. Plan: u0 loses the archive add-on.
# Applied: LIC-D's ENTERPRISEPACK goes first (LIC-B still gives Exchange), then taking LIC-B's
# away would break the add-on, so u0 keeps it (DependencyViolation) and the add-on too.
PREREQUISITE_REMOVED_FROM_TWO_GROUPS = Scenario(
    seats=(("ENTERPRISEPACK", 5), ("EXCHANGEARCHIVE_ADDON", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-B", None, ("u0",), (Lic("ENTERPRISEPACK"),)),
        GroupSpec("LIC-D", None, ("u0",), (Lic("ENTERPRISEPACK"), Lic("EXCHANGEARCHIVE_ADDON"))),
    ),
    policy=(GroupSpec("LIC-D", None, ("u0",), (Lic("EXCHANGEARCHIVE_ADDON"),)),),
    retired=("LIC-B",),
)

# One seat each of SPE_E3 and EMS: u0 holds SPE_E3 through LIC-C, u1 holds EMS through LIC-A. The
# policy moves EMS from LIC-A to LIC-C. Plan: u1 loses EMS, u0 gains it and keeps SPE_E3.
# Applied: EMS reaches LIC-C while u1 still holds the seat, so LIC-C fails for u0 all or nothing
# and u1 takes SPE_E3 as well: u0 loses SPE_E3, which the plan doesn't list.
SEAT_HOLDER_MOVES_INTO_A_GROUP_THAT_ADDS_IT = Scenario(
    seats=(("SPE_E3", 1), ("EMS", 1)),
    users=(UserSpec("u0", "Sales"), UserSpec("u1", "Sales")),
    groups=(
        GroupSpec("LIC-A", None, ("u1",), (Lic("EMS"),)),
        GroupSpec("LIC-C", Dept(("Sales",)), (), (Lic("SPE_E3"),)),
    ),
    policy=(
        GroupSpec("LIC-A", None, (), (Lic("EMS"),)),
        GroupSpec("LIC-C", Dept(("Sales",)), (), (Lic("SPE_E3"), Lic("EMS"))),
    ),
)

# LIC-B fails for u0 (ENTERPRISEPACK has no seat); the policy drops ENTERPRISEPACK from LIC-B,
# so LIC-B's EMS can reach u0, and removes u0 from LIC-A, which gives EMS now. Plan: no change
# for u0. Applied: the removal from LIC-A runs before the removal that unblocks LIC-B, so u0
# goes without EMS for a step.
UNBLOCKING_REMOVAL_AFTER_THE_MEMBER_LEAVES = Scenario(
    seats=(("EMS", 1), ("ENTERPRISEPACK", 0)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-A", None, ("u0",), (Lic("EMS"),)),
        GroupSpec("LIC-B", None, ("u0",), (Lic("ENTERPRISEPACK"), Lic("EMS"))),
    ),
    policy=(
        GroupSpec("LIC-A", None, (), (Lic("EMS"),)),
        GroupSpec("LIC-B", None, ("u0",), (Lic("EMS"),)),
    ),
)

# LIC-A gives ENTERPRISEPACK without Exchange; the policy turns Exchange on and adds Exchange
# Online Archiving. Plan: u0 keeps ENTERPRISEPACK and gains the add-on. Applied: the add-on is
# added before Exchange is enabled, fails for want of its prerequisite, and takes the group's
# ENTERPRISEPACK with it for a step.
ADD_ON_ADDED_BEFORE_ITS_PREREQUISITE_IS_ENABLED = Scenario(
    seats=(("ENTERPRISEPACK", 5), ("EXCHANGEARCHIVE_ADDON", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-A", None, ("u0",), (Lic("ENTERPRISEPACK", ("EXCHANGE_S_ENTERPRISE",)),)),
    ),
    policy=(
        GroupSpec("LIC-A", None, ("u0",), (Lic("ENTERPRISEPACK"), Lic("EXCHANGEARCHIVE_ADDON"))),
    ),
)

# LIC-B and LIC-C each give u0 ENTERPRISEPACK and Exchange Online Archiving; the policy removes
# u0 from LIC-C and ENTERPRISEPACK from LIC-B. Plan: no loss (a prerequisite is kept). Applied:
# leaving LIC-C breaks nothing; then LIC-B's ENTERPRISEPACK is kept (DependencyViolation) but
# LIC-B's own add-on goes to Error (Other), so u0 loses the add-on the prerequisite was kept for.
ADD_ON_LOST_WHEN_ITS_GROUP_KEEPS_THE_PREREQUISITE = Scenario(
    seats=(("ENTERPRISEPACK", 5), ("EXCHANGEARCHIVE_ADDON", 5)),
    users=(UserSpec("u0", "Sales"),),
    groups=(
        GroupSpec("LIC-B", None, ("u0",), (Lic("ENTERPRISEPACK"), Lic("EXCHANGEARCHIVE_ADDON"))),
        GroupSpec("LIC-C", None, ("u0",), (Lic("ENTERPRISEPACK"), Lic("EXCHANGEARCHIVE_ADDON"))),
    ),
    policy=(
        GroupSpec("LIC-B", None, ("u0",), (Lic("EXCHANGEARCHIVE_ADDON"),)),
        GroupSpec("LIC-C", None, (), (Lic("ENTERPRISEPACK"), Lic("EXCHANGEARCHIVE_ADDON"))),
    ),
)

# One seat of Exchange Online Archiving. The policy gives it to Sales (u0, who has no Exchange)
# through LIC-A, which turns dynamic, and to u1 through a new group, and retires LIC-C, u1's
# only Exchange. Plan: u0's assignment takes the seat though it fails for want of Exchange, so
# u1 gets no add-on and loses ENTERPRISEPACK. Applied: LIC-A is still empty when its license
# arrives, u1 takes the seat, and then keeps ENTERPRISEPACK (DependencyViolation) as well.
SEAT_TAKEN_BY_AN_ADD_ON_THAT_FAILS = Scenario(
    seats=(("EXCHANGEARCHIVE_ADDON", 1), ("ENTERPRISEPACK", 1)),
    users=(UserSpec("u0", "Sales"), UserSpec("u1", "Support")),
    groups=(
        GroupSpec("LIC-A"),
        GroupSpec("LIC-C", Dept(("Support",)), (), (Lic("ENTERPRISEPACK"),)),
    ),
    policy=(
        GroupSpec("LIC-A", Dept(("Sales",)), (), (Lic("EXCHANGEARCHIVE_ADDON"),)),
        GroupSpec("LIC-New", None, ("u1",), (Lic("EXCHANGEARCHIVE_ADDON"),)),
    ),
    retired=("LIC-C",),
)

# Two ENTERPRISEPACK seats, one used by u2. u0 is in LIC-A and LIC-C, which give only Exchange
# Online Archiving and fail for want of Exchange. The policy makes LIC-C give ENTERPRISEPACK to
# u1 instead. Plan: u1 gains ENTERPRISEPACK. Applied: ENTERPRISEPACK reaches LIC-C while u0 is
# still a member, so u0 gets it and the add-on; removing u0 would break the add-on, so u0 keeps
# ENTERPRISEPACK (DependencyViolation) without it counting as a seat, and u1 gets the last one:
# three holders of two seats.
KEPT_PREREQUISITE_OVERSPENDS_SEATS = Scenario(
    seats=(("EXCHANGEARCHIVE_ADDON", 1), ("ENTERPRISEPACK", 2)),
    users=(
        UserSpec("u0", "Sales"),
        UserSpec("u1", "Sales"),
        UserSpec("u2", "Sales", Lic("ENTERPRISEPACK")),
    ),
    groups=(
        GroupSpec("LIC-A", None, ("u0",), (Lic("EXCHANGEARCHIVE_ADDON"),)),
        GroupSpec("LIC-C", None, ("u0",), (Lic("EXCHANGEARCHIVE_ADDON"),)),
    ),
    policy=(GroupSpec("LIC-C", None, ("u1",), (Lic("ENTERPRISEPACK"),)),),
)

# Seats of STANDARDPACK run short; retiring LIC-D frees one that LIC-A's new STANDARDPACK then
# gives to u2, in the plan. Applied: LIC-A's plans change (a taking change) before LIC-D goes,
# so LIC-A is processed while the seat is still taken, and u2's CountViolation stays until
# reprocessed. The plan settles the taking changes together, not one by one.
SEAT_FREED_AFTER_ITS_TAKER_WAS_PROCESSED = Scenario(
    seats=(("STANDARDPACK", 2), ("SPE_E5", 2), ("ENTERPRISEPACK", 6), ("EMS", 1)),
    users=(
        UserSpec("u0", "HR"),
        UserSpec("u1", "Sales", Lic("STANDARDPACK")),
        UserSpec("u2", "IT"),
        UserSpec("u3", "IT", Lic("ENTERPRISEPACK", ("EXCHANGE_S_ENTERPRISE",))),
        UserSpec("u4", "Sales"),
        UserSpec("u5", "IT"),
        UserSpec("u6", "IT"),
        UserSpec("u7", "Sales"),
    ),
    groups=(
        GroupSpec("LIC-A", None, ("u4", "u5", "u7", "u3", "u2", "u6", "u0"), (Lic("SPE_E5"),)),
        GroupSpec("LIC-B", Dept(("IT",))),
        GroupSpec("LIC-C", MemberOf("LIC-B"), (), (Lic("SPE_E5", ("BI_AZURE_P2",)),)),
        GroupSpec(
            "LIC-D",
            None,
            ("u0", "u1", "u5", "u7", "u6", "u3", "u2", "u4"),
            (Lic("STANDARDPACK", ("TEAMS1",)), Lic("EMS", ("INTUNE_A", "RMS_S_PREMIUM"))),
        ),
    ),
    policy=(
        GroupSpec(
            "LIC-A",
            Dept(("IT", "Sales")),
            (),
            (
                Lic("SPE_E5", ("EXCHANGE_S_ENTERPRISE", "TEAMS1")),
                Lic("STANDARDPACK", ("SHAREPOINTSTANDARD", "TEAMS1")),
            ),
        ),
        GroupSpec("LIC-B", Dept(("IT",))),
        GroupSpec("LIC-C", None, ("u3",), (Lic("SPE_E5", ("EXCHANGE_S_ENTERPRISE",)),)),
    ),
    retired=("LIC-D",),
)

# --- applying a plan --------------------------------------------------------------------------

Holdings = dict[str, dict[str, frozenset[str]]]  # user id -> skuId (lower) -> plan ids


@dataclass(frozen=True)
class Outcome:
    before: Tenant  # the start, settled
    plan: Plan
    steps: tuple[Tenant, ...]  # the tenant after each change, in apply order

    @property
    def end(self) -> Tenant:
        return self.steps[-1] if self.steps else self.before


def _outcome(scenario: Scenario) -> Outcome:
    desired = scenario.desired()
    rules = service_plan_rules(desired)
    try:
        start = scenario.tenant(rules)
        plan = build_plan(desired, start)
        steps = apply_one_by_one(start, plan.changes, rules)
    except NotSettled:
        reject()
    return Outcome(recompute(start, None, rules), plan, tuple(steps))


def _holdings(tenant: Tenant) -> Holdings:
    return {
        user.id: {a.skuId.lower(): enabled_plans(tenant, a) for a in user.assignedLicenses}
        for user in tenant.users
    }


def _part(sku: str) -> str:
    return PART_NUMBERS.get(sku, sku)


# --- properties -------------------------------------------------------------------------------


def _every_change_in_who_holds_what_once_applied_is_in_the_impact(scenario: Scenario) -> None:
    outcome = _outcome(scenario)
    found = outcome.plan.impact
    removed = {(r.userId, r.skuId.lower()) for r in found.licenseRemovals}
    added = {(a.userId, a.skuId.lower()) for a in found.licenseAdditions}
    plans_removed: dict[tuple[str, str], set[str]] = {}
    for r in found.planRemovals:
        plans_removed.setdefault((r.userId, r.skuId.lower()), set()).update(r.servicePlans)
    end = _holdings(outcome.end)
    for user_id, had in _holdings(outcome.before).items():
        now = end[user_id]
        for sku in had.keys() - now.keys():
            assert (user_id, sku) in removed, f"{user_id} loses {_part(sku)}; the plan doesn't say"
        for sku in now.keys() - had.keys():
            assert (user_id, sku) in added, f"{user_id} gains {_part(sku)}; the plan doesn't say"
        for sku in had.keys() & now.keys():
            if (user_id, sku) in removed:
                continue  # listed as losing the whole product for a while
            lost = {PLAN_NAMES[plan] for plan in had[sku] - now[sku]}
            unlisted = lost - plans_removed.get((user_id, sku), set())
            assert not unlisted, f"{user_id} loses {sorted(unlisted)} of {_part(sku)}, unlisted"


def _nobody_the_plan_says_loses_a_product_still_holds_it_once_applied(scenario: Scenario) -> None:
    outcome = _outcome(scenario)
    end = _holdings(outcome.end)
    for removal in outcome.plan.impact.licenseRemovals:
        if removal.temporary:
            continue
        assert removal.skuId.lower() not in end[removal.userId], (
            f"the plan says {removal.userId} loses {removal.skuPartNumber} ({removal.reason}, "
            f"through {removal.group}); they still hold it once applied"
        )


def _nobody_who_keeps_an_active_assignment_of_a_product_is_listed_as_losing_it(
    scenario: Scenario,
) -> None:
    outcome = _outcome(scenario)
    kept = {
        (user.id, state.skuId.lower()): state.assignedByGroup
        for user in outcome.end.users
        for state in user.licenseAssignmentStates
        if state.state in (ACTIVE, ACTIVE_WITH_ERROR)
    }
    for removal in outcome.plan.impact.licenseRemovals:
        path = (removal.userId, removal.skuId.lower())
        if removal.temporary or path not in kept:
            continue
        through = kept[path] or "a direct assignment"
        raise AssertionError(
            f"the plan says {removal.userId} loses {removal.skuPartNumber} ({removal.reason}); "
            f"once applied they keep it through {through}"
        )


def _everyone_the_plan_says_gains_a_product_holds_it_once_applied(scenario: Scenario) -> None:
    outcome = _outcome(scenario)
    end = _holdings(outcome.end)
    for addition in outcome.plan.impact.licenseAdditions:
        assert addition.skuId.lower() in end[addition.userId], (
            f"the plan says {addition.userId} gains {addition.skuPartNumber} "
            f"({addition.reason}); they don't hold it once applied"
        )


def _new_holders_of_a_product_never_outnumber_the_seats_its_keepers_leave(
    scenario: Scenario,
) -> None:
    outcome = _outcome(scenario)
    before, end = _holdings(outcome.before), _holdings(outcome.end)
    for sku in outcome.before.subscribedSkus:
        key = sku.skuId.lower()
        held = {user for user, products in before.items() if key in products}
        holding = {user for user, products in end.items() if key in products}
        new, kept = holding - held, holding & held
        free = max(0, sku.prepaidUnits.enabled - len(kept))
        assert len(new) <= free, (
            f"{sku.skuPartNumber}: {sorted(new)} gain it with {free} seats free "
            f"({sku.prepaidUnits.enabled} bought, {len(kept)} kept by who had it)"
        )


def _nobody_goes_without_a_product_they_hold_before_and_after_while_the_plan_applies(
    scenario: Scenario,
) -> None:
    outcome = _outcome(scenario)
    temporary = {
        (r.userId, r.skuId.lower()) for r in outcome.plan.impact.licenseRemovals if r.temporary
    }
    before, end = _holdings(outcome.before), _holdings(outcome.end)
    for index, step in enumerate(outcome.steps[:-1]):
        during = _holdings(step)
        for user_id, had in before.items():
            for sku in had.keys() & end[user_id].keys():
                if sku in during[user_id] or (user_id, sku) in temporary:
                    continue
                raise AssertionError(
                    f"{user_id} holds {_part(sku)} before and after, but not after step "
                    f"{index + 1} of {len(outcome.steps)} of the plan's changes"
                )


# --- the tests --------------------------------------------------------------------------------

# Counterexamples found by these properties and fixed since: each is checked by every property.
FIXED = (
    HOLDER_MOVED_TO_A_NEW_GROUP,
    DYNAMIC_TURNED_STATIC_GETS_ITS_MEMBERS_TOO_EARLY,
    ASSIGNED_PLANS_RULE_GAINS,
    ASSIGNED_PLANS_RULE_LOSES,
    MEMBER_OF_A_GROUP_WHOSE_RULE_CHANGES,
    MEMBER_OF_RULE_EDITED_BEFORE_ITS_GROUP_FILLS,
    CONFLICT_CLEARED_AFTER_THE_KEPT_PRODUCT_GOES,
    FAILING_ADDITION_BEFORE_THE_NEW_PATH,
    NEW_GROUP_PRODUCTS_ADDED_ONE_AT_A_TIME,
    CONFLICT_REACHED_THROUGH_ASSIGNED_PLANS,
    SEAT_HOLDER_MOVES_INTO_A_GROUP_THAT_ADDS_IT,
    UNBLOCKING_REMOVAL_AFTER_THE_MEMBER_LEAVES,
    ADD_ON_ADDED_BEFORE_ITS_PREREQUISITE_IS_ENABLED,
    CONFLICTING_MOVE_LOSES_THE_SEAT,
    SEAT_TAKEN_BY_AN_ADD_ON_THAT_FAILS,
    KEPT_PREREQUISITE_OVERSPENDS_SEATS,
    PREREQUISITE_REMOVED_FROM_TWO_GROUPS,
    ADD_ON_LOST_WHEN_ITS_GROUP_KEEPS_THE_PREREQUISITE,
)


def _outside_known_gaps(scenario: Scenario) -> bool:
    """Whether a generated example stays clear of the known gaps' ground: users left short of
    seats, or a dependency in error, where the order of changes within a phase of apply can
    decide the outcome (see KNOWN_GAPS)."""
    plan = _outcome(scenario).plan
    if any(seat.countViolations for seat in plan.seats):
        return False
    return not any(
        state.error == DEPENDENCY_VIOLATION
        for user in plan.after.users
        for state in user.licenseAssignmentStates
    )


@given(scenarios())
@PROPERTY
def test_every_change_in_who_holds_what_once_applied_is_in_the_impact(scenario):
    assume(_outside_known_gaps(scenario))
    _every_change_in_who_holds_what_once_applied_is_in_the_impact(scenario)


@given(scenarios())
@PROPERTY
def test_nobody_the_plan_says_loses_a_product_still_holds_it_once_applied(scenario):
    assume(_outside_known_gaps(scenario))
    _nobody_the_plan_says_loses_a_product_still_holds_it_once_applied(scenario)


@given(scenarios())
@PROPERTY
def test_nobody_who_keeps_an_active_assignment_of_a_product_is_listed_as_losing_it(scenario):
    assume(_outside_known_gaps(scenario))
    _nobody_who_keeps_an_active_assignment_of_a_product_is_listed_as_losing_it(scenario)


@given(scenarios())
@PROPERTY
def test_everyone_the_plan_says_gains_a_product_holds_it_once_applied(scenario):
    assume(_outside_known_gaps(scenario))
    _everyone_the_plan_says_gains_a_product_holds_it_once_applied(scenario)


@given(scenarios())
@PROPERTY
def test_new_holders_of_a_product_never_outnumber_the_seats_its_keepers_leave(scenario):
    assume(_outside_known_gaps(scenario))
    _new_holders_of_a_product_never_outnumber_the_seats_its_keepers_leave(scenario)


@given(scenarios())
@PROPERTY
def test_nobody_goes_without_a_product_they_hold_before_and_after_while_the_plan_applies(
    scenario,
):
    assume(_outside_known_gaps(scenario))
    _nobody_goes_without_a_product_they_hold_before_and_after_while_the_plan_applies(scenario)


CHECKS = (
    _every_change_in_who_holds_what_once_applied_is_in_the_impact,
    _nobody_the_plan_says_loses_a_product_still_holds_it_once_applied,
    _nobody_who_keeps_an_active_assignment_of_a_product_is_listed_as_losing_it,
    _everyone_the_plan_says_gains_a_product_holds_it_once_applied,
    _new_holders_of_a_product_never_outnumber_the_seats_its_keepers_leave,
    _nobody_goes_without_a_product_they_hold_before_and_after_while_the_plan_applies,
)


@pytest.mark.parametrize("check", CHECKS, ids=lambda check: check.__name__.strip("_"))
@pytest.mark.parametrize("scenario", FIXED, ids=lambda scenario: _name_of(scenario))
def test_a_counterexample_found_and_fixed_stays_fixed(scenario, check):
    check(scenario)


def _name_of(scenario: Scenario) -> str:
    return next(name for name, value in globals().items() if value is scenario)


# Where the plan, which settles all changes at once, still differs from applying them in order
# (docs/licensing.md, "Not modelled yet"): strict, so a fix shows up as a failure to move here.
KNOWN_GAPS = [
    pytest.param(scenario, check, id=f"{name}-{check.__name__.strip('_')}")
    for name, scenario, checks in (
        (
            "TWO_PREREQUISITES_TAKEN_AWAY",
            TWO_PREREQUISITES_TAKEN_AWAY,
            (_every_change_in_who_holds_what_once_applied_is_in_the_impact,),
        ),
        (
            "SEAT_FREED_AFTER_ITS_TAKER_WAS_PROCESSED",
            SEAT_FREED_AFTER_ITS_TAKER_WAS_PROCESSED,
            (_everyone_the_plan_says_gains_a_product_holds_it_once_applied,),
        ),
    )
    for check in checks
]


@pytest.mark.xfail(strict=True, reason="a known gap between the plan and applying it in order")
@pytest.mark.parametrize(("scenario", "check"), KNOWN_GAPS)
def test_known_gap_between_the_plan_and_applying_it_in_order_is_still_there(scenario, check):
    check(scenario)
