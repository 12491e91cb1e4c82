"""The text plan reads like Terraform's and names every license it takes away."""

import click

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
from reconciler.plan.document import plan_document
from reconciler.policy.desired import (
    DesiredState,
    RetiredGroup,
    Settings,
)
from reconciler.render.plan_text import colourize, plan_text
from tests.builders import HERE, user
from tests.builders import desired_group as group
from tests.builders import desired_license as license_of

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"


TENANT = Tenant(
    Organization("org", "Contoso", "US"),
    (
        Sku(E3, "SPE_E3", (ServicePlan(TEAMS, "TEAMS1"),), PrepaidUnits(50)),
        Sku(E5, "SPE_E5", (ServicePlan(YAMMER, "YAMMER_ENTERPRISE"),), PrepaidUnits(50)),
    ),
    (user("ana", "Sales"), user("ben", "HR")),
    (
        Group(
            "g-sales",
            "LIC-Sales",
            groupTypes=("DynamicMembership",),
            membershipRule='user.department -in ["Sales", "HR"]',
            membershipRuleProcessingState="On",
            members=("ana", "ben"),
            assignedLicenses=(AssignedLicense(E3),),
        ),
        Group("g-old", "LIC-Old", members=("ana",), assignedLicenses=(AssignedLicense(E5),)),
    ),
)


def test_plan_without_changes_says_licensing_matches():
    desired = DesiredState(
        None,
        Settings(),
        (group("LIC-Sales", 'user.department -in ["Sales", "HR"]', licenses=[license_of(E3)]),),
        (),
    )
    text = plan_text(plan_document(build_plan(desired, TENANT)))
    assert text.endswith("\nNo changes. Licensing matches the policy.")
    # warnings still show (here: no skus.lock.yaml), but no changes, removals or summary
    assert text.startswith("Warnings:\n")
    assert "reconciler will perform" not in text and "Plan:" not in text


def test_plan_text_shows_changes_losses_by_group_gains_seats_warnings_and_summary():
    desired = DesiredState(
        None,
        Settings(),
        (
            group("LIC-Sales", 'user.department -eq "Sales"', licenses=[license_of(E3, TEAMS)]),
            group("LIC-New", members=("ben@contoso.com",), licenses=[license_of(E5)]),
        ),
        (RetiredGroup("LIC-Old", None, HERE),),
    )
    text = plan_text(plan_document(build_plan(desired, TENANT)))
    assert text.splitlines() == [
        "reconciler will perform these actions on managed groups:",
        "",
        "  + create",
        "  ~ update in place",
        "  - destroy",
        "",
        "  # LIC-New will be created",
        "  # (because the policy declares it and the tenant has no group of that name)",
        '  + group "LIC-New" {',
        "      + type = security, assigned",
        "      + member ben@contoso.com",
        "      + license SPE_E5",
        "    }",
        "",
        "  # LIC-Sales will be updated in place",
        "  # (because the policy sets its membershipRule and its service plans)",
        '  ~ group "LIC-Sales" {',
        '      ~ membershipRule = \'user.department -in ["Sales", "HR"]\' -> '
        "'user.department -eq \"Sales\"'",
        "      ~ license SPE_E3 disabledPlans = none -> TEAMS1",
        "    }",
        "",
        "  # LIC-Old will be retired",
        "  # (because the policy retires it)",
        '  - group "LIC-Old" {',
        "      - license SPE_E5",
        "      - delete the group",
        "    }",
        "",
        "Licenses removed:",
        "  through LIC-Old (1):",
        "    ana@contoso.com loses SPE_E5 (group retired)",
        "  through LIC-Sales (2):",
        "    ben@contoso.com loses SPE_E3 (no longer matches the edited membership rule)",
        "    ana@contoso.com loses TEAMS1 of SPE_E3 (service plans disabled on the group)",
        "",
        "Licenses added:",
        "  1 user gains SPE_E5 through LIC-New",
        "",
        "Seats:",
        "  SPE_E3  2 -> 1 of 50",
        "",
        "Warnings:",
        "  Warning: membership-drop",
        "    policies/groups.yaml:1:1: the membership change drops 1 of LIC-Sales's 2 members"
        " (50%),"
        " more than maxMembershipDropPercent (10%)",
        "    hint: check the rule with `reconciler rule test`; if the drop is intended,"
        " raise settings.maxMembershipDropPercent",
        "  Warning: usage-location-missing",
        "    ben@contoso.com has no usageLocation and gets SPE_E5 as if in US,"
        " the tenant's country",
        "    hint: set the user's usageLocation where they work; group licensing never sets"
        " it, and some services are not offered in every country",
        "  Info: new-service-plan",
        "    the policy has no skus.lock.yaml, so service plans Microsoft adds go unnoticed",
        "    hint: run `reconciler lock` and commit skus.lock.yaml with the policies",
        "",
        "Guards: 3 license removals, within maxLicenseRemovals (10).",
        "",
        "Plan: 1 to add, 1 to change, 1 to remove.",
    ]


def test_only_the_symbols_used_appear_in_the_legend():
    desired = DesiredState(
        None,
        Settings(),
        (group("LIC-Sales", 'user.department -eq "Sales"', licenses=[license_of(E3)]),),
        (),
    )
    text = plan_text(plan_document(build_plan(desired, TENANT)))
    assert "  ~ update in place" in text
    assert "  + create" not in text and "  - destroy" not in text


