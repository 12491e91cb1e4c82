"""apply's audit trail: an intent on disk before each change and its outcome after; a log that
can't be written changes nothing; and what the next run records of a run cut short, from the
local tenant's journal or, through Graph, from what the tenant shows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reconciler.apply import apply_plan
from reconciler.audit import FINISH, START, AuditLog, read_audit
from reconciler.errors import InputError
from reconciler.interrupted import record_interrupted
from reconciler.model import Tenant
from reconciler.plan.changes import Change
from reconciler.plan.document import changes_from_document
from reconciler.providers.base import AppliedChange
from reconciler.providers.local import LocalTenant
from reconciler.providers.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parents[1]
PBI = {"id": "172709e9-6cc6-4106-80d3-94b63db2fa89", "displayName": "LIC-PowerBI-Pro"}
FINANCE = {"id": "0099338f-a145-4293-ae58-389e5280cd31", "displayName": "Finance Analysts"}
MEMBER = {"id": "e5943565-67f1-4a4e-9f84-13be34042f86", "userPrincipalName": "daniel@contoso.com"}
OUTSIDER = {"id": "65ffe75f-3509-4dd0-9922-906a59a84a3a", "userPrincipalName": "aarav@contoso.com"}
POWER_BI = {"skuId": "f8a1db68-be16-40ed-86d5-cb42ce701560", "skuPartNumber": "POWER_BI_PRO"}
VISIO = {"skuId": "c5928f49-12ba-48f7-ada3-0d743a3601d5", "skuPartNumber": "VISIOCLIENT"}

DESCRIBE = {
    "action": "updateGroup",
    "group": FINANCE,
    "property": "description",
    "before": None,
    "after": "analysts",
}
CREATE = {
    "action": "createGroup",
    "group": {"id": "new:lic-visio", "displayName": "LIC-Visio"},
    "after": {
        "displayName": "LIC-Visio",
        "description": "Visio for designers",
        "groupTypes": [],
        "securityEnabled": True,
        "mailEnabled": False,
        "mailNickname": "LIC-Visio",
        "membershipRule": None,
        "membershipRuleProcessingState": None,
    },
}
ADD_TO_NEW = {
    "action": "addMembers",
    "group": {"id": "new:lic-visio", "displayName": "LIC-Visio"},
    "members": [OUTSIDER],
}
ADD_BOTH = {"action": "addMembers", "group": PBI, "members": [MEMBER, OUTSIDER]}
REMOVE_MEMBER = {"action": "removeMembers", "group": PBI, "members": [MEMBER]}
ADD_VISIO = {"action": "addLicense", "group": PBI, "sku": VISIO, "disabledPlans": []}
REMOVE_POWER_BI = {"action": "removeLicense", "group": PBI, "sku": POWER_BI}
DELETE_FINANCE = {"action": "deleteGroup", "group": FINANCE}
DELETE_PBI = {"action": "deleteGroup", "group": PBI}  # Entra refuses: it assigns licenses


@pytest.fixture
def tenant(tmp_path: Path) -> LocalTenant:
    """A local tenant made from the Contoso demo tenant."""
    seed = read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")
    return LocalTenant.create(tmp_path / "tenant.db", seed)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "logs" / "audit.jsonl"


def _log(path: Path, tenant: LocalTenant, actor: str = "ana") -> AuditLog:
    return AuditLog(path, actor, tenant.read().organization.id)


def _results(records: list[dict]) -> list[tuple[str, str]]:
    return [(record["operation"], record["result"]) for record in records]


def _group(tenant: Tenant, group_id: str):
    return next((g for g in tenant.groups if g.id.lower() == group_id.lower()), None)


# --- apply_plan: intent, change, outcome ----------------------------------------------------


class _Watching:
    """The local tenant, reading the log each time a change is sent."""

    def __init__(self, tenant: LocalTenant, log: Path) -> None:
        self.tenant, self.log = tenant, log
        self.seen: list[list[tuple[str, str]]] = []

    def read(self) -> Tenant:
        return self.tenant.read()

    def apply_together(self, changes: list[Change]) -> list[AppliedChange]:
        self.seen.append(_results(read_audit(self.log, raw=True)))
        return self.tenant.apply_together(changes)


def test_each_change_is_sent_after_its_intent_is_written(tenant, log_path):
    watching = _Watching(tenant, log_path)
    apply_plan({"changes": [DESCRIBE, REMOVE_MEMBER]}, watching, _log(log_path, tenant))  # type: ignore[arg-type]
    assert watching.seen == [
        [("updateGroup", "started")],
        [("updateGroup", "started"), ("updateGroup", "success"), ("removeMembers", "started")],
    ]
    records = read_audit(log_path, raw=True)
    assert _results(records) == [
        ("updateGroup", "started"),
        ("updateGroup", "success"),
        ("removeMembers", "started"),
        ("removeMembers", "success"),
        (START, "success"),
        (FINISH, records[-1]["result"]),
    ]
    assert {record["runId"] for record in records} == {records[0]["runId"]}


def test_a_group_created_is_named_by_its_real_id_in_the_intents_of_its_later_changes(
    tenant, log_path
):
    apply_plan({"changes": [CREATE, ADD_TO_NEW]}, tenant, _log(log_path, tenant))
    create_intent, created, add_intent, added = read_audit(log_path, raw=True)[:4]
    assert create_intent["group"]["id"] == "new:lic-visio"
    assert created["group"]["id"] == add_intent["group"]["id"] == added["group"]["id"]
    assert not created["group"]["id"].startswith("new:")


def test_a_change_the_tenant_refuses_has_its_failure_as_outcome(tenant, log_path):
    result = apply_plan(
        {"changes": [DESCRIBE, DELETE_PBI, DELETE_FINANCE]}, tenant, _log(log_path, tenant)
    )
    assert result.failure is not None
    assert _results(read_audit(log_path, raw=True)) == [
        ("updateGroup", "started"),
        ("updateGroup", "success"),
        ("deleteGroup", "started"),
        ("deleteGroup", "failure"),
    ]
    [failed] = read_audit(log_path, operations=["deleteGroup"])
    assert "licenses" in failed["error"]


def test_a_batch_refused_records_its_first_change_failed_and_the_rest_not_applied(tenant, log_path):
    # two license changes of one group go in one request: the storage refuses the group's write
    with sqlite3.connect(tenant.path) as database:
        database.execute(
            f"CREATE TRIGGER refuse BEFORE UPDATE ON groups WHEN old.id = '{PBI['id']}' "
            "BEGIN SELECT RAISE(ABORT, 'this group is read-only'); END"
        )
    database.close()
    batch = [ADD_VISIO, REMOVE_POWER_BI]
    result = apply_plan({"changes": batch}, tenant, _log(log_path, tenant))
    assert result.failure is not None
    assert _results(read_audit(log_path, raw=True)) == [
        ("addLicense", "started"),
        ("removeLicense", "started"),
        ("addLicense", "failure"),
        ("removeLicense", "not applied"),
    ]
    assert _group(tenant.read(), PBI["id"]).assignedLicenses[0].skuId == POWER_BI["skuId"]


def test_a_log_that_can_not_be_written_changes_nothing(tenant, tmp_path):
    folder = tmp_path / "audit.jsonl"
    folder.mkdir()
    revision = tenant.revision()
    with pytest.raises(InputError, match="can't write the audit log: it is a folder"):
        apply_plan({"changes": [DESCRIBE]}, tenant, _log(folder, tenant))
    assert tenant.revision() == revision


# --- the local tenant: a run cut short, judged by its journal --------------------------------


def _cut_short(tenant: LocalTenant, log: AuditLog, *changes: dict, made: bool) -> list[dict]:
    """A run that wrote the intents of `changes`, made them or not, and died before anything
    else: as apply_plan does, up to the kill."""
    intents = [log.intent(change) for change in changes]
    if made:
        with tenant.recording([intent["changeId"] for intent in intents]):
            tenant.apply_together(list(changes_from_document({"changes": list(changes)})))
    return intents


def test_a_change_made_without_its_outcome_is_recorded_found_done_in_its_run(tenant, log_path):
    first = _log(log_path, tenant, actor="ana")
    [intent] = _cut_short(tenant, first, REMOVE_MEMBER, made=True)
    written = record_interrupted(tenant, _log(log_path, tenant, actor="ben"))
    found, start, finish = written
    assert _results(written) == [
        ("removeMembers", "found done"),
        (START, "success"),
        (FINISH, finish["result"]),
    ]
    assert found["changeId"] == intent["changeId"]
    assert {r["runId"] for r in written} == {first.run_id}
    assert {r["actor"] for r in written} == {"ana"}  # who ran the apply that made it
    assert start["group"] == finish["group"] == PBI
    # recorded once: the next run finds nothing left
    assert record_interrupted(tenant, _log(log_path, tenant)) == []
    assert [r["result"] for r in read_audit(log_path)] == [
        "found done",
        "success",
        finish["result"],
    ]


def test_a_change_not_made_is_recorded_not_applied(tenant, log_path):
    _cut_short(tenant, _log(log_path, tenant), DESCRIBE, made=False)
    written = record_interrupted(tenant, _log(log_path, tenant))
    assert _results(written) == [("updateGroup", "not applied")]
    assert _group(tenant.read(), FINANCE["id"]).description != "analysts"


def test_a_group_created_without_its_outcome_is_found_by_the_id_it_was_given(tenant, log_path):
    _cut_short(tenant, _log(log_path, tenant), CREATE, made=True)
    [found] = record_interrupted(tenant, _log(log_path, tenant))
    group = _group(tenant.read(), found["group"]["id"])
    assert group is not None and group.displayName == "LIC-Visio"


def test_an_intent_without_outcome_is_listed_interrupted_until_it_is_recorded(tenant, log_path):
    _cut_short(tenant, _log(log_path, tenant), REMOVE_MEMBER, made=True)
    assert [r["result"] for r in read_audit(log_path)] == ["interrupted"]
    record_interrupted(tenant, _log(log_path, tenant))
    assert read_audit(log_path)[0]["result"] == "found done"


def test_a_run_cut_short_after_its_changes_gets_its_processing_records(tenant, log_path):
    first = _log(log_path, tenant)
    changes = {"changes": [REMOVE_MEMBER, DESCRIBE]}
    apply_plan(changes, tenant, first)
    # as if killed before its processing records: the log without them
    lines = log_path.read_text().splitlines(keepends=True)
    log_path.write_text("".join(line for line in lines if "applying group based" not in line))
    written = record_interrupted(tenant, _log(log_path, tenant))
    assert _results(written) == [(START, "success"), (FINISH, written[1]["result"])]
    assert {r["runId"] for r in written} == {first.run_id}
    # and a Finish alone when its Start was written
    log_path.write_text("".join(lines[:-1]))
    assert _results(record_interrupted(tenant, _log(log_path, tenant))) == [
        (FINISH, written[1]["result"])
    ]


def test_a_group_deleted_since_gets_no_processing_records(tenant, log_path):
    _cut_short(tenant, _log(log_path, tenant), REMOVE_MEMBER, made=True)
    # someone removes its license and deletes it before the next run
    plan = {"changes": [REMOVE_POWER_BI, DELETE_PBI]}
    tenant.apply_together(list(changes_from_document(plan))[:1])
    tenant.apply_together(list(changes_from_document(plan))[1:])
    assert _results(record_interrupted(tenant, _log(log_path, tenant))) == [
        ("removeMembers", "found done")
    ]


def test_another_tenant_s_records_are_left_alone(tenant, log_path):
    other = AuditLog(log_path, "ana", "another-tenant")
    other.intent(REMOVE_MEMBER)
    assert record_interrupted(tenant, _log(log_path, tenant)) == []


class _Unread:
    """A tenant that must not be read."""

    def read(self) -> Tenant:
        raise AssertionError("read the tenant with nothing to record")


def test_with_nothing_left_by_a_run_the_tenant_is_not_read(tenant, log_path):
    apply_plan({"changes": [REMOVE_MEMBER]}, tenant, _log(log_path, tenant))
    assert record_interrupted(_Unread(), _log(log_path, tenant)) == []  # type: ignore[arg-type]


# --- Graph: a run cut short, judged by what the tenant shows ---------------------------------


class _Remote:
    """The local tenant as Graph is: no journal, only what can be read."""

    def __init__(self, tenant: LocalTenant) -> None:
        self.tenant = tenant

    def read(self) -> Tenant:
        return self.tenant.read()


@pytest.mark.parametrize(
    ("change", "made"),
    [
        (CREATE, "found done"),
        (DESCRIBE, "found done"),
        (ADD_VISIO, "found done"),
        (REMOVE_POWER_BI, "found done"),
        (DELETE_FINANCE, "found done"),
        (REMOVE_MEMBER, "found done"),
    ],
)
def test_through_graph_a_change_is_found_done_when_the_tenant_shows_it(
    tenant, log_path, change, made
):
    _cut_short(tenant, _log(log_path, tenant), change, made=True)
    written = record_interrupted(_Remote(tenant), _log(log_path, tenant))  # type: ignore[arg-type]
    assert written[0]["result"] == made


@pytest.mark.parametrize(
    "change", [CREATE, DESCRIBE, ADD_VISIO, REMOVE_POWER_BI, DELETE_FINANCE, REMOVE_MEMBER]
)
def test_through_graph_a_change_the_tenant_does_not_show_is_not_applied(tenant, log_path, change):
    _cut_short(tenant, _log(log_path, tenant), change, made=False)
    written = record_interrupted(_Remote(tenant), _log(log_path, tenant))  # type: ignore[arg-type]
    assert _results(written) == [(change["action"], "not applied")]


def test_through_graph_a_membership_change_made_in_part_is_recorded_member_by_member(
    tenant, log_path
):
    # MEMBER is in the group already, OUTSIDER not: as if one of two requests got through
    _cut_short(tenant, _log(log_path, tenant), ADD_BOTH, made=False)
    written = record_interrupted(_Remote(tenant), _log(log_path, tenant))  # type: ignore[arg-type]
    assert [(r["result"], r["after"]) for r in written[:2]] == [
        ("found done", {"members": [MEMBER]}),
        ("not applied", {"members": [OUTSIDER]}),
    ]
    assert written[0]["changeId"] == written[1]["changeId"]
