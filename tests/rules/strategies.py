"""Hypothesis strategies: random valid rule trees and Graph-shaped users and devices.

Rule constants and object attributes are drawn from the same small pools (with case changes
and substrings), so generated comparisons are true often enough to be interesting.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

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
from reconciler.rules.properties import (
    ASSIGNED_PLAN_FIELDS,
    COLLECTION_DIRECT_OPERATORS,
    STRING_OPERATORS,
    PropertyType,
    lookup,
)

# A fixed `system.now`: the last day of a month, so month arithmetic has to clamp.
NOW = datetime(2024, 3, 31, 10, 30, tzinfo=UTC)

CUSTOM_EXTENSION = "extension_b7d8e5c3a1f24e6d9c0b1a2f3e4d5c6b_costCenter"

# --- value pools ------------------------------------------------------------------------------

GUIDS = [
    "4a5c0d1e-0b7a-4c6e-9f3e-1d2b3c4d5e6f",
    "8F14E45F-CEEA-467A-9575-6A2B3C4D5E6F",
    "c9f0f895-fb98-4b1a-8d3c-2e1f0a9b8c7d",
]
POOLS: dict[str, list[str]] = {
    "text": [
        "Sales",
        "sales",
        "SALES TEAM",
        "Marketing",
        "Lagos",
        "null",
        'say "hi"',
        "back`tick",
        "C:\\temp\\",
        "it's",
        "Müller",
        "a.b*c",
    ],
    "mail": [
        "alice@contoso.com",
        "ALICE@Contoso.com",
        "bob@fabrikam.com",
        "SMTP:alice@contoso.com",
        "smtp:Bob@Fabrikam.com",
        "SIP:alice@contoso.com",
        "sip:Bob@Fabrikam.com",
    ],
    "phone": ["+1 555 0100", "+44 20 7946 0000", "555"],
    "id": [*GUIDS, GUIDS[0].upper(), "not-a-guid"],
    "device": ["Windows", "windows", "iOS", "Android", "10.0.19045", "Surface Pro", "AzureAd"],
    "plan": ["Enabled", "enabled", "Suspended", "Deleted", "exchange", "SharePoint", *GUIDS],
}

# Rule property name -> pool of its values, for each object type.
USER_PROPERTIES: dict[str, str] = {
    "accountEnabled": "",
    "dirSyncEnabled": "",
    "employeeHireDate": "",
    "department": "text",
    "jobTitle": "text",
    "city": "text",
    "companyName": "text",
    "employeeId": "text",
    "userType": "text",
    "mail": "mail",
    "userPrincipalName": "mail",
    "mailNickName": "text",
    "physicalDeliveryOfficeName": "text",
    "objectId": "id",
    "extensionAttribute1": "text",
    "extensionAttribute15": "text",
    "telephoneNumber": "phone",
    "sipProxyAddress": "mail",
    CUSTOM_EXTENSION: "text",
    CUSTOM_EXTENSION.upper(): "text",  # the same attribute spelled in another case (A3)
    "otherMails": "mail",
    "proxyAddresses": "mail",
    "businessPhones": "phone",  # not a rule property: the list behind telephoneNumber
    "assignedPlans": "plan",
}
DEVICE_PROPERTIES: dict[str, str] = {
    "accountEnabled": "",
    "isRooted": "",
    "deviceOSType": "device",
    "deviceOSVersion": "device",
    "deviceManufacturer": "device",
    "deviceModel": "device",
    "deviceTrustType": "device",
    "displayName": "text",
    "objectId": "id",
    "extensionAttribute3": "text",
    "devicePhysicalIds": "device",
    "systemLabels": "text",
}
PROPERTIES = {"user": USER_PROPERTIES, "device": DEVICE_PROPERTIES}

# Graph date-time strings; several name the same instant as NOW or NOW shifted.
GRAPH_DATES = [
    "2020-06-10T18:13:20Z",
    "2020-06-10",
    "2020-06-10T00:00:00Z",
    "2024-03-31T10:30:00Z",
    "2024-03-31T12:30:00+02:00",
    "2024-03-31T10:30:00",
    "2024-02-29T10:30:00Z",
    "2024-03-30T10:30:00Z",
    "2024-04-30T10:30:00Z",
    "2023-03-31T10:30:00.500000Z",
]

MISSING = object()  # an attribute left out of the object altogether


def _spec(object_type: str, name: str):
    spec = lookup(object_type, name)  # type: ignore[arg-type]
    assert spec is not None, name
    return spec


# --- rule constants ------------------------------------------------------------------------------


def _case_variants(text: str) -> st.SearchStrategy[str]:
    return st.sampled_from([text, text.lower(), text.upper(), text.swapcase()])


@st.composite
def _piece(draw, text: str) -> str:
    """`text`, or a prefix, suffix or middle of it, sometimes with its case changed."""
    if text and draw(st.booleans()):
        start = draw(st.integers(0, len(text) - 1))
        end = draw(st.integers(start + 1, len(text)))
        text = text[start:end]
    return draw(_case_variants(text))


TRICKY_STRINGS = st.text(alphabet="aS @.'\"`\\-_", max_size=5)


def strings(pool: str) -> st.SearchStrategy[str]:
    """A rule's string constant: mostly drawn from `pool`, sometimes "" or tricky text."""
    return st.one_of(
        st.sampled_from(POOLS[pool]).flatmap(_piece),
        st.sampled_from(["", "null", "NULL"]),
        TRICKY_STRINGS,
    )


