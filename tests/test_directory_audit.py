"""Entra's directory audit log as the local tenant keeps it: what each write records, and
`directory_audits` answering queries over it."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.audit import group_results, processing_result
from reconciler.directory_audit import (
    ADD_GROUP,
    ADD_MEMBER,
    CHANGE_USER_LICENSE,
    CORE_DIRECTORY,
    DELETE_GROUP,
    DYNAMIC_MEMBERSHIP,
    FINISH_LICENSING,
    GROUP_LICENSING,
    GROUP_MANAGEMENT,
    REMOVE_MEMBER,
    SET_GROUP_LICENSE,
    START_LICENSING,
    UPDATE_GROUP,
    USER_MANAGEMENT,
    AppIdentity,
    AuditActivityInitiator,
    AuditQuery,
    DirectoryAudit,
    Initiator,
    is_entra_service,
    is_group_licensing,
    licensing_query,
    reconciler_initiator,
)
from reconciler.errors import InputError
from reconciler.model import ERROR, AssignedLicense, Group, Tenant
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    CreateGroup,
    DeleteGroup,
    RemoveMembers,
    UpdateGroup,
)
from reconciler.providers.base import ProviderError
from reconciler.providers.local import LocalTenant
from reconciler.providers.snapshot import SnapshotTenant, read_snapshot

CONTOSO = Path(__file__).resolve().parent.parent / "examples" / "contoso" / "tenant.json"
POWER_BI = "172709e9-6cc6-4106-80d3-94b63db2fa89"  # static, assigns POWER_BI_PRO (5 seats free)
SALES = "5dfeba9d-b24c-4358-be5b-da9c51e39157"  # dynamic, assigns SPE_E5
FINANCE = "0099338f-a145-4293-ae58-389e5280cd31"  # static, no licenses
POWER_BI_SKU = "f8a1db68-be16-40ed-86d5-cb42ce701560"
VISIO_SKU = "c5928f49-12ba-48f7-ada3-0d743a3601d5"
EMS_SKU = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
ROBOT = reconciler_initiator("octocat")
EVERYTHING = AuditQuery()


class Clock:
    """A clock a test moves: each reading is one minute after the last."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(minutes=1)
        return self.now


@pytest.fixture
def tenant(tmp_path: Path) -> LocalTenant:
    LocalTenant.create(tmp_path / "tenant.db", read_snapshot(CONTOSO)).close()
    with LocalTenant(tmp_path / "tenant.db", initiator=ROBOT, clock=Clock()) as local:
        yield local


def _group(tenant: Tenant, group_id: str) -> Group:
    return next(group for group in tenant.groups if group.id == group_id)


def _oldest_first(local: LocalTenant, query: AuditQuery = EVERYTHING) -> list[DirectoryAudit]:
    return list(local.directory_audits(query))[::-1]


def _unlicensed(tenant: Tenant, count: int) -> list[str]:
    """Users holding no POWER_BI_PRO, whom the Power BI group would license."""
    return [
        user.id
        for user in tenant.users
        if all(a.skuId != POWER_BI_SKU for a in user.assignedLicenses)
    ][:count]


def test_adding_members_records_each_member_then_the_groups_license_processing(tenant):
    before = tenant.read()
    joining = _unlicensed(before, 2)
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(joining)))
    records = _oldest_first(tenant)
    assert [r.activityDisplayName for r in records] == [
        ADD_MEMBER,
        ADD_MEMBER,
        START_LICENSING,
        CHANGE_USER_LICENSE,
        CHANGE_USER_LICENSE,
        FINISH_LICENSING,
    ]
    added = records[:2]
    assert [r.targetResources[0].id for r in added] == joining
    assert all(r.targetResources[0].type == "User" for r in added)
    assert all(r.targetResources[1].id == POWER_BI for r in added)
    assert all(r.targetResources[1].type == "Group" for r in added)
    assert added[0].targetResources[0].modifiedProperties[0].newValue == json.dumps(POWER_BI)
    # one write, one correlationId and one time; Core Directory's categories
    assert len({r.correlationId for r in records}) == 1
    assert len({r.activityDateTime for r in records}) == 1
    assert {r.loggedByService for r in records} == {CORE_DIRECTORY}
    assert {r.category for r in records if r.activityDisplayName != CHANGE_USER_LICENSE} == {
        GROUP_MANAGEMENT
    }
    assert {r.category for r in records[3:5]} == {USER_MANAGEMENT}
    assert {r.targetResources[0].id for r in records[3:5]} == set(joining)


