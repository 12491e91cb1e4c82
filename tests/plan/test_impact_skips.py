"""The impact compares only users whose licenses can differ, and finds what comparing all finds.

`impact` skips a user whose assignments are the same after (the engine hands back the very same
object for a user a change didn't reach) unless a group turning dynamic gives them a product or
they differ while it is empty; comparing every user, the old way, must list exactly the same.
"""

from __future__ import annotations

from dataclasses import replace
from unittest import mock

from hypothesis import given, reject

from reconciler.model import Tenant
from reconciler.plan import build
from reconciler.plan.build import build_plan, service_plan_rules
from reconciler.plan.changes import Change
from reconciler.plan.impact import _KINDS, Impact, _Compare, impact
from tests.plan.generated import NotSettled, Scenario, properties, scenarios

Arguments = tuple[Tenant, Tenant, tuple[Change, ...], Tenant | None]

PROPERTY = properties(60)


def _every_user(before: Tenant, after: Tenant, changes, during: Tenant | None) -> Impact:
    """The impact as it was computed before users were skipped: every user compared."""
    compare = _Compare(before, after, changes, during)
    after_users = {user.id: user for user in after.users}
    found: dict[type, list] = {kind: [] for kind in _KINDS}
    for user in before.users:
        later = after_users.get(user.id)
        if later is not None:
            for item in (
                *compare.losses(user, later),
                *compare.gains(user, later),
                *compare.kept(user, later),
            ):
                found[type(item)].append(item)
    return Impact(*(tuple(found[kind]) for kind in _KINDS))


def _arguments(scenario: Scenario) -> Arguments:
    """What build_plan passes to impact for the scenario's tenant and policy."""
    desired = scenario.desired()
    seen: list[Arguments] = []

    def spy(before, after, changes=(), during=None):
        seen.append((before, after, tuple(changes), during))
        return impact(before, after, changes, during)

    try:
        start = scenario.tenant(service_plan_rules(desired))
        with mock.patch.object(build, "impact", spy):
            build_plan(desired, start)
    except NotSettled:
        reject()
    return seen[0]


def _copied(tenant: Tenant) -> Tenant:
    """The tenant with an equal but new object for every user: no identity to rely on."""
    return replace(tenant, users=tuple(replace(user) for user in tenant.users))


@PROPERTY
@given(scenarios())
def test_skipping_unchanged_users_finds_what_comparing_every_user_finds(scenario: Scenario):
    before, after, changes, during = _arguments(scenario)
    expected = _every_user(before, after, changes, during)
    assert impact(before, after, changes, during) == expected
    # the same when `after` (or the tenant while groups turn dynamic) shares no user objects
    copied_during = _copied(during) if during is not None else None
    assert impact(before, _copied(after), changes, copied_during) == expected
