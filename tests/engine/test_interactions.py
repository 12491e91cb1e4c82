"""Where Entra's behaviours meet: held licenses and seats, conflicts, cascades through
assignedPlans and memberOf."""

from dataclasses import replace

import pytest

from reconciler.engine import recompute, simulate
from reconciler.engine.licensing import MAX_ROUNDS, LicensingError
from reconciler.model import (
    ACTIVE,
    COUNT_VIOLATION,
    DYNAMIC_MEMBERSHIP,
    ERROR,
    MUTUALLY_EXCLUSIVE_VIOLATION,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
)
from tests.builders import user

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
O365_E1 = "18181a46-0d4e-45cd-891e-60aabd171b4e"  # STANDARDPACK
O365_E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK
EXCHANGE_2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"  # TEAMS1
INTUNE = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"  # INTUNE_A
SHAREPOINT_1 = "c7699d2e-19aa-44de-8edf-1736da088ca1"  # SHAREPOINTSTANDARD
SHAREPOINT_2 = "5dbe027f-2339-4123-9542-606e4d348a72"  # SHAREPOINTENTERPRISE

# Microsoft's documented example rule: users with Exchange Online (Plan 2) enabled
HAS_EXCHANGE = (
    f'user.assignedPlans -any (assignedPlan.servicePlanId -eq "{EXCHANGE_2}" '
    '-and assignedPlan.capabilityStatus -eq "Enabled")'
)


def _skus(seats: int = 10) -> tuple[Sku, ...]:
    return (
        Sku(
            E3,
            "SPE_E3",
            (ServicePlan(EXCHANGE_2, "EXCHANGE_S_ENTERPRISE"), ServicePlan(TEAMS, "TEAMS1")),
            PrepaidUnits(enabled=seats),
        ),
        Sku(EMS, "EMS", (ServicePlan(INTUNE, "INTUNE_A"),), PrepaidUnits(enabled=seats)),
        Sku(
            O365_E1,
            "STANDARDPACK",
            (ServicePlan(SHAREPOINT_1, "SHAREPOINTSTANDARD"),),
            PrepaidUnits(enabled=seats),
        ),
        Sku(
            O365_E3,
            "ENTERPRISEPACK",
            (ServicePlan(SHAREPOINT_2, "SHAREPOINTENTERPRISE"),),
            PrepaidUnits(enabled=seats),
        ),
    )


def _group(group_id: str, *skus: str, members=(), rule: str | None = None) -> Group:
    return Group(
        group_id,
        group_id.upper(),
        groupTypes=(DYNAMIC_MEMBERSHIP,) if rule else (),
        membershipRule=rule,
        membershipRuleProcessingState="On" if rule else None,
        assignedLicenses=tuple(AssignedLicense(sku) for sku in skus),
        members=tuple(members),
    )


def _tenant(users, groups, seats: int = 10) -> Tenant:
    return recompute(
        Tenant(Organization("org", "Contoso", "US"), _skus(seats), tuple(users), tuple(groups))
    )


def _one_seat_of_ems(tenant: Tenant) -> Tenant:
    skus = tuple(
        replace(s, prepaidUnits=PrepaidUnits(enabled=1)) if s.skuId == EMS else s
        for s in tenant.subscribedSkus
    )
    return replace(tenant, subscribedSkus=skus)


def _change(tenant: Tenant, *groups: Group | tuple[str, None]) -> Tenant:
    changed = {}
    for group in groups:
        if isinstance(group, tuple):
            changed[group[0]] = None
        else:
            changed[group.id] = group
    return simulate(tenant, changed)


def _skus_of(tenant: Tenant, user_id: str) -> set[str]:
    found = next(u for u in tenant.users if u.id == user_id)
    return {a.skuId for a in found.assignedLicenses}


def _states(tenant: Tenant, user_id: str) -> set[tuple[str, str | None, str, str]]:
    found = next(u for u in tenant.users if u.id == user_id)
    return {(s.skuId, s.assignedByGroup, s.state, s.error) for s in found.licenseAssignmentStates}


def _consumed(tenant: Tenant, sku_id: str) -> int:
    return next(s.consumedUnits for s in tenant.subscribedSkus if s.skuId == sku_id)