@st.composite
def regexes(draw, pool: str) -> str:
    """A regular expression from a safe alphabet: literal pieces of pool values, ^, $, .*"""
    words = draw(st.lists(st.sampled_from(POOLS[pool]).flatmap(_piece), min_size=1, max_size=3))
    literal = st.sampled_from(["", "\\."])
    pieces = []
    for word in words:
        safe = "".join(ch for ch in word if ch.isalnum() or ch in " @-_'\"`")
        pieces.append(safe or "a")
    joiner = draw(st.sampled_from([".*", "", ".", "\\s?"]))
    pattern = joiner.join(pieces) + draw(literal)
    if draw(st.booleans()):
        pattern = "^" + pattern
    if draw(st.booleans()):
        pattern += "$"
    return pattern


def string_values(pool: str, operator: str) -> st.SearchStrategy:
    if operator in ("in", "notIn"):
        return st.lists(strings(pool).map(StringValue), min_size=1, max_size=4).map(
            lambda items: ListValue(tuple(items))
        )
    if operator in ("match", "notMatch"):
        return regexes(pool).map(StringValue)
    if operator in ("eq", "ne"):
        return st.one_of(strings(pool).map(StringValue), st.just(NullValue()))
    return strings(pool).map(StringValue)


_SECONDS = st.one_of(
    st.just(0.0),
    st.integers(0, 120).map(float),
    st.sampled_from([0.5, 1.25, 90.75]),
    st.integers(0, 10**7).map(float),
    st.floats(0, 10**4, allow_nan=False, allow_infinity=False),
)


def _sparse(strategy: st.SearchStrategy[int]) -> st.SearchStrategy[int]:
    return st.one_of(st.just(0), strategy)


durations = st.builds(
    Duration,
    years=_sparse(st.integers(0, 30)),
    months=_sparse(st.integers(0, 25)),
    weeks=_sparse(st.integers(0, 10)),
    days=_sparse(st.integers(0, 400)),
    hours=_sparse(st.integers(0, 48)),
    minutes=_sparse(st.integers(0, 120)),
    seconds=st.one_of(st.just(0.0), _SECONDS),
    sign=st.sampled_from([1, -1]),
)

_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])

