"""Why a rule selects an object or not: the expressions that decided it.

Like the portal's Validate Rules, but for every object at once. The decisive expressions are
the smallest set whose results fix the outcome: the first false operand of a false -and, the
first true operand of a true -or, and every operand otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.rules.ast import And, DirectReports, Expr, MemberOf, Not, Or, Rule
from reconciler.rules.compiler import GraphObject, compile_node

Node = Expr | DirectReports | MemberOf


@dataclass(frozen=True)
class Decision:
    member: bool
    decided_by: tuple[Node, ...]


class Explainer:
    """Explains one rule over many objects, compiling each of its expressions once."""

    def __init__(self, rule: Rule, now: datetime | None = None) -> None:
        self.rule = rule
        self.now = now or datetime.now(UTC)
        self._tests: dict[int, Callable[[GraphObject], bool]] = {}

    def explain(self, obj: GraphObject) -> Decision:
        return self._decide(self.rule.body, obj)

    def _decide(self, node: Node, obj: GraphObject) -> Decision:
        if isinstance(node, Not):
            inner = self._decide(node.operand, obj)
            return Decision(not inner.member, inner.decided_by)
        if isinstance(node, And | Or):
            # -and is decided by a false operand, -or by a true one
            decisive = isinstance(node, Or)
            reasons: list[Node] = []
            for operand in node.operands:
                decision = self._decide(operand, obj)
                if decision.member is decisive:
                    return decision
                reasons.extend(decision.decided_by)
            return Decision(not decisive, tuple(reasons))
        return Decision(self._test(node)(obj), (node,))

    def _test(self, node: Node) -> Callable[[GraphObject], bool]:
        if id(node) not in self._tests:
            self._tests[id(node)] = compile_node(node, self.now)[1]
        return self._tests[id(node)]
