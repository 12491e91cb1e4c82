"""`apply --format json`, in a subprocess: JSON Lines events on stdout, each valid against
schemas/apply-events.schema.json, from the version to the summary, for every way a run ends."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from reconciler.emulator import running
from reconciler.jsonschemas import load_schema
from reconciler.providers.graph_auth import EMULATOR_TOKEN
from reconciler.render.apply_events import event_line, version_event
from tests.cli.conftest import ROOT

CONTOSO_ID = "6762b34f-4e26-4a8e-a032-35a1e58e1b1c"
VALIDATOR = Draft202012Validator(load_schema("apply-events.schema.json"))
JSON = ("--format", "json")


def _events(result) -> list[dict]:
    """Every line of stdout as an event, each checked against the schema."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.stdout.endswith("\n")
    lines = result.stdout.splitlines()
    events = [json.loads(line) for line in lines]
    for event in events:
        errors = [error.message for error in VALIDATOR.iter_errors(event)]
        assert not errors, (event, errors)
    # compact: one object a line, no spaces between tokens
    assert all(
        json.dumps(event, ensure_ascii=False, separators=(",", ":")) == line
        for event, line in zip(events, lines, strict=True)
    )
    return events


def _types(events: list[dict]) -> list[str]:
    return [event["type"] for event in events]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _planned(run, cwd: Path) -> dict:
    planned = run("plan", "--format", "json", cwd=cwd)
    assert planned.code == 0, planned.stderr
    return planned.json()


def _only(events: list[dict], kind: str) -> dict:
    (found,) = [event for event in events if event["type"] == kind]
    return found


