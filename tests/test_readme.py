"""The README's Quickstart stays true: two commands, the second run verbatim by CI."""

import re
import shlex
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


def test_quickstart_main_command_runs_against_the_example_files():
    # the installed console script is what the README calls; run the same arguments here
    main = _quickstart()[0].split("&& .venv/bin/reconciler ", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", *shlex.split(main)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"^members: \d+ of \d+ users$", done.stdout, re.MULTILINE)