rule_datetimes = st.one_of(
    st.sampled_from(GRAPH_DATES).map(
        lambda text: (d := datetime.fromisoformat(text)).replace(tzinfo=d.tzinfo or UTC)
    ),
    st.datetimes(
        min_value=datetime(2015, 1, 1),
        max_value=datetime(2030, 12, 31),
        timezones=_ZONES,
    ),
)


def datetime_values(operator: str) -> st.SearchStrategy:
    moments = st.one_of(
        rule_datetimes.map(DateTimeValue),
        st.just(NowValue()),
        durations.map(NowValue),
    )
    if operator in ("eq", "ne"):
        return st.one_of(moments, st.just(NullValue()))
    return moments


# --- expressions ---------------------------------------------------------------------------


def item_comparisons(collection: str, object_type: str) -> st.SearchStrategy[Comparison]:
    """A comparison on the item of `collection` inside -any/-all."""
    if collection == "assignedPlans":
        targets = st.sampled_from(ASSIGNED_PLAN_FIELDS).map(ItemRef)
    else:
        targets = st.just(ItemRef(None))
    pool = PROPERTIES[object_type][collection]
    return st.tuples(targets, st.sampled_from(sorted(STRING_OPERATORS))).flatmap(
        lambda pair: string_values(pool, pair[1]).map(
            lambda value: Comparison(pair[0], pair[1], value)
        )
    )


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, picked with the given relative weights."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


@st.composite
def _tree(draw, leaf: st.SearchStrategy, depth: int):
    """A leaf, or -not / -and / -or over smaller trees (at most `depth` levels)."""
    if depth <= 0:
        return draw(leaf)
    kind = draw(st.sampled_from(["leaf"] * 4 + ["not", "and", "and", "or", "or"]))
    if kind == "leaf":
        return draw(leaf)
    child = _tree(leaf, depth - 1)
    if kind == "not":
        return Not(draw(child))
    operands = tuple(draw(st.lists(child, min_size=2, max_size=3)))
    return And(operands) if kind == "and" else Or(operands)


def item_expressions(collection: str, object_type: str) -> st.SearchStrategy:
    return _tree(item_comparisons(collection, object_type), depth=1)


def comparisons(object_type: str) -> st.SearchStrategy[Comparison]:
    """A comparison on a property of `object_type`, with an operator valid for its type."""
    choices = []
    for name, pool in PROPERTIES[object_type].items():
        spec = lookup(object_type, name)  # type: ignore[arg-type]
        if spec is None or spec.type is PropertyType.OBJECT_COLLECTION:
            continue
        ref = PropertyRef(object_type, spec.name)  # type: ignore[arg-type]
        weight = 1
        if spec.type is PropertyType.BOOL:
            value = st.one_of(st.booleans().map(BoolValue), st.just(NullValue()))
            choices.append(
                st.tuples(st.sampled_from(["eq", "ne"]), value).map(
                    lambda pair, ref=ref: Comparison(ref, pair[0], pair[1])
                )
            )
            continue
        if spec.type is PropertyType.DATETIME:
            operators = ["eq", "ne", "le", "ge"]
            make_value = datetime_values
            weight = 4  # the only dateTime property: drawn as often as a few others
        elif spec.type is PropertyType.STRING_COLLECTION:
            operators = sorted(COLLECTION_DIRECT_OPERATORS)
            make_value = lambda operator, pool=pool: string_values(pool, operator)  # noqa: E731
        else:
            operators = sorted(STRING_OPERATORS)
            make_value = lambda operator, pool=pool: string_values(pool, operator)  # noqa: E731
        choices += weight * [_comparisons_on(ref, operators, make_value)]
    return st.sampled_from(choices).flatmap(lambda strategy: strategy)


def _comparisons_on(ref: PropertyRef, operators: list[str], make_value) -> st.SearchStrategy:
    def with_operator(operator: str) -> st.SearchStrategy[Comparison]:
        return make_value(operator).map(lambda value: Comparison(ref, operator, value))

    return st.sampled_from(operators).flatmap(with_operator)