def test_colours_mark_symbols_and_headings_and_leave_the_words_alone():
    text = "\n".join(
        [
            "  # LIC-New will be created",
            '  + group "LIC-New" {',
            "      ~ license SPE_E3 disabledPlans = none -> TEAMS1",
            "      - member ana@contoso.com",
            "    }",
            "Plan: 1 to add, 0 to change, 0 to remove.",
        ]
    )
    coloured = colourize(text)
    assert click.unstyle(coloured) == text
    lines = coloured.splitlines()
    assert lines[0] == click.style("  # LIC-New will be created", bold=True)
    assert lines[1] == "  " + click.style("+", fg="green") + ' group "LIC-New" {'
    assert lines[2].startswith("      " + click.style("~", fg="yellow"))
    assert lines[3].startswith("      " + click.style("-", fg="red"))
    assert lines[4] == "    }"


def test_removals_beyond_fifty_are_counted_unless_all_are_asked_for():
    removal = {
        "userPrincipalName": "u@contoso.com",
        "skuPartNumber": "SPE_E5",
        "group": "LIC-Sales",
        "reason": "no longer matches the membership rule",
    }
    document = {
        "changesPresent": True,
        "changes": [
            {
                "action": "removeLicense",
                "group": {"id": "g", "displayName": "LIC-Sales"},
                "sku": {"skuId": "x", "skuPartNumber": "SPE_E5"},
            },
        ],
        "impact": {"licenseRemovals": [removal] * 60, "planRemovals": [], "licenseAdditions": []},
        "summary": {"add": 0, "change": 1, "remove": 0},
        "warnings": [],
        "guards": {
            "licenseRemovals": 60,
            "maxLicenseRemovals": 10,
            "protected": [],
            "refused": True,
            "reasons": ["the plan takes 60 licenses away"],
        },
    }
    short = plan_text(document).splitlines()
    assert "  through LIC-Sales (60):" in short
    line = "    u@contoso.com loses SPE_E5 (no longer matches the membership rule)"
    assert short.count(line) == 50
    assert "  ... and 10 more through LIC-Sales (--show-all lists them)" in short
    assert plan_text(document, show_all=True).count("u@contoso.com loses SPE_E5") == 60


def test_a_product_lost_whole_is_shown_before_plans_lost_when_the_list_is_cut():
    plan_loss = {
        "userPrincipalName": "u@contoso.com",
        "skuPartNumber": "SPE_E3",
        "servicePlans": ["STREAM_O365_E3"],
        "group": "A-Retail",
        "reason": "service plans disabled on the group",
        "keptBy": ["A-Retail"],
    }
    product_loss = {
        "userPrincipalName": "z@contoso.com",
        "skuPartNumber": "POWER_BI_PRO",
        "group": "Z-PowerBI",
        "reason": "removed from the group's members",
    }
    document = {
        "changesPresent": True,
        "changes": [],
        "impact": {
            "licenseRemovals": [product_loss],
            "planRemovals": [plan_loss] * 60,
            "licenseAdditions": [],
        },
        "summary": {"add": 0, "change": 1, "remove": 0},
        "warnings": [],
        "guards": {
            "licenseRemovals": 61,
            "maxLicenseRemovals": 100,
            "protected": [],
            "refused": False,
            "reasons": [],
        },
    }
    lines = plan_text(document).splitlines()
    assert "    z@contoso.com loses POWER_BI_PRO (removed from the group's members)" in lines
    assert (
        lines.count(
            "    u@contoso.com loses STREAM_O365_E3 of SPE_E3 (service plans disabled on the group)"
        )
        == 49
    )
    assert "  ... and 11 more through A-Retail (--show-all lists them)" in lines


def test_temporary_losses_are_listed_apart_from_lasting_ones_and_the_guard_says_which():
    # LIC-Static is turned dynamic: ana matches its rule and gets E5 back, ben doesn't
    tenant = Tenant(
        TENANT.organization,
        TENANT.subscribedSkus,
        TENANT.users,
        (
            Group(
                "g-old", "LIC-Old", members=("ana", "ben"), assignedLicenses=(AssignedLicense(E5),)
            ),
        ),
    )
    desired = DesiredState(
        None,
        Settings(),
        (group("LIC-Old", 'user.department -eq "Sales"', licenses=[license_of(E5)]),),
        (),
    )
    text = plan_text(plan_document(build_plan(desired, recompute(tenant)))).splitlines()
    lasting = text.index("Licenses removed:")
    temporary = text.index(
        "Licenses removed for a while (they return once Entra processes the group):"
    )
    assert (
        lasting
        < text.index(
            "    ben@contoso.com loses SPE_E5 "
            "(not selected by the membership rule the group now has)"
        )
        < temporary
    )
    assert any(line.startswith("    ana@contoso.com loses SPE_E5") for line in text[temporary:])
    assert (
        "Guards: 2 license removals (1 lasting, 1 temporary), within maxLicenseRemovals (10)."
        in text
    )


def test_users_who_leave_a_group_but_keep_its_license_are_named_with_what_keeps_it():
    tenant = Tenant(
        TENANT.organization,
        TENANT.subscribedSkus,
        TENANT.users,
        (
            *TENANT.groups,
            Group("g-all", "LIC-All", members=("ben",), assignedLicenses=(AssignedLicense(E3),)),
        ),
    )
    desired = DesiredState(
        None,
        Settings(),
        (group("LIC-Sales", 'user.department -eq "Sales"', licenses=[license_of(E3)]),),
        (),
    )
    document = plan_document(build_plan(desired, recompute(tenant)))
    text = plan_text(document).splitlines()
    assert "Leaving a group but keeping its licenses:" in text
    assert "  ben@contoso.com leaves LIC-Sales and keeps SPE_E3 through LIC-All" in text
    assert not any("ben@contoso.com loses" in line for line in text)
