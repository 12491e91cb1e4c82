"""GitHub Actions, natively: where GITHUB_ACTIONS is "true", `plan` also writes its Markdown to
the job summary, its numbers to the step's outputs, and its findings as annotations (stderr).

Nothing here runs anywhere else. The plan is made and printed before these are written; a
summary or outputs file that can't be written is still an error (exit 1), as in tfcmt: a
workflow that loses them can let a plan's changes go unseen.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import click

from reconciler.errors import Location, ReconcilerError
from reconciler.policy.errors import PolicyError
from reconciler.render.annotations import Annotation, annotation_lines

SUMMARY = "GITHUB_STEP_SUMMARY"
OUTPUT = "GITHUB_OUTPUT"

Environ = Mapping[str, str]


class ReportError(ReconcilerError):
    """The plan was made, but GitHub's job summary or step outputs couldn't be written."""


def active(environ: Environ | None = None) -> bool:
    """True in a GitHub Actions step (GitHub sets GITHUB_ACTIONS=true there, and only there)."""
    return (os.environ if environ is None else environ).get("GITHUB_ACTIONS") == "true"


def run_url(environ: Environ | None = None) -> str | None:
    """The page of the running workflow, from the variables GitHub sets; None outside it."""
    environ = os.environ if environ is None else environ
    parts = [environ.get(name) for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY")]
    run_id = environ.get("GITHUB_RUN_ID")
    if not active(environ) or not all(parts) or not run_id:
        return None
    return f"{parts[0]}/{parts[1]}/actions/runs/{run_id}"


def plan_outputs(document: Mapping[str, Any], marker: str, plan_file: str | None) -> dict[str, str]:
    """The step outputs of a plan (docs/pr-review.md says what each counts)."""
    impact, summary = document["impact"], document["summary"]
    outputs = {
        "changes_present": _flag(document["changesPresent"]),
        "to_add": str(summary["add"]),
        "to_change": str(summary["change"]),
        "to_remove": str(summary["remove"]),
        # per user, each product lost plus each product whose service plans shrink: the number
        # the removal guard measures against settings.maxLicenseRemovals
        "license_removals": str(len(impact["licenseRemovals"]) + len(impact["planRemovals"])),
        "license_additions": str(
            len(impact["licenseAdditions"]) + len(impact.get("planAdditions", []))
        ),
        "refused": _flag(document["guards"]["refused"]),
        "comment_marker": marker,
    }
    if plan_file is not None:
        outputs["plan_file"] = plan_file
    return outputs


def report_plan(
    document: Mapping[str, Any],
    markdown: str,
    outputs: Mapping[str, str],
    environ: Environ | None = None,
) -> None:
    """Annotations on stderr, then the summary and outputs appended; ReportError if either fails."""
    environ = os.environ if environ is None else environ
    for line in annotation_lines(finding_annotations(document["warnings"], environ)):
        click.echo(line, err=True)
    problems = [
        _append(environ, SUMMARY, markdown + "\n", "the job summary"),
        _append(environ, OUTPUT, output_text(outputs), "the step outputs"),
    ]
    failed = [problem for problem in problems if problem is not None]
    if failed:
        raise ReportError(f"the plan was made, but {'; and '.join(failed)}")


def report_failure(error: ReconcilerError, environ: Environ | None = None) -> None:
    """A failed plan's problems as error annotations, on the policy lines they point at."""
    environ = os.environ if environ is None else environ
    problems = error.errors if isinstance(error, PolicyError) else (error,)
    annotations = []
    for problem in problems:
        where = problem.location
        if where is not None:
            where = Location(repo_path(where.file, environ), where.line, where.column)
        rule_error = getattr(problem, "rule_error", problem)
        code = getattr(rule_error, "code", None)
        annotations.append(Annotation("error", problem.message, code, where))
    for line in annotation_lines(annotations):
        click.echo(line, err=True)


def finding_annotations(
    warnings: Iterable[Mapping[str, Any]], environ: Environ
) -> list[Annotation]:
    """An annotation per finding with a place in the policy; the others are in the summary."""
    annotations = []
    for warning in warnings:
        if not warning.get("file"):
            continue
        where = Location(
            repo_path(warning["file"], environ), warning.get("line"), warning.get("column")
        )
        message = warning["message"]
        if warning.get("hint"):
            message += f"\nhint: {warning['hint']}"
        annotations.append(Annotation(warning["severity"], message, warning["code"], where))
    return annotations


def repo_path(file: str, environ: Environ) -> str:
    """`file` relative to the repository (GITHUB_WORKSPACE), as annotations need it.

    A policy read from a subfolder (a step's working-directory) would otherwise annotate a
    path GitHub can't find; a file outside the workspace is left as it is.
    """
    workspace = environ.get("GITHUB_WORKSPACE")
    if not workspace:
        return file
    try:
        absolute = (Path.cwd() / file).resolve()
        return absolute.relative_to(Path(workspace).resolve()).as_posix()
    except (ValueError, OSError):
        return file


def output_text(outputs: Mapping[str, str]) -> str:
    """`name=value` lines; a value with a line break in GitHub's `name<<DELIMITER` form."""
    lines = []
    for name, value in outputs.items():
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            lines += [f"{name}<<{delimiter}", value, delimiter]
        else:
            lines.append(f"{name}={value}")
    return "\n".join(lines) + "\n"


def _append(environ: Environ, variable: str, text: str, what: str) -> str | None:
    """Appends `text` to the file `variable` names (as `>>` would); what went wrong, or None."""
    name = environ.get(variable)
    if not name:
        return f"{variable} is not set, so {what} can't be written"
    try:
        with open(name, "a", encoding="utf-8") as file:
            file.write(text)
    except OSError as exc:
        return f"can't write {what} to {name} ({variable}): {exc.strerror or exc}"
    return None


def _flag(value: bool) -> str:
    return "true" if value else "false"
