"""What a plan foresees through rules that read other groups' licenses (assignedPlans)."""

from reconciler.engine import recompute
from reconciler.model import (
    AssignedLicense,
    Group,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
)
from reconciler.plan.build import build_plan
from reconciler.policy.desired import DesiredState, Settings
from tests.builders import desired_group, desired_license, user

O365_E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
EXCHANGE_2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
INTUNE = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"  # INTUNE_A
HAS_EXCHANGE = (
    f'user.assignedPlans -any (assignedPlan.servicePlanId -eq "{EXCHANGE_2}" '
    '-and assignedPlan.capabilityStatus -eq "Enabled")'
)

TENANT = recompute(
    Tenant(
        Organization("org", "Contoso", "US"),
        (
            Sku(
                O365_E3,
                "ENTERPRISEPACK",
                (ServicePlan(EXCHANGE_2, "EXCHANGE_S_ENTERPRISE"),),
                PrepaidUnits(10),
            ),
            Sku(EMS, "EMS", (ServicePlan(INTUNE, "INTUNE_A"),), PrepaidUnits(10)),
        ),
        (user("ana", "Sales"), user("ben", "HR")),
        (
            Group(
                "g-e3",
                "LIC-E3",
                members=("ana", "ben"),
                assignedLicenses=(AssignedLicense(O365_E3),),
            ),
            # not in the policy: gives EMS to whoever has Exchange Online (Plan 2)
            Group(
                "g-ems",
                "LIC-EMS-Mailboxes",
                groupTypes=("DynamicMembership",),
                membershipRule=HAS_EXCHANGE,
                membershipRuleProcessingState="On",
                assignedLicenses=(AssignedLicense(EMS),),
            ),
        ),
    )
)


def _plan(*groups):
    return build_plan(DesiredState(None, Settings(), groups, ()), TENANT)


def _removals(plan) -> set[tuple[str, str, bool]]:
    return {(r.userId, r.skuPartNumber, r.temporary) for r in plan.impact.licenseRemovals}


def test_losing_a_product_loses_what_a_rule_on_assigned_plans_gave_for_it():
    plan = _plan(desired_group("LIC-E3", members=("ana",), licenses=[desired_license(O365_E3)]))
    assert _removals(plan) == {("ben", "ENTERPRISEPACK", False), ("ben", "EMS", False)}
    reasons = {r.skuPartNumber: r.reason for r in plan.impact.licenseRemovals}
    assert reasons["EMS"] == "no longer matches the membership rule once their assignedPlans change"


def test_a_static_group_turned_dynamic_takes_for_a_while_what_rules_on_its_licenses_gave():
    # Microsoft: turning the initial static group dynamic removes every member first, and the
    # dynamic groups whose rules read their licenses follow
    turned = desired_group(
        "LIC-E3", 'user.department -eq "Sales"', licenses=[desired_license(O365_E3)]
    )
    plan = _plan(turned)
    assert _removals(plan) == {
        ("ana", "ENTERPRISEPACK", True),
        ("ana", "EMS", True),
        ("ben", "ENTERPRISEPACK", False),
        ("ben", "EMS", False),
    }
    cascade = next(
        r for r in plan.impact.licenseRemovals if (r.userId, r.skuPartNumber) == ("ana", "EMS")
    )
    assert cascade.group == "LIC-EMS-Mailboxes"
    assert "group turned dynamic" in cascade.reason
    assert plan.guards.temporaryRemovals == 2
