"""The example pipelines run the policy's tests (`reconciler test`) on every pull request and
publish their JUnit results: shown to run on the demo, and to fail the job when a test fails."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from tests.ci.conftest import shipped_tests
from tests.ci.runner import (
    AZURE_DEVOPS,
    GITHUB,
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


def plan_steps() -> list[dict]:
    return load(GITHUB / "reconciler-plan.yml")["jobs"]["plan"]["steps"]


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
