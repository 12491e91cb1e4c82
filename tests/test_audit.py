"""The audit log: records written per change and per group, group results, reading with filters."""

import json
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from reconciler.audit import (
    FAILURE,
    FINISH,
    FOUND_DONE,
    INTERRUPTED,
    NOT_APPLIED,
    START,
    STARTED,
    AuditLog,
    default_actor,
    group_results,
    read_audit,
)
from reconciler.config import load_config
from reconciler.engine import recompute
from reconciler.errors import InputError
from reconciler.model import (
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

AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
TENANT_ID = "4f1c7d2e-0000-4000-8000-000000000001"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"
SALES = {"id": "5d8b0f6e-2c1a-4b7e-9f3d-0a1b2c3d4e5f", "displayName": "LIC-M365-E5-Sales"}
VISIO = {"id": "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "displayName": "LIC-Visio"}
ANA = {"id": "11111111-1111-1111-1111-111111111111", "userPrincipalName": "ana@contoso.com"}
BEN = {"id": "22222222-2222-2222-2222-222222222222", "userPrincipalName": "ben@contoso.com"}
E5_SKU = {"skuId": E5, "skuPartNumber": "SPE_E5"}
YAMMER_PLAN = {"servicePlanId": YAMMER, "servicePlanName": "YAMMER_ENTERPRISE"}

# one item of a plan document's changes[] per action, as plan_document writes them
CHANGES = {
    "createGroup": {
        "action": "createGroup",
        "group": VISIO,
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
    },
    "updateGroup": {
        "action": "updateGroup",
        "group": SALES,
        "property": "membershipRule",
        "before": 'user.department -eq "Sales"',
        "after": 'user.department -eq "Sales" -and user.accountEnabled -eq true',
    },
    "addMembers": {"action": "addMembers", "group": VISIO, "members": [ANA]},
    "removeMembers": {"action": "removeMembers", "group": SALES, "members": [BEN]},
    "addLicense": {
        "action": "addLicense",
        "group": VISIO,
        "sku": E5_SKU,
        "disabledPlans": [YAMMER_PLAN],
    },
    "changeDisabledPlans": {
        "action": "changeDisabledPlans",
        "group": SALES,
        "sku": E5_SKU,
        "before": [],
        "after": [YAMMER_PLAN],
    },
    "removeLicense": {"action": "removeLicense", "group": SALES, "sku": E5_SKU},
    "deleteGroup": {"action": "deleteGroup", "group": SALES},
}

EXPECTED_BEFORE_AFTER = {
    "createGroup": (None, CHANGES["createGroup"]["after"]),
    "updateGroup": (
        {"membershipRule": 'user.department -eq "Sales"'},
        {"membershipRule": 'user.department -eq "Sales" -and user.accountEnabled -eq true'},
    ),
    "addMembers": (None, {"members": [ANA]}),
    "removeMembers": ({"members": [BEN]}, None),
    "addLicense": (None, {"sku": E5_SKU, "disabledPlans": [YAMMER_PLAN]}),
    "changeDisabledPlans": (
        {"sku": E5_SKU, "disabledPlans": []},
        {"sku": E5_SKU, "disabledPlans": [YAMMER_PLAN]},
    ),
    "removeLicense": ({"sku": E5_SKU}, None),
    "deleteGroup": (SALES, None),
}


def clock(start: datetime = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)):
    """A clock that moves one minute each time it is read."""
    moments = (start + timedelta(minutes=minute) for minute in range(10_000))
    return lambda: next(moments)


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / ".reconciler" / "audit.jsonl"


# writing


def test_a_change_is_one_json_line_with_time_actor_tenant_group_operation_before_after_result(
    log_path,
):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    log.change(CHANGES["addMembers"], "success")
    assert log_path.read_text(encoding="utf-8").endswith("\n")
    assert lines(log_path) == [
        {
            "activityDateTime": "2024-05-01T09:30:00.000Z",
            "actor": "ana",
            "tenantId": TENANT_ID,
            "operation": "addMembers",
            "group": VISIO,
            "before": None,
            "after": {"members": [ANA]},
            "result": "success",
            "error": None,
        }
    ]


@pytest.mark.parametrize("action", sorted(CHANGES))
def test_before_and_after_are_derived_from_each_kind_of_change(log_path, action):
    record = AuditLog(log_path, "ana", TENANT_ID, clock()).change(CHANGES[action], "success")
    assert (record["operation"], record["group"]) == (action, CHANGES[action]["group"])
    assert (record["before"], record["after"]) == EXPECTED_BEFORE_AFTER[action]
    assert lines(log_path) == [record]


def test_an_action_the_log_does_not_know_keeps_the_before_and_after_the_change_states(log_path):
    change = {"action": "renameGroup", "group": SALES, "before": "a", "after": "b"}
    record = AuditLog(log_path, "ana", TENANT_ID, clock()).change(change, "success")
    assert (record["operation"], record["before"], record["after"]) == ("renameGroup", "a", "b")


def test_a_failed_change_records_failure_and_the_error_message(log_path):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    log.change(CHANGES["deleteGroup"], "failure", "group still assigns licenses")
    [record] = lines(log_path)
    assert (record["result"], record["error"]) == ("failure", "group still assigns licenses")


def test_a_result_other_than_success_or_failure_is_refused(log_path):
    with pytest.raises(ValueError, match="success"):
        AuditLog(log_path, "ana", TENANT_ID, clock()).change(CHANGES["addMembers"], "ok")
    assert not log_path.exists()


def test_group_processing_writes_a_start_and_a_finish_record_with_entra_result_line(log_path):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    log.group_processing(SALES, 6, 1)
    start, finish = lines(log_path)
    assert start["operation"] == START == "Start applying group based license to users"
    assert finish["operation"] == FINISH == "Finish applying group based license to users"
    assert start["group"] == finish["group"] == SALES
    assert start["result"] == "success"
    assert finish["result"] == (
        "Users successfully assigned licenses: 6, Users for whom license assignment failed: 1"
    )
    assert (finish["before"], finish["after"], finish["error"]) == (None, None, None)
    assert start["activityDateTime"] < finish["activityDateTime"]


def test_records_are_appended_to_an_existing_log_never_truncating_it(log_path):
    AuditLog(log_path, "ana", TENANT_ID, clock()).change(CHANGES["addMembers"], "success")
    first = log_path.read_bytes()
    AuditLog(log_path, "ben", TENANT_ID, clock()).change(CHANGES["removeMembers"], "success")
    assert log_path.read_bytes().startswith(first)
    assert [record["actor"] for record in lines(log_path)] == ["ana", "ben"]


def test_the_log_folder_is_created_on_first_record(tmp_path):
    path = tmp_path / "deep" / "er" / "audit.jsonl"
    AuditLog(path, "ana", TENANT_ID, clock()).group_processing(SALES, 0, 0)
    assert len(lines(path)) == 2


def test_a_last_line_cut_short_is_ended_so_the_next_record_stays_whole(log_path):
    log_path.parent.mkdir(parents=True)
    log_path.write_text('{"activityDateTime": "2024-05-01T09:00:00Z", "act')
    AuditLog(log_path, "ana", TENANT_ID, clock()).change(CHANGES["addMembers"], "success")
    damaged, written = log_path.read_text().splitlines()
    assert damaged == '{"activityDateTime": "2024-05-01T09:00:00Z", "act'
    assert json.loads(written)["operation"] == "addMembers"


def test_timestamps_are_utc_with_a_z_whatever_the_clock_zone(log_path):
    paris = timezone(timedelta(hours=2))
    log = AuditLog(log_path, "ana", TENANT_ID, clock(datetime(2024, 5, 1, 11, 30, tzinfo=paris)))
    assert log.change(CHANGES["addMembers"], "success")["activityDateTime"] == (
        "2024-05-01T09:30:00.000Z"
    )


def test_a_log_that_cannot_be_written_is_an_input_error_naming_it(tmp_path):
    path = tmp_path / "audit.jsonl"
    path.mkdir()
    with pytest.raises(InputError, match="can't write the audit log") as caught:
        AuditLog(path, "ana", TENANT_ID, clock()).change(CHANGES["addMembers"], "success")
    assert caught.value.location.file == str(path)


# group results, from a tenant Entra has settled


def _user(user_id: str, *states: LicenseAssignmentState) -> User:
    return User(user_id, f"{user_id}@contoso.com", licenseAssignmentStates=states)


def _settled(e5_seats: int) -> Tenant:
    skus = (
        Sku(E5, "SPE_E5", (ServicePlan(YAMMER, "YAMMER_ENTERPRISE"),), PrepaidUnits(e5_seats)),
        Sku(EMS, "EMS", (), PrepaidUnits(enabled=10)),
    )
    groups = (
        # ana, ben and cy: two E5 seats for three users, so one of them fails
        Group(
            "G-Sales",
            "LIC-Sales",
            assignedLicenses=(AssignedLicense(E5), AssignedLicense(EMS)),
            members=("ana", "ben", "cy", "G-Nested"),
        ),
        # a nested group's members get nothing from the outer group
        Group("G-Nested", "Nested", assignedLicenses=(AssignedLicense(EMS),), members=("di",)),
        Group("G-Empty", "No licenses", members=("ana",)),
    )
    users = (_user("ana"), _user("ben"), _user("cy"), _user("di"))
    return recompute(Tenant(Organization("org", "Contoso", "US"), skus, users, groups))


def test_group_results_count_members_holding_every_product_and_members_in_error():
    tenant = _settled(e5_seats=2)
    assert group_results(tenant, ["G-Sales", "G-Nested"]) == {"G-Sales": (2, 1), "G-Nested": (1, 0)}


def test_group_results_count_everyone_when_seats_suffice():
    assert group_results(_settled(e5_seats=5), ["G-Sales"]) == {"G-Sales": (3, 0)}


def test_group_results_for_a_group_without_licenses_or_missing_are_zero():
    tenant = _settled(e5_seats=5)
    assert group_results(tenant, ["G-Empty", "G-Deleted"]) == {
        "G-Empty": (0, 0),
        "G-Deleted": (0, 0),
    }


def test_group_results_match_ids_ignoring_case_and_key_them_as_given():
    assert group_results(_settled(e5_seats=5), ["g-sales"]) == {"g-sales": (3, 0)}


def test_a_direct_license_beside_the_group_one_still_counts_as_success():
    tenant = _settled(e5_seats=5)
    direct = LicenseAssignmentState(EMS)
    users = tuple(
        User(u.id, u.userPrincipalName, licenseAssignmentStates=(direct,)) if u.id == "ana" else u
        for u in tenant.users
    )
    settled = recompute(Tenant(tenant.organization, tenant.subscribedSkus, users, tenant.groups))
    assert group_results(settled, ["G-Sales"]) == {"G-Sales": (3, 0)}


# reading


@pytest.fixture
def written(log_path: Path) -> Path:
    """A log of one apply: four changes to two groups and each group's processing records."""
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    log.change(CHANGES["createGroup"], "success")  # 09:30
    log.change(CHANGES["addMembers"], "success")  # 09:31, ana joins LIC-Visio
    log.change(CHANGES["removeMembers"], "success")  # 09:32, ben leaves LIC-M365-E5-Sales
    log.change(CHANGES["removeLicense"], "failure", "throttled")  # 09:33
    log.group_processing(VISIO, 1, 0)  # 09:34, 09:35
    log.group_processing(SALES, 4, 0)  # 09:36, 09:37
    return log_path


def _operations(records: list[dict]) -> list[str]:
    return [record["operation"] for record in records]


def test_read_audit_returns_every_record_oldest_first(written):
    records = read_audit(written)
    assert records == lines(written)
    assert len(records) == 8


def test_read_audit_filters_by_group_name_or_id_ignoring_case(written):
    by_name = read_audit(written, group="lic-visio")
    assert _operations(by_name) == ["createGroup", "addMembers", START, FINISH]
    assert read_audit(written, group=VISIO["id"].upper()) == by_name


def test_read_audit_filters_by_a_user_named_as_a_member_by_upn_or_id(written):
    assert _operations(read_audit(written, user="ANA@contoso.com")) == ["addMembers"]
    assert _operations(read_audit(written, user=BEN["id"])) == ["removeMembers"]
    assert read_audit(written, user="nobody@contoso.com") == []


def test_read_audit_keeps_records_at_or_after_since(written):
    since = datetime(2024, 5, 1, 9, 35, tzinfo=UTC)
    assert _operations(read_audit(written, since=since)) == [FINISH, START, FINISH]


def test_read_audit_keeps_records_at_or_before_until_and_of_the_operations_named(written):
    until = datetime(2024, 5, 1, 9, 31, tzinfo=UTC)
    assert _operations(read_audit(written, until=until)) == ["createGroup", "addMembers"]
    assert _operations(read_audit(written, operations=["ADDMEMBERS", FINISH])) == [
        "addMembers",
        FINISH,
        FINISH,
    ]


def test_read_audit_reads_a_naive_since_as_utc_and_honours_an_offset(written):
    naive = read_audit(written, since=datetime(2024, 5, 1, 9, 36))
    assert _operations(naive) == [START, FINISH]
    paris = timezone(timedelta(hours=2))
    assert read_audit(written, since=datetime(2024, 5, 1, 11, 36, tzinfo=paris)) == naive


def test_read_audit_filters_combine(written):
    records = read_audit(written, group="LIC-M365-E5-Sales", since=datetime(2024, 5, 1, 9, 33))
    assert _operations(records) == ["removeLicense", START, FINISH]
    assert records[0]["error"] == "throttled"


def test_a_missing_log_has_no_records(tmp_path):
    assert read_audit(tmp_path / "nowhere" / "audit.jsonl") == []


def test_blank_lines_are_skipped(written):
    with written.open("a") as file:
        file.write("\n\n")
    assert len(read_audit(written)) == 8


def test_a_damaged_line_is_an_input_error_at_its_file_and_line(written):
    text = written.read_text().splitlines()
    text[2] = text[2][:40]
    written.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="damaged audit record") as caught:
        read_audit(written)
    assert (caught.value.location.file, caught.value.location.line) == (str(written), 3)


