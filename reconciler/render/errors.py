"""Turns a ReconcilerError into the message a person reads: one line per problem."""

from __future__ import annotations

from reconciler.errors import ReconcilerError
from reconciler.policy.errors import PolicyError
from reconciler.rules.ast import Span
from reconciler.rules.errors import RuleError


def error_text(error: ReconcilerError) -> str:
    """The error as a person reads it; a policy with several problems, one line each, counted."""
    problems = error.errors if isinstance(error, PolicyError) else (error,)
    if len(problems) < 2:
        return _one(error)
    files = {problem.location.file for problem in problems if problem.location is not None}
    count = f"{len(problems)} problems in {len(files)} file{'s' * (len(files) != 1)}"
    return "\n".join([*(_one(problem) for problem in problems), count])


def _one(error: ReconcilerError) -> str:
    if isinstance(error, RuleError) and error.rule_text is not None:
        lines = [f"error[{error.code}]: {error.message}"]
        if error.location is not None:
            lines[0] = f"{error.location}: {lines[0]}"
        lines += underline(error.rule_text, error.span)
        if error.hint:
            lines.append(f"hint: {error.hint}")
        return "\n".join(lines)
    return f"error: {error}"


def underline(text: str, span: Span, indent: str = "  ") -> list[str]:
    """The line of `text` holding `span`, with carets under the span."""
    line_start = text.rfind("\n", 0, span.start) + 1
    line_end = text.find("\n", span.start)
    if line_end == -1:
        line_end = len(text)
    line = text[line_start:line_end]
    column = span.start - line_start
    width = max(1, min(span.end, line_end) - span.start)
    return [indent + line, indent + " " * column + "^" * width]
