"""validate, plan and apply end to end, in a subprocess, on a temporary copy of the demo."""

import hashlib
import json
from pathlib import Path

import pytest

from tests.terminal import on_a_terminal

ROOT = Path(__file__).resolve().parents[2]


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_plan_shows_changes_removals_and_summary(run, demo):
    result = run("plan", cwd=demo)
    assert result.code == 0, result.stderr
    assert "  # LIC-Visio will be created" in result.stdout
    assert "Licenses removed:" in result.stdout
    assert "  through LIC-M365-E5-Sales (12):\n" in result.stdout
    assert (
        "    kaito.suzuki@contoso.com loses SPE_E5 (no longer matches the edited membership rule)"
    ) in result.stdout
    # the VP of Sales keeps E5 through LIC-M365-E5-Leadership: named as keeping it, not losing it
    assert "ava.cooper@contoso.com loses" not in result.stdout
    assert (
        "  ava.cooper@contoso.com leaves LIC-M365-E5-Sales and keeps SPE_E5 through "
        "LIC-M365-E5-Leadership"
    ) in result.stdout
    assert result.stdout.rstrip().endswith("Plan: 1 to add, 4 to change, 1 to remove.")


def test_plan_apply_plan_ends_with_no_changes(run, demo):
    first = run("plan", "--detailed-exitcode", cwd=demo)
    assert first.code == 2, first.stderr
    applied = run("apply", "--auto-approve", cwd=demo)
    assert applied.code == 0, applied.stderr
    assert "\nLIC-Visio: + type = security, assigned; + description = " in applied.stdout
    assert "\nFinance Analysts: - delete the group: done\n" in applied.stdout
    assert applied.stdout.rstrip().endswith("Apply complete! 1 added, 4 changed, 1 removed.")
    again = run("plan", "--detailed-exitcode", cwd=demo)
    assert again.code == 0, again.stderr
    assert again.stdout.rstrip().endswith("\nNo changes. Licensing matches the policy.")


def test_apply_without_a_terminal_or_auto_approve_refuses_and_changes_nothing(run, demo):
    run("plan", cwd=demo)  # creates the local tenant from the seed
    database = demo / "state" / "tenant.db"
    before = _digest(database)
    result = run("apply", cwd=demo)
    assert result.code == 1
    assert "pass --auto-approve" in result.stderr
    assert _digest(database) == before


def test_plan_reads_a_snapshot_source_named_on_the_command_line(run, demo):
    result = run("plan", "--tenant", f"snapshot:{demo / 'seed.json'}", "--format", "json", cwd=demo)
    assert result.code == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["changesPresent"] is True
    assert document["summary"] == {"add": 1, "change": 4, "remove": 1}


def test_validate_offline_checks_files_without_a_tenant(run, demo):
    result = run("validate", "--offline", cwd=demo)
    assert result.code == 0, result.stderr
    assert "is valid" in result.stdout


def test_unknown_sku_is_reported_at_its_line_and_column_and_nothing_changes(run, demo):
    run("plan", cwd=demo)
    database = demo / "state" / "tenant.db"
    before = _digest(database)
    policy = demo / "policies" / "add-ons.yaml"
    policy.write_text(policy.read_text().replace("sku: VISIOCLIENT", "sku: VISIOCLIENTS"))
    for command in ("validate", "plan", "apply"):
        result = (
            run(command, "--auto-approve", cwd=demo)
            if command == "apply"
            else run(command, cwd=demo)
        )
        assert result.code == 1, command
        assert "add-ons.yaml:" in result.stderr
        assert "VISIOCLIENTS" in result.stderr and "VISIOCLIENT" in result.stderr
        assert "Traceback" not in result.stderr
    assert _digest(database) == before


def test_malformed_policy_yaml_is_one_message_with_its_location(run, demo):
    (demo / "policies" / "broken.yaml").write_text("groups:\n  - displayName: [unclosed\n")
    result = run("plan", cwd=demo)
    assert result.code == 1
    assert "broken.yaml:" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 3
    assert "Traceback" not in result.stderr


def test_a_policy_pinned_to_another_tenant_is_refused(run, demo):
    settings = demo / "policies" / "settings.yaml"
    settings.write_text(settings.read_text().replace("contoso.onmicrosoft.com", "fabrikam.com"))
    result = run("plan", cwd=demo)
    assert result.code == 1
    assert "the policy is for tenant fabrikam.com" in result.stderr
    assert "settings.yaml:" in result.stderr