# --- a license already held stays held --------------------------------------------------------


def test_a_user_moving_between_two_groups_of_one_product_needs_no_free_seat():
    # every seat is taken; ann moves from A to B, both assigning SPE_E3
    users = [user("ann", "Sales"), user("bob", "Sales")]
    before = _tenant(users, [_group("a", E3, members=["ann", "bob"]), _group("b", E3)], seats=2)
    after = _change(before, _group("a", E3, members=["bob"]), _group("b", E3, members=["ann"]))
    assert _states(after, "ann") == {(E3, "b", ACTIVE, "None")}
    assert _consumed(after, E3) == 2


def test_a_product_added_to_a_group_keeps_the_products_its_members_hold_when_it_fails():
    # one EMS seat for two members: the one without a seat keeps SPE_E3 from the same group
    users = [user("ann", "Sales"), user("bob", "Sales")]
    before = _tenant(users, [_group("a", E3, members=["ann", "bob"])], seats=2)
    tight = _one_seat_of_ems(before)
    after = _change(tight, _group("a", E3, EMS, members=["ann", "bob"]))
    assert _skus_of(after, "ann") == {E3, EMS}
    assert _states(after, "bob") == {(E3, "a", ACTIVE, "None"), (EMS, "a", ERROR, COUNT_VIOLATION)}


def test_new_members_fail_all_or_nothing_on_a_groups_new_products():
    users = [user("ann", "Sales"), user("bob", "Sales")]
    before = _tenant(users, [], seats=2)
    tight = _one_seat_of_ems(before)
    after = _change(tight, _group("a", E3, EMS, members=["ann", "bob"]))
    assert _skus_of(after, "ann") == {E3, EMS}
    assert _skus_of(after, "bob") == set()
    assert _states(after, "bob") == {(E3, "a", ERROR, "Other"), (EMS, "a", ERROR, COUNT_VIOLATION)}


def test_a_user_holding_a_product_directly_uses_no_new_seat_when_a_group_gives_it_too():
    users = [
        user(
            "ann",
            "Sales",
            licenseAssignmentStates=(LicenseAssignmentState(E3),),
            assignedLicenses=(AssignedLicense(E3),),
        ),
        user("bob", "Sales"),
    ]
    before = _tenant(users, [], seats=1)
    after = _change(before, _group("a", E3, members=["ann", "bob"]))
    assert _states(after, "ann") == {(E3, None, ACTIVE, "None"), (E3, "a", ACTIVE, "None")}
    assert _states(after, "bob") == {(E3, "a", ERROR, COUNT_VIOLATION)}
    assert _consumed(after, E3) == 1


def test_the_held_license_wins_a_conflict_whatever_the_group_names():
    # ann holds Office 365 E1 through "z-e1"; "a-e3" (sorting first) adds E3, whose SharePoint
    # plan conflicts: E1 stays, E3 fails for her, and so does the rest of that group
    users = [user("ann", "Sales")]
    before = _tenant(users, [_group("z-e1", O365_E1, members=["ann"])])
    after = _change(before, _group("a-e3", O365_E3, EMS, members=["ann"]))
    assert _states(after, "ann") == {
        (O365_E1, "z-e1", ACTIVE, "None"),
        (O365_E3, "a-e3", ERROR, MUTUALLY_EXCLUSIVE_VIOLATION),
        (EMS, "a-e3", ERROR, "Other"),
    }


def test_the_held_license_wins_a_conflict_when_its_own_group_changes_too():
    users = [user("ann", "Sales")]
    before = _tenant(users, [_group("z-e1", O365_E1, members=["ann"])])
    after = _change(
        before,
        _group("z-e1", O365_E1, EMS, members=["ann"]),
        _group("a-e3", O365_E3, members=["ann"]),
    )
    assert (O365_E1, "z-e1", ACTIVE, "None") in _states(after, "ann")
    assert (O365_E3, "a-e3", ERROR, MUTUALLY_EXCLUSIVE_VIOLATION) in _states(after, "ann")


