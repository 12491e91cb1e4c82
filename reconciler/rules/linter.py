"""Lints a parsed rule: valid rules that are slow, fragile, redundant or can never match.

Each lint is a small function over the rule and its tokens; where a better rule can be
written, the lint carries it as canonical text (`printer.to_text`).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from reconciler.rules import properties
from reconciler.rules.ast import (
    And,
    Comparison,
    DirectReports,
    Expr,
    ItemRef,
    ListValue,
    MemberOf,
    Not,
    NullValue,
    ObjectType,
    Or,
    PropertyRef,
    Quantifier,
    Rule,
    Span,
    StringValue,
    walk,
)
from reconciler.rules.implication import atom, comparison_key, contradict, redundant_operand
from reconciler.rules.lexer import Kind, Token, tokenize
from reconciler.rules.printer import to_text
from reconciler.rules.properties import spec_of


@dataclass(frozen=True)
class Lint:
    code: str
    severity: str  # "warning" or "info"
    message: str
    span: Span
    suggestion: str | None = None


@dataclass(frozen=True)
class _Source:
    """The rule and its tokens, which keep what the tree drops: dashes, spelling, parentheses."""

    rule: Rule
    tokens: tuple[Token, ...]

    def span(self, *nodes: Any) -> Span:
        """The span covering `nodes` (each node's span takes in its own parentheses)."""
        return Span(min(node.span.start for node in nodes), max(node.span.end for node in nodes))

    def text(self, node: Any) -> str:
        span = self.span(node)
        text = self.rule.text[span.start : span.end]
        return f"({text})" if isinstance(node, And | Or) and not text.startswith("(") else text

    def rewrite(self, old: Expr, new: Expr) -> str:
        """Canonical text of the rule with the node `old` (by identity) replaced by `new`."""
        return to_text(Rule(self.rule.object_type, _swap(self.rule.body, old, new)))

    def nodes(self, kind: Any) -> list:
        return [node for node in walk(self.rule.body) if isinstance(node, kind)]


def _swap(node: Any, old: Expr, new: Expr) -> Any:
    if node is old:
        return new
    if isinstance(node, And | Or):
        return replace(node, operands=tuple(_swap(child, old, new) for child in node.operands))
    if isinstance(node, Not):
        return replace(node, operand=_swap(node.operand, old, new))
    if isinstance(node, Quantifier):
        return replace(node, body=_swap(node.body, old, new))
    return node


def _with(node: And | Or, operands: tuple[Expr, ...]) -> Expr:
    return operands[0] if len(operands) == 1 else replace(node, operands=operands)


def _string_comparison(node: Expr, operator: str) -> Comparison | None:
    if not isinstance(node, Comparison) or node.operator != operator:
        return None
    return node if isinstance(node.value, StringValue) and node.value.value != "" else None


# --- the lints ------------------------------------------------------------------------------

_MATCH_REWRITES = {
    (True, True): ("eq", "ne"),
    (True, False): ("startsWith", "notStartsWith"),
    (False, True): ("endsWith", "notEndsWith"),
    (False, False): ("contains", "notContains"),
}
_REGEX_META = frozenset(".^$*+?()[]{}|")
# A pattern's shape, one character per atom: L for a literal character, else the metacharacter.
_PLAIN_SHAPE = re.compile(r"(\^)?(\.\*\??)?(L+)(\.\*\??)?(\$)?")


def _literal_pattern(pattern: str) -> tuple[str, bool, bool] | None:
    """(text, anchored at the start, anchored at the end) when `pattern` is plain text."""
    shape, text = [], []
    chars = iter(pattern)
    for char in chars:
        literal = char not in _REGEX_META
        if char == "\\":
            char, literal = next(chars, ""), True
            if not char or char.isalnum():  # \d, \b, \1: classes, anchors, back-references
                return None
        shape.append("L" if literal else char)
        text.append(char)
    found = _PLAIN_SHAPE.fullmatch("".join(shape))
    if found is None:
        return None
    plain = "".join(text[found.start(3) : found.end(3)])
    # A leading or trailing .* undoes the anchor next to it.
    return plain, bool(found[1] and not found[2]), bool(found[5] and not found[4])


def _match_could_be_simpler(source: _Source) -> Iterator[Lint]:
    for node in source.nodes(Comparison):
        if node.operator not in ("match", "notMatch") or not isinstance(node.value, StringValue):
            continue
        plain = _literal_pattern(node.value.value)
        if plain is None:
            continue
        operator = _MATCH_REWRITES[plain[1], plain[2]][node.operator == "notMatch"]
        yield Lint(
            "match-could-be-simpler",
            "warning",
            f"{source.text(node.value)} is plain text, so -{operator} does the same test "
            "faster than a regular expression",
            source.span(node),
            source.rewrite(node, Comparison(node.target, operator, StringValue(plain[0]))),
        )


def _or_chain_could_be_in(source: _Source) -> Iterator[Lint]:
    for node in source.nodes(And | Or):
        factored = _factor(node) if isinstance(node, Or) else None
        if factored is not None:
            yield Lint(
                "or-chain-could-be-in",
                "warning",
                "every branch repeats the same conditions and differs in one value; state the "
                "conditions once and list the values with -in",
                source.span(node),
                source.rewrite(node, factored),
            )
            continue
        equal, listed = ("eq", "in") if isinstance(node, Or) else ("ne", "notIn")
        chains: dict[tuple, list[Comparison]] = {}
        for operand in node.operands:
            if comparison := _string_comparison(operand, equal):
                chains.setdefault(comparison_key(comparison.target), []).append(comparison)
        for chain in (chain for chain in chains.values() if len(chain) >= 3):
            merged = Comparison(chain[0].target, listed, _list(chain))
            merged_away = {id(comparison) for comparison in chain[1:]}
            kept = (merged if o is chain[0] else o for o in node.operands)
            better = _with(node, tuple(o for o in kept if id(o) not in merged_away))
            yield Lint(
                "or-chain-could-be-in",
                "warning",
                f"{len(chain)} -{equal} comparisons of one property make one -{listed} list, "
                "which Entra evaluates faster",
                source.span(chain[0], chain[-1]),
                source.rewrite(node, better),
            )


def _list(comparisons: list[Comparison]) -> ListValue:
    """The values of string comparisons, each once ignoring case, in their order."""
    unique: dict[str, str] = {}
    for comparison in comparisons:
        if isinstance(comparison.value, StringValue):
            unique.setdefault(comparison.value.value.lower(), comparison.value.value)
    return ListValue(tuple(StringValue(value) for value in unique.values()))


def _factor(node: Or) -> Expr | None:
    """`(A -and p -eq x) -or (A -and p -eq y) -or ...` as `A -and p -in [x, y, ...]`."""
    branches = [operand for operand in node.operands if isinstance(operand, And)]
    if len(branches) < 3 or len(branches) != len(node.operands):
        return None
    first = branches[0]
    for index, candidate in enumerate(first.operands):
        common = Counter(first.operands[:index] + first.operands[index + 1 :])
        if not (model := _string_comparison(candidate, "eq")):
            continue
        chain = [_varying(branch, model, common) for branch in branches]
        if all(chain):
            merged = Comparison(model.target, "in", _list([c for c in chain if c]))
            return _with(first, tuple(merged if o is candidate else o for o in first.operands))
    return None


def _varying(branch: And, model: Comparison, common: Counter) -> Comparison | None:
    """The one `-eq` of `branch` on `model`'s property, when the rest of it is `common`."""
    for index, operand in enumerate(branch.operands):
        comparison = _string_comparison(operand, "eq")
        rest = Counter(branch.operands[:index] + branch.operands[index + 1 :])
        if (
            comparison
            and comparison_key(comparison.target) == comparison_key(model.target)
            and rest == common
        ):
            return comparison
    return None


def _with_collection(node: Any, collection: PropertyRef | None = None) -> Iterator[tuple]:
    """Every comparison, with the collection its item `_` belongs to, if any."""
    if isinstance(node, Comparison):
        yield node, collection
    elif isinstance(node, Quantifier):
        yield from _with_collection(node.body, node.collection)
    elif isinstance(node, Not):
        yield from _with_collection(node.operand, collection)
    elif isinstance(node, And | Or):
        for operand in node.operands:
            yield from _with_collection(operand, collection)


_ADDRESSES = frozenset({"userPrincipalName", "mail", "proxyAddresses", "otherMails"})


def _contains_could_be_prefix(source: _Source) -> Iterator[Lint]:
    for node, collection in _with_collection(source.rule.body):
        if node.operator not in ("contains", "notContains"):
            continue
        target = collection if isinstance(node.target, ItemRef) else node.target
        domain = isinstance(node.value, StringValue) and node.value.value.startswith("@")
        if domain and target is not None and target.name in _ADDRESSES:
            operator = "endsWith" if node.operator == "contains" else "notEndsWith"
            yield Lint(
                "contains-could-be-prefix",
                "info",
                f"-{node.operator} {source.text(node.value)} also matches longer domains; "
                f"-{operator} says what is meant and is cheaper to evaluate",
                source.span(node),
                source.rewrite(node, replace(node, operator=operator)),
            )
        else:
            yield Lint(
                "contains-could-be-prefix",
                "info",
                f"Microsoft recommends -eq or -startsWith over -{node.operator} where they "
                "express the intent, because they are cheaper to evaluate",
                source.span(node),
            )


def _redundant_expression(source: _Source) -> Iterator[Lint]:
    for node in source.nodes(And | Or):
        removed: set[int] = set()
        for j in range(len(node.operands)):
            for i in range(j):
                victim = None if removed & {i, j} else redundant_operand(node, i, j)
                if victim is None:
                    continue
                removed.add(victim)
                dropped, kept = node.operands[victim], node.operands[i + j - victim]
                same = dropped == kept or atom(dropped) == atom(kept)
                how = "repeats" if same else "adds nothing next to"
                rest = node.operands[:victim] + node.operands[victim + 1 :]
                yield Lint(
                    "redundant-expression",
                    "warning",
                    f"{source.text(dropped)} {how} {source.text(kept)}, so it can be removed",
                    source.span(dropped),
                    source.rewrite(node, _with(node, rest)),
                )


def _contradictory_expression(source: _Source) -> Iterator[Lint]:
    # An -and reached from the top through -and alone decides the whole rule.
    spine, pending = set(), [source.rule.body]
    while pending:
        node = pending.pop()
        if isinstance(node, And):
            spine.add(id(node))
            pending.extend(node.operands)
    for node in source.nodes(And):
        operands = node.operands
        pairs = ((p, q) for j, q in enumerate(operands) for p in operands[:j] if contradict(p, q))
        pair = next(pairs, None)
        if pair is not None:
            whom = "the rule matches nobody" if id(node) in spine else "this -and matches nobody"
            yield Lint(
                "contradictory-expression",
                "warning",
                f"{source.text(pair[0])} and {source.text(pair[1])} can never both be true, "
                f"so {whom}",
                source.span(*pair),
            )


def _user_editable_attribute(source: _Source) -> Iterator[Lint]:
    seen: set[str] = set()  # once per property: the first use is enough to act on
    for node in source.nodes(PropertyRef):
        if spec_of(node).user_editable and node.name not in seen:
            seen.add(node.name)
            yield Lint(
                "user-editable-attribute",
                "warning",
                f"users can change {node.object_type}.{node.name} themselves, so licenses "
                "shouldn't depend on it",
                node.span,
            )


def _memberof_preview(source: _Source) -> Iterator[Lint]:
    if isinstance(source.rule.body, MemberOf):
        yield Lint(
            "memberof-preview",
            "info",
            "memberOf is a preview feature: membership doesn't update when a listed group is "
            "deleted, and the portal can't validate the rule",
            source.rule.body.span,
        )


_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


def _not_a_guid(source: _Source) -> Iterator[Lint]:
    body = source.rule.body
    if not isinstance(body, DirectReports | MemberOf):
        return
    ids = (body.manager_id,) if isinstance(body, DirectReports) else body.group_ids
    what = "manager" if isinstance(body, DirectReports) else "group"
    # These rules hold no strings but the ids, so the string tokens are the ids in order.
    strings = [token for token in source.tokens if token.kind is Kind.STRING]
    for object_id, token in zip(ids, strings, strict=True):
        if not _GUID.fullmatch(object_id):
            yield Lint(
                "not-a-guid",
                "warning",
                f"{token.text} is not an object id (a GUID), so no {what} has it and it "
                "matches nobody",
                token.span,
            )


def _typographic_dash(source: _Source) -> Iterator[Lint]:
    for token in (token for token in source.tokens if token.typographic_dash):
        yield Lint(
            "typographic-dash",
            "warning",
            f"{token.text} is written with an en or em dash, as text pasted from a document "
            "often is; write a plain hyphen",
            token.span,
            to_text(source.rule),
        )


def _property_case(source: _Source) -> Iterator[Lint]:
    for token in (token for token in source.tokens if token.kind is Kind.WORD):
        head, dot, name = token.text.partition(".")
        if not dot or head.lower() not in ("user", "device"):
            continue
        object_type: ObjectType = "user" if head.lower() == "user" else "device"
        spec = properties.lookup(object_type, name)
        documented = f"{object_type}.{spec.name}" if spec else token.text
        if token.text != documented:
            yield Lint(
                "property-case",
                "info",
                f"{token.text} is documented as {documented}",
                token.span,
                to_text(source.rule),
            )


def _empty_string_comparison(source: _Source) -> Iterator[Lint]:
    for node in source.nodes(Comparison):
        if node.operator in ("eq", "ne") and node.value == StringValue(""):
            yield Lint(
                "empty-string-comparison",
                "info",
                f'Entra stores no empty strings, so -{node.operator} "" tests whether the value '
                f"is unset, which -{node.operator} null says plainly",
                source.span(node),
                source.rewrite(node, replace(node, value=NullValue())),
            )


_LINTS: tuple[Callable[[_Source], Iterator[Lint]], ...] = (
    _match_could_be_simpler,
    _or_chain_could_be_in,
    _contains_could_be_prefix,
    _redundant_expression,
    _contradictory_expression,
    _user_editable_attribute,
    _memberof_preview,
    _not_a_guid,
    _typographic_dash,
    _property_case,
    _empty_string_comparison,
)


def lint(rule: Rule) -> list[Lint]:
    """Every lint of a rule from `parser.parse`, in the order they start in its text."""
    source = _Source(rule, tuple(tokenize(rule.text)))
    found = [item for check in _LINTS for item in check(source)]
    return sorted(found, key=lambda item: (item.span.start, item.span.end, item.code))
