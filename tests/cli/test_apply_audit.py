"""apply writes what it does to the audit log, and `reconciler audit` reads it back; a log apply
can't write is found before the first change, and nothing is changed."""

import hashlib
import json
import os
import resource
import stat
import subprocess
import sys
from pathlib import Path

import pytest

PROCESSING = (
    "Start applying group based license to users",
    "Finish applying group based license to users",
)
AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def _records(demo: Path, log: str = ".reconciler/audit.jsonl") -> list[dict]:
    lines = (demo / log).read_text().splitlines()
    return [json.loads(line) for line in lines]


def _outcomes(records: list[dict], actions: set[str]) -> list[dict]:
    return [r for r in records if r["operation"] in actions and r["result"] != "started"]


def test_apply_records_every_change_and_each_licensing_group_s_result(run, demo):
    planned = run("plan", "--format", "json", cwd=demo).json()
    applied = run("apply", "--auto-approve", cwd=demo)
    assert applied.code == 0, applied.stderr
    records = _records(demo)
    changes = _outcomes(records, {c["action"] for c in planned["changes"]})
    assert [(r["operation"], r["group"]["displayName"]) for r in changes] == [
        (c["action"], c["group"]["displayName"]) for c in planned["changes"]
    ]
    assert all(r["result"] == "success" for r in changes)
    # the new group is recorded under the id the tenant gave it, not the plan's placeholder
    [created] = [r for r in changes if r["operation"] == "createGroup"]
    assert not created["group"]["id"].startswith("new:")
    # LIC-Visio: five members for three free seats, as the plan's seat forecast says
    visio = [r for r in records if r["group"]["displayName"] == "LIC-Visio"]
    assert [r["operation"] for r in visio[-2:]] == list(PROCESSING)
    assert visio[-1]["result"] == (
        "Users successfully assigned licenses: 3, Users for whom license assignment failed: 2"
    )
    # a retired group no longer exists, so it gets no licensing records
    retired = [r["operation"] for r in records if r["group"]["displayName"] == "Finance Analysts"]
    assert PROCESSING[1] not in retired


