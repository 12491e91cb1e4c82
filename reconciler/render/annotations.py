"""GitHub Actions workflow commands: findings as annotations on the policy's lines.

GitHub shows at most 10 annotations of each level per step and drops the rest without a word,
so the lines stop there and one more line says how many were left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from reconciler.errors import Location
from reconciler.render.safe_text import shown_lines

PER_STEP = 10  # annotations GitHub shows per level and step
# a finding's severity, as the level of its workflow command
LEVELS = {"error": "error", "warning": "warning", "info": "notice"}


@dataclass(frozen=True, slots=True)
class Annotation:
    """One finding: `severity` is error, warning or info; `title` is its code."""

    severity: str
    message: str
    title: str | None = None
    location: Location | None = None


def annotation_lines(annotations: Iterable[Annotation]) -> list[str]:
    """Workflow commands, errors first, at most PER_STEP of each level, then what was left out."""
    shown: dict[str, int] = {}
    left_out = 0
    lines = []
    ordered = sorted(annotations, key=lambda a: list(LEVELS).index(a.severity))
    for annotation in ordered:
        level = LEVELS[annotation.severity]
        if shown.get(level, 0) == PER_STEP:
            left_out += 1
            continue
        shown[level] = shown.get(level, 0) + 1
        lines.append(workflow_command(level, annotation))
    if left_out:
        noun = "finding" if left_out == 1 else "findings"
        lines.append(
            f"{left_out} more {noun} not annotated (GitHub shows {PER_STEP} of each level per "
            "step); the step's output lists them all"
        )
    return lines


def workflow_command(level: str, annotation: Annotation) -> str:
    """`::level file=...,line=...,col=...,title=...::message`, escaped as the toolkit does."""
    properties = []
    where = annotation.location
    if where is not None:
        properties.append(f"file={_property(where.file)}")
        if where.line is not None:
            properties.append(f"line={where.line}")
            if where.column is not None:
                properties.append(f"col={where.column}")
    if annotation.title:
        properties.append(f"title={_property(annotation.title)}")
    head = f"::{level} {','.join(properties)}" if properties else f"::{level}"
    return f"{head}::{_data(annotation.message)}"


def _data(text: str) -> str:
    # the log shows ESC sequences and bidirectional controls as they are: those become escapes
    return shown_lines(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")
