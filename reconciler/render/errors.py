"""Turns a ReconcilerError into the message a person reads: one line per problem.

A message can quote a name or a value from the tenant or the policy (or a service's error text):
it is shown through `shown`, so it stays one line and can't draw one of its own."""

from __future__ import annotations

from reconciler.errors import ReconcilerError
from reconciler.policy.errors import PolicyError
from reconciler.render.safe_text import shown
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
        lines = [f"error[{error.code}]: {shown(error.message)}"]
        if error.location is not None:
            lines[0] = f"{shown(error.location)}: {lines[0]}"
        lines += underline(error.rule_text, error.span)
        if error.hint:
            lines.append(f"hint: {shown(error.hint)}")
        return "\n".join(lines)
    return f"error: {shown(error)}"


def underline(text: str, span: Span, indent: str = "  ") -> list[str]:
    """The line of `text` holding `span`, with carets under the span (under the escapes of the
    characters `shown` writes as escapes, so they still line up)."""
    line_start = text.rfind("\n", 0, span.start) + 1
    line_end = text.find("\n", span.start)
    if line_end == -1:
        line_end = len(text)
    before = shown(text[line_start : span.start])
    marked = shown(text[span.start : min(span.end, line_end)])
    after = shown(text[min(span.end, line_end) : line_end])
    carets = " " * len(before) + "^" * max(1, len(marked))
    return [indent + before + marked + after, indent + carets]
