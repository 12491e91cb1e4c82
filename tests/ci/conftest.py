"""A policy repository as the example pipelines expect one, over a local tenant, and the values of
a GitHub Actions run that the workflows read."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.ci.runner import BIN, ROOT

TENANT_ID = "00000000-0000-0000-0000-00000000c0de"
CLIENT_ID = "00000000-0000-0000-0000-0000000a11ce"
HEAD_SHA = "1111111111111111111111111111111111111111"
MERGE_SHA = "2222222222222222222222222222222222222222"

# `tenant: graph` in a real policy repository; here the demo's embedded tenant, seeded on first use
CONFIG = "tenant: local:.reconciler/tenant.db\nseed: seed.json\npolicy: policies/\n"


def shipped_tests(folder: Path) -> list[str]:
    """The names of the policy tests in `folder`'s policies/tests/, in file order."""
    names = []
    for file in sorted((folder / "policies" / "tests").glob("*.yaml")):
        names += [
            test["name"] for test in yaml.safe_load(file.read_text(encoding="utf-8"))["tests"]
        ]
    return names


def policy_folder(folder: Path) -> Path:
    """reconciler.yaml, policies/ and a seed for the local tenant, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(ROOT / "policies", folder / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", folder / "seed.json")
    (folder / "reconciler.yaml").write_text(CONFIG, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True)
def _reconciler_installed():
    if not (BIN / "reconciler").exists():
        pytest.skip("the reconciler console script is not installed beside this Python")


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A policy repository: reconciler.yaml and policies/ at the top."""
    return policy_folder(tmp_path / "repo")


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def tenants_workspace(tmp_path: Path) -> Path:
    """A repository of tenant folders, with a last commit that touches only contoso's."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repo"
    for name in ("contoso", "fabrikam"):
        policy_folder(repo / "tenants" / name)
    (repo / ".gitignore").write_text(".reconciler/\n", encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "two tenants")
    (repo / "tenants" / "contoso" / "README.md").write_text("Contoso's licensing.\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "contoso changes")
    return repo


def github_context(event_name: str, workspace: Path, **event) -> dict:
    return {
        "event_name": event_name,
        "event": event,
        "repository": "contoso/licensing",
        "sha": MERGE_SHA,
        "ref": "refs/heads/main",
        "run_id": "4242",
        "run_attempt": "1",
        "token": "test-token",
        "workspace": str(workspace),
        "server_url": "https://github.com",
    }


@pytest.fixture
def pull_request(workspace: Path) -> dict:
    return github_context(
        "pull_request", workspace, pull_request={"number": 7, "head": {"sha": HEAD_SHA}}
    )


@pytest.fixture
def variables() -> dict:
    return {
        "AZURE_CLIENT_ID": CLIENT_ID,
        "AZURE_TENANT_ID": TENANT_ID,
        "AZURE_TENANT_IDS": json.dumps({"contoso": TENANT_ID, "fabrikam": TENANT_ID}),
    }