def test_reconcilers_writes_name_the_app_and_who_ran_it_and_licensing_names_its_service(tenant):
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(_unlicensed(tenant.read(), 1))))
    member, start, change, finish = _oldest_first(tenant)
    assert member.initiatedBy.app.displayName == "reconciler"
    assert member.initiatedBy.user is None
    assert member.detail("actor") == "octocat"
    for record in (start, change, finish):
        assert record.initiatedBy == GROUP_LICENSING
        assert is_group_licensing(record.initiatedBy)
        assert is_entra_service(record.initiatedBy)
        assert record.additionalDetails == ()
    assert not is_entra_service(member.initiatedBy)
    # the name older tenants log it under
    older = AppIdentity(displayName="Microsoft Azure AD Group-Based Licensing")
    assert is_group_licensing(AuditActivityInitiator(app=older))


def test_finish_reads_the_result_line_counted_as_reconcilers_own_log_counts(tenant):
    # six join, five seats are free: one is left in error (CountViolation)
    joining = _unlicensed(tenant.read(), 6)
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(joining)))
    after = tenant.read()
    finish = _oldest_first(tenant)[-1]
    assert finish.activityDisplayName == FINISH_LICENSING
    succeeded, failed = group_results(after, [POWER_BI])[POWER_BI]
    assert failed == 1
    assert finish.result_line == processing_result(succeeded, failed)
    assert finish.result == "success"


def test_users_put_in_error_get_a_failed_change_naming_the_product_and_the_reason(tenant):
    joining = _unlicensed(tenant.read(), 6)
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(joining)))
    after = tenant.read()
    in_error = {
        user.id
        for user in after.users
        if any(
            s.assignedByGroup == POWER_BI and s.state == ERROR for s in user.licenseAssignmentStates
        )
    }
    changes = _oldest_first(tenant, AuditQuery(activities=(CHANGE_USER_LICENSE,)))
    failed = [r for r in changes if r.result == "failure"]
    assert {r.targetResources[0].id for r in failed} == in_error
    assert failed[0].resultReason == "POWER_BI_PRO: CountViolation"
    assert all(r.resultReason is None for r in changes if r.result == "success")


def test_a_user_already_in_error_whose_licenses_change_otherwise_is_no_new_failure(tenant):
    joining = _unlicensed(tenant.read(), 6)
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(joining)))
    stuck = next(r for r in _oldest_first(tenant) if r.result == "failure").targetResources[0]
    # EMS has seats to spare
    tenant.apply(AddLicense(FINANCE, "Finance Analysts", AssignedLicense(EMS_SKU)))
    tenant.apply(AddMembers(FINANCE, "Finance Analysts", (stuck.id,)))
    change = next(iter(tenant.directory_audits(AuditQuery(activities=(CHANGE_USER_LICENSE,)))))
    assert change.targetResources[0].id == stuck.id
    # still in error for Power BI, but this processing put nothing new in error
    assert (change.result, change.resultReason) == ("success", None)


def test_a_rule_change_records_old_and_new_values_and_the_members_the_rule_dropped(tenant):
    before = _group(tenant.read(), SALES)
    rule = before.membershipRule + ' -and user.country -eq "US"'
    tenant.apply(
        UpdateGroup(SALES, before.displayName, "membershipRule", before.membershipRule, rule)
    )
    after = _group(tenant.read(), SALES)
    records = _oldest_first(tenant)
    update = records[0]
    assert update.activityDisplayName == UPDATE_GROUP
    assert update.operationType == "Update"
    (target,) = update.targetResources
    changed = {p.displayName: (p.oldValue, p.newValue) for p in target.modifiedProperties}
    assert changed["MembershipRule"] == (json.dumps([before.membershipRule]), json.dumps([rule]))
    assert changed["Included Updated Properties"] == (None, json.dumps("MembershipRule"))
    removed = [r for r in records if r.activityDisplayName == REMOVE_MEMBER]
    assert removed
    assert {r.targetResources[0].id for r in removed} == set(before.members) - set(after.members)
    # the rule's own processing removed them, not the writer
    assert {r.initiatedBy for r in removed} == {DYNAMIC_MEMBERSHIP}
    assert is_entra_service(DYNAMIC_MEMBERSHIP) and not is_group_licensing(DYNAMIC_MEMBERSHIP)
    assert [r.activityDisplayName for r in records[-1:]] == [FINISH_LICENSING]


