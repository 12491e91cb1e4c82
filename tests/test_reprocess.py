"""Reprocessing: who is chosen, how before and after compare, what is audited and printed."""

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from reconciler.audit import AuditLog, read_audit
from reconciler.engine import recompute
from reconciler.model import (
    ACTIVE,
    ACTIVE_WITH_ERROR,
    ERROR,
    NO_ERROR,
    AssignedLicense,
    Group,
    LicenseAssignmentState,
    Organization,
    PrepaidUnits,
    Sku,
    Tenant,
    User,
)
from reconciler.plan.changes import RemoveMembers
from reconciler.providers.base import ProviderError
from reconciler.providers.local import LocalTenant
from reconciler.render.reprocess import nothing_text, reprocess_json, reprocess_text
from reconciler.reprocess import (
    CLEAN,
    FAILING,
    FIXED,
    NOT_REPROCESSED,
    FailedAssignment,
    SelectionError,
    Target,
    choose,
    compare,
    failed_assignments,
    preview,
    reprocess_users,
)

POWER_BI = "f8a1db68-be16-40ed-86d5-cb42ce701560"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
E3 = "6fd2c87f-b296-42f0-b197-1e91e994b900"
BI_GROUP = "0b1f0000-0000-4000-8000-000000000001"
EMS_GROUP = "0b1f0000-0000-4000-8000-000000000002"
GONE_GROUP = "0b1f0000-0000-4000-8000-0000000000ff"
SKUS = (
    Sku(POWER_BI, "POWER_BI_PRO", prepaidUnits=PrepaidUnits(1)),
    Sku(EMS, "EMS", prepaidUnits=PrepaidUnits(10)),
    Sku(E3, "ENTERPRISEPACK", prepaidUnits=PrepaidUnits(10)),
)
NOW = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def _state(sku: str, group: str | None, state: str = ACTIVE, error: str = NO_ERROR):
    return LicenseAssignmentState(sku, frozenset(), group, state, error)


def _user(name: str, *states: LicenseAssignmentState) -> User:
    return User(f"id-{name}", f"{name}@contoso.com", licenseAssignmentStates=states)


def _tenant(*users: User, groups=None) -> Tenant:
    if groups is None:
        groups = (
            Group(BI_GROUP, "LIC-PowerBI-Pro", members=tuple(u.id for u in users)),
            Group(EMS_GROUP, "LIC-EMS", members=tuple(u.id for u in users)),
        )
    return Tenant(Organization("org", "Contoso", "GB"), SKUS, tuple(users), tuple(groups))


SHORT = _state(POWER_BI, BI_GROUP, ERROR, "CountViolation")
OTHER = _state(EMS, EMS_GROUP, ERROR, "Other")
KEPT = _state(E3, GONE_GROUP, ACTIVE_WITH_ERROR, "DependencyViolation")


def _ids(targets) -> list[str]:
    return [target.userPrincipalName for target in targets]


# --- choosing who to reprocess --------------------------------------------------------------


def test_every_user_with_a_failed_group_license_is_chosen_by_userprincipalname():
    tenant = _tenant(
        _user("cy", SHORT),
        _user("ana", _state(POWER_BI, BI_GROUP)),  # fine
        _user("ben", OTHER),
        _user("dee", _state(EMS, None, ERROR, "CountViolation")),  # direct: nothing to retry
    )
    assert _ids(choose(tenant)) == ["ben@contoso.com", "cy@contoso.com"]


def test_a_license_kept_in_error_after_a_failed_removal_is_chosen_too():
    # ActiveWithError: the removal failed (DependencyViolation); Microsoft says reprocess
    tenant = _tenant(_user("ana", KEPT))
    [target] = choose(tenant)
    [failed] = target.failed
    assert (failed.state, failed.error, failed.skuPartNumber) == (
        ACTIVE_WITH_ERROR,
        "DependencyViolation",
        "ENTERPRISEPACK",
    )
    assert failed.groupDisplayName is None  # the group is no longer in the tenant


def test_failed_licenses_carry_the_group_displayname_and_the_skupartnumber():
    tenant = _tenant(_user("ana", OTHER, SHORT))
    assert failed_assignments(tenant, tenant.users[0]) == (
        FailedAssignment(EMS_GROUP, "LIC-EMS", EMS, "EMS", ERROR, "Other"),
        FailedAssignment(
            BI_GROUP, "LIC-PowerBI-Pro", POWER_BI, "POWER_BI_PRO", ERROR, "CountViolation"
        ),
    )


