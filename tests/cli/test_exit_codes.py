"""One exit-code contract for every command: 0 success, 1 any error, 2 only for changes present
under `--detailed-exitcode` (and drift found by `drift`)."""

from __future__ import annotations

import pytest

from reconciler.cli import cli

COMMANDS = sorted(cli.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_mistyped_option_exits_1_not_2(run, command):
    result = run(command, "--no-such-option")
    assert result.code == 1, result.stderr
    assert "No such option" in result.stderr or "No such command" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_unknown_command_exits_1(run):
    result = run("plna")
    assert result.code == 1
    assert "No such command 'plna'" in result.stderr


def test_a_bad_option_value_exits_1_even_with_detailed_exitcode(run, demo):
    result = run("plan", "--detailed-exitcode", "--format", "yaml", cwd=demo)
    assert result.code == 1
    assert "Invalid value for '--format'" in result.stderr


def test_help_and_version_exit_0(run):
    assert run("--help").code == 0
    assert run("plan", "--help").code == 0
    assert run("--version").code == 0
