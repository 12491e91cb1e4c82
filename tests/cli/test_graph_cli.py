"""`--tenant graph` end to end: the real CLI in a subprocess, the emulator over loopback HTTP."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest

from reconciler.emulator import running
from reconciler.providers.graph_auth import EMULATOR_TOKEN
from tests.cli.conftest import ROOT

FAULTS = "429:every=5,retry-after=0.2;503:rate=0.1,retry-after=0.1;seed=42"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "tenant.json")
    (tmp_path / "reconciler.yaml").write_text("tenant: graph\npolicy: policies/\n")
    return tmp_path


def _reads(counts: dict[str, int]) -> int:
    return sum(n for key, n in counts.items() if key.startswith("GET ") or key == "POST /$batch")


@pytest.mark.parametrize("faults", [None, FAULTS], ids=["clean", "throttled"])
def test_plan_apply_plan_through_graph_ends_with_no_changes(run, workspace, faults):
    with running(str(workspace / "tenant.json"), faults=faults) as emulator:
        url = ["--graph-url", emulator.url]
        planned = run("plan", "--detailed-exitcode", *url, cwd=workspace)
        assert planned.code == 2, planned.stderr
        assert "Plan: 1 to add, 4 to change, 1 to remove." in planned.stdout
        if faults is None:
            # 200 users and 9 groups: one delta page each at 999, members with the groups;
            # the small constant is organization and SKUs
            counts = emulator.counts()
            assert counts["GET /users/delta"] == math.ceil(200 / 999)
            assert counts["GET /groups/delta"] == math.ceil(9 / 999)
            assert _reads(counts) == math.ceil(200 / 999) + math.ceil(9 / 999) + 2

        applied = run("apply", "--auto-approve", "--allow-removals", *url, cwd=workspace)
        assert applied.code == 0, applied.stderr
        assert "Apply complete! 1 added, 4 changed, 1 removed." in applied.stdout

        again = run("plan", "--detailed-exitcode", *url, cwd=workspace)
        assert again.code == 0, again.stdout + again.stderr
        assert "No changes." in again.stdout
        for result in (planned, applied, again):
            assert EMULATOR_TOKEN not in result.stdout + result.stderr
            assert "Traceback" not in result.stderr


def test_a_graph_that_cant_be_reached_is_one_message(run, workspace):
    result = run("plan", "--graph-url", "http://127.0.0.1:9/v1.0", cwd=workspace)
    assert result.code == 1
    assert "Traceback" not in result.stderr
    assert "GET /" in result.stderr and "failed" in result.stderr


def test_graph_url_can_come_from_the_configuration(run, workspace):
    with running(str(workspace / "tenant.json")) as emulator:
        (workspace / "reconciler.yaml").write_text(
            f"tenant: graph\npolicy: policies/\ngraphUrl: {emulator.url}\n"
        )
        result = run("validate", cwd=workspace)
    assert result.code == 0, result.stderr
    assert "managed groups" in result.stdout
