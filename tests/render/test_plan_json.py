"""The JSON plan follows its schema, names every GUID, and lists exactly who loses what."""

import json
import os
import subprocess
import sys
from pathlib import Path

from jsonschema import Draft202012Validator

from reconciler.jsonschemas import load_schema
from reconciler.model import (
    AssignedLicense,
    Group,
    LicenseAssignmentState,
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
from reconciler.render.plan_json import plan_json
from tests.builders import HERE, user
from tests.builders import desired_group as group
from tests.builders import desired_license as license_of

E3 = "05e9a617-0261-4cee-bb44-138d3ef5d965"  # SPE_E3
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"  # SPE_E5
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"
INTUNE = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"
AAD_P1 = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
AAD_P2 = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
SALES_OR_HR = 'user.department -in ["Sales", "HR"]'


TENANT = Tenant(
    Organization("org", "Contoso", "US"),
    (
        Sku(E3, "SPE_E3", (ServicePlan(TEAMS, "TEAMS1"),), PrepaidUnits(50)),
        Sku(E5, "SPE_E5", (ServicePlan(YAMMER, "YAMMER_ENTERPRISE"),), PrepaidUnits(50)),
        Sku(
            EMS,
            "EMS",
            (
                ServicePlan(INTUNE, "INTUNE_A"),
                ServicePlan(AAD_P1, "AAD_PREMIUM"),
                ServicePlan(AAD_P2, "AAD_PREMIUM_P2"),
            ),
            PrepaidUnits(50),
        ),
    ),
    (
        user("ana", "Sales"),
        user(
            "ben", "HR", licenseAssignmentStates=(LicenseAssignmentState(E3),)
        ),  # E3 also assigned directly
        user("cy", "IT"),
    ),
    (
        Group(
            "g-sales",
            "LIC-Sales",
            groupTypes=("DynamicMembership",),
            membershipRule=SALES_OR_HR,
            membershipRuleProcessingState="On",
            members=("ana", "ben"),
            assignedLicenses=(AssignedLicense(E3),),
        ),
        Group(
            "g-static",
            "LIC-Static",
            members=("ben", "g-team"),
            assignedLicenses=(AssignedLicense(EMS),),
        ),
        Group("g-team", "Team-Nested"),
        Group("g-old", "LIC-Old", members=("ana",), assignedLicenses=(AssignedLicense(E5),)),
    ),
)


UNCHANGED = DesiredState(
    None,
    Settings(),
    (
        group("LIC-Sales", SALES_OR_HR, licenses=[license_of(E3)]),
        group("LIC-Static", members=("ben", "g-team"), licenses=[license_of(EMS)]),
    ),
    (),
)
# every kind of change: a new group, a rule edit, members in and out, a license added, plans
# disabled, and a retired group's license removed before it is deleted
EVERYTHING = DesiredState(
    None,
    Settings(),
    (
        group("LIC-Sales", 'user.department -eq "Sales"', licenses=[license_of(E3, TEAMS)]),
        group(
            "LIC-Static",
            members=("cy@contoso.com", "g-team"),
            licenses=[license_of(EMS), license_of(E5, YAMMER)],
        ),
        group("LIC-New", members=("ana@contoso.com",), licenses=[license_of(EMS, AAD_P2, AAD_P1)]),
    ),
    (RetiredGroup("LIC-Old", None, HERE),),
)


def _document(desired: DesiredState) -> dict:
    return json.loads(plan_json(plan_document(build_plan(desired, TENANT))))


def _valid(document: dict) -> None:
    Draft202012Validator(load_schema("plan.schema.json")).validate(document)


def test_the_schema_is_a_valid_2020_12_schema():
    Draft202012Validator.check_schema(load_schema("plan.schema.json"))


def test_a_plan_without_changes_says_so_and_is_valid():
    document = _document(UNCHANGED)
    _valid(document)
    assert document["formatVersion"] == 1
    assert document["changesPresent"] is False
    assert document["changes"] == []
    assert document["summary"] == {"add": 0, "change": 0, "remove": 0}
    impact = document["impact"]
    assert (impact["licenseRemovals"], impact["planRemovals"], impact["licenseAdditions"]) == (
        [],
        [],
        [],
    )
    assert all(seat["consumedNow"] == seat["consumedAfter"] for seat in impact["seats"])
    assert document["guards"] == {
        "licenseRemovals": 0,
        "temporaryRemovals": 0,
        "maxLicenseRemovals": 10,
        "protected": [],
        "refused": False,
        "reasons": [],
    }


def test_every_kind_of_change_appears_giving_first_then_taking_with_names_beside_guids():
    document = _document(EVERYTHING)
    _valid(document)
    assert document["changesPresent"] is True
    assert document["summary"] == {"add": 1, "change": 2, "remove": 1}
    sales = {"id": "g-sales", "displayName": "LIC-Sales"}
    static = {"id": "g-static", "displayName": "LIC-Static"}
    new = {"id": "new:lic-new", "displayName": "LIC-New"}
    old = {"id": "g-old", "displayName": "LIC-Old"}
    assert document["changes"] == [
        {
            "action": "createGroup",
            "group": new,
            "after": {
                "displayName": "LIC-New",
                "description": None,
                "groupTypes": [],
                "securityEnabled": True,
                "mailEnabled": False,
                "mailNickname": None,
                "membershipRule": None,
                "membershipRuleProcessingState": None,
            },
        },
        {
            "action": "addMembers",
            "group": static,
            "members": [{"id": "cy", "userPrincipalName": "cy@contoso.com"}],
        },
        {
            "action": "addMembers",
            "group": new,
            "members": [{"id": "ana", "userPrincipalName": "ana@contoso.com"}],
        },
        {
            "action": "addLicense",
            "group": static,
            "sku": {"skuId": E5, "skuPartNumber": "SPE_E5"},
            "disabledPlans": [{"servicePlanId": YAMMER, "servicePlanName": "YAMMER_ENTERPRISE"}],
        },
        {
            "action": "addLicense",
            "group": new,
            "sku": {"skuId": EMS, "skuPartNumber": "EMS"},
            "disabledPlans": [
                {"servicePlanId": AAD_P1, "servicePlanName": "AAD_PREMIUM"},
                {"servicePlanId": AAD_P2, "servicePlanName": "AAD_PREMIUM_P2"},
            ],
        },
        {
            "action": "updateGroup",
            "group": sales,
            "property": "membershipRule",
            "before": SALES_OR_HR,
            "after": 'user.department -eq "Sales"',
        },
        {
            "action": "removeMembers",
            "group": static,
            "members": [{"id": "ben", "userPrincipalName": "ben@contoso.com"}],
        },
        {
            "action": "changeDisabledPlans",
            "group": sales,
            "sku": {"skuId": E3, "skuPartNumber": "SPE_E3"},
            "before": [],
            "after": [{"servicePlanId": TEAMS, "servicePlanName": "TEAMS1"}],
        },
        {
            "action": "removeLicense",
            "group": old,
            "sku": {"skuId": E5, "skuPartNumber": "SPE_E5"},
        },
        {"action": "deleteGroup", "group": old},
    ]


def test_a_group_member_is_named_by_its_display_name():
    desired = DesiredState(
        None,
        Settings(),
        (group("LIC-Static", members=("ben@contoso.com",), licenses=[license_of(EMS)]),),
        (),
    )
    document = _document(desired)
    _valid(document)
    assert document["changes"] == [
        {
            "action": "removeMembers",
            "group": {"id": "g-static", "displayName": "LIC-Static"},
            "members": [{"id": "g-team", "displayName": "Team-Nested"}],
        }
    ]


def test_impact_lists_exactly_the_removals_and_guards_count_them():
    document = _document(EVERYTHING)
    # ben keeps SPE_E3 (and its TEAMS1) through his direct assignment, so only EMS is his loss
    assert document["impact"] == {
        "licenseRemovals": [
            {
                "userId": "ana",
                "userPrincipalName": "ana@contoso.com",
                "skuId": E5,
                "skuPartNumber": "SPE_E5",
                "group": "LIC-Old",
                "reason": "group retired",
                "temporary": False,
            },
            {
                "userId": "ben",
                "userPrincipalName": "ben@contoso.com",
                "skuId": EMS,
                "skuPartNumber": "EMS",
                "group": "LIC-Static",
                "reason": "removed from the group's members",
                "temporary": False,
            },
        ],
        "planRemovals": [
            {
                "userId": "ana",
                "userPrincipalName": "ana@contoso.com",
                "skuPartNumber": "SPE_E3",
                "servicePlans": ["TEAMS1"],
                "group": "LIC-Sales",
                "reason": "service plans disabled on the group",
                "skuId": E3,
                "keptBy": ["LIC-Sales"],
                "temporary": False,
            }
        ],
        "licenseAdditions": [
            _addition("ana", EMS, "EMS", "LIC-New", "new group"),
            _addition("cy", E5, "SPE_E5", "LIC-Static", "added to the group's members"),
            _addition("cy", EMS, "EMS", "LIC-Static", "added to the group's members"),
        ],
        "planAdditions": [],
        "seats": document["impact"]["seats"],
        # ben leaves LIC-Sales by its edited rule and keeps SPE_E3 through his direct assignment
        "kept": [
            {
                "userId": "ben",
                "userPrincipalName": "ben@contoso.com",
                "skuId": E3,
                "skuPartNumber": "SPE_E3",
                "group": "LIC-Sales",
                "keptBy": [None],
            }
        ],
    }
    assert document["guards"] == {
        "licenseRemovals": 3,
        "temporaryRemovals": 0,
        "maxLicenseRemovals": 10,
        "protected": [],
        "refused": False,
        "reasons": [],
    }


def _addition(user_id: str, sku_id: str, part_number: str, group: str, reason: str) -> dict:
    return {
        "userId": user_id,
        "userPrincipalName": f"{user_id}@contoso.com",
        "skuId": sku_id,
        "skuPartNumber": part_number,
        "group": group,
        "reason": reason,
    }


def test_output_is_sorted_indented_and_identical_across_runs():
    first = plan_json(plan_document(build_plan(EVERYTHING, TENANT)))
    assert first == json.dumps(json.loads(first), indent=2, sort_keys=True)
    assert first.startswith('{\n  "changes": [')
    # set order follows string hashing, which differs between processes: run two of them
    script = (
        "from tests.render.test_plan_json import EVERYTHING, TENANT, build_plan, plan_json,"
        " plan_document;"
        "print(plan_json(plan_document(build_plan(EVERYTHING, TENANT))), end='')"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": seed},
            cwd=Path(__file__).resolve().parents[2],  # the checkout, where `tests` imports from
            capture_output=True,
            check=True,
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert outputs == {first.encode("ascii")}


def test_the_document_dict_is_what_the_json_says():
    # show and saved plans reuse the dict; it must equal the document read back from the text
    plan = build_plan(EVERYTHING, TENANT)
    assert plan_document(plan) == json.loads(plan_json(plan_document(plan)))
