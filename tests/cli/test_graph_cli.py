"""`--tenant graph` end to end: the real CLI in a subprocess, the emulator over loopback HTTP."""

from __future__ import annotations

import json
import math
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from reconciler.cli.apply_output import WaitReport
from reconciler.emulator import running
from reconciler.providers.graph_auth import EMULATOR_TOKEN
from reconciler.providers.graph_writes import ProcessingWait
from tests.cli.conftest import ROOT

FAULTS = "429:every=5,retry-after=0.2;503:rate=0.1,retry-after=0.1;seed=42"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    return tmp_path


def _reads(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.startswith("GET ") or key == "POST /$batch")


@pytest.mark.parametrize("faults", [None, FAULTS], ids=["clean", "throttled"])
def test_plan_apply_plan_through_graph_ends_with_no_changes(run, workspace, faults):
    with running(str(workspace / "tenant.json"), faults=faults) as emulator:
        url = ["--graph-url", emulator.url]
        planned = run("plan", "--detailed-exitcode", *url, cwd=workspace)
        assert planned.code == 2, planned.stderr
        assert "Plan: 1 to add, 4 to change, 1 to remove." in planned.stdout
        if faults is None:
            # 200 users and 9 groups: one delta page each at 999, members with the groups;
            # the small constant is organization and SKUs
            counts = emulator.counts()
            assert counts["GET /users/delta"] == math.ceil(200 / 999)
            assert counts["GET /groups/delta"] == math.ceil(9 / 999)
            # and one question to the audit log, for changes made outside reconciler
            assert counts["GET /auditLogs/directoryAudits"] == 1
            assert _reads(counts) == math.ceil(200 / 999) + math.ceil(9 / 999) + 2 + 1

        applied = run("apply", "--auto-approve", "--allow-removals", *url, cwd=workspace)
        assert applied.code == 0, applied.stderr
        assert "Apply complete! 1 added, 4 changed, 1 removed." in applied.stdout

        again = run("plan", "--detailed-exitcode", *url, cwd=workspace)
        assert again.code == 0, again.stdout + again.stderr
        assert "No changes." in again.stdout
        for result in (planned, applied, again):
            assert EMULATOR_TOKEN not in result.stdout + result.stderr
            assert "Traceback" not in result.stderr


def test_a_graph_that_cant_be_reached_is_one_message(run, workspace):
    result = run("plan", "--graph-url", "http://127.0.0.1:9/v1.0", cwd=workspace)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert "GET /" in result.stderr and "failed" in result.stderr


def test_graph_url_can_come_from_the_configuration(run, workspace):
    with running(str(workspace / "tenant.json")) as emulator:
        (workspace / "reconciler.yaml").write_text(
            f"tenant: graph\npolicy: policies/\ngraphUrl: {emulator.url}\n"
        )
        result = run("validate", cwd=workspace)
    assert result.code == 0, result.stderr
    assert "managed groups" in result.stdout


def _saved_user_select(workspace: Path) -> set[str]:
    (state,) = (workspace / ".reconciler" / "graph").glob("delta-*.db")
    with closing(sqlite3.connect(state)) as connection:
        (select,) = connection.execute(
            "SELECT value FROM meta WHERE key = 'users.select'"
        ).fetchone()
    return set(select.split(","))


def test_a_plan_reads_the_user_properties_the_rules_name_and_an_export_reads_all(run, workspace):
    with running(str(workspace / "tenant.json")) as emulator:
        url = ["--graph-url", emulator.url]
        planned = run("plan", *url, cwd=workspace)
        assert planned.code == 0, planned.stderr
        selected = _saved_user_select(workspace)
        exported = run("tenant", "export", "--out", "export.json", *url, cwd=workspace)
        assert exported.code == 0, exported.stderr
    # the policy's rules name country (the tenant's don't); the tenant's name jobTitle
    assert {"country", "department", "jobTitle", "userType", "usageLocation"} <= selected
    assert not {"companyName", "surname", "employeeId", "city"} & selected
    users = json.loads((workspace / "export.json").read_text())["users"]
    assert all("companyName" in user and "surname" in user for user in users)


def test_apply_warns_about_a_failed_license_processing_naming_the_group(run, workspace):
    with running(str(workspace / "tenant.json"), faults="license-failed:every=1") as emulator:
        url = ["--graph-url", emulator.url]
        done = run("apply", "--auto-approve", "--allow-removals", *url, cwd=workspace)
    assert done.code == 0, done.stderr
    assert "Apply complete!" in done.stdout
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings, done.stderr
    for warning in warnings:
        assert "processing the licenses of group" in warning and "failed" in warning
        assert "licenseAssignmentStates" in warning and "reconciler reprocess --group" in warning


def test_apply_says_while_it_waits_for_entra_to_process_licenses(run, workspace):
    with running(str(workspace / "tenant.json"), license_reads=2) as emulator:
        url = ["--graph-url", emulator.url]
        done = run("apply", "--auto-approve", "--allow-removals", *url, cwd=workspace)
    assert done.code == 0, done.stderr
    waits = [line for line in done.stderr.splitlines() if "waiting for Entra" in line]
    assert waits and all(
        "to process the licenses of LIC-" in line and line.endswith(" s)") for line in waits
    )


def test_the_wait_is_reported_at_first_then_every_fifteen_seconds_per_group(capsys):
    report = WaitReport()
    for group, seconds in (("a", 0.1), ("a", 3.0), ("b", 4.0), ("a", 15.5), ("a", 20.0)):
        report(ProcessingWait(group, f"LIC-{group}", "ProcessingInProgress", seconds))
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(":")[0].split()[-1] for line in lines] == ["LIC-a", "LIC-b", "LIC-a"]
