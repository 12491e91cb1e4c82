"""Indexed membership of many rules must equal testing every object with the compiled rule."""

import random
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.rules.compiler import compile_rule
from reconciler.rules.membership import MembershipIndex, compute_memberships, to_bits, to_indices
from reconciler.rules.parser import parse
from reconciler.rules.printer import to_text
from tests.rules import strategies

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
GROUP_A = "aaaaaaaa-0000-1111-2222-bbbbbbbbbbbb"
GROUP_B = "cccccccc-0000-1111-2222-dddddddddddd"
MANAGER = "eeeeeeee-0000-1111-2222-ffffffffffff"


def _users(count: int, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    users = []
    for i in range(count):
        users.append(
            {
                "id": f"{i:08x}-0000-0000-0000-000000000000",
                # unique per user: exercises the high-cardinality path of the index
                "userPrincipalName": f"User{i}@Contoso.com",
                "department": rng.choice(["Sales", "sales", "SALES", "Marketing", "", None, "HR"]),
                "country": rng.choice(["US", "GB", "NG", None]),
                "jobTitle": rng.choice(["SDE", "Senior SDE", "Manager", None]),
                "accountEnabled": rng.choice([True, False, None]),
                "employeeHireDate": rng.choice(
                    [None, "2026-11-20T00:00:00Z", "2019-01-01T00:00:00Z", "2026-11-28T12:00:00Z"]
                ),
                "proxyAddresses": rng.choice([[], ["SMTP:a@contoso.com"], ["smtp:b@fabrikam.com"]]),
                "businessPhones": rng.choice([[], ["+1 425 555 0100"]]),
                "onPremisesExtensionAttributes": rng.choice(
                    [None, {}, {"extensionAttribute1": "FTE"}, {"extensionAttribute1": "fte"}]
                ),
                "manager": rng.choice([None, {"id": MANAGER}, {"id": MANAGER.upper()}]),
                "memberOf": rng.choice([[], [{"id": GROUP_A}], [{"id": GROUP_B.upper()}]]),
            }
        )
    return users


RULES = [
    'user.department -eq "sales"',
    'user.department -ne "Sales"',
    "user.department -eq null",
    'user.department -eq ""',
    'user.department -in ["Sales", "HR"]',
    'user.department -notIn ["Sales", ""]',
    'user.department -startsWith "s" -and user.accountEnabled -eq true',
    'user.department -match "^s.l" -or user.country -eq "NG"',
    'user.jobTitle -contains "sde" -and -not (user.jobTitle -startsWith "Senior")',
    "user.accountEnabled -ne false",
    "user.accountEnabled -eq null",
    'user.userPrincipalName -endsWith "7@contoso.com"',
    'user.userPrincipalName -eq "user12@contoso.com"',
    'user.userPrincipalName -startsWith "USER1"',
    'user.userPrincipalName -notStartsWith "user2" -and user.country -ne null',
    "user.employeeHireDate -ge system.now -plus -P30D",
    "user.employeeHireDate -le 2020-01-01",
    'user.proxyAddresses -any (_ -startsWith "smtp:a")',
    'user.proxyAddresses -notEndsWith "@fabrikam.com" -and user.country -eq "US"',
    'user.telephoneNumber -startsWith "+1"',
    'user.extensionAttribute1 -eq "FTE" -and user.department -eq "Marketing"',
    f'Direct Reports for "{MANAGER}"',
    f"user.memberOf -any (group.objectId -in ['{GROUP_A}', '{GROUP_B}'])",
    '(user.country -eq "US" -or user.country -eq "GB") -and user.jobTitle -ne null',
]


@pytest.mark.parametrize("rule_text", RULES)
def test_indexed_membership_equals_compiled_rule_on_every_user(rule_text):
    users = _users(600)
    rule = parse(rule_text)
    compiled = compile_rule(rule, now=NOW)
    expected = [i for i, user in enumerate(users) if compiled(user)]
    assert compute_memberships({"g": rule}, users, now=NOW)["g"] == expected


def test_many_rules_share_one_index_and_each_gets_its_own_members():
    users = _users(400)
    rules = {text: parse(text) for text in RULES}
    memberships = compute_memberships(rules, users, now=NOW)
    for text, rule in rules.items():
        compiled = compile_rule(rule, now=NOW)
        assert memberships[text] == [i for i, user in enumerate(users) if compiled(user)], text


def test_sparse_and_evaluates_unindexed_operand_only_over_candidates():
    users = _users(2000)
    # one user matches the indexed part; the collection part then runs on that user alone
    rule = parse(
        'user.userPrincipalName -eq "user5@contoso.com"'
        ' -and user.proxyAddresses -any (_ -contains "@")'
    )
    compiled = compile_rule(rule, now=NOW)
    expected = [i for i, user in enumerate(users) if compiled(user)]
    assert compute_memberships({"g": rule}, users, now=NOW)["g"] == expected


def test_values_that_cannot_be_indexed_fall_back_to_testing_each_user():
    users = [{"department": ["not", "a", "string"]}, {"department": "Sales"}]
    index = MembershipIndex(users, NOW)
    # a list where a string belongs can't key an index; the object-by-object path still answers
    assert index.members(parse('user.department -eq "sales"')) == 0b10
    assert index._groups["department"] is None


def test_same_comparison_in_two_rules_is_computed_once(monkeypatch):
    users = _users(50)
    index = MembershipIndex(users, NOW)
    computed = []
    leaf = index._leaf
    monkeypatch.setattr(index, "_leaf", lambda node: computed.append(node) or leaf(node))
    shared = 'user.proxyAddresses -any (_ -startsWith "smtp:a")'
    index.members(parse(shared))
    index.members(parse(f'user.country -eq "US" -or {shared}'))
    index.members(parse(f"user.accountEnabled -eq true -and ({shared})"))
    assert [to_text(node) for node in computed].count(shared) == 1


def test_empty_object_list_selects_nobody():
    assert compute_memberships({"g": parse("user.objectId -ne null")}, []) == {"g": []}


@pytest.mark.parametrize("positions", [[], [0], [7, 8], [0, 63, 64, 65, 999]])
def test_bitset_round_trip_keeps_positions_in_order(positions):
    assert to_indices(to_bits(positions, 1000)) == positions


@pytest.mark.parametrize("count", [1, 9, 150, 1_200, 20_000])
def test_bitset_round_trip_is_exact_for_sparse_and_dense_sets(count):
    # sparse sets are read byte by byte, dense ones bit by bit: both give the same positions
    positions = sorted(random.Random(count).sample(range(20_000), count))
    assert to_indices(to_bits(positions, 20_000)) == positions
    shifted = list(range(5, 20_005))
    assert to_indices(to_bits(positions, 20_000), shifted) == [p + 5 for p in positions]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_indexed_membership_equals_compiled_rule_on_generated_rules_and_users(data):
    object_type = data.draw(st.sampled_from(["user", "device"]))
    # many objects, so both the per-value index and the sparse candidate scan are reached
    objects = data.draw(st.lists(strategies.graph_objects(object_type), min_size=0, max_size=60))
    rules = data.draw(st.lists(strategies.expression_rules(object_type), min_size=1, max_size=5))
    memberships = compute_memberships(dict(enumerate(rules)), objects, now=strategies.NOW)
    for key, rule in enumerate(rules):
        compiled = compile_rule(rule, now=strategies.NOW)
        assert memberships[key] == [i for i, obj in enumerate(objects) if compiled(obj)], rule


ODDLY_TYPED = [
    {"accountEnabled": True},
    {"accountEnabled": 1},
    {"accountEnabled": 0},
    {"accountEnabled": False},
    {"accountEnabled": 1.0},
    {"department": ["Sales"]},
    {"department": 5},
    {"memberOf": {"id": GROUP_A}},
    {"memberOf": GROUP_A},
    {"memberOf": 5},
    {"manager": [{"id": MANAGER}]},
    {"onPremisesExtensionAttributes": "FTE"},
    {"proxyAddresses": "smtp:a@contoso.com"},
    {"assignedPlans": [5, {"service": "exchange"}]},
]


@pytest.mark.parametrize(
    "rule_text",
    [
        "user.accountEnabled -eq true",
        "user.accountEnabled -eq false",
        "user.accountEnabled -ne true",
        'user.department -eq "Sales"',
        "user.department -eq null",
        f"user.memberOf -any (group.objectId -in ['{GROUP_A}'])",
        f'Direct Reports for "{MANAGER}"',
        "user.extensionAttribute1 -eq null",
        'user.proxyAddresses -any (_ -startsWith "smtp")',
        'user.assignedPlans -any (assignedPlan.service -eq "exchange")',
    ],
)
def test_values_of_the_wrong_json_type_count_as_unset_in_index_and_compiled_rule(rule_text):
    rule = parse(rule_text)
    compiled = compile_rule(rule, now=NOW)
    expected = [i for i, obj in enumerate(ODDLY_TYPED) if compiled(obj)]
    assert compute_memberships({"g": rule}, ODDLY_TYPED, now=NOW)["g"] == expected
    if rule_text == "user.accountEnabled -eq true":
        assert expected == [0]  # only the real boolean, not 1 or 1.0
