"""apply writes what it does to the audit log, and `reconciler audit` reads it back."""

import json
from pathlib import Path


def _records(demo: Path) -> list[dict]:
    lines = (demo / ".reconciler" / "audit.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_apply_records_every_change_and_each_licensing_group_s_result(run, demo):
    planned = run("plan", "--format", "json", cwd=demo).json()
    applied = run("apply", "--auto-approve", cwd=demo)
    assert applied.code == 0, applied.stderr
    records = _records(demo)
    changes = [r for r in records if r["operation"] in {c["action"] for c in planned["changes"]}]
    assert [(r["operation"], r["group"]["displayName"]) for r in changes] == [
        (c["action"], c["group"]["displayName"]) for c in planned["changes"]
    ]
    assert all(r["result"] == "success" for r in changes)
    # the new group is recorded under the id the tenant gave it, not the plan's placeholder
    [created] = [r for r in changes if r["operation"] == "createGroup"]
    assert not created["group"]["id"].startswith("new:")
    # LIC-Visio: five members for three free seats, as the plan's seat forecast says
    visio = [r for r in records if r["group"]["displayName"] == "LIC-Visio"]
    assert [r["operation"] for r in visio[-2:]] == [
        "Start applying group based license to users",
        "Finish applying group based license to users",
    ]
    assert visio[-1]["result"] == (
        "Users successfully assigned licenses: 3, Users for whom license assignment failed: 2"
    )
    # a retired group no longer exists, so it gets no licensing records
    retired = [r["operation"] for r in records if r["group"]["displayName"] == "Finance Analysts"]
    assert "Finish applying group based license to users" not in retired


def test_audit_filters_the_log_by_group(run, demo):
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    listed = run("audit", "--group", "LIC-Visio", "--format", "json", cwd=demo)
    assert listed.code == 0, listed.stderr
    records = [json.loads(line) for line in listed.stdout.splitlines()]
    assert records and {r["group"]["displayName"] for r in records} == {"LIC-Visio"}
    assert len(records) == len(
        [r for r in _records(demo) if r["group"]["displayName"] == "LIC-Visio"]
    )


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
        r["operation"]
        for r in _records(demo)
        if r["group"]["displayName"] == "LIC-M365-E3-Corporate"
    ]
    assert corporate == ["updateGroup"]
