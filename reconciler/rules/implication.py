"""What one comparison says about another: implication, redundancy and contradiction.

Sound, not complete: when nothing can be concluded, nothing is claimed, so the linter errs
on the side of silence.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from reconciler.rules.ast import (
    And,
    BoolValue,
    Comparison,
    DateTimeValue,
    Expr,
    ItemRef,
    ListValue,
    Not,
    NullValue,
    Or,
    PropertyRef,
    StringValue,
)
from reconciler.rules.attributes import pattern_matcher
from reconciler.rules.errors import RuleEvaluationError
from reconciler.rules.properties import POSITIVE_FORM

_UNSET = ""  # null and "" are one unset value (A9); "" stands for it below


@dataclass(frozen=True)
class _Atom:
    """A comparison as a test of one lower-cased value; `-eq v` is kept as `-in {v}`."""

    key: tuple
    operator: str  # in, startsWith, endsWith, contains or match
    value: Any  # a frozenset for "in", else the string or the pattern
    negated: bool

    def negate(self) -> _Atom:
        return replace(self, negated=not self.negated)

    def holds(self, value: Any) -> bool:
        return _holds(self.operator, self.value, value) != self.negated


def atom(node: Expr) -> _Atom | None:
    """The atom of a comparison or a negated one; None when nothing can be inferred."""
    if isinstance(node, Not):
        inner = atom(node.operand)
        return inner.negate() if inner else None
    if not isinstance(node, Comparison):
        return None
    key, value = comparison_key(node.target), node.value
    operator, negated = (
        POSITIVE_FORM.get(node.operator, node.operator),
        node.operator in POSITIVE_FORM,
    )
    if isinstance(value, ListValue):
        return _Atom(key, "in", frozenset(item.value.lower() for item in value.items), negated)
    if isinstance(value, NullValue) or (operator == "eq" and value == StringValue("")):
        return _Atom(key, "in", frozenset({_UNSET}), negated)
    if operator == "eq" and isinstance(value, StringValue | BoolValue | DateTimeValue):
        plain = value.value.lower() if isinstance(value, StringValue) else value.value
        return _Atom(key, "in", frozenset({plain}), negated)
    if isinstance(value, StringValue) and operator != "eq":
        text = value.value if operator == "match" else value.value.lower()
        return _Atom(key, operator, text, negated)
    return None  # dates before or after, and system.now, which moves with the evaluation


def _holds(operator: str, expected: Any, value: Any) -> bool:
    if operator == "in":
        return value in expected
    if not isinstance(value, str) or value == _UNSET:
        return False
    if operator == "match":
        # the rule's own regex dialect and timeout (RuleEvaluationError: see _implies)
        return pattern_matcher(expected)(value)
    tests = {"startsWith": value.startswith, "endsWith": value.endswith}
    return tests.get(operator, value.__contains__)(expected)


def _implies(p: _Atom, q: _Atom) -> bool:
    """True when every value passing `p` passes `q`; sound, not complete."""
    try:
        return _implied(p, q)
    except RuleEvaluationError:
        return False  # a pattern out of time on a listed value: nothing is concluded


def _implied(p: _Atom, q: _Atom) -> bool:
    if p.key != q.key:
        return False
    if p == q:
        return True
    if not p.negated and p.operator == "in":
        return all(q.holds(value) for value in p.value)
    if p.negated and q.negated:
        return _implied(q.negate(), p.negate())
    if p.negated:
        return False
    if q.negated:
        # -in never applies to a collection, so the target is a single value here.
        return q.operator == "in" and not any(_holds(p.operator, p.value, v) for v in q.value)
    if q.operator == "contains" and p.operator != "match":
        return q.value in p.value
    if q.operator == p.operator == "startsWith":
        return p.value.startswith(q.value)
    return q.operator == p.operator == "endsWith" and p.value.endswith(q.value)


def comparison_key(target: PropertyRef | ItemRef) -> tuple:
    """What a comparison tests, as a key: two comparisons with one key test the same value."""
    # Custom extension names keep the case they were written in, so fold it.
    if isinstance(target, PropertyRef):
        return ("property", target.object_type, target.name.lower())
    return ("item", target.field)


def redundant_operand(node: And | Or, i: int, j: int) -> int | None:
    """Which of operands i and j of `node` the other one makes redundant, if either."""
    if node.operands[i] == node.operands[j]:
        return j
    a, b = atom(node.operands[i]), atom(node.operands[j])
    if a is None or b is None:
        return None
    forward, backward = _implies(a, b), _implies(b, a)
    # In an -and the weaker operand adds nothing, in an -or the stronger one.
    if forward and backward:
        return j
    if forward or backward:
        return j if forward == isinstance(node, And) else i
    return None


def contradict(p: Expr, q: Expr) -> bool:
    if p == Not(q) or q == Not(p):
        return True
    a, b = atom(p), atom(q)
    return a is not None and b is not None and (_implies(a, b.negate()) or _implies(b, a.negate()))
