"""`reconciler drift` and the plan's drift note: changes made outside reconciler, told apart from
policy changes by the tenant's own audit log, with who made them and when."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

from reconciler.directory_audit import Initiator
from reconciler.emulator import running
from reconciler.plan.changes import ChangeDisabledPlans, UpdateGroup
from reconciler.providers.local import LocalTenant
from tests.cli.conftest import ROOT

ADMIN = "admin@contoso.com"
SALES = "LIC-M365-E5-Sales"


@pytest.fixture
def applied(run, demo: Path) -> Path:
    """The demo policy applied to the demo's local tenant by reconciler."""
    result = run("apply", "--auto-approve", "--allow-removals", cwd=demo)
    assert result.code == 0, result.stderr
    return demo


def as_admin(demo: Path) -> LocalTenant:
    """The local tenant as an admin in the portal would change it: not through reconciler."""
    return LocalTenant(demo / "state" / "tenant.db", initiator=Initiator.user(ADMIN))


def group(tenant: LocalTenant, name: str):
    return next(g for g in tenant.read().groups if g.displayName == name)


def test_a_rule_edited_in_the_portal_is_drift_naming_who(run, applied):
    with as_admin(applied) as tenant:
        sales = group(tenant, SALES)
        edited = 'user.department -eq "Sales"'
        tenant.apply(UpdateGroup(sales.id, SALES, "membershipRule", sales.membershipRule, edited))
    result = run("drift", "--format", "json", cwd=applied)
    assert result.code == 2, result.stderr
    document = result.json()
    assert document["driftPresent"] is True
    [item] = document["drift"]
    assert item["group"] == {"id": sales.id, "displayName": SALES}
    assert item["property"] == "membershipRule"
    assert item["current"] == edited
    assert item["desired"] == sales.membershipRule
    assert item["activity"] == "Update group"
    assert item["changedBy"] == ADMIN
    assert item["changedAt"].endswith("Z")

    text = run("plan", cwd=applied).stdout
    note = text.index("Note: managed groups changed outside reconciler")
    assert note < text.index("reconciler will perform these actions")
    assert f"# {SALES}: membershipRule changed by {ADMIN}" in text
    planned = run("plan", "--format", "json", cwd=applied).json()
    assert planned["drift"] == document["drift"]


def test_a_license_changed_in_the_portal_is_drift(run, applied):
    with as_admin(applied) as tenant:
        sales = group(tenant, SALES)
        [assigned] = sales.assignedLicenses
        tenant.apply(
            ChangeDisabledPlans(
                sales.id, SALES, assigned.skuId, assigned.disabledPlans, frozenset()
            )
        )
    result = run("drift", "--format", "json", cwd=applied)
    assert result.code == 2
    [item] = result.json()["drift"]
    assert (item["property"], item["activity"], item["changedBy"]) == (
        "licenses",
        "Set group license",
        ADMIN,
    )
    assert item["current"] == ["SPE_E5"]
    assert item["desired"] == ["SPE_E5 (off: YAMMER_ENTERPRISE)"]


def test_a_policy_change_is_not_drift(run, applied):
    policy = applied / "policies" / "microsoft-365.yaml"
    text = policy.read_text()
    policy.write_text(text.replace("without Viva Engage", "without Viva Engage or Yammer"))
    planned = run("plan", "--detailed-exitcode", cwd=applied)
    assert planned.code == 2
    assert "changed outside reconciler" not in planned.stdout
    result = run("drift", cwd=applied)
    assert result.code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("No drift.")


def test_reconcilers_own_changes_are_not_drift(run, demo):
    # before apply the tenant differs from the policy, but nobody changed it since seeding
    assert run("drift", cwd=demo).code == 0
    run("apply", "--auto-approve", "--allow-removals", cwd=demo)
    assert run("drift", cwd=demo).code == 0


def test_drift_needs_an_audit_log_which_a_snapshot_has_not(run, demo):
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", demo / "snap.json")
    result = run("drift", "--tenant", "snapshot:snap.json", cwd=demo)
    assert result.code == 1
    assert "no audit log" in result.stderr
    assert "Traceback" not in result.stderr
    # the plan itself goes on without a drift note
    planned = run("plan", "--tenant", "snapshot:snap.json", "--format", "json", cwd=demo)
    assert planned.code == 0 and "drift" not in planned.json()


def test_drift_through_graph_names_the_admin_who_changed_a_group(run, tmp_path):
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    with running(str(tmp_path / "tenant.json")) as emulator:
        url = ["--graph-url", emulator.url]
        applied = run("apply", "--auto-approve", "--allow-removals", *url, cwd=tmp_path)
        assert applied.code == 0, applied.stderr
        assert run("drift", *url, cwd=tmp_path).code == 0
        headers = {"Authorization": f"Bearer user:{ADMIN}"}
        with httpx.Client(base_url=emulator.url, headers=headers) as client:
            found = client.get("/groups", params={"$filter": f"displayName eq '{SALES}'"})
            sales_id = found.json()["value"][0]["id"]
            changed = client.patch(f"/groups/{sales_id}", json={"description": "changed by hand"})
            assert changed.status_code == 204, changed.text
        result = run("drift", "--format", "json", *url, cwd=tmp_path)
        assert result.code == 2, result.stderr
        [item] = result.json()["drift"]
        assert (item["property"], item["current"], item["changedBy"]) == (
            "description",
            "changed by hand",
            ADMIN,
        )
