"""Apply order: everything that gives comes before everything that takes."""

from dataclasses import replace

from reconciler.engine import recompute
from reconciler.model import AssignedLicense, Group, Organization, PrepaidUnits, Sku, Tenant
from reconciler.plan.build import build_plan
from reconciler.plan.changes import AddLicense, RemoveLicense, UpdateGroup
from reconciler.policy.desired import DesiredState, Settings
from tests.builders import desired_group, desired_license, user

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS


def _dynamic(group_id: str, name: str, rule: str, sku: str) -> Group:
    return Group(
        group_id,
        name,
        groupTypes=("DynamicMembership",),
        membershipRule=rule,
        membershipRuleProcessingState="On",
        assignedLicenses=(AssignedLicense(sku),),
    )


TENANT = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        (Sku(E3, "SPE_E3", (), PrepaidUnits(10)), Sku(E5, "SPE_E5", (), PrepaidUnits(10))),
        (user("ana", "Sales"), user("ben", "Support")),
        (
            # "A-E3" sorts first, so a plan in diff order would edit its rule first
            _dynamic("g-e3", "A-E3", 'user.department -eq "Sales"', E3),
            _dynamic("g-e5", "B-E5", 'user.department -eq "Support"', E5),
        ),
    )
)


def test_users_moved_between_groups_by_two_rule_edits_gain_before_they_lose():
    # Sales moves from E3 to E5: B-E5's widening rule must run before A-E3's narrowing one
    desired = DesiredState(
        None,
        Settings(),
        (
            desired_group("A-E3", 'user.department -eq "Nobody"', licenses=[desired_license(E3)]),
            desired_group(
                "B-E5",
                'user.department -in ["Sales", "Support"]',
                licenses=[desired_license(E5)],
            ),
        ),
        (),
    )
    changes = build_plan(desired, TENANT).changes
    rules = [c.displayName for c in changes if isinstance(c, UpdateGroup)]
    assert rules == ["B-E5", "A-E3"]


def test_a_group_switched_from_one_product_to_another_adds_the_new_one_first():
    desired = DesiredState(
        None,
        Settings(),
        (
            desired_group("A-E3", 'user.department -eq "Sales"', licenses=[desired_license(E5)]),
            desired_group("B-E5", 'user.department -eq "Support"', licenses=[desired_license(E5)]),
        ),
        (),
    )
    changes = build_plan(desired, TENANT).changes
    assert [type(c) for c in changes] == [AddLicense, RemoveLicense]


def test_a_rule_edited_while_paused_is_set_before_processing_resumes():
    paused = _dynamic("g-e3", "A-E3", 'user.department -eq "Sales"', E3)
    tenant = recompute(
        Tenant(
            TENANT.organization,
            TENANT.subscribedSkus,
            TENANT.users,
            (replace(paused, membershipRuleProcessingState="Paused"), TENANT.groups[1]),
        )
    )
    desired = DesiredState(
        None,
        Settings(),
        (desired_group("A-E3", 'user.department -eq "Nobody"', licenses=[desired_license(E3)]),),
        (),
    )
    changes = build_plan(desired, tenant).changes
    assert [c.property for c in changes if isinstance(c, UpdateGroup)] == [
        "membershipRule",
        "membershipRuleProcessingState",
    ]


def test_users_moving_between_two_shrinking_groups_join_the_new_one_first():
    # both rule edits drop someone, so both take; Sales moves from A-Staff to B-Leads for EMS
    staff = _dynamic("g-a", "A-Staff", 'user.department -in ["Sales", "Support"]', EMS)
    leads = _dynamic("g-b", "B-Leads", 'user.department -eq "Eng"', EMS)
    tenant = recompute(
        Tenant(
            Organization("org", "Contoso", "US"),
            (Sku(EMS, "EMS", (), PrepaidUnits(10)),),
            (user("ana", "Sales"), user("ben", "Support"), user("cy", "Eng")),
            (staff, leads),
        )
    )
    desired = DesiredState(
        None,
        Settings(),
        (
            desired_group(
                "A-Staff", 'user.department -eq "Support"', licenses=[desired_license(EMS)]
            ),
            desired_group(
                "B-Leads", 'user.department -eq "Sales"', licenses=[desired_license(EMS)]
            ),
        ),
        (),
    )
    plan = build_plan(desired, tenant)
    assert [c.displayName for c in plan.changes if isinstance(c, UpdateGroup)] == [
        "B-Leads",
        "A-Staff",
    ]
    # ana moves without losing EMS; cy leaves B-Leads and loses it
    assert [(r.userId, r.skuPartNumber) for r in plan.impact.licenseRemovals] == [("cy", "EMS")]


