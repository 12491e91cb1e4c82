"""apply's safety, in a subprocess: removal guards refuse a plan unless --allow-removals, and an
apply that fails part way says what was done, what failed and what was not tried."""

import hashlib
import json
import re
import sqlite3
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def strict(demo: Path) -> Path:
    """The demo with settings.maxLicenseRemovals: 0; its plan takes licenses away."""
    settings = demo / "policies" / "settings.yaml"
    text, count = re.subn(r"maxLicenseRemovals: \d+", "maxLicenseRemovals: 0", settings.read_text())
    assert count == 1
    settings.write_text(text)
    return demo


@pytest.fixture
def removals(run, strict) -> int:
    """How many licenses the strict demo's plan takes away (creating its local tenant)."""
    planned = run("plan", "--format", "json", cwd=strict)
    assert planned.code == 0, planned.stderr
    count = planned.json()["guards"]["licenseRemovals"]
    assert count > 0
    return count


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _refusal(command: str, count: int) -> str:
    return (
        f"error: apply refused: the plan takes {count} licenses away, more than "
        f"settings.maxLicenseRemovals (0). To apply it anyway, run `{command}`, or raise "
        f"settings.maxLicenseRemovals to at least {count} in the policy and plan again.\n"
    )


def test_a_plan_over_the_removal_limit_is_refused_before_asking(run, strict, removals):
    before = _digest(strict / "state" / "tenant.db")
    result = run("apply", cwd=strict)  # no terminal: asking would fail, refusing comes first
    assert result.code == 1
    assert result.stderr == _refusal("reconciler apply --allow-removals", removals)
    assert "kaito.suzuki@contoso.com loses SPE_E5" in result.stdout  # the plan was shown
    assert _digest(strict / "state" / "tenant.db") == before


def test_the_refusal_repeats_the_options_given(run, strict, removals):
    result = run("apply", "--auto-approve", "--tenant", "local:state/tenant.db", cwd=strict)
    assert result.code == 1
    assert result.stderr == _refusal(
        "reconciler apply --tenant local:state/tenant.db --auto-approve --allow-removals", removals
    )


def test_allow_removals_applies_a_plan_over_the_limit(run, strict):
    result = run("apply", "--auto-approve", "--allow-removals", cwd=strict)
    assert result.code == 0, result.stderr
    assert "\nApply complete! " in result.stdout
    assert run("plan", "--detailed-exitcode", cwd=strict).code == 0


def test_a_saved_plan_over_the_limit_is_refused_unless_removals_are_allowed(run, strict, removals):
    assert run("plan", "--out", "strict.plan", cwd=strict).code == 0
    before = _digest(strict / "state" / "tenant.db")
    refused = run("apply", "strict.plan", cwd=strict)
    assert refused.code == 1
    assert refused.stderr == _refusal("reconciler apply strict.plan --allow-removals", removals)
    assert _digest(strict / "state" / "tenant.db") == before
    allowed = run("apply", "strict.plan", "--allow-removals", cwd=strict)
    assert allowed.code == 0, allowed.stderr
    assert "\nApply complete! " in allowed.stdout


def test_a_plan_taking_licenses_through_a_protected_group_is_refused_naming_it(run, demo):
    # directors leave LIC-M365-E5-Leadership, which the demo policy protects
    policy = demo / "policies" / "microsoft-365.yaml"
    policy.write_text(policy.read_text().replace(' -or user.jobTitle -startsWith "Director"', ""))
    result = run("apply", "--auto-approve", cwd=demo)
    assert result.code == 1
    assert result.stderr == (
        "error: apply refused: the plan takes licenses away through protected group "
        "LIC-M365-E5-Leadership. To apply it anyway, run "
        "`reconciler apply --auto-approve --allow-removals`, or remove `protect: true` "
        "from the group in the policy and plan again.\n"
    )


def _change_key(change: dict) -> tuple:
    """What a change does, without ids: a group created by apply has a real id afterwards."""
    members = tuple(member["id"] for member in change.get("members", ()))
    return (
        change["action"],
        change["group"]["displayName"],
        change.get("property"),
        change.get("sku", {}).get("skuPartNumber"),
        members,
    )


def test_an_apply_that_fails_part_way_reports_and_plan_shows_exactly_the_rest(run, demo):
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    document = json.loads((demo / "demo.plan").read_text())
    changes = document["changes"]
    # a change in the middle, to a group the tenant has: created groups come first
    failing = next(
        index
        for index, change in enumerate(changes)
        if index >= 2 and not change["group"]["id"].startswith("new:")
    )
    assert failing < len(changes) - 1
    name, group_id = changes[failing]["group"]["displayName"], changes[failing]["group"]["id"]
    # the tenant's storage refuses to write that group, as a real tenant may refuse a change
    with sqlite3.connect(demo / "state" / "tenant.db") as database:
        database.execute(
            f"CREATE TRIGGER refuse BEFORE UPDATE ON groups WHEN old.id = '{group_id}' "
            "BEGIN SELECT RAISE(ABORT, 'this group is read-only'); END"
        )
    database.close()

    result = run("apply", "demo.plan", cwd=demo)
    assert result.code == 1
    total, rest = len(changes), len(changes) - failing - 1
    error = "local tenant state/tenant.db: this group is read-only"
    assert f"Apply failed at change {failing + 1} of {total};" in result.stdout
    assert f"Succeeded ({failing}):\n  LIC-Visio: + type = security, assigned" in result.stdout
    assert f"Failed (1):\n  {name}: " in result.stdout
    assert f"\n    error: {error}\n\nNot attempted ({rest}):\n" in result.stdout
    assert result.stdout.endswith(
        "  Finance Analysts: - delete the group\n\n"
        "`reconciler plan` shows what remains to be done.\n"
    )
    assert "Apply complete!" not in result.stdout
    assert result.stderr == (
        f"error: apply stopped at change {failing + 1} of {total} ({name}): {error}\n"
    )

    remainder = run("plan", "--format", "json", cwd=demo)
    assert remainder.code == 0, remainder.stderr
    assert [_change_key(c) for c in remainder.json()["changes"]] == [
        _change_key(c) for c in changes[failing:]
    ]
