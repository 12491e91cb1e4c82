"""Renders the results of `rule check`, `rule test` and `rule diff` as text or JSON.

The text shows rules and the names of users and groups through `shown`: none can draw a line
of its own."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from reconciler.errors import line_and_column
from reconciler.render.errors import underline
from reconciler.render.safe_text import shown
from reconciler.rules.ast import Rule, Span
from reconciler.rules.errors import RuleError
from reconciler.rules.explain import Decision
from reconciler.rules.linter import Lint
from reconciler.rules.printer import to_text


def _span_json(text: str, span: Span) -> dict[str, int]:
    line, column = line_and_column(text, span.start)
    return {"start": span.start, "end": span.end, "line": line, "column": column}


def check_json(text: str, rule: Rule | None, error: RuleError | None, lints: Sequence[Lint]) -> str:
    errors = []
    if error is not None:
        errors.append(
            {"code": error.code, "message": error.message, "hint": error.hint}
            | _span_json(text, error.span)
        )
    document = {
        "valid": rule is not None,
        "objectType": rule.object_type if rule else None,
        "canonical": to_text(rule) if rule else None,
        "errors": errors,
        "lints": [
            {
                "code": lint.code,
                "severity": lint.severity,
                "message": lint.message,
                "suggestion": lint.suggestion,
            }
            | _span_json(text, lint.span)
            for lint in lints
        ],
    }
    return json.dumps(document, indent=2)


def check_text(rule: Rule, lints: Sequence[Lint]) -> str:
    lines = [f"valid {rule.object_type} rule"]
    for lint in lints:
        lines.append(f"{lint.severity}[{lint.code}]: {shown(lint.message)}")
        lines += underline(rule.text, lint.span)
        if lint.suggestion:
            lines.append(f"  suggestion: {shown(lint.suggestion)}")
    return "\n".join(lines)


def _noun(rule: Rule, count: int) -> str:
    noun = rule.object_type if count == 1 else f"{rule.object_type}s"
    return f"{count} {noun}"


def membership_text(rule: Rule, results: Sequence[tuple[dict[str, Any], Decision]]) -> str:
    width = max((len(shown(_label(obj))) for obj, _ in results), default=0)
    lines = []
    for obj, decision in results:
        verdict = "member    " if decision.member else "not member"
        reasons = shown("; ".join(_source(rule, node.span) for node in decision.decided_by))
        lines.append(f"{verdict}  {shown(_label(obj)):<{width}}  {reasons}")
    members = sum(1 for _, decision in results if decision.member)
    lines.append(f"members: {members} of {_noun(rule, len(results))}")
    return "\n".join(lines)


def membership_json(rule: Rule, results: Sequence[tuple[dict[str, Any], Decision]]) -> str:
    name_key = _name_key(rule.object_type)
    document = [
        {
            "id": obj.get("id"),
            name_key: obj.get(name_key),
            "member": decision.member,
            "decidedBy": [_source(rule, node.span) for node in decision.decided_by],
        }
        for obj, decision in results
    ]
    return json.dumps(document, indent=2)


def diff_text(joins: Sequence[dict], leaves: Sequence[dict], stay: int) -> str:
    lines = [f"- leaves  {shown(_label(obj))}" for obj in leaves]
    lines += [f"+ joins   {shown(_label(obj))}" for obj in joins]
    lines.append(f"{len(joins)} joining, {len(leaves)} leaving, {stay} staying")
    return "\n".join(lines)


def diff_json(object_type: str, joins: Sequence[dict], leaves: Sequence[dict], stay: int) -> str:
    name_key = _name_key(object_type)

    def entry(obj: dict) -> dict:
        return {"id": obj.get("id"), name_key: obj.get(name_key)}

    document = {
        "joins": [entry(obj) for obj in joins],
        "leaves": [entry(obj) for obj in leaves],
        "staying": stay,
    }
    return json.dumps(document, indent=2)


def _label(obj: dict[str, Any]) -> str:
    """How an object is named to people: its UPN, else its display name, else its id."""
    return str(obj.get("userPrincipalName") or obj.get("displayName") or obj.get("id") or "?")


def _name_key(object_type: str) -> str:
    return "userPrincipalName" if object_type == "user" else "displayName"


def _source(rule: Rule, span: Span) -> str:
    """The expression as the rule's author wrote it."""
    return " ".join(rule.text[span.start : span.end].split())
