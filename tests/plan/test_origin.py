"""A plan's origin identifies the policy and tenant state it came from; a saved plan is applied
only while planning now would give the same changes and removals."""

import copy
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler import __version__
from reconciler.plan.origin import plan_digest, plan_origin, policy_digest, state_fingerprint
from reconciler.plan.stale import check_freshness, plan_differences
from reconciler.policy import load_policy
from reconciler.providers.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def contoso():
    return read_snapshot(ROOT / "examples" / "contoso" / "tenant.json")


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    return Path(shutil.copytree(ROOT / "policies", tmp_path / "policies"))


def test_origin_names_tool_version_policy_tenant_and_state(policies, contoso):
    origin = plan_origin(load_policy(policies), contoso)
    assert origin["toolVersion"] == __version__
    assert origin["tenantId"] == contoso.organization.id
    assert origin["policyDigest"].startswith("sha256:")
    assert origin["stateFingerprint"].startswith("sha256:")
    assert len(origin["stateFingerprint"]) == len("sha256:") + 64


def test_the_policy_digest_is_the_same_wherever_the_policy_folder_is(policies, tmp_path):
    moved = shutil.copytree(policies, tmp_path / "elsewhere" / "deeper")
    assert policy_digest(load_policy(policies).positions.texts) == policy_digest(
        load_policy(moved).positions.texts
    )
    assert policy_digest(load_policy(policies.resolve()).positions.texts) == policy_digest(
        load_policy(policies).positions.texts
    )


def test_the_policy_digest_changes_with_a_files_text_or_its_name():
    texts = {"policies/a.yaml": "groups: []\n", "policies/b.yaml": "retired: []\n"}
    digest = policy_digest(texts)
    assert policy_digest({**texts, "policies/b.yaml": "retired: [] # edited\n"}) != digest
    renamed = {"policies/a.yaml": "groups: []\n", "policies/c.yaml": "retired: []\n"}
    assert policy_digest(renamed) != digest
    # the same bytes split between name and text differently must not collide
    assert policy_digest({"ab": "c"}) != policy_digest({"a": "bc"})
    assert policy_digest(dict(reversed(texts.items()))) == digest


def test_equal_tenant_states_have_equal_fingerprints_and_any_change_shows(contoso):
    assert state_fingerprint(contoso) == state_fingerprint(copy.deepcopy(contoso))
    user = contoso.users[0]
    retitled = replace(user, attributes={**user.attributes, "jobTitle": "Astronaut"})
    changed = replace(contoso, users=(retitled, *contoso.users[1:]))
    assert state_fingerprint(changed) != state_fingerprint(contoso)


def test_a_users_properties_in_another_order_are_the_same_state(contoso):
    user = contoso.users[0]
    shuffled = replace(user, attributes=dict(reversed(user.attributes.items())))
    same = replace(contoso, users=(shuffled, *contoso.users[1:]))
    assert state_fingerprint(same) == state_fingerprint(contoso)


# --- freshness --------------------------------------------------------------------------------

ORIGIN = {
    "toolVersion": "0.1.0",
    "policyDigest": "sha256:policy",
    "tenantId": "6762b34f-4e26-4a8e-a032-35a1e58e1b1c",
    "stateFingerprint": "sha256:state",
}
SALES = {"id": "5dfeba9d", "displayName": "LIC-M365-E5-Sales"}
POWER_BI = {"id": "172709e9", "displayName": "LIC-PowerBI-Pro"}


def _removal(user: str, sku: str = "SPE_E5") -> dict:
    return {
        "userId": f"id-{user}",
        "userPrincipalName": f"{user}@contoso.com",
        "skuId": f"sku-{sku}",
        "skuPartNumber": sku,
        "group": "LIC-M365-E5-Sales",
        "reason": "no longer matches the edited membership rule",
    }


def _document(changes=None, removals=None, origin=ORIGIN) -> dict:
    changes = (
        [
            {
                "action": "updateGroup",
                "group": SALES,
                "property": "membershipRule",
                "before": "a",
                "after": "b",
            },
            {
                "action": "removeMembers",
                "group": POWER_BI,
                "members": [{"id": "u1", "userPrincipalName": "daniel.smith@contoso.com"}],
            },
        ]
        if changes is None
        else changes
    )
    removals = [_removal("kaito.suzuki")] if removals is None else removals
    document = {
        "changesPresent": bool(changes),
        "changes": changes,
        "impact": {"licenseRemovals": removals, "planRemovals": []},
    }
    if origin is not None:
        document["origin"] = {**origin, "planDigest": plan_digest(document)}
    return document


def _never() -> dict:
    raise AssertionError("a plan whose origin matches is not planned again")


def test_an_edited_plan_file_is_planned_again_even_when_the_rest_matches():
    edited = _document()
    edited["changes"].pop()
    freshness = check_freshness(edited, dict(ORIGIN), lambda: _document())
    assert freshness.problem() == (
        "plan is stale: the changes differ (now also: LIC-PowerBI-Pro removeMembers). "
        "Since the plan was made, the plan file (edited after `plan` wrote it) changed."
    )