def test_named_users_are_found_by_upn_or_id_ignoring_case_once_each_in_or_out_of_error():
    tenant = _tenant(_user("ana"), _user("ben", SHORT))
    targets = choose(tenant, ["BEN@Contoso.com", "ID-ANA", "id-ben"])
    assert _ids(targets) == ["ben@contoso.com", "ana@contoso.com"]
    assert targets[1].failed == ()


def test_unknown_users_are_named_together_in_one_error():
    tenant = _tenant(_user("ana"))
    with pytest.raises(SelectionError) as raised:
        choose(tenant, ["zed@contoso.com", "ana@contoso.com", "nobody"])
    assert "no users zed@contoso.com, nobody in the tenant" in str(raised.value)


def test_a_group_narrows_the_choice_to_users_failing_through_it_by_name_or_id():
    tenant = _tenant(_user("ana", SHORT), _user("ben", OTHER), _user("cy", SHORT, OTHER))
    assert _ids(choose(tenant, group="lic-powerbi-pro")) == ["ana@contoso.com", "cy@contoso.com"]
    assert _ids(choose(tenant, group=EMS_GROUP.upper())) == ["ben@contoso.com", "cy@contoso.com"]


def test_a_group_no_longer_in_the_tenant_is_named_by_the_id_its_failures_carry():
    tenant = _tenant(_user("ana", KEPT), _user("ben", SHORT))
    assert _ids(choose(tenant, group=GONE_GROUP)) == ["ana@contoso.com"]


def test_a_group_with_no_one_failing_chooses_no_one():
    tenant = _tenant(_user("ana", SHORT))
    assert choose(tenant, group="LIC-EMS") == ()


def test_an_unknown_group_is_an_error():
    with pytest.raises(SelectionError, match="no group LIC-Nope in the tenant"):
        choose(_tenant(_user("ana", SHORT)), group="LIC-Nope")


def test_a_displayname_two_groups_share_is_refused_with_their_ids():
    groups = (Group(BI_GROUP, "LIC-PowerBI-Pro"), Group(EMS_GROUP, "lic-powerbi-pro"))
    tenant = _tenant(_user("ana", SHORT), groups=groups)
    with pytest.raises(SelectionError) as raised:
        choose(tenant, group="LIC-PowerBI-Pro")
    assert BI_GROUP in str(raised.value) and EMS_GROUP in str(raised.value)


def test_users_and_a_group_together_are_refused():
    with pytest.raises(SelectionError, match="not both"):
        choose(_tenant(_user("ana", SHORT)), ["ana@contoso.com"], "LIC-PowerBI-Pro")


# --- comparing before and after -------------------------------------------------------------


def test_compare_tells_fixed_still_failing_newly_failing_and_clean_users_apart():
    before = _tenant(_user("ana", SHORT), _user("ben", SHORT, OTHER), _user("cy"), _user("dee"))
    targets = _targets(before)
    after = _tenant(
        _user("ana", _state(POWER_BI, BI_GROUP)),
        _user("ben", SHORT, _state(EMS, EMS_GROUP)),
        _user("cy", OTHER),
        _user("dee"),
    )
    result = compare(targets, after)
    statuses = {user.userPrincipalName: user.status for user in result.users}
    assert statuses == {
        "ana@contoso.com": FIXED,
        "ben@contoso.com": FAILING,
        "cy@contoso.com": FAILING,
        "dee@contoso.com": CLEAN,
    }
    ben = result.users[1]
    assert [f.skuPartNumber for f in ben.fixed] == ["EMS"]
    assert [f.error for f in ben.after] == ["CountViolation"]
    assert (result.count(FIXED), result.count(FAILING), result.count(CLEAN)) == (1, 2, 1)


def _targets(tenant: Tenant) -> tuple[Target, ...]:
    return choose(tenant, [user.userPrincipalName for user in tenant.users])


def test_a_user_the_tenant_refused_to_reprocess_keeps_its_reason_and_no_after():
    before = _tenant(_user("ana", SHORT), _user("ben", SHORT))
    result = compare(_targets(before), before, {"ID-BEN": "Insufficient privileges"})
    ben = result.users[1]
    assert (ben.status, ben.error, ben.after) == (
        NOT_REPROCESSED,
        "Insufficient privileges",
        None,
    )
    assert result.users[0].status == FAILING


def test_a_user_deleted_between_the_reads_is_reported_not_reprocessed():
    before = _tenant(_user("ana", SHORT))
    result = compare(_targets(before), _tenant())
    assert (result.users[0].status, result.users[0].error) == (NOT_REPROCESSED, "no such user")


