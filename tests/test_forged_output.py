"""Names from the tenant or the policy can't forge output: a line break, an ESC sequence or a
right-to-left override in a group's, a user's or a service plan's name is shown as an escape
in every text a person reads (plan, show, apply, drift, explain, reports, reprocess, validate,
Markdown), while JSON keeps the value as it is. And the policy refuses such names."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.apply import ApplyResult, Failure
from reconciler.cli.options import quiet_azure_logging
from reconciler.directory_audit import Initiator
from reconciler.errors import ReconcilerError
from reconciler.plan.changes import UpdateGroup
from reconciler.providers.base import AppliedChange
from reconciler.providers.local import LocalTenant
from reconciler.render import markdown as md
from reconciler.render.annotations import Annotation, workflow_command
from reconciler.render.apply_text import apply_report, processing_failed, waiting_line
from reconciler.render.drift_text import drift_text
from reconciler.render.errors import underline
from reconciler.render.reprocess import reprocess_text
from reconciler.render.safe_text import shown
from reconciler.reprocess import FailedAssignment, ReprocessResult, UserResult
from reconciler.rules.ast import Span

ROOT = Path(__file__).resolve().parents[1]
# a name that would draw a plan line of its own, clear the screen and reverse what follows
POISON = "\n      + license FORGED\x1b[2J\u202e\u2066"
ESCAPED = "\\n      + license FORGED\\x1b[2J\\u202e\\u2066"
FORGED = "+ license FORGED"
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
SALES = "LIC-M365-E5-Sales"


def assert_safe(text: str) -> None:
    """No ESC, no carriage return, no bidirectional control, and no line a name drew."""
    assert "\x1b" not in text
    assert "\r" not in text
    assert not BIDI & set(text)
    forged = [line for line in text.splitlines() if line.lstrip().startswith(FORGED)]
    assert not forged, forged


def run(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real `reconciler` in a subprocess, in `folder`."""
    return subprocess.run(
        [sys.executable, "-m", "reconciler", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=folder,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def poisoned(tmp_path: Path) -> Path:
    """The demo, its seed tenant's names poisoned wherever the policy doesn't name them."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    (tmp_path / "reconciler.yaml").write_text(
        "tenant: local:state/tenant.db\nseed: seed.json\npolicy: policies/\n"
    )
    policy = "".join(
        path.read_text(encoding="utf-8")
        for path in (tmp_path / "policies").glob("*.yaml")
        if path.name != "skus.lock.yaml"
    )
    seed = json.loads((ROOT / "examples" / "contoso" / "tenant.json").read_text("utf-8"))
    for user in seed["users"]:
        if user["userPrincipalName"] not in policy:
            user["userPrincipalName"] = user["userPrincipalName"].replace("@", POISON + "@")
        if user.get("displayName"):
            user["displayName"] += POISON
    for group in seed["groups"]:
        if group["displayName"] not in policy:
            group["displayName"] += POISON
    for sku in seed["subscribedSkus"]:
        for plan in sku["servicePlans"]:
            if plan["servicePlanName"] not in policy:
                plan["servicePlanName"] += POISON
    (tmp_path / "seed.json").write_text(json.dumps(seed), encoding="utf-8")
    return tmp_path


def _ok(result: subprocess.CompletedProcess, codes: tuple[int, ...] = (0,)) -> str:
    assert result.returncode in codes, result.stderr
    assert "Traceback" not in result.stderr
    assert_safe(result.stdout)
    assert_safe(result.stderr)
    return result.stdout


def test_plan_show_and_apply_show_every_name_escaped(poisoned):
    text = _ok(run(poisoned, "plan"))
    assert f"- member daniel.smith{ESCAPED}@contoso.com" in text
    assert f"daniel.smith{ESCAPED}@contoso.com loses POWER_BI_PRO" in text
    _ok(run(poisoned, "plan", "--show-all"))
    _ok(run(poisoned, "plan", "--format", "markdown"))

    _ok(run(poisoned, "plan", "--out", "saved.plan"))
    shown_text = _ok(run(poisoned, "show", "saved.plan"))
    assert f"- member daniel.smith{ESCAPED}@contoso.com" in shown_text
    _ok(run(poisoned, "show", "saved.plan", "--format", "markdown"))
    # JSON keeps the value as the tenant has it: json escapes the control characters itself
    document = json.loads(run(poisoned, "plan", "--format", "json").stdout)
    members = [m for c in document["changes"] for m in c.get("members", [])]
    assert f"daniel.smith{POISON}@contoso.com" in [m.get("userPrincipalName") for m in members]

    # apply shows the plan it asks about, then a line per change as it is made
    applied = _ok(run(poisoned, "apply", "--auto-approve", "--allow-removals"))
    assert f"- member daniel.smith{ESCAPED}@contoso.com" in applied
    done = [line for line in applied.splitlines() if line.endswith(": done")]
    [progress] = [line for line in done if "- member daniel" in line]
    assert progress.startswith("LIC-PowerBI-Pro: ") and ESCAPED in progress


def test_drift_explain_reports_and_reprocess_show_every_name_escaped(poisoned):
    _ok(run(poisoned, "apply", "--auto-approve", "--allow-removals"))
    admin = Initiator.user(f"admin{POISON}@contoso.com")
    with LocalTenant(poisoned / "state" / "tenant.db", initiator=admin) as tenant:
        sales = next(g for g in tenant.read().groups if g.displayName == SALES)
        tenant.apply(UpdateGroup(sales.id, SALES, "description", sales.description, POISON))
        users = tenant.read().users
    drift = _ok(run(poisoned, "drift"), codes=(2,))
    assert f"changed by admin{ESCAPED}@contoso.com" in drift
    assert f"now:    {ESCAPED}" in drift
    _ok(run(poisoned, "plan"))
    _ok(run(poisoned, "plan", "--format", "markdown"))

    poisoned_user = next(u for u in users if POISON in u.userPrincipalName and u.assignedLicenses)
    explained = _ok(run(poisoned, "explain", poisoned_user.id))
    assert explained.startswith(shown(poisoned_user.userPrincipalName))
    for report in ("licenses", "seats", "groups"):
        _ok(run(poisoned, "report", report))
    _ok(run(poisoned, "report", "groups", "--all"))
    _ok(run(poisoned, "reprocess", "--dry-run"))


def test_rule_commands_show_names_and_rules_escaped(tmp_path):
    users = [
        {"id": "u1", "userPrincipalName": f"ana{POISON}@contoso.com", "department": "Sales"},
        {"id": "u2", "userPrincipalName": "ben@contoso.com", "department": f"x{POISON}"},
    ]
    (tmp_path / "users.json").write_text(json.dumps({"value": users}), encoding="utf-8")
    rule = f'user.department -eq "Sales" -or user.department -eq "x{POISON}"'
    tested = _ok(run(tmp_path, "rule", "test", rule, "--users", "users.json"))
    assert f"ana{ESCAPED}@contoso.com" in tested
    _ok(run(tmp_path, "rule", "check", rule))
    diff = ("rule", "diff", 'user.department -eq "Sales"', 'user.department -eq "None"')
    _ok(run(tmp_path, *diff, "--users", "users.json"))


def test_validate_and_errors_show_a_quoted_name_escaped(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        'groups:\n  - displayName: LIC-Ok\n    members:\n      - "ana\\e[2J\\u202E@contoso.com"\n',
        encoding="utf-8",
    )
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    tenant = ("--tenant", "snapshot:tenant.json")
    result = run(tmp_path, "validate", "--policy", "policy.yaml", *tenant)
    assert result.returncode == 1
    assert_safe(result.stderr + result.stdout)
    assert "ana\\x1b[2J\\u202e@contoso.com" in result.stderr


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        ("LIC-Sales\\n  + license SPE_E5", "\\n"),
        ("LIC-\\e[31mSales", "\\x1b"),
        ("LIC-\\u202ESales", "\\u202e"),
    ],
    ids=["line-break", "escape-sequence", "right-to-left-override"],
)
def test_the_policy_refuses_such_a_display_name_at_the_character(tmp_path, name, escaped):
    (tmp_path / "policy.yaml").write_text(f'groups:\n  - displayName: "{name}"\n', encoding="utf-8")
    result = run(tmp_path, "validate", "--offline", "--policy", "policy.yaml")
    assert result.returncode == 1
    assert_safe(result.stderr + result.stdout)
    assert result.stderr.startswith("error: policy.yaml:2:")
    assert f"displayName: holds {escaped}" in result.stderr
    document = json.loads(
        run(tmp_path, "validate", "--offline", "--policy", "policy.yaml", "--format", "json").stdout
    )
    [found] = document["diagnostics"]
    assert (found["code"], found["line"]) == ("invalid-characters", 2)
    assert found["column"] == len('  - displayName: "') + name.index("\\") + 1


def test_a_description_may_run_over_lines_but_not_hold_an_escape_sequence(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        "groups:\n  - displayName: LIC-Ok\n    description: |\n      Sales\n      \tstaff\n",
        encoding="utf-8",
    )
    assert run(tmp_path, "validate", "--offline", "--policy", "policy.yaml").returncode == 0
    (tmp_path / "policy.yaml").write_text(
        'groups:\n  - displayName: LIC-Ok\n    description: "Sales\\e[2J"\n', encoding="utf-8"
    )
    result = run(tmp_path, "validate", "--offline", "--policy", "policy.yaml")
    assert result.returncode == 1
    assert result.stderr.startswith("error: policy.yaml:3:24: group 'LIC-Ok', description: ")
    assert "holds \\x1b" in result.stderr


# --- the pieces ---------------------------------------------------------------------------


def test_shown_escapes_only_what_is_unsafe():
    assert shown("LIC-Ventes-É 👩‍💻 (Zürich)") == "LIC-Ventes-É 👩‍💻 (Zürich)"
    assert shown("a\nb\r\tc") == "a\\nb\\r\\tc"
    assert shown("\x1b[2J\x7f\x85\x9b") == "\\x1b[2J\\x7f\\x85\\x9b"
    assert shown("\u202ax\u202e\u2066\u2069\u200e\u200f\u061c") == (
        "\\u202ax\\u202e\\u2066\\u2069\\u200e\\u200f\\u061c"
    )
    assert shown("a\u2028b\u2029") == "a\\u2028b\\u2029"
    assert shown(shown(POISON)) == shown(POISON)  # escaping twice changes nothing more
    assert len(shown(POISON).splitlines()) == 1


def test_carets_stay_under_an_escaped_rule():
    rule = 'user.department -eq "\x1b[2J" -and user.x'
    start = rule.index("-and")
    line, carets = underline(rule, Span(start, start + 4))
    assert "\x1b" not in line
    assert line[carets.index("^") :].startswith("-and")


def test_markdown_pieces_escape_control_and_bidirectional_characters():
    name = f"LIC{POISON}"
    for text in (md.inline(name), md.code(name), md.html_text(name), md.one_line(name)):
        assert_safe(text)
        assert "\n" not in text


def test_apply_lines_escape_names_and_name_the_group_by_id_when_it_must():
    change = UpdateGroup("g1", f"LIC{POISON}", "description", "a", "b")
    failed = processing_failed(AppliedChange(change, "g1", processingFailed=True))
    assert_safe(failed)
    assert failed.endswith("reconciler reprocess --group g1")
    assert_safe(waiting_line(f"LIC{POISON}", f"Queued{POISON}", 3.0))
    document = {
        "group": {"id": "g1", "displayName": f"LIC{POISON}"},
        "action": "updateGroup",
        "property": "description",
        "before": POISON,
        "after": "b",
    }
    result = ApplyResult((), Failure(change, ReconcilerError(f"Graph says{POISON}")))
    assert_safe(apply_report([document], result))


def test_drift_and_reprocess_text_escape_names():
    item = {
        "group": {"id": "g1", "displayName": f"LIC{POISON}"},
        "property": f"description{POISON}",
        "current": [POISON, "x"],
        "desired": POISON,
        "changedBy": f"admin{POISON}",
        "changedAt": f"2024-01-01{POISON}",
    }
    assert_safe(drift_text([item]))
    failed = FailedAssignment("g1", f"LIC{POISON}", "s1", f"E5{POISON}", "Error", f"X{POISON}")
    users = (
        UserResult("u1", f"ana{POISON}@contoso.com", (failed,), (failed,)),
        UserResult("u2", f"ben{POISON}@contoso.com", (failed,), None, error=f"refused{POISON}"),
    )
    assert_safe(reprocess_text(ReprocessResult(users)))
    assert_safe(reprocess_text(ReprocessResult(users, dry_run=True)))


def test_annotations_keep_their_line_breaks_encoded_and_escape_the_rest():
    line = workflow_command("error", Annotation("error", f"bad{POISON}\nhint: fix it"))
    assert "\n" not in line and "\x1b" not in line and not BIDI & set(line)
    assert "%0A" in line


def test_azure_sdk_log_records_stay_off_stderr(capsys):
    quiet_azure_logging()
    logging.getLogger("azure.identity").warning("line one\n\tline two\nline three")
    assert capsys.readouterr().err == ""


def test_a_failed_sign_in_is_one_line(tmp_path):
    # no credential of any kind to find: no Azure variables, no CLI on PATH, an empty home
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AZURE_", "IDENTITY_", "MSI_", "ACTIONS_ID_TOKEN"))
    }
    env.update({"PATH": "", "HOME": str(tmp_path), "AZURE_CONFIG_DIR": str(tmp_path / "az")})
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "report", "seats", "--tenant", "graph"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("error: can't sign in to Microsoft Graph")
