"""`reconciler` run with a pseudo-terminal, as a person at a terminal runs it."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from pathlib import Path


def on_a_terminal(
    args: list[str], cwd: Path, *, stdout: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, bytes]:
    """The exit code of `reconciler ARGS` and what it wrote to the terminal: its stderr, and its
    stdout too unless `stdout` names a file to write that to. NO_COLOR is unset unless `env`
    sets it."""
    leader, follower = os.openpty()
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"} | (env or {})
    opened = open(stdout, "wb") if stdout is not None else contextlib.nullcontext(follower)  # noqa: SIM115
    with opened as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            cwd=cwd,
            stdout=out,
            stderr=follower,
            env=environment,
        )
    os.close(follower)
    written = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        written += chunk
    code = process.wait(timeout=60)
    os.close(leader)
    return code, written
