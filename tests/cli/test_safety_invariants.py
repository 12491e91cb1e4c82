"""The safety invariants of the design ("Safety invariants"; docs/safety.md tells the detail),
one end-to-end test each, through the real CLI on a temporary copy of the demo:

1. Only groups the policy declares are ever changed; a group leaves management only by being
   listed as retired, and retiring removes its licenses before deleting it.
2. Licenses are added before they are removed when a user moves between products.
3. Every license a plan takes away from a person is listed by name in the plan, before the
   summary.
4. A plan that removes licenses beyond the guard, or touches a protected group, is refused unless
   the operator says so explicitly; a non-interactive apply never prompts.
5. A saved plan applied against a tenant that changed since is refused as stale.
6. Bad input gets one clear message with file, line and column, exit 1, and changes nothing.

Each test asserts against what breaking its invariant would look like: a group the policy
doesn't declare changed in the tenant database, a taking change recorded in the audit log before
the giving one, a removal missing from the text apply shows, an apply that went ahead (or asked)
without --allow-removals, a stale plan applied, a traceback or a message without its location.
"""

import hashlib
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROMPT = "Apply these changes?"


# --- helpers -------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _edit(path: Path, old: str, new: str) -> None:
    """Replaces the one occurrence of `old` in `path` with `new`."""
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} is not once in {path.name}"
    path.write_text(text.replace(old, new))


def _cut(path: Path, start: str, end: str) -> None:
    """Removes the text of `path` from `start` up to (not including) `end`."""
    text = path.read_text()
    path.write_text(text[: text.index(start)] + text[text.index(end) :])


def _line_and_column(path: Path, token: str) -> tuple[int, int]:
    """Where `token` first appears in `path`, 1-based, as a located message would say."""
    text = path.read_text()
    offset = text.index(token)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _database(demo: Path) -> Path:
    return demo / "state" / "tenant.db"


def _groups(demo: Path) -> dict[str, dict]:
    """The tenant's groups as the local tenant stores them, by displayName."""
    with sqlite3.connect(_database(demo)) as connection:
        rows = connection.execute("SELECT doc FROM groups").fetchall()
    connection.close()
    documents = [json.loads(doc) for (doc,) in rows]
    return {group["displayName"]: group for group in documents}


def _policy_names(demo: Path) -> tuple[set[str], set[str]]:
    """The displayNames the policy declares under `groups`, and those it lists as `retired`."""
    declared, retired = set(), set()
    for path in (demo / "policies").glob("*.yaml"):
        if path.name.endswith(".lock.yaml"):
            continue  # the locks record, they don't declare
        document = yaml.safe_load(path.read_text()) or {}
        declared |= {group["displayName"] for group in document.get("groups") or ()}
        retired |= {group["displayName"] for group in document.get("retired") or ()}
    return declared, retired


def _audit(demo: Path) -> list[dict]:
    path = demo / ".reconciler" / "audit.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _audit_index(records: list[dict], operation: str, group: str, mentioning: str = "") -> int:
    """The position in the audit log of the change `operation` on `group` whose before or after
    mentions `mentioning` (a property or a SKU)."""
    found = [
        index
        for index, record in enumerate(records)
        if record["operation"] == operation
        and record["group"]["displayName"] == group
        and mentioning in json.dumps([record["before"], record["after"]])
    ]
    assert found, f"no {operation} of {group} mentioning {mentioning!r} in the audit log"
    return found[0]