@pytest.mark.parametrize(
    "line",
    ['["a list"]', '{"actor": "ana"}', '{"activityDateTime": "yesterday"}', "\udcff"],
    ids=["not-an-object", "no-time", "bad-time", "not-utf8"],
)
def test_a_line_that_is_not_an_audit_record_is_damaged(log_path, line):
    log_path.parent.mkdir(parents=True)
    valid = '{"activityDateTime": "2024-05-01T09:30:00Z"}'
    log_path.write_bytes((valid + "\n" + line + "\n").encode("utf-8", "surrogateescape"))
    with pytest.raises(InputError, match="damaged audit record") as caught:
        read_audit(log_path)
    assert caught.value.location.line == 2


# who ran it


def test_default_actor_is_the_github_actor_in_ci(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "octocat")
    assert default_actor() == "octocat"


def test_default_actor_is_the_os_user_name_elsewhere(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTOR", raising=False)
    monkeypatch.setenv("LOGNAME", "ana")
    assert default_actor() == "ana"


# configuration


def test_audit_path_defaults_to_dot_reconciler_beside_the_config_file(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("policy: policies/\n")
    config = load_config(tmp_path / "reconciler.yaml")
    assert config.audit == tmp_path / ".reconciler" / "audit.jsonl"


def test_audit_key_is_taken_relative_to_the_config_folder(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("audit: logs/licensing.jsonl\n")
    assert load_config(tmp_path / "reconciler.yaml").audit == tmp_path / "logs/licensing.jsonl"


def test_without_a_config_file_the_audit_log_is_under_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert load_config(None).audit == Path(".reconciler") / "audit.jsonl"


def test_an_empty_audit_key_is_an_input_error_at_its_line(tmp_path):
    (tmp_path / "reconciler.yaml").write_text("policy: policies/\naudit:\n")
    with pytest.raises(InputError, match="audit must be a path") as caught:
        load_config(tmp_path / "reconciler.yaml")
    assert caught.value.location.line == 2


def test_records_after_a_line_cut_short_stay_readable(log_path):
    log_path.parent.mkdir(parents=True)
    log_path.write_text('{"activityDateTime": "2024-05-01T09:00:00Z", "act')
    AuditLog(log_path, "ana", TENANT_ID, clock()).change(CHANGES["addMembers"], "success")
    damaged: list[InputError] = []
    records = read_audit(log_path, damaged=damaged)
    assert [record["operation"] for record in records] == ["addMembers"]
    assert [(error.location.line) for error in damaged] == [1]


# intents and outcomes


def test_an_intent_is_the_change_record_with_result_started_a_run_and_a_change_id(log_path):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    intent = log.intent(CHANGES["addMembers"])
    assert lines(log_path) == [intent]
    assert (intent["operation"], intent["group"], intent["result"]) == (
        "addMembers",
        VISIO,
        STARTED,
    )
    assert (intent["before"], intent["after"]) == EXPECTED_BEFORE_AFTER["addMembers"]
    assert intent["runId"] == log.run_id
    assert log.intent(CHANGES["removeMembers"])["changeId"] != intent["changeId"]


def test_an_outcome_repeats_its_intent_with_its_own_time_and_result(log_path):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    intent = log.intent(CHANGES["createGroup"])
    real = {"id": "real-id", "displayName": "LIC-Visio"}
    outcome = log.outcome(intent, "success", group=real)
    assert lines(log_path) == [intent, outcome]
    assert {**outcome, "activityDateTime": None, "result": None, "group": None} == {
        **intent,
        "activityDateTime": None,
        "result": None,
        "group": None,
    }
    assert (outcome["group"], outcome["result"], outcome["error"]) == (real, "success", None)
    assert outcome["activityDateTime"] > intent["activityDateTime"]


def test_an_outcome_is_one_of_the_four_results(log_path):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    intent = log.intent(CHANGES["addMembers"])
    for result in (FAILURE, FOUND_DONE, NOT_APPLIED):
        assert log.outcome(intent, result)["result"] == result
    with pytest.raises(ValueError, match="not 'started'"):
        log.outcome(intent, STARTED)


def test_an_outcome_written_by_another_run_keeps_the_intent_s_run_and_actor(log_path):
    intent = AuditLog(log_path, "ana", TENANT_ID, clock()).intent(CHANGES["addMembers"])
    outcome = AuditLog(log_path, "ben", TENANT_ID, clock()).outcome(intent, FOUND_DONE)
    assert (outcome["runId"], outcome["actor"]) == (intent["runId"], "ana")


def test_processing_records_name_their_run_and_actor_and_may_omit_the_start(log_path):
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    start, finish = log.group_processing(SALES, 1, 0, run_id="run-1")
    assert start["runId"] == finish["runId"] == "run-1"
    (alone,) = log.group_processing(SALES, 1, 0, run_id="run-1", actor="ben", start=False)
    assert (alone["operation"], alone["actor"]) == (FINISH, "ben")
    assert "runId" not in log.group_processing(SALES, 1, 0)[0]  # outside apply, no run


@pytest.fixture
def concluded(log_path: Path) -> Path:
    """A log of one run: a change concluded, and one whose outcome never came."""
    log = AuditLog(log_path, "ana", TENANT_ID, clock())
    log.outcome(log.intent(CHANGES["addMembers"]), "success")
    log.intent(CHANGES["removeMembers"])
    return log_path


def test_read_audit_lists_a_change_by_its_outcome_and_an_intent_without_one_as_interrupted(
    concluded,
):
    records = read_audit(concluded)
    assert [(r["operation"], r["result"]) for r in records] == [
        ("addMembers", "success"),
        ("removeMembers", INTERRUPTED),
    ]
    # filters see each change once too
    assert _operations(read_audit(concluded, user="ana@contoso.com")) == ["addMembers"]


def test_read_audit_raw_lists_every_record_as_written(concluded):
    assert read_audit(concluded, raw=True) == lines(concluded)
    assert [r["result"] for r in read_audit(concluded, raw=True)] == [STARTED, "success", STARTED]


def test_records_of_older_versions_read_as_before_beside_new_ones(concluded, log_path):
    AuditLog(log_path, "ben", TENANT_ID, clock()).change(CHANGES["deleteGroup"], "success")
    assert [r["result"] for r in read_audit(log_path)] == ["success", INTERRUPTED, "success"]


# the file


@pytest.mark.skipif(not hasattr(os, "umask"), reason="file modes are POSIX")
@pytest.mark.parametrize("umask", [0o022, 0o077, 0o277])
def test_a_new_log_is_0600_in_a_0700_folder_less_what_the_umask_takes(tmp_path, umask):
    path = tmp_path / "logs" / "audit.jsonl"
    kept = os.umask(umask)
    try:
        AuditLog(path, "ana", TENANT_ID, clock()).check()
    finally:
        os.umask(kept)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 & ~umask
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700 & ~umask


@pytest.mark.skipif(not hasattr(os, "umask"), reason="file modes are POSIX")
def test_an_existing_log_keeps_its_mode(log_path):
    log_path.parent.mkdir()
    log_path.write_text("")
    log_path.chmod(0o640)
    AuditLog(log_path, "ana", TENANT_ID, clock()).change(CHANGES["addMembers"], "success")
    assert stat.S_IMODE(log_path.stat().st_mode) == 0o640


def test_check_creates_an_empty_log(log_path):
    AuditLog(log_path, "ana", TENANT_ID, clock()).check()
    assert log_path.read_bytes() == b""


def test_a_log_whose_folder_is_a_file_is_an_input_error_naming_the_file(tmp_path):
    (tmp_path / "logs").write_text("")
    path = tmp_path / "logs" / "audit.jsonl"
    with pytest.raises(InputError) as caught:
        AuditLog(path, "ana", TENANT_ID, clock()).check()
    assert caught.value.message == (
        f"can't write the audit log: {tmp_path / 'logs'} is a file, not a folder"
    )
    assert caught.value.location.file == str(path)


@pytest.mark.skipif(AS_ROOT, reason="root writes read-only files regardless")
def test_a_read_only_log_is_an_input_error(log_path):
    log_path.parent.mkdir()
    log_path.write_text("")
    log_path.chmod(0o400)
    with pytest.raises(InputError, match="can't write the audit log: Permission denied"):
        AuditLog(log_path, "ana", TENANT_ID, clock()).check()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_nobody_reads_is_an_error_not_a_wait(tmp_path):
    path = tmp_path / "audit.jsonl"
    os.mkfifo(path)
    with pytest.raises(InputError, match="can't write the audit log"):
        AuditLog(path, "ana", TENANT_ID, clock()).check()