def test_tenant_export_writes_the_snapshot_and_import_loads_it_into_a_local_tenant(run, demo):
    exported = demo / "exported.json"
    result = run(
        "tenant", "export", "--tenant", "snapshot:seed.json", "--out", str(exported), cwd=demo
    )
    assert result.code == 0, result.stderr
    assert exported.read_bytes() == (demo / "seed.json").read_bytes()
    loaded = run("tenant", "import", str(exported), "--tenant", "local:imported.db", cwd=demo)
    assert loaded.code == 0, loaded.stderr
    result = run("plan", "--tenant", "local:imported.db", "--detailed-exitcode", cwd=demo)
    assert result.code == 2
    assert result.stdout.rstrip().endswith("Plan: 1 to add, 4 to change, 1 to remove.")


def test_a_snapshot_tenant_is_read_only(run, demo):
    result = run("apply", "--auto-approve", "--tenant", "snapshot:seed.json", cwd=demo)
    assert result.code == 1
    assert "is a snapshot, which is read only" in result.stderr


def test_a_saved_plan_is_shown_and_applied_without_a_prompt(run, demo):
    planned = run("plan", "--out", "demo.plan", cwd=demo)
    assert planned.code == 0, planned.stderr
    shown = run("show", "demo.plan", cwd=demo)
    assert shown.code == 0, shown.stderr
    assert shown.stdout == planned.stdout
    as_json = run("show", "demo.plan", "--format", "json", cwd=demo)
    assert json.loads(as_json.stdout) == json.loads((demo / "demo.plan").read_text())
    applied = run("apply", "demo.plan", cwd=demo)  # no terminal, no --auto-approve: a saved plan
    assert applied.code == 0, applied.stderr
    assert applied.stdout.rstrip().endswith("Apply complete! 1 added, 4 changed, 1 removed.")
    assert (
        run("plan", cwd=demo).stdout.rstrip().endswith("No changes. Licensing matches the policy.")
    )


def test_a_damaged_plan_file_is_one_clear_error(run, demo):
    (demo / "bad.plan").write_text('{"formatVersion": 1, "changes": [}')
    result = run("show", "bad.plan", cwd=demo)
    assert result.code == 1
    assert result.stderr.startswith("error: bad.plan:1:")
    (demo / "bad.plan").write_text('{"formatVersion": 1}')
    result = run("apply", "bad.plan", cwd=demo)
    assert result.code == 1
    assert "not a plan file" in result.stderr
    assert "Traceback" not in result.stderr


def _plan_on_a_terminal(demo: Path, **environment: str) -> str:
    """The plan as printed to a pseudo-terminal, as a person at a terminal sees it."""
    return on_a_terminal(["plan"], demo, env=environment)[1].decode()


def test_plan_is_coloured_on_a_terminal_but_not_with_no_color_nor_in_a_pipe(run, demo):
    assert "\x1b[" in _plan_on_a_terminal(demo)
    assert "\x1b[" not in _plan_on_a_terminal(demo, NO_COLOR="1")
    assert "\x1b[" not in run("plan", cwd=demo).stdout


BAD_POLICIES = {
    "schema-violation": ("membershipRuleProcessingState: On", "membershipRuleProcessingState: Of"),
    "unknown-key": ("    licenses:\n      - sku: SPE_E3\n", "    licences:\n      - sku: SPE_E3\n"),
    "invalid-rule": ('user.department -eq "Retail"', 'user.departmnt -eq "Retail"'),
    "unknown-plan": ("disabledPlans: [SWAY]", "disabledPlans: [SWAYY]"),
    "duplicate-key": (
        "  - displayName: LIC-O365-E3-Retail\n",
        "  - displayName: LIC-O365-E3-Retail\n    displayName: LIC-Retail\n",
    ),
}


@pytest.mark.parametrize("kind", sorted(BAD_POLICIES))
def test_bad_policy_input_is_one_located_message_exit_1_and_no_change(run, demo, kind):
    run("plan", cwd=demo)
    database = demo / "state" / "tenant.db"
    before = _digest(database)
    policy = demo / "policies" / "microsoft-365.yaml"
    old, new = BAD_POLICIES[kind]
    text = policy.read_text()
    if old not in text:  # the processing state is implied in the demo; add it explicitly
        text = text.replace(
            '    membershipRule: user.department -eq "Retail"',
            f'    {old}\n    membershipRule: user.department -eq "Retail"',
        )
    policy.write_text(text.replace(old, new, 1))
    result = run("apply", "--auto-approve", cwd=demo)
    assert result.code == 1, result.stdout
    assert "Traceback" not in result.stderr
    assert "microsoft-365.yaml:" in result.stderr.splitlines()[0]
    assert _digest(database) == before


def test_a_damaged_local_tenant_is_one_message_naming_the_file(run, demo):
    (demo / "state").mkdir()
    (demo / "state" / "tenant.db").write_bytes(b"this is not a database" * 100)
    result = run("plan", cwd=demo)
    assert result.code == 1
    assert "tenant.db" in result.stderr
    assert "Traceback" not in result.stderr
