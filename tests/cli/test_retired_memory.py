"""A retired group after apply: groups.lock.yaml remembers it, so its entry is done, not an
error; a retired name the lock never saw is an error, on the local tenant and through Graph."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from reconciler.emulator import running
from tests.cli.conftest import ROOT

RETIRED_AT = "policies/add-ons.yaml:39:"


def forget_retired(demo: Path) -> None:
    """The demo's group lock as it was before `lock` saw Finance Analysts retired."""
    path = demo / "policies" / "groups.lock.yaml"
    document = yaml.safe_load(path.read_text())
    assert [entry["displayName"] for entry in document.pop("retired")] == ["Finance Analysts"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def warning_codes(run, cwd: Path, *options: str) -> list[str]:
    planned = run("plan", "--format", "json", *options, cwd=cwd)
    assert planned.code == 0, planned.stderr
    return [warning["code"] for warning in planned.json()["warnings"]]


def test_a_retired_group_the_lock_saw_is_done_once_deleted(run, demo):
    assert "retired-not-locked" not in warning_codes(run, demo)
    applied = run("apply", "--auto-approve", "--allow-removals", cwd=demo)
    assert applied.code == 0, applied.stderr
    again = run("plan", "--detailed-exitcode", cwd=demo)
    assert again.code == 0, again.stdout + again.stderr
    assert "No changes." in again.stdout
    assert run("validate", cwd=demo).code == 0


def test_the_plan_warns_until_lock_remembers_a_retired_group(run, demo):
    forget_retired(demo)
    planned = run("plan", cwd=demo)
    assert planned.code == 0, planned.stderr
    assert "Warning: retired-not-locked" in planned.stdout
    assert f"{RETIRED_AT}5: groups.lock.yaml doesn't remember retired group Finance" in (
        planned.stdout
    )
    locked = run("lock", cwd=demo)
    assert locked.code == 0, locked.stderr
    assert "updated policies/groups.lock.yaml: 8 groups, 1 retired" in locked.stdout
    assert "retired-not-locked" not in warning_codes(run, demo)


def test_a_retired_name_the_lock_never_saw_is_an_error_once_the_group_is_gone(run, demo):
    forget_retired(demo)
    applied = run("apply", "--auto-approve", "--allow-removals", cwd=demo)
    assert applied.code == 0, applied.stderr
    for command in ("plan", "validate"):
        result = run(command, cwd=demo)
        assert result.code == 1, result.stdout
        assert re.search(
            rf"{RETIRED_AT}18: retired group 'Finance Analysts': the tenant has no group of that "
            r"name.*; if it was deleted already, remove this entry",
            result.stderr,
        ), result.stderr
        assert "Traceback" not in result.stderr
    # lock can't paper over it: the group is gone, so it has nothing to record
    assert run("lock", cwd=demo).code == 1


def test_a_group_recreated_under_a_retired_name_is_not_deleted_unasked(run, demo):
    assert run("apply", "--auto-approve", "--allow-removals", cwd=demo).code == 0
    add_ons = demo / "policies" / "add-ons.yaml"
    retiring = add_ons.read_text()
    # someone makes a new group of that name, here through a policy that lock doesn't see
    add_ons.write_text(
        retiring.replace("retired:\n", "").replace(
            "  - displayName: Finance Analysts\n",
            "  - displayName: Finance Analysts\n    members: []\n",
        )
    )
    assert run("apply", "--auto-approve", cwd=demo).code == 0
    add_ons.write_text(retiring)
    result = run("plan", cwd=demo)
    assert result.code == 1
    assert "groups.lock.yaml saw this group with id 0099338f-a145-4293-ae58-389e5280cd31" in (
        result.stderr
    )
    assert "pin that id to retire it too, or remove this entry" in result.stderr


@pytest.fixture
def graph_workspace(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    return tmp_path


def test_through_graph_a_retired_name_the_lock_never_saw_is_an_error_after_apply(
    run, graph_workspace
):
    forget_retired(graph_workspace)
    with running(str(graph_workspace / "tenant.json")) as emulator:
        url = ("--graph-url", emulator.url)
        assert "retired-not-locked" in warning_codes(run, graph_workspace, *url)
        applied = run("apply", "--auto-approve", "--allow-removals", *url, cwd=graph_workspace)
        assert applied.code == 0, applied.stderr
        result = run("plan", *url, cwd=graph_workspace)
    assert result.code == 1
    assert f"{RETIRED_AT}18: retired group 'Finance Analysts'" in result.stderr


def test_through_graph_a_removed_block_is_released_and_an_unmanaged_sharer_named(
    run, graph_workspace
):
    path = graph_workspace / "policies" / "microsoft-365.yaml"
    document = yaml.safe_load(path.read_text())
    document["groups"] = [
        g for g in document["groups"] if g["displayName"] != "LIC-M365-E3-Corporate"
    ]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    with running(str(graph_workspace / "tenant.json")) as emulator:
        url = ("--graph-url", emulator.url)
        planned = run("plan", "--format", "json", *url, cwd=graph_workspace)
        text = run("plan", *url, cwd=graph_workspace).stdout
    assert planned.code == 0, planned.stderr
    document = planned.json()
    assert [r["group"]["displayName"] for r in document["released"]] == ["LIC-M365-E3-Corporate"]
    # it still assigns SPE_E3, as LIC-M365-E3-Engineering does
    assert [g["displayName"] for g in document["unmanaged"]] == ["LIC-M365-E3-Corporate"]
    assert "# LIC-M365-E3-Corporate will no longer be managed (left as it is)" in text
    assert not any(
        c["group"]["displayName"] == "LIC-M365-E3-Corporate" for c in document["changes"]
    )
