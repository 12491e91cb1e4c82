"""The example pipelines: examples/ci/github/*.yml, examples/ci/azure-devops/azure-pipelines.yml,
the root action.yml and .pre-commit-hooks.yaml.

Read: their triggers, permissions, sign-in, install line and exit-code handling. Run: their
`reconciler` steps against a local tenant, with the variables GitHub Actions (or Azure
Pipelines) sets, so a plan with changes (exit 2) passes, the plan file, the comment body and
the outputs are there, a reviewed plan applies, and drift is reported, not failed.
"""

from __future__ import annotations

import json
import re
import shutil
import stat
import subprocess
import tomllib
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from reconciler.directory_audit import Initiator
from reconciler.plan.changes import UpdateGroup
from reconciler.providers.local import LocalTenant
from tests.ci.conftest import HEAD_SHA, git, github_context, shipped_tests
from tests.ci.expressions import Evaluator
from tests.ci.runner import (
    ACTION,
    AZURE_DEVOPS,
    GITHUB,
    PRE_COMMIT_HOOKS,
    ROOT,
    Runner,
    base_environment,
    is_external,
    job_steps,
    load,
    pipeline_script,
    pipeline_steps,
    run_action,
    run_pipeline_script,
    triggers,
    workflows,
)

PLAN, APPLY, DRIFT, TENANTS = (
    "reconciler-plan.yml",
    "reconciler-apply.yml",
    "reconciler-drift.yml",
    "reconciler-tenants.yml",
)
# what `reconciler plan` appends to $GITHUB_OUTPUT under GitHub Actions
PLAN_OUTPUTS = (
    "changes_present",
    "to_add",
    "to_change",
    "to_remove",
    "license_removals",
    "license_additions",
    "refused",
    "plan_file",
)
MARKER = "<!-- reconciler plan:"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
SALES = "LIC-M365-E5-Sales"
# steps whose exit code 2 means "changes" or "drift", not failure
_TWO_IS_SUCCESS = re.compile(r"--detailed-exitcode|reconciler drift\b")


def workflow(name: str) -> dict:
    return load(GITHUB / name)


def ids(paths):
    return [path.name for path in paths]


def uses(step: dict, action: str) -> bool:
    return str(step.get("uses", "")).split("@")[0] == action


def permissions(workflow: dict, job: dict) -> dict:
    return job.get("permissions", workflow.get("permissions")) or {}


def edit_as_admin(folder: Path, group: str, rule: str) -> None:
    """Change a managed group's rule as a person in the portal would: not through reconciler."""
    initiator = Initiator.user("admin@contoso.com")
    with LocalTenant(folder / ".reconciler" / "tenant.db", initiator=initiator) as tenant:
        found = next(g for g in tenant.read().groups if g.displayName == group)
        tenant.apply(UpdateGroup(found.id, group, "membershipRule", found.membershipRule, rule))


def first_line(path: Path) -> str:
    return path.read_text(encoding="utf-8").split("\n", 1)[0]


# ---------------------------------------------------------------------------------------------
# Read: structure


def test_the_github_examples_are_the_four_workflows():
    assert ids(workflows()) == sorted([PLAN, APPLY, DRIFT, TENANTS])


@pytest.mark.parametrize(
    ("name", "events"),
    [
        (PLAN, {"pull_request"}),
        (APPLY, {"push", "workflow_dispatch"}),
        (DRIFT, {"schedule", "workflow_dispatch"}),
        (TENANTS, {"pull_request", "push", "workflow_dispatch"}),
    ],
)
def test_triggers(name, events):
    on = triggers(workflow(name))
    assert set(on) == events
    for event in ("pull_request", "push"):
        if event in on:
            assert on[event]["branches"] == ["main"]
            assert on[event]["paths"], "runs only when the policy changes"
    if name in (PLAN, APPLY):
        event = "pull_request" if name == PLAN else "push"
        assert {"policies/**", "reconciler.yaml"} <= set(on[event]["paths"])
    if name == TENANTS:
        assert "tenants/**" in on["pull_request"]["paths"]
    if name == DRIFT:
        [schedule] = on["schedule"]
        assert len(schedule["cron"].split()) == 5


@pytest.mark.parametrize("path", workflows(), ids=ids(workflows()))
def test_signs_in_with_oidc_never_a_secret(path):
    document = load(path)
    assert "secrets." not in path.read_text(encoding="utf-8")
    for job_id, job in document["jobs"].items():
        steps = job["steps"]
        logins = [step for step in steps if uses(step, "azure/login")]
        reads_tenant = [
            step
            for step in steps
            if re.search(r"reconciler (plan|apply|drift|show|validate)\b", step.get("run", ""))
            and "--offline" not in step["run"]
        ]
        if reads_tenant:
            assert logins, f"{job_id} reads the tenant without signing in"
        for login in logins:
            assert login["uses"] == "azure/login@v2"
            assert set(login["with"]) == {"client-id", "tenant-id", "allow-no-subscriptions"}
            assert login["with"]["allow-no-subscriptions"] is True
            assert login["with"]["client-id"] == "${{ vars.AZURE_CLIENT_ID }}"
            assert "vars.AZURE_TENANT_ID" in login["with"]["tenant-id"]
            assert permissions(document, job).get("id-token") == "write", job_id
            # last before the tenant is read: the Azure CLI can't renew the OIDC token
            assert steps.index(login) < steps.index(reads_tenant[0])