def test_each_change_has_its_intent_before_it_and_its_outcome_after_in_one_run(run, demo):
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    records = _records(demo)
    changes = [r for r in records if r["operation"] not in PROCESSING]
    # intent, outcome, intent, outcome...: each change is announced, then concluded
    assert [r["result"] for r in changes] == ["started", "success"] * (len(changes) // 2)
    for intent, outcome in zip(changes[::2], changes[1::2], strict=True):
        assert intent["changeId"] == outcome["changeId"]
        assert (intent["operation"], intent["before"], intent["after"]) == (
            outcome["operation"],
            outcome["before"],
            outcome["after"],
        )
    assert len({r["changeId"] for r in changes}) == len(changes) // 2
    # one run: its changes and its processing records say so
    assert len({r["runId"] for r in records}) == 1
    # a created group's intent can only name the plan's placeholder; its later changes the id
    created = next(r for r in changes if r["operation"] == "createGroup")
    assert created["group"]["id"].startswith("new:")
    later = [r for r in changes[2:] if r["group"]["displayName"] == "LIC-Visio"]
    assert later and not any(r["group"]["id"].startswith("new:") for r in later)


def test_audit_lists_each_change_once_by_its_outcome(run, demo):
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    listed = run("audit", "--format", "json", cwd=demo)
    assert listed.code == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert "started" not in {r["result"] for r in records}
    raw = _records(demo)
    assert len(records) == len(raw) - sum(r["result"] == "started" for r in raw)


def test_audit_filters_the_log_by_group(run, demo):
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    listed = run("audit", "--group", "LIC-Visio", "--format", "json", cwd=demo)
    assert listed.code == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert records and {r["group"]["displayName"] for r in records} == {"LIC-Visio"}
    visio = [r for r in _records(demo) if r["group"]["displayName"] == "LIC-Visio"]
    assert len(records) == len([r for r in visio if r["result"] != "started"])


def test_a_group_whose_only_change_is_its_description_gets_no_licensing_records(run, demo):
    policy = demo / "policies" / "microsoft-365.yaml"
    text = policy.read_text()
    policy.write_text(
        text.replace(
            "  - displayName: LIC-M365-E3-Corporate\n",
            "  - displayName: LIC-M365-E3-Corporate\n    description: Corporate staff\n",
        )
    )
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    corporate = [
        (r["operation"], r["result"])
        for r in _records(demo)
        if r["group"]["displayName"] == "LIC-M365-E3-Corporate"
    ]
    assert corporate == [("updateGroup", "started"), ("updateGroup", "success")]


@pytest.mark.skipif(not hasattr(os, "umask"), reason="file modes are POSIX")
def test_the_log_is_created_private_in_a_private_folder(run, demo):
    (demo / "reconciler.yaml").write_text(
        "tenant: local:state/tenant.db\nseed: seed.json\npolicy: policies/\n"
        "audit: logs/audit.jsonl\n"
    )
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    assert stat.S_IMODE((demo / "logs").stat().st_mode) == 0o700
    assert stat.S_IMODE((demo / "logs" / "audit.jsonl").stat().st_mode) == 0o600


# --- a log apply can't write: one error before the first change, nothing changed ------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def seeded(run, demo) -> Path:
    """The demo with its local tenant made (by a plan), its log named by `audit: logs/...`."""
    (demo / "reconciler.yaml").write_text(
        "tenant: local:state/tenant.db\nseed: seed.json\npolicy: policies/\n"
        "audit: logs/audit.jsonl\n"
    )
    assert run("plan", cwd=demo).code == 0
    return demo


def _refused(run, demo: Path, reason: str, **kwargs) -> None:
    before = _digest(demo / "state" / "tenant.db")
    result = run("apply", "--auto-approve", "--allow-removals", cwd=demo, **kwargs)
    assert result.code == 1
    path = Path("logs") / "audit.jsonl"  # as reconciler.yaml names it
    assert result.stderr == f"error: {path}: can't write the audit log: {reason}\n"
    assert "Apply complete" not in result.stdout and ": done" not in result.stdout
    assert _digest(demo / "state" / "tenant.db") == before


def test_a_log_that_is_a_folder_changes_nothing(run, seeded):
    (seeded / "logs" / "audit.jsonl").mkdir(parents=True)
    _refused(run, seeded, "it is a folder, not a file")


def test_a_log_whose_folder_is_a_file_changes_nothing(run, seeded):
    (seeded / "logs").write_text("not a folder\n")
    _refused(run, seeded, "logs is a file, not a folder")


@pytest.mark.skipif(AS_ROOT, reason="root writes read-only files and folders regardless")
def test_a_read_only_log_changes_nothing(run, seeded):
    log = seeded / "logs" / "audit.jsonl"
    log.parent.mkdir()
    log.write_text("")
    log.chmod(0o400)
    _refused(run, seeded, "Permission denied")
    assert log.read_text() == ""


@pytest.mark.skipif(AS_ROOT, reason="root writes read-only files and folders regardless")
def test_a_log_in_a_read_only_folder_changes_nothing(run, seeded):
    (seeded / "logs").mkdir(mode=0o500)
    try:
        _refused(run, seeded, "Permission denied")
    finally:
        (seeded / "logs").chmod(0o700)


@pytest.mark.skipif(sys.platform == "win32", reason="a file size limit is POSIX")
def test_a_log_that_can_not_grow_changes_nothing(seeded):
    # as on a full disk: the log opens, but no record fits. A file size limit (what the tenant
    # needs, less than the log already holds) stands in for a full disk
    log = seeded / "logs" / "audit.jsonl"
    log.parent.mkdir()
    padding = {"activityDateTime": "2024-05-01T09:30:00.000Z", "note": "x" * 4_000_000}
    log.write_text(json.dumps(padding) + "\n")
    held = log.read_bytes()
    before = _digest(seeded / "state" / "tenant.db")

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (3_000_000, 3_000_000))

    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", "--auto-approve", "--allow-removals"],
        cwd=seeded,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limited,
    )
    assert result.returncode == 1, result.stderr
    named = Path("logs") / "audit.jsonl"
    assert result.stderr == f"error: {named}: can't write the audit log: File too large\n"
    assert _digest(seeded / "state" / "tenant.db") == before
    assert log.read_bytes() == held