def test_a_dry_run_has_no_status_and_no_after():
    result = preview(_targets(_tenant(_user("ana", SHORT))))
    assert result.dry_run and result.users[0].status is None and result.users[0].after is None


# --- running it through a provider ----------------------------------------------------------


@pytest.fixture
def short_of_seats(tmp_path):
    """A local tenant where Power BI's one seat went to ana, and ben and cy are short."""
    users = tuple(User(f"id-{n}", f"{n}@contoso.com") for n in ("ana", "ben", "cy"))
    group = Group(BI_GROUP, "LIC-PowerBI-Pro", members=tuple(u.id for u in users))
    group = replace(group, assignedLicenses=(AssignedLicense(POWER_BI),))
    db = LocalTenant.create(tmp_path / "tenant.db", recompute(_tenant(*users, groups=(group,))))
    yield db
    db.close()


def _audit(tmp_path) -> AuditLog:
    return AuditLog(tmp_path / "audit.jsonl", "tester", "org", clock=lambda: NOW)


def test_users_short_of_seats_get_them_once_freed_and_the_rest_stay_failing(
    short_of_seats, tmp_path
):
    db = short_of_seats
    db.apply(RemoveMembers(BI_GROUP, "LIC-PowerBI-Pro", ("id-ana",)))  # one seat freed
    targets = choose(db.read())
    assert _ids(targets) == ["ben@contoso.com", "cy@contoso.com"]
    result = reprocess_users(targets, db, _audit(tmp_path))
    assert [(u.userPrincipalName, u.status) for u in result.users] == [
        ("ben@contoso.com", FIXED),
        ("cy@contoso.com", FAILING),
    ]
    assert [f.error for f in result.users[1].after] == ["CountViolation"]


def test_each_user_reprocessed_is_audited_and_found_by_user_and_group(short_of_seats, tmp_path):
    db = short_of_seats
    db.apply(RemoveMembers(BI_GROUP, "LIC-PowerBI-Pro", ("id-ana",)))
    reprocess_users(choose(db.read()), db, _audit(tmp_path))
    log = tmp_path / "audit.jsonl"
    [ben] = read_audit(log, user="BEN@contoso.com")
    assert ben["operation"] == "reprocessLicenseAssignment"
    assert ben["group"] == {"id": BI_GROUP, "displayName": "LIC-PowerBI-Pro"}
    assert ben["before"] == {
        "user": {"id": "id-ben", "userPrincipalName": "ben@contoso.com"},
        "licenses": [
            {
                "sku": {"skuId": POWER_BI, "skuPartNumber": "POWER_BI_PRO"},
                "state": "Error",
                "error": "CountViolation",
            }
        ],
    }
    assert (ben["after"]["licenses"], ben["result"], ben["error"]) == ([], "success", None)
    [cy] = read_audit(log, user="id-cy")
    assert (cy["result"], cy["error"]) == ("failure", "POWER_BI_PRO: CountViolation")
    assert len(read_audit(log, group="LIC-PowerBI-Pro")) == 2


def test_a_named_user_without_failures_is_audited_once_with_no_group(short_of_seats, tmp_path):
    db = short_of_seats
    reprocess_users(choose(db.read(), ["ana@contoso.com"]), db, _audit(tmp_path))
    [record] = read_audit(tmp_path / "audit.jsonl")
    assert (record["group"], record["result"]) == (None, "success")
    assert record["before"]["licenses"] == record["after"]["licenses"] == []


class _UnreadableAfter:
    """A provider that reprocesses, then can't be read."""

    def __init__(self) -> None:
        self.reprocessed: list[str] = []

    def reprocess(self, user_ids):
        self.reprocessed += user_ids
        return {}

    def read(self):
        raise ProviderError("GET /users failed: connection reset")


def test_users_reprocessed_are_audited_even_when_the_tenant_cant_be_read_after(tmp_path):
    provider = _UnreadableAfter()
    targets = _targets(_tenant(_user("ana", SHORT)))
    with pytest.raises(ProviderError):
        reprocess_users(targets, provider, _audit(tmp_path))
    assert provider.reprocessed == ["id-ana"]
    [record] = read_audit(tmp_path / "audit.jsonl")
    assert record["before"]["user"]["id"] == "id-ana"
    assert record["after"] is None


class _Refusing:
    """A provider that refuses to reprocess ben, and reprocesses no one else's licenses."""

    def __init__(self, tenant: Tenant) -> None:
        self.tenant = tenant

    def reprocess(self, user_ids):
        return {"id-ben": "Insufficient privileges to complete the operation."}

    def read(self):
        return self.tenant