def test_a_conflict_clears_once_the_held_license_goes():
    # Microsoft's migration between conflicting products: join the E3 group first (it fails),
    # then leave the E1 group: E3 becomes active without a gap
    users = [user("ann", "Sales")]
    held = _tenant(users, [_group("z-e1", O365_E1, members=["ann"])])
    both = _change(held, _group("a-e3", O365_E3, members=["ann"]))
    assert (O365_E3, "a-e3", ERROR, MUTUALLY_EXCLUSIVE_VIOLATION) in _states(both, "ann")
    after = _change(both, _group("z-e1", O365_E1))
    assert _states(after, "ann") == {(O365_E3, "a-e3", ACTIVE, "None")}


# --- cascades -------------------------------------------------------------------------------


def test_a_rule_reading_assigned_plans_follows_the_licenses_a_change_takes_away():
    # an unmanaged group gives EMS to whoever has Exchange Online (Plan 2)
    users = [user("ann", "Sales"), user("bob", "Sales")]
    before = _tenant(
        users,
        [_group("e3", E3, members=["ann", "bob"]), _group("by-exchange", EMS, rule=HAS_EXCHANGE)],
    )
    assert _skus_of(before, "ann") == {E3, EMS}
    after = _change(before, _group("e3", E3, members=["bob"]))
    assert _skus_of(after, "ann") == set()
    assert _skus_of(after, "bob") == {E3, EMS}
    plans = next(u for u in after.users if u.id == "ann").attributes["assignedPlans"]
    assert {(p["servicePlanId"], p["capabilityStatus"]) for p in plans} >= {(EXCHANGE_2, "Deleted")}


def test_a_rule_reading_assigned_plans_sees_plans_disabled_on_a_group():
    users = [user("ann", "Sales")]
    before = _tenant(
        users, [_group("e3", E3, members=["ann"]), _group("by-exchange", EMS, rule=HAS_EXCHANGE)]
    )
    off = replace(
        _group("e3", E3, members=["ann"]),
        assignedLicenses=(AssignedLicense(E3, frozenset({EXCHANGE_2})),),
    )
    after = _change(before, off)
    assert _skus_of(after, "ann") == {E3}


def test_a_memberof_group_sees_its_source_after_the_sources_rule_edit():
    users = [user("ann", "Sales"), user("bob", "HR")]
    source = _group("source", rule='user.department -eq "Sales"')
    licensed = _group("licensed", EMS, rule="user.memberOf -any (group.objectId -in ['source'])")
    before = _tenant(users, [source, licensed])
    assert _skus_of(before, "ann") == {EMS}
    after = _change(before, replace(source, membershipRule='user.department -in ["Sales","HR"]'))
    assert _skus_of(after, "bob") == {EMS}


def test_a_memberof_group_keeps_members_who_left_its_source_until_its_rule_changes():
    users = [user("ann", "Sales"), user("bob", "HR")]
    source = _group("source", rule='user.department -eq "Sales"')
    licensed = _group("licensed", EMS, rule="user.memberOf -any (group.objectId -in ['source'])")
    before = _tenant(users, [source, licensed])
    after = _change(before, replace(source, membershipRule='user.department -eq "HR"'))
    assert _skus_of(after, "ann") == {EMS}  # left the source, stays in the memberOf group
    assert _skus_of(after, "bob") == {EMS}
    edited = next(g for g in after.groups if g.id == "licensed")
    again = _change(
        after, replace(edited, membershipRule="user.memberOf -any (group.objectId -in ['SOURCE'])")
    )
    assert _skus_of(again, "ann") == set()


def test_a_memberof_group_keeps_members_of_a_deleted_source():
    users = [user("ann", "Sales")]
    source = _group("source", members=["ann"])
    licensed = _group("licensed", EMS, rule="user.memberOf -any (group.objectId -in ['source'])")
    before = _tenant(users, [source, licensed])
    after = _change(before, ("source", None))
    assert _skus_of(after, "ann") == {EMS}


