"""The reports' rows and writers, on a small tenant written as Graph reports one.

The tenant below is what Graph would return: license states as `licenseAssignmentStates`
carries them (one entry per assignment, `assignedByGroup` null when direct), `consumedUnits`
one per user holding a product however many assignments give it to them.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    ERROR,
    NO_ERROR,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
    User,
)
from reconciler.policy import load_policy
from reconciler.render.report import TEXT_LOOKAHEAD, write_report
from reconciler.report import (
    GroupLicense,
    GroupRow,
    LicenseRow,
    ReportFilterError,
    SeatRow,
    group_rows,
    license_rows,
    managed_ids,
    seat_rows,
)

E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
INTUNE_A = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"
AAD_PREMIUM = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"

SALES = "5a1e5000-0000-4000-8000-000000000001"
LEADERS = "1eade850-0000-4000-8000-000000000002"
VISIO_USERS = "71510000-0000-4000-8000-000000000003"
ALL_STAFF = "a1157aff-0000-4000-8000-000000000004"
PROJECT = "9803ec70-0000-4000-8000-000000000005"
TEAM_SITE = "7ea35173-0000-4000-8000-000000000006"
GONE = "60e00000-0000-4000-8000-0000000000ff"  # a group deleted since


def _state(sku, group=None, state=ACTIVE, error=NO_ERROR, disabled=()):
    return LicenseAssignmentState(sku, frozenset(disabled), group, state, error)


def _user(name, *states):
    return User(f"id-{name}", f"{name}@contoso.com", licenseAssignmentStates=tuple(states))


TENANT = Tenant(
    Organization("org", "Contoso", "US", ("contoso.onmicrosoft.com",)),
    subscribedSkus=(
        Sku(E5, "SPE_E5", prepaidUnits=PrepaidUnits(10), consumedUnits=3),
        Sku(VISIO, "VISIOCLIENT", prepaidUnits=PrepaidUnits(1), consumedUnits=1),
        Sku(
            EMS,
            "EMS",
            (ServicePlan(AAD_PREMIUM, "AAD_PREMIUM"), ServicePlan(INTUNE_A, "INTUNE_A")),
            PrepaidUnits(10),
            consumedUnits=1,
        ),
    ),
    users=(
        # not in alphabetical order: rows follow the tenant's order of users
        _user("zoe", _state(EMS, ALL_STAFF, disabled=[INTUNE_A]), _state(E5, GONE)),
        _user("ana", _state(E5, SALES), _state(E5)),
        _user("ben", _state(E5, SALES), _state(E5, LEADERS)),
        _user("cy", _state(VISIO)),
        # the only Visio seat is cy's: the group's assignment fails, as Entra reports it
        _user("di", _state(VISIO, VISIO_USERS, ERROR, "CountViolation")),
        _user("ed"),
    ),
    groups=(
        Group(
            SALES,
            "Sales, EMEA",
            groupTypes=("DynamicMembership",),
            membershipRule='user.department -eq "Sales"',
            membershipRuleProcessingState="On",
            assignedLicenses=(AssignedLicense(E5),),
            members=("id-ana", "id-ben"),
        ),
        # a nested group is no user: group licensing doesn't reach its members
        Group(
            LEADERS, "Leaders", assignedLicenses=(AssignedLicense(E5),), members=("id-ben", PROJECT)
        ),
        Group(
            VISIO_USERS,
            "Visio users",
            assignedLicenses=(AssignedLicense(VISIO),),
            members=("id-di",),
        ),
        Group(
            ALL_STAFF,
            "All staff",
            assignedLicenses=(AssignedLicense(EMS, frozenset({INTUNE_A})),),
            members=("id-zoe",),
        ),
        Group(PROJECT, "Project X", members=("id-ed",)),
        Group(
            TEAM_SITE, "Team site", groupTypes=("Unified",), securityEnabled=False, mailEnabled=True
        ),
    ),
)


def _rows(**filters):
    return [
        (row.userPrincipalName, row.skuPartNumber, row.assignedBy)
        for row in license_rows(TENANT, **filters)
    ]


# --- licenses ---------------------------------------------------------------------------------


def test_every_assignment_is_a_row_in_user_order_then_product_with_direct_first():
    assert _rows() == [
        ("zoe@contoso.com", "EMS", "All staff"),
        ("zoe@contoso.com", "SPE_E5", GONE),
        ("ana@contoso.com", "SPE_E5", "direct"),
        ("ana@contoso.com", "SPE_E5", "Sales, EMEA"),
        ("ben@contoso.com", "SPE_E5", "Leaders"),
        ("ben@contoso.com", "SPE_E5", "Sales, EMEA"),
        ("cy@contoso.com", "VISIOCLIENT", "direct"),
        ("di@contoso.com", "VISIOCLIENT", "Visio users"),
    ]


def test_a_direct_row_has_no_group_and_an_inherited_row_names_its_group():
    ana = [row for row in license_rows(TENANT) if row.userPrincipalName == "ana@contoso.com"]
    assert ana == [
        LicenseRow("ana@contoso.com", "id-ana", "SPE_E5", E5, "direct", None, ACTIVE, NO_ERROR),
        LicenseRow(
            "ana@contoso.com", "id-ana", "SPE_E5", E5, "Sales, EMEA", SALES, ACTIVE, NO_ERROR
        ),
    ]


def test_a_failed_group_assignment_shows_its_state_and_error():
    (di,) = [row for row in license_rows(TENANT) if row.userId == "id-di"]
    assert (di.state, di.error, di.groupId) == (ERROR, "CountViolation", VISIO_USERS)


def test_a_group_no_longer_in_the_tenant_is_named_by_its_id():
    (gone,) = [row for row in license_rows(TENANT) if row.groupId == GONE]
    assert gone.assignedBy == GONE


def test_sku_filter_takes_part_numbers_and_ids_in_any_case():
    visio = [
        ("cy@contoso.com", "VISIOCLIENT", "direct"),
        ("di@contoso.com", "VISIOCLIENT", "Visio users"),
    ]
    assert _rows(skus=["visioclient"]) == visio
    assert _rows(skus=[VISIO.upper()]) == visio
    assert len(_rows(skus=["VISIOCLIENT", "EMS"])) == 3


def test_group_filter_keeps_only_that_groups_inherited_licenses():
    assert _rows(groups=["sales, emea"]) == [
        ("ana@contoso.com", "SPE_E5", "Sales, EMEA"),
        ("ben@contoso.com", "SPE_E5", "Sales, EMEA"),
    ]
    assert _rows(groups=[LEADERS, "Visio users"]) == [
        ("ben@contoso.com", "SPE_E5", "Leaders"),
        ("di@contoso.com", "VISIOCLIENT", "Visio users"),
    ]
    assert _rows(groups=[GONE]) == [("zoe@contoso.com", "SPE_E5", GONE)]
    assert _rows(skus=["EMS"], groups=["Sales, EMEA"]) == []


def test_an_unknown_filter_fails_before_any_row_is_made():
    with pytest.raises(ReportFilterError, match="no product E7"):
        license_rows(TENANT, skus=["E7"])
    with pytest.raises(ReportFilterError, match="no group Marketing"):
        license_rows(TENANT, groups=["Marketing"])


def test_a_guid_written_without_dashes_is_no_group_id_and_fails_rather_than_match_nothing():
    undashed = GONE.replace("-", "")
    with pytest.raises(ReportFilterError, match=f"no group {undashed}"):
        license_rows(TENANT, groups=[undashed])


# --- seats ------------------------------------------------------------------------------------


def test_seats_count_one_per_user_however_many_assignments_give_the_product():
    assert list(seat_rows(TENANT)) == [
        # ana holds E5 directly and from Sales, ben from two groups, zoe from a deleted group
        SeatRow("SPE_E5", E5, 10, 3, 1, 2, 0, 7),
        # cy holds the only seat directly; di's group assignment failed for want of a seat
        SeatRow("VISIOCLIENT", VISIO, 1, 1, 1, 0, 1, 0),
        SeatRow("EMS", EMS, 10, 1, 0, 1, 0, 9),
    ]


def test_active_with_error_holds_the_product_and_disabled_is_neither_held_nor_in_error():
    tenant = Tenant(
        TENANT.organization,
        subscribedSkus=(Sku(E5, "SPE_E5", prepaidUnits=PrepaidUnits(5), consumedUnits=1),),
        users=(
            # a removal that failed (DependencyViolation): the user keeps the license and seat
            _user("kim", _state(E5, SALES, ACTIVE_WITH_ERROR, "DependencyViolation")),
            _user("lou", _state(E5, SALES, "Disabled")),
        ),
    )
    assert list(seat_rows(tenant)) == [SeatRow("SPE_E5", E5, 5, 1, 0, 1, 0, 4)]


# --- groups -----------------------------------------------------------------------------------


def test_groups_that_assign_licenses_with_members_licenses_and_errors():
    e5, visio = (GroupLicense("SPE_E5", E5, ()),), (GroupLicense("VISIOCLIENT", VISIO, ()),)
    rule = 'user.department -eq "Sales"'
    assert list(group_rows(TENANT, managed={SALES})) == [
        GroupRow("Sales, EMEA", SALES, "yes", "dynamic", rule, 2, e5, 0),
        GroupRow("Leaders", LEADERS, "no", "assigned", None, 1, e5, 0),
        GroupRow("Visio users", VISIO_USERS, "no", "assigned", None, 1, visio, 1),
        GroupRow(
            "All staff",
            ALL_STAFF,
            "no",
            "assigned",
            None,
            1,
            (GroupLicense("EMS", EMS, ("INTUNE_A",)),),
            0,
        ),
    ]


def test_all_adds_security_groups_without_licenses_but_never_other_groups():
    names = [row.displayName for row in group_rows(TENANT, managed=(), all_groups=True)]
    assert names == ["Sales, EMEA", "Leaders", "Visio users", "All staff", "Project X"]


def test_a_failed_removal_counts_the_user_in_error_for_its_group():
    kim = _user("kim", _state(E5, LEADERS, ACTIVE_WITH_ERROR, "DependencyViolation"))
    tenant = Tenant(TENANT.organization, TENANT.subscribedSkus, (kim,), TENANT.groups)
    errors = {row.displayName: row.usersInError for row in group_rows(tenant, ())}
    assert errors == {"Sales, EMEA": 0, "Leaders": 1, "Visio users": 0, "All staff": 0}


def test_managed_groups_are_those_a_block_of_the_policy_declares(tmp_path):
    (tmp_path / "groups.yaml").write_text(
        "groups:\n"
        '  - displayName: "Sales, EMEA"\n'
        '    membershipRule: user.department -eq "Sales"\n'
        "    licenses:\n"
        "      - sku: SPE_E5\n"
        "  - displayName: LIC-Visio\n"  # not in the tenant yet: manages nothing there
        "    members: []\n"
    )
    assert managed_ids(load_policy(tmp_path), TENANT) == {SALES.lower()}
    assert managed_ids(None, TENANT) == frozenset()


# --- writers ----------------------------------------------------------------------------------


def _written(rows, row_type, output_format):
    out = io.StringIO()
    count = write_report(rows, row_type, output_format, out)
    return count, out.getvalue()


def test_csv_has_a_header_and_quotes_a_comma_in_a_name():
    count, text = _written(license_rows(TENANT, groups=["Sales, EMEA"]), LicenseRow, "csv")
    lines = text.splitlines()
    assert count == 2
    assert lines[0] == "userPrincipalName,userId,skuPartNumber,skuId,assignedBy,groupId,state,error"
    assert lines[1] == f'ana@contoso.com,id-ana,SPE_E5,{E5},"Sales, EMEA",{SALES},Active,None'
    assert list(csv.reader(io.StringIO(text)))[2][4] == "Sales, EMEA"


def test_csv_of_a_direct_license_leaves_group_id_empty():
    _, text = _written(license_rows(TENANT, skus=["VISIOCLIENT"]), LicenseRow, "csv")
    cy = next(csv.DictReader(io.StringIO(text)))
    assert (cy["assignedBy"], cy["groupId"]) == ("direct", "")


def test_json_is_one_object_per_line_with_graph_names():
    _, text = _written(license_rows(TENANT, skus=["VISIOCLIENT"]), LicenseRow, "json")
    rows = [json.loads(line) for line in text.splitlines()]
    assert rows[0] == {
        "userPrincipalName": "cy@contoso.com",
        "userId": "id-cy",
        "skuPartNumber": "VISIOCLIENT",
        "skuId": VISIO,
        "assignedBy": "direct",
        "groupId": None,
        "state": "Active",
        "error": "None",
    }
    assert (rows[1]["state"], rows[1]["error"]) == ("Error", "CountViolation")


def test_group_licenses_list_disabled_plans_by_name():
    rows = [row for row in group_rows(TENANT, ()) if row.displayName == "All staff"]
    _, text = _written(rows, GroupRow, "json")
    assert json.loads(text)["licenses"] == [
        {"skuPartNumber": "EMS", "skuId": EMS, "disabledPlans": ["INTUNE_A"]}
    ]
    _, text = _written(rows, GroupRow, "csv")
    assert next(csv.DictReader(io.StringIO(text)))["licenses"] == "EMS (disabled: INTUNE_A)"


def test_text_aligns_columns_and_leaves_out_ids():
    _, text = _written(seat_rows(TENANT), SeatRow, "text")
    lines = text.splitlines()
    assert lines[0].split() == [
        "skuPartNumber", "enabled", "consumed", "available",
        "heldDirectly", "heldOnlyThroughGroups", "inError",
    ]  # fmt: skip
    assert lines[2].split() == ["VISIOCLIENT", "1", "1", "0", "1", "0", "1"]
    assert E5 not in text
    # counts are right-aligned under their heading
    assert {len(line) for line in lines} == {len(lines[0])}


def test_text_writes_a_value_longer_than_the_first_rows_whole():
    short = LicenseRow("a@contoso.com", "a", "EMS", EMS, "direct", None, ACTIVE, NO_ERROR)
    long = LicenseRow(
        "a-much-longer-name@contoso.com", "b", "EMS", EMS, "direct", None, ACTIVE, NO_ERROR
    )
    count, text = _written([short] * TEXT_LOOKAHEAD + [long], LicenseRow, "text")
    assert count == TEXT_LOOKAHEAD + 1
    last = text.splitlines()[-1]
    assert last.split() == ["a-much-longer-name@contoso.com", "EMS", "direct", "Active", "None"]


@pytest.mark.parametrize("output_format", ["csv", "json"])
def test_csv_and_json_write_each_row_before_the_next_is_made(output_format):
    made: list[LicenseRow] = []

    def rows():
        for row in license_rows(TENANT):
            made.append(row)
            yield row

    class Out(io.StringIO):
        def __init__(self) -> None:
            super().__init__()
            self.rows_made_at_each_write: list[int] = []

        def write(self, text: str) -> int:
            self.rows_made_at_each_write.append(len(made))
            return super().write(text)

    out = Out()
    write_report(rows(), LicenseRow, output_format, out)
    data_writes = [n for n in out.rows_made_at_each_write if n > 0]
    # every row is out before the one after it is made
    assert sorted(set(data_writes)) == list(range(1, len(made) + 1))