def test_a_plan_whose_origin_matches_is_current_without_planning_again():
    freshness = check_freshness(_document(), dict(ORIGIN), _never)
    assert freshness.current and freshness.problem() is None and freshness.replanned is None


def test_another_tenants_plan_is_refused_without_planning_again():
    other = {**ORIGIN, "tenantId": "00000000-0000-0000-0000-000000000000"}
    freshness = check_freshness(_document(), other, _never)
    assert not freshness.current
    assert freshness.problem() == (
        "plan is for another tenant: it was made for tenant "
        "6762b34f-4e26-4a8e-a032-35a1e58e1b1c, not 00000000-0000-0000-0000-000000000000."
    )


def test_drift_that_leaves_changes_and_removals_alone_keeps_the_plan_current():
    moved = {**ORIGIN, "stateFingerprint": "sha256:other", "policyDigest": "sha256:edited"}
    freshness = check_freshness(_document(), moved, lambda: _document(origin=moved))
    assert freshness.current
    assert freshness.drift_note() == (
        "Since the plan was made, the tenant and the policy changed. "
        "Planning again gives the same changes and removals."
    )


def test_a_plan_whose_changes_differ_now_is_stale_and_says_what_and_why():
    moved = {**ORIGIN, "stateFingerprint": "sha256:other"}
    now = _document()
    now["changes"][1]["members"].append({"id": "u2", "userPrincipalName": "bob@contoso.com"})
    now["impact"]["licenseRemovals"].append(_removal("bob", "POWER_BI_PRO"))
    freshness = check_freshness(_document(), moved, lambda: now)
    assert not freshness.current
    assert freshness.problem() == (
        "plan is stale: the changes differ (altered: LIC-PowerBI-Pro removeMembers "
        "(+bob@contoso.com)); the license removals differ (now also: bob@contoso.com loses "
        "POWER_BI_PRO). Since the plan was made, the tenant changed."
    )


def test_a_plan_already_applied_is_stale_because_nothing_is_left_to_do():
    differences = plan_differences(_document(), _document(changes=[], removals=[]))
    assert differences == ("planning now finds no changes: the tenant already matches the policy",)


def test_removals_no_longer_made_and_changes_no_longer_planned_are_named():
    saved = _document(removals=[_removal(f"user{n}") for n in range(5)])
    now = _document(changes=_document()["changes"][:1], removals=[_removal("user0")])
    assert plan_differences(saved, now) == (
        "the changes differ (no longer: LIC-PowerBI-Pro removeMembers)",
        "the license removals differ (no longer: user1@contoso.com loses SPE_E5, "
        "user2@contoso.com loses SPE_E5, user3@contoso.com loses SPE_E5 and 1 more)",
    )


def test_the_same_changes_in_another_order_differ_but_reordered_removals_dont():
    saved = _document(removals=[_removal("a"), _removal("b")])
    now = _document(
        changes=list(reversed(saved["changes"])), removals=[_removal("b"), _removal("a")]
    )
    assert plan_differences(saved, now) == (
        "the changes differ (the same changes in another order)",
    )


def test_a_plan_without_origin_is_checked_by_planning_again():
    saved = _document(origin=None)
    assert check_freshness(saved, ORIGIN, lambda: _document()).current
    stale = check_freshness(saved, ORIGIN, lambda: _document(removals=[]))
    assert stale.problem() == (
        "plan is stale: the license removals differ (no longer: kaito.suzuki@contoso.com loses "
        "SPE_E5). The plan file records no origin (an older reconciler wrote it)."
    )


def test_a_new_reconciler_version_is_named_among_what_moved():
    newer = {**ORIGIN, "toolVersion": "0.2.0"}
    freshness = check_freshness(_document(), newer, lambda: _document(removals=[]))
    assert (freshness.problem() or "").endswith(
        "Since the plan was made, reconciler (from 0.1.0 to 0.2.0) changed."
    )


def test_an_altered_change_names_replaced_entries_and_changed_fields():
    create = {
        "action": "createGroup",
        "group": {"id": "new:lic-visio", "displayName": "LIC-Visio"},
        "after": {"description": "Visio", "groupTypes": []},
    }
    add = {
        "action": "addMembers",
        "group": {"id": "new:lic-visio", "displayName": "LIC-Visio"},
        "members": [{"id": "u1", "userPrincipalName": "isaiah.taylor@contoso.com"}],
    }
    saved = _document(changes=[create, add])
    now = copy.deepcopy(saved)
    now["changes"][0]["after"]["description"] = "Visio for everyone"
    now["changes"][1]["members"] = [{"id": "u2", "userPrincipalName": "alex.wilson@contoso.com"}]
    assert plan_differences(saved, now) == (
        "the changes differ (altered: LIC-Visio createGroup (after.description differs), "
        "LIC-Visio addMembers (+alex.wilson@contoso.com; -isaiah.taylor@contoso.com))",
    )