def test_set_group_license_records_the_groups_licenses_old_and_new(tenant):
    tenant.apply(AddLicense(FINANCE, "Finance Analysts", AssignedLicense(VISIO_SKU)))
    records = _oldest_first(tenant)
    assert records[0].activityDisplayName == SET_GROUP_LICENSE
    (licenses,) = records[0].targetResources[0].modifiedProperties
    assert licenses.displayName == "AssignedLicense"
    assert json.loads(licenses.oldValue) == []
    assert json.loads(licenses.newValue) == [{"disabledPlans": [], "skuId": VISIO_SKU}]
    assert records[1].activityDisplayName == START_LICENSING
    assert records[-1].activityDisplayName == FINISH_LICENSING


def test_creating_and_deleting_a_group_records_add_group_and_delete_group(tenant):
    group = Group("new:lic-x", "LIC-X", description="Test group", mailNickname="LIC-X")
    (created,) = tenant.apply_together([CreateGroup(group)])
    tenant.apply(DeleteGroup(created.groupId, "LIC-X"))
    add, delete = _oldest_first(tenant)
    assert (add.activityDisplayName, add.operationType) == (ADD_GROUP, "Add")
    assert (delete.activityDisplayName, delete.operationType) == (DELETE_GROUP, "Delete")
    assert add.targetResources[0].id == delete.targetResources[0].id == created.groupId
    assert add.targetResources[0].groupType == "azureAD"
    properties = {p.displayName: p.newValue for p in add.targetResources[0].modifiedProperties}
    assert properties["DisplayName"] == json.dumps(["LIC-X"])
    assert properties["Description"] == json.dumps(["Test group"])
    assert "MembershipRule" not in properties  # only what was set
    assert add.activityDateTime < delete.activityDateTime


def test_a_portal_admins_change_names_the_user_by_principal_name_and_id(tenant):
    admin = tenant.read().users[0]
    with tenant.acting_as(Initiator.user(admin.userPrincipalName.upper())):
        tenant.apply(UpdateGroup(FINANCE, "Finance Analysts", "description", None, "By hand"))
    tenant.apply(UpdateGroup(FINANCE, "Finance Analysts", "description", "By hand", "Again"))
    by_hand, again = _oldest_first(tenant)
    assert by_hand.initiatedBy.user.id == admin.id
    assert by_hand.initiatedBy.user.userPrincipalName == admin.userPrincipalName
    assert by_hand.initiatedBy.app is None
    assert by_hand.additionalDetails == ()
    assert again.initiatedBy.app.displayName == "reconciler"  # acting_as ended with the block


def test_reprocessing_records_the_processing_and_the_users_it_fixed(tenant):
    joining = _unlicensed(tenant.read(), 6)
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(joining)))
    stuck = next(r for r in _oldest_first(tenant) if r.result == "failure").targetResources[0].id
    # free a seat by taking one member out, then reprocess the user left in error
    leaving = next(member for member in joining if member != stuck)
    tenant.apply(RemoveMembers(POWER_BI, "LIC-PowerBI-Pro", (leaving,)))
    since = next(iter(tenant.directory_audits(AuditQuery()))).activityDateTime + timedelta(
        seconds=1
    )
    assert tenant.reprocess([stuck]) == {}
    records = _oldest_first(tenant, AuditQuery(since=since))
    assert [r.activityDisplayName for r in records] == [
        START_LICENSING,
        CHANGE_USER_LICENSE,
        FINISH_LICENSING,
    ]
    assert records[1].targetResources[0].id == stuck
    assert records[1].result == "success"
    assert records[2].result_line.endswith("Users for whom license assignment failed: 0")


