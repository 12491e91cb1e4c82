"""`reconciler verify` and `apply --verify-rules` end to end: the real CLI in a subprocess, the
emulator on loopback evaluating the demo plan's new rule (LIC-M365-E5-Sales) on a temporary
group, agreeing or, with a `disagree` fault, not."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator

from reconciler.audit import read_audit
from reconciler.emulator import running
from reconciler.jsonschemas import load_schema
from reconciler.providers.graph import GraphTenant
from reconciler.verify import PREFIX
from reconciler.verify_probes import Probe, probe_group
from tests.cli.conftest import ROOT

FAST = ("--poll-interval", "0.05")
SALES = 'user.department -eq "Sales"'
APPLY = ("apply", "--auto-approve", "--allow-removals", "--verify-rules")
APPLY_FAST = (*APPLY, "--verify-poll-interval", "0.05")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    return tmp_path


def _serve(workspace: Path, faults: str | None = None, rule_reads: int = 2):
    return running(str(workspace / "tenant.json"), faults=faults, rule_reads=rule_reads)


def _groups(emulator) -> dict[str, object]:
    return {group.id: group for group in emulator.tenant.read().groups}


def _temporary(emulator) -> list[str]:
    return [
        g.displayName for g in emulator.tenant.read().groups if g.displayName.startswith(PREFIX)
    ]


def _audit(workspace: Path) -> list[tuple[str, str]]:
    records = read_audit(workspace / ".reconciler" / "audit.jsonl")
    return [
        (r["operation"], r["result"])
        for r in records
        if r["group"]["displayName"].startswith(PREFIX)
    ]


def test_verify_agrees(run, workspace):
    with _serve(workspace) as emulator:
        before = _groups(emulator)
        result = run("verify", "--graph-url", emulator.url, *FAST, cwd=workspace)
        assert result.code == 0, result.stderr
        assert _temporary(emulator) == [] and _groups(emulator) == before
        assert emulator.counts()["GET /beta/groups/{id}"] >= 3  # waited for the evaluation
    assert "LIC-M365-E5-Sales: agrees" in result.stdout
    assert "created temporary group reconciler-verify-LIC-M365-E5-Sales-" in result.stderr
    assert "deleted temporary group" in result.stderr
    assert _audit(workspace) == [("createGroup", "success"), ("deleteGroup", "success")]


def test_verify_disagrees_names_who_differs_and_exits_1(run, workspace):
    with _serve(workspace, "disagree:leave-out=1,put-in=2") as emulator:
        result = run("verify", "--graph-url", emulator.url, *FAST, cwd=workspace)
        assert _temporary(emulator) == []
        tenant = emulator.tenant.read()
    assert result.code == 1
    assert "LIC-M365-E5-Sales: DIFFERS" in result.stdout
    assert "in Entra's evaluation, not predicted (2):" in result.stdout
    assert "predicted, not in Entra's evaluation (1):" in result.stdout
    named = [line.strip() for line in result.stdout.splitlines() if line.startswith("    ")]
    upns = {user.userPrincipalName for user in tenant.users}
    assert len(named) == 3 and set(named) <= upns
    assert "error: Entra's evaluation of the new membership rule differs" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_json(run, workspace):
    with _serve(workspace, "disagree:put-in=1") as emulator:
        result = run(
            "verify", "--graph-url", emulator.url, "--format", "json", *FAST, cwd=workspace
        )
    assert result.code == 1
    document = result.json()
    (verdict,) = document["verdicts"]
    assert document["agrees"] is False and verdict["verdict"] == "differs"
    assert verdict["group"]["displayName"] == "LIC-M365-E5-Sales"
    assert len(verdict["onlyEntra"]) == 1 and verdict["onlyPredicted"] == []
    assert verdict["evaluated"] == verdict["predicted"] + 1
    assert verdict["temporaryGroup"]["deleted"] is True
    Draft202012Validator(load_schema("verify.schema.json")).validate(document)


def test_verify_times_out_and_still_deletes_the_group(run, workspace):
    with _serve(workspace, rule_reads=100_000) as emulator:
        result = run(
            "verify", "--graph-url", emulator.url, "--timeout", "0.5", *FAST, cwd=workspace
        )
        assert _temporary(emulator) == []
    assert result.code == 1
    assert (
        "hadn't finished evaluating the new membership rule of LIC-M365-E5-Sales" in result.stderr
    )
    assert "deleted temporary group" in result.stderr


def test_verify_refuses_a_local_tenant(run, demo):
    result = run("verify", cwd=demo)
    assert result.code == 1
    assert "needs a Microsoft Graph tenant" in result.stderr
    assert "Traceback" not in result.stderr


def test_apply_refuses_verify_rules_on_a_local_tenant_and_changes_nothing(run, demo):
    result = run(*APPLY, cwd=demo)
    assert result.code == 1 and "needs a Microsoft Graph tenant" in result.stderr
    again = run("plan", "--detailed-exitcode", cwd=demo)
    assert again.code == 2  # the plan is still to make


def test_apply_verify_rules_goes_on_when_entra_agrees(run, workspace):
    with _serve(workspace) as emulator:
        result = run(*APPLY_FAST, "--graph-url", emulator.url, cwd=workspace)
        assert result.code == 0, result.stderr
        assert _temporary(emulator) == []
        after = run("plan", "--detailed-exitcode", "--graph-url", emulator.url, cwd=workspace)
    assert "LIC-M365-E5-Sales: agrees" in result.stdout
    assert "Apply complete!" in result.stdout
    assert after.code == 0, after.stdout


def test_apply_verify_rules_refuses_a_disagreement_and_changes_nothing(run, workspace):
    with _serve(workspace, "disagree:leave-out=2") as emulator:
        before = _groups(emulator)
        result = run(*APPLY_FAST, "--graph-url", emulator.url, cwd=workspace)
        assert _groups(emulator) == before
        assert result.code == 1
        assert "predicted, not in Entra's evaluation (2):" in result.stdout
        assert "Nothing was changed" in result.stderr and "--allow-mismatch" in result.stderr
        assert "Apply complete!" not in result.stdout
    # the temporary group was made and deleted, and the log says so; no change was applied
    operations = [r["operation"] for r in read_audit(workspace / ".reconciler" / "audit.jsonl")]
    assert operations == ["createGroup", "deleteGroup"]


def test_apply_verify_rules_allow_mismatch_goes_on(run, workspace):
    with _serve(workspace, "disagree:put-in=1") as emulator:
        result = run(*APPLY_FAST, "--allow-mismatch", "--graph-url", emulator.url, cwd=workspace)
        assert _temporary(emulator) == []
    assert result.code == 0, result.stderr
    assert "DIFFERS" in result.stdout and "Apply complete!" in result.stdout
    assert "applying all the same (--allow-mismatch)" in result.stderr


def test_apply_verify_rules_json_events_refused(run, workspace):
    with _serve(workspace, "disagree:leave-out=1") as emulator:
        result = run(*APPLY_FAST, "--format", "json", "--graph-url", emulator.url, cwd=workspace)
        assert _temporary(emulator) == []
    assert result.code == 1
    events = [json.loads(line) for line in result.stdout.splitlines()]
    codes = [e["diagnostic"]["code"] for e in events if e["type"] == "diagnostic"]
    assert codes == ["rule-differs", "rules-differ"]
    assert events[-1]["outcome"] == "refused" and events[-1]["succeeded"] == 0


def test_ctrl_c_while_waiting_deletes_the_temporary_group(workspace):
    with _serve(workspace, rule_reads=100_000) as emulator:
        command = [sys.executable, "-m", "reconciler", "verify", "--graph-url", emulator.url]
        process = subprocess.Popen(
            [*command, *FAST], cwd=workspace, stderr=subprocess.PIPE, text=True
        )
        try:
            line = _wait_for_creation(process)
            assert _temporary(emulator), line  # made, and being waited on
            process.send_signal(signal.SIGINT)
            rest = process.communicate(timeout=60)[1]
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode != 0
        assert "deleted temporary group" in rest
        assert _temporary(emulator) == []


def _wait_for_creation(process: subprocess.Popen) -> str:
    """stderr up to the line that says the temporary group was made."""
    assert process.stderr is not None
    seen = ""
    line = process.stderr.readline()
    while line and "created temporary group" not in line:
        seen += line
        line = process.stderr.readline()
    return seen + line


def test_sigterm_while_waiting_deletes_the_temporary_group(workspace):
    with _serve(workspace, rule_reads=100_000) as emulator:
        command = [sys.executable, "-m", "reconciler", "verify", "--graph-url", emulator.url]
        process = subprocess.Popen(
            [*command, *FAST], cwd=workspace, stderr=subprocess.PIPE, text=True
        )
        try:
            line = _wait_for_creation(process)
            assert _temporary(emulator), line
            process.send_signal(signal.SIGTERM)  # how CI cancels a job
            rest = process.communicate(timeout=60)[1]
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode != 0
        assert "deleted temporary group" in rest
        assert _temporary(emulator) == []


def test_cleanup_deletes_only_the_leftover_temporary_groups(run, workspace):
    with _serve(workspace) as emulator:
        with GraphTenant(emulator.url, token=lambda: "t") as provider:
            probes = provider.rule_probes
            made = datetime.now(UTC) - timedelta(hours=3)
            left = probe_group(Probe(f"{PREFIX}LIC-Sales-0badf00d", "LIC-Sales"), "x", SALES, made)
            probes.create_probe(left)
            # a running check's: made a minute ago, left alone unless asked for every age
            running = probe_group(
                Probe(f"{PREFIX}LIC-Sales-1eaf1eaf", "LIC-Sales"),
                "x",
                SALES,
                datetime.now(UTC) - timedelta(minutes=1),
            )
            probes.create_probe(running)
            # named like one, but not described as one: someone else's group, never deleted
            probes.create_probe({**left, "displayName": f"{PREFIX}theirs", "description": "x"})
        result = run("verify", "--cleanup", "--graph-url", emulator.url, cwd=workspace)
        names = [g.displayName for g in emulator.tenant.read().groups]
        again = run(
            "verify", "--cleanup", "--older-than", "0", "--graph-url", emulator.url, cwd=workspace
        )
    assert result.code == 0, result.stderr
    assert f"deleted temporary group {PREFIX}LIC-Sales-0badf00d" in result.stdout
    assert "left 1 temporary group(s) made too recently" in result.stdout
    assert f"{PREFIX}LIC-Sales-0badf00d" not in names and f"{PREFIX}theirs" in names
    assert f"{PREFIX}LIC-Sales-1eaf1eaf" in names
    assert again.code == 0, again.stderr
    assert f"deleted temporary group {PREFIX}LIC-Sales-1eaf1eaf" in again.stdout
    assert _audit(workspace) == [("deleteGroup", "success"), ("deleteGroup", "success")]


def test_apply_refuses_as_stale_when_the_tenant_changes_during_verification(workspace):
    with _serve(workspace, rule_reads=60) as emulator:
        tenant = emulator.tenant.read()
        group = next(g for g in tenant.groups if g.displayName == "LIC-PowerBI-Pro")
        member = group.members[0]
        command = [sys.executable, "-m", "reconciler", *APPLY_FAST, "--graph-url", emulator.url]
        process = subprocess.Popen(
            command, cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        try:
            _wait_for_creation(process)
            # a second client changes a managed group while Entra evaluates the probe
            removed = httpx.delete(
                f"{emulator.url}/groups/{group.id}/members/{member}/$ref",
                headers={"Authorization": "Bearer t"},
            )
            assert removed.status_code == 204
            out, rest = process.communicate(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
        assert _temporary(emulator) == []
    assert process.returncode == 1, rest
    assert "the tenant changed while Entra evaluated the rules" in rest
    assert "plan is stale" in rest and "Apply complete!" not in out
    operations = [r["operation"] for r in read_audit(workspace / ".reconciler" / "audit.jsonl")]
    assert operations == ["createGroup", "deleteGroup"]  # nothing of the plan was applied


def test_apply_verify_rules_with_a_saved_plan(run, workspace):
    with _serve(workspace) as emulator:
        url = ("--graph-url", emulator.url)
        planned = run("plan", "--out", "plan.json", *url, cwd=workspace)
        assert planned.code == 0, planned.stderr
        result = run(
            "apply",
            "plan.json",
            "--verify-rules",
            "--verify-poll-interval",
            "0.05",
            *url,
            "--allow-removals",
            cwd=workspace,
        )
        assert _temporary(emulator) == []
    assert result.code == 0, result.stderr
    assert "LIC-M365-E5-Sales: agrees" in result.stdout


def test_allow_mismatch_without_verify_rules_is_a_usage_error(run, demo):
    result = run("apply", "--auto-approve", "--allow-mismatch", cwd=demo)
    assert result.code == 1
    assert "--allow-mismatch goes with --verify-rules" in result.stderr
    assert run("plan", "--detailed-exitcode", cwd=demo).code == 2  # nothing changed


def test_apply_json_cancelled_while_verifying_still_ends_its_log_with_the_summary(workspace):
    with _serve(workspace, rule_reads=100_000) as emulator:
        command = [sys.executable, "-m", "reconciler", *APPLY_FAST, "--format", "json"]
        process = subprocess.Popen(
            [*command, "--graph-url", emulator.url],
            cwd=workspace,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            line = _wait_for_creation(process)
            assert _temporary(emulator), line
            process.send_signal(signal.SIGTERM)  # how CI cancels a job
            out = process.communicate(timeout=60)[0]
        finally:
            if process.poll() is None:
                process.kill()
        assert _temporary(emulator) == []
    assert process.returncode != 0
    events = [json.loads(line) for line in out.splitlines()]
    [interrupted] = [e for e in events if e["type"] == "diagnostic"]
    assert interrupted["diagnostic"]["code"] == "interrupted"
    assert "nothing was changed" in interrupted["diagnostic"]["message"]
    assert events[-1]["type"] == "change_summary"
    assert (events[-1]["outcome"], events[-1]["succeeded"]) == ("errored", 0)
