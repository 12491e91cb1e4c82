"""groups.lock.yaml remembers what the policy manages: groups that leave management are named,
a group renamed on either side stays the same group, and a protection outlives its block."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from tests.cli.conftest import ROOT

SCENARIO = ROOT / "examples" / "scenarios" / "18-protected-group"
E5_ID = "fa00d44e-7497-5f2f-b39e-21f36310c260"
EMS_ID = "14626a7e-e219-5961-8f9a-14e6d2e3c2bd"

E5_BLOCK = """\
  - displayName: LIC-E5-Executives
    membershipRule: user.department -eq "Executive"
    licenses:
      - sku: SPE_E5
    protect: {protect}
"""
EMS_BLOCK = """\
  - displayName: LIC-EMS-Executives
    members: [alice@contoso.com, bob@contoso.com]
    licenses:
      - sku: EMS
"""


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """The scenario's tenant as a snapshot, and a policy that matches it, locked."""
    shutil.copy(SCENARIO / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "policies").mkdir()
    (tmp_path / "reconciler.yaml").write_text("tenant: snapshot:tenant.json\npolicy: policies/\n")
    write_policy(tmp_path, E5_BLOCK.format(protect="true") + EMS_BLOCK)
    return tmp_path


def write_policy(repo: Path, groups: str, retired: str = "") -> None:
    text = "settings:\n  maxLicenseRemovals: 100\ngroups:\n" + groups
    if retired:
        text += "retired:\n" + retired
    (repo / "policies" / "groups.yaml").write_text(text)


def edit_tenant(repo: Path, change) -> None:
    path = repo / "tenant.json"
    tenant = json.loads(path.read_text())
    change(tenant)
    path.write_text(json.dumps(tenant))


def plan(run, repo: Path) -> dict:
    result = run("plan", "--format", "json", cwd=repo)
    assert result.code == 0, result.stderr
    return result.json()


def locked(run, repo: Path) -> dict:
    result = run("lock", cwd=repo)
    assert result.code == 0, result.stderr
    return {
        g["displayName"]: g
        for g in yaml.safe_load((repo / "policies/groups.lock.yaml").read_text())["groups"]
    }


def test_lock_records_every_managed_group_with_its_id_and_protection(run, repo):
    groups = locked(run, repo)
    assert groups == {
        "LIC-E5-Executives": {"displayName": "LIC-E5-Executives", "id": E5_ID, "protect": True},
        "LIC-EMS-Executives": {"displayName": "LIC-EMS-Executives", "id": EMS_ID},
    }
    assert plan(run, repo)["changesPresent"] is False


def test_a_removed_block_leaves_its_group_as_it_is_and_the_plan_says_so(run, repo):
    locked(run, repo)
    write_policy(repo, E5_BLOCK.format(protect="true"))
    document = plan(run, repo)
    assert document["changesPresent"] is False
    assert document["released"] == [
        {"group": {"id": EMS_ID, "displayName": "LIC-EMS-Executives"}, "protect": False}
    ]
    text = run("plan", cwd=repo).stdout
    assert "# LIC-EMS-Executives will no longer be managed (left as it is)" in text
    # once locked again, the group is forgotten
    assert "LIC-EMS-Executives" not in locked(run, repo)
    assert plan(run, repo)["released"] == []


def test_without_a_lock_a_removed_block_goes_unmentioned(run, repo):
    write_policy(repo, E5_BLOCK.format(protect="true"))
    assert plan(run, repo)["released"] == []


def test_a_group_renamed_outside_reconciler_is_renamed_back_not_created_again(run, repo):
    locked(run, repo)

    def rename(tenant):
        next(g for g in tenant["groups"] if g["id"] == EMS_ID)["displayName"] = "EMS-Execs"

    edit_tenant(repo, rename)
    changes = plan(run, repo)["changes"]
    assert [c["action"] for c in changes] == ["updateGroup"]
    assert changes[0]["group"]["id"] == EMS_ID
    assert changes[0]["property"] == "displayName"
    assert (changes[0]["before"], changes[0]["after"]) == ("EMS-Execs", "LIC-EMS-Executives")


def test_a_group_renamed_outside_reconciler_without_a_lock_would_be_created_anew(run, repo):
    def rename(tenant):
        next(g for g in tenant["groups"] if g["id"] == EMS_ID)["displayName"] = "EMS-Execs"

    edit_tenant(repo, rename)
    actions = {c["action"] for c in plan(run, repo)["changes"]}
    assert "createGroup" in actions


def test_a_protected_group_moved_to_retired_stays_protected(run, repo):
    locked(run, repo)
    write_policy(repo, EMS_BLOCK, retired="  - displayName: LIC-E5-Executives\n")
    guards = plan(run, repo)["guards"]
    assert guards["refused"] is True
    assert any("retires protected group LIC-E5-Executives" in r for r in guards["reasons"])
    applied = run("apply", "--auto-approve", cwd=repo)
    assert applied.code == 1
    # `lock` won't forget the protection either
    result = run("lock", cwd=repo)
    assert "LIC-E5-Executives stays protected: it is retired" in result.stdout
    assert locked(run, repo)["LIC-E5-Executives"]["protect"] is True


def test_a_protected_groups_deleted_block_keeps_its_protection_in_the_lock(run, repo):
    locked(run, repo)
    write_policy(repo, EMS_BLOCK)
    document = plan(run, repo)
    assert document["released"] == [
        {"group": {"id": E5_ID, "displayName": "LIC-E5-Executives"}, "protect": True}
    ]
    assert locked(run, repo)["LIC-E5-Executives"]["protect"] is True


