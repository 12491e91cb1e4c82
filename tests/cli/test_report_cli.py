"""`reconciler report licenses|seats|groups` end to end: the real command in a subprocess, on a
small local tenant Entra settles (and the same through the Graph emulator), and on the demo."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest

from reconciler.emulator import running
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
from reconciler.providers.local import LocalTenant
from tests.builders import user

E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
INTUNE_A = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"
AAD_PREMIUM = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
SALES = "5a1e5000-0000-4000-8000-000000000001"
LEADERS = "1eade850-0000-4000-8000-000000000002"
VISIO_USERS = "71510000-0000-4000-8000-000000000003"
ALL_STAFF = "a1157aff-0000-4000-8000-000000000004"
HEADER = "userPrincipalName,userId,skuPartNumber,skuId,assignedBy,groupId,state,error"

POLICY = """\
groups:
  - displayName: "Sales, EMEA"
    membershipRule: user.department -eq "Sales"
    licenses:
      - sku: SPE_E5
"""


def _direct(sku: str) -> tuple[LicenseAssignmentState, ...]:
    return (LicenseAssignmentState(sku),)


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """Four users and four licensing groups, as Entra settles them: ana holds E5 directly and
    through "Sales, EMEA", ben through two groups, cy holds the one Visio seat directly, so
    "Visio users" can't give di one."""
    tenant = Tenant(
        Organization("org", "Contoso", "US", ("contoso.onmicrosoft.com",)),
        subscribedSkus=(
            Sku(E5, "SPE_E5", prepaidUnits=PrepaidUnits(10)),
            Sku(VISIO, "VISIOCLIENT", prepaidUnits=PrepaidUnits(1)),
            Sku(
                EMS,
                "EMS",
                (ServicePlan(AAD_PREMIUM, "AAD_PREMIUM"), ServicePlan(INTUNE_A, "INTUNE_A")),
                PrepaidUnits(10),
            ),
        ),
        users=(
            user("ana", "Sales", usageLocation="US", licenseAssignmentStates=_direct(E5)),
            user("ben", "Sales", usageLocation="US"),
            user("cy", "IT", usageLocation="US", licenseAssignmentStates=_direct(VISIO)),
            user("di", "IT", usageLocation="US"),
        ),
        groups=(
            Group(
                SALES,
                "Sales, EMEA",
                groupTypes=("DynamicMembership",),
                membershipRule='user.department -eq "Sales"',
                membershipRuleProcessingState="On",
                assignedLicenses=(AssignedLicense(E5),),
            ),
            Group(LEADERS, "Leaders", assignedLicenses=(AssignedLicense(E5),), members=("ben",)),
            Group(
                VISIO_USERS,
                "Visio users",
                assignedLicenses=(AssignedLicense(VISIO),),
                members=("di",),
            ),
            Group(
                ALL_STAFF,
                "All staff",
                assignedLicenses=(AssignedLicense(EMS, frozenset({INTUNE_A})),),
                members=("ana", "ben", "cy", "di"),
            ),
        ),
    )
    LocalTenant.create(tmp_path / "tenant.db", tenant)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "groups.yaml").write_text(POLICY)
    (tmp_path / "reconciler.yaml").write_text("tenant: local:tenant.db\npolicy: policies/\n")
    return tmp_path


def _license_rows(text: str) -> list[tuple[str, ...]]:
    names = ("userPrincipalName", "skuPartNumber", "assignedBy", "state", "error")
    return [tuple(row[name] for name in names) for row in csv.DictReader(io.StringIO(text))]


EXPECTED_LICENSES = [
    ("ana@contoso.com", "EMS", "All staff", "Active", "None"),
    # a direct license and the same product from a group coexist, each its own assignment
    ("ana@contoso.com", "SPE_E5", "direct", "Active", "None"),
    ("ana@contoso.com", "SPE_E5", "Sales, EMEA", "Active", "None"),
    ("ben@contoso.com", "EMS", "All staff", "Active", "None"),
    ("ben@contoso.com", "SPE_E5", "Leaders", "Active", "None"),
    ("ben@contoso.com", "SPE_E5", "Sales, EMEA", "Active", "None"),
    ("cy@contoso.com", "EMS", "All staff", "Active", "None"),
    ("cy@contoso.com", "VISIOCLIENT", "direct", "Active", "None"),
    ("di@contoso.com", "EMS", "All staff", "Active", "None"),
    # no seat left: Entra leaves the group's assignment in error
    ("di@contoso.com", "VISIOCLIENT", "Visio users", "Error", "CountViolation"),
]

