"""Compiles a rule once into a Python function over Graph-shaped objects.

The rule becomes the source of one small function (constants bound by name, never pasted into
the source), so evaluating it costs a few dictionary lookups and string tests per user.
The semantics of every comparison live in `_Codegen.comparison`; the membership index and
the explainer reuse it, so there is one definition of what each operator means.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from reconciler.rules import attributes, values
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
)
from reconciler.rules.parser import parse
from reconciler.rules.printer import to_text
from reconciler.rules.properties import (
    POSITIVE_FORM,
    Derivation,
    PropertySpec,
    PropertyType,
    spec_of,
)

GraphObject = Mapping[str, Any]
Predicate = Callable[[GraphObject], bool]


# How each positive string operator tests a lower-cased, non-empty value `s` against `k`.
_STRING_TESTS = {
    "eq": "{s} == {k}",
    "startsWith": "{s}.startswith({k})",
    "endsWith": "{s}.endswith({k})",
    "contains": "{k} in {s}",
    "match": "{k}({s})",
    "in": "{s} in {k}",
}

_HELPERS = {
    "_as_datetime": attributes.as_datetime,
    "_first_item": attributes.first_item,
    "_sip_address": attributes.sip_address,
    "_reference_id": attributes.reference_id,
    "_reference_ids": attributes.reference_ids,
    "_is_set": attributes.is_set,
    "_extension_value": attributes.extension_value,
    "_items": attributes.items,
    "_field": attributes.item_field,
    "_mapping": attributes.mapping,
}


class CompiledRule(partial):
    """A rule ready to test objects: `compiled(user)` is True when the user is a member.

    A partial over the generated function, so a call adds no Python frame of its own; the
    hot loop of a plan over a million users pays for the comparisons alone.
    """

    rule: Rule
    source: str

    @property
    def matches(self) -> Predicate:
        return self.func


def compile_rule(rule: Rule | str, now: datetime | None = None) -> CompiledRule:
    """Compile `rule` (text or tree); `system.now` is fixed to `now` (default: the present)."""
    tree = parse(rule) if isinstance(rule, str) else rule
    source, function = compile_node(tree.body, now)
    compiled = CompiledRule(function)
    compiled.rule, compiled.source = tree, source
    return compiled


def compile_node(node: Expr | DirectReports | MemberOf, now: datetime | None = None):
    """(source, function) testing one expression of a rule against a whole object."""
    codegen = _Codegen(now or datetime.now(UTC))
    return codegen.function(codegen.node(node), "o")


def compile_value_test(node: Comparison, now: datetime | None = None) -> Callable[[Any], bool]:
    """A function testing one comparison against the raw value of its attribute."""
    codegen = _Codegen(now or datetime.now(UTC))
    assert isinstance(node.target, PropertyRef)
    return codegen.function(codegen.comparison(node, spec_of(node.target), "v"), "v")[1]


def attribute_getter(spec: PropertySpec) -> Callable[[GraphObject], Any]:
    """A function reading the raw Graph value behind a rule property."""
    codegen = _Codegen(datetime.now(UTC))
    return codegen.function(codegen.getter(spec), "o", as_bool=False)[1]


class _Codegen:
    def __init__(self, now: datetime) -> None:
        self.now = now
        self.namespace: dict[str, Any] = dict(_HELPERS)
        self.counter = 0

    def fresh(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def const(self, value: Any) -> str:
        name = self.fresh("_k")
        self.namespace[name] = value
        return name

    def function(self, body: str, parameter: str, as_bool: bool = True):
        expression = f"bool({body})" if as_bool else body
        source = f"def _rule({parameter}):\n    return {expression}\n"
        exec(compile(source, "<membership rule>", "exec"), self.namespace)
        return source, self.namespace["_rule"]

    # --- structure --------------------------------------------------------------------------

    def node(self, node: Expr | DirectReports | MemberOf, item: str | None = None) -> str:
        if isinstance(node, And):
            return "(" + " and ".join(self.node(operand, item) for operand in node.operands) + ")"
        if isinstance(node, Or):
            return "(" + " or ".join(self.node(operand, item) for operand in node.operands) + ")"
        if isinstance(node, Not):
            return f"(not {self.node(node.operand, item)})"
        if isinstance(node, Quantifier):
            spec = spec_of(node.collection)
            loop = self.fresh("_i")
            body = self.node(node.body, loop)
            return f"{node.quantifier}({body} for {loop} in _items({self.getter(spec)}))"
        if isinstance(node, Comparison):
            if isinstance(node.target, ItemRef):
                assert item is not None
                subject = (
                    item if node.target.field is None else f"_field({item}, {node.target.field!r})"
                )
                return self.string_comparison(node, subject)
            return self.comparison(node, spec_of(node.target), self.getter(spec_of(node.target)))
        if isinstance(node, DirectReports):
            manager = self.const(node.manager_id.lower())
            return f"(_reference_id(o.get('manager')) == {manager})"
        if isinstance(node, MemberOf):
            ids = self.const(frozenset(group_id.lower() for group_id in node.group_ids))
            return f"(not _reference_ids(o.get('memberOf')).isdisjoint({ids}))"
        raise TypeError(f"not a rule node: {node!r}")

    def getter(self, spec: PropertySpec) -> str:
        source = "o"
        for index, key in enumerate(spec.graph_path):
            source = f"{source}.get({key!r})" if index == 0 else f"_mapping({source}).get({key!r})"
        if spec.derivation is Derivation.FIRST_ITEM:
            return f"_first_item({source})"
        if spec.derivation is Derivation.SIP_ADDRESS:
            return f"_sip_address({source})"
        if spec.derivation is Derivation.EXTENSION:
            return f"_extension_value(o, {spec.name!r})"
        return source

    # --- comparisons: the meaning of every operator -------------------------------------------

    def comparison(self, node: Comparison, spec: PropertySpec, subject: str) -> str:
        if spec.type is PropertyType.BOOL:
            return self.bool_comparison(node, subject)
        if spec.type is PropertyType.DATETIME:
            return self.datetime_comparison(node, subject)
        if spec.type is PropertyType.STRING_COLLECTION:
            # A string operator written straight on a collection tests its items: true when
            # any item passes; the negated operators are the complements (A7).
            loop = self.fresh("_i")
            positive = Comparison(
                node.target, POSITIVE_FORM.get(node.operator, node.operator), node.value
            )
            test = f"any({self.string_comparison(positive, loop)} for {loop} in _items({subject}))"
            return f"(not {test})" if node.operator in POSITIVE_FORM else test
        return self.string_comparison(node, subject)

    def string_comparison(self, node: Comparison, subject: str) -> str:
        """Strings compare case-insensitively; null and "" are the same unset value (A9).

        A value that isn't a string (never so in Graph, possible in a hand-written file)
        counts as unset, so a rule never fails on an odd object.
        """
        negated = node.operator in POSITIVE_FORM
        operator = POSITIVE_FORM.get(node.operator, node.operator)
        value = node.value
        if isinstance(value, NullValue) or (
            operator == "eq" and isinstance(value, StringValue) and value.value == ""
        ):
            test = f"(not _is_set({subject}))"
        else:
            var = self.fresh("_v")
            if isinstance(value, ListValue):
                items = [item.value.lower() for item in value.items]
                constant = self.const(frozenset(items))
                found = _STRING_TESTS["in"].format(s=f"{var}.lower()", k=constant)
                present = f"({var} := {subject}).__class__ is str and {var}"
                # an empty string in the list stands for null, as -eq "" does
                test = (
                    f"(not ({present}) or {found})" if "" in items else f"({present} and {found})"
                )
            else:
                assert isinstance(value, StringValue)
                if operator == "match":
                    # the comparison's text names it if a match runs out of time
                    matcher = attributes.pattern_matcher(value.value, to_text(node))
                    constant = self.const(matcher)
                else:
                    constant = self.const(value.value.lower())
                found = _STRING_TESTS[operator].format(s=f"{var}.lower()", k=constant)
                test = f"(({var} := {subject}).__class__ is str and {var} and {found})"
        return f"(not {test})" if negated else test

    def bool_comparison(self, node: Comparison, subject: str) -> str:
        value = node.value
        expected = (
            "None"
            if isinstance(value, NullValue)
            else repr(isinstance(value, BoolValue) and value.value)
        )
        test = f"({subject} is {expected})"
        return f"(not {test})" if node.operator == "ne" else test

    def datetime_comparison(self, node: Comparison, subject: str) -> str:
        value = node.value
        if isinstance(value, NullValue):
            test = f"(_as_datetime({subject}) is None)"
            return f"(not {test})" if node.operator == "ne" else test
        if isinstance(value, NowValue):
            moment = self.now
            if value.offset is not None:
                moment = values.add_duration(moment, value.offset)
        else:
            assert isinstance(value, DateTimeValue)
            moment = value.value
        constant = self.const(moment)
        var = self.fresh("_d")
        symbol = {"eq": "==", "ne": "==", "le": "<=", "ge": ">="}[node.operator]
        test = f"(({var} := _as_datetime({subject})) is not None and {var} {symbol} {constant})"
        return f"(not {test})" if node.operator == "ne" else test
