"""apply_changes stops at the first change the tenant refuses and says what happened to each;
check_guards refuses a guarded plan with a message saying how to proceed."""

from pathlib import Path

import pytest

from reconciler.apply import ApplyResult, RemovalsRefused, apply_changes, check_guards
from reconciler.emulator import running
from reconciler.engine.licensing import LicensingError
from reconciler.model import AssignedLicense, Tenant
from reconciler.plan.changes import (
    AddLicense,
    AddMembers,
    Change,
    DeleteGroup,
    RemoveMembers,
    UpdateGroup,
)
from reconciler.providers.base import AppliedChange, ProviderError
from reconciler.providers.graph import GraphTenant
from reconciler.providers.graph_http import RetryPolicy
from reconciler.providers.local import LocalTenant
from reconciler.providers.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parents[1]
POWER_BI_GROUP = "172709e9-6cc6-4106-80d3-94b63db2fa89"  # LIC-PowerBI-Pro, assigns POWER_BI_PRO
FINANCE = "0099338f-a145-4293-ae58-389e5280cd31"  # Finance Analysts, no licenses
AARAV = "e5943565-67f1-4a4e-9f84-13be34042f86"  # a member of LIC-PowerBI-Pro

DESCRIBE = UpdateGroup(FINANCE, "Finance Analysts", "description", None, "analysts")
DELETE_LICENSED = DeleteGroup(POWER_BI_GROUP, "LIC-PowerBI-Pro")  # Entra refuses: licenses
REMOVE_AARAV = RemoveMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (AARAV,))
DELETE_FINANCE = DeleteGroup(FINANCE, "Finance Analysts")


@pytest.fixture
def tenant(tmp_path: Path) -> LocalTenant:
    """A local tenant made from the Contoso demo tenant."""
    seed = read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")
    return LocalTenant.create(tmp_path / "tenant.db", seed)


def _group(tenant: Tenant, group_id: str):
    return next((group for group in tenant.groups if group.id == group_id), None)


def test_every_change_applied_is_a_complete_result(tenant):
    heard: list[int] = []
    result = apply_changes(
        [DESCRIBE, REMOVE_AARAV], tenant, lambda index, applied: heard.append(index)
    )
    assert result.complete
    assert [applied.change for applied in result.succeeded] == [DESCRIBE, REMOVE_AARAV]
    assert result.failure is None and result.not_attempted == ()
    assert heard == [0, 1]


def test_a_change_the_tenant_refuses_stops_the_run_and_the_rest_is_not_attempted(tenant):
    heard: list[int] = []
    changes = [DESCRIBE, DELETE_LICENSED, REMOVE_AARAV, DELETE_FINANCE]
    result = apply_changes(changes, tenant, lambda index, applied: heard.append(index))
    assert not result.complete
    assert [applied.change for applied in result.succeeded] == [DESCRIBE]
    assert result.failure is not None
    assert result.failure.change == DELETE_LICENSED
    assert isinstance(result.failure.error, LicensingError)
    assert "can't be deleted while it assigns licenses" in str(result.failure.error)
    assert result.not_attempted == (REMOVE_AARAV, DELETE_FINANCE)
    assert heard == [0]  # progress hears only what completed
    after = tenant.read()
    assert _group(after, FINANCE).description == "analysts"  # made before the failure
    assert AARAV in _group(after, POWER_BI_GROUP).members  # never attempted
    assert _group(after, FINANCE) is not None


def test_a_change_to_a_group_the_tenant_no_longer_has_fails_as_a_provider_error(tenant):
    tenant.apply(DELETE_FINANCE)  # someone else deleted it since the plan was made
    result = apply_changes([DESCRIBE, REMOVE_AARAV], tenant)
    assert result.succeeded == ()
    assert isinstance(result.failure.error, ProviderError)
    assert "no group Finance Analysts" in str(result.failure.error)
    assert result.not_attempted == (REMOVE_AARAV,)


class _Broken:
    """A provider with a bug: not a ReconcilerError, so nothing to report but a traceback."""

    def apply(self, change: Change) -> AppliedChange:
        raise KeyError("bug")

    def apply_together(self, changes: list[Change]) -> list[AppliedChange]:
        raise KeyError("bug")


def test_an_error_that_is_not_the_tenant_refusing_propagates():
    with pytest.raises(KeyError):
        apply_changes([DESCRIBE], _Broken())  # type: ignore[arg-type]


def test_an_empty_plan_is_a_complete_result_with_nothing_done(tenant):
    assert apply_changes([], tenant) == ApplyResult(())


def _guards(**fields):
    return {
        "licenseRemovals": 13,
        "maxLicenseRemovals": 25,
        "protected": [],
        "refused": False,
        "reasons": [],
    } | fields


RERUN = "reconciler apply demo.plan --allow-removals"


def test_guards_that_dont_refuse_let_the_plan_through():
    check_guards(_guards(), allow_removals=False, rerun=RERUN)


def test_too_many_removals_are_refused_naming_count_limit_and_both_ways_on():
    with pytest.raises(RemovalsRefused) as refused:
        reasons = ["the plan takes 13 licenses away, more than settings.maxLicenseRemovals (0)"]
        check_guards(_guards(maxLicenseRemovals=0, refused=True, reasons=reasons), False, RERUN)
    message = str(refused.value)
    assert message == (
        "apply refused: the plan takes 13 licenses away, more than "
        f"settings.maxLicenseRemovals (0). To apply it anyway, run `{RERUN}`, or raise "
        "settings.maxLicenseRemovals to at least 13 in the policy and plan again."
    )