# several assignments of a product to a user take one seat
EXPECTED_SEATS = [
    {"skuPartNumber": "SPE_E5", "skuId": E5, "enabled": 10, "consumed": 2, "heldDirectly": 1,
     "heldOnlyThroughGroups": 1, "inError": 0, "available": 8},
    {"skuPartNumber": "VISIOCLIENT", "skuId": VISIO, "enabled": 1, "consumed": 1,
     "heldDirectly": 1, "heldOnlyThroughGroups": 0, "inError": 1, "available": 0},
    {"skuPartNumber": "EMS", "skuId": EMS, "enabled": 10, "consumed": 4, "heldDirectly": 0,
     "heldOnlyThroughGroups": 4, "inError": 0, "available": 6},
]  # fmt: skip


def test_licenses_lists_every_assignment_direct_or_inherited_as_csv(run, small):
    result = run("report", "licenses", "--format", "csv", cwd=small)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == HEADER
    # the comma in the group's name is quoted, so the columns stay in place
    assert f'ben@contoso.com,ben,SPE_E5,{E5},"Sales, EMEA",{SALES},Active,None' in lines
    assert _license_rows(result.stdout) == EXPECTED_LICENSES


def test_licenses_filters_by_product_and_group(run, small):
    by_sku = run("report", "licenses", "--format", "csv", "--sku", "visioclient", cwd=small)
    assert _license_rows(by_sku.stdout) == [
        row for row in EXPECTED_LICENSES if "VISIOCLIENT" in row
    ]
    by_group = run(
        "report", "licenses", "--format", "json", "--group", "Sales, EMEA", "--group", LEADERS,
        cwd=small,
    )  # fmt: skip
    rows = [json.loads(line) for line in by_group.stdout.splitlines()]
    assert [(row["userPrincipalName"], row["assignedBy"]) for row in rows] == [
        ("ana@contoso.com", "Sales, EMEA"),
        ("ben@contoso.com", "Leaders"),
        ("ben@contoso.com", "Sales, EMEA"),
    ]


def test_seats_count_one_seat_per_user_and_users_left_without_one(run, small):
    result = run("report", "seats", "--format", "json", cwd=small)
    assert result.code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == EXPECTED_SEATS


def test_groups_says_which_the_policy_manages(run, small):
    result = run("report", "groups", "--format", "csv", cwd=small)
    assert result.code == 0, result.stderr
    rows = {row["displayName"]: row for row in csv.DictReader(io.StringIO(result.stdout))}
    assert {name: row["managed"] for name, row in rows.items()} == {
        "Sales, EMEA": "yes",
        "Leaders": "no",
        "Visio users": "no",
        "All staff": "no",
    }
    sales, visio, staff = rows["Sales, EMEA"], rows["Visio users"], rows["All staff"]
    assert (sales["membership"], sales["membershipRule"]) == (
        "dynamic",
        'user.department -eq "Sales"',
    )
    assert (sales["members"], visio["usersInError"]) == ("2", "1")
    assert staff["licenses"] == "EMS (disabled: INTUNE_A)"


def test_groups_without_a_policy_shows_none_managed_and_says_why(run, small):
    shutil.rmtree(small / "policies")
    result = run("report", "groups", "--format", "csv", cwd=small)
    assert result.code == 0, result.stderr
    assert {row["managed"] for row in csv.DictReader(io.StringIO(result.stdout))} == {"no"}
    assert "no policy at" in result.stderr


