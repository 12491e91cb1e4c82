"""A policy can name service plans that conflict or depend on others; the plan foresees it."""

from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.model import (
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    Tenant,
)
from reconciler.plan.build import build_plan
from reconciler.policy import PolicyError, load_policy, resolve
from tests.builders import user
from tests.policy.tenant import EMS, INTUNE_A, RMS_S_PREMIUM, SKUS, SPE_E5, TEAMS1

GROUP = """
groups:
  - displayName: LIC-EMS
    members: [ana@contoso.com]
    licenses:
      - sku: EMS
"""
TENANT = Tenant(
    Organization("org", "Contoso", "US"),
    tuple(replace(sku, prepaidUnits=PrepaidUnits(10)) for sku in SKUS),
    (user("ana", "Sales", licenseAssignmentStates=(LicenseAssignmentState(SPE_E5),)),),
)


def _plan(tmp_path: Path, settings: str, group: str = GROUP):
    (tmp_path / "policy.yaml").write_text(settings + group)
    desired = resolve(load_policy(tmp_path), TENANT.subscribedSkus)
    return desired, build_plan(desired, TENANT)


def _ems_state(plan) -> tuple[str, str]:
    [state] = [s for s in plan.after.users[0].licenseAssignmentStates if s.skuId == EMS]
    return state.state, state.error


def test_plans_named_mutually_exclusive_in_the_policy_make_the_new_license_fail(tmp_path):
    desired, plan = _plan(
        tmp_path, "settings:\n  mutuallyExclusivePlans:\n    - [teams1, INTUNE_A]\n"
    )
    assert desired.settings.mutuallyExclusivePlans == (frozenset({TEAMS1, INTUNE_A}),)
    assert _ems_state(plan) == ("Error", "MutuallyExclusiveViolation")
    # the user keeps the product they had: nothing is taken away
    assert plan.impact.licenseRemovals == ()


def test_without_the_setting_the_same_license_is_assigned(tmp_path):
    _, plan = _plan(tmp_path, "")
    assert _ems_state(plan) == ("Active", "None")


def test_an_unknown_plan_in_the_setting_is_an_error_at_its_place(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        "settings:\n  mutuallyExclusivePlans:\n    - [TEAMS1, INTUNE_B]\n" + GROUP
    )
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy(tmp_path), TENANT.subscribedSkus)
    assert "unknown service plan 'INTUNE_B' (did you mean 'INTUNE_A'?)" in raised.value.message
    assert (raised.value.location.line, raised.value.location.column) == (3, 16)


def test_a_plan_named_dependent_in_the_policy_fails_without_its_prerequisite(tmp_path):
    settings = (
        "settings:\n  dependentPlans:\n    - servicePlan: intune_a\n"
        "      requires: [RMS_S_PREMIUM]\n"
    )
    desired, plan = _plan(tmp_path, settings, GROUP + "        disabledPlans: [RMS_S_PREMIUM]\n")
    assert desired.settings.dependentPlans == ((INTUNE_A, frozenset({RMS_S_PREMIUM})),)
    assert _ems_state(plan) == ("Error", "DependencyViolation")


def test_a_dependency_met_by_another_plan_the_user_has_is_no_violation(tmp_path):
    _, plan = _plan(
        tmp_path,
        "settings:\n  dependentPlans:\n    - servicePlan: INTUNE_A\n      requires: [TEAMS1]\n",
    )
    assert _ems_state(plan) == ("Active", "None")


def test_an_unknown_dependent_plan_is_an_error_at_its_place(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        "settings:\n  dependentPlans:\n    - servicePlan: INTUNE_B\n      requires: [TEAMS1]\n"
        + GROUP
    )
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy(tmp_path), TENANT.subscribedSkus)
    assert "unknown service plan 'INTUNE_B' (did you mean 'INTUNE_A'?)" in raised.value.message
    assert (raised.value.location.line, raised.value.location.column) == (3, 20)