def test_a_user_the_tenant_refused_is_audited_as_a_failure_with_its_reason(tmp_path):
    tenant = _tenant(_user("ana", SHORT), _user("ben", SHORT))
    result = reprocess_users(_targets(tenant), _Refusing(tenant), _audit(tmp_path))
    assert [u.status for u in result.users] == [FAILING, NOT_REPROCESSED]
    [ben] = read_audit(tmp_path / "audit.jsonl", user="ben@contoso.com")
    assert (ben["result"], ben["error"], ben["after"]) == (
        "failure",
        "Insufficient privileges to complete the operation.",
        None,
    )


def test_nothing_to_reprocess_asks_nothing_of_the_provider(tmp_path):
    provider = _UnreadableAfter()
    assert reprocess_users((), provider, _audit(tmp_path)).users == ()
    assert provider.reprocessed == [] and not (tmp_path / "audit.jsonl").exists()


# --- rendering ------------------------------------------------------------------------------


def _mixed_result():
    before = _tenant(_user("ana", SHORT), _user("ben", SHORT, OTHER), _user("cy", KEPT))
    after = _tenant(
        _user("ana"),
        _user("ben", _state(POWER_BI, BI_GROUP, ERROR, "MutuallyExclusiveViolation")),
        _user("cy", KEPT),
    )
    return compare(_targets(before), after, {"id-cy": "Insufficient privileges"})


def test_the_text_says_per_user_and_license_what_was_fixed_and_what_still_fails():
    text = reprocess_text(_mixed_result())
    assert text.splitlines()[:7] == [
        "ana@contoso.com: fixed",
        "  POWER_BI_PRO from LIC-PowerBI-Pro: fixed (was CountViolation)",
        "ben@contoso.com: 1 fixed, still failing",
        "  EMS from LIC-EMS: fixed (was Other)",
        "  POWER_BI_PRO from LIC-PowerBI-Pro: still failing "
        "(MutuallyExclusiveViolation, was CountViolation)",
        "cy@contoso.com: not reprocessed: Insufficient privileges",
        f"  ENTERPRISEPACK from group {GONE_GROUP} (no longer in the tenant): "
        "DependencyViolation (ActiveWithError)",
    ]
    assert "Reprocessed 2 of 3 users: 1 fixed, 1 still failing; 1 not reprocessed." in text
    # what removes the cause of each error still failing, then: again
    assert "  MutuallyExclusiveViolation: remove the conflicting license" in text
    assert text.endswith("then run `reconciler reprocess` again.")


def test_a_result_with_nothing_still_failing_has_no_hint():
    before = _tenant(_user("ana", SHORT))
    text = reprocess_text(compare(_targets(before), _tenant(_user("ana"))))
    assert text.splitlines()[-1] == "Reprocessed 1 user: 1 fixed, 0 still failing."


def test_the_dry_run_text_lists_users_and_their_errors_and_says_nothing_changed():
    before = _tenant(_user("ana", SHORT), _user("ben"))
    text = reprocess_text(preview(_targets(before)))
    assert text.splitlines() == [
        "Would reprocess 2 users:",
        "ana@contoso.com",
        "  POWER_BI_PRO from LIC-PowerBI-Pro: CountViolation",
        "ben@contoso.com: no failed group licenses",
        "",
        "Dry run: nothing was reprocessed. Run it again without --dry-run to do so.",
    ]


def test_nothing_to_reprocess_says_so_and_names_the_group_asked_for():
    assert nothing_text() == "Nothing to reprocess: no user has a failed group license."
    assert nothing_text("LIC-EMS").endswith("failed group license from LIC-EMS.")


def test_the_json_document_has_a_summary_and_each_user_before_and_after():
    document = json.loads(reprocess_json(_mixed_result()))
    assert document["formatVersion"] == 1 and document["dryRun"] is False
    assert document["summary"] == {
        "users": 3,
        "fixed": 1,
        "failing": 1,
        "clean": 0,
        "notReprocessed": 1,
    }
    ben = document["users"][1]
    assert (ben["status"], ben["error"]) == ("failing", None)
    assert ben["after"] == [
        {
            "group": {"id": BI_GROUP, "displayName": "LIC-PowerBI-Pro"},
            "sku": {"skuId": POWER_BI, "skuPartNumber": "POWER_BI_PRO"},
            "state": "Error",
            "error": "MutuallyExclusiveViolation",
        }
    ]
    assert document["users"][2]["after"] is None
