"""new-service-plan and plan-pending-provisioning: what the plan says about a SKU's plans."""

from dataclasses import replace
from pathlib import Path

from reconciler.errors import Location
from reconciler.model import Organization, ServicePlan, Sku, Tenant
from reconciler.plan.checks import Facts
from reconciler.plan.checks.service_plans import new_service_plans, pending_provisioning
from reconciler.plan.warnings import INFO, WARNING, PlanWarning
from reconciler.policy import build_lock, load_policy, resolve, update_lock
from reconciler.policy.desired import DesiredState
from reconciler.policy.lock import SkuLock, used_skus
from tests.policy.tenant import (
    EMS,
    INTUNE_A,
    RMS_S_PREMIUM,
    SKUS,
    SPE_E5,
    TEAMS1,
    YAMMER_ENTERPRISE,
    write,
)

# real plans Microsoft could add: Loop to Microsoft 365 E5, Cloud App Discovery to EMS
MICROSOFT_LOOP = ServicePlan("c4b8c31a-fb44-4c65-9837-a21f55fcabda", "MICROSOFT_LOOP")
ADALLOM_S_DISCOVERY = ServicePlan("932ad362-64a8-4783-9106-97849a1a30b9", "ADALLOM_S_DISCOVERY")

E5_SKU, EMS_SKU = SKUS
LATER = (
    replace(E5_SKU, servicePlans=(*E5_SKU.servicePlans, MICROSOFT_LOOP)),
    replace(EMS_SKU, servicePlans=(ADALLOM_S_DISCOVERY, *EMS_SKU.servicePlans)),
)

POLICY = """\
groups:
  - displayName: LIC-E5-DenyList
    licenses:
      - sku: SPE_E5
        disabledPlans: [YAMMER_ENTERPRISE]
  - displayName: LIC-EMS-AllowList
    licenses:
      - sku: EMS
        enabledPlans: [INTUNE_A, AAD_PREMIUM]
"""
ACKNOWLEDGE = "run `reconciler lock` to acknowledge"


def _tenant(skus: tuple[Sku, ...]) -> Tenant:
    return Tenant(Organization("org", "Contoso"), subscribedSkus=skus)


def _facts(desired: DesiredState, skus: tuple[Sku, ...]) -> Facts:
    return Facts(desired, _tenant(skus), _tenant(skus), (), ())


def _desired(root: Path, skus_now, locked_skus=SKUS, policy: str = POLICY) -> DesiredState:
    """The policy resolved against `skus_now`, locked when the tenant had `locked_skus`."""
    write(root, {"a.yaml": policy})
    desired = resolve(load_policy(root), skus_now)
    if locked_skus is None:
        return desired
    return replace(desired, lock=build_lock(locked_skus, used_skus(desired)))


def test_a_new_plan_is_a_warning_for_a_deny_list_and_information_for_an_allow_list(tmp_path):
    found = new_service_plans(_facts(_desired(tmp_path, LATER), LATER))
    policy = str(tmp_path / "a.yaml")
    assert found == [
        PlanWarning(
            "new-service-plan",
            WARNING,
            "MICROSOFT_LOOP was added to SPE_E5 and is enabled for group LIC-E5-DenyList",
            f"add it to disabledPlans or switch to enabledPlans; {ACKNOWLEDGE}",
            group="LIC-E5-DenyList",
            location=Location(policy, 4, 9),
        ),
        PlanWarning(
            "new-service-plan",
            INFO,
            "ADALLOM_S_DISCOVERY was added to EMS and stays disabled for group "
            "LIC-EMS-AllowList: its enabledPlans don't list it",
            f"add it to enabledPlans to hand it out; {ACKNOWLEDGE}",
            group="LIC-EMS-AllowList",
            location=Location(policy, 8, 9),
        ),
    ]


def test_after_reconciler_lock_the_new_plans_are_acknowledged(tmp_path):
    write(tmp_path, {"a.yaml": POLICY})
    update_lock(tmp_path, resolve(load_policy(tmp_path), SKUS), SKUS)
    assert new_service_plans(_facts(resolve(load_policy(tmp_path), LATER), LATER)) != []
    update_lock(tmp_path, resolve(load_policy(tmp_path), LATER), LATER)
    desired = resolve(load_policy(tmp_path), LATER)
    assert desired.lock is not None
    assert new_service_plans(_facts(desired, LATER)) == []


def test_nothing_new_when_the_tenant_has_the_plans_the_lock_lists(tmp_path):
    assert new_service_plans(_facts(_desired(tmp_path, SKUS), SKUS)) == []


def test_plan_ids_compare_ignoring_case(tmp_path):
    def shouting(sku: Sku) -> Sku:
        plans = tuple(replace(p, servicePlanId=p.servicePlanId.upper()) for p in sku.servicePlans)
        return replace(sku, skuId=sku.skuId.upper(), servicePlans=plans)

    upper = tuple(shouting(sku) for sku in LATER)
    assert new_service_plans(_facts(_desired(tmp_path, upper, LATER), upper)) == []
    assert new_service_plans(_facts(_desired(tmp_path, LATER, upper), LATER)) == []


