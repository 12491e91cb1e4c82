"""Runs policy tests: the plan from the tenant to the policy is made (never applied), and each
test is checked against the state it leaves: its after-state, its impact, its seats."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from reconciler.engine.catalog import ServicePlanRules
from reconciler.errors import Location, ReconcilerError
from reconciler.lookup import Names
from reconciler.model import Tenant, User
from reconciler.plan.build import Plan, build_plan, service_plan_rules
from reconciler.plan.document import Document, plan_document
from reconciler.plan.origin import plan_origin
from reconciler.plan.stale import check_before_apply
from reconciler.policy import LoadedPolicy, resolve
from reconciler.policy.errors import PolicyError
from reconciler.policy_tests.files import WrittenTest
from reconciler.policy_tests.names import resolve_tests
from reconciler.policy_tests.new_user import new_user, with_new_user
from reconciler.policy_tests.plan_checks import check_limits
from reconciler.policy_tests.reasons import Memberships
from reconciler.policy_tests.results import Failure, PolicyTestResult, PolicyTestRun
from reconciler.policy_tests.spec import PolicyTest
from reconciler.policy_tests.user_checks import UserFacts, check_user
from reconciler.progress import NO_PROGRESS, Progress


@dataclass(frozen=True)
class Planned:
    """The plan the tests are checked against, and the service plan rules it was settled with
    (a new user is settled with the same)."""

    plan: Plan
    rules: ServicePlanRules


def plan_for_tests(
    loaded: LoadedPolicy, tenant: Tenant, progress: Progress = NO_PROGRESS
) -> Planned:
    """The plan from `tenant` to the policy, as `reconciler plan` makes it."""
    desired = resolve(loaded, tenant.subscribedSkus, tenant=tenant)
    return Planned(build_plan(desired, tenant, progress=progress), service_plan_rules(desired))


class StaleTestPlanError(ReconcilerError):
    """`test --plan FILE`: the saved plan isn't the plan the tests would be checked against."""


def check_saved_plan(
    saved: Document, plan_file: str, loaded: LoadedPolicy, tenant: Tenant, planned: Planned
) -> None:
    """StaleTestPlanError unless `saved` is the plan made now (`planned`), as apply checks a
    saved plan: the same tenant, the same changes and removals. A pipeline that posts one
    plan and tests another would pass tests of a plan nobody reviewed."""
    checked = check_before_apply(
        saved, plan_origin(loaded, tenant), lambda: plan_document(planned.plan)
    )
    problem = checked.problem()
    if problem is not None:
        raise StaleTestPlanError(
            f"{problem} The tests were not run: run `reconciler plan --out "
            f"{shlex.quote(plan_file)}` again, and test that.",
            Location(plan_file),
        )


def selected(
    written: Sequence[WrittenTest], patterns: Sequence[str], where: str
) -> list[WrittenTest]:
    """The tests whose name holds one of `patterns` (ignoring case); all without patterns.
    PolicyError when none does: a filter that runs nothing is a typo, not a pass."""
    if not patterns:
        return list(written)
    wanted = [pattern.casefold() for pattern in patterns]
    found = [test for test in written if any(p in test.name.casefold() for p in wanted)]
    if not found:
        names = ", ".join(repr(p) for p in patterns)
        raise PolicyError(f"no test's name holds {names}", Location(where))
    return found


def run_tests(
    written: Sequence[WrittenTest], planned: Planned, problems: Iterable[PolicyError] = ()
) -> PolicyTestRun:
    """Every test checked against the plan; PolicyError first, with the files' `problems`,
    if there are any or a test names something the tenant doesn't have."""
    plan = planned.plan
    tests = resolve_tests(written, plan.before, plan.after, problems)
    memberships = Memberships(plan.after)
    results = tuple(_run(test, planned, memberships) for test in tests)
    return PolicyTestRun(results, plan.before.organization.id, plan.summary())


def no_tests(planned: Planned) -> PolicyTestRun:
    """The run of no test: the plan's counts and the tenant's id all the same."""
    return PolicyTestRun((), planned.plan.before.organization.id, planned.plan.summary())


def _run(test: PolicyTest, planned: Planned, memberships: Memberships) -> PolicyTestResult:
    kind, subject, checked, failures, notes = _checked(test, planned, memberships)
    if checked == 0:
        # a test that checks nothing would pass whatever the plan did
        failures = [Failure("something checked", ("the test checks nothing: give it a check",))]
    return PolicyTestResult(
        test.name, test.location, kind, subject, checked, tuple(failures), notes
    )


def _checked(
    test: PolicyTest, planned: Planned, memberships: Memberships
) -> tuple[str, str, int, list[Failure], tuple[str, ...]]:
    """(kind, subject, expectations checked, those that fail, notes) of one test."""
    plan = planned.plan
    if test.kind == "plan":
        failures = check_limits(plan, test.limits, test.seats)
        return "plan", "the plan", len(test.limits) + len(test.seats), failures, ()
    assert test.expect is not None
    if test.kind == "user":
        tenant = plan.after
        user = next(u for u in tenant.users if u.id == test.userId)
        subject, notes = user.userPrincipalName, ()
    else:
        assert test.newUser is not None
        tenant = with_new_user(plan.after, new_user(test.newUser), planned.rules)
        memberships = Memberships(tenant)
        user = next(u for u in tenant.users if u.id == test.newUser["id"])
        subject, notes = "a new user", _new_user_notes(tenant, user, memberships)
    checked, failures = check_user(UserFacts(tenant, user, memberships), test.expect)
    return test.kind, subject, checked, failures, notes


def _new_user_notes(tenant: Tenant, user: User, memberships: Memberships) -> tuple[str, ...]:
    """What the engine settled for the new user: their groups and their licenses."""
    groups = sorted(group.displayName for group in memberships.direct_groups(user))
    names = Names(tenant)
    held = sorted(names.part_number(a.skuId) or a.skuId for a in user.assignedLicenses)
    return (
        f"the new user joins: {', '.join(groups) or 'no group'}",
        f"the new user holds: {', '.join(held) or 'no license'}",
    )
