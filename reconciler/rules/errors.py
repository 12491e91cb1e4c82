"""Errors of the rule language: a stable code, a plain message and the span it points at."""

from __future__ import annotations

from reconciler.errors import ReconcilerError
from reconciler.rules.ast import Span


class RuleError(ReconcilerError):
    """An invalid membership rule; `span` is the exact character range at fault."""

    def __init__(self, code: str, message: str, span: Span, hint: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.span = span
        self.hint = hint
        self.rule_text: str | None = None

    def __str__(self) -> str:
        return f"column {self.span.start + 1}: {self.message} [{self.code}]"


class RuleEvaluationError(ReconcilerError):
    """A valid rule that can't be evaluated on some object, as Entra's "Processing error"."""