def quantifiers(object_type: str) -> st.SearchStrategy[Quantifier]:
    collections = [
        name
        for name in PROPERTIES[object_type]
        if (spec := lookup(object_type, name)) is not None  # type: ignore[arg-type]
        and spec.type in (PropertyType.STRING_COLLECTION, PropertyType.OBJECT_COLLECTION)
    ]
    return st.sampled_from(collections).flatmap(
        lambda name: st.tuples(
            st.sampled_from(["any", "all"]), item_expressions(name, object_type)
        ).map(
            lambda pair: Quantifier(
                PropertyRef(object_type, _spec(object_type, name).name),  # type: ignore[arg-type]
                pair[0],  # type: ignore[arg-type]
                pair[1],
            )
        )
    )


def expressions(object_type: str, depth: int = 3) -> st.SearchStrategy:
    leaves = weighted((3, comparisons(object_type)), (1, quantifiers(object_type)))
    return _tree(leaves, depth)


def _id_variants(ids: list[str]) -> st.SearchStrategy[str]:
    return st.sampled_from(ids).flatmap(_case_variants)


direct_reports_rules = _id_variants(POOLS["id"]).map(lambda i: Rule("user", DirectReports(i)))


def member_of_rules(object_type: str) -> st.SearchStrategy[Rule]:
    ids = st.one_of(_id_variants(POOLS["id"]), st.sampled_from(["group-a", "it's", 'q"uote']))
    return st.lists(ids, min_size=1, max_size=50).map(
        lambda items: Rule(object_type, MemberOf(object_type, tuple(items)))  # type: ignore[arg-type]
    )


def expression_rules(object_type: str, depth: int = 3) -> st.SearchStrategy[Rule]:
    return expressions(object_type, depth).map(lambda body: Rule(object_type, body))  # type: ignore[arg-type]


rules = weighted(
    (12, expression_rules("user")),
    (4, expression_rules("device")),
    (1, direct_reports_rules),
    (1, member_of_rules("user")),
    (1, member_of_rules("device")),
)


# --- Graph objects ------------------------------------------------------------------------------


def _unset() -> st.SearchStrategy:
    return st.sampled_from([MISSING, None, ""])


def _graph_string(pool: str) -> st.SearchStrategy:
    return st.one_of(_unset(), st.sampled_from(POOLS[pool]).flatmap(_case_variants))


def _graph_list(pool: str) -> st.SearchStrategy:
    item = st.one_of(
        st.sampled_from(POOLS[pool]).flatmap(_case_variants), st.sampled_from(["", None])
    )
    return st.one_of(st.sampled_from([MISSING, None, []]), st.lists(item, min_size=1, max_size=4))


_plan_field = st.one_of(_unset(), st.sampled_from(POOLS["plan"]).flatmap(_case_variants))


@st.composite
def _assigned_plan(draw) -> dict:
    plan = {}
    for name in ASSIGNED_PLAN_FIELDS:
        value = draw(_plan_field)
        if value is not MISSING:
            plan[name] = value
    return plan


_ids = st.one_of(_id_variants(POOLS["id"]), st.just("group-a"))


def _attribute(object_type: str, name: str, pool: str) -> st.SearchStrategy:
    if name == "assignedPlans":
        return st.one_of(st.sampled_from([MISSING, []]), st.lists(_assigned_plan(), max_size=3))
    if name == "businessPhones":
        return _graph_list(pool)
    kind = _spec(object_type, name).type
    if kind is PropertyType.BOOL:
        return st.sampled_from([MISSING, None, True, False])
    if kind is PropertyType.DATETIME:
        return st.one_of(_unset(), st.sampled_from(GRAPH_DATES))
    if kind is PropertyType.STRING_COLLECTION:
        return _graph_list(pool)
    return _graph_string(pool)


