"""Evaluation of compiled rules against Graph-shaped objects, operator by operator.

Every expectation follows docs/rules.md: string comparisons ignore case; a missing attribute,
null and "" are all unset; positive operators are false on an unset value and every negated
operator is the exact complement of its positive form (A9); -le/-ge are inclusive (A11).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reconciler.rules.compiler import compile_rule

FIXED_NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)

MANAGER = "62e19b97-8b3d-4d4a-a106-4ce66896a863"
GROUP_A = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"
GROUP_B = "cccccccc-0000-1111-2222-dddddddddddd"
EXO_P2 = "efb87545-963c-4e0d-99df-69c6916d9eb0"
OTHER_PLAN = "aaaa0a0a-bb1b-cc2c-dd3d-eeeeee4e4e4e"
EXTENSION = "extension_c272a57b722d4eb29bfe327874ae79cb_OfficeNumber"


def evaluate(rule: str, obj: dict) -> bool:
    return compile_rule(rule, now=FIXED_NOW)(obj)


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _table(rows):
    """pytest params from (id, rule, object, expected) rows."""
    return [pytest.param(rule, obj, expected, id=name) for name, rule, obj, expected in rows]


def _check(rule, obj, expected):
    assert evaluate(rule, obj) is expected, f"{rule} on {obj}"


# --- strings: the 12 string operators ---------------------------------------------------------

# positive operator, its negation, the value, a department that matches, one that doesn't, and
# one that matches only when case is ignored
_STRING_OPERATORS = [
    ("eq", "ne", '"Sales"', "Sales", "Marketing", "SALES"),
    ("startsWith", "notStartsWith", '"Sal"', "Sales", "Resales", "sALES"),
    ("endsWith", "notEndsWith", '"les"', "Sales", "Salesman", "SALES"),
    ("contains", "notContains", '"ale"', "Sales", "Marketing", "SALES"),
    ("match", "notMatch", '"^S.l"', "Sales", "Resales", "SALES"),
    ("in", "notIn", '["Sales", "HR"]', "Sales", "Marketing", "sales"),
]


def _string_rows():
    rows = []
    for positive, negated, value, matching, other, other_case in _STRING_OPERATORS:
        situations = [
            ("the value matches", {"department": matching}, True),
            ("the value doesn't match", {"department": other}, False),
            ("the value matches in another case", {"department": other_case}, True),
            ("the attribute is missing", {}, False),
            ("the attribute is null", {"department": None}, False),
            ("the attribute is an empty string", {"department": ""}, False),
        ]
        for situation, user, expected in situations:
            for operator, result in ((positive, expected), (negated, not expected)):
                rows.append(
                    (
                        f"{operator} is {str(result).lower()} when {situation}",
                        f"user.department -{operator} {value}",
                        user,
                        result,
                    )
                )
    return rows


@pytest.mark.parametrize(("rule", "obj", "expected"), _table(_string_rows()))
def test_string_operator(rule, obj, expected):
    _check(rule, obj, expected)


_STRING_NULL_ROWS = [
    ("eq null is true when missing", "user.department -eq null", {}, True),
    ("eq null is true when null", "user.department -eq null", {"department": None}, True),
    ("eq null is true when empty", "user.department -eq null", {"department": ""}, True),
    ("eq null is false when set", "user.department -eq null", {"department": "Sales"}, False),
    ("ne null is true when set", "user.department -ne null", {"department": "Sales"}, True),
    ("ne null is false when missing", "user.department -ne null", {}, False),
    ("ne $null is false when empty", "user.department -ne $null", {"department": ""}, False),
    ('eq "" means eq null: true when missing', 'user.department -eq ""', {}, True),
    ('eq "" means eq null: true when empty', 'user.department -eq ""', {"department": ""}, True),
    ('eq "" means eq null: false when set', 'user.department -eq ""', {"department": "x"}, False),
    ('ne "" is true when set', 'user.department -ne ""', {"department": "Sales"}, True),
    ('ne "null" is true when unset (A9)', 'user.employeeId -ne "null"', {}, True),
    ('ne "null" is true for another id', 'user.employeeId -ne "null"', {"employeeId": "E1"}, True),
    (
        'ne "null" is false for the string null',
        'user.employeeId -ne "null"',
        {"employeeId": "NULL"},
        False,
    ),
    ('in a list holding "" is true when unset', 'user.department -in ["", "Sales"]', {}, True),
    ("ne is true when missing", 'user.department -ne "Sales"', {}, True),
]


@pytest.mark.parametrize(("rule", "obj", "expected"), _table(_STRING_NULL_ROWS))
def test_string_null_handling(rule, obj, expected):
    _check(rule, obj, expected)


def test_notstartswith_is_true_when_attribute_missing():
    assert evaluate('user.department -notStartsWith "Sal"', {}) is True


def test_in_ignores_case_of_list_items():
    assert evaluate('user.city -in ["LAGOS", "ibadan"]', {"city": "Ibadan"}) is True
    assert evaluate('user.city -notIn ["LAGOS", "ibadan"]', {"city": "lagos"}) is False


@pytest.mark.parametrize("operator", ["startsWith", "endsWith", "contains", "match"])
def test_positive_operator_with_empty_string_is_false_when_attribute_missing(operator):
    # A9: positive operators are false on an unset value (only -eq "" is documented as -eq null).
    assert evaluate(f'user.department -{operator} ""', {}) is False


# --- strings: quoting and escaping (A1, A2) ---------------------------------------------------


_QUOTING_ROWS = [
    ("backtick escapes a double quote", 'user.department -eq "Sales`"Team"', 'Sales"Team', True),
    ("backslash escapes a double quote", 'user.department -eq "Sales\\"Team"', 'Sales"Team', True),
    ("doubled single quote is one quote", "user.department -eq 'O''Brien'", "O'Brien", True),
    ("single-quoted string compares like double", "user.department -eq 'Sales'", "sales", True),
    ("unquoted backtick value keeps its quotes", 'user.department -eq `"Sales`"', '"Sales"', True),
    (
        "unquoted backtick value is not the bare word",
        'user.department -eq `"Sales`"',
        "Sales",
        False,
    ),
    ('"null" in quotes is the four-letter string', 'user.department -eq "null"', "null", True),
]


@pytest.mark.parametrize(
    ("rule", "department", "expected"),
    [pytest.param(rule, dept, exp, id=name) for name, rule, dept, exp in _QUOTING_ROWS],
)
def test_quoted_values(rule, department, expected):
    _check(rule, {"department": department}, expected)


# --- -match: an unanchored, case-insensitive search (A10) -----------------------------------

_MATCH_ROWS = [
    ('"ago" matches Lagos', 'user.city -match "ago"', "Lagos", True),
    ('".*?ago.*" matches Lagos', 'user.city -match ".*?ago.*"', "Lagos", True),
    ('"ago" does not match Abuja', 'user.city -match "ago"', "Abuja", False),
    ('"^Da.*" matches Da', 'user.city -match "^Da.*"', "Da", True),
    ('"^Da.*" matches Dav', 'user.city -match "^Da.*"', "Dav", True),
    ('"^Da.*" matches David', 'user.city -match "^Da.*"', "David", True),
    ('"^Da.*" does not match aDa', 'user.city -match "^Da.*"', "aDa", False),
    ('".*vid" matches David', 'user.city -match ".*vid"', "David", True),
    ('".*vid" does not match Da', 'user.city -match ".*vid"', "Da", False),
    ('unanchored "Da.*" matches aDa', 'user.city -match "Da.*"', "aDa", True),
    ('"^da" ignores case', 'user.city -match "^da"', "DAVID", True),
    ('"@domain.ext$" matches a suffix', 'user.city -match "@domain.ext$"', "a@DOMAIN.ext", True),
    ('"@domain.ext$" needs the end', 'user.city -match "@domain.ext$"', "a@domain.ext.x", False),
    ('backslash reaches the regex: "\\d+"', 'user.city -match "\\d+"', "abc123", True),
    ('backslash reaches the regex: "\\d+" no digits', 'user.city -match "\\d+"', "abc", False),
    ("notMatch is the complement", 'user.city -notMatch "ago"', "Lagos", False),
]


@pytest.mark.parametrize(
    ("rule", "city", "expected"),
    [pytest.param(rule, city, exp, id=name) for name, rule, city, exp in _MATCH_ROWS],
)
def test_match(rule, city, expected):
    _check(rule, {"city": city}, expected)


# --- booleans ------------------------------------------------------------------------------

_BOOLEAN_ROWS = [
    ("eq true is true for true", "user.accountEnabled -eq true", True, True),
    ("eq true is false for false", "user.accountEnabled -eq true", False, False),
    ("eq true is false for null", "user.accountEnabled -eq true", None, False),
    ("eq false is true for false", "user.accountEnabled -eq false", False, True),
    ("eq false is false for true", "user.accountEnabled -eq false", True, False),
    ("eq false is false for null", "user.accountEnabled -eq false", None, False),
    ("ne true is true for false", "user.accountEnabled -ne true", False, True),
    ("ne true is true for null", "user.accountEnabled -ne true", None, True),
    ("ne true is false for true", "user.accountEnabled -ne true", True, False),
    ("ne false is true for null", "user.accountEnabled -ne false", None, True),
    ("eq null is true for null", "user.accountEnabled -eq null", None, True),
    ("eq null is false for false", "user.accountEnabled -eq null", False, False),
    ("ne null is true for false", "user.accountEnabled -ne null", False, True),
    ("ne null is false for null", "user.accountEnabled -ne null", None, False),
    ("TRUE in capitals is true", "user.accountEnabled -eq TRUE", True, True),
]


@pytest.mark.parametrize(
    ("rule", "value", "expected"),
    [pytest.param(rule, value, exp, id=name) for name, rule, value, exp in _BOOLEAN_ROWS],
)
def test_boolean(rule, value, expected):
    _check(rule, {"accountEnabled": value}, expected)


def test_boolean_eq_true_is_false_when_attribute_missing():
    assert evaluate("user.accountEnabled -eq true", {}) is False
    assert evaluate("user.accountEnabled -eq null", {}) is True


# --- dateTime (A11) -------------------------------------------------------------------------

HIRED = "2020-06-10T18:13:20Z"

_DATETIME_ROWS = [
    ("le is inclusive", f"user.employeeHireDate -le {HIRED}", HIRED, True),
    (
        "le is false one second later",
        f"user.employeeHireDate -le {HIRED}",
        "2020-06-10T18:13:21Z",
        False,
    ),
    (
        "le is true one second earlier",
        f"user.employeeHireDate -le {HIRED}",
        "2020-06-10T18:13:19Z",
        True,
    ),
    ("ge is inclusive", f"user.employeeHireDate -ge {HIRED}", HIRED, True),
    (
        "ge is false one second earlier",
        f"user.employeeHireDate -ge {HIRED}",
        "2020-06-10T18:13:19Z",
        False,
    ),
    (
        "ge is true one second later",
        f"user.employeeHireDate -ge {HIRED}",
        "2020-06-10T18:13:21Z",
        True,
    ),
    ("eq is true at the same moment", f"user.employeeHireDate -eq {HIRED}", HIRED, True),
    (
        "eq is false a second apart",
        f"user.employeeHireDate -eq {HIRED}",
        "2020-06-10T18:13:21Z",
        False,
    ),
    (
        "ne is true a second apart",
        f"user.employeeHireDate -ne {HIRED}",
        "2020-06-10T18:13:21Z",
        True,
    ),
    ("ne is false at the same moment", f"user.employeeHireDate -ne {HIRED}", HIRED, False),
    (
        "eq with an offset compares the instant",
        "user.employeeHireDate -eq 2020-06-10T20:13:20+02:00",
        HIRED,
        True,
    ),
    ("a date without a zone is UTC", "user.employeeHireDate -eq 2020-06-10T18:13:20", HIRED, True),
    (
        "an attribute without a zone is UTC",
        f"user.employeeHireDate -eq {HIRED}",
        "2020-06-10T18:13:20",
        True,
    ),
    (
        "a date alone is midnight UTC",
        "user.employeeHireDate -le 2020-06-10",
        "2020-06-10T00:00:00Z",
        True,
    ),
    ("a date alone is before later that day", "user.employeeHireDate -le 2020-06-10", HIRED, False),
    ("a quoted date is accepted", 'user.employeeHireDate -ge "2020-06-10"', HIRED, True),
    (
        "lower-case employeehiredate is the same property",
        f"user.employeehiredate -le {HIRED}",
        HIRED,
        True,
    ),
    ("le is false when null", f"user.employeeHireDate -le {HIRED}", None, False),
    ("ge is false when null", f"user.employeeHireDate -ge {HIRED}", None, False),
    ("eq is false when null", f"user.employeeHireDate -eq {HIRED}", None, False),
    ("ne is true when null", f"user.employeeHireDate -ne {HIRED}", None, True),
    ("eq null is true when null", "user.employeeHireDate -eq null", None, True),
    ("eq null is false when set", "user.employeeHireDate -eq null", HIRED, False),
    ("ne null is true when set", "user.employeeHireDate -ne null", HIRED, True),
]


@pytest.mark.parametrize(
    ("rule", "hired", "expected"),
    [pytest.param(rule, hired, exp, id=name) for name, rule, hired, exp in _DATETIME_ROWS],
)
def test_datetime(rule, hired, expected):
    _check(rule, {"employeeHireDate": hired}, expected)


def test_datetime_comparisons_are_false_when_attribute_missing():
    assert evaluate(f"user.employeeHireDate -le {HIRED}", {}) is False
    assert evaluate(f"user.employeeHireDate -ge {HIRED}", {}) is False
    assert evaluate("user.employeeHireDate -ge system.now", {}) is False
    assert evaluate("user.employeeHireDate -eq null", {}) is True


_NOW_ROWS = [
    ("ge now plus P1D: hired a day ahead", "-ge system.now -plus p1d", timedelta(days=1), True),
    (
        "ge now plus P1D: hired 1s short",
        "-ge system.now -plus P1D",
        timedelta(days=1, seconds=-1),
        False,
    ),
    (
        "ge now minus 30 days: hired 29 days ago",
        "-ge system.now -plus -P30D",
        timedelta(days=-29),
        True,
    ),
    (
        "ge now minus 30 days: hired 31 days ago",
        "-ge system.now -plus -P30D",
        timedelta(days=-31),
        False,
    ),
    (
        "ge now minus 30 days: exactly 30 days ago",
        "-ge system.now -plus -p30d",
        timedelta(days=-30),
        True,
    ),
    ("le now: hired now", "-le system.now", timedelta(0), True),
    ("le now: hired tomorrow", "-le system.now", timedelta(days=1), False),
    ("ge now: hired yesterday", "-ge system.now", timedelta(days=-1), False),
    (
        "le now plus PT12H: hired in 12 hours",
        "-le system.now -plus PT12H",
        timedelta(hours=12),
        True,
    ),
    ("hyphenless plus is -plus (A4)", "-ge system.now plus P1D", timedelta(days=1), True),
]


@pytest.mark.parametrize(
    ("condition", "offset", "expected"),
    [pytest.param(cond, offset, exp, id=name) for name, cond, offset, exp in _NOW_ROWS],
)
def test_system_now_is_fixed_to_the_evaluation_time(condition, offset, expected):
    user = {"employeeHireDate": iso(FIXED_NOW + offset)}
    _check(f"user.employeeHireDate {condition}", user, expected)


# --- string collections ---------------------------------------------------------------------

MAILS = ["first@fabrikam.com", "Alias@Contoso.com"]

_COLLECTION_ROWS = [
    # A7: string operators straight on a collection: any item passes; negations complement
    (
        "startsWith is true when an item starts so",
        'user.otherMails -startsWith "alias"',
        MAILS,
        True,
    ),
    ("startsWith is false when no item starts so", 'user.otherMails -startsWith "x"', MAILS, False),
    ("startsWith is false on an empty list", 'user.otherMails -startsWith "alias"', [], False),
    ("startsWith is false when missing", 'user.otherMails -startsWith "alias"', None, False),
    (
        "notStartsWith is false when an item starts so",
        'user.otherMails -notStartsWith "alias"',
        MAILS,
        False,
    ),
    (
        "notStartsWith is true when no item starts so",
        'user.otherMails -notStartsWith "x"',
        MAILS,
        True,
    ),
    ("notStartsWith is true on an empty list", 'user.otherMails -notStartsWith "alias"', [], True),
    ("notStartsWith is true when missing", 'user.otherMails -notStartsWith "alias"', None, True),
    (
        "endsWith is true when an item ends so",
        'user.otherMails -endsWith"@contoso.com"',
        MAILS,
        True,
    ),
    ("endsWith is false on an empty list", 'user.otherMails -endsWith "@contoso.com"', [], False),
    (
        "notEndsWith is false when an item ends so",
        'user.otherMails -notEndsWith "@CONTOSO.COM"',
        MAILS,
        False,
    ),
    ("notEndsWith is true when missing", 'user.otherMails -notEndsWith "@contoso.com"', None, True),
    (
        "contains is true when an item contains it",
        'user.otherMails -contains "fabrikam"',
        MAILS,
        True,
    ),
    ("contains is false when none does", 'user.otherMails -contains "outlook"', MAILS, False),
    ("notContains is true when none does", 'user.otherMails -notContains "outlook"', MAILS, True),
    ("notContains is false when one does", 'user.otherMails -notContains "FABRIKAM"', MAILS, False),
    ("notContains is true on an empty list", 'user.otherMails -notContains "x"', [], True),
    # -any / -all with _
    (
        "any _ eq is true when an item equals",
        'user.otherMails -any (_ -eq "alias@contoso.com")',
        MAILS,
        True,
    ),
    ("any _ eq is false when none equals", 'user.otherMails -any (_ -eq "alias")', MAILS, False),
    ("any is false on an empty list", 'user.otherMails -any (_ -ne "x")', [], False),
    ("any is false when missing", 'user.otherMails -any (_ -ne "x")', None, False),
    ("any without parentheses", 'user.otherMails -any _ -startsWith "ALIAS"', MAILS, True),
    ("any _ in a list", 'user.otherMails -any (_ -in ["x", "first@fabrikam.com"])', MAILS, True),
    ("any _ match", 'user.otherMails -any (_ -match "^first@")', MAILS, True),
    (
        "any with two conditions on the item",
        'user.otherMails -any (_ -startsWith "a" -and _ -endsWith ".com")',
        MAILS,
        True,
    ),
    ("any with -not inside", 'user.otherMails -any (-not (_ -contains "contoso"))', MAILS, True),
    (
        "all is true when every item passes",
        'user.otherMails -all (_ -endsWith ".com")',
        MAILS,
        True,
    ),
    (
        "all is false when one item fails",
        'user.otherMails -all (_ -endsWith "@contoso.com")',
        MAILS,
        False,
    ),
    ("all is true on an empty list (A16)", 'user.otherMails -all (_ -eq "x")', [], True),
    ("all is true when missing (A16)", 'user.otherMails -all (_ -eq "x")', None, True),
    ("all without parentheses", 'user.otherMails -all _ -contains "@"', MAILS, True),
]


@pytest.mark.parametrize(
    ("rule", "mails", "expected"),
    [pytest.param(rule, mails, exp, id=name) for name, rule, mails, exp in _COLLECTION_ROWS],
)
def test_string_collection(rule, mails, expected):
    user = {} if mails is None else {"otherMails": mails}
    _check(rule, user, expected)


def test_proxy_addresses_any_contains():
    user = {"proxyAddresses": ["SMTP:ann@contoso.com", "smtp:ann@fabrikam.com"]}
    assert evaluate('(user.proxyAddresses -any (_ -contains "contoso"))', user) is True
    assert evaluate('(user.proxyAddresses -any (_ -startsWith "contoso"))', user) is False
    assert evaluate('user.proxyAddresses -startsWith "SMTP:ann"', user) is True
    assert evaluate('user.proxyAddresses -notEndsWith "@outlook.com"', user) is True


def test_unparenthesised_any_body_is_one_comparison():
    # A15: the -or belongs to the enclosing expression, not to the body of -any.
    rule = 'user.otherMails -any _ -startsWith "x" -or user.city -eq "Lagos"'
    assert evaluate(rule, {"otherMails": [], "city": "Lagos"}) is True
    assert evaluate(rule, {"otherMails": ["x@y"], "city": "Abuja"}) is True
    assert evaluate(rule, {"otherMails": ["a@y"], "city": "Abuja"}) is False


# --- assignedPlans --------------------------------------------------------------------------

PLAN_ENABLED = {"servicePlanId": EXO_P2, "capabilityStatus": "Enabled", "service": "exchange"}
PLAN_SUSPENDED = {"servicePlanId": EXO_P2, "capabilityStatus": "Suspended", "service": "exchange"}
OTHER_ENABLED = {"servicePlanId": OTHER_PLAN, "capabilityStatus": "Enabled", "service": "SCO"}

SAME_ITEM = (
    f'user.assignedPlans -any (assignedPlan.servicePlanId -eq "{EXO_P2}" '
    '-and assignedPlan.capabilityStatus -eq "Enabled")'
)
DIFFERENT_ITEMS = (
    f'user.assignedPlans -any (assignedPlan.servicePlanId -eq "{EXO_P2}") '
    '-and user.assignedPlans -any (assignedPlan.capabilityStatus -eq "Enabled")'
)


def test_any_with_two_conditions_needs_one_plan_meeting_both():
    assert evaluate(SAME_ITEM, {"assignedPlans": [OTHER_ENABLED, PLAN_ENABLED]}) is True
    assert evaluate(SAME_ITEM, {"assignedPlans": [PLAN_SUSPENDED, OTHER_ENABLED]}) is False


def test_two_any_conditions_may_be_met_by_different_plans():
    assert evaluate(DIFFERENT_ITEMS, {"assignedPlans": [PLAN_SUSPENDED, OTHER_ENABLED]}) is True
    assert evaluate(DIFFERENT_ITEMS, {"assignedPlans": [PLAN_SUSPENDED]}) is False


def test_all_service_plan_id_null_selects_users_without_plans():
    rule = "user.assignedPlans -all (assignedPlan.servicePlanId -eq null)"
    assert evaluate(rule, {"assignedPlans": []}) is True
    assert evaluate(rule, {}) is True
    assert evaluate(rule, {"assignedPlans": None}) is True
    assert evaluate(rule, {"assignedPlans": [PLAN_ENABLED]}) is False


def test_all_service_plan_id_empty_string_is_the_same_as_null():
    rule = 'user.assignedPlans -all (assignedPlan.servicePlanId -eq "")'
    assert evaluate(rule, {"assignedPlans": []}) is True
    assert evaluate(rule, {"assignedPlans": [PLAN_ENABLED]}) is False


def test_assigned_plan_fields_compare_ignoring_case():
    rule = (
        'user.assignedPlans -any (assignedPlan.service -eq "sco" '
        '-and assignedPlan.capabilityStatus -eq "ENABLED")'
    )
    assert evaluate(rule, {"assignedPlans": [OTHER_ENABLED]}) is True
    assert evaluate(rule, {"assignedPlans": [PLAN_ENABLED]}) is False


def test_any_over_assigned_plans_is_false_when_user_has_none():
    assert evaluate(SAME_ITEM, {"assignedPlans": []}) is False
    assert evaluate(SAME_ITEM, {}) is False


def test_any_with_missing_field_treats_it_as_unset():
    rule = "user.assignedPlans -any (assignedPlan.service -eq null)"
    assert evaluate(rule, {"assignedPlans": [{"servicePlanId": EXO_P2}]}) is True
    assert evaluate(rule, {"assignedPlans": [PLAN_ENABLED]}) is False


# --- memberOf and Direct Reports -----------------------------------------------------------


def test_member_of_selects_direct_members_of_any_listed_group():
    rule = f"user.memberOf -any (group.objectId -in ['{GROUP_A}', '{GROUP_B}'])"
    assert evaluate(rule, {"memberOf": [{"id": GROUP_B}]}) is True
    assert evaluate(rule, {"memberOf": [{"id": GROUP_A.upper()}]}) is True
    assert evaluate(rule, {"memberOf": [{"id": "eeeeeeee-0000-1111-2222-ffffffffffff"}]}) is False
    assert evaluate(rule, {"memberOf": []}) is False
    assert evaluate(rule, {}) is False


def test_device_member_of():
    rule = f"device.memberOf -any (group.objectId -in ['{GROUP_A}'])"
    assert evaluate(rule, {"memberOf": [{"id": GROUP_A}]}) is True
    assert evaluate(rule, {"memberOf": [{"id": GROUP_B}]}) is False


def test_direct_reports_selects_users_whose_manager_is_the_id():
    rule = f'Direct Reports for "{MANAGER}"'
    assert evaluate(rule, {"manager": {"id": MANAGER}}) is True
    assert evaluate(rule, {"manager": {"id": MANAGER.upper()}}) is True
    assert evaluate(rule, {"manager": {"id": GROUP_A}}) is False
    assert evaluate(rule, {"manager": None}) is False
    assert evaluate(rule, {}) is False


def test_direct_reports_phrase_ignores_case_and_spacing():
    rule = f"direct   REPORTS for '{MANAGER}'"
    assert evaluate(rule, {"manager": {"id": MANAGER}}) is True


# --- properties read from differently named Graph attributes --------------------------------

_MAPPED_ROWS = [
    (
        "objectId reads id",
        'user.objectId -eq "11111111-1111-1111-1111-111111111111"',
        {"id": "11111111-1111-1111-1111-111111111111"},
        True,
    ),
    (
        "mobile reads mobilePhone",
        'user.mobile -eq "+1 555 0100"',
        {"mobilePhone": "+1 555 0100"},
        True,
    ),
    (
        "mobile does not read a mobile key",
        'user.mobile -eq "+1 555 0100"',
        {"mobile": "+1 555 0100"},
        False,
    ),
    (
        "dirSyncEnabled reads onPremisesSyncEnabled",
        "user.dirSyncEnabled -eq true",
        {"onPremisesSyncEnabled": True},
        True,
    ),
    (
        "dirSyncEnabled does not read a dirSyncEnabled key",
        "user.dirSyncEnabled -eq true",
        {"dirSyncEnabled": True},
        False,
    ),
    (
        "physicalDeliveryOfficeName reads officeLocation",
        'user.physicalDeliveryOfficeName -eq "B40"',
        {"officeLocation": "B40"},
        True,
    ),
    (
        "facsimileTelephoneNumber reads faxNumber",
        'user.facsimileTelephoneNumber -eq "1"',
        {"faxNumber": "1"},
        True,
    ),
    (
        "mailNickName reads mailNickname",
        'user.mailNickName -endsWith "-vendor"',
        {"mailNickname": "ann-vendor"},
        True,
    ),
    ("objectid in lower case is objectId", "user.objectid -ne null", {"id": "x"}, True),
    (
        "all users: objectId ne null",
        "user.objectId -ne null",
        {"id": "x", "userType": "Guest"},
        True,
    ),
    (
        "extensionAttribute15 reads onPremisesExtensionAttributes",
        '(user.extensionAttribute15 -eq "Marketing")',
        {"onPremisesExtensionAttributes": {"extensionAttribute15": "marketing"}},
        True,
    ),
    (
        "extensionAttribute15 is unset without the container",
        'user.extensionAttribute15 -eq "Marketing"',
        {},
        False,
    ),
    (
        "extensionAttribute15 is unset when the container is null",
        'user.extensionAttribute15 -ne "Marketing"',
        {"onPremisesExtensionAttributes": None},
        True,
    ),
    (
        "extensionAttribute1 is not extensionAttribute15",
        'user.extensionAttribute1 -eq "Marketing"',
        {"onPremisesExtensionAttributes": {"extensionAttribute15": "Marketing"}},
        False,
    ),
    (
        "custom extension reads its own name",
        f'user.{EXTENSION} -eq "123"',
        {EXTENSION: "123"},
        True,
    ),
    ("custom extension unset", f"user.{EXTENSION} -eq null", {}, True),
    (
        "telephoneNumber reads the first businessPhones entry",
        'user.telephoneNumber -eq "+1 555 0100"',
        {"businessPhones": ["+1 555 0100", "+1 555 0199"]},
        True,
    ),
    (
        "telephoneNumber ignores later businessPhones entries",
        'user.telephoneNumber -eq "+1 555 0199"',
        {"businessPhones": ["+1 555 0100", "+1 555 0199"]},
        False,
    ),
    (
        "telephoneNumber is unset with no businessPhones",
        "user.telephoneNumber -eq null",
        {"businessPhones": []},
        True,
    ),
    (
        "sipProxyAddress reads the SIP: entry without its prefix",
        'user.sipProxyAddress -eq "ann@contoso.com"',
        {"proxyAddresses": ["SMTP:ann@fabrikam.com", "SIP:ann@contoso.com"]},
        True,
    ),
    (
        "sipProxyAddress prefix is matched in any case",
        'user.sipProxyAddress -startsWith "ann@"',
        {"proxyAddresses": ["sip:ann@contoso.com"]},
        True,
    ),
    (
        "sipProxyAddress is unset without a SIP: entry",
        "user.sipProxyAddress -eq null",
        {"proxyAddresses": ["SMTP:ann@contoso.com"]},
        True,
    ),
]


@pytest.mark.parametrize(
    ("rule", "obj", "expected"),
    [pytest.param(rule, obj, exp, id=name) for name, rule, obj, exp in _MAPPED_ROWS],
)
def test_user_property_mapping(rule, obj, expected):
    _check(rule, obj, expected)


def test_custom_extension_name_case_is_ignored():
    # A3: property-name case is ignored; A25: the application id may be in either case.
    rule = 'user.extension_C272A57B722D4EB29BFE327874AE79CB_OfficeNumber -eq "123"'
    assert evaluate(rule, {EXTENSION: "123"}) is True


WINDOWS_PC = {
    "id": "76ad43c9-32c5-45e8-a272-7b58b58f596d",
    "accountEnabled": True,
    "operatingSystem": "Windows",
    "operatingSystemVersion": "10.0.19045",
    "manufacturer": "Contoso",
    "model": "Surface",
    "mdmAppId": "0000000a-0000-0000-c000-000000000000",
    "trustType": "AzureAD",
    "deviceOwnership": "Company",
    "isRooted": False,
    "physicalIds": ["[ZTDId]:abc", "[OrderID]:179887111881"],
    "systemLabels": ["M365Managed"],
    "extensionAttributes": {"extensionAttribute1": "Kiosk"},
}

_DEVICE_ROWS = [
    ("deviceOSType reads operatingSystem", 'device.deviceOSType -eq "windows"', True),
    (
        "deviceOSVersion reads operatingSystemVersion",
        'device.deviceOSVersion -startsWith "10.0.1"',
        True,
    ),
    ("deviceManufacturer reads manufacturer", 'device.deviceManufacturer -eq "Contoso"', True),
    ("deviceModel reads model", 'device.deviceModel -eq "Surface"', True),
    (
        "deviceManagementAppId reads mdmAppId",
        'device.deviceManagementAppId -eq "0000000a-0000-0000-c000-000000000000"',
        True,
    ),
    ("deviceTrustType reads trustType", 'device.deviceTrustType -eq "AzureAD"', True),
    ("objectId reads id", 'device.objectId -eq "76AD43C9-32C5-45E8-A272-7B58B58F596D"', True),
    ("all devices: objectId ne null", "device.objectId -ne null", True),
    ("isRooted false", "device.isRooted -eq false", True),
    (
        "devicePhysicalIds reads physicalIds",
        'device.devicePhysicalIDs -any _ -startsWith "[ZTDId]"',
        True,
    ),
    (
        "devicePhysicalIds any eq",
        'device.devicePhysicalIds -any _ -eq "[OrderID]:179887111881"',
        True,
    ),
    (
        "devicePhysicalIds any eq no match",
        'device.devicePhysicalIds -any _ -eq "[OrderID]:1"',
        False,
    ),
    ("systemLabels is a collection: startsWith", 'device.systemLabels -startsWith "M365"', True),
    ("systemLabels is a collection: contains", '(device.systemLabels -contains "Managed")', True),
    ("systemLabels is a collection: any", 'device.systemLabels -any (_ -eq "m365managed")', True),
    (
        "extensionAttribute1 reads extensionAttributes",
        'device.extensionAttribute1 -eq "kiosk"',
        True,
    ),
    ("extensionAttribute2 is unset", "device.extensionAttribute2 -eq null", True),
    ("deviceOwnership", 'device.deviceOwnership -eq "Company"', True),
    ("deviceCategory missing", 'device.deviceCategory -eq "BYOD"', False),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [pytest.param(rule, exp, id=name) for name, rule, exp in _DEVICE_ROWS],
)
def test_device_property_mapping(rule, expected):
    _check(rule, WINDOWS_PC, expected)


def test_device_rule_does_not_read_rule_names_from_the_object():
    assert evaluate('device.deviceOSType -eq "Windows"', {"deviceOSType": "Windows"}) is False


# --- logical operators and precedence -------------------------------------------------------

A_ONLY = {"department": "Sales", "city": "Abuja", "country": "GB"}


def test_and_binds_tighter_than_or():
    rule = 'user.department -eq "Sales" -or user.city -eq "Lagos" -and user.country -eq "NG"'
    assert evaluate(rule, A_ONLY) is True  # A -or (B -and C)


def test_parentheses_override_precedence():
    rule = '(user.department -eq "Sales" -or user.city -eq "Lagos") -and user.country -eq "NG"'
    assert evaluate(rule, A_ONLY) is False


def test_not_binds_tighter_than_and():
    rule = '-not user.department -eq "Sales" -and user.city -eq "Lagos"'
    # (-not A) -and B: false for a user in Sales outside Lagos; -not (A -and B) would be true
    assert evaluate(rule, A_ONLY) is False
    assert evaluate(rule, {"department": "HR", "city": "Lagos"}) is True
    assert evaluate('-not (user.department -eq "Sales" -and user.city -eq "Lagos")', A_ONLY) is True


def test_hyphenless_and_typographic_logical_operators():
    assert evaluate('not user.department -eq "HR" and user.city -eq "Abuja"', A_ONLY) is True
    assert evaluate('user.city -eq "Lagos" or user.city -startswith "Ab"', A_ONLY) is True
    assert (
        evaluate('user.department \u2013eq "Sales" \u2013and user.country \u2013eq "GB"', A_ONLY)
        is True
    )


_LOGICAL_ROWS = [
    ("and is true when both are", 'user.department -eq "Sales" -and user.city -eq "Abuja"', True),
    (
        "and is false when one is not",
        'user.department -eq "Sales" -and user.city -eq "Lagos"',
        False,
    ),
    ("or is true when one is", 'user.department -eq "HR" -or user.city -eq "Abuja"', True),
    ("or is false when neither is", 'user.department -eq "HR" -or user.city -eq "Lagos"', False),
    (
        "and not excludes",
        '(user.department -eq "Sales") -and -not (user.city -startsWith "Ab")',
        False,
    ),
    ("double not", '-not -not (user.department -eq "Sales")', True),
    (
        "long or chain",
        " -or ".join(f'user.city -eq "{c}"' for c in ["Lagos", "Ibadan", "Abuja"]),
        True,
    ),
    ("nested parentheses", '((user.department -eq "Sales") -and ((user.country -eq "GB")))', True),
    (
        "country and (department or department)",
        'user.country \u2013eq "GB" \u2013and '
        '(user.department \u2013eq "Marketing" \u2013or user.department \u2013eq "Sales")',
        True,
    ),
]


@pytest.mark.parametrize(
    ("rule", "expected"),
    [pytest.param(rule, exp, id=name) for name, rule, exp in _LOGICAL_ROWS],
)
def test_logical_operators(rule, expected):
    _check(rule, A_ONLY, expected)


def test_multi_line_rule_with_trailing_spaces():
    rule = (
        '(user.department -eq "Accounts" -and user.city -eq "Lagos") -or \n'
        '(user.department -eq "Accounts" -and user.city -eq "Ibadan")'
    )
    assert evaluate(rule, {"department": "accounts", "city": "Ibadan"}) is True
    assert evaluate(rule, {"department": "Sales", "city": "Ibadan"}) is False


def test_in_list_equals_or_chain():
    cities = ["Lagos", "Ibadan", "Kaduna", "Abuja", "Port Harcourt"]
    in_rule = 'user.city -in ["Lagos", "Ibadan", "Kaduna", "Abuja", "Port Harcourt"]'
    not_in_rule = 'user.city -notin ["Lagos", "Ibadan", "Kaduna", "Abuja", "Port Harcourt"]'
    ne_chain = " -and ".join(f'(user.city -ne "{city}")' for city in cities)
    for city in [*cities, "port harcourt", "Kano", "", None]:
        user = {"city": city}
        assert evaluate(not_in_rule, user) is (not evaluate(in_rule, user)), city
        assert evaluate(ne_chain, user) is evaluate(not_in_rule, user), city


def test_graph_evaluate_dynamic_membership_sample():
    # reference §10: (user.displayName -startsWith "EndTestUser") is true for EndTestUser001
    assert (
        evaluate('(user.displayName -startsWith "EndTestUser")', {"displayName": "EndTestUser001"})
        is True
    )
