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
    """A valid rule that can't be evaluated on some object, as Entra's "Processing error".

    Raised for a regular expression that runs out of time; `value_length` is the length of
    the value it ran on. Callers that know more (the group, the object) say so with `within`.
    """

    def __init__(self, message: str, *, value_length: int | None = None) -> None:
        super().__init__(message)
        self.value_length = value_length

    def within(self, context: str) -> RuleEvaluationError:
        """The same error, its message prefixed with where it happened."""
        return RuleEvaluationError(f"{context}: {self.message}", value_length=self.value_length)