@pytest.mark.parametrize("path", workflows(), ids=ids(workflows()))
def test_least_privilege_and_pinned_actions(path):
    document = load(path)
    writable = {"id-token", "pull-requests", "security-events", "issues"}
    for job_id, job in document["jobs"].items():
        granted = permissions(document, job)
        assert isinstance(granted, dict), f"{job_id}: permissions spelled out, never write-all"
        assert {scope for scope, level in granted.items() if level == "write"} <= writable
        steps = job["steps"]
        if granted.get("security-events") == "write":
            assert any(uses(s, "github/codeql-action/upload-sarif") for s in steps), job_id
        if granted.get("pull-requests") == "write":
            assert any(uses(s, "actions/github-script") for s in steps), job_id
        if granted.get("issues") == "write":
            assert path.name == DRIFT
        for step in steps:
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w./-]+@v\d+", step["uses"]), step["uses"]
    for job_id, job in document["jobs"].items():
        if "apply" in job_id:
            assert permissions(document, job).get("pull-requests") in (None, "read")


@pytest.mark.parametrize("path", workflows(), ids=ids(workflows()))
def test_installs_the_pinned_distribution(path):
    document = load(path)
    assert document["env"]["RECONCILER_VERSION"] == VERSION
    installs = [
        step["run"] for _, _, step in job_steps(document) if "pip install" in step.get("run", "")
    ]
    assert installs
    for line in installs:
        assert line.strip() == (
            "python -m pip install --disable-pip-version-check "
            '"entra-license-reconciler==${RECONCILER_VERSION}"'
        )


@pytest.mark.parametrize("path", workflows(), ids=ids(workflows()))
def test_exit_two_is_handled_wherever_it_can_come(path):
    for job_id, _, step in job_steps(load(path)):
        script = step.get("run", "")
        if not _TWO_IS_SUCCESS.search(script):
            continue
        assert "set +e" in script and "code=$?" in script, (job_id, step_name(step))
        assert 'echo "exitcode=$code" >> "$GITHUB_OUTPUT"' in script
        assert re.search(r"^\s*0\|2\)", script, re.MULTILINE) or re.search(
            r"^\s*0\)[\s\S]*^\s*2\)", script, re.MULTILINE
        )
        assert 'exit "$code"' in script


def step_name(step: dict) -> str:
    return step.get("name") or step.get("uses") or step.get("run", "").splitlines()[0]


@pytest.mark.parametrize("name", [PLAN, TENANTS])
def test_findings_go_to_code_scanning_even_when_validate_fails(name):
    for _, job, step in job_steps(workflow(name)):
        if not uses(step, "github/codeql-action/upload-sarif"):
            continue
        assert step["uses"] == "github/codeql-action/upload-sarif@v3"
        assert "always()" in step["if"]
        assert step["with"]["category"].startswith("reconciler")
        validate = next(s for s in job["steps"] if s.get("id") == "validate")
        assert f"--format sarif > {step['with']['sarif_file']}" in validate["run"]
        assert job["steps"].index(validate) < job["steps"].index(step)
        break
    else:
        pytest.fail(f"{name} uploads no SARIF")


@pytest.mark.parametrize("name", [PLAN, TENANTS])
def test_the_plan_comment_is_found_by_its_marker_and_edited(name):
    document = workflow(name)
    [job] = [
        job
        for job in document["jobs"].values()
        if any(uses(s, "actions/github-script") for s in job["steps"])
    ]
    steps = job["steps"]
    comment = next(s for s in steps if uses(s, "actions/github-script"))
    script = comment["with"]["script"]
    assert MARKER in script
    assert "updateComment" in script and "createComment" in script and "listComments" in script
    # the Markdown it posts is the one `show --format markdown` rendered from the saved plan
    markdown = comment["env"]["PLAN_MARKDOWN"]
    render = next(s for s in steps if "--format markdown" in s.get("run", ""))
    assert re.search(r"reconciler show .*reconciler\.plan\.json", render["run"])
    assert render["run"].rstrip().endswith(f"> {markdown}")
    assert steps.index(render) < steps.index(comment)
    assert permissions(document, job)["pull-requests"] == "write"


@pytest.mark.parametrize("name", [PLAN, TENANTS])
def test_the_saved_plan_is_kept_as_an_artifact(name):
    for _, job, step in job_steps(workflow(name)):
        if uses(step, "actions/upload-artifact") and "plan" in step["with"]["name"]:
            assert step["uses"] == "actions/upload-artifact@v4"
            assert step["with"]["path"] == "reconciler.plan.json"
            assert step["with"]["if-no-files-found"] == "error"
            plan = next(s for s in job["steps"] if s.get("id") == "plan")
            assert "--out reconciler.plan.json --detailed-exitcode" in plan["run"]
            break
    else:
        pytest.fail(f"{name} keeps no plan")