def test_the_same_reports_through_the_graph_emulator(run, small):
    shutil.copy(small / "tenant.db", small / "served.db")
    with running(f"local:{small / 'served.db'}", license_reads=0) as emulator:
        graph = ["--tenant", "graph", "--graph-url", emulator.url]
        licenses = run("report", "licenses", "--format", "csv", *graph, cwd=small)
        seats = run("report", "seats", "--format", "json", *graph, cwd=small)
    assert licenses.code == 0, licenses.stderr
    assert _license_rows(licenses.stdout) == EXPECTED_LICENSES
    assert [json.loads(line) for line in seats.stdout.splitlines()] == EXPECTED_SEATS


def test_an_unknown_filter_is_one_message_and_writes_no_file(run, small):
    result = run("report", "licenses", "--sku", "SPE_E7", "--out", "out.csv", cwd=small)
    assert result.code == 1
    assert result.stderr.strip().splitlines() == [
        "error: no product SPE_E7 in the tenant's subscribedSkus (give a skuPartNumber or a skuId)"
    ]
    assert not (small / "out.csv").exists()


def test_out_writes_the_report_to_a_file(run, small):
    result = run("report", "licenses", "--format", "csv", "--out", "out.csv", cwd=small)
    assert result.code == 0, result.stderr
    assert result.stdout == ""
    assert _license_rows((small / "out.csv").read_text(encoding="utf-8")) == EXPECTED_LICENSES


# --- the demo -----------------------------------------------------------------------------------


def test_demo_seats_agree_with_the_tenants_own_figures(run, demo):
    seed = json.loads((demo / "seed.json").read_text())
    result = run("report", "seats", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    rows = {row["skuPartNumber"]: row for row in map(json.loads, result.stdout.splitlines())}
    assert list(rows) == [sku["skuPartNumber"] for sku in seed["subscribedSkus"]]
    for sku in seed["subscribedSkus"]:
        row = rows[sku["skuPartNumber"]]
        enabled, consumed = sku["prepaidUnits"]["enabled"], sku["consumedUnits"]
        assert (row["enabled"], row["consumed"], row["available"]) == (
            enabled,
            consumed,
            enabled - consumed,
        )
        # every seat is held directly or through groups only, one per user
        assert row["heldDirectly"] + row["heldOnlyThroughGroups"] == consumed
    direct_visio = sum(
        1
        for person in seed["users"]
        for state in person["licenseAssignmentStates"]
        if state["skuId"] == VISIO and state["assignedByGroup"] is None
    )
    assert rows["VISIOCLIENT"]["heldDirectly"] == direct_visio


def test_demo_groups_all_adds_security_groups_and_marks_the_managed(run, demo):
    result = run("report", "groups", "--all", "--format", "csv", cwd=demo)
    assert result.code == 0, result.stderr
    managed = {
        row["displayName"]: row["managed"] for row in csv.DictReader(io.StringIO(result.stdout))
    }
    # declared by a block of the policy: yes
    assert managed["LIC-M365-E5-Sales"] == managed["LIC-PowerBI-Pro"] == "yes"
    # a security group without licenses, shown for --all; the policy only retires it
    assert managed["Finance Analysts"] == "no"
    # a Microsoft 365 group that isn't security-enabled can't license anyone
    assert "Contoso Engineering" not in managed


def test_demo_licenses_of_one_group_as_text(run, demo):
    seed = json.loads((demo / "seed.json").read_text())
    (group,) = [g for g in seed["groups"] if g["displayName"] == "LIC-PowerBI-Pro"]
    inherited = sorted(
        person["userPrincipalName"]
        for person in seed["users"]
        for state in person["licenseAssignmentStates"]
        if state["assignedByGroup"] == group["id"]
    )
    result = run("report", "licenses", "--group", "LIC-PowerBI-Pro", cwd=demo)
    assert result.code == 0, result.stderr
    header, *lines = result.stdout.splitlines()
    assert header.split() == ["userPrincipalName", "skuPartNumber", "assignedBy", "state", "error"]
    assert [line.split() for line in lines] == [
        [upn, "POWER_BI_PRO", "LIC-PowerBI-Pro", "Active", "None"] for upn in inherited
    ]
