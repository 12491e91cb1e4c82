"""The README's Quickstart stays true: two commands, the second run verbatim by CI."""

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _quickstart() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quickstart\s+```console\n(.*?)```", text, re.DOTALL)
    assert block, "README has no Quickstart code block"
    return block.group(1).strip().splitlines()


def test_quickstart_has_exactly_two_one_line_commands():
    commands = _quickstart()
    assert len(commands) == 2
    assert all(command.startswith("python3 -m venv .venv && ") for command in commands)


def test_ci_runs_the_quickstart_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _quickstart()[1] in ci


def test_quickstart_main_command_plans_the_demo_against_the_embedded_tenant(tmp_path):
    # the installed console script is what the README calls; run the same arguments here, on a
    # copy of the repository so the embedded tenant it creates on first use is a fresh one
    for name in ("reconciler.yaml", "policies", "examples"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, tmp_path / name)
        else:
            shutil.copy(source, tmp_path / name)
    main = _quickstart()[0].split("&& .venv/bin/reconciler ", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *shlex.split(main)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^Plan: \d+ to add, \d+ to change, \d+ to remove\.$", done.stdout, re.M)
    assert (tmp_path / ".reconciler" / "tenant.db").is_file()