def test_apply_applies_the_plan_of_the_pull_request_run_behind_an_environment():
    document = workflow(APPLY)
    assert (GITHUB / document["env"]["PLAN_WORKFLOW"]).exists()
    uploaded = {
        step["with"]["name"]
        for _, _, step in job_steps(workflow(PLAN))
        if uses(step, "actions/upload-artifact")
    }
    apply = document["jobs"]["apply"]
    assert apply["environment"] == "production"
    assert apply["concurrency"]["cancel-in-progress"] is False
    download = next(s for s in apply["steps"] if uses(s, "actions/download-artifact"))
    assert download["with"]["name"] in uploaded
    assert download["with"]["run-id"] == "${{ needs.find.outputs.run-id }}"
    run = next(s for s in apply["steps"] if "reconciler apply" in s.get("run", ""))
    assert "reviewed-plan/reconciler.plan.json" in run["run"]
    # the reviewed plan, never a new one, and removals only when a person allowed them
    assert "--auto-approve" not in json.dumps(document)
    assert_removals_only_when_allowed(document)
    # a stale plan: what happens then is said where people look
    assert "plan again" in (GITHUB / APPLY).read_text(encoding="utf-8").lower()


def assert_removals_only_when_allowed(document: dict) -> None:
    for _, _, step in job_steps(document):
        for line in step.get("run", "").splitlines():
            if "--allow-removals" in line:
                assert 'if [ "$ALLOW_REMOVALS" = true ]; then args+=(--allow-removals); fi' in line


def test_the_tenants_matrix_runs_every_tenant_on_its_own():
    document = workflow(TENANTS)
    for job_id in ("plan", "apply"):
        job = document["jobs"][job_id]
        strategy = job["strategy"]
        assert strategy["fail-fast"] is False
        assert strategy["matrix"]["tenant"] == "${{ fromJSON(needs.tenants.outputs.tenants) }}"
        assert "matrix.tenant" in job["concurrency"]["group"]
        assert "matrix.tenant" in job["env"]["CONFIG"]
        for step in job["steps"]:
            if uses(step, "actions/upload-artifact") or uses(step, "actions/download-artifact"):
                assert "matrix.tenant" in step["with"]["name"]
            if uses(step, "azure/login"):
                assert "[matrix.tenant]" in step["with"]["tenant-id"]
            if "reconciler " in step.get("run", "") and not is_external(step["run"]):
                assert '--config "$CONFIG"' in step["run"]
    assert document["jobs"]["apply"]["environment"] == "production"
    assert document["jobs"]["apply"]["concurrency"]["cancel-in-progress"] is False
    assert_removals_only_when_allowed(document)


# `reconciler apply`, as a command in a script (not in a comment or a message)
_APPLY = re.compile(r"(^|[\s;|&(])reconciler\s+apply\b", re.MULTILINE)


def applies(step: dict) -> bool:
    """A step that runs `reconciler apply`: in its script, or through the composite action."""
    return bool(_APPLY.search(str(step.get("run", "")))) or (
        "uses" in step and (step.get("with") or {}).get("command") == "apply"
    )


def test_every_job_that_applies_queues_per_tenant_and_is_never_cancelled():
    applying = []
    for path in workflows():
        document = load(path)
        for job_id, job in document["jobs"].items():
            if not any(applies(step) for step in job.get("steps", [])):
                continue
            applying.append(f"{path.name}:{job_id}")
            concurrency = job.get("concurrency") or document.get("concurrency")
            assert isinstance(concurrency, dict), f"{path.name}:{job_id} has no concurrency group"
            # named by the tenant the job signs in to, the same way in every workflow: applies
            # to one tenant queue across this repository's workflows, other tenants' run at once
            [login] = [step for step in job["steps"] if uses(step, "azure/login")]
            assert concurrency["group"] == f"reconciler-apply-{login['with']['tenant-id']}"
            # an apply stopped part way would leave the tenant between two states
            assert concurrency["cancel-in-progress"] is False
    assert applying == [f"{APPLY}:apply", f"{TENANTS}:apply"]


