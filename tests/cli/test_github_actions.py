"""In GitHub Actions `plan` also writes the job summary, the step outputs and annotations;
anywhere else it writes none of them. A summary or outputs file it can't write fails the step."""

import json
from pathlib import Path

import pytest

from reconciler.cli.github import output_text, plan_outputs, repo_path, run_url

CONTOSO_ID = "6762b34f-4e26-4a8e-a032-35a1e58e1b1c"
MARKER = f"<!-- reconciler plan: tenant={CONTOSO_ID} policy=policies -->"
MEMBERSHIP_DROP = (
    "::warning file=policies/microsoft-365.yaml,line=4,col=5,title=membership-drop::"
    "the membership change drops "
)


@pytest.fixture
def actions(demo: Path) -> dict[str, str]:
    """The variables of a GitHub Actions step, its summary and outputs files in the demo."""
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_STEP_SUMMARY": str(demo / "summary.md"),
        "GITHUB_OUTPUT": str(demo / "output.txt"),
        "GITHUB_WORKSPACE": str(demo),
        # the suite may itself run in a workflow: no run link unless a test asks for one
        "GITHUB_SERVER_URL": "",
    }


def outputs_of(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_plan_writes_the_summary_outputs_and_annotations_and_json_stays_json(run, demo, actions):
    (demo / "summary.md").write_text("an earlier step's summary\n")
    done = run("plan", "--format", "json", "--out", "demo.plan", cwd=demo, env=actions)
    assert done.code == 0, done.stderr
    assert done.json()["changesPresent"] is True  # stdout is the JSON plan alone
    shown = run("show", "demo.plan", "--format", "markdown", cwd=demo)
    summary = (demo / "summary.md").read_text()
    # appended, as `>>` does: the earlier summary stays
    assert summary == "an earlier step's summary\n" + shown.stdout
    assert outputs_of(demo / "output.txt") == {
        "changes_present": "true",
        "to_add": "1",
        "to_change": "4",
        "to_remove": "1",
        "license_removals": "52",
        "license_additions": "47",
        "refused": "false",
        "comment_marker": MARKER,
        "plan_file": "demo.plan",
    }
    annotations = [line for line in done.stderr.splitlines() if line.startswith("::")]
    assert annotations[0].startswith(MEMBERSHIP_DROP)
    assert all(line.startswith("::warning file=policies/") for line in annotations)
    # findings without a place in the policy are in the summary, not annotated
    placed = [w for w in done.json()["warnings"] if "file" in w]
    assert len(annotations) == len(placed) < len(done.json()["warnings"])


def test_text_and_markdown_plans_report_to_the_workflow_too(run, demo, actions):
    for output_format in ("text", "markdown"):
        (demo / "summary.md").unlink(missing_ok=True)
        done = run("plan", "--format", output_format, cwd=demo, env=actions)
        assert done.code == 0, done.stderr
        assert (demo / "summary.md").read_text().startswith(MARKER + "\n")
        assert MEMBERSHIP_DROP in done.stderr
    assert "plan_file" not in outputs_of(demo / "output.txt")


@pytest.mark.parametrize("value", [None, "false", "1"])
def test_outside_github_actions_nothing_is_written(run, demo, actions, value):
    env = {**actions, "GITHUB_ACTIONS": value} if value else dict(actions)
    if value is None:
        del env["GITHUB_ACTIONS"]
    done = run("plan", "--format", "json", cwd=demo, env=env)
    assert done.code == 0, done.stderr
    assert not (demo / "summary.md").exists() and not (demo / "output.txt").exists()
    assert "::" not in done.stderr


def test_an_unwritable_summary_fails_the_step_after_the_plan_is_printed(run, demo, actions):
    env = {**actions, "GITHUB_STEP_SUMMARY": str(demo / "no-such-folder" / "summary.md")}
    done = run("plan", "--detailed-exitcode", cwd=demo, env=env)
    assert done.code == 1  # not 2: the changes were not all reported
    assert "Plan: 1 to add, 4 to change, 1 to remove." in done.stdout
    assert "error: the plan was made, but can't write the job summary to " in done.stderr
    assert "(GITHUB_STEP_SUMMARY): No such file or directory" in done.stderr
    assert "Traceback" not in done.stderr
    assert outputs_of(demo / "output.txt")["changes_present"] == "true"  # the rest is written


def test_missing_summary_and_output_variables_fail_the_step(run, demo, actions):
    env = {**actions, "GITHUB_STEP_SUMMARY": "", "GITHUB_OUTPUT": ""}
    done = run("plan", cwd=demo, env=env)
    assert done.code == 1
    assert done.stderr.splitlines()[-1] == (
        "error: the plan was made, but GITHUB_STEP_SUMMARY is not set, so the job summary "
        "can't be written; and GITHUB_OUTPUT is not set, so the step outputs can't be written"
    )


def test_annotations_name_files_from_the_repository_root(run, demo, actions):
    env = {**actions, "GITHUB_WORKSPACE": str(demo.parent)}
    done = run("plan", cwd=demo, env=env)
    assert f"::warning file={demo.name}/policies/microsoft-365.yaml,line=4,col=5," in done.stderr


def test_a_policy_that_fails_to_plan_is_annotated_with_errors(run, demo, actions):
    policy = demo / "policies" / "microsoft-365.yaml"
    policy.write_text(policy.read_text().replace("sku: SPE_E5", "sku: SPE_E9"))
    done = run("plan", cwd=demo, env=actions)
    assert done.code == 1
    assert "::error file=policies/microsoft-365.yaml,line=" in done.stderr
    assert "title=unknown-sku::" in done.stderr
    assert not (demo / "summary.md").exists()


def test_show_writes_no_summary_or_outputs(run, demo, actions):
    assert run("plan", "--out", "demo.plan", cwd=demo).code == 0
    done = run("show", "demo.plan", "--format", "markdown", cwd=demo, env=actions)
    assert done.code == 0 and done.stdout.startswith(MARKER)
    assert not (demo / "summary.md").exists() and not (demo / "output.txt").exists()


def test_license_counts_are_per_user_and_product_losses_and_gains():
    loss = {"userId": "u", "skuPartNumber": "E5"}
    document = {
        "changesPresent": True,
        "summary": {"add": 0, "change": 1, "remove": 0},
        "impact": {
            "licenseRemovals": [loss, loss],
            "planRemovals": [loss],
            "licenseAdditions": [loss],
            "planAdditions": [loss, loss],
        },
        "guards": {"refused": True},
    }
    outputs = plan_outputs(document, "<!-- m -->", None)
    assert outputs["license_removals"] == "3" and outputs["license_additions"] == "3"
    assert outputs["refused"] == "true" and "plan_file" not in outputs


def test_an_output_with_a_line_break_uses_a_delimiter():
    text = output_text({"a": "1", "plan_file": "odd\nname"})
    lines = text.splitlines()
    assert lines[0] == "a=1"
    assert lines[1].startswith("plan_file<<ghadelimiter_") and lines[2] == "odd"
    assert lines[3] == "name" and lines[4] == lines[1].split("<<")[1]


def test_the_run_link_comes_from_githubs_variables_in_actions_only():
    environ = {
        "GITHUB_SERVER_URL": "https://github.com",
        "GITHUB_REPOSITORY": "contoso/licensing",
        "GITHUB_RUN_ID": "42",
    }
    assert run_url(environ) is None
    assert run_url({**environ, "GITHUB_ACTIONS": "true"}) == (
        "https://github.com/contoso/licensing/actions/runs/42"
    )


def test_a_file_outside_the_workspace_keeps_its_path(tmp_path):
    environ = {"GITHUB_WORKSPACE": str(tmp_path / "repo")}
    assert repo_path("/elsewhere/a.yaml", environ) == "/elsewhere/a.yaml"
    assert repo_path(str(tmp_path / "repo" / "p" / "a.yaml"), environ) == "p/a.yaml"
    assert repo_path("p/a.yaml", {}) == "p/a.yaml"


def test_the_json_plan_on_stdout_is_untouched_by_annotations(run, demo, actions):
    done = run("plan", "--format", "json", cwd=demo, env=actions)
    json.loads(done.stdout)
    assert "::warning" not in done.stdout
