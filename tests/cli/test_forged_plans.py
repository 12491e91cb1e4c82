"""A saved plan edited by hand and sealed again, its digest computed as reconciler computes it,
is refused: apply plans again now, applies only a plan equal to it in changes and removals, and
judges the guards of the plan made now, never the file's. In a subprocess, against the demo."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reconciler.plan.origin import plan_digest
from reconciler.plan.stale import check_before_apply

LEADERSHIP = "LIC-M365-E5-Leadership"  # `protect: true` in the demo policy
ADVICE = "Run `reconciler plan --out demo.plan` to plan again, and apply that."
EDITED = (
    "The plan file says the tenant, the policy and reconciler are as they were when it was "
    "made, so the file itself was changed after `plan` wrote it."
)


@pytest.fixture
def saved(run, demo) -> Path:
    """The demo with its plan saved in demo.plan (and its local tenant made)."""
    planned = run("plan", "--out", "demo.plan", cwd=demo)
    assert planned.code == 0, planned.stderr
    return demo


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _read(folder: Path) -> dict:
    return json.loads((folder / "demo.plan").read_text(encoding="utf-8"))


def _reseal(folder: Path, document: dict) -> None:
    """Writes the edited plan with its digest computed again, as a forger would."""
    document["origin"]["planDigest"] = plan_digest(document)
    (folder / "demo.plan").write_text(json.dumps(document, indent=2), encoding="utf-8")


def _seed_group(folder: Path, name: str) -> dict:
    seed = json.loads((folder / "seed.json").read_text(encoding="utf-8"))
    group = next(g for g in seed["groups"] if g["displayName"] == name)
    return {"id": group["id"], "displayName": name}


def _sku(folder: Path, part_number: str) -> dict:
    seed = json.loads((folder / "seed.json").read_text(encoding="utf-8"))
    sku = next(s for s in seed["subscribedSkus"] if s["skuPartNumber"] == part_number)
    return {"skuId": sku["skuId"], "skuPartNumber": part_number}


def _refused_untouched(run, folder: Path, *args: str):
    """Runs `apply demo.plan ARGS`, which must fail leaving the tenant and the audit log as
    they were; returns the result."""
    database = folder / "state" / "tenant.db"
    before = _digest(database)
    result = run("apply", "demo.plan", *args, cwd=folder)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert _digest(database) == before
    assert not (folder / ".reconciler" / "audit.jsonl").exists()
    return result


def _protecting(demo: Path) -> Path:
    """The demo with directors leaving LIC-M365-E5-Leadership: a plan its guards refuse."""
    policy = demo / "policies" / "microsoft-365.yaml"
    policy.write_text(policy.read_text().replace(' -or user.jobTitle -startsWith "Director"', ""))
    return demo


# --- edited, sealed again, refused -------------------------------------------------------------


def test_a_license_removal_slipped_in_through_a_protected_group_is_refused(run, saved):
    document = _read(saved)
    group, sku = _seed_group(saved, LEADERSHIP), _sku(saved, "SPE_E5")
    document["changes"].append({"action": "removeLicense", "group": group, "sku": sku})
    _reseal(saved, document)
    result = _refused_untouched(run, saved)
    assert result.stderr == (
        "error: demo.plan: plan is not what the policy asks now: the changes differ "
        f"(no longer: {LEADERSHIP} removeLicense SPE_E5). {EDITED} {ADVICE}\n"
    )


def test_a_change_moved_to_another_group_is_refused_naming_both(run, saved):
    document = _read(saved)
    change = next(c for c in document["changes"] if c["action"] == "changeDisabledPlans")
    engineering = change["group"]["displayName"]
    change["group"] = _seed_group(saved, LEADERSHIP)
    _reseal(saved, document)
    result = _refused_untouched(run, saved)
    assert result.stderr.startswith("error: demo.plan: plan is not what the policy asks now: ")
    assert f"now also: {engineering} changeDisabledPlans" in result.stderr
    assert f"no longer: {LEADERSHIP} changeDisabledPlans" in result.stderr
    assert EDITED in result.stderr


def test_a_license_removal_hidden_from_the_reviewers_is_refused(run, saved):
    document = _read(saved)
    hidden = document["impact"]["licenseRemovals"].pop(0)
    document["guards"]["licenseRemovals"] -= 1
    _reseal(saved, document)
    result = _refused_untouched(run, saved)
    loses = f"{hidden['userPrincipalName']} loses {hidden['skuPartNumber']}"
    assert f"the license removals differ (now also: {loses})" in result.stderr
    assert EDITED in result.stderr


def test_a_forged_plan_is_a_plan_stale_event_and_nothing_of_it_runs(run, saved):
    document = _read(saved)
    group, sku = _seed_group(saved, LEADERSHIP), _sku(saved, "SPE_E5")
    document["changes"].append({"action": "removeLicense", "group": group, "sku": sku})
    _reseal(saved, document)
    result = _refused_untouched(run, saved, "--format", "json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    types = [event["type"] for event in events]
    assert types == ["version", "plan", "diagnostic", "change_summary"]
    assert events[2]["diagnostic"]["code"] == "plan-stale"
    assert events[-1]["outcome"] == "refused" and events[-1]["succeeded"] == 0


def test_a_plan_whose_tenant_id_is_rewritten_is_still_refused(run, saved):
    document = _read(saved)
    document["origin"]["tenantId"] = "00000000-0000-4000-8000-000000000000"
    _reseal(saved, document)
    result = _refused_untouched(run, saved)
    assert "plan is for another tenant: it was made for tenant 00000000-" in result.stderr


# --- the guards judged are the plan's made now ------------------------------------------------


def test_guards_switched_off_in_the_file_are_judged_again_and_refuse(run, demo):
    _protecting(demo)
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    document = _read(demo)
    assert document["guards"]["refused"] is True
    document["guards"].update(refused=False, reasons=[], protected=[])
    _reseal(demo, document)
    result = _refused_untouched(run, demo)
    assert result.stderr == (
        "error: apply refused: the plan takes licenses away through protected group "
        f"{LEADERSHIP}. To apply it anyway, run `reconciler apply demo.plan --allow-removals`, "
        "or remove `protect: true` from the group in the policy and plan again.\n"
    )


def test_allow_removals_applies_an_honest_guarded_plan(run, demo):
    _protecting(demo)
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    assert _read(demo)["guards"]["refused"] is True
    _refused_untouched(run, demo)
    allowed = run("apply", "demo.plan", "--allow-removals", cwd=demo)
    assert allowed.code == 0, allowed.stderr
    assert "\nApply complete! " in allowed.stdout
    assert run("plan", "--detailed-exitcode", cwd=demo).code == 0  # nothing left to do


# --- what is applied is the plan made now -----------------------------------------------------


def test_an_honest_saved_plan_applies_without_a_word_on_stderr(run, saved):
    result = run("apply", "demo.plan", cwd=saved)
    assert result.code == 0, result.stderr
    assert result.stderr == ""  # nothing moved: no drift note either
    assert "\nApply complete! 1 added, 4 changed, 1 removed." in result.stdout
    assert (saved / ".reconciler" / "audit.jsonl").exists()
    assert run("plan", "--detailed-exitcode", cwd=saved).code == 0


def test_a_forged_summary_is_not_what_apply_reports(run, saved):
    # the changes and removals are left alone: the plan applies, and says what it really did
    document = _read(saved)
    document["summary"] = {"add": 0, "change": 0, "remove": 0}
    _reseal(saved, document)
    result = run("apply", "demo.plan", "--format", "json", cwd=saved)
    assert result.code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    plan = next(event for event in events if event["type"] == "plan")
    assert plan["summary"] == {"add": 1, "change": 4, "remove": 1}
    assert events[-1]["summary"] == {"add": 1, "change": 4, "remove": 1}


# --- the decision, without a tenant -----------------------------------------------------------

ORIGIN = {
    "toolVersion": "0.1.0",
    "policyDigest": "sha256:policy",
    "tenantId": "6762b34f-4e26-4a8e-a032-35a1e58e1b1c",
    "stateFingerprint": "sha256:state",
}
CHANGE = {
    "action": "removeMembers",
    "group": {"id": "172709e9", "displayName": "LIC-PowerBI-Pro"},
    "members": [{"id": "u1", "userPrincipalName": "daniel.smith@contoso.com"}],
}


def _plan(changes: list[dict], sealed: bool = True) -> dict:
    document = {
        "changesPresent": bool(changes),
        "changes": changes,
        "impact": {"licenseRemovals": [], "planRemovals": []},
    }
    digest = plan_digest(document) if sealed else "sha256:edited"
    return {**document, "origin": {**ORIGIN, "planDigest": digest}}


def test_apply_plans_again_even_when_the_origin_and_digest_match():
    replans = []

    def replan() -> dict:
        replans.append(1)
        return _plan([CHANGE])

    checked = check_before_apply(_plan([CHANGE]), dict(ORIGIN), replan)
    assert replans == [1]
    assert checked.current and checked.replanned == _plan([CHANGE])
    assert checked.problem() is None and checked.drift_note() is None


def test_a_resealed_plan_that_differs_is_named_as_edited_not_stale():
    forged = _plan([CHANGE, {"action": "deleteGroup", "group": CHANGE["group"]}])
    checked = check_before_apply(forged, dict(ORIGIN), lambda: _plan([CHANGE]))
    assert checked.problem() == (
        "plan is not what the policy asks now: the changes differ (no longer: LIC-PowerBI-Pro "
        f"deleteGroup). {EDITED}"
    )


def test_an_unsealed_edit_that_changes_nothing_applied_is_a_note():
    edited = _plan([CHANGE], sealed=False)
    checked = check_before_apply(edited, dict(ORIGIN), lambda: _plan([CHANGE]))
    assert checked.current
    assert checked.drift_note() == (
        "Since the plan was made, the plan file (edited after `plan` wrote it) changed. "
        "Planning again gives the same changes and removals."
    )


def test_another_tenants_plan_is_refused_without_planning_again():
    other = {**ORIGIN, "tenantId": "00000000-0000-0000-0000-000000000000"}

    def never() -> dict:
        raise AssertionError("another tenant's plan is not planned again")

    checked = check_before_apply(_plan([CHANGE]), other, never)
    assert checked.other_tenant is not None and checked.replanned is None
