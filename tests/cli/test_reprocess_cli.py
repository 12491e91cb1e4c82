"""`reconciler reprocess` end to end: the real command in a subprocess, on a copy of the demo
tenant where users ran short of seats, locally and through the Graph emulator."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.emulator import running
from reconciler.model import AssignedLicense
from reconciler.plan.changes import AddLicense, AddMembers, RemoveMembers
from reconciler.providers.graph_auth import EMULATOR_TOKEN
from reconciler.providers.local import LocalTenant, open_local

POWER_BI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"


def _tenant(demo: Path) -> LocalTenant:
    return open_local(demo / "state" / "tenant.db", demo / "seed.json")


def _short_of_seats(
    demo: Path, joining: int, freed: int, group: str = "LIC-PowerBI-Pro", avoid=frozenset()
) -> dict[str, str]:
    """Adds `joining` users to the group (none of the ids to `avoid`), then frees `freed` of
    its seats by removing members who hold one; the users failing through it."""
    with _tenant(demo) as db:
        tenant = db.read()
        found = next(g for g in tenant.groups if g.displayName == group)
        outside = [
            u.id
            for u in tenant.users
            if u.id not in found.members and u.id not in avoid and u.accountEnabled
        ]
        db.apply(AddMembers(found.id, found.displayName, tuple(outside[:joining])))
        if freed:
            short = set(_failing(db, group).values())
            holders = [m for m in found.members if m not in short][:freed]
            db.apply(RemoveMembers(found.id, found.displayName, tuple(holders)))
        return _failing(db, group)


def _failing(db: LocalTenant, group: str | None = None) -> dict[str, str]:
    """userPrincipalName -> id of every user with a failed license from the group (any group)."""
    tenant = db.read()
    groups = {g.id for g in tenant.groups if group is None or g.displayName == group}
    return {
        u.userPrincipalName: u.id
        for u in tenant.users
        for s in u.licenseAssignmentStates
        if s.state == "Error" and s.assignedByGroup in groups
    }


def _still_failing(demo: Path) -> dict[str, str]:
    with _tenant(demo) as db:
        return _failing(db)


def _audit(demo: Path) -> list[dict]:
    path = demo / ".reconciler" / "audit.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def _statuses(result) -> dict[str, str]:
    return {user["userPrincipalName"]: user["status"] for user in result.json()["users"]}


def test_users_short_of_seats_get_their_licenses_once_seats_are_freed_and_reprocess_runs(run, demo):
    short = _short_of_seats(demo, joining=8, freed=3)
    assert len(short) == 3  # 5 seats free for 8 newcomers; 3 more freed since
    result = run("reprocess", cwd=demo)
    assert result.code == 0, result.stderr
    for upn in short:
        assert f"{upn}: fixed" in result.stdout
    assert "POWER_BI_PRO from LIC-PowerBI-Pro: fixed (was CountViolation)" in result.stdout
    assert "Reprocessed 3 users: 3 fixed, 0 still failing." in result.stdout
    assert _still_failing(demo) == {}
    with _tenant(demo) as db:
        users = {u.id: u for u in db.read().users}
    assert all(POWER_BI in {a.skuId for a in users[i].assignedLicenses} for i in short.values())
    # the plan no longer warns of anyone in a licensing error
    planned = run("plan", "--format", "json", cwd=demo).json()
    assert not [w for w in planned["warnings"] if w["code"] == "license-error-state"]
    records = _audit(demo)
    assert {r["before"]["user"]["userPrincipalName"] for r in records} == set(short)
    assert {(r["operation"], r["result"]) for r in records} == {
        ("reprocessLicenseAssignment", "success")
    }


def test_users_still_short_of_seats_stay_failing_and_are_reported_as_such(run, demo):
    short = _short_of_seats(demo, joining=10, freed=3)
    assert len(short) == 5
    result = run("reprocess", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr  # reprocessed; the tenant's seats are the problem
    statuses = _statuses(result)
    assert sorted(statuses.values()) == ["failing"] * 2 + ["fixed"] * 3
    assert result.json()["summary"] == {
        "users": 5,
        "fixed": 3,
        "failing": 2,
        "clean": 0,
        "notReprocessed": 0,
    }
    failing = [u for u in result.json()["users"] if u["status"] == "failing"]
    assert all(
        [(f["group"]["displayName"], f["sku"]["skuPartNumber"], f["error"]) for f in u["after"]]
        == [("LIC-PowerBI-Pro", "POWER_BI_PRO", "CountViolation")]
        for u in failing
    )
    assert set(_still_failing(demo)) == {u["userPrincipalName"] for u in failing}


def test_the_text_report_says_who_still_fails_and_what_to_fix_first(run, demo):
    _short_of_seats(demo, joining=10, freed=3)
    result = run("reprocess", cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stdout.count(": still failing\n") == 2
    assert "POWER_BI_PRO from LIC-PowerBI-Pro: still failing (CountViolation)" in result.stdout
    assert "Reprocessed 5 users: 3 fixed, 2 still failing." in result.stdout
    assert "CountViolation: free seats" in result.stdout


def test_a_named_user_is_reprocessed_alone_by_upn_in_any_case(run, demo):
    short = _short_of_seats(demo, joining=8, freed=3)
    first, *others = sorted(short)
    result = run("reprocess", first.upper(), "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    assert _statuses(result) == {first: "fixed"}
    assert set(_still_failing(demo)) == set(others)


def test_a_named_user_by_id_without_errors_is_reprocessed_and_reported_clean(run, demo):
    with _tenant(demo) as db:
        user = db.read().users[0]
    result = run("reprocess", user.id, cwd=demo)
    assert result.code == 0, result.stderr
    assert f"{user.userPrincipalName}: no failed group licenses before or after" in result.stdout
    assert [r["group"] for r in _audit(demo)] == [None]


def test_group_reprocesses_only_the_users_failing_through_that_group(run, demo):
    # Finance Analysts (6 members) given Visio, 3 seats free: 3 of them short
    with _tenant(demo) as db:
        finance = next(g for g in db.read().groups if g.displayName == "Finance Analysts")
        db.apply(AddLicense(finance.id, finance.displayName, AssignedLicense(VISIO)))
        visio = _failing(db, "Finance Analysts")
    power_bi = _short_of_seats(demo, joining=8, freed=3, avoid=set(finance.members))
    assert len(visio) == 3 and len(power_bi) == 3
    result = run("reprocess", "--group", "lic-powerbi-pro", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    assert _statuses(result) == dict.fromkeys(power_bi, "fixed")
    assert set(_still_failing(demo)) == set(visio)
    assert {r["group"]["displayName"] for r in _audit(demo)} == {"LIC-PowerBI-Pro"}


def test_an_unknown_group_is_one_error_and_nothing_is_reprocessed(run, demo):
    short = _short_of_seats(demo, joining=8, freed=3)
    result = run("reprocess", "--group", "LIC-Nope", cwd=demo)
    assert result.code == 1
    assert result.stderr.splitlines() == [
        "error: no group LIC-Nope in the tenant (give a displayName or an id); "
        "nothing was reprocessed"
    ]
    assert _still_failing(demo) == short


def test_dry_run_lists_who_would_be_reprocessed_and_changes_nothing(run, demo):
    short = _short_of_seats(demo, joining=8, freed=3)
    with _tenant(demo) as db:
        before = db.read()
    result = run("reprocess", "--dry-run", cwd=demo)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith("Would reprocess 3 users:\n")
    assert all(upn in result.stdout for upn in short)
    assert "Dry run: nothing was reprocessed." in result.stdout
    with _tenant(demo) as db:
        assert db.read() == before
    assert _audit(demo) == []
    as_json = run("reprocess", "--dry-run", "--format", "json", cwd=demo).json()
    assert as_json["dryRun"] is True
    assert {u["status"] for u in as_json["users"]} == {None}


def test_an_unknown_user_is_one_error_line_exit_1_and_nothing_reprocessed(run, demo):
    short = _short_of_seats(demo, joining=8, freed=3)
    result = run("reprocess", next(iter(short)), "nobody@contoso.com", cwd=demo)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "error: no user nobody@contoso.com in the tenant (give a userPrincipalName or an id); "
        "nothing was reprocessed"
    ]
    assert result.stdout == ""
    assert _still_failing(demo) == short
    assert _audit(demo) == []


def test_nothing_to_reprocess_says_so_and_exits_0(run, demo):
    result = run("reprocess", cwd=demo)
    assert (result.code, result.stdout) == (
        0,
        "Nothing to reprocess: no user has a failed group license.\n",
    )
    as_json = run("reprocess", "--format", "json", cwd=demo)
    assert as_json.code == 0 and as_json.json()["users"] == []
    assert _audit(demo) == []


def test_a_snapshot_tenant_is_refused_cleanly_and_a_dry_run_of_it_works(run, demo):
    short = _short_of_seats(demo, joining=8, freed=3)
    assert run("tenant", "export", "--out", "snapshot.json", cwd=demo).code == 0
    snapshot = ["--tenant", "snapshot:snapshot.json"]
    result = run("reprocess", *snapshot, cwd=demo)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert "snapshot.json is a snapshot, which is read only" in result.stderr
    assert _audit(demo) == []
    preview = run("reprocess", "--dry-run", *snapshot, cwd=demo)
    assert preview.code == 0, preview.stderr
    assert all(upn in preview.stdout for upn in short)


def test_reprocess_waits_for_no_apply_it_refuses_while_one_holds_the_tenant(run, demo):
    _short_of_seats(demo, joining=8, freed=3)
    with _tenant(demo) as db, db.lock():
        result = run("reprocess", cwd=demo)
        preview = run("reprocess", "--dry-run", cwd=demo)  # reads only: no lock needed
    assert result.code == 1
    assert "another apply is running" in result.stderr and "Traceback" not in result.stderr
    assert preview.code == 0, preview.stderr
    assert len(_still_failing(demo)) == 3


@pytest.mark.parametrize("named", [False, True], ids=["everyone", "named"])
def test_through_the_emulator_the_outcome_is_the_local_tenant_s(run, demo, tmp_path, named):
    short = _short_of_seats(demo, joining=10, freed=3)  # 5 short, 3 seats free
    copy = tmp_path / "graph-tenant.db"
    shutil.copy(demo / "state" / "tenant.db", copy)
    users = sorted(short)[:3] if named else []  # named: as many as there are seats
    local = run("reprocess", *users, "--format", "json", cwd=demo)
    assert local.code == 0, local.stderr
    with running(f"local:{copy}", license_reads=0) as emulator:
        graph = ["--tenant", "graph", "--graph-url", emulator.url]
        through_graph = run("reprocess", *users, *graph, "--format", "json", cwd=demo)
        counts = emulator.counts()
    assert through_graph.code == 0, through_graph.stderr
    assert EMULATOR_TOKEN not in through_graph.stdout + through_graph.stderr
    assert counts["$batch: POST /users/{id}/reprocessLicenseAssignment"] == len(users or short)
    if named:
        assert through_graph.json() == local.json()
        return
    # Graph reprocesses user by user, in any order, so which 3 of the 5 get the freed seats
    # may differ from the local tenant's one transaction; who was reprocessed, what they had
    # and how many were fixed may not
    local_users, graph_users = local.json()["users"], through_graph.json()["users"]
    assert [(u["id"], u["before"]) for u in graph_users] == [
        (u["id"], u["before"]) for u in local_users
    ]
    assert through_graph.json()["summary"] == local.json()["summary"]
    with LocalTenant(copy) as db:
        still = _failing(db)
    assert len(still) == len(_still_failing(demo)) == 2
    assert set(still) == {u["userPrincipalName"] for u in graph_users if u["status"] == "failing"}
