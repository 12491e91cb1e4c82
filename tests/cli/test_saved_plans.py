"""Saved plans, in a subprocess: they record their origin, `apply` refuses a stale plan or
another tenant's, and `show` still shows a stale plan, with a warning."""

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CONTOSO_ID = "6762b34f-4e26-4a8e-a032-35a1e58e1b1c"
STALE_ADVICE = "Run `reconciler plan --out demo.plan` to plan again, and apply that."


@pytest.fixture
def saved(run, demo) -> Path:
    """The demo with its plan saved in demo.plan."""
    planned = run("plan", "--out", "demo.plan", cwd=demo)
    assert planned.code == 0, planned.stderr
    return demo


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit_user(snapshot: Path, upn: str, **fields) -> None:
    document = json.loads(snapshot.read_text())
    user = next(u for u in document["users"] if u["userPrincipalName"] == upn)
    user.update(fields)
    snapshot.write_text(json.dumps(document, indent=2))


def _change_tenant(run, demo: Path, upn: str, **fields) -> None:
    """Someone changes a user in the tenant: the local tenant reloaded with the user edited."""
    _edit_user(demo / "seed.json", upn, **fields)
    loaded = run("tenant", "import", "seed.json", cwd=demo)
    assert loaded.code == 0, loaded.stderr


def test_a_saved_plan_and_a_json_plan_record_their_origin(run, saved):
    origin = json.loads((saved / "demo.plan").read_text())["origin"]
    assert set(origin) == {
        "toolVersion",
        "policyDigest",
        "tenantId",
        "stateFingerprint",
        "planDigest",
    }
    assert origin["tenantId"] == CONTOSO_ID
    assert origin["policyDigest"].startswith("sha256:")
    assert origin["stateFingerprint"].startswith("sha256:")
    as_json = run("plan", "--format", "json", cwd=saved)
    assert as_json.json()["origin"] == origin  # same policy, same tenant: the same origin


def test_a_saved_plan_applied_a_second_time_is_stale_and_changes_nothing(run, saved):
    assert run("apply", "demo.plan", cwd=saved).code == 0
    database = saved / "state" / "tenant.db"
    before = _digest(database)
    again = run("apply", "demo.plan", cwd=saved)
    assert again.code == 1
    assert again.stderr == (
        "error: demo.plan: plan is stale: planning now finds no changes: the tenant already "
        f"matches the policy. Since the plan was made, the tenant changed. {STALE_ADVICE}\n"
    )
    assert _digest(database) == before


def test_a_tenant_change_that_alters_the_removals_makes_the_plan_stale(run, saved):
    # a Sales user moves to Japan: the narrowed rule now takes E5 from them too
    _change_tenant(run, saved, "alex.wilson@contoso.com", country="Japan")
    before = _digest(saved / "state" / "tenant.db")
    result = run("apply", "demo.plan", cwd=saved)
    assert result.code == 1
    assert result.stderr.startswith("error: demo.plan: plan is stale: ")
    assert "now also: alex.wilson@contoso.com loses SPE_E5" in result.stderr
    assert "Since the plan was made, the tenant changed." in result.stderr
    assert "Traceback" not in result.stderr
    assert _digest(saved / "state" / "tenant.db") == before


def test_a_tenant_change_elsewhere_leaves_the_saved_plan_applicable(run, saved):
    _change_tenant(run, saved, "alex.wilson@contoso.com", officeLocation="Building 7")
    result = run("apply", "demo.plan", cwd=saved)
    assert result.code == 0, result.stderr
    assert "note: Since the plan was made, the tenant changed. Planning again gives the same" in (
        result.stderr
    )
    assert "\nApply complete! " in result.stdout


def test_a_policy_edit_that_changes_the_plan_makes_it_stale(run, saved):
    policy = saved / "policies" / "add-ons.yaml"
    # LIC-Visio, which the plan creates, gets another member instead of Isaiah
    text = policy.read_text()
    assert "isaiah.taylor@contoso.com" in text and "alex.wilson@contoso.com" not in text
    policy.write_text(text.replace("isaiah.taylor@contoso.com", "alex.wilson@contoso.com"))
    result = run("apply", "demo.plan", cwd=saved)
    assert result.code == 1
    assert (
        "plan is stale: the changes differ (altered: LIC-Visio addMembers "
        "(+alex.wilson@contoso.com; -isaiah.taylor@contoso.com))"
    ) in result.stderr
    assert "Since the plan was made, the policy changed." in result.stderr