def test_memberships_that_never_settle_are_an_error_naming_the_group():
    # a group that gives Exchange to those without it: they gain it, leave, lose it, return...
    rule = (
        f'user.assignedPlans -all (assignedPlan.servicePlanId -ne "{EXCHANGE_2}" '
        '-or assignedPlan.capabilityStatus -ne "Enabled")'
    )
    users = [user("ann", "Sales")]
    tenant = Tenant(Organization("org", "Contoso", "US"), _skus(), tuple(users), ())
    with pytest.raises(
        LicensingError, match=rf"SWINGING.*{MAX_ROUNDS} rounds|{MAX_ROUNDS} rounds.*SWINGING"
    ):
        recompute(replace(tenant, groups=(_group("swinging", E3, rule=rule),)))


# --- dependencies inside one product ----------------------------------------------------------

PHONE_SYSTEM = "4828c8ec-dc2e-4779-b502-87ac9ce28ab7"  # MCOEV
SKYPE_2 = "0feaeb32-d00e-4d66-bd5a-43b5b83db82c"  # MCOSTANDARD
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
PHONE_SKU = "e43b5b99-8dfb-405f-9987-dc307f34bcbd"  # MCOEV (Teams Phone Standard)


def _phone_tenant(users, groups) -> Tenant:
    skus = (
        # as a snapshot may list it: Phone System and Teams, without Skype for Business
        Sku(
            E5,
            "SPE_E5",
            (ServicePlan(PHONE_SYSTEM, "MCOEV"), ServicePlan(TEAMS, "TEAMS1")),
            PrepaidUnits(enabled=5),
        ),
        Sku(O365_E3, "ENTERPRISEPACK", (ServicePlan(SKYPE_2, "MCOSTANDARD"),), PrepaidUnits(5)),
        Sku(PHONE_SKU, "MCOEV", (ServicePlan(PHONE_SYSTEM, "MCOEV"),), PrepaidUnits(enabled=5)),
    )
    return recompute(
        Tenant(Organization("org", "Contoso", "US"), skus, tuple(users), tuple(groups))
    )


def test_a_product_carrying_a_dependent_plans_prerequisite_is_taken_as_meeting_it():
    # Teams turned off in E5 leaves Phone System beside what the real product still carries
    no_teams = replace(
        _group("e5", members=["ann"]),
        assignedLicenses=(AssignedLicense(E5, frozenset({TEAMS})),),
    )
    after = _phone_tenant([user("ann", "Sales")], [no_teams])
    assert _states(after, "ann") == {(E5, "e5", ACTIVE, "None")}


def test_an_add_on_bought_apart_still_needs_its_prerequisite_from_another_product():
    phone = (LicenseAssignmentState(PHONE_SKU),)
    ann = user(
        "ann",
        "Sales",
        licenseAssignmentStates=phone,
        assignedLicenses=(AssignedLicense(PHONE_SKU),),
    )
    before = _phone_tenant([ann], [_group("e3", O365_E3, members=["ann"])])
    after = _change(before, _group("e3", O365_E3))
    assert (O365_E3, "e3", "ActiveWithError", "DependencyViolation") in _states(after, "ann")


def test_a_cascade_that_meets_a_conflict_settles_with_the_license_that_came_first():
    # a new group gives ann Office 365 E3 (with Exchange Plan 2 here); the group for Exchange
    # users then gives her E1, whose SharePoint conflicts: E3 was there first and wins
    skus = (
        Sku(
            O365_E3,
            "ENTERPRISEPACK",
            (
                ServicePlan(EXCHANGE_2, "EXCHANGE_S_ENTERPRISE"),
                ServicePlan(SHAREPOINT_2, "SHAREPOINTENTERPRISE"),
            ),
            PrepaidUnits(5),
        ),
        Sku(
            O365_E1,
            "STANDARDPACK",
            (ServicePlan(SHAREPOINT_1, "SHAREPOINTSTANDARD"),),
            PrepaidUnits(5),
        ),
    )
    by_exchange = _group("a-by-exchange", O365_E1, rule=HAS_EXCHANGE)
    before = recompute(
        Tenant(Organization("org", "Contoso", "US"), skus, (user("ann", "Sales"),), (by_exchange,))
    )
    after = _change(before, _group("z-new", O365_E3, members=["ann"]))
    assert _states(after, "ann") == {
        (O365_E3, "z-new", ACTIVE, "None"),
        (O365_E1, "a-by-exchange", ERROR, MUTUALLY_EXCLUSIVE_VIOLATION),
    }