def test_a_new_plan_applied_streams_version_plan_each_change_and_the_summary(run, demo):
    document = _planned(run, demo)
    changes = document["changes"]
    result = run("apply", "--auto-approve", "--allow-removals", *JSON, cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    events = _events(result)
    total = len(changes)
    assert _types(events) == [
        "version",
        "plan",
        *["apply_start", "apply_complete"] * total,
        "change_summary",
    ]
    version, plan, *steps, summary = events
    assert version["formatVersion"] == 1 and version["reconciler"]
    assert plan["planFile"] is None and plan["tenantId"] == CONTOSO_ID
    assert plan["summary"] == document["summary"] and plan["changeCount"] == total
    assert plan["licenseRemovals"] == document["guards"]["licenseRemovals"]
    for position, change in enumerate(changes):
        started, done = steps[2 * position : 2 * position + 2]
        for event in (started, done):
            assert event["change"]["index"] == position + 1
            assert event["change"]["total"] == total
            assert event["change"]["action"] == change["action"]
            assert event["change"]["group"]["displayName"] == change["group"]["displayName"]
        if "sku" in change:
            assert done["change"]["sku"]["skuPartNumber"] == change["sku"]["skuPartNumber"]
        if "members" in change:
            assert done["change"]["memberCount"] == len(change["members"])
        if change["action"] == "updateGroup":
            assert done["change"]["properties"][0] == change["property"]
        assert not done["change"]["group"]["id"].startswith("new:")  # the id it was given
    assert summary == {
        **summary,
        "summary": document["summary"],
        "changeCount": total,
        "succeeded": total,
        "failed": 0,
        "notAttempted": 0,
        "outcome": "applied",
        "@message": "Apply complete! 1 added, 4 changed, 1 removed.",
    }
    # the human text (the plan, the summary line) is not on stdout, and every event is stamped
    assert "Plan:" not in result.stdout.replace('"Apply complete!', "")
    stamps = [datetime.fromisoformat(event["@timestamp"]) for event in events]
    assert stamps == sorted(stamps) and all(stamp.tzinfo == UTC for stamp in stamps)
    assert run("plan", "--detailed-exitcode", cwd=demo).code == 0


def test_a_new_plan_in_json_mode_needs_auto_approve_and_nothing_is_read(run, demo):
    result = run("apply", *JSON, cwd=demo)
    assert result.code == 1
    assert result.stderr.startswith("error: apply --format json never asks: pass --auto-approve")
    assert result.stderr.count("\n") == 1
    events = _events(result)
    assert _types(events) == ["version", "diagnostic", "change_summary"]
    assert events[1]["diagnostic"]["code"] == "approval-required"
    assert events[2]["outcome"] == "errored" and events[2]["changeCount"] == 0
    assert not (demo / "state").exists()  # the tenant was never opened


def test_a_saved_plan_applies_in_json_mode_without_approval(run, demo):
    document = _planned(run, demo)
    assert run("plan", "--out", "p.json", cwd=demo).code == 0
    result = run("apply", "p.json", *JSON, cwd=demo)
    assert result.code == 0, result.stderr
    events = _events(result)
    plan = _only(events, "plan")
    assert plan["planFile"] == "p.json" and plan["summary"] == document["summary"]
    assert _types(events).count("apply_complete") == len(document["changes"])
    assert events[-1]["outcome"] == "applied"


def test_a_saved_plan_applied_again_is_a_stale_diagnostic_and_exit_1(run, demo):
    assert run("plan", "--out", "p.json", cwd=demo).code == 0
    assert run("apply", "p.json", cwd=demo).code == 0
    before = _digest(demo / "state" / "tenant.db")
    result = run("apply", "p.json", *JSON, cwd=demo)
    assert result.code == 1
    assert result.stderr.startswith("error: p.json: plan is stale: ")
    events = _events(result)
    assert _types(events) == ["version", "plan", "diagnostic", "change_summary"]
    diagnostic = events[2]["diagnostic"]
    assert diagnostic["severity"] == "error" and diagnostic["code"] == "plan-stale"
    assert diagnostic["location"] == {"file": "p.json"}
    assert diagnostic["message"].startswith("plan is stale: ")
    summary = events[-1]
    assert summary["outcome"] == "refused" and summary["succeeded"] == 0
    assert summary["notAttempted"] == summary["changeCount"] > 0
    assert _digest(demo / "state" / "tenant.db") == before


def test_a_tenant_change_elsewhere_is_a_note_and_the_saved_plan_applies(run, demo):
    assert run("plan", "--out", "p.json", cwd=demo).code == 0
    seed = json.loads((demo / "seed.json").read_text())
    user = next(u for u in seed["users"] if u["userPrincipalName"] == "alex.wilson@contoso.com")
    user["officeLocation"] = "Building 7"
    (demo / "seed.json").write_text(json.dumps(seed))
    assert run("tenant", "import", "seed.json", cwd=demo).code == 0
    result = run("apply", "p.json", *JSON, cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stderr == ""  # the note is an event, not a line on stderr
    events = _events(result)
    note = _only(events, "diagnostic")
    assert note["@level"] == "info"
    assert note["diagnostic"]["severity"] == "info"
    assert note["diagnostic"]["code"] == "plan-drift"
    assert note["diagnostic"]["message"].startswith("Since the plan was made, the tenant changed.")
    assert _types(events).index("diagnostic") < _types(events).index("apply_start")
    assert events[-1]["outcome"] == "applied"


def _strict(demo: Path) -> None:
    settings = demo / "policies" / "settings.yaml"
    text, count = re.subn(r"maxLicenseRemovals: \d+", "maxLicenseRemovals: 0", settings.read_text())
    assert count == 1
    settings.write_text(text)


def _protected(demo: Path) -> None:
    # directors leave LIC-M365-E5-Leadership, which the demo policy protects
    policy = demo / "policies" / "microsoft-365.yaml"
    policy.write_text(policy.read_text().replace(' -or user.jobTitle -startsWith "Director"', ""))


@pytest.mark.parametrize("guard", [_strict, _protected], ids=["over-the-limit", "protected"])
def test_a_guard_refusal_is_a_diagnostic_after_the_plan_and_exit_1(run, demo, guard):
    guard(demo)
    _planned(run, demo)
    before = _digest(demo / "state" / "tenant.db")
    result = run("apply", "--auto-approve", *JSON, cwd=demo)
    assert result.code == 1
    assert result.stderr.startswith("error: apply refused: ")
    events = _events(result)
    assert _types(events) == ["version", "plan", "diagnostic", "change_summary"]
    diagnostic = events[2]["diagnostic"]
    assert diagnostic["code"] == "removals-refused" and diagnostic["severity"] == "error"
    # the way forward is this very command, json mode included
    assert (
        "`reconciler apply --auto-approve --format json --allow-removals`"
        in (diagnostic["message"])
    )
    assert f"error: {diagnostic['message']}\n" == result.stderr
    assert events[-1]["outcome"] == "refused" and events[-1]["@level"] == "error"
    assert _digest(demo / "state" / "tenant.db") == before


def test_a_change_the_tenant_refuses_is_an_errored_event_and_summary_and_exit_1(run, demo):
    assert run("plan", "--out", "p.json", cwd=demo).code == 0
    changes = json.loads((demo / "p.json").read_text())["changes"]
    failing = next(
        index
        for index, change in enumerate(changes)
        if index >= 2 and not change["group"]["id"].startswith("new:")
    )
    name, group_id = changes[failing]["group"]["displayName"], changes[failing]["group"]["id"]
    # the tenant's storage refuses to write that group, as a real tenant may refuse a change
    with sqlite3.connect(demo / "state" / "tenant.db") as database:
        database.execute(
            f"CREATE TRIGGER refuse BEFORE UPDATE ON groups WHEN old.id = '{group_id}' "
            "BEGIN SELECT RAISE(ABORT, 'this group is read-only'); END"
        )
    database.close()

    result = run("apply", "p.json", *JSON, cwd=demo)
    assert result.code == 1
    total = len(changes)
    error = "local tenant state/tenant.db: this group is read-only"
    assert result.stderr == (
        f"error: apply stopped at change {failing + 1} of {total} ({name}): {error}\n"
    )
    events = _events(result)
    assert _types(events) == [
        "version",
        "plan",
        *["apply_start", "apply_complete"] * failing,
        "apply_start",
        "apply_errored",
        "diagnostic",
        "change_summary",
    ]
    errored = _only(events, "apply_errored")
    assert errored["change"]["index"] == failing + 1
    assert errored["change"]["group"] == {"id": group_id, "displayName": name}
    assert errored["error"] == error and errored["@level"] == "error"
    assert _only(events, "diagnostic")["diagnostic"]["code"] == "apply-failed"
    summary = events[-1]
    assert summary["outcome"] == "failed" and summary["@level"] == "error"
    assert (summary["succeeded"], summary["failed"], summary["notAttempted"]) == (
        failing,
        1,
        total - failing - 1,
    )


def test_a_policy_error_is_a_located_diagnostic_and_exit_1(run, demo):
    policy = demo / "policies" / "add-ons.yaml"
    policy.write_text(policy.read_text().replace("VISIOCLIENT", "VISIO_NOPE", 1))
    result = run("apply", "--auto-approve", *JSON, cwd=demo)
    assert result.code == 1
    events = _events(result)
    assert _types(events)[0] == "version" and _types(events)[-1] == "change_summary"
    diagnostics = [event["diagnostic"] for event in events if event["type"] == "diagnostic"]
    assert diagnostics and all(d["code"] == "invalid-input" for d in diagnostics)
    location = diagnostics[0]["location"]
    assert location["file"].endswith("add-ons.yaml") and location["line"] >= 1
    assert events[-1]["outcome"] == "errored"


def test_a_configuration_error_still_gives_a_complete_log(run, demo):
    (demo / "reconciler.yaml").write_text("tenant: [unclosed\n")
    result = run("apply", "--auto-approve", *JSON, cwd=demo)
    assert result.code == 1
    events = _events(result)
    assert _types(events) == ["version", "diagnostic", "change_summary"]
    assert events[1]["diagnostic"]["location"]["file"] == "reconciler.yaml"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """The demo policy against a Graph tenant (the emulator, given its URL)."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    return tmp_path


def test_waits_for_license_processing_are_progress_events_of_the_change(run, workspace):
    with running(str(workspace / "tenant.json"), license_reads=2) as emulator:
        url = ["--graph-url", emulator.url]
        result = run("apply", "--auto-approve", "--allow-removals", *JSON, *url, cwd=workspace)
    assert result.code == 0, result.stderr
    assert result.stderr == ""  # the waits are events, not lines on stderr
    assert EMULATOR_TOKEN not in result.stdout
    events = _events(result)
    waits = [event for event in events if event["type"] == "apply_progress"]
    assert waits
    for wait in waits:
        assert wait["licenseProcessingState"] in ("QueuedForProcessing", "ProcessingInProgress")
        assert wait["change"]["group"]["displayName"].startswith("LIC-")
        assert not wait["change"]["group"]["id"].startswith("new:")
        # between the start and the completion of the change it waits on
        position = events.index(wait)
        index = wait["change"]["index"]
        started = max(
            i
            for i, event in enumerate(events[:position])
            if event["type"] == "apply_start" and event["change"]["index"] == index
        )
        assert all(event["type"] != "apply_complete" for event in events[started:position])
    completed = [event for event in events if event["type"] == "apply_complete"]
    assert {event["licenseProcessing"] for event in completed} <= {"complete", None}
    assert events[-1]["outcome"] == "applied"


def test_a_failed_license_processing_is_a_warning_naming_the_group(run, workspace):
    with running(str(workspace / "tenant.json"), faults="license-failed:every=1") as emulator:
        url = ["--graph-url", emulator.url]
        result = run("apply", "--auto-approve", "--allow-removals", *JSON, *url, cwd=workspace)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    events = _events(result)
    warnings = [event for event in events if event["type"] == "diagnostic"]
    assert warnings
    for warning in warnings:
        assert warning["@level"] == "warn"
        diagnostic = warning["diagnostic"]
        assert diagnostic["severity"] == "warning"
        assert diagnostic["code"] == "license-processing-failed"
        assert diagnostic["group"]["displayName"] in diagnostic["message"]
        assert "reconciler reprocess --group" in diagnostic["message"]
    failed = [
        e for e in events if e["type"] == "apply_complete" and e["licenseProcessing"] == "failed"
    ]
    assert {e["change"]["group"]["id"] for e in failed} >= {
        w["diagnostic"]["group"]["id"] for w in warnings
    }
    # the warnings come after the last change, before the summary, which is still a success
    assert _types(events).index("diagnostic") > max(
        i for i, kind in enumerate(_types(events)) if kind == "apply_complete"
    )
    assert events[-1]["outcome"] == "applied"


def test_an_event_line_is_compact_utf8_json_stamped_in_utc():
    at = datetime(2025, 3, 1, 12, 30, 5, 123456, tzinfo=UTC)
    line = event_line({**version_event("9.9"), "@message": "Ventes Québec"}, at)
    assert line.startswith('{"@level":"info","@message":"Ventes Québec",')
    assert '"@timestamp":"2025-03-01T12:30:05.123Z"' in line
    assert " " not in line.replace("Ventes Québec", "")
