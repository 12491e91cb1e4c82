"""`reconciler audit` end to end, in a subprocess, over a log written through the API."""

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from reconciler.audit import FINISH, START, AuditLog
from reconciler.cli.options import Sources, source_options

ROOT = Path(__file__).resolve().parents[2]
TENANT_ID = "4f1c7d2e-0000-4000-8000-000000000001"
SALES = {"id": "5d8b0f6e-2c1a-4b7e-9f3d-0a1b2c3d4e5f", "displayName": "LIC-M365-E5-Sales"}
VISIO = {"id": "9a0b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d", "displayName": "LIC-Visio"}
ANA = {"id": "11111111-1111-1111-1111-111111111111", "userPrincipalName": "ana@contoso.com"}
E5_SKU = {"skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "skuPartNumber": "SPE_E5"}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose reconciler.yaml keeps the audit log in logs/, with one apply logged."""
    (tmp_path / "reconciler.yaml").write_text("policy: policies/\naudit: logs/audit.jsonl\n")
    moments = (datetime(2024, 5, 1, 9, 30, tzinfo=UTC) + timedelta(days=day) for day in range(9))
    log = AuditLog(tmp_path / "logs" / "audit.jsonl", "ana", TENANT_ID, lambda: next(moments))
    log.change({"action": "addMembers", "group": VISIO, "members": [ANA]}, "success")  # 05-01
    log.change({"action": "removeLicense", "group": SALES, "sku": E5_SKU}, "failure", "throttled")
    log.group_processing(VISIO, 1, 0)  # 05-03, 05-04
    return tmp_path


def _records(result) -> list[dict]:
    assert result.code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def _log(repo: Path) -> list[dict]:
    text = (repo / "logs" / "audit.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_audit_lists_one_line_per_record_with_time_actor_operation_group_result(run, repo):
    result = run("audit", cwd=repo)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 4
    assert lines[0].split() == [
        "2024-05-01T09:30:00.000Z",
        "ana",
        "addMembers",
        "LIC-Visio",
        "success",
    ]
    assert lines[1].startswith("2024-05-02T09:30:00.000Z  ana  removeLicense")
    assert "LIC-M365-E5-Sales" in lines[1]
    assert lines[1].endswith("failure: throttled")
    assert START in lines[2]
    assert FINISH in lines[3]
    assert lines[3].endswith(
        "Users successfully assigned licenses: 1, Users for whom license assignment failed: 0"
    )


def test_audit_columns_line_up(run, repo):
    lines = run("audit", cwd=repo).stdout.splitlines()
    assert len({line.index("LIC-") for line in lines}) == 1


def test_audit_reads_the_log_named_by_the_config_given_from_another_folder(run, repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("audit", "--config", str(repo / "reconciler.yaml"), cwd=elsewhere)
    assert result.code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 4


def test_audit_filters_by_group_user_and_since(run, repo):
    by_group = _records(run("audit", "--group", "lic-visio", "--format", "json", cwd=repo))
    assert [record["operation"] for record in by_group] == ["addMembers", START, FINISH]
    by_user = _records(run("audit", "--user", "ANA@contoso.com", "--format", "json", cwd=repo))
    assert [record["operation"] for record in by_user] == ["addMembers"]
    since = _records(run("audit", "--since", "2024-05-02", "--format", "json", cwd=repo))
    assert [record["operation"] for record in since] == ["removeLicense", START, FINISH]
    at = run("audit", "--since", "2024-05-03T09:30:00Z", "--format", "json", cwd=repo)
    assert [record["operation"] for record in _records(at)] == [START, FINISH]


def test_audit_json_is_json_lines_of_the_records_as_written(run, repo):
    result = run("audit", "--format", "json", cwd=repo)
    assert result.code == 0, result.stderr
    assert _records(result) == _log(repo)


def test_audit_says_when_no_record_matches(run, repo):
    result = run("audit", "--group", "LIC-Nobody", cwd=repo)
    assert result.code == 0
    assert result.stdout == ""
    assert "no audit records match" in result.stderr


def test_a_bad_since_is_a_usage_error_naming_the_value(run, repo):
    result = run("audit", "--since", "last tuesday", cwd=repo)
    assert result.code == 1
    assert "'last tuesday' is not an ISO 8601 date or time" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_missing_log_says_so_and_lists_nothing(run, tmp_path):
    (tmp_path / "reconciler.yaml").write_text("policy: policies/\n")
    result = run("audit", cwd=tmp_path)
    assert result.code == 0
    assert result.stdout == ""
    expected = str(Path(".reconciler") / "audit.jsonl")
    assert result.stderr.strip() == f"no audit log at {expected} yet"


def test_a_damaged_line_is_one_message_with_file_and_line_and_exit_1_the_rest_listed(run, repo):
    path = repo / "logs" / "audit.jsonl"
    text = path.read_text().splitlines()
    text[1] = text[1][:30]
    path.write_text("\n".join(text) + "\n")
    result = run("audit", cwd=repo)
    assert result.code == 1
    # a line cut short by a crash doesn't hide the records around it
    assert len(result.stdout.splitlines()) == len(text) - 1
    assert result.stderr.startswith(f"error: {Path('logs') / 'audit.jsonl'}:2:")
    assert "damaged audit record" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_commands_that_read_a_tenant_receive_the_configured_audit_path(tmp_path):
    @click.command()
    @source_options
    def show_audit(sources: Sources) -> None:
        click.echo(sources.audit)

    (tmp_path / "reconciler.yaml").write_text("audit: logs/audit.jsonl\n")
    result = CliRunner().invoke(show_audit, ["--config", str(tmp_path / "reconciler.yaml")])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "logs" / "audit.jsonl")


def test_every_change_of_the_demo_plan_is_recorded_and_read_back(run, tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    seed = ROOT / "examples" / "contoso" / "tenant.json"
    planned = run("plan", "--tenant", f"snapshot:{seed}", "--format", "json", cwd=tmp_path)
    assert planned.code == 0, planned.stderr
    changes = json.loads(planned.stdout)["changes"]
    path = tmp_path / ".reconciler" / "audit.jsonl"
    log = AuditLog(path, "ana", TENANT_ID)
    for change in changes:
        log.change(change, "success")
    result = run("audit", "--format", "json", cwd=tmp_path)
    records = _records(result)
    assert [record["operation"] for record in records] == [change["action"] for change in changes]
    assert [record["group"] for record in records] == [change["group"] for change in changes]
    assert all(record["before"] is not None or record["after"] is not None for record in records)


def test_a_name_with_a_line_break_or_an_escape_is_shown_escaped_on_its_own_line(run, tmp_path):
    (tmp_path / "reconciler.yaml").write_text("policy: policies/\naudit: logs/audit.jsonl\n")
    log = AuditLog(tmp_path / "logs" / "audit.jsonl", "ana", TENANT_ID)
    evil = {"id": VISIO["id"], "displayName": "LIC-Evil\n2099-01-01T00:00:00.000Z  root\x1b[2J"}
    log.change({"action": "addMembers", "group": evil, "members": [ANA]}, "success")
    result = run("audit", cwd=tmp_path)
    assert result.code == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert "LIC-Evil\\n2099-01-01T00:00:00.000Z  root\\x1b[2J" in line
    assert "\x1b" not in result.stdout
