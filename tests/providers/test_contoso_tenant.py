"""The committed demo tenant: generated, valid, and licensed the way Entra would license it."""

import json
from collections import Counter
from datetime import UTC, datetime

from jsonschema import Draft202012Validator

from reconciler.jsonschemas import load_schema
from reconciler.model import ACTIVE, NO_ERROR
from reconciler.providers.snapshot import SCHEMA_NAME, snapshot_text
from reconciler.rules import compile_rule

from .conftest import CONTOSO


def test_committed_tenant_is_exactly_what_the_generator_writes(contoso_generator):
    committed = (CONTOSO / "tenant.json").read_text(encoding="utf-8")
    assert snapshot_text(contoso_generator.build_tenant()) == committed, (
        "examples/contoso/tenant.json is stale: run python examples/contoso/generate.py"
    )


def test_committed_tenant_validates_against_the_schema():
    schema = load_schema(SCHEMA_NAME)
    document = json.loads((CONTOSO / "tenant.json").read_text(encoding="utf-8"))
    assert list(Draft202012Validator(schema).iter_errors(document)) == []


def test_contoso_has_about_200_people_in_several_departments_and_countries(contoso):
    assert contoso.organization.displayName == "Contoso"
    assert contoso.organization.countryLetterCode == "US"
    assert contoso.organization.verifiedDomains[0] == "contoso.onmicrosoft.com"
    assert 180 <= len(contoso.users) <= 220
    departments = Counter(user.attributes.get("department") for user in contoso.users)
    assert {"Sales", "Marketing", "Engineering", "Finance", "HR", "Retail"} <= set(departments)
    locations = {user.usageLocation for user in contoso.users}
    assert {"US", "GB", "DE", "FR", "IN", "NG", "JP", None} <= locations
    assert any(user.accountEnabled is False for user in contoso.users)
    assert any(user.attributes.get("userType") == "Guest" for user in contoso.users)


def test_users_are_sorted_by_user_principal_name(contoso):
    names = [user.userPrincipalName for user in contoso.users]
    assert names == sorted(names)


def test_every_manager_is_a_user_of_the_tenant(contoso):
    ids = {user.id for user in contoso.users}
    managers = [user.attributes["manager"] for user in contoso.users]
    assert all(manager is None or manager["id"] in ids for manager in managers)
    assert sum(manager is not None for manager in managers) > 150


def test_each_users_licenses_are_the_union_of_their_assignments(contoso):
    for user in contoso.users:
        expected: dict[str, frozenset[str]] = {}
        for state in user.licenseAssignmentStates:
            # a plan is off only when every assignment of the product turns it off
            expected[state.skuId] = expected.get(state.skuId, state.disabledPlans) & (
                state.disabledPlans
            )
        actual = {item.skuId: item.disabledPlans for item in user.assignedLicenses}
        assert actual == expected, user.userPrincipalName
        assert all(s.state == ACTIVE and s.error == NO_ERROR for s in user.licenseAssignmentStates)


def test_group_licenses_reach_exactly_the_groups_direct_user_members(contoso):
    users = {user.id: user for user in contoso.users}
    for group in contoso.groups:
        given = {
            (user.id, state.skuId, state.disabledPlans)
            for user in contoso.users
            for state in user.licenseAssignmentStates
            if state.assignedByGroup == group.id
        }
        members = [member for member in group.members if member in users]
        expected = {
            (member, item.skuId, item.disabledPlans)
            for member in members
            for item in group.assignedLicenses
        }
        assert given == expected, group.displayName


def test_nested_groups_members_get_no_license_from_the_outer_group(contoso):
    groups = {group.id: group for group in contoso.groups}
    nesting = [(outer, groups[m]) for outer in contoso.groups for m in outer.members if m in groups]
    assert nesting, "the demo tenant has a group inside a licensing group"
    users = {user.id: user for user in contoso.users}
    for outer, inner in nesting:
        assert outer.assignedLicenses
        only_nested = [users[m] for m in inner.members if m not in outer.members]
        assert only_nested
        for user in only_nested:
            assert all(s.assignedByGroup != outer.id for s in user.licenseAssignmentStates)


def test_consumed_units_count_the_users_holding_each_product(contoso):
    for sku in contoso.subscribedSkus:
        holders = sum(
            any(item.skuId == sku.skuId for item in user.assignedLicenses) for user in contoso.users
        )
        assert sku.consumedUnits == holders, sku.skuPartNumber
        assert sku.consumedUnits <= sku.prepaidUnits.enabled


def test_one_product_is_two_seats_from_its_limit(contoso):
    spare = {
        sku.skuPartNumber: sku.prepaidUnits.enabled - sku.consumedUnits
        for sku in contoso.subscribedSkus
    }
    assert spare["SPE_E5"] == 2


def test_dynamic_groups_hold_exactly_the_users_matching_their_rules(contoso):
    dynamic = [group for group in contoso.groups if group.is_dynamic]
    assert len(dynamic) >= 4
    for group in dynamic:
        matches = compile_rule(group.membershipRule, datetime(2025, 1, 15, tzinfo=UTC))
        expected = [user.id for user in contoso.users if matches(user.attributes)]
        assert list(group.members) == expected, group.displayName


def test_products_carry_every_service_plan_with_real_ids(contoso):
    plans = {sku.skuPartNumber: len(sku.servicePlans) for sku in contoso.subscribedSkus}
    # counts from Microsoft's product and service plan list
    assert plans["SPE_E5"] == 86
    assert plans["SPE_E3"] == 50
    assert plans["ENTERPRISEPACK"] == 36
    assert plans["EMS"] == 7
    skus = {sku.skuPartNumber: sku.skuId for sku in contoso.subscribedSkus}
    assert skus["SPE_E5"] == "06ebc4ee-1bb5-47dd-8120-11324bc54e06"


def test_one_user_holds_e5_both_directly_and_through_a_group(contoso):
    e5 = next(sku.skuId for sku in contoso.subscribedSkus if sku.skuPartNumber == "SPE_E5")
    both = [
        user
        for user in contoso.users
        if {s.assignedByGroup is None for s in user.licenseAssignmentStates if s.skuId == e5}
        == {True, False}
    ]
    assert both
    # the direct assignment turns nothing off, so the union enables every plan
    assert all(
        item.disabledPlans == frozenset()
        for user in both
        for item in user.assignedLicenses
        if item.skuId == e5
    )


def test_tenant_has_assigned_nested_and_microsoft_365_groups(contoso):
    kinds = Counter()
    for group in contoso.groups:
        if "Unified" in group.groupTypes and group.is_dynamic:
            kinds["m365 dynamic"] += 1
        elif not group.is_dynamic and group.members:
            kinds["assigned"] += 1
        if any(item.disabledPlans for item in group.assignedLicenses):
            kinds["disabled plans"] += 1
    assert kinds["m365 dynamic"] == 1
    assert kinds["assigned"] >= 1
    assert kinds["disabled plans"] >= 2