def test_a_new_plan_the_policy_already_names_is_information(tmp_path):
    policy = POLICY.replace("[YAMMER_ENTERPRISE]", "[YAMMER_ENTERPRISE, MICROSOFT_LOOP]").replace(
        "[INTUNE_A, AAD_PREMIUM]", "[INTUNE_A, AAD_PREMIUM, ADALLOM_S_DISCOVERY]"
    )
    found = new_service_plans(_facts(_desired(tmp_path, LATER, policy=policy), LATER))
    assert [(w.severity, w.message) for w in found] == [
        (
            INFO,
            "MICROSOFT_LOOP was added to SPE_E5 and is disabled for group LIC-E5-DenyList, "
            "as its disabledPlans say",
        ),
        (
            INFO,
            "ADALLOM_S_DISCOVERY was added to EMS and is enabled for group LIC-EMS-AllowList, "
            "as its enabledPlans say",
        ),
    ]
    assert {w.hint for w in found} == {ACKNOWLEDGE}


def test_without_a_lock_one_finding_says_to_run_reconciler_lock(tmp_path):
    found = new_service_plans(_facts(_desired(tmp_path, LATER, locked_skus=None), LATER))
    assert found == [
        PlanWarning(
            "new-service-plan",
            INFO,
            "the policy has no skus.lock.yaml, so service plans Microsoft adds go unnoticed",
            "run `reconciler lock` and commit skus.lock.yaml with the policies",
        )
    ]


def test_a_policy_that_assigns_no_sku_needs_no_lock(tmp_path):
    policy = "groups:\n  - displayName: LIC-None\n"
    assert new_service_plans(_facts(_desired(tmp_path, LATER, None, policy), LATER)) == []


def test_a_sku_missing_from_the_lock_is_one_finding_and_its_plans_are_taken_as_known(tmp_path):
    # a second group with the SKU the lock lacks still gives one finding for the SKU
    policy = POLICY + "  - displayName: LIC-EMS-All\n    licenses:\n      - sku: EMS\n"
    desired = _desired(tmp_path, LATER, policy=policy)
    desired = replace(desired, lock=SkuLock(tuple(s for s in desired.lock.skus if s.skuId != EMS)))
    found = new_service_plans(_facts(desired, LATER))
    assert [(w.severity, w.group) for w in found] == [(WARNING, "LIC-E5-DenyList"), (INFO, None)]
    assert found[1].message == (
        "EMS is not in skus.lock.yaml: its 4 service plans are taken as known, "
        "so plans Microsoft adds to it go unnoticed"
    )
    assert found[1].hint == "run `reconciler lock` to record them, and commit skus.lock.yaml"
    assert found[1].location == Location(str(tmp_path / "a.yaml"), 8, 9)


def test_a_sku_only_the_lock_lists_is_ignored(tmp_path):
    policy = POLICY.split("  - displayName: LIC-EMS-AllowList")[0]
    desired = replace(
        _desired(tmp_path, LATER, policy=policy), lock=build_lock(SKUS, {SPE_E5, EMS})
    )
    assert [w.message for w in new_service_plans(_facts(desired, LATER))] == [
        "MICROSOFT_LOOP was added to SPE_E5 and is enabled for group LIC-E5-DenyList"
    ]


def _pending(sku: Sku, statuses: dict[str, str]) -> Sku:
    plans = tuple(
        replace(plan, provisioningStatus=statuses.get(plan.servicePlanId, "Success"))
        for plan in sku.servicePlans
    )
    return replace(sku, servicePlans=plans)


def test_a_plan_not_provisioned_yet_warns_for_each_group_that_hands_it_out(tmp_path):
    skus = (
        # Viva Engage and RMS_S_PREMIUM are pending too, but the groups turn them off
        _pending(E5_SKU, {TEAMS1: "PendingProvisioning", YAMMER_ENTERPRISE: "PendingActivation"}),
        _pending(EMS_SKU, {INTUNE_A: "PendingActivation", RMS_S_PREMIUM: "PendingActivation"}),
    )
    found = pending_provisioning(_facts(_desired(tmp_path, skus), skus))
    policy = str(tmp_path / "a.yaml")
    assert found == [
        PlanWarning(
            "plan-pending-provisioning",
            WARNING,
            "TEAMS1 in SPE_E5 is PendingProvisioning: members of LIC-E5-DenyList won't have it yet",
            "Microsoft is still setting the service up in this tenant; it reaches members once "
            "its provisioningStatus is Success, with no change to the policy",
            group="LIC-E5-DenyList",
            location=Location(policy, 4, 9),
        ),
        PlanWarning(
            "plan-pending-provisioning",
            WARNING,
            "INTUNE_A in EMS is PendingActivation: members of LIC-EMS-AllowList won't have it yet",
            "an admin must activate the service in the tenant first",
            group="LIC-EMS-AllowList",
            location=Location(policy, 8, 9),
        ),
    ]


def test_other_provisioning_states_are_not_pending(tmp_path):
    skus = (
        _pending(E5_SKU, {TEAMS1: "Success", YAMMER_ENTERPRISE: "Disabled"}),
        _pending(EMS_SKU, {INTUNE_A: "PendingInput"}),
    )
    assert pending_provisioning(_facts(_desired(tmp_path, skus), skus)) == []
