"""`reconciler fmt` end to end, in a subprocess, on files in a temporary folder."""

from pathlib import Path

import pytest

MESSY = "# the guard\nsettings:\n    maxLicenseRemovals: 5   \ngroups:\n- displayName: A\n\n\n"
CANONICAL = "# the guard\nsettings:\n  maxLicenseRemovals: 5\ngroups:\n  - displayName: A\n"
CLEAN = "tenant: contoso.onmicrosoft.com\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A configuration naming `pol/` as the policy, with one messy and one canonical file."""
    (tmp_path / "reconciler.yaml").write_text("policy: pol/\n")
    (tmp_path / "pol").mkdir()
    (tmp_path / "pol" / "b.yaml").write_text(MESSY)
    (tmp_path / "pol" / "a.yaml").write_text(CLEAN)
    (tmp_path / "pol" / "skus.lock.yaml").write_text(MESSY)  # `reconciler lock` owns it
    return tmp_path


def test_fmt_rewrites_the_configured_policy_and_lists_the_files_it_changed(run, project):
    result = run("fmt", cwd=project)
    assert (result.code, result.stdout, result.stderr) == (0, "pol/b.yaml\n", "")
    assert (project / "pol" / "b.yaml").read_text() == CANONICAL
    assert (project / "pol" / "a.yaml").read_text() == CLEAN
    assert (project / "pol" / "skus.lock.yaml").read_text() == MESSY


def test_a_path_argument_is_formatted_instead_of_the_configured_policy(run, project):
    (project / "other.yaml").write_text(MESSY)
    result = run("fmt", "other.yaml", cwd=project)
    assert (result.code, result.stdout) == (0, "other.yaml\n")
    assert (project / "other.yaml").read_text() == CANONICAL
    assert (project / "pol" / "b.yaml").read_text() == MESSY


def test_check_lists_the_files_that_would_change_exits_1_and_writes_nothing(run, project):
    result = run("fmt", "--check", cwd=project)
    assert (result.code, result.stdout, result.stderr) == (1, "pol/b.yaml\n", "")
    assert (project / "pol" / "b.yaml").read_text() == MESSY


def test_check_with_diff_prints_a_unified_diff_and_exits_1(run, project):
    result = run("fmt", "--check", "--diff", cwd=project)
    assert result.code == 1
    assert result.stdout == (
        "--- pol/b.yaml\n"
        "+++ pol/b.yaml\n"
        "@@ -1,7 +1,5 @@\n"
        " # the guard\n"
        " settings:\n"
        "-    maxLicenseRemovals: 5   \n"
        "+  maxLicenseRemovals: 5\n"
        " groups:\n"
        "-- displayName: A\n"
        "-\n"
        "-\n"
        "+  - displayName: A\n"
    )
    assert (project / "pol" / "b.yaml").read_text() == MESSY


def test_diff_without_check_rewrites_the_files_and_exits_0(run, project):
    (project / "pol" / "b.yaml").write_text("tenant:   x")  # no newline at the end
    result = run("fmt", "--diff", cwd=project)
    assert (result.code, result.stdout) == (
        0,
        "--- pol/b.yaml\n+++ pol/b.yaml\n@@ -1 +1 @@\n"
        "-tenant:   x\n\\ No newline at end of file\n+tenant: x\n",
    )
    assert (project / "pol" / "b.yaml").read_text() == "tenant: x\n"


def test_malformed_yaml_is_one_message_exit_1_and_no_file_is_written(run, project):
    (project / "pol" / "c.yaml").write_text("groups:\n  - displayName: [A\n")
    result = run("fmt", cwd=project)
    assert result.code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: pol/c.yaml:3:1: invalid YAML: expected ',' or ']', but got '<stream end>' "
        "(while parsing a flow sequence at line 2)\n"
    )
    assert (project / "pol" / "b.yaml").read_text() == MESSY


def test_the_repository_policies_and_examples_are_canonical(run):
    result = run("fmt", "--check", "policies", "examples")
    assert (result.code, result.stdout, result.stderr) == (0, "", "")
