"""`reconciler explain USER` end to end: the real command in a subprocess, on the Contoso demo
(locally and through the Graph emulator)."""

from __future__ import annotations

import shutil

from reconciler.emulator import running

# the documented shape (docs/explain.md): every key, and the values' kinds
USER_KEYS = {
    "id",
    "userPrincipalName",
    "displayName",
    "usageLocation",
    "accountEnabled",
    "effectiveUsageLocation",
}
LICENSE_KEYS = {
    "skuId",
    "skuPartNumber",
    "assignments",
    "servicePlans",
    "after",
    "assignmentsAfter",
    "servicePlansAfter",
}
ASSIGNMENT_KEYS = {"assignedByGroup", "group", "state", "error", "disabledPlans"}
PLAN_KEYS = {"servicePlanId", "servicePlanName", "enabled", "from"}
MEMBERSHIP_KEYS = {
    "member",
    "nestedThrough",
    "dynamic",
    "membershipRule",
    "membershipRuleProcessingState",
    "securityEnabled",
    "licenses",
    "matchesRule",
    "decidedBy",
}
AFTER = {"kept", "changed", "gained", "lost", "lostForAWhile", "notHeld"}
STATES = {"Active", "ActiveWithError", "Disabled", "Error"}
CHANGE_KEYS = {
    "joinGroup": {"groupId", "reason"},
    "leaveGroup": {"groupId", "reason", "temporary"},
    "loseLicense": {"skuId", "skuPartNumber", "reason", "temporary"},
    "loseServicePlans": {"skuId", "skuPartNumber", "servicePlans", "reason", "temporary", "keptBy"},
    "keepLicense": {"skuId", "skuPartNumber", "keptBy"},
    "gainLicense": {"skuId", "skuPartNumber", "reason"},
    "gainServicePlans": {"skuId", "skuPartNumber", "servicePlans", "reason"},
    "assignmentError": {"groupId", "skuId", "skuPartNumber", "state", "error"},
}
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"


def _check_shape(document: dict) -> None:
    assert set(document) == {"formatVersion", "user", "licenses", "groups", "plan"}
    assert document["formatVersion"] == 1
    assert set(document["user"]) == USER_KEYS
    for license in document["licenses"]:
        assert set(license) == LICENSE_KEYS and license["after"] in AFTER
        for assignment in license["assignments"] + license["assignmentsAfter"]:
            assert set(assignment) == ASSIGNMENT_KEYS and assignment["state"] in STATES
            assert (assignment["assignedByGroup"] is None) is (assignment["group"] is None)
        for plan in license["servicePlans"] + license["servicePlansAfter"]:
            assert set(plan) == PLAN_KEYS and plan["enabled"] is bool(plan["from"])
    for group in document["groups"]:
        assert set(group) == {"id", "displayName", "now", "after"}
        for side in (group["now"], group["after"]):
            assert side is None or set(side) == MEMBERSHIP_KEYS
    for change in document["plan"]:
        assert set(change) == {"action", "group"} | CHANGE_KEYS[change["action"]]


def _license(document: dict, part_number: str) -> dict:
    (found,) = [lic for lic in document["licenses"] if lic["skuPartNumber"] == part_number]
    return found


def test_the_vp_of_sales_leaves_the_sales_group_and_keeps_e5_through_leadership(run, demo):
    result = run("explain", "Ava.Cooper@contoso.com", cwd=demo)
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "ava.cooper@contoso.com (Ava Cooper)"
    assert "  SPE_E5: kept" in lines
    assert "  LIC-M365-E5-Sales (dynamic): member; not a member after the plan" in lines
    assert (
        '    not selected, because of: user.country -in ["United States", "France", "Germany"]'
        in lines
    )
    assert "  - leaves LIC-M365-E5-Sales (no longer matches the edited membership rule)" in lines
    assert (
        "  ~ keeps SPE_E5 through LIC-M365-E5-Leadership after leaving LIC-M365-E5-Sales" in lines
    )
    assert not any("loses SPE_E5" in line for line in lines)


def test_json_shows_a_direct_and_an_inherited_e5_as_one_license_with_the_union_of_plans(run, demo):
    # the demo's salesperson holds E5 directly (every plan) and from LIC-M365-E5-Sales, which
    # turns off Viva Engage (YAMMER_ENTERPRISE)
    result = run("explain", "adele.lanier@contoso.com", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    document = result.json()
    _check_shape(document)
    e5 = _license(document, "SPE_E5")
    assert e5["skuId"] == E5
    assert sorted((a["group"] or "", a["disabledPlans"]) for a in e5["assignments"]) == [
        ("", []),
        ("LIC-M365-E5-Sales", ["YAMMER_ENTERPRISE"]),
    ]
    plans = {p["servicePlanName"]: p for p in e5["servicePlans"]}
    assert plans["YAMMER_ENTERPRISE"]["enabled"] is True
    assert plans["YAMMER_ENTERPRISE"]["from"] == ["direct"]
    assert sorted(plans["TEAMS1"]["from"]) == ["LIC-M365-E5-Sales", "direct"]
    assert all(p["enabled"] for p in e5["servicePlans"])


def test_a_member_of_a_nested_group_gets_nothing_from_the_licensed_group_it_is_in(run, demo):
    # Finance Analysts is a member of LIC-PowerBI-Pro; Entra licenses direct members only
    result = run("explain", "george.cooper@contoso.com", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    document = result.json()
    _check_shape(document)
    assert "POWER_BI_PRO" not in {lic["skuPartNumber"] for lic in document["licenses"]}
    (power_bi,) = [g for g in document["groups"] if g["displayName"] == "LIC-PowerBI-Pro"]
    assert power_bi["now"]["member"] is False
    assert power_bi["now"]["nestedThrough"] == ["Finance Analysts"]


def test_an_unknown_user_is_one_message_with_the_closest_name_and_exit_1(run, demo):
    result = run("explain", "ava.coper@contoso.com", cwd=demo)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "error: USER: no user 'ava.coper@contoso.com' in the tenant "
        "(did you mean 'ava.cooper@contoso.com'?); give a userPrincipalName or an object id"
    ]


def test_explain_through_graph_says_what_it_says_on_the_local_tenant(run, demo, tmp_path):
    graph = tmp_path / "graph"
    shutil.copytree(demo / "policies", graph / "policies")
    (graph / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    local = run("explain", "ava.cooper@contoso.com", "--format", "json", cwd=demo)
    assert local.code == 0, local.stderr
    with running(str(demo / "seed.json")) as emulator:
        through = run(
            "explain",
            "ava.cooper@contoso.com",
            "--format",
            "json",
            "--graph-url",
            emulator.url,
            cwd=graph,
        )
    assert through.code == 0, through.stderr
    _check_shape(through.json())
    assert through.json() == local.json()
    assert any(c["action"] == "keepLicense" for c in through.json()["plan"])