def test_users_moving_to_another_product_through_two_shrinking_groups_gain_first():
    # Support staff who become Team Leads move from E3 to E5; both rule edits drop someone
    support = _dynamic("g-s", "A-Support", 'user.department -eq "Support"', E3)
    leads = _dynamic("g-l", "B-Leads", 'user.department -eq "Eng"', E5)
    ana = user("ana", "Support")
    ana = replace(ana, attributes={**ana.attributes, "jobTitle": "Team Lead"})
    tenant = recompute(
        Tenant(
            Organization("org", "Contoso", "US"),
            TENANT.subscribedSkus,
            (ana, user("ben", "Support"), user("cy", "Eng")),
            (support, leads),
        )
    )
    desired = DesiredState(
        None,
        Settings(),
        (
            desired_group(
                "A-Support",
                'user.department -eq "Support" -and user.jobTitle -ne "Team Lead"',
                licenses=[desired_license(E3)],
            ),
            desired_group(
                "B-Leads", 'user.jobTitle -eq "Team Lead"', licenses=[desired_license(E5)]
            ),
        ),
        (),
    )
    changes = build_plan(desired, tenant).changes
    assert [c.displayName for c in changes if isinstance(c, UpdateGroup)] == [
        "B-Leads",
        "A-Support",
    ]


def _actions(plan) -> list[tuple[str, str, str]]:
    return [(type(c).__name__, c.displayName, getattr(c, "property", "")) for c in plan.changes]


def test_a_group_turned_static_is_converted_before_members_are_added_to_it():
    # B-E5 becomes static with ana only: Graph refuses members added to a dynamic group, and
    # the conversion keeps its members, so it gives nothing away
    desired = DesiredState(
        None,
        Settings(),
        (desired_group("B-E5", members=("ana",), licenses=[desired_license(E5)]),),
        (),
    )
    actions = _actions(build_plan(desired, TENANT))
    assert actions.index(("UpdateGroup", "B-E5", "groupTypes")) < actions.index(
        ("AddMembers", "B-E5", "")
    )
    assert actions[-1] == ("RemoveMembers", "B-E5", "")


def test_a_memberof_rule_is_set_after_its_source_gets_its_members():
    source = Group("g-src", "C-Source")
    tenant = recompute(replace(TENANT, groups=(*TENANT.groups, source)))
    desired = DesiredState(
        None,
        Settings(),
        (
            desired_group(
                "A-E3",
                "user.memberOf -any (group.objectId -in ['g-src'])",
                licenses=[desired_license(E3)],
            ),
            desired_group("C-Source", members=("ana", "ben")),
        ),
        (),
    )
    plan = build_plan(desired, tenant)
    actions = _actions(plan)
    assert actions.index(("AddMembers", "C-Source", "")) < actions.index(
        ("UpdateGroup", "A-E3", "membershipRule")
    )
    assert not plan.impact.licenseRemovals


def test_a_seat_freed_by_a_member_removed_comes_too_late_for_a_member_added_in_the_same_plan():
    # every E5 seat is taken; LIC-Static swaps ben for ana: apply adds ana first, Entra finds no
    # seat and leaves her in CountViolation until she is reprocessed, ben's seat frees after
    static = Group(
        "g-static", "LIC-Static", members=("ben",), assignedLicenses=(AssignedLicense(E5),)
    )
    full = replace(
        TENANT,
        subscribedSkus=tuple(
            replace(s, prepaidUnits=PrepaidUnits(1)) if s.skuId == E5 else s
            for s in TENANT.subscribedSkus
        ),
        groups=(static,),
    )
    desired = DesiredState(
        None,
        Settings(),
        (desired_group("LIC-Static", members=("ana",), licenses=[desired_license(E5)]),),
        (),
    )
    plan = build_plan(desired, recompute(full))
    assert [r.userId for r in plan.impact.licenseRemovals] == ["ben"]
    assert plan.impact.licenseAdditions == ()
    assert [s.countViolations for s in plan.seats if s.skuId == E5] == [("ana@contoso.com",)]


def test_a_rule_on_assigned_plans_is_set_after_the_licenses_its_phase_changes():
    exchange = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
    # Sales (ana) stays, others join: a rule edit that only gives
    rule = (
        f'(user.department -eq "Sales") -or (user.assignedPlans -any (assignedPlan.servicePlanId '
        f'-eq "{exchange}" -and assignedPlan.capabilityStatus -eq "Enabled"))'
    )
    desired = DesiredState(
        None,
        Settings(),
        (
            desired_group("A-E3", rule, licenses=[desired_license(E3)]),
            desired_group(
                "B-E5",
                'user.department -eq "Support"',
                licenses=[desired_license(E5), desired_license(EMS)],
            ),
        ),
        (),
    )
    actions = _actions(build_plan(desired, TENANT))
    assert actions.index(("AddLicense", "B-E5", "")) < actions.index(
        ("UpdateGroup", "A-E3", "membershipRule")
    )
