"""Settling only what a change reaches gives what settling the whole tenant gives.

`settle_changes` evaluates only the changed groups' rules (and memberOf rules) and settles only
the users whose groups' memberships or licenses move; `recompute` leaves users at rest as they
are. Over generated tenants and policies (tests/plan/generated.py) both must agree with
settling every user of the tenant again.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, reject

from reconciler.engine import assignments, recompute, simulate
from reconciler.engine.licensing import memberships, settle_changes
from reconciler.engine.positions import holders
from reconciler.errors import InputError
from reconciler.model import Tenant
from reconciler.plan.build import service_plan_rules
from reconciler.plan.changes import apply_to_groups
from reconciler.plan.diff import diff
from tests.plan.generated import (
    Dept,
    GroupSpec,
    Lic,
    NotSettled,
    Scenario,
    UserSpec,
    properties,
    scenarios,
)

PROPERTY = properties(60)


def settled_scenario(scenario: Scenario):
    """The scenario's tenant as Entra settled it, its groups as the policy's changes leave
    them (by id, None for a deleted one), and the service-plan rules."""
    desired = scenario.desired()
    rules = service_plan_rules(desired)
    try:
        tenant = scenario.tenant(rules)
        changes = diff(desired, tenant)
    except (NotSettled, InputError):
        reject()
    groups = apply_to_groups({group.id: group for group in tenant.groups}, changes)
    return tenant, groups, rules


def every_user_settled(tenant: Tenant, rules) -> Tenant:
    """`recompute` with no user taken as at rest: the whole tenant settled again."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assignments, "at_rest", lambda user, groups: False)
        patch.setattr("reconciler.engine.licensing.at_rest", lambda user, groups: False)
        return recompute(tenant, None, rules)


@PROPERTY
@given(scenarios())
def test_settling_the_changes_equals_settling_the_whole_tenant_again(scenario):
    tenant, groups, rules = settled_scenario(scenario)
    try:
        whole = simulate(tenant, groups, None, rules)
    except Exception:
        with pytest.raises(Exception):  # noqa: B017
            settle_changes(tenant, groups, None, rules)
        return
    assert settle_changes(tenant, groups, None, rules) == whole


@PROPERTY
@given(scenarios())
def test_users_at_rest_are_left_as_settling_them_again_would_leave_them(scenario):
    tenant, groups, rules = settled_scenario(scenario)
    # the tenant with the policy's groups in place but nobody settled yet: many users restless
    unsettled = replace(tenant, groups=tuple(g for g in groups.values() if g is not None))
    try:
        expected = every_user_settled(unsettled, rules)
    except Exception:
        reject()
    assert recompute(unsettled, None, rules) == expected


@PROPERTY
@given(scenarios())
def test_memberships_of_a_settled_tenant_are_those_of_every_rule_evaluated(scenario):
    tenant, groups, rules = settled_scenario(scenario)
    whole = simulate(tenant, groups, None, rules) if groups else tenant
    found = memberships(tenant, groups)
    # memberships don't follow licenses into assignedPlans rules: compare the others
    assert {g.id: g.members for g in found.groups if not _reads_plans(g)} == {
        g.id: g.members
        for g in whole.groups
        if not _reads_plans(g) and g.id in {f.id for f in found.groups}
    }


def _reads_plans(group) -> bool:
    return "assignedPlans" in (group.membershipRule or "") or "memberOf" in (
        group.membershipRule or ""
    )


def test_settling_a_change_leaves_users_it_does_not_reach_as_the_very_same_objects():
    scenario = Scenario(
        seats=(("ENTERPRISEPACK", 5),),
        users=tuple(UserSpec(f"u{n}", "Sales" if n < 2 else "Legal") for n in range(4)),
        groups=(
            GroupSpec("LIC-Sales", Dept(("Sales",)), licenses=(Lic("ENTERPRISEPACK"),)),
            GroupSpec("LIC-Legal", Dept(("Legal",)), licenses=(Lic("ENTERPRISEPACK"),)),
        ),
        policy=(
            GroupSpec("LIC-Sales", Dept(("Sales",))),
            GroupSpec("LIC-Legal", Dept(("Legal",)), licenses=(Lic("ENTERPRISEPACK"),)),
        ),
    )
    tenant, groups, rules = settled_scenario(scenario)
    after = settle_changes(tenant, groups, None, rules)
    untouched = [u for u in after.users if u.id in ("u2", "u3")]
    assert untouched and all(
        user is next(old for old in tenant.users if old.id == user.id) for user in untouched
    )
    assert [u.assignedLicenses for u in after.users if u.id in ("u0", "u1")] == [(), ()]


def _holders_scanned(tenant: Tenant) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for user in tenant.users:
        for state in user.licenseAssignmentStates:
            if state.assignedByGroup is not None:
                found.setdefault(state.assignedByGroup.lower(), set()).add(user.id)
    return found


@PROPERTY
@given(scenarios())
def test_who_holds_what_handed_on_from_before_a_change_is_what_a_scan_finds(scenario):
    tenant, groups, rules = settled_scenario(scenario)
    try:
        after = settle_changes(tenant, groups, None, rules)
    except Exception:
        reject()
    holders(tenant.users)  # known before the change, to be handed on
    handed_on = holders(after.users, tenant.users)
    found = {key: {after.users[i].id for i in found} for key, found in handed_on.items()}
    assert {key: ids for key, ids in found.items() if ids} == _holders_scanned(after)


def test_a_rule_index_of_the_time_now_serves_again_only_within_a_minute():
    from datetime import timedelta

    from reconciler.engine import membership

    objects = [{"id": "u1", "department": "Sales"}]
    first = membership._index(objects, None)
    assert membership._index(objects, None) is first
    # a long-running emulator: rules on dates must see the time go by
    first.now -= timedelta(minutes=2)
    assert membership._index(objects, None) is not first
