"""Prints a syntax tree back as canonical rule text that parses to the same tree."""

from __future__ import annotations

from reconciler.rules.ast import (
    And,
    BoolValue,
    Comparison,
    DateTimeValue,
    DirectReports,
    Expr,
    ItemRef,
    ListValue,
    MemberOf,
    Not,
    NowValue,
    NullValue,
    Or,
    PropertyRef,
    Quantifier,
    Rule,
    StringValue,
    Value,
)
from reconciler.rules.values import format_datetime, format_duration


def to_text(node: Rule | Expr | DirectReports | MemberOf) -> str:
    """Canonical text: documented spellings, hyphenated operators, double-quoted strings."""
    if isinstance(node, Rule):
        return to_text(node.body)
    if isinstance(node, DirectReports):
        return f"Direct Reports for {quote(node.manager_id)}"
    if isinstance(node, MemberOf):
        ids = ", ".join(quote(group_id) for group_id in node.group_ids)
        return f"{node.object_type}.memberOf -any (group.objectId -in [{ids}])"
    if isinstance(node, Or):
        return " -or ".join(_operand(operand) for operand in node.operands)
    if isinstance(node, And):
        return " -and ".join(_operand(operand) for operand in node.operands)
    if isinstance(node, Not):
        return f"-not ({to_text(node.operand)})"
    if isinstance(node, Quantifier):
        return f"{reference_text(node.collection)} -{node.quantifier} ({to_text(node.body)})"
    if isinstance(node, Comparison):
        return f"{reference_text(node.target)} -{node.operator} {value_text(node.value)}"
    raise TypeError(f"not a rule node: {node!r}")


def _operand(operand: Expr) -> str:
    # An Or inside an And needs parentheses for precedence, and an And inside an And came from
    # explicit parentheses, which keep the tree's shape; bracketing every nested one does both.
    text = to_text(operand)
    return f"({text})" if isinstance(operand, And | Or) else text


def reference_text(target: PropertyRef | ItemRef) -> str:
    """`user.department`, `_` or `assignedPlan.servicePlanId`."""
    if isinstance(target, PropertyRef):
        return f"{target.object_type}.{target.name}"
    return "_" if target.field is None else f"assignedPlan.{target.field}"


def value_text(value: Value) -> str:
    if isinstance(value, StringValue):
        return quote(value.value)
    if isinstance(value, BoolValue):
        return "true" if value.value else "false"
    if isinstance(value, NullValue):
        return "null"
    if isinstance(value, DateTimeValue):
        return format_datetime(value.value)
    if isinstance(value, NowValue):
        if value.offset is None:
            return "system.now"
        return f"system.now -plus {format_duration(value.offset)}"
    if isinstance(value, ListValue):
        return "[" + ", ".join(quote(item.value) for item in value.items) + "]"
    raise TypeError(f"not a value: {value!r}")


def quote(text: str) -> str:
    """A double-quoted string; the backtick escapes quotes, backticks and a final backslash."""
    escaped = text.replace("`", "``").replace('"', '`"')
    if escaped.endswith("\\"):
        escaped = escaped[:-1] + "`\\"
    return f'"{escaped}"'
