"""The example pipelines run the policy's tests (`reconciler test`) on every pull request and
publish their JUnit results: shown to run on the demo, and to fail the job when a test fails;
in the many-tenants matrix, each tenant's own tests, with results of its own."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.ci.conftest import HEAD_SHA, github_context, shipped_tests
from tests.ci.runner import (
    AZURE_DEVOPS,
    GITHUB,
    JobResult,
    Runner,
    base_environment,
    load,
    pipeline_script,
    pipeline_steps,
    run_pipeline_script,
)

JUNIT = "reconciler-tests.xml"
SAVED_PLAN = '"$(Build.ArtifactStagingDirectory)/reconciler-plan/reconciler.plan.json"'
FAILING = """\
tests:
  - name: Nobody loses Exchange Online
    plan:
      servicePlanRemovals: {servicePlan: EXCHANGE_S_ENTERPRISE, atMost: 0}
"""


def plan_steps(workflow: str = "reconciler-plan.yml") -> list[dict]:
    return load(GITHUB / workflow)["jobs"]["plan"]["steps"]


def named(steps: list[dict], name: str) -> dict:
    return next(step for step in steps if step.get("name") == name)


def junit(path: Path) -> ElementTree.Element:
    return ElementTree.parse(path).getroot()


def test_the_plan_workflow_runs_the_tests_after_the_comment_and_publishes_them_always():
    steps = plan_steps()
    tests = named(steps, "Policy tests")
    # the saved plan the comment shows is the plan tested: a tenant that moved since is refused
    assert tests["run"].strip() == f"reconciler test --plan reconciler.plan.json --junit {JUNIT}"
    publish = named(steps, "Publish the policy test results")
    assert publish["uses"] == "mikepenz/action-junit-report@v5"
    assert publish["with"]["report_paths"] == JUNIT
    # no check run: the job needs no `checks: write`
    assert publish["with"]["annotate_only"] is True
    assert publish["if"].startswith("always()") and f"hashFiles('{JUNIT}')" in publish["if"]
    order = [step.get("name") for step in steps]
    comment = order.index("Comment on the pull request")
    assert comment < order.index("Policy tests") < order.index("Publish the policy test results")


def test_the_pull_request_job_runs_the_demo_tests(workspace, pull_request, variables):
    job = Runner(
        load(GITHUB / "reconciler-plan.yml"), workspace, github=pull_request, variables=variables
    ).job("plan")
    assert job.result == "success", job.report()
    step = job.step("tests")
    assert step.ran and step.code == 0, step
    assert "PASS" in step.stdout and "FAIL" not in step.stdout
    results = junit(workspace / JUNIT)
    assert int(results.get("tests")) == len(shipped_tests(workspace)) > 0
    assert results.get("failures") == "0"
    assert job.step("Publish the policy test results").outcome == "success"


def test_a_failing_policy_test_fails_the_job_and_its_result_is_still_published(
    workspace, pull_request, variables
):
    (workspace / "policies" / "tests" / "exchange.yaml").write_text(FAILING, encoding="utf-8")
    job = Runner(
        load(GITHUB / "reconciler-plan.yml"), workspace, github=pull_request, variables=variables
    ).job("plan")
    assert job.result == "failure"
    step = job.step("tests")
    assert step.outcome == "failure" and step.code == 1, step
    assert "  FAIL  Nobody loses Exchange Online" in step.stdout
    # the plan was planned and commented on before; the results are published all the same
    assert job.step("plan").outputs["exitcode"] == "2"
    assert job.step("Comment on the pull request").outcome == "success"
    assert job.step("Publish the policy test results").outcome == "success"
    assert job.step("Check the layout").outcome == "skipped"
    results = junit(workspace / JUNIT)
    assert results.get("failures") == "1"


def azure_tests_step() -> dict:
    [step] = [
        step
        for stage, _, step in pipeline_steps(load(AZURE_DEVOPS))
        if stage == "Plan" and "reconciler test" in (pipeline_script(step) or "")
    ]
    return step


def test_the_azure_pipeline_runs_the_tests_signed_in_and_publishes_them_succeeded_or_failed():
    step = azure_tests_step()
    assert step["task"] == "AzureCLI@2"
    assert step["inputs"]["azureSubscription"] == "reconciler-plan"
    steps = [s for stage, _, s in pipeline_steps(load(AZURE_DEVOPS)) if stage == "Plan"]
    publish = next(s for s in steps if s.get("task") == "PublishTestResults@2")
    assert steps.index(step) < steps.index(publish)
    assert publish["condition"] == "succeededOrFailed()"
    assert publish["inputs"]["testResultsFormat"] == "JUnit"
    assert publish["inputs"]["testResultsFiles"] == JUNIT
    assert f'--junit "$(Common.TestResultsDirectory)/{JUNIT}"' in pipeline_script(step)
    assert f"--plan {SAVED_PLAN}" in pipeline_script(step)


@pytest.mark.parametrize("failing", [False, True], ids=["passing", "failing"])
def test_the_azure_tests_step_fails_the_stage_when_a_test_fails(workspace, tmp_path, failing):
    if failing:
        (workspace / "policies" / "tests" / "exchange.yaml").write_text(FAILING, encoding="utf-8")
    results = tmp_path / "test-results"
    staging = tmp_path / "staging"
    # the Plan step before it saved the plan there
    saved = staging / "reconciler-plan" / "reconciler.plan.json"
    saved.parent.mkdir(parents=True)
    planned = subprocess.run(
        [sys.executable, "-m", "reconciler", "plan", "--out", str(saved)],
        cwd=workspace,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert planned.returncode == 0, planned.stderr
    macros = {
        "Build.ArtifactStagingDirectory": str(staging),
        "Common.TestResultsDirectory": str(results),
        "System.DefaultWorkingDirectory": str(workspace),
    }
    done = run_pipeline_script(
        pipeline_script(azure_tests_step()), workspace, macros, {"PATH": base_environment()["PATH"]}
    )
    assert done.code == (1 if failing else 0), done
    assert junit(results / JUNIT).get("failures") == ("1" if failing else "0")


# the many-tenants matrix: reconciler-tenants.yml

TENANTS = "reconciler-tenants.yml"


def test_the_tenants_matrix_runs_each_tenants_tests_with_results_of_its_own():
    document = load(GITHUB / TENANTS)
    job = document["jobs"]["plan"]
    # the tenant's own policy folder (its reconciler.yaml), and a JUnit file named by the tenant
    assert job["env"]["CONFIG"] == "tenants/${{ matrix.tenant }}/reconciler.yaml"
    assert job["env"]["JUNIT"] == "reconciler-tests-${{ matrix.tenant }}.xml"
    steps = job["steps"]
    tests = named(steps, "Policy tests")
    assert tests["run"].strip() == (
        'reconciler test --config "$CONFIG" --plan reconciler.plan.json --junit "$JUNIT"'
    )
    publish = named(steps, "Publish the policy test results")
    assert publish["uses"] == "mikepenz/action-junit-report@v5"
    assert publish["with"]["report_paths"] == "${{ env.JUNIT }}"
    assert "matrix.tenant" in publish["with"]["check_name"]
    assert publish["with"]["annotate_only"] is True
    assert publish["if"] == "always() && hashFiles(env.JUNIT) != ''"
    order = [step.get("name") for step in steps]
    # after the comment; the plan is kept for apply only once the tests passed
    assert (
        order.index("Comment on the pull request")
        < order.index("Policy tests")
        < order.index("Publish the policy test results")
        < order.index("Keep the saved plan")
    )
    assert "if" not in named(steps, "Keep the saved plan")


def tenants_plan(repo: Path, variables: dict, tenant: str):
    github = github_context(
        "pull_request", repo, before="", pull_request={"number": 7, "head": {"sha": HEAD_SHA}}
    )
    found = JobResult(
        "tenants", "success", outputs={"tenants": json.dumps(["contoso", "fabrikam"])}
    )
    runner = Runner(load(GITHUB / TENANTS), repo, github=github, variables=variables)
    return runner.job("plan", needs={"tenants": found}, matrix={"tenant": tenant})


def test_each_tenant_job_runs_its_own_tests(tenants_workspace, variables):
    repo = tenants_workspace
    for tenant in ("contoso", "fabrikam"):
        job = tenants_plan(repo, variables, tenant)
        assert job.result == "success", job.report()
        step = job.step("tests")
        assert step.ran and step.code == 0, step
        assert "PASS" in step.stdout and "FAIL" not in step.stdout
        results = junit(repo / f"reconciler-tests-{tenant}.xml")
        shipped = shipped_tests(repo / "tenants" / tenant)
        assert int(results.get("tests")) == len(shipped) > 0
        assert results.get("failures") == "0"
        # the tenant's own test files, by the repository's paths
        files = {suite.get("name") for suite in results.iter("testsuite")}
        assert files and all(f.startswith(f"tenants/{tenant}/policies/tests/") for f in files)
        assert job.step("Publish the policy test results").outcome == "success"
        assert job.step("Keep the saved plan").outcome == "success"


def test_a_tenants_failing_test_fails_its_job_keeps_no_plan_and_spares_the_others(
    tenants_workspace, variables
):
    repo = tenants_workspace
    failing = repo / "tenants" / "contoso" / "policies" / "tests" / "exchange.yaml"
    failing.write_text(FAILING, encoding="utf-8")
    job = tenants_plan(repo, variables, "contoso")
    assert job.result == "failure"
    step = job.step("tests")
    assert step.outcome == "failure" and step.code == 1, step
    assert "  FAIL  Nobody loses Exchange Online" in step.stdout
    # planned and commented on before; the results published all the same
    assert job.step("plan").outputs["exitcode"] == "2"
    assert job.step("Comment on the pull request").outcome == "success"
    assert job.step("Publish the policy test results").outcome == "success"
    # no plan for apply to take: this tenant's apply fails at the download, changing nothing
    assert job.step("Keep the saved plan").outcome == "skipped"
    assert junit(repo / "reconciler-tests-contoso.xml").get("failures") == "1"
    # another tenant's tests, and its results, are its own
    other = tenants_plan(repo, variables, "fabrikam")
    assert other.result == "success", other.report()
    assert junit(repo / "reconciler-tests-fabrikam.xml").get("failures") == "0"