def test_queries_filter_by_time_target_activity_and_category_newest_first(tenant):
    tenant.apply(UpdateGroup(FINANCE, "Finance Analysts", "description", None, "One"))
    joining = _unlicensed(tenant.read(), 1)
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(joining)))
    records = list(tenant.directory_audits(AuditQuery()))
    assert [r.activityDateTime for r in records] == sorted(
        (r.activityDateTime for r in records), reverse=True
    )
    first, second = records[-1].activityDateTime, records[0].activityDateTime
    assert [r.activityDisplayName for r in tenant.directory_audits(AuditQuery(until=first))] == [
        UPDATE_GROUP
    ]
    assert len(list(tenant.directory_audits(AuditQuery(since=second)))) == len(records) - 1
    by_group = tenant.directory_audits(AuditQuery(group_ids=(FINANCE.upper(),)))
    assert [r.activityDisplayName for r in by_group] == [UPDATE_GROUP]
    member_of = AuditQuery(group_ids=(POWER_BI,), user_ids=(joining[0],))
    assert [r.activityDisplayName for r in tenant.directory_audits(member_of)] == [ADD_MEMBER]
    named = AuditQuery(activities=("add MEMBER to group", "update group"))
    assert {r.activityDisplayName for r in tenant.directory_audits(named)} == {
        ADD_MEMBER,
        UPDATE_GROUP,
    }
    users = tenant.directory_audits(AuditQuery(categories=(USER_MANAGEMENT,)))
    assert [r.activityDisplayName for r in users] == [CHANGE_USER_LICENSE]


def test_the_licensing_query_resolves_names_and_defaults_to_the_licensing_activities(tenant):
    current = tenant.read()
    query = licensing_query(current, ["lic-powerbi-pro"], [current.users[0].userPrincipalName])
    assert query.group_ids == (POWER_BI,)
    assert query.user_ids == (current.users[0].id,)
    assert SET_GROUP_LICENSE in query.activities and FINISH_LICENSING in query.activities
    assert query.categories == (GROUP_MANAGEMENT, USER_MANAGEMENT)
    chosen = licensing_query(None, [POWER_BI], activities=["Update group"])
    assert (chosen.group_ids, chosen.activities, chosen.categories) == (
        (POWER_BI,),
        ("Update group",),
        (),
    )
    with pytest.raises(InputError, match="no group 'LIC-Nobody' in the tenant"):
        licensing_query(current, ["LIC-Nobody"])


def test_a_tenant_file_from_before_the_audit_log_lists_nothing_then_records(tmp_path):
    path = tmp_path / "tenant.db"
    LocalTenant.create(path, read_snapshot(CONTOSO)).close()
    with closing(sqlite3.connect(path)) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master")}
    assert "directory_audits" not in tables
    with LocalTenant(path) as local:
        assert list(local.directory_audits(AuditQuery())) == []
        local.apply(UpdateGroup(FINANCE, "Finance Analysts", "description", None, "New"))
    with LocalTenant(path) as reopened:
        (record,) = reopened.directory_audits(AuditQuery())
    assert record.activityDisplayName == UPDATE_GROUP


def test_a_refused_write_records_nothing(tenant):
    with pytest.raises(ProviderError):
        tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", ("no-such-user",)))
    assert list(tenant.directory_audits(AuditQuery())) == []


def test_records_come_back_from_graphs_json_unchanged(tenant):
    tenant.apply(AddMembers(POWER_BI, "LIC-PowerBI-Pro", tuple(_unlicensed(tenant.read(), 6))))
    for record in tenant.directory_audits(AuditQuery()):
        assert DirectoryAudit.from_document(record.document()) == record


def test_a_document_that_is_not_a_record_is_an_input_error():
    with pytest.raises(InputError, match="not a directoryAudit record"):
        DirectoryAudit.from_document({"activityDisplayName": "Update group"})


def test_a_snapshot_has_no_audit_log():
    with pytest.raises(ProviderError, match="snapshot, which has no audit log"):
        SnapshotTenant(CONTOSO).directory_audits(AuditQuery())


def test_a_processing_of_many_users_records_one_change_per_user(tmp_path):
    path = tmp_path / "tenant.db"
    LocalTenant.create(path, read_snapshot(CONTOSO)).close()
    with LocalTenant(path) as local:
        everyone = tuple(user.id for user in local.read().users)
        local.apply(AddMembers(FINANCE, "Finance Analysts", everyone))
        local.apply(AddLicense(FINANCE, "Finance Analysts", AssignedLicense(POWER_BI_SKU)))
        after = local.read()
        changed = [
            user.id
            for user in after.users
            if any(s.assignedByGroup == FINANCE for s in user.licenseAssignmentStates)
        ]
        changes = list(local.directory_audits(AuditQuery(activities=(CHANGE_USER_LICENSE,))))
    assert len(changes) == len(changed) == len(everyone)
    assert {r.targetResources[0].id for r in changes} == set(changed)
