"""`reconciler audit --source entra|all` in a subprocess: Entra's directory audit log of a local
tenant after a real apply, and of a Graph tenant (the emulator) changed by an admin."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.directory_audit import LICENSING_ACTIVITIES, DirectoryAudit
from reconciler.emulator import running
from reconciler.providers.graph_auth import EMULATOR_TOKEN
from tests.cli.conftest import ROOT
from tests.emulator.conftest import Client, by_name

FINISH = "Finish applying group based license to users"
GRAPH_KEYS = {
    "id",
    "category",
    "correlationId",
    "result",
    "resultReason",
    "activityDisplayName",
    "activityDateTime",
    "loggedByService",
    "operationType",
    "initiatedBy",
    "targetResources",
    "additionalDetails",
}


@pytest.fixture(scope="module")
def applied(tmp_path_factory) -> Path:
    """The demo applied once to its local tenant, run by "octocat"; the tests only read it."""
    folder = tmp_path_factory.mktemp("applied")
    shutil.copytree(ROOT / "policies", folder / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", folder / "seed.json")
    (folder / "reconciler.yaml").write_text(
        "tenant: local:state/tenant.db\nseed: seed.json\npolicy: policies/\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--allow-removals"],
        capture_output=True,
        text=True,
        cwd=folder,
        env={**os.environ, "GITHUB_ACTOR": "octocat"},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return folder


def _lines(result) -> list[str]:
    assert result.code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout.splitlines()


def _json(result) -> list[dict]:
    return [json.loads(line) for line in _lines(result)]


def test_entra_lists_the_licensing_activities_of_an_apply_oldest_first(run, applied):
    lines = _lines(run("audit", "--source", "entra", cwd=applied))
    assert lines[0].split()[1:] == [
        "reconciler",
        "(octocat)",
        "Add",
        "group",
        "LIC-Visio",
        "success",
    ]
    times = [line.split()[0] for line in lines]
    assert times == sorted(times)
    # Entra's own services, as its log names them
    licensing = r"Microsoft Entra group-Based Licensing +Change user license"
    rule = r"Microsoft Approval Management +Remove member from group"
    assert any(re.search(licensing, line) for line in lines)
    assert any(re.search(rule, line) for line in lines)
    # columns line up: every activity starts at one column
    assert (
        len({min(line.find(a) for a in LICENSING_ACTIVITIES if a in line) for line in lines}) == 1
    )


def test_entras_finish_line_reads_as_reconcilers_own_log_reads(run, applied):
    ours = _json(run("audit", "--group", "LIC-Visio", "--format", "json", cwd=applied))
    (finish,) = [record for record in ours if record["operation"] == FINISH]
    entra = _lines(run("audit", "--source", "entra", "--group", "LIC-Visio", cwd=applied))
    (line,) = [line for line in entra if FINISH in line]
    assert re.search(f"LIC-Visio +{finish['result']}$", line)
    assert "Users for whom license assignment failed: 2" in line


def test_entra_json_is_json_lines_of_graph_shaped_records(run, applied):
    records = _json(run("audit", "--source", "entra", "--format", "json", cwd=applied))
    assert records
    for record in records:
        assert set(record) == GRAPH_KEYS
        assert DirectoryAudit.from_document(record).document() == record
    assert {record["loggedByService"] for record in records} == {"Core Directory"}


def test_names_of_groups_and_users_are_found_in_the_tenant(run, applied):
    visio = _json(
        run("audit", "--source", "entra", "--group", "lic-visio", "--format", "json", cwd=applied)
    )
    assert visio
    assert all(
        any(t["displayName"] == "LIC-Visio" for t in record["targetResources"]) for record in visio
    )
    member = next(r for r in visio if r["activityDisplayName"] == "Add member to group")
    upn = member["targetResources"][0]["userPrincipalName"]
    both = run(
        "audit", "--source", "entra", "--group", "LIC-Visio", "--user", upn.upper(), cwd=applied
    )
    (line,) = _lines(both)
    assert "Add member to group" in line and upn in line


def test_activity_since_and_until_narrow_the_records(run, applied):
    chosen = _lines(
        run(
            "audit",
            "--source",
            "entra",
            "--activity",
            "Set group license",
            "--activity",
            "delete group",
            cwd=applied,
        )
    )
    assert chosen and all("Set group license" in x or "Delete group" in x for x in chosen)
    assert any("Delete group" in x for x in chosen)
    first = chosen[0].split()[0]
    after = _lines(run("audit", "--source", "entra", "--since", first, cwd=applied))
    assert all(line.split()[0] >= first for line in after)
    before = run("audit", "--source", "entra", "--until", "2000-01-01", cwd=applied)
    assert (before.code, before.stdout) == (0, "")
    assert "no audit records match" in before.stderr


def test_all_merges_both_logs_by_time_each_line_saying_its_source(run, applied):
    lines = _lines(run("audit", "--source", "all", "--group", "LIC-Visio", cwd=applied))
    sources = [line.split()[0] for line in lines]
    assert set(sources) == {"entra", "reconciler"}
    times = [line.split()[1] for line in lines]
    assert times == sorted(times)
    records = _json(
        run("audit", "--source", "all", "--group", "LIC-Visio", "--format", "json", cwd=applied)
    )
    assert [record["source"] for record in records] == sources


def test_a_group_the_tenant_doesnt_have_is_one_message(run, applied):
    result = run("audit", "--source", "entra", "--group", "LIC-Nobody", cwd=applied)
    assert result.code == 1
    assert result.stderr.strip() == (
        "error: no group 'LIC-Nobody' in the tenant; a deleted one goes by its id"
    )


def test_a_snapshot_has_no_audit_log_to_show(run, applied):
    result = run("audit", "--source", "entra", "--tenant", "snapshot:seed.json", cwd=applied)
    assert result.code == 1
    assert "has no audit log" in result.stderr
    assert "Traceback" not in result.stderr


def test_entra_through_graph_shows_an_admins_change_made_in_the_emulator(run, tmp_path):
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    with running(str(tmp_path / "tenant.json")) as emulator:
        graph = Client(emulator)
        group = by_name(graph, "Finance Analysts")
        changed = graph(
            "PATCH",
            f"/groups/{group['id']}",
            {"description": "Edited in the portal"},
            token="user:admin@contoso.com",
        )
        assert changed.status == 204
        result = run(
            "audit",
            "--source",
            "entra",
            "--group",
            "Finance Analysts",
            "--graph-url",
            emulator.url,
            cwd=tmp_path,
        )
    (line,) = _lines(result)
    assert line.split()[1:] == [
        "admin@contoso.com",
        "Update",
        "group",
        "Finance",
        "Analysts",
        "success",
    ]
    assert EMULATOR_TOKEN not in result.stdout + result.stderr
