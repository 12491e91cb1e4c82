"""Parses rule text into a checked syntax tree, or raises RuleError pointing at the fault.

Precedence follows Microsoft's table: comparisons bind tightest, then -not, -and, -or.
-any/-all sit at the bottom of that table, which can't be taken literally; here a quantifier
is one predicate, and without parentheses its body is a single comparison (A15).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from reconciler.rules import properties
from reconciler.rules.ast import (
    And,
    Comparison,
    DirectReports,
    Expr,
    ItemRef,
    MemberOf,
    Not,
    ObjectType,
    Or,
    PropertyRef,
    Quantifier,
    Rule,
    Span,
    walk,
)
from reconciler.rules.errors import RuleError
from reconciler.rules.lexer import Kind, Token, TokenStream, describe, operator_word, tokenize
from reconciler.rules.literals import check_supported, read_list, read_value
from reconciler.rules.printer import reference_text
from reconciler.rules.properties import PropertySpec, PropertyType, spec_of

MAX_RULE_LENGTH = 3072
MAX_MEMBER_OF_GROUPS = 50
# Entra documents no nesting limit; real rules nest a few levels. A bound keeps the parser and
# the compiled Python (which allows 200 nested parentheses) from overflowing on hostile input.
MAX_NESTING = 50

# Binding power of the logical operators: a higher one binds tighter.
_LOGICAL = {"or": (1, Or), "and": (2, And)}

# Canonical spelling of every comparison operator, looked up in lower case (A4: any case).
_COMPARISONS = {name.lower(): name for name in properties.ALL_OPERATORS}


def parse(text: str) -> Rule:
    """Parse and check a whole rule."""
    try:
        return _Parser(text).rule()
    except RuleError as error:
        error.rule_text = text
        raise


def _did_you_mean(word: str, choices: list[str]) -> str:
    lowered = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.stream = TokenStream([])
        self.object_type: ObjectType | None = None
        # Set while parsing the body of -any/-all: the collection whose items `_` names.
        self.item_of: PropertySpec | None = None
        self.depth = 0

    # --- whole rule ----------------------------------------------------------------------------

    def rule(self) -> Rule:
        if len(self.text) > MAX_RULE_LENGTH:
            raise RuleError(
                "rule-too-long",
                f"rule is {len(self.text)} characters; Entra allows at most {MAX_RULE_LENGTH}",
                Span(MAX_RULE_LENGTH, len(self.text)),
            )
        self.stream = TokenStream(tokenize(self.text))
        if self.stream.peek().kind is Kind.EOF:
            raise RuleError("empty-rule", "rule is empty", Span(0, len(self.text)))
        # Direct Reports may stand in parentheses, as any whole rule may
        wrapped = 0
        while self.stream.peek(wrapped).kind is Kind.LPAREN:
            wrapped += 1
        first = self.stream.peek(wrapped)
        if first.kind is Kind.WORD and first.value.lower() == "direct":
            for _ in range(wrapped):
                self.stream.advance()
            body = self.direct_reports()
            for _ in range(wrapped):
                self.stream.expect(Kind.RPAREN, "')'")
            if self.stream.peek().kind is not Kind.EOF:
                raise RuleError(
                    "direct-reports-combined",
                    "Direct Reports can't be combined with other expressions",
                    Span(self.stream.peek().span.start, len(self.text)),
                )
            return Rule("user", body, self.text)
        body = self.expression(0)
        self.finish()
        member_of = [node for node in walk(body) if isinstance(node, MemberOf)]
        if member_of and body is not member_of[0]:
            raise RuleError(
                "memberof-combined",
                "memberOf can't be combined with other expressions",
                member_of[0].span,
                hint="put the other conditions in a group of their own",
            )
        assert self.object_type is not None
        return Rule(self.object_type, body, self.text)

    def finish(self) -> None:
        token = self.stream.peek()
        if token.kind is Kind.EOF:
            return
        if token.kind is Kind.RPAREN:
            raise RuleError("unbalanced-parenthesis", "')' has no matching '('", token.span)
        if token.kind in (Kind.LPAREN, Kind.WORD) or operator_word(token) == "not":
            raise RuleError(
                "missing-logical-operator",
                "missing -and/-or between two expressions",
                token.span,
            )
        raise RuleError("unexpected-token", f"unexpected {describe(token)}", token.span)

    def direct_reports(self) -> DirectReports:
        start = self.stream.peek().span.start
        for expected in ("direct", "reports", "for"):
            token = self.stream.peek()
            if token.kind is not Kind.WORD or token.value.lower() != expected:
                raise RuleError(
                    "invalid-direct-reports",
                    f'expected `Direct Reports for "<managerId>"`, found {describe(token)}',
                    token.span,
                )
            self.stream.advance()
        token = self.stream.expect(Kind.STRING, "the manager's object id in quotes")
        return DirectReports(token.value.strip(), Span(start, token.span.end))

    # --- expressions ---------------------------------------------------------------------------

    def expression(self, min_power: int) -> Expr:
        left = self.unary()
        while True:
            name = operator_word(self.stream.peek())
            if name not in _LOGICAL or _LOGICAL[name][0] <= min_power:
                return left
            power, node = _LOGICAL[name]
            operands = [left]
            while operator_word(self.stream.peek()) == name:
                self.stream.advance()
                operands.append(self.expression(power))
            left = node(tuple(operands), operands[0].span.cover(operands[-1].span))

    def unary(self) -> Expr:
        token = self.stream.peek()
        if operator_word(token) == "not":
            self.stream.advance()
            with self.nested(token):
                operand = self.unary()
            return Not(operand, token.span.cover(operand.span))
        return self.primary()

    @contextmanager
    def nested(self, token: Token) -> Iterator[None]:
        """One more level of parentheses or -not, opened by `token`."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise RuleError(
                "too-deeply-nested",
                f"rule nests parentheses and -not more than {MAX_NESTING} levels deep",
                token.span,
            )
        yield
        self.depth -= 1

    def primary(self) -> Expr:
        token = self.stream.peek()
        if token.kind is Kind.LPAREN:
            self.stream.advance()
            if self.stream.peek().kind is Kind.RPAREN:
                raise RuleError("empty-parentheses", "empty parentheses", self.stream.peek().span)
            with self.nested(token):
                inner = self.expression(0)
            closing = self.stream.peek()
            if closing.kind is Kind.EOF:
                raise RuleError(
                    "unbalanced-parenthesis",
                    f"'(' at column {token.span.start + 1} is never closed",
                    token.span,
                )
            if closing.kind is not Kind.RPAREN:
                self.finish()
            self.stream.advance()
            # the node's span takes in its parentheses, so spans stay balanced
            return replace(inner, span=token.span.cover(closing.span))
        if token.kind is Kind.WORD:
            if token.value.lower() == "direct":
                raise RuleError(
                    "direct-reports-combined",
                    "Direct Reports can't be combined with other expressions",
                    token.span,
                )
            return self.predicate()
        if token.kind is Kind.EOF:
            raise RuleError(
                "unexpected-end", "rule ends where an expression should start", token.span
            )
        if operator_word(token) in _LOGICAL:
            raise RuleError(
                "unexpected-token", f"expected an expression before {token.text}", token.span
            )
        if token.kind is Kind.OPERATOR:
            raise RuleError(
                "missing-property",
                f"operator {token.text} needs a property on its left, such as user.department",
                token.span,
            )
        raise RuleError(
            "unexpected-token", f"expected an expression, found {describe(token)}", token.span
        )

    def predicate(self) -> Expr:
        target_token = self.stream.advance()
        target = self.reference(target_token)
        operator_token = self.stream.peek()
        name = operator_word(operator_token)
        spec = spec_of(target) if isinstance(target, PropertyRef) else None
        if spec is not None and spec.type is PropertyType.MEMBER_OF:
            return self.member_of(target, operator_token)
        if name in ("any", "all"):
            if spec is None:
                raise RuleError(
                    "nested-quantifier", "-any/-all can't be nested", operator_token.span
                )
            return self.quantifier(target, spec)
        if name == "not":
            following = self.stream.peek(1)
            if following.kind is Kind.WORD and following.value.lower() in ("null", "$null"):
                raise RuleError(
                    "not-null-comparison",
                    "-not can't compare with null",
                    operator_token.span.cover(following.span),
                    hint=f"write {target_token.text} -ne null",
                )
            raise RuleError(
                "not-as-comparison",
                "-not negates an expression and goes before it, not after a property",
                operator_token.span,
                hint=f"write -not ({target_token.text} -eq ...)",
            )
        if name not in _COMPARISONS:
            self.unknown_operator(operator_token, target_token)
        self.stream.advance()
        operator = _COMPARISONS[name]
        self.check_operator(target, spec, operator, operator_token)
        value = read_value(self.stream, target, spec, operator, operator_token)
        return Comparison(target, operator, value, target_token.span.cover(value.span))

    def unknown_operator(self, token: Token, target: Token) -> None:
        if token.kind is Kind.EOF:
            raise RuleError(
                "missing-operator",
                f"{target.text} must be followed by an operator such as -eq",
                token.span,
            )
        if operator_word(token) in _LOGICAL:
            raise RuleError(
                "missing-operator",
                f"expected a comparison such as -eq after {target.text}, found {token.text}",
                token.span,
            )
        check_supported(token)
        if token.kind is Kind.OPERATOR:
            suggestion = _did_you_mean(token.value, sorted(properties.ALL_OPERATORS))
            raise RuleError(
                "unknown-operator", f"unknown operator {token.text}{suggestion}", token.span
            )
        raise RuleError(
            "missing-operator",
            f"expected an operator such as -eq after {target.text}, found {describe(token)}",
            token.span,
        )

    # --- references -----------------------------------------------------------------------------

    def reference(self, token: Token) -> PropertyRef | ItemRef:
        text = token.value
        head, dot, rest = text.partition(".")
        lowered = head.lower()
        if self.item_of is not None:
            return self.item_reference(token, lowered, rest)
        if lowered == "_" or lowered in ("assignedplan", "group"):
            raise RuleError(
                "item-outside-quantifier",
                f"{text} names the item of -any/-all and can only be used inside one",
                token.span,
            )
        if lowered not in ("user", "device"):
            if not dot:
                for object_type in ("user", "device"):
                    if properties.lookup(object_type, text):
                        raise RuleError(
                            "missing-object-prefix",
                            f"property {text} needs its object: {object_type}.{text}",
                            token.span,
                        )
                raise RuleError(
                    "unexpected-word",
                    f"unexpected '{text}'; an expression starts with user.<property> "
                    "or device.<property>",
                    token.span,
                )
            raise RuleError(
                "unknown-object",
                f"unknown object '{head}'{_did_you_mean(head, ['user', 'device'])}; "
                "rules refer to user. or device.",
                Span(token.span.start, token.span.start + len(head)),
            )
        object_type: ObjectType = "user" if lowered == "user" else "device"
        if not rest:
            raise RuleError("missing-property", f"{text} must name a property", token.span)
        spec = properties.lookup(object_type, rest)
        if spec is None:
            known = properties.names(object_type)
            suggestion = _did_you_mean(rest, known)
            raise RuleError(
                "unknown-property",
                f"unknown property '{text}'{suggestion}",
                token.span,
                hint=None if suggestion else f"{object_type} properties: {', '.join(known)}",
            )
        if self.object_type is None:
            self.object_type = object_type
        elif self.object_type != object_type:
            raise RuleError(
                "mixed-object-types",
                f"a rule can't mix {self.object_type} and {object_type} properties",
                token.span,
            )
        return PropertyRef(object_type, spec.name, token.span)

    def item_reference(self, token: Token, head: str, rest: str) -> ItemRef:
        collection = self.item_of
        assert collection is not None
        if collection.type is PropertyType.STRING_COLLECTION:
            if token.value == "_":
                return ItemRef(None, token.span)
            raise RuleError(
                "invalid-item-reference",
                f"inside {collection.name} -any/-all the item is written _, not {token.value}",
                token.span,
            )
        if head == "assignedplan":
            for field_name in properties.ASSIGNED_PLAN_FIELDS:
                if field_name.lower() == rest.lower():
                    return ItemRef(field_name, token.span)
            fields = list(properties.ASSIGNED_PLAN_FIELDS)
            raise RuleError(
                "unknown-property",
                f"unknown property '{token.value}'{_did_you_mean(rest, fields)}; "
                f"assignedPlan has {', '.join(fields)}",
                token.span,
            )
        raise RuleError(
            "invalid-item-reference",
            f"inside assignedPlans -any/-all refer to the item as assignedPlan.<field>, "
            f"not {token.value}",
            token.span,
        )

    # --- collections --------------------------------------------------------------------------

    def quantifier(self, target: PropertyRef, spec: PropertySpec) -> Quantifier:
        keyword = self.stream.advance()
        quantifier = "any" if operator_word(keyword) == "any" else "all"
        if spec.type not in (PropertyType.STRING_COLLECTION, PropertyType.OBJECT_COLLECTION):
            raise RuleError(
                "quantifier-on-single-value",
                f"-{quantifier} applies to multi-valued properties; "
                f"{target.name} is a single {spec.type.value}",
                keyword.span,
            )
        if self.item_of is not None:
            raise RuleError("nested-quantifier", "-any/-all can't be nested", keyword.span)
        self.item_of = spec
        try:
            if self.stream.peek().kind is Kind.LPAREN:
                body = self.primary()
                end = self.stream.previous().span
            else:
                body = self.item_predicate()
                end = body.span
        finally:
            self.item_of = None
        return Quantifier(target, quantifier, body, target.span.cover(end))

    def item_predicate(self) -> Expr:
        token = self.stream.peek()
        if token.kind is not Kind.WORD:
            raise RuleError(
                "unexpected-token",
                f"expected a condition on the item after -any/-all, found {describe(token)}",
                token.span,
            )
        return self.predicate()

    def member_of(self, target: PropertyRef, keyword: Token) -> MemberOf:
        name = operator_word(keyword)
        usage = f"{target.object_type}.memberOf -any (group.objectId -in ['<groupId>', ...])"
        if name != "any":
            raise RuleError(
                "invalid-memberof",
                f"memberOf is used only as {usage}",
                keyword.span if keyword.kind is not Kind.EOF else target.span,
            )
        self.stream.advance()
        self.stream.expect(Kind.LPAREN, "'(' after -any")
        group = self.stream.expect(Kind.WORD, "group.objectId")
        if group.value.lower() != "group.objectid":
            raise RuleError(
                "invalid-memberof", f"expected group.objectId, found {group.text}", group.span
            )
        if operator_word(self.stream.peek()) != "in":
            raise RuleError(
                "invalid-memberof",
                f"expected -in after group.objectId, found {describe(self.stream.peek())}",
                self.stream.peek().span,
            )
        self.stream.advance()
        ids = read_list(self.stream)
        if len(ids.items) > MAX_MEMBER_OF_GROUPS:
            raise RuleError(
                "memberof-too-many-groups",
                f"memberOf lists {len(ids.items)} groups; Entra allows at most "
                f"{MAX_MEMBER_OF_GROUPS}",
                ids.span,
            )
        closing = self.stream.expect(Kind.RPAREN, "')' closing memberOf")
        return MemberOf(
            target.object_type,
            tuple(item.value.strip() for item in ids.items),
            target.span.cover(closing.span),
        )

    # --- operators and values -------------------------------------------------------------

    def check_operator(
        self, target: PropertyRef | ItemRef, spec: PropertySpec | None, operator: str, token: Token
    ) -> None:
        if spec is None:  # the item of a collection: its fields are strings
            allowed, what = properties.STRING_OPERATORS, "the collection's items"
        else:
            allowed, what = spec.operators, f"{spec.type.value} property {spec.name}"
        if operator in allowed:
            return
        hint = None
        if spec is not None and spec.type is PropertyType.STRING_COLLECTION:
            hint = f"write {reference_text(target)} -any (_ -{operator} ...)"
        elif spec is not None and spec.type is PropertyType.OBJECT_COLLECTION:
            hint = "write user.assignedPlans -any (assignedPlan.<field> -eq ...)"
        elif operator in ("le", "ge"):
            hint = "-le and -ge compare dates such as employeeHireDate"
        raise RuleError(
            "operator-not-supported",
            f"operator -{operator} is not supported on {what}",
            token.span,
            hint=hint,
        )