@st.composite
def graph_objects(draw, object_type: str) -> dict:
    """A Graph-shaped user or device, attributes sometimes missing, None or ""."""
    obj: dict = {}
    extension_key = (
        "onPremisesExtensionAttributes" if object_type == "user" else "extensionAttributes"
    )
    extensions = draw(st.sampled_from(["dict", "missing", "none"]))
    if extensions == "dict":
        obj[extension_key] = {}
    elif extensions == "none":
        obj[extension_key] = None
    for name, pool in PROPERTIES[object_type].items():
        if name in ("sipProxyAddress", "telephoneNumber", CUSTOM_EXTENSION.upper()):
            continue  # derived from proxyAddresses and businessPhones, or a second spelling
        value = draw(_attribute(object_type, name, pool))
        if value is MISSING:
            continue
        path = (
            ("businessPhones",) if name == "businessPhones" else _spec(object_type, name).graph_path
        )
        if len(path) == 2:
            if isinstance(obj.get(path[0]), dict):
                obj[path[0]][path[1]] = value
        else:
            obj[path[0]] = value
    if object_type == "user":
        manager = draw(
            st.one_of(
                st.sampled_from([MISSING, None, {}, {"id": None}]), _ids.map(lambda i: {"id": i})
            )
        )
        if manager is not MISSING:
            obj["manager"] = manager
    member_of = draw(
        st.one_of(
            st.sampled_from([MISSING, []]), st.lists(_ids.map(lambda i: {"id": i}), max_size=3)
        )
    )
    if member_of is not MISSING:
        obj["memberOf"] = member_of
    return obj


users = graph_objects("user")
devices = graph_objects("device")


@st.composite
def rules_with_objects(draw, max_objects: int = 6):
    """A rule and a few objects of its type to test it against."""
    rule = draw(rules)
    objects = draw(st.lists(graph_objects(rule.object_type), min_size=1, max_size=max_objects))
    return rule, objects


# --- arbitrary text ----------------------------------------------------------------------------

RULE_FRAGMENTS = [
    *"abcdeuvwxyzADSUX0129",
    *"\"'`()[]-\u2013\u2014. ,_$\\:+",
    "“",
    "”",
    "\t",
    "user.",
    "device.",
    "department",
    "accountEnabled",
    "employeeHireDate",
    "otherMails",
    "assignedPlans",
    "assignedPlan.service",
    "memberOf",
    "group.objectId",
    "_",
    "-eq",
    "-ne",
    "eq",
    "-EQ",
    "\u2013eq",
    "-startsWith",
    "-notContains",
    "-match",
    "-in",
    "-notIn",
    "-le",
    "-ge",
    "-lt",
    "-any",
    "-all",
    "-and",
    "-or",
    "-not",
    " and ",
    " or ",
    "not ",
    "-plus",
    "-minus",
    "system.now",
    "P1D",
    "-P30D",
    "PT1.5S",
    "null",
    "$null",
    "true",
    "false",
    "2020-06-10T18:13:20Z",
    "2020-06-10",
    '"Sales"',
    "'it''s'",
    '"a`"b"',
    '"\\d+"',
    '"(a"',
    '"a{99999999999}"',
    "Direct Reports for ",
    f'"{GUIDS[0]}"',
    "extension_b7d8e5c3a1f24e6d9c0b1a2f3e4d5c6b_x",
]

# Whole comparisons, so that some random texts are valid rules (or nearly).
RULE_FRAGMENTS += [
    'user.department -eq "Sales"',
    " user.otherMails -any (_ -contains 'x') ",
    'user.assignedPlans -all (assignedPlan.capabilityStatus -eq "Enabled")',
    "user.employeeHireDate -ge system.now -plus -P30D",
    'device.deviceOSType -in ["Windows", "iOS"]',
    " -and user.accountEnabled -eq true",
    " -or ",
    f'user.memberOf -any (group.objectId -in ["{GUIDS[1]}"])',
]

rule_like_text = st.lists(
    weighted((30, st.sampled_from(RULE_FRAGMENTS)), (1, st.characters())), max_size=30
).map("".join)
