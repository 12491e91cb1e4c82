"""Entra's dynamic membership rule language: parse, check, lint, compile and evaluate.

rule = parse('user.department -eq "Sales"')       # RuleError if Entra would reject it
lint(rule)                                        # efficiency and safety warnings
compile_rule(rule)(user)                          # one Graph-shaped user: member or not
compute_memberships({"g": rule}, users)           # many rules over many users, indexed
"""

from reconciler.rules.ast import Rule, Span
from reconciler.rules.compiler import CompiledRule, compile_rule
from reconciler.rules.errors import RuleError
from reconciler.rules.explain import Decision, Explainer
from reconciler.rules.linter import Lint, lint
from reconciler.rules.membership import MembershipIndex, compute_memberships
from reconciler.rules.parser import MAX_RULE_LENGTH, parse
from reconciler.rules.printer import to_text

__all__ = [
    "MAX_RULE_LENGTH",
    "CompiledRule",
    "Decision",
    "Explainer",
    "Lint",
    "MembershipIndex",
    "Rule",
    "RuleError",
    "Span",
    "compile_rule",
    "compute_memberships",
    "lint",
    "parse",
    "to_text",
]
