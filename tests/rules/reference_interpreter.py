"""A deliberately plain tree-walking interpreter of membership rules, for property tests.

It is written from the semantics in docs/rules.md alone, not from the compiler, so that the
two can be checked against each other. Only the property table of
`reconciler.rules.properties` (which Graph attribute a rule property reads) is shared: that is
data, not semantics.

The rules it follows, with their labels in docs/rules.md:

- strings compare ignoring case (A17): both sides go through `.lower()`;
- a missing attribute, None and "" are all "unset" (A9); positive operators are false on an
  unset value and every negated operator is the exact complement of its positive form;
- `-eq ""` is `-eq null` (A9); an "" item of an `-in` list matches an unset value;
- `-match` is `re.search(pattern, value.lower(), re.IGNORECASE)` (A10);
- `-any` over an empty collection is false, `-all` is true (A16);
- a string operator written straight on a string collection is true when any item passes,
  its negation when none does (A7);
- booleans compare by identity with True, False or None;
- dates: -le/-ge inclusive, a date without a zone is UTC, `system.now` is the fixed `now`
  moved by a duration: years and months on the calendar, the rest exactly (A11);
- property names ignore case (A3), custom extension names included;
- telephoneNumber is the first businessPhones entry, sipProxyAddress the SIP: entry of
  proxyAddresses without its prefix (A23);
- Direct Reports: the user's manager {"id"} is the given id, ignoring case (A20);
- memberOf: one of the user's memberOf [{"id"}] is among the listed ids, ignoring case (A21).
"""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from reconciler.rules.ast import (
    And,
    BoolValue,
    Comparison,
    DateTimeValue,
    DirectReports,
    Duration,
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
from reconciler.rules.properties import PropertyType, lookup

# Each negated operator and the positive one it complements.
NEGATIONS = {
    "ne": "eq",
    "notStartsWith": "startsWith",
    "notEndsWith": "endsWith",
    "notContains": "contains",
    "notMatch": "match",
    "notIn": "in",
}

_NO_ITEM = object()


def evaluate(rule: Rule, obj: dict, now: datetime) -> bool:
    """Whether the Graph object `obj` is a member under `rule`, with `system.now` = `now`."""
    body = rule.body
    if isinstance(body, DirectReports):
        manager = obj.get("manager")
        manager_id = manager.get("id") if isinstance(manager, dict) else None
        if is_unset(manager_id) or is_unset(body.manager_id):
            return False
        return manager_id.lower() == body.manager_id.lower()
    if isinstance(body, MemberOf):
        wanted = [group_id.lower() for group_id in body.group_ids if not is_unset(group_id)]
        for group in obj.get("memberOf") or []:
            group_id = group.get("id") if isinstance(group, dict) else None
            if not is_unset(group_id) and group_id.lower() in wanted:
                return True
        return False
    return _expression(body, obj, now, _NO_ITEM)


def is_unset(value: Any) -> bool:
    return value is None or value == ""


def _expression(node, obj: dict, now: datetime, item: Any) -> bool:
    if isinstance(node, And):
        return all(_expression(operand, obj, now, item) for operand in node.operands)
    if isinstance(node, Or):
        return any(_expression(operand, obj, now, item) for operand in node.operands)
    if isinstance(node, Not):
        return not _expression(node.operand, obj, now, item)
    if isinstance(node, Quantifier):
        items = read_property(obj, node.collection) or []
        results = [_expression(node.body, obj, now, each) for each in items]
        return any(results) if node.quantifier == "any" else all(results)
    if isinstance(node, Comparison):
        return _comparison(node, obj, now, item)
    raise TypeError(f"not an expression: {node!r}")


def read_property(obj: dict, ref: PropertyRef) -> Any:
    """The raw value of a rule property in a Graph object (None when it isn't there)."""
    if ref.object_type == "user" and ref.name == "telephoneNumber":
        phones = obj.get("businessPhones") or []
        return phones[0] if phones else None
    if ref.object_type == "user" and ref.name == "sipProxyAddress":
        for address in obj.get("proxyAddresses") or []:
            if isinstance(address, str) and address.lower().startswith("sip:"):
                return address[len("sip:") :]
        return None
    if ref.name.lower().startswith("extension_"):
        # A custom extension: property names ignore case (A3), so `Extension_ABC..._X` reads
        # the Graph attribute `extension_abc..._x`.
        if ref.name in obj:
            return obj[ref.name]
        for key, value in obj.items():
            if key.lower() == ref.name.lower():
                return value
        return None
    spec = lookup(ref.object_type, ref.name)
    assert spec is not None, ref
    value: Any = obj
    for key in spec.graph_path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _comparison(node: Comparison, obj: dict, now: datetime, item: Any) -> bool:
    if isinstance(node.target, ItemRef):
        assert item is not _NO_ITEM, "item reference outside -any/-all"
        if node.target.field is None:
            actual = item
        else:
            actual = item.get(node.target.field) if isinstance(item, dict) else None
        return string_test(node.operator, node.value, actual)
    spec = lookup(node.target.object_type, node.target.name)
    assert spec is not None
    actual = read_property(obj, node.target)
    if spec.type is PropertyType.BOOL:
        return _bool_test(node.operator, node.value, actual)
    if spec.type is PropertyType.DATETIME:
        return _datetime_test(node.operator, node.value, actual, now)
    if spec.type is PropertyType.STRING_COLLECTION:
        positive = NEGATIONS.get(node.operator, node.operator)
        found = any(string_test(positive, node.value, each) for each in actual or [])
        return not found if node.operator in NEGATIONS else found
    return string_test(node.operator, node.value, actual)


def string_test(operator: str, value, actual: Any) -> bool:
    """One string comparison, `actual -operator value`."""
    if operator in NEGATIONS:
        return not string_test(NEGATIONS[operator], value, actual)
    if operator == "in":
        assert isinstance(value, ListValue)
        return any(string_test("eq", each, actual) for each in value.items)
    if isinstance(value, NullValue):
        assert operator == "eq"
        return is_unset(actual)
    assert isinstance(value, StringValue)
    if operator == "eq" and value.value == "":
        return is_unset(actual)
    if is_unset(actual):
        return False
    text, wanted = actual.lower(), value.value.lower()
    if operator == "eq":
        return text == wanted
    if operator == "startsWith":
        return text.startswith(wanted)
    if operator == "endsWith":
        return text.endswith(wanted)
    if operator == "contains":
        return wanted in text
    if operator == "match":
        return re.search(value.value, text, re.IGNORECASE) is not None
    raise ValueError(f"not a string operator: {operator}")


def _bool_test(operator: str, value, actual: Any) -> bool:
    if isinstance(value, NullValue):
        expected = None
    else:
        assert isinstance(value, BoolValue)
        expected = value.value
    if expected is None:
        same = actual is None
    elif expected:
        same = actual is True
    else:
        same = actual is False
    return same if operator == "eq" else not same


def _datetime_test(operator: str, value, actual: Any, now: datetime) -> bool:
    moment = parse_graph_datetime(actual)
    if operator == "ne":
        return not _datetime_test("eq", value, actual, now)
    if isinstance(value, NullValue):
        return moment is None
    if moment is None:
        return False
    if isinstance(value, NowValue):
        target = now if value.offset is None else shift(now, value.offset)
    else:
        assert isinstance(value, DateTimeValue)
        target = value.value
    if operator == "eq":
        return moment == target
    if operator == "le":
        return moment <= target
    if operator == "ge":
        return moment >= target
    raise ValueError(f"not a dateTime operator: {operator}")


def parse_graph_datetime(value: Any) -> datetime | None:
    """A Graph date-time string as an aware datetime; a value without a zone is UTC."""
    if is_unset(value) or not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def shift(moment: datetime, duration: Duration) -> datetime:
    """`moment` moved by `duration`: years and months on the calendar (the day clamped to the
    end of a shorter month), then weeks, days, hours, minutes and seconds exactly."""
    month_index = moment.year * 12 + (moment.month - 1)
    month_index += duration.sign * (12 * duration.years + duration.months)
    year, month = month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    moved = moment.replace(year=year, month=month, day=day)
    exact = timedelta(
        days=7 * duration.weeks + duration.days,
        hours=duration.hours,
        minutes=duration.minutes,
        seconds=duration.seconds,
    )
    return moved + exact if duration.sign > 0 else moved - exact
