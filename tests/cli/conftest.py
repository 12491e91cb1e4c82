import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    code: int
    stdout: str
    stderr: str

    def json(self):
        return json.loads(self.stdout)


@pytest.fixture
def run():
    """Runs the real `reconciler` command in a subprocess; `env` adds environment variables."""

    def run(*args: str, cwd: Path = ROOT, env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            capture_output=True,
            text=True,
            cwd=cwd,
            timeout=120,
            env={**os.environ, **(env or {})},
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A copy of the repository's demo: configuration, policies and the seed tenant."""
    shutil.copytree(ROOT / "policies", tmp_path / "policies")
    shutil.copy(ROOT / "examples" / "contoso" / "tenant.json", tmp_path / "seed.json")
    (tmp_path / "reconciler.yaml").write_text(
        "tenant: local:state/tenant.db\nseed: seed.json\npolicy: policies/\n"
    )
    return tmp_path


@pytest.fixture
def users_file(tmp_path: Path) -> Path:
    users = [
        {
            "id": "11111111-1111-1111-1111-111111111111",
            "userPrincipalName": "ana@contoso.com",
            "department": "Sales",
            "accountEnabled": True,
            "country": "US",
        },
        {
            "id": "22222222-2222-2222-2222-222222222222",
            "userPrincipalName": "ben@contoso.com",
            "department": "sales",
            "accountEnabled": False,
            "country": "GB",
        },
        {
            "id": "33333333-3333-3333-3333-333333333333",
            "userPrincipalName": "cy@contoso.com",
            "department": "Marketing",
            "accountEnabled": True,
            "country": "US",
        },
        {
            "id": "44444444-4444-4444-4444-444444444444",
            "userPrincipalName": "di@contoso.com",
            "accountEnabled": True,
        },
    ]
    path = tmp_path / "users.json"
    path.write_text(json.dumps({"value": users}))
    return path
