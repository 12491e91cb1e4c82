"""`reconciler validate` for people (text) and for GitHub Actions (annotations on the files).

The text lists every finding as `severity: file:line:column: message`, then counts them; an
error reads as it always has, so a policy without lints prints what it printed before lints
were reported. Messages, hints and paths are shown through `shown`: a value quoted from a
policy file can't draw a line of its own.
"""

from __future__ import annotations

from reconciler.render.annotations import Annotation, annotation_lines
from reconciler.render.safe_text import shown
from reconciler.render.validate_report import (
    ERROR,
    INFO,
    UNCHECKED,
    WARNING,
    Diagnostic,
    ValidateReport,
)


def finding_lines(report: ValidateReport) -> list[str]:
    """Every finding, a line each (and a hint line under a lint), then the count line."""
    lines: list[str] = []
    for found in report.diagnostics:
        lines += _finding(found)
    count = count_line(report)
    if count:
        lines.append(count)
    if report.names == "none" and not report.valid:
        lines.append(f"note: {UNCHECKED}")  # a valid policy's verdict says so
    return lines


def _finding(found: Diagnostic) -> list[str]:
    where = f"{shown(found.location)}: " if found.location else ""
    message = shown(found.message)
    if found.severity == ERROR:
        # as every command prints a policy error; a rule error's message carries its code
        return [f"error: {where}{message}"]
    lines = [f"{found.severity}: {where}{message} [{found.code}]"]
    if found.hint:
        lines.append(f"  hint: {shown(found.hint)}")
    return lines


def count_line(report: ValidateReport) -> str | None:
    """`5 problems in 5 files` for errors alone (none for one error); counted by severity when
    there are lints, with what --strict makes of them."""
    errors, warnings, infos = (report.count(level) for level in (ERROR, WARNING, INFO))
    if not warnings and not infos:
        return None if errors < 2 else f"{errors} problems in {_files(report.files)}"
    line = f"{severities(report)} in {_files(report.files)}"
    if report.strict and warnings and not errors:
        line += " (--strict: warnings fail the check)"
    return line


def severities(report: ValidateReport) -> str:
    """`1 error, 2 warnings, 1 info`: the severities found, most serious first."""
    parts = []
    for level in (ERROR, WARNING, INFO):
        count = report.count(level)
        if count:
            parts.append(f"{count} {level}{'s' * (count != 1 and level != INFO)}")
    return ", ".join(parts) or "no findings"


def _files(count: int) -> str:
    return f"{count} file{'s' * (count != 1)}"


def verdict(report: ValidateReport) -> str:
    """What was checked, for a policy without errors."""
    head = f"policy in {shown(report.policy)} is valid"
    if report.names == "tenant":
        return f"{head}: {report.groups} managed groups, {report.retired} to retire"
    if report.names == "lock":
        return (
            f"{head} (SKUs and service plans checked against {shown(report.lock_file)}; members "
            "and groups not checked against a tenant)"
        )
    return f"{head} (names not checked against a tenant, nor against a skus.lock.yaml)"


def summary(report: ValidateReport) -> str:
    """One line: the verdict, or what makes the policy invalid."""
    if not report.valid:
        line = f"policy in {shown(report.policy)} is invalid: {severities(report)}"
        return f"{line} in {_files(report.files)}"
    if not report.diagnostics:
        return verdict(report)
    line = f"{verdict(report)}; {severities(report)} in {_files(report.files)}"
    if report.exit_code:
        line += " (--strict: warnings fail the check)"
    return line


def github_lines(report: ValidateReport) -> list[str]:
    """Every finding in a collapsed group of the log, an annotation per finding (GitHub shows
    ten of each level), then the summary.

    The group lists what the annotations leave out. Each line of it starts with the severity,
    and a message's line breaks are joined, so no text from a policy file can start a line
    and be taken for a workflow command.
    """
    lines: list[str] = []
    if report.diagnostics:
        lines.append(f"::group::{severities(report)} in {_files(report.files)}")
        lines += (
            " ".join(line.splitlines()) for found in report.diagnostics for line in _finding(found)
        )
        lines.append("::endgroup::")
    lines += annotation_lines(_annotation(found) for found in report.diagnostics)
    lines.append(summary(report))
    return lines


def _annotation(found: Diagnostic) -> Annotation:
    message = f"{found.message}\n{found.hint}" if found.hint else found.message
    return Annotation(found.severity, message, found.code, found.location)
