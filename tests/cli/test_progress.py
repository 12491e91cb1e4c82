"""Progress of long commands on stderr: the real CLI in a subprocess, in a pipe and at a terminal.

In a pipe a line comes every RECONCILER_PROGRESS_INTERVAL seconds (0: at every report, which
these tests use to see every stage), at a terminal one line is redrawn in place, and with
--quiet nothing; stdout never carries any of it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import time
from pathlib import Path

import pytest

from reconciler.cli.progress import INTERVAL_VARIABLE, StderrProgress
from reconciler.emulator import running
from tests.cli.conftest import ROOT
from tests.terminal import on_a_terminal

EVERY_REPORT = {INTERVAL_VARIABLE: "0"}


def _progress(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("progress: ")]


def _others(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("progress: ")]


@pytest.fixture
def graph_workspace(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    return tmp_path


# what `plan` says it does, in order (the users counted are the demo tenant's)
PLAN_STAGES = (
    "reading policy",
    "reading tenant",
    "comparing the policy with the tenant",
    "evaluating rules and licenses of 200 users",
    "working out who gains and loses what",
    "checking the plan",
)


def test_plan_in_a_pipe_names_each_stage_when_the_interval_is_zero(run, demo):
    result = run("plan", cwd=demo, env=EVERY_REPORT)
    assert result.code == 0, result.stderr
    lines = _progress(result.stderr)
    for stage in PLAN_STAGES:
        assert any(line.startswith(f"progress: {stage}") for line in lines), lines
        finished = rf"progress: {re.escape(stage)}[^:]*: done in \d+\.\ds"
        assert any(re.fullmatch(finished, line) for line in lines), lines
    assert _others(result.stderr) == []  # nothing else reached stderr
    # the plan itself is as it always was, with no progress in it
    assert "Plan: 1 to add, 4 to change, 1 to remove." in result.stdout
    assert "progress" not in result.stdout


def test_plan_json_stays_json_with_progress_on(run, demo):
    result = run("plan", "--format", "json", cwd=demo, env=EVERY_REPORT)
    assert result.code == 0, result.stderr
    assert result.json()["changesPresent"] is True
    assert any(
        line.startswith("progress: evaluating rules and licenses of 200 users")
        for line in _progress(result.stderr)
    )


def test_apply_counts_its_changes_and_its_json_events_stay_json(run, demo):
    applied = run(
        "apply",
        "--auto-approve",
        "--allow-removals",
        "--format",
        "json",
        cwd=demo,
        env=EVERY_REPORT,
    )
    assert applied.code == 0, applied.stderr
    events = [json.loads(line) for line in applied.stdout.splitlines()]
    done = [event for event in events if event.get("type") == "apply_complete"]
    total = len(done)
    assert total > 1
    lines = _progress(applied.stderr)
    steps = [line for line in lines if line.startswith("progress: applying changes: ")]
    # a line as the changes begin, one per change made, and the end
    assert steps[0].startswith(f"progress: applying changes: 0/{total} (")
    for index in range(1, total + 1):
        assert any(
            line.startswith(f"progress: applying changes: {index}/{total}") for line in steps
        )
    assert re.fullmatch(
        rf"progress: applying changes: {total}/{total}, done in \d+\.\ds", steps[-1]
    )


@pytest.mark.parametrize(
    "command",
    [
        ["plan", "--quiet"],
        ["plan", "-q", "--format", "json"],
        ["apply", "--auto-approve", "--allow-removals", "--quiet"],
        ["import", "--quiet", "--out", "imported"],
        ["tenant", "export", "--quiet", "--out", "exported.json"],
        ["tenant", "import", "seed.json", "--quiet"],
    ],
    ids=["plan", "plan-json", "apply", "import", "tenant-export", "tenant-import"],
)
def test_quiet_shows_no_progress_even_at_every_report(run, demo, command):
    result = run(*command, cwd=demo, env=EVERY_REPORT)
    assert result.code == 0, result.stderr
    assert "progress" not in result.stderr
    # the same command without --quiet does report, so the flag is what silenced it (import
    # writes to a folder of its own: it never overwrites a file)
    loud = [{"imported": "imported-loud"}.get(w, w) for w in command if w not in ("--quiet", "-q")]
    reported = run(*loud, cwd=demo, env=EVERY_REPORT)
    assert reported.code == 0, reported.stderr
    assert _progress(reported.stderr)


def test_a_quick_run_in_a_pipe_shows_no_progress_by_default(run, demo):
    assert INTERVAL_VARIABLE not in os.environ  # tests/conftest.py keeps the default
    result = run("plan", cwd=demo)
    assert result.code == 0
    assert result.stderr == ""  # it took less than the default interval: nothing at all
    # though the same run does report, when every report gets its line
    assert _progress(run("plan", cwd=demo, env=EVERY_REPORT).stderr)


def test_import_and_tenant_files_report_their_stages(run, demo):
    imported = run("import", "--out", "imported", cwd=demo, env=EVERY_REPORT)
    assert imported.code == 0, imported.stderr
    lines = _progress(imported.stderr)
    composed = [line for line in lines if line.startswith("progress: composing a policy file")]
    assert re.fullmatch(
        r"progress: composing a policy file per group: (\d+)/\1, done in .*", composed[-1]
    )
    assert any(line.startswith("progress: writing ") for line in lines)

    exported = run("tenant", "export", "--out", "exported.json", cwd=demo, env=EVERY_REPORT)
    assert exported.code == 0, exported.stderr
    assert "progress: writing exported.json (" in "\n".join(_progress(exported.stderr))
    assert exported.stdout == "wrote exported.json\n"

    loaded = run("tenant", "import", "exported.json", cwd=demo, env=EVERY_REPORT)
    assert loaded.code == 0, loaded.stderr
    stages = _progress(loaded.stderr)
    assert any(line.startswith("progress: reading snapshot exported.json") for line in stages)
    assert any(line.startswith("progress: writing local tenant ") for line in stages)

    snapshot = run("plan", "--tenant", "snapshot:exported.json", cwd=demo, env=EVERY_REPORT)
    assert "progress: reading snapshot exported.json (" in "\n".join(_progress(snapshot.stderr))


def test_a_terminal_sees_one_line_redrawn_in_place_then_erased(demo, tmp_path):
    plan = tmp_path / "plan.txt"
    code, output = on_a_terminal(["plan"], demo, stdout=plan)
    assert code == 0, output
    written = output.decode()
    # each stage is drawn over the one before, from the start of the same line
    draws = re.findall(r"\r([a-z][^\r\b]*?) \(\d+\.\ds\)", written)
    # (a stage that lasts is drawn again, its time going on)
    stages = [name for n, name in enumerate(draws) if n == 0 or draws[n - 1] != name]
    assert stages[:2] == ["reading policy", "reading tenant"], written
    assert [s for s in stages if s.startswith(PLAN_STAGES[2:])] == list(PLAN_STAGES[2:]), stages
    assert "\n" not in written  # never a new line: everything happens on one
    # and the line is left blank, for what comes next
    assert re.search(r"\r +\r$", written), written
    assert "Plan: 1 to add" in plan.read_text()
    assert "reading" not in plan.read_text()


def test_a_terminal_with_quiet_sees_nothing(demo, tmp_path):
    assert on_a_terminal(["plan", "--quiet"], demo, stdout=tmp_path / "plan.txt") == (0, b"")


def test_graph_reads_report_the_users_and_groups_read(run, graph_workspace):
    with running(str(graph_workspace / "tenant.json")) as emulator:
        url = ["--graph-url", emulator.url]
        first = run("plan", *url, cwd=graph_workspace, env=EVERY_REPORT)
        again = run("plan", *url, cwd=graph_workspace, env=EVERY_REPORT)
    assert first.code == again.code == 0, first.stderr + again.stderr
    read = [line for line in _progress(first.stderr) if "from Microsoft Graph" in line]
    # the Contoso tenant: 200 users and 9 groups, counted as the pages come
    assert re.fullmatch(
        r"progress: reading tenant from Microsoft Graph: (9 groups, 200 users|200 users, 9 groups)"
        r", done in \d+\.\ds",
        read[-1],
    ), read
    assert len(read) > 2  # a line per page as it came, then the end
    # the second plan reads only what changed since (delta queries): nothing
    again_read = [line for line in _progress(again.stderr) if "from Microsoft Graph" in line]
    assert "0 changed groups, 0 changed users, done in" in again_read[-1], again_read


def test_a_slow_read_in_a_pipe_gets_a_line_every_interval(run, graph_workspace):
    # every Graph request takes 0.6 s: work that goes on between reports still gets its lines
    with running(str(graph_workspace / "tenant.json"), faults="slow:ms=600") as emulator:
        started = time.monotonic()
        result = run(
            "plan", "--graph-url", emulator.url, cwd=graph_workspace, env={INTERVAL_VARIABLE: "0.5"}
        )
        seconds = time.monotonic() - started
    assert result.code == 0, result.stderr
    lines = _progress(result.stderr)
    assert any(line.startswith("progress: reading tenant from Microsoft Graph") for line in lines)
    # about one a half-second, not one per report (with an end line for each stage shown)
    assert 1 <= len([line for line in lines if "done in" not in line]) <= seconds / 0.5 + 1


def test_lines_wait_a_whole_interval_and_stages_under_it_say_nothing():
    now = [0.0]
    stream = io.StringIO()
    progress = StderrProgress(stream, "lines", interval=3600, clock=lambda: now[0])
    with progress:
        progress.stage("reading tenant")
        progress.advance(200, what="users")
        now[0] = 10.0
        progress.stage("planning")
        progress.done()
    assert stream.getvalue() == ""