def test_protection_removed_with_a_removal_in_the_same_change_is_still_enforced(run, repo):
    locked(run, repo)
    unprotected_and_emptied = E5_BLOCK.format(protect="false").replace(
        "    licenses:\n      - sku: SPE_E5\n", "    licenses: []\n"
    )
    write_policy(repo, unprotected_and_emptied + EMS_BLOCK)
    guards = plan(run, repo)["guards"]
    assert guards["refused"] is True
    assert guards["protected"] == [{"id": E5_ID, "displayName": "LIC-E5-Executives"}]
    result = run("lock", cwd=repo)
    assert "stays protected: the plan takes licenses away through it" in result.stdout
    assert locked(run, repo)["LIC-E5-Executives"]["protect"] is True


def test_protection_removed_in_a_change_of_its_own_then_allows_removals(run, repo):
    locked(run, repo)
    write_policy(repo, E5_BLOCK.format(protect="false") + EMS_BLOCK)
    assert "protect" not in locked(run, repo)["LIC-E5-Executives"]
    emptied = E5_BLOCK.format(protect="false").replace(
        "    licenses:\n      - sku: SPE_E5\n", "    licenses: []\n"
    )
    write_policy(repo, emptied + EMS_BLOCK)
    guards = plan(run, repo)["guards"]
    assert guards["licenseRemovals"] == 4
    assert guards["refused"] is False


def test_licensed_groups_outside_the_policy_sharing_its_products_are_named(run, repo):
    def add_group(tenant):
        tenant["groups"].append(
            {
                "id": "0b7f3f8e-46a4-4c5e-9c1e-6a1d1d1f0001",
                "displayName": "Legacy E5",
                "groupTypes": [],
                "securityEnabled": True,
                "mailEnabled": False,
                "assignedLicenses": [
                    {"skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "disabledPlans": []}
                ],
                "members": [],
            }
        )

    edit_tenant(repo, add_group)
    document = plan(run, repo)
    assert [g["displayName"] for g in document["unmanaged"]] == ["Legacy E5"]
    assert document["unmanaged"][0]["skus"][0]["skuPartNumber"] == "SPE_E5"
    # a plan without changes spares the note; a plan with changes names the group
    assert "Not managed" not in run("plan", cwd=repo).stdout
    described = E5_BLOCK.format(protect="true") + "    description: Executives\n"
    write_policy(repo, described + EMS_BLOCK)
    text = run("plan", cwd=repo).stdout
    assert "Not managed by this policy: 1 group assigning products it assigns too: " in text
    assert "Legacy E5 (SPE_E5)" in text


def test_a_damaged_group_lock_is_one_error_at_its_line(run, repo):
    (repo / "policies" / "groups.lock.yaml").write_text(
        "formatVersion: 1\ngroups:\n  - displayName: X\n    id: not-a-guid\n"
    )
    result = run("plan", cwd=repo)
    assert result.code == 1
    assert "groups.lock.yaml:4:" in result.stderr
    assert "Traceback" not in result.stderr


def test_lock_finds_a_retired_group_renamed_in_the_tenant_by_its_recorded_id(run, repo):
    locked(run, repo)

    def rename(tenant):
        next(g for g in tenant["groups"] if g["id"] == EMS_ID)["displayName"] = "LIC-EMS-Executive"

    edit_tenant(repo, rename)
    write_policy(
        repo, E5_BLOCK.format(protect="true"), retired="  - displayName: LIC-EMS-Executives\n"
    )
    planned = run("plan", "--format", "json", cwd=repo)
    assert planned.code == 0, planned.stderr
    assert {"id": EMS_ID, "displayName": "LIC-EMS-Executive"} in [
        c["group"] for c in planned.json()["changes"] if c["action"] == "deleteGroup"
    ]
    result = run("lock", cwd=repo)
    assert result.code == 0, result.stderr


def test_a_licensed_group_outside_the_policy_with_other_products_is_not_named(run, repo):
    write_policy(repo, E5_BLOCK.format(protect="true"))  # EMS leaves the policy: no product shared
    assert plan(run, repo)["unmanaged"] == []


def test_a_block_renamed_without_its_id_is_a_warning_naming_the_id_to_pin(run, repo):
    locked(run, repo)
    renamed = EMS_BLOCK.replace("LIC-EMS-Executives", "LIC-EMS-Leaders")
    write_policy(repo, E5_BLOCK.format(protect="true") + renamed)
    document = plan(run, repo)
    assert document["changes"][0]["action"] == "createGroup"
    [warning] = [w for w in document["warnings"] if w["code"] == "renamed-without-id"]
    assert warning["group"] == "LIC-EMS-Leaders"
    assert (
        warning["hint"]
        == f"to rename LIC-EMS-Executives in place, pin it in the block: `id: {EMS_ID}`"
    )
    assert warning["file"].endswith("groups.yaml")
    # pinned, it is a rename in place, and nothing to warn about
    pinned = renamed.replace("    members:", f"    id: {EMS_ID}\n    members:")
    write_policy(repo, E5_BLOCK.format(protect="true") + pinned)
    document = plan(run, repo)
    assert [(c["action"], c.get("property")) for c in document["changes"]] == [
        ("updateGroup", "displayName")
    ]
    assert "renamed-without-id" not in [w["code"] for w in document["warnings"]]


def test_a_new_group_with_other_products_than_the_one_leaving_is_not_taken_for_a_rename(run, repo):
    locked(run, repo)
    other = EMS_BLOCK.replace("LIC-EMS-Executives", "LIC-E5-Leaders").replace(
        "sku: EMS", "sku: SPE_E5"
    )
    write_policy(repo, E5_BLOCK.format(protect="true") + other)
    document = plan(run, repo)
    assert "createGroup" in [c["action"] for c in document["changes"]]
    assert "renamed-without-id" not in [w["code"] for w in document["warnings"]]