def test_a_policy_edit_that_changes_nothing_planned_leaves_the_plan_applicable(run, saved):
    policy = saved / "policies" / "add-ons.yaml"
    policy.write_text("# reviewed again\n" + policy.read_text())
    result = run("apply", "demo.plan", cwd=saved)
    assert result.code == 0, result.stderr
    assert "note: Since the plan was made, the policy changed." in result.stderr


def test_a_plan_for_another_tenant_is_refused_and_that_tenant_is_untouched(run, saved):
    other = json.loads((saved / "seed.json").read_text())
    other["organization"]["id"] = "00000000-0000-4000-8000-000000000000"
    (saved / "other.json").write_text(json.dumps(other))
    imported = run("tenant", "import", "other.json", "--tenant", "local:other.db", cwd=saved)
    assert imported.code == 0, imported.stderr
    before = _digest(saved / "other.db")
    result = run("apply", "demo.plan", "--tenant", "local:other.db", cwd=saved)
    assert result.code == 1
    assert result.stderr == (
        f"error: demo.plan: plan is for another tenant: it was made for tenant {CONTOSO_ID}, "
        f"not 00000000-0000-4000-8000-000000000000. {STALE_ADVICE}\n"
    )
    assert _digest(saved / "other.db") == before


def test_a_plan_file_without_origin_is_applied_only_if_planning_again_agrees(run, saved):
    document = json.loads((saved / "demo.plan").read_text())
    del document["origin"]
    (saved / "old.plan").write_text(json.dumps(document))
    applied = run("apply", "old.plan", cwd=saved)
    assert applied.code == 0, applied.stderr
    assert "note: The plan file records no origin (an older reconciler wrote it)." in (
        applied.stderr
    )
    again = run("apply", "old.plan", cwd=saved)
    assert again.code == 1
    assert "plan is stale: planning now finds no changes" in again.stderr


def test_show_prints_a_stale_plan_as_saved_and_warns_that_it_is_stale(run, saved):
    planned = run("show", "demo.plan", cwd=saved)
    assert planned.code == 0 and planned.stderr == ""  # a current plan: no warning
    assert run("apply", "demo.plan", cwd=saved).code == 0
    shown = run("show", "demo.plan", cwd=saved)
    assert shown.code == 0
    assert shown.stdout == planned.stdout
    assert shown.stderr == (
        "warning: plan is stale: planning now finds no changes: the tenant already matches "
        "the policy. Since the plan was made, the tenant changed. `apply` will refuse it; "
        "run `reconciler plan` again.\n"
    )
    as_json = run("show", "demo.plan", "--format", "json", cwd=saved)
    assert as_json.code == 0
    assert as_json.json() == json.loads((saved / "demo.plan").read_text())
    assert as_json.stderr.startswith("warning: plan is stale:")


def test_show_without_a_readable_tenant_shows_the_plan_and_creates_nothing(run, saved):
    planned = run("show", "demo.plan", cwd=saved)
    shown = run("show", "demo.plan", "--tenant", "local:missing.db", cwd=saved)
    assert shown.code == 0
    assert shown.stdout == planned.stdout
    assert "warning" not in shown.stderr
    assert shown.stderr.startswith("note: not checked against the tenant: missing.db: ")
    assert not (saved / "missing.db").exists()


def test_a_plan_file_edited_after_plan_wrote_it_is_planned_again_and_refused(run, demo):
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    document = json.loads((demo / "demo.plan").read_text())
    # slip in a change the policy never asked for, to a protected group, and clear the guard
    leadership = next(
        c["group"] for c in document["changes"] if c["group"]["displayName"].startswith("LIC-")
    )
    document["changes"].append(
        {"action": "deleteGroup", "group": {"id": leadership["id"], "displayName": "X"}}
    )
    document["guards"]["refused"] = False
    (demo / "demo.plan").write_text(json.dumps(document))
    database = demo / "state" / "tenant.db"
    before = database.read_bytes()
    result = run("apply", "demo.plan", cwd=demo)
    assert result.code == 1
    assert "plan is stale" in result.stderr
    assert "the plan file (edited after `plan` wrote it)" in result.stderr
    assert database.read_bytes() == before
