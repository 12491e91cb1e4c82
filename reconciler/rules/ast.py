"""The syntax tree of a membership rule; every node carries the span of text it came from.

Spans are left out of equality, so a rule printed and parsed again compares equal to itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

ObjectType = Literal["user", "device"]


@dataclass(frozen=True)
class Span:
    """Half-open range [start, end) of character offsets in the rule text."""

    start: int
    end: int

    def cover(self, other: Span) -> Span:
        return Span(min(self.start, other.start), max(self.end, other.end))


NO_SPAN = Span(0, 0)


# --- values -------------------------------------------------------------------------------


@dataclass(frozen=True)
class StringValue:
    value: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class BoolValue:
    value: bool
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class NullValue:
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class DateTimeValue:
    value: datetime
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Duration:
    """An ISO 8601 duration split into calendar and exact parts; negative when `sign` is -1."""

    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0
    sign: int = 1


@dataclass(frozen=True)
class NowValue:
    """`system.now`, optionally `-plus` an ISO 8601 duration."""

    offset: Duration | None = None
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class ListValue:
    items: tuple[StringValue, ...]
    span: Span = field(default=NO_SPAN, compare=False)


Value = StringValue | BoolValue | NullValue | DateTimeValue | NowValue | ListValue


# --- references -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PropertyRef:
    """`user.department`: `name` is the canonical (documented) spelling."""

    object_type: ObjectType
    name: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class ItemRef:
    """The current item inside -any/-all: `_` (field None) or `assignedPlan.<field>`."""

    field: str | None
    span: Span = field(default=NO_SPAN, compare=False)


# --- expressions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """`target -operator value`; `operator` is canonical: eq, notStartsWith, in, le, ..."""

    target: PropertyRef | ItemRef
    operator: str
    value: Value
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Quantifier:
    """`collection -any (body)` or `-all`; `body` refers to the item through ItemRef."""

    collection: PropertyRef
    quantifier: Literal["any", "all"]
    body: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Not:
    operand: Expr
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class And:
    operands: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Or:
    operands: tuple[Expr, ...]
    span: Span = field(default=NO_SPAN, compare=False)


Expr = Comparison | Quantifier | Not | And | Or


# --- whole-rule forms -----------------------------------------------------------------------


@dataclass(frozen=True)
class DirectReports:
    """`Direct Reports for "<managerId>"`: users whose manager is that object."""

    manager_id: str
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class MemberOf:
    """`user.memberOf -any (group.objectId -in [...])`: direct members of the listed groups."""

    object_type: ObjectType
    group_ids: tuple[str, ...]
    span: Span = field(default=NO_SPAN, compare=False)


@dataclass(frozen=True)
class Rule:
    """A parsed rule: which objects it selects and the condition they must meet."""

    object_type: ObjectType
    body: Expr | DirectReports | MemberOf
    text: str = field(default="", compare=False)


def walk(node: object):
    """Yield `node` and every expression, reference and value below it, depth first."""
    yield node
    children: tuple = ()
    if isinstance(node, Rule):
        children = (node.body,)
    elif isinstance(node, And | Or):
        children = node.operands
    elif isinstance(node, Not):
        children = (node.operand,)
    elif isinstance(node, Quantifier):
        children = (node.collection, node.body)
    elif isinstance(node, Comparison):
        children = (node.target, node.value)
    elif isinstance(node, ListValue):
        children = node.items
    for child in children:
        yield from walk(child)