def test_removals_through_a_protected_group_are_refused_naming_the_group():
    protected = [{"id": "g1", "displayName": "LIC-M365-E5-Leadership"}]
    with pytest.raises(RemovalsRefused) as refused:
        reasons = ["the plan takes licenses away through protected group LIC-M365-E5-Leadership"]
        guards = _guards(protected=protected, refused=True, reasons=reasons)
        check_guards(guards, False, RERUN)
    message = str(refused.value)
    assert message == (
        "apply refused: the plan takes licenses away through protected group "
        f"LIC-M365-E5-Leadership. To apply it anyway, run `{RERUN}`, or remove `protect: true` "
        "from the group in the policy and plan again."
    )  # raising the limit wouldn't help, so it isn't offered


def test_a_refusal_quotes_the_plan_s_own_reasons():
    guards = _guards(refused=True, reasons=["the seats run out"])
    with pytest.raises(RemovalsRefused, match="the seats run out"):
        check_guards(guards, False, RERUN)


def test_allow_removals_lets_a_refused_plan_through():
    check_guards(_guards(maxLicenseRemovals=0, refused=True), allow_removals=True, rerun=RERUN)


# --- license processing that Entra reports as failed ------------------------------------------

CONTOSO = ROOT / "examples" / "contoso" / "tenant.json"
SALES = "LIC-M365-E5-Sales"  # a dynamic group that assigns licenses


def _through_graph(faults: str, changes_of) -> ApplyResult:
    with running(str(CONTOSO), faults=faults) as emulator:
        tenant = emulator.tenant.read()
        retry = RetryPolicy(attempts=5, base=0.01, cap=0.05)
        with GraphTenant(emulator.url, token=lambda: "t", retry=retry, settle_timeout=10) as graph:
            return apply_changes(changes_of(tenant), graph)


def _licensing_changes(tenant: Tenant) -> list[Change]:
    power_bi = next(g for g in tenant.groups if g.id == POWER_BI_GROUP)
    sales = next(g for g in tenant.groups if g.displayName == SALES)
    rule = '(user.department -eq "Marketing")'
    return [
        AddLicense(power_bi.id, power_bi.displayName, power_bi.assignedLicenses[0]),
        UpdateGroup(sales.id, sales.displayName, "membershipRule", sales.membershipRule, rule),
        DESCRIBE,
    ]


def test_a_group_whose_license_processing_failed_is_named_in_the_result():
    result = _through_graph("license-failed:times=1", _licensing_changes)
    assert result.complete
    (failed,) = result.processing_failed
    assert failed.groupId == POWER_BI_GROUP and failed.processingFailed


def test_a_group_processed_again_successfully_is_not_named():
    def changes(tenant: Tenant) -> list[Change]:
        outsider = next(u.id for u in tenant.users if u.id != AARAV and u.accountEnabled)
        again = AddMembers(POWER_BI_GROUP, "LIC-PowerBI-Pro", (outsider,))
        return [*_licensing_changes(tenant), again]

    result = _through_graph("license-failed:times=1", changes)
    assert result.complete and result.processing_failed == ()


POWER_BI = "f8a1db68-be16-40ed-86d5-cb42ce701560"  # 5 seats free in the demo tenant
VISIO = "c5928f49-12ba-48f7-ada3-0d743a3601d5"  # 3 seats free
# Finance Analysts (6 members, no licenses) gets both in one plan: apply assigns them together,
# so the members left without Visio get no Power BI either, as the plan shows. One at a time,
# five would get Power BI first and keep it when Visio failed.
BOTH = [
    AddLicense(FINANCE, "Finance Analysts", AssignedLicense(POWER_BI)),
    AddLicense(FINANCE, "Finance Analysts", AssignedLicense(VISIO)),
]


def _new_holders(tenant: Tenant, sku_id: str) -> set[str]:
    seed = read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")
    before = {u.id for u in seed.users if any(a.skuId == sku_id for a in u.assignedLicenses)}
    members = set(_group(tenant, FINANCE).members)
    now = {u.id for u in tenant.users if any(a.skuId == sku_id for a in u.assignedLicenses)}
    return (now - before) & members


def test_a_groups_products_added_together_are_one_processing_all_or_nothing(tenant):
    result = apply_changes(BOTH, tenant)
    assert result.complete and [a.change for a in result.succeeded] == BOTH
    after = tenant.read()
    assert len(_new_holders(after, VISIO)) == 3
    assert _new_holders(after, POWER_BI) <= _new_holders(after, VISIO)


def test_through_graph_a_groups_products_go_in_one_assign_license_call():
    with running(str(CONTOSO)) as emulator:
        retry = RetryPolicy(attempts=5, base=0.01, cap=0.05)
        with GraphTenant(emulator.url, token=lambda: "t", retry=retry, settle_timeout=10) as graph:
            result = apply_changes(BOTH, graph)
        after = emulator.tenant.read()
        counts = emulator.counts()
    assert result.complete
    assert counts["POST /groups/{id}/assignLicense"] == 1
    assert len(_new_holders(after, VISIO)) == 3
    assert _new_holders(after, POWER_BI) <= _new_holders(after, VISIO)
