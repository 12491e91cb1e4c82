"""Dependent service plans: Entra keeps a prerequisite that something still depends on."""

from reconciler.engine import recompute, simulate
from reconciler.engine.catalog import DEFAULT_RULES, PlanDependency, ServicePlanRules
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    DEPENDENCY_VIOLATION,
    ERROR,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    ServicePlan,
    Sku,
    Tenant,
    User,
)

E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"  # ENTERPRISEPACK
ARCHIVE = "ee02fd1b-340e-4a4b-b355-4a514e4c8943"  # EXCHANGEARCHIVE_ADDON
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"  # EMS
EXCHANGE = "efb87545-963c-4e0d-99df-69c6916d9eb0"  # EXCHANGE_S_ENTERPRISE
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"  # TEAMS1
ARCHIVING = "176a09a6-7ec5-4039-ac02-b2791c6ba793"  # EXCHANGE_S_ARCHIVE_ADDON
INTUNE = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"  # INTUNE_A

SKUS = (
    Sku(
        E3,
        "ENTERPRISEPACK",
        (ServicePlan(EXCHANGE, "EXCHANGE_S_ENTERPRISE"), ServicePlan(TEAMS, "TEAMS1")),
        PrepaidUnits(enabled=10),
    ),
    Sku(
        ARCHIVE,
        "EXCHANGEARCHIVE_ADDON",
        (ServicePlan(ARCHIVING, "EXCHANGE_S_ARCHIVE_ADDON"),),
        PrepaidUnits(enabled=10),
    ),
    Sku(EMS, "EMS", (ServicePlan(INTUNE, "INTUNE_A"),), PrepaidUnits(enabled=10)),
)


def _user(*states: LicenseAssignmentState) -> User:
    return User("ana", "ana@contoso.com", licenseAssignmentStates=states)


def _group(group_id: str, *licenses: AssignedLicense, members=("ana",)) -> Group:
    return Group(group_id, group_id, members=members, assignedLicenses=licenses)


def _tenant(user: User, *groups: Group) -> Tenant:
    return Tenant(Organization("org", "Contoso", "US"), SKUS, (user,), groups)


def _states(tenant: Tenant) -> set[tuple[str, str | None, str, str]]:
    return {
        (s.skuId, s.assignedByGroup, s.state, s.error)
        for s in tenant.users[0].licenseAssignmentStates
    }


def _skus(tenant: Tenant) -> set[str]:
    return {assigned.skuId for assigned in tenant.users[0].assignedLicenses}


def _consumed(tenant: Tenant, sku_id: str) -> int:
    return next(sku.consumedUnits for sku in tenant.subscribedSkus if sku.skuId == sku_id)


def _archived_ana() -> Tenant:
    """Ana has Exchange Online Archiving directly and her Exchange mailbox through group mail."""
    direct = LicenseAssignmentState(ARCHIVE, frozenset(), None)
    return recompute(_tenant(_user(direct), _group("mail", AssignedLicense(E3))))


def test_leaving_the_group_that_gives_a_prerequisite_keeps_its_license_in_error():
    after = simulate(_archived_ana(), {"mail": _group("mail", AssignedLicense(E3), members=())})
    assert (E3, "mail", ACTIVE_WITH_ERROR, DEPENDENCY_VIOLATION) in _states(after)
    # the license is still there, plans and seat alike, until the dependency is resolved
    assert _skus(after) == {E3, ARCHIVE}
    assert _consumed(after, E3) == 1


def test_a_kept_prerequisite_stays_kept_when_the_tenant_is_processed_again():
    after = simulate(_archived_ana(), {"mail": _group("mail", AssignedLicense(E3), members=())})
    again = recompute(after)
    assert (E3, "mail", ACTIVE_WITH_ERROR, DEPENDENCY_VIOLATION) in _states(again)


def test_a_kept_prerequisite_goes_once_the_dependent_plan_goes():
    left = simulate(_archived_ana(), {"mail": _group("mail", AssignedLicense(E3), members=())})
    without_archive = recompute(
        Tenant(
            left.organization,
            SKUS,
            (_user(*[s for s in left.users[0].licenseAssignmentStates if s.skuId != ARCHIVE]),),
            left.groups,
        )
    )
    assert _skus(without_archive) == set()
    assert _consumed(without_archive, E3) == 0


def test_a_kept_prerequisite_goes_once_another_group_gives_it():
    left = simulate(
        _archived_ana(),
        {
            "mail": _group("mail", AssignedLicense(E3), members=()),
            "other": _group("other", AssignedLicense(E3, frozenset({TEAMS}))),
        },
    )
    assert {(sku, by) for sku, by, _, _ in _states(left)} == {(ARCHIVE, None), (E3, "other")}
    assert all(state == ACTIVE for _, _, state, _ in _states(left))


def test_removing_the_license_from_the_group_or_disabling_the_prerequisite_is_refused_alike():
    tenant = _archived_ana()
    for changed in (
        _group("mail"),  # the group's license removed, as retiring the group starts with
        _group("mail", AssignedLicense(E3, frozenset({EXCHANGE}))),  # Exchange turned off
    ):
        after = simulate(tenant, {"mail": changed})
        mail = [s for s in after.users[0].licenseAssignmentStates if s.assignedByGroup == "mail"]
        assert [(s.state, s.error, s.disabledPlans) for s in mail] == [
            (ACTIVE_WITH_ERROR, DEPENDENCY_VIOLATION, frozenset())
        ]


def test_the_kept_license_outlives_the_deleted_group():
    unlicensed = simulate(_archived_ana(), {"mail": _group("mail")})
    deleted = simulate(unlicensed, {"mail": None})
    assert (E3, "mail", ACTIVE_WITH_ERROR, DEPENDENCY_VIOLATION) in _states(deleted)


def test_without_a_dependent_plan_leaving_the_group_removes_the_license():
    tenant = recompute(_tenant(_user(), _group("mail", AssignedLicense(E3))))
    after = simulate(tenant, {"mail": _group("mail", AssignedLicense(E3), members=())})
    assert _skus(after) == set()


def test_a_group_giving_a_plan_without_its_prerequisite_fails_all_or_nothing():
    tenant = recompute(
        _tenant(_user(), _group("archive", AssignedLicense(ARCHIVE), AssignedLicense(EMS)))
    )
    assert _states(tenant) == {
        (ARCHIVE, "archive", ERROR, DEPENDENCY_VIOLATION),
        (EMS, "archive", ERROR, "Other"),
    }
    assert _skus(tenant) == set()
    assert _consumed(tenant, EMS) == 0


def test_a_prerequisite_from_another_group_satisfies_the_dependency_whatever_the_order():
    for mail in ("a-mail", "z-mail"):  # groups are processed in displayName order
        tenant = recompute(
            _tenant(
                _user(),
                _group("m-archive", AssignedLicense(ARCHIVE)),
                _group(mail, AssignedLicense(E3)),
            )
        )
        assert _skus(tenant) == {ARCHIVE, E3}


def test_a_dependency_the_policy_adds_is_enforced_like_the_catalog_s():
    teams_needs_intune = DEFAULT_RULES.extended(
        ServicePlanRules(dependencies=(PlanDependency(TEAMS, frozenset({INTUNE})),))
    )
    tenant = _tenant(_user(), _group("office", AssignedLicense(E3)))
    assert _skus(recompute(tenant)) == {E3}
    assert _states(recompute(tenant, rules=teams_needs_intune)) == {
        (E3, "office", ERROR, DEPENDENCY_VIOLATION)
    }
