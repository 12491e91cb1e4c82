"""Offline, SKU and service plan names are checked against skus.lock.yaml when there is one."""

import pytest

from reconciler.policy import PolicyError, build_lock, check_offline, load_policy, resolve
from reconciler.policy.lock import lock_text
from tests.policy.tenant import EMS, SKUS, SPE_E5, YAMMER_ENTERPRISE, write

LOCK = lock_text(build_lock(SKUS, [SPE_E5, EMS]))

POLICY = """\
groups:
  - displayName: LIC-Sales
    licenses:
      - sku: SPE_E6
      - sku: SPE_E5
        disabledPlans: [YAMMER_ENTERPRIS, TEAMS1]
"""


def _offline(tmp_path, monkeypatch, files: dict[str, str]) -> list[PolicyError]:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", files)
    with pytest.raises(PolicyError) as raised:
        check_offline(load_policy("p", keep_going=True))
    return list(raised.value.errors)


def test_offline_an_unknown_sku_and_service_plan_are_caught_against_the_lock(tmp_path, monkeypatch):
    errors = _offline(tmp_path, monkeypatch, {"a.yaml": POLICY, "skus.lock.yaml": LOCK})
    assert [str(error) for error in errors] == [
        "p/a.yaml:4:14: group 'LIC-Sales', licenses[0].sku: unknown SKU 'SPE_E6' (did you mean "
        "'SPE_E5'?); checked against p/skus.lock.yaml, which lists: EMS, SPE_E5; run "
        "`reconciler lock` if the tenant has it",
        "p/a.yaml:6:25: group 'LIC-Sales', licenses[1].disabledPlans[0]: unknown service plan "
        "'YAMMER_ENTERPRIS' in SPE_E5 (did you mean 'YAMMER_ENTERPRISE'?); checked against "
        "p/skus.lock.yaml: run `reconciler lock` if Microsoft added it since",
    ]
    assert [error.code for error in errors] == ["unknown-sku", "unknown-service-plan"]


def test_offline_and_online_give_a_name_problem_the_same_code_and_place(tmp_path, monkeypatch):
    offline = _offline(tmp_path, monkeypatch, {"a.yaml": POLICY, "skus.lock.yaml": LOCK})
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy("p"), SKUS)
    online = raised.value.errors
    assert [(e.code, e.location) for e in offline] == [(e.code, e.location) for e in online]
    # the online message names the tenant's SKUs, the offline one the lock's
    assert online[0].message.endswith("; the tenant has: EMS, SPE_E5")


def test_offline_names_by_id_and_in_any_case_pass_as_online(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    policy = (
        "groups:\n  - displayName: LIC-Sales\n    licenses:\n"
        f"      - sku: {SPE_E5.upper()}\n        enabledPlans: [{YAMMER_ENTERPRISE}, teams1]\n"
        "      - sku: ems\n"
    )
    write(tmp_path / "p", {"a.yaml": policy, "skus.lock.yaml": LOCK})
    check_offline(load_policy("p"))  # no error


def test_offline_a_sku_the_lock_lacks_is_an_error_asking_for_reconciler_lock(tmp_path, monkeypatch):
    # the tenant has EMS, but the lock was written before any group assigned it
    lock = lock_text(build_lock(SKUS, [SPE_E5]))
    policy = "groups:\n  - displayName: LIC-EMS\n    licenses:\n      - sku: EMS\n"
    (error,) = _offline(tmp_path, monkeypatch, {"a.yaml": policy, "skus.lock.yaml": lock})
    assert error.message == (
        "group 'LIC-EMS', licenses[0].sku: unknown SKU 'EMS'; checked against p/skus.lock.yaml, "
        "which lists: SPE_E5; run `reconciler lock` if the tenant has it"
    )


def test_offline_the_same_sku_twice_in_a_group_is_caught_against_the_lock(tmp_path, monkeypatch):
    policy = (
        "groups:\n  - displayName: LIC-Sales\n    licenses:\n      - sku: EMS\n"
        f"      - sku: {EMS}\n"
    )
    (error,) = _offline(tmp_path, monkeypatch, {"a.yaml": policy, "skus.lock.yaml": LOCK})
    assert error.code == "duplicate-license"
    assert str(error) == (
        "p/a.yaml:5:14: group 'LIC-Sales', licenses[1].sku: EMS is already listed at p/a.yaml:4:9"
    )


def test_offline_without_a_lock_reports_only_what_needs_no_names(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", {"a.yaml": POLICY})
    check_offline(load_policy("p"))  # the names can't be checked: no error
    write(tmp_path / "p", {"a.yaml": POLICY + "    protect: yes\n"})
    with pytest.raises(PolicyError) as raised:
        check_offline(load_policy("p", keep_going=True))
    assert [(e.code, e.location.line) for e in raised.value.errors] == [("invalid-value", 7)]


def test_offline_the_policy_problems_come_with_the_names_in_file_order(tmp_path, monkeypatch):
    files = {
        "a.yaml": POLICY,
        "b.yaml": "groups:\n  - displayName: B\n    protect: yes\n",
        "skus.lock.yaml": LOCK,
    }
    errors = _offline(tmp_path, monkeypatch, files)
    assert [(e.location.file, e.location.line, e.code) for e in errors] == [
        ("p/a.yaml", 4, "unknown-sku"),
        ("p/a.yaml", 6, "unknown-service-plan"),
        ("p/b.yaml", 3, "invalid-value"),
    ]


def test_offline_settings_plans_are_not_checked_against_the_lock(tmp_path, monkeypatch):
    # a mutually exclusive plan may be of a product no group assigns, which the lock lacks
    monkeypatch.chdir(tmp_path)
    policy = "settings:\n  mutuallyExclusivePlans:\n    - [EXCHANGE_S_DESKLESS, TEAMS1]\n"
    write(tmp_path / "p", {"a.yaml": policy, "skus.lock.yaml": LOCK})
    check_offline(load_policy("p"))  # no error


def test_an_unreadable_lock_is_reported_offline_under_its_own_code(tmp_path, monkeypatch):
    files = {"a.yaml": POLICY, "skus.lock.yaml": "formatVersion: 1\nskus:\n<<<<<<< HEAD\n"}
    (error,) = _offline(tmp_path, monkeypatch, files)
    assert error.code == "invalid-lock"
    assert error.message.endswith("; run `reconciler lock` to write it anew")