def test_the_azure_pipeline_applies_behind_an_exclusive_lock_in_turn():
    pipeline = load(AZURE_DEVOPS)
    stages = {
        stage
        for stage, _, step in pipeline_steps(pipeline)
        if _APPLY.search(pipeline_script(step) or "")
    }
    assert stages == {"Apply"}
    [apply] = [stage for stage in pipeline["stages"] if stage["stage"] == "Apply"]
    # the lock is the environment's Exclusive lock check; sequential: queued, never cancelled
    assert apply["lockBehavior"] == "sequential"
    assert all(job.get("environment") == "production" for job in apply["jobs"])
    assert "Exclusive lock" in AZURE_DEVOPS.read_text(encoding="utf-8")
    assert "Exclusive lock" in (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")


def test_drift_opens_or_updates_one_issue_and_closes_none():
    document = workflow(DRIFT)
    steps = document["jobs"]["drift"]["steps"]
    issue = next(s for s in steps if uses(s, "actions/github-script"))
    assert issue["env"]["DRIFT_EXITCODE"] == "${{ steps.drift.outputs.exitcode }}"
    script = issue["with"]["script"]
    assert "closed" not in script
    assert permissions(document, {})["issues"] == "write"


# ---------------------------------------------------------------------------------------------
# Exit codes: each step's handling, with a `reconciler` that exits as told


FAKE = """#!/bin/sh
# exits FAKE_CODE for the command under test (plan --detailed-exitcode, drift, validate), 0 else
case " $* " in
  *" --detailed-exitcode "*|" drift "*|" validate "*) exit "$FAKE_CODE" ;;
esac
exit 0
"""


@pytest.fixture
def fake_bin(tmp_path: Path) -> Path:
    folder = tmp_path / "fake-bin"
    folder.mkdir()
    script = folder / "reconciler"
    script.write_text(FAKE, encoding="utf-8")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return folder


def coded_steps():
    """(label, document, step, which codes succeed) for each step that gates on an exit code."""
    found = []
    for path in workflows():
        for job_id, _, step in job_steps(load(path)):
            script = step.get("run", "")
            if _TWO_IS_SUCCESS.search(script):
                found.append((f"{path.name}:{job_id}:{step_name(step)}", step, {0, 2}))
            elif re.search(r"reconciler validate .*--format sarif", script):
                found.append((f"{path.name}:{job_id}:{step_name(step)}", step, {0}))
    return found


@pytest.mark.parametrize(
    ("step", "succeeds"),
    [(step, succeeds) for _, step, succeeds in coded_steps()],
    ids=[label for label, _, _ in coded_steps()],
)
@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_each_exit_code_is_handled(tmp_path, fake_bin, step, succeeds, code):
    workspace = tmp_path / "repo"
    workspace.mkdir()
    runner = Runner({"jobs": {}}, workspace, github=github_context("push", workspace))
    path = f"{fake_bin}:{base_environment()['PATH']}"
    result = runner.steps([step], {}, {}, {}, {}, {"FAKE_CODE": str(code), "PATH": path})
    [ran] = result.steps
    assert ran.ran
    assert ran.outcome == ("success" if code in succeeds else "failure"), ran
    assert ran.outputs["exitcode"] == str(code)


# ---------------------------------------------------------------------------------------------
# Run: the workflows' reconciler steps against a local tenant


def test_pull_request_plan_comment_sarif_and_outputs(workspace, pull_request, variables):
    job = Runner(workflow(PLAN), workspace, github=pull_request, variables=variables).job("plan")
    assert job.result == "success", job.report()
    ran = {step.name for step in job.ran()}
    assert {
        "Validate",
        "Plan",
        "Render the plan as Markdown",
        "Render the plan as a web page",
        "Check the layout",
    } <= ran
    # the demo plan has changes: exit 2, a success that says so
    plan = job.step("plan")
    assert plan.outputs["exitcode"] == "2", plan
    assert set(PLAN_OUTPUTS) <= set(plan.outputs), plan.outputs
    assert plan.outputs["changes_present"] == "true"
    assert json.loads((workspace / "reconciler.plan.json").read_text())["changesPresent"] is True
    markdown = (workspace / "reconciler.plan.md").read_text(encoding="utf-8")
    assert markdown.startswith(MARKER) and first_line(workspace / "reconciler.plan.md").endswith(
        "-->"
    )
    assert len(markdown) <= 65536
    summary = json.loads((workspace / "reconciler.plan.json").read_text())["summary"]
    page = (workspace / "reconciler.plan.html").read_text(encoding="utf-8")
    counts = (
        f"{summary['add']} to add, {summary['change']} to change, {summary['remove']} to remove"
    )
    assert page.startswith("<!DOCTYPE html>") and f"Plan: {counts}." in page
    sarif = json.loads((workspace / "reconciler.sarif").read_text(encoding="utf-8"))
    assert sarif["version"] == "2.1.0"
    assert job.summary.strip(), "the plan goes to the run's summary"
    # what is left to GitHub would run: the SARIF upload, the artifact, the comment
    for name in (
        "Upload findings to code scanning",
        "Keep the saved plan",
        "Keep the plan report",
        "Comment on the pull request",
    ):
        assert job.step(name).outcome == "success"


def test_pull_request_with_an_invalid_policy_fails_and_still_uploads_findings(
    workspace, pull_request, variables
):
    (workspace / "policies" / "broken.yaml").write_text(
        "groups:\n  - displayName: LIC-Broken\n    licences: []\n", encoding="utf-8"
    )
    job = Runner(workflow(PLAN), workspace, github=pull_request, variables=variables).job("plan")
    assert job.result == "failure"
    validate = job.step("validate")
    assert validate.outcome == "failure" and validate.outputs["exitcode"] == "1", validate
    sarif = json.loads((workspace / "reconciler.sarif").read_text(encoding="utf-8"))
    assert sarif["runs"][0]["results"], sarif
    assert job.step("Upload findings to code scanning").outcome == "success"
    assert job.step("plan").outcome == "skipped"


def apply_runner(workspace: Path, variables: dict, event: str, **inputs) -> Runner:
    github = github_context(event, workspace, before="0" * 40)
    return Runner(workflow(APPLY), workspace, github=github, variables=variables, inputs=inputs)


def download(workspace: Path, plan: Path) -> None:
    """What actions/download-artifact does with the reconciler-plan artifact."""
    (workspace / "reviewed-plan").mkdir(exist_ok=True)
    shutil.copy(plan, workspace / "reviewed-plan" / "reconciler.plan.json")


def test_merge_applies_the_reviewed_plan_and_nothing_is_left(workspace, pull_request, variables):
    planned = Runner(workflow(PLAN), workspace, github=pull_request, variables=variables)
    assert planned.job("plan").result == "success"
    download(workspace, workspace / "reconciler.plan.json")

    runner = apply_runner(workspace, variables, "push")
    replan = runner.job("replan")
    assert replan.result == "skipped"
    find = runner.job("find", needs={"replan": replan})
    assert find.result == "success", find.report()
    assert find.outputs["changes"] == "true"
    assert find.outputs["allow-removals"] == "false"
    assert "Plan to apply" in find.summary
    applied = runner.job("apply", needs={"find": find})
    assert applied.result == "success", applied.report()
    assert applied.step("Apply the reviewed plan").ran
    assert (workspace / ".reconciler" / "audit.jsonl").exists()

    again = Runner(workflow(PLAN), workspace, github=pull_request, variables=variables).job("plan")
    assert again.result == "success", again.report()
    assert again.step("plan").outputs["exitcode"] == "0"


def test_a_stale_plan_is_refused_and_fails_the_apply(workspace, pull_request, variables):
    planned = Runner(workflow(PLAN), workspace, github=pull_request, variables=variables)
    assert planned.job("plan").result == "success"
    download(workspace, workspace / "reconciler.plan.json")
    edit_as_admin(workspace, SALES, 'user.department -eq "Nobody"')

    runner = apply_runner(workspace, variables, "push")
    find = runner.job("find", needs={"replan": runner.job("replan")})
    applied = runner.job("apply", needs={"find": find})
    assert applied.result == "failure"
    step = applied.step("Apply the reviewed plan")
    assert step.code == 1 and "stale" in step.stderr, step


def test_run_by_hand_plans_main_again_then_applies(workspace, variables):
    runner = apply_runner(workspace, variables, "workflow_dispatch", **{"allow-removals": False})
    replan = runner.job("replan")
    assert replan.result == "success", replan.report()
    assert replan.step("plan").outputs["exitcode"] == "2"
    download(workspace, workspace / "reconciler.plan.json")
    find = runner.job("find", needs={"replan": replan})
    assert find.outputs["run-id"] == "4242"  # this run's own plan
    applied = runner.job("apply", needs={"find": find})
    assert applied.result == "success", applied.report()


def test_drift_is_a_finding_not_a_failure(workspace, variables):
    github = github_context("schedule", workspace)
    runner = Runner(workflow(DRIFT), workspace, github=github, variables=variables)
    clean = runner.job("drift")
    assert clean.result == "success", clean.report()
    assert clean.step("drift").outputs["exitcode"] == "0"

    edit_as_admin(workspace, SALES, 'user.department -eq "Nobody"')
    drifted = runner.job("drift")
    assert drifted.result == "success", drifted.report()
    assert drifted.step("drift").outputs["exitcode"] == "2"
    assert SALES in (workspace / "reconciler.drift.txt").read_text(encoding="utf-8")
    assert "Licensing drift" in drifted.summary
    assert drifted.step("Open or update the drift issue").outcome == "success"


# the tenants workflow


def tenants_runner(repo: Path, variables: dict, event: str, **inputs) -> Runner:
    before = git(repo, "rev-parse", "HEAD^")
    github = github_context(
        event, repo, before=before, pull_request={"number": 7, "head": {"sha": HEAD_SHA}}
    )
    return Runner(workflow(TENANTS), repo, github=github, variables=variables, inputs=inputs)


@pytest.mark.parametrize(
    ("event", "inputs", "expected"),
    [
        ("pull_request", {}, ["contoso"]),
        ("push", {}, ["contoso"]),
        ("workflow_dispatch", {"tenants": ""}, ["contoso", "fabrikam"]),
        ("workflow_dispatch", {"tenants": "fabrikam"}, ["fabrikam"]),
    ],
)
def test_the_tenants_a_change_touches(tenants_workspace, variables, event, inputs, expected):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    found = tenants_runner(tenants_workspace, variables, event, **inputs).job("tenants")
    assert found.result == "success", found.report()
    assert json.loads(found.outputs["tenants"]) == expected
    matrix = Evaluator({"needs": {"tenants": {"outputs": found.outputs}}}).evaluate(
        "fromJSON(needs.tenants.outputs.tenants)"
    )
    assert matrix == expected


@pytest.mark.parametrize(
    ("inputs", "ids_variable"),
    [({"tenants": "nobody"}, None), ({"tenants": ""}, '{"contoso": "x"}')],
    ids=["unknown folder", "no tenant id"],
)
def test_the_tenants_job_refuses_what_it_cant_sign_in_to(
    tenants_workspace, variables, inputs, ids_variable
):
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed")
    if ids_variable is not None:
        variables = {**variables, "AZURE_TENANT_IDS": ids_variable}
    found = tenants_runner(tenants_workspace, variables, "workflow_dispatch", **inputs).job(
        "tenants"
    )
    assert found.result == "failure"
    assert "::error::" in found.step("find").stdout


def test_each_tenant_is_planned_with_its_own_comment_then_applied(tenants_workspace, variables):
    repo = tenants_workspace
    runner = tenants_runner(repo, variables, "pull_request")
    tenants = runner.job("tenants")
    markers = {}
    for tenant in ("contoso", "fabrikam"):
        planned = runner.job("plan", needs={"tenants": tenants}, matrix={"tenant": tenant})
        assert planned.result == "success", planned.report()
        assert planned.step("plan").outputs["exitcode"] == "2"
        assert set(PLAN_OUTPUTS) <= set(planned.step("plan").outputs)
        markers[tenant] = first_line(repo / "reconciler.plan.md")
        assert markers[tenant].startswith(MARKER)
        if tenant == "contoso":
            download(repo, repo / "reconciler.plan.json")
    assert markers["contoso"] != markers["fabrikam"], "one comment per tenant"

    merged = tenants_runner(repo, variables, "push")
    tenants = merged.job("tenants")
    skipped = merged.job("plan", needs={"tenants": tenants}, matrix={"tenant": "contoso"})
    assert skipped.result == "skipped"
    applied = merged.job(
        "apply", needs={"tenants": tenants, "plan": skipped}, matrix={"tenant": "contoso"}
    )
    assert applied.result == "success", applied.report()
    assert applied.step("Apply the reviewed plan").ran
    assert (repo / "tenants" / "contoso" / ".reconciler" / "audit.jsonl").exists()


# ---------------------------------------------------------------------------------------------
# action.yml


def test_the_action_is_composite_and_installs_itself():
    action = load(ACTION)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {
        "command",
        "args",
        "working-directory",
        "python-version",
        "config",
    }
    assert action["inputs"]["command"]["required"] is True
    assert set(action["outputs"]) == {"exitcode", "comment_marker", *PLAN_OUTPUTS}
    steps = action["runs"]["steps"]
    install = next(s for s in steps if "pip install" in s.get("run", ""))
    assert '"${{ github.action_path }}"' in install["run"]
    assert all(s.get("shell") == "bash" for s in steps if "run" in s)
    [run] = [s for s in steps if s.get("id") == "run"]
    for name in action["outputs"]:
        assert action["outputs"][name]["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
    assert 'echo "exitcode=$code" >> "$GITHUB_OUTPUT"' in run["run"]


def test_the_action_plans_and_passes_exit_two_and_the_outputs_on(workspace, pull_request):
    result, outputs = run_action(
        workspace,
        {"command": "plan", "args": "--out reconciler.plan.json --detailed-exitcode"},
        pull_request,
    )
    assert result.result == "success", result.report()
    assert outputs["exitcode"] == "2"
    assert outputs["changes_present"] == "true"
    assert outputs["plan_file"]
    assert all(outputs[name] != "" for name in PLAN_OUTPUTS), outputs
    assert outputs["comment_marker"].startswith(MARKER)


def test_the_action_fails_on_a_mistyped_option(workspace, pull_request):
    result, outputs = run_action(
        workspace, {"command": "plan", "args": "--detailed-exitcode --no-such-option"}, pull_request
    )
    assert result.result == "failure"
    assert outputs["exitcode"] == "1"


def test_the_action_takes_a_config_and_a_folder(workspace, pull_request):
    inputs = {
        "command": "validate",
        "args": "--offline",
        "working-directory": "policies",
        "config": "../reconciler.yaml",
    }
    result, outputs = run_action(workspace, inputs, pull_request)
    assert result.result == "success", result.report()
    assert outputs["exitcode"] == "0"


# ---------------------------------------------------------------------------------------------
# .pre-commit-hooks.yaml


def test_pre_commit_hooks():
    hooks = {hook["id"]: hook for hook in load(PRE_COMMIT_HOOKS)}
    assert hooks["reconciler-validate"]["entry"] == "reconciler validate --offline"
    assert hooks["reconciler-fmt"]["entry"] == "reconciler fmt --check"
    for hook in hooks.values():
        assert hook["language"] == "python"
        assert hook["pass_filenames"] is False
        pattern = re.compile(hook["files"])
        for path in ("policies/groups.yaml", "policies/sub/x.yml", "reconciler.yaml"):
            assert pattern.search(path), path
        for path in ("README.md", "src/app.py", ".github/workflows/ci.yml"):
            assert not pattern.search(path), path


@pytest.mark.parametrize("hook", ["reconciler-validate", "reconciler-fmt"])
def test_pre_commit_hooks_pass_on_the_demo(workspace, hook):
    [entry] = [h["entry"] for h in load(PRE_COMMIT_HOOKS) if h["id"] == hook]
    done = subprocess.run(
        ["bash", "-c", entry], cwd=workspace, env=base_environment(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------------------------------------
# Azure Pipelines


def test_azure_pipeline_structure():
    pipeline = load(AZURE_DEVOPS)
    assert pipeline["trigger"]["branches"]["include"] == ["main"]
    assert [stage["stage"] for stage in pipeline["stages"]] == ["Validate", "Plan", "Apply"]
    assert "secret" not in AZURE_DEVOPS.read_text(encoding="utf-8").lower().replace("no secret", "")
    assert pipeline["variables"]["RECONCILER_VERSION"] == VERSION
    connections = {}
    for stage, job, step in pipeline_steps(pipeline):
        script = pipeline_script(step) or ""
        if "pip install" in script:
            install = '"entra-license-reconciler==$(RECONCILER_VERSION)"'
            assert f"pip install --disable-pip-version-check {install}" in script
        if script and "set -euo pipefail" not in script:
            pytest.fail(f"{stage}/{job}: an agent runs bash without -e; the script must set it")
        if str(step.get("task", "")).startswith("AzureCLI@"):
            assert step["task"] == "AzureCLI@2"
            assert step["inputs"]["scriptType"] == "bash"
            connections[stage] = step["inputs"]["azureSubscription"]
        if _TWO_IS_SUCCESS.search(script):
            assert "code=$?" in script and "2) echo" in script and 'exit "$code"' in script
    assert connections == {"Plan": "reconciler-plan", "Apply": "reconciler-apply"}
    apply = pipeline["stages"][2]
    [deployment] = apply["jobs"]
    assert deployment["environment"] == "production"
    condition = " ".join(apply["condition"].split())
    assert "eq(variables['Build.SourceBranch'], 'refs/heads/main')" in condition
    assert "ne(variables['Build.Reason'], 'PullRequest')" in condition
    # the output variable the Plan stage's job and step really set
    plan_job = pipeline["stages"][1]["jobs"][0]
    plan_step = next(s for s in plan_job["steps"] if s.get("task") == "AzureCLI@2")
    reference = f"dependencies.Plan.outputs['{plan_job['job']}.{plan_step['name']}.changesPresent']"
    assert f"eq({reference}, 'true')" in condition


@pytest.mark.parametrize("code", [0, 1, 2, 3])
def test_azure_pipeline_plan_exit_codes(tmp_path, fake_bin, code):
    pipeline = load(AZURE_DEVOPS)
    [script] = [
        pipeline_script(step)
        for stage, _, step in pipeline_steps(pipeline)
        if stage == "Plan" and step.get("name") == "plan"
    ]
    workspace = tmp_path / "repo"
    workspace.mkdir()
    path = f"{fake_bin}:{base_environment()['PATH']}"
    done = run_pipeline_script(
        script,
        workspace,
        {"Build.ArtifactStagingDirectory": str(tmp_path / "staging")},
        {"FAKE_CODE": str(code), "PATH": path},
    )
    if code in (0, 2):
        assert done.code == 0, done
        assert done.variables["changesPresent"] == ("true" if code == 2 else "false")
    else:
        assert done.code == code, done
    assert done.variables["exitcode"] == str(code)


def test_azure_pipeline_validates_plans_and_applies(workspace, tmp_path):
    pipeline = load(AZURE_DEVOPS)
    staging, pipeline_workspace = tmp_path / "staging", tmp_path / "pipeline"
    staging.mkdir()
    macros = {
        "Build.ArtifactStagingDirectory": str(staging),
        "Build.BuildId": "17",
        "Pipeline.Workspace": str(pipeline_workspace),
        "System.DefaultWorkingDirectory": str(workspace),
        "RECONCILER_VERSION": VERSION,
        "PYTHON_VERSION": "3.12",
        "AZURE_TENANT_ID": "00000000-0000-0000-0000-00000000c0de",
        "Common.TestResultsDirectory": str(tmp_path / "test-results"),
    }
    results = {}
    for stage, _, step in pipeline_steps(pipeline):
        script = pipeline_script(step)
        if script is None or is_external(script):
            continue
        if stage == "Apply":
            # the Plan stage's artifact, where `download: current` puts it
            shutil.copytree(staging / "reconciler-plan", pipeline_workspace / "reconciler-plan")
        done = run_pipeline_script(script, workspace, macros, {})
        assert done.code == 0, f"{stage}: {done}"
        results.setdefault(stage, done)  # the first script of each stage: Plan's plans
    assert set(results) == {"Validate", "Plan", "Apply"}
    sarif = json.loads((staging / "CodeAnalysisLogs" / "reconciler.sarif").read_text())
    assert sarif["version"] == "2.1.0"
    assert results["Plan"].variables == {"exitcode": "2", "changesPresent": "true"}
    assert (staging / "reconciler-plan" / "reconciler.plan.json").exists()
    assert first_line(staging / "reconciler-plan" / "reconciler.plan.md").startswith(MARKER)
    assert "##vso[task.uploadsummary]" in results["Plan"].stdout
    # the policy's tests ran in the Plan stage and passed: their JUnit file is there to publish
    tests = ElementTree.parse(tmp_path / "test-results" / "reconciler-tests.xml").getroot()
    assert int(tests.get("tests")) == len(shipped_tests(workspace)) > 0
    assert tests.get("failures") == "0"


# ---------------------------------------------------------------------------------------------
# The github-script steps, run with node against a stand-in for GitHub's API

NODE_HARNESS = r"""
const fs = require('fs');
const [scriptFile, stateFile] = process.argv.slice(2);
const state = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
const calls = [];
let nextId = 1000;
const record = (name) => async (params) => {
  calls.push([name, params]);
  return { data: { id: nextId++, html_url: 'u' } };
};
const github = {
  paginate: async (fn, params) => fn === github.rest.issues.listComments
    ? (params.issue_number === state.issue_number ? state.comments : state.issueComments ?? [])
    : state.issues,
  rest: { issues: {
    listComments: () => {}, listForRepo: () => {},
    updateComment: record('updateComment'), createComment: record('createComment'),
    create: record('create'), update: record('update'),
  } },
};
const context = {
  repo: { owner: 'contoso', repo: 'licensing' }, issue: { number: state.issue_number },
  runId: 4242, serverUrl: 'https://github.com',
  payload: { pull_request: { head: { sha: '1111111111111111' } } },
};
const failed = [];
const core = { setFailed: (m) => failed.push(m), info: () => {}, notice: () => {} };
const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor;
const body = fs.readFileSync(scriptFile, 'utf8');
new AsyncFunction('require', 'github', 'context', 'core', body)(require, github, context, core)
  .then(() => console.log(JSON.stringify({ calls, failed })));
"""


@pytest.fixture
def node(tmp_path: Path):
    if shutil.which("node") is None:
        pytest.skip("node is not installed")
    harness = tmp_path / "harness.js"
    harness.write_text(NODE_HARNESS, encoding="utf-8")

    def run(script: str, state: dict, env: dict[str, str]) -> dict:
        script_file, state_file = tmp_path / "script.js", tmp_path / "state.json"
        script_file.write_text(script, encoding="utf-8")
        state_file.write_text(json.dumps(state), encoding="utf-8")
        done = subprocess.run(
            ["node", str(harness), str(script_file), str(state_file)],
            cwd=tmp_path,
            env=base_environment(env),
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    return run


def github_script(name: str, step_name_: str) -> tuple[str, dict]:
    for _, _, step in job_steps(workflow(name)):
        if step.get("name") == step_name_:
            return step["with"]["script"], step.get("env", {})
    raise KeyError(step_name_)


@pytest.mark.parametrize("name", [PLAN, TENANTS])
def test_the_comment_script_edits_its_own_comment_for_the_same_marker(tmp_path, node, name):
    script, env = github_script(name, "Comment on the pull request")
    marker = "<!-- reconciler plan: tenant=contoso.com policy=policies -->"
    (tmp_path / env["PLAN_MARKDOWN"]).write_text(f"{marker}\n## Plan\n1 to add\n")
    bot, human = {"type": "Bot"}, {"type": "User"}
    comments = [
        {"id": 1, "user": human, "body": f"{marker}\nquoted by a person"},
        {"id": 2, "user": bot, "body": "<!-- reconciler plan: tenant=other policy=x -->\nold"},
        {"id": 3, "user": bot, "body": f"{marker}\nthe earlier plan"},
    ]
    result = node(script, {"issue_number": 7, "comments": comments}, env)
    [(call, params)] = result["calls"]
    assert call == "updateComment" and params["comment_id"] == 3
    assert params["body"].startswith(f"{marker}\n## Plan")
    assert "1111111" in params["body"]  # which commit was planned

    result = node(script, {"issue_number": 7, "comments": comments[:2]}, env)
    [(call, params)] = result["calls"]
    assert call == "createComment" and params["issue_number"] == 7

    (tmp_path / env["PLAN_MARKDOWN"]).write_text("## no marker\n")
    result = node(script, {"issue_number": 7, "comments": comments}, env)
    assert result["calls"] == [] and result["failed"]


def test_the_drift_script_opens_updates_and_never_closes(tmp_path, node):
    script, env = github_script(DRIFT, "Open or update the drift issue")
    report = tmp_path / env["DRIFT_REPORT"]
    report.write_text("# LIC-M365-E5-Sales: membershipRule changed by admin@contoso.com\n")

    opened = node(script, {"issues": []}, {**env, "DRIFT_EXITCODE": "2"})
    [(call, params)] = opened["calls"]
    assert call == "create" and params["body"].startswith("<!-- reconciler drift -->")
    issue = {"number": 9, "body": params["body"], "html_url": "u"}

    same = node(script, {"issues": [issue]}, {**env, "DRIFT_EXITCODE": "2"})
    assert same["calls"] == []

    report.write_text("# LIC-Visio: members changed by admin@contoso.com\n")
    changed = node(script, {"issues": [issue]}, {**env, "DRIFT_EXITCODE": "2"})
    assert [call for call, _ in changed["calls"]] == ["update", "createComment"]
    assert "state" not in changed["calls"][0][1]

    gone = node(script, {"issues": [issue], "issueComments": []}, {**env, "DRIFT_EXITCODE": "0"})
    [(call, params)] = gone["calls"]
    assert call == "createComment" and "Close this issue" in params["body"]
    said = [{"body": params["body"]}]
    again = node(script, {"issues": [issue], "issueComments": said}, {**env, "DRIFT_EXITCODE": "0"})
    assert again["calls"] == []
    assert node(script, {"issues": []}, {**env, "DRIFT_EXITCODE": "0"})["calls"] == []


# ---------------------------------------------------------------------------------------------
# docs/ci.md


def test_the_guide_names_every_pipeline():
    guide = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    for path in [*workflows(), AZURE_DEVOPS, ACTION, PRE_COMMIT_HOOKS]:
        assert path.name in guide, path.name
    for permission in (
        "id-token: write",
        "pull-requests: write",
        "security-events: write",
        "issues: write",
    ):
        assert permission in guide