def _apply_answering_yes(demo: Path, *args: str) -> subprocess.CompletedProcess:
    """`reconciler apply` without a terminal, with "yes" waiting on its standard input: an
    apply that asked anyway would read it and go ahead."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", "apply", *args],
        input="yes\ny\n",
        capture_output=True,
        text=True,
        cwd=demo,
        timeout=120,
    )


def _summary_part(text: str) -> list[str]:
    """The lines of a text plan before its `Plan:` summary line."""
    assert "\nPlan: " in text, text[-500:]
    return text[: text.index("\nPlan: ")].splitlines()


def _unlisted(removals: list[dict], lines: list[str]) -> list[str]:
    """The removals (from a JSON plan) that no line of `lines` names: user, product and plans."""
    missing = []
    for removal in removals:
        words = [removal["skuPartNumber"], *removal.get("servicePlans", ())]
        prefix = f"{removal['userPrincipalName']} loses "
        if not any(
            line.strip().startswith(prefix) and all(word in line for word in words)
            for line in lines
        ):
            missing.append(f"{prefix}{' '.join(words)}")
    return missing


# --- 1. only declared groups change; retiring removes licenses, then deletes ----------------


def test_only_declared_groups_change_and_retiring_removes_licenses_before_deleting(run, demo):
    # an empty policy changes nothing, and retires nothing
    (demo / "empty").mkdir()
    (demo / "empty" / "settings.yaml").write_text((demo / "policies/settings.yaml").read_text())
    assert run("plan", "--policy", "empty", cwd=demo).code == 0  # creates the local tenant
    seeded = _groups(demo)
    emptied = run("apply", "--auto-approve", "--policy", "empty", cwd=demo)
    assert emptied.code == 0, emptied.stderr
    assert emptied.stdout.rstrip().endswith("No changes. Licensing matches the policy.")
    assert _groups(demo) == seeded

    # LIC-PowerBI-Pro, licensed, is retired; LIC-M365-E3-Corporate merely leaves the policy
    add_ons, microsoft_365 = demo / "policies/add-ons.yaml", demo / "policies/microsoft-365.yaml"
    _cut(add_ons, "  # An assigned group: Power BI", "  - displayName: LIC-Visio")
    _edit(add_ons, "retired:\n", "retired:\n  - displayName: LIC-PowerBI-Pro\n")
    _cut(microsoft_365, "  - displayName: LIC-M365-E3-Corporate", "  # Stream (Classic)")
    declared, retired = _policy_names(demo)
    before = _groups(demo)
    undeclared = set(before) - declared - retired
    assert undeclared == {"Contoso Engineering", "LIC-M365-E3-Corporate"}
    assert before["LIC-PowerBI-Pro"]["assignedLicenses"]  # a retired group with a license

    applied = run("apply", "--auto-approve", "--allow-removals", cwd=demo)
    assert applied.code == 0, applied.stderr
    after = _groups(demo)
    for name in sorted(undeclared):
        assert after.get(name) == before[name], f"{name}, which the policy doesn't declare"
    assert not retired & set(after)  # retired groups are gone
    records = _audit(demo)
    assert not {r["group"]["displayName"] for r in records} & undeclared

    # the retired group's license goes first, in the audit log and in apply's progress
    removed = _audit_index(records, "removeLicense", "LIC-PowerBI-Pro", "POWER_BI_PRO")
    assert removed < _audit_index(records, "deleteGroup", "LIC-PowerBI-Pro")
    progress = applied.stdout
    license_line = "\nLIC-PowerBI-Pro: - license POWER_BI_PRO: done\n"
    delete_line = "\nLIC-PowerBI-Pro: - delete the group: done\n"
    assert license_line in progress and delete_line in progress
    assert progress.index(license_line) < progress.index(delete_line)


# --- 2. licenses added before removed when users move between products ----------------------


def _more_e3_seats(demo: Path) -> None:
    """The seed tenant gets enough SPE_E3 seats for the users who move to it."""
    seed = json.loads((demo / "seed.json").read_text())
    [e3] = [sku for sku in seed["subscribedSkus"] if sku["skuPartNumber"] == "SPE_E3"]
    e3["prepaidUnits"]["enabled"] = 300
    (demo / "seed.json").write_text(json.dumps(seed))


def _retail_swaps_office_for_microsoft_365(demo: Path) -> None:
    """LIC-O365-E3-Retail assigns SPE_E3 instead of ENTERPRISEPACK."""
    policy = demo / "policies/microsoft-365.yaml"
    _edit(policy, "      - sku: ENTERPRISEPACK\n", "      - sku: SPE_E3\n")
    _more_e3_seats(demo)


def _sales_outside_three_countries_move_to_e3(demo: Path) -> None:
    """The demo's narrowed LIC-M365-E5-Sales drops Sales staff outside three countries; now
    LIC-M365-E3-Corporate, later in the policy, takes them in: they move from SPE_E5 to SPE_E3."""
    _edit(
        demo / "policies/microsoft-365.yaml",
        'user.department -in ["Marketing", "Finance", "HR", "Operations", "Legal"]\n'
        "      -and user.accountEnabled -eq true",
        '(user.department -in ["Marketing", "Finance", "HR", "Operations", "Legal"]\n'
        '      -or (user.department -eq "Sales"'
        ' -and user.country -notIn ["United States", "France", "Germany"]))\n'
        "      -and user.accountEnabled -eq true",
    )
    _more_e3_seats(demo)


def _legal_moves_from_corporate_to_retail(demo: Path) -> None:
    """Legal leaves LIC-M365-E3-Corporate (SPE_E3) for LIC-O365-E3-Retail (ENTERPRISEPACK), whose
    rule also drops French stores: both rule edits take, and the policy lists Corporate first."""
    policy = demo / "policies/microsoft-365.yaml"
    _edit(policy, '"Operations", "Legal"]', '"Operations"]')
    _edit(
        policy,
        'membershipRule: user.department -eq "Retail" -and user.accountEnabled -eq true',
        "membershipRule: >-\n"
        '      (user.department -eq "Retail" -and user.country -ne "France"'
        ' -or user.department -eq "Legal")\n'
        "      -and user.accountEnabled -eq true",
    )


MOVES = {
    # name: (policy edit, product left, product joined, the giving change, the taking change)
    "a-group-swaps-its-product": (
        _retail_swaps_office_for_microsoft_365,
        "ENTERPRISEPACK",
        "SPE_E3",
        ("addLicense", "LIC-O365-E3-Retail", "SPE_E3"),
        ("removeLicense", "LIC-O365-E3-Retail", "ENTERPRISEPACK"),
    ),
    "users-move-to-a-group-later-in-the-policy": (
        _sales_outside_three_countries_move_to_e3,
        "SPE_E5",
        "SPE_E3",
        ("updateGroup", "LIC-M365-E3-Corporate", "membershipRule"),
        ("updateGroup", "LIC-M365-E5-Sales", "membershipRule"),
    ),
    "users-move-between-two-shrinking-groups": (
        _legal_moves_from_corporate_to_retail,
        "SPE_E3",
        "ENTERPRISEPACK",
        ("updateGroup", "LIC-O365-E3-Retail", "membershipRule"),
        ("updateGroup", "LIC-M365-E3-Corporate", "membershipRule"),
    ),
}


@pytest.mark.parametrize("move", sorted(MOVES))
def test_licenses_are_added_before_they_are_removed_when_users_move_between_products(
    run, demo, move
):
    edit, left, joined, giving, taking = MOVES[move]
    edit(demo)
    planned = run("plan", "--format", "json", cwd=demo)
    assert planned.code == 0, planned.stderr
    impact = planned.json()["impact"]
    losing = {
        r["userPrincipalName"] for r in impact["licenseRemovals"] if r["skuPartNumber"] == left
    }
    gaining = {
        r["userPrincipalName"] for r in impact["licenseAdditions"] if r["skuPartNumber"] == joined
    }
    assert losing & gaining, "no user moves from one product to the other"

    applied = run("apply", "--auto-approve", "--allow-removals", cwd=demo)
    assert applied.code == 0, applied.stderr
    records = _audit(demo)
    assert _audit_index(records, *giving) < _audit_index(records, *taking), (
        f"{taking} ran before {giving}: the movers were without a license in between"
    )


# --- 3. every license taken away is listed by name before the summary -----------------------


def test_every_license_taken_away_is_listed_by_name_before_the_summary(run, demo):
    planned = run("plan", "--format", "json", cwd=demo)
    assert planned.code == 0, planned.stderr
    impact = planned.json()["impact"]
    removals = impact["licenseRemovals"] + impact["planRemovals"]
    assert impact["licenseRemovals"] and impact["planRemovals"]
    assert len(removals) > 50  # beyond what `plan` lists without --show-all

    shown_all = run("plan", "--show-all", cwd=demo)
    assert shown_all.code == 0, shown_all.stderr
    assert _unlisted(removals, _summary_part(shown_all.stdout)) == []

    # apply shows every one of them before it changes anything, without being asked to
    applied = run("apply", "--auto-approve", cwd=demo)
    assert applied.code == 0, applied.stderr
    shown = _summary_part(applied.stdout)
    assert _unlisted(removals, shown) == []
    assert sum(" loses " in line for line in shown) == len(removals)


# --- 4. guarded plans refused unless --allow-removals; a non-interactive apply never asks -----

GUARDS = {
    # name: (edits, the reason apply gives)
    "over-the-removal-budget": (
        [("settings.yaml", "maxLicenseRemovals: 60", "maxLicenseRemovals: 10")],
        "the plan takes 52 licenses away, more than settings.maxLicenseRemovals (10)",
    ),
    "through-a-protected-group": (
        [
            ("settings.yaml", "maxLicenseRemovals: 60", "maxLicenseRemovals: 1000"),
            (
                "microsoft-365.yaml",
                "      - sku: SPE_E5\n    protect: true",
                "      - sku: SPE_E5\n        disabledPlans: [SWAY]\n    protect: true",
            ),
        ],
        "the plan takes licenses away through protected group LIC-M365-E5-Leadership",
    ),
}


@pytest.mark.parametrize("guard", sorted(GUARDS))
def test_guarded_plans_are_refused_without_allow_removals_and_apply_never_prompts(run, demo, guard):
    edits, reason = GUARDS[guard]
    for name, old, new in edits:
        _edit(demo / "policies" / name, old, new)
    planned = run("plan", "--format", "json", cwd=demo)  # creates the local tenant
    assert planned.code == 0, planned.stderr
    assert planned.json()["guards"]["refused"] is True
    before = _digest(_database(demo))

    for options in ((), ("--auto-approve",)):
        refused = _apply_answering_yes(demo, *options)
        assert refused.returncode == 1, refused.stdout[-500:]
        assert refused.stderr.startswith("error: apply refused: ")
        assert reason in refused.stderr and "--allow-removals" in refused.stderr
        assert PROMPT not in refused.stdout + refused.stderr
        assert _digest(_database(demo)) == before

    # removals allowed, but no terminal to ask at and no --auto-approve: refused, not asked
    unasked = _apply_answering_yes(demo, "--allow-removals")
    assert unasked.returncode == 1, unasked.stdout[-500:]
    assert "pass --auto-approve" in unasked.stderr
    assert PROMPT not in unasked.stdout + unasked.stderr
    assert "Traceback" not in unasked.stderr
    assert _digest(_database(demo)) == before
    assert not (demo / ".reconciler" / "audit.jsonl").exists()

    # said explicitly, both ways: applied
    allowed = _apply_answering_yes(demo, "--allow-removals", "--auto-approve")
    assert allowed.returncode == 0, allowed.stderr
    assert "\nApply complete! " in allowed.stdout
    assert _digest(_database(demo)) != before


# --- 5. a saved plan is refused as stale once the tenant changed -----------------------------


def test_a_saved_plan_is_refused_as_stale_after_the_tenant_changed(run, demo):
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    # someone adds a user to LIC-PowerBI-Pro in the portal: the policy's member list now takes
    # Power BI away from them too
    assert run("tenant", "export", "--out", "now.json", cwd=demo).code == 0
    snapshot = json.loads((demo / "now.json").read_text())
    [user] = [u for u in snapshot["users"] if u["userPrincipalName"] == "alex.wilson@contoso.com"]
    [group] = [g for g in snapshot["groups"] if g["displayName"] == "LIC-PowerBI-Pro"]
    assert user["id"] not in group["members"]
    group["members"].append(user["id"])
    (demo / "now.json").write_text(json.dumps(snapshot, indent=2))
    imported = run("tenant", "import", "now.json", cwd=demo)
    assert imported.code == 0, imported.stderr
    before = _digest(_database(demo))

    stale = run("apply", "demo.plan", "--allow-removals", cwd=demo)
    assert stale.code == 1, stale.stdout[-500:]
    assert stale.stderr.startswith("error: demo.plan: plan is stale: ")
    assert "alex.wilson@contoso.com loses POWER_BI_PRO" in stale.stderr
    assert "Traceback" not in stale.stderr
    assert "Apply complete!" not in stale.stdout
    assert _digest(_database(demo)) == before
    assert user["id"] in _groups(demo)["LIC-PowerBI-Pro"]["members"]
    assert not (demo / ".reconciler" / "audit.jsonl").exists()

    # planned again, the plan names the change and applies
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    fresh = run("apply", "demo.plan", cwd=demo)
    assert fresh.code == 0, fresh.stderr
    assert user["id"] not in _groups(demo)["LIC-PowerBI-Pro"]["members"]


# --- 6. bad input: one located message, exit 1, nothing changed ------------------------------

BAD_POLICIES = {
    # name: (policy file, text, its replacement, the token the message must point at)
    "malformed-yaml": ("microsoft-365.yaml", "protect: true", "protect: true: yes", ": yes"),
    "schema-violation": ("microsoft-365.yaml", "protect: true", "protect: maybe", "maybe"),
    "unknown-sku": ("add-ons.yaml", "sku: VISIOCLIENT", "sku: VISIOCLIENTS", "VISIOCLIENTS"),
    "invalid-rule": (
        "microsoft-365.yaml",
        'user.department -eq "Engineering"',
        'user.departmnt -eq "Engineering"',
        "user.departmnt",
    ),
}
BAD_PLAN_FILES = {
    # name: (a line of the saved plan, its replacement, the token the message must point at)
    "damaged-plan-file-json": ('"mailNickname": null,', '"mailNickname": nul,', "nul,"),
    "damaged-plan-file-structure": (
        '"action": "createGroup",',
        '"action": "createGroupp",',
        '"createGroupp"',
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_POLICIES) + sorted(BAD_PLAN_FILES))
def test_bad_input_is_one_message_with_file_line_and_column_exit_1_and_changes_nothing(
    run, demo, kind
):
    if kind in BAD_POLICIES:
        name, old, new, token = BAD_POLICIES[kind]
        assert run("plan", cwd=demo).code == 0  # creates the local tenant
        path = demo / "policies" / name
        _edit(path, old, new)
        shown = f"policies/{name}"
        command = ("apply", "--auto-approve", "--allow-removals")
    else:
        old, new, token = BAD_PLAN_FILES[kind]
        assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
        path = demo / "bad.plan"
        text = (demo / "demo.plan").read_text()
        assert old in text
        path.write_text(text.replace(old, new, 1))
        shown = "bad.plan"
        command = ("apply", "bad.plan", "--allow-removals")
    line, column = _line_and_column(path, token)
    before = _digest(_database(demo))

    result = run(*command, cwd=demo)
    assert result.code == 1, result.stdout[-500:]
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == 1, result.stderr  # one message
    location = re.match(r"error: (\S+?):(\d+):(\d+): ", result.stderr)
    assert location, f"no file:line:column in {result.stderr!r}"
    assert location.groups() == (shown, str(line), str(column)), result.stderr
    assert "Apply complete!" not in result.stdout
    assert _digest(_database(demo)) == before
    assert not (demo / ".reconciler" / "audit.jsonl").exists()
