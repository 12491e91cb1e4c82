"""The scenario corpus: the licensing scenarios reconciler must get right, one folder each.

Every folder under examples/scenarios/ holds a small Graph-shaped tenant (tenant.json) as Entra
has settled it, a policy (policies/), a README saying which design scenario it shows, and
expected.json: the plan facts Entra's documented behaviour demands. SKU and plan ids are real;
SPE_E5, SPE_E3, ENTERPRISEPACK and STANDARDPACK list only the service plans the scenarios are
about, EMS all seven. The facts, read from the plan document (plan.schema.json):

    summary          {"add", "change", "remove"}, as the plan counts groups
    changes          optional: [action, group displayName] in the plan's order
    licenseRemovals  sorted [userPrincipalName, skuPartNumber]
    planRemovals     sorted [userPrincipalName, skuPartNumber, [servicePlanName, ...]]
    licenseAdditions optional: sorted [userPrincipalName, skuPartNumber]
    licenseRemovalReasons
                     optional: [userPrincipalName, skuPartNumber, text] for the removals named:
                     the removal's reason contains the text (ignoring case)
    planRemovalsKeptBy
                     optional: sorted [userPrincipalName, skuPartNumber, [keptBy, ...]], keptBy
                     a group displayName or null (a direct assignment), null first, then sorted
    temporaryRemovals
                     optional: sorted [userPrincipalName, skuPartNumber], the license removals
                     that revert on their own (`temporary: true`)
    kept             optional: sorted [userPrincipalName, group displayName the user leaves,
                     skuPartNumber, [keptBy, ...]], keptBy as in planRemovalsKeptBy
    seats            optional: {skuPartNumber: {"prepaid", "consumedNow", "consumedAfter",
                     "countViolations"}} for the SKUs (and keys) named; countViolations sorted
    warnings         optional: sorted [code, severity, group or null, user or null], every
                     finding; codes of the lock-file checks (new-service-plan,
                     plan-pending-provisioning) count only in a scenario that names one of them
    guards           optional: {"licenseRemovals", "maxLicenseRemovals", "protected": [group
                     displayName, ...], "refused", "reasons": [text, ...]}, the keys named; each
                     reason contains its text (ignoring case), in the document's order
    after            optional, the tenant once the plan is applied:
      users            {upn: {"skus": [...], "usageLocation": ..., "enabledPlans": {sku: [...]},
                              "licenseAssignmentStates": [[sku, group displayName or null, state]]}}
                       (each key optional; lists sorted)
      skus             {skuPartNumber: {"consumedUnits": n}}
      errors           every assignment not Active, sorted [upn, skuPartNumber, error]
      groupResults     {group displayName: {"succeeded": n, "failed": n}}, users per group whose
                       assignments all succeeded or not, as the audit log's result line counts them
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from reconciler.engine import recompute
from reconciler.model import ACTIVE, NO_ERROR, Group, Sku, Tenant, User
from reconciler.plan.build import Plan, build_plan
from reconciler.plan.document import plan_document
from reconciler.policy import load_policy, resolve
from reconciler.providers.snapshot import read_snapshot

SCENARIOS = Path(__file__).resolve().parent.parent / "examples" / "scenarios"
DESIGN_SCENARIOS = 9

# Scenarios whose expectation is Entra's documented behaviour but not yet reconciler's.

_TOP_KEYS = {
    "summary",
    "changes",
    "licenseRemovals",
    "planRemovals",
    "licenseAdditions",
    "licenseRemovalReasons",
    "planRemovalsKeptBy",
    "temporaryRemovals",
    "kept",
    "seats",
    "warnings",
    "guards",
    "after",
}
_REQUIRED_KEYS = {"summary", "licenseRemovals", "planRemovals"}
_AFTER_KEYS = {"users", "skus", "errors", "groupResults"}
_USER_KEYS = {"skus", "usageLocation", "enabledPlans", "licenseAssignmentStates"}
_SEAT_KEYS = {"prepaid", "consumedNow", "consumedAfter", "countViolations"}
_GUARD_KEYS = {"licenseRemovals", "maxLicenseRemovals", "protected", "refused", "reasons"}
# Findings of the lock file (skus.lock.yaml): asserted only where a scenario is about them.
_LOCK_CODES = {"new-service-plan", "plan-pending-provisioning"}

Facts = dict[str, Any]


def _scenario_folders() -> list[Path]:
    return sorted(path for path in SCENARIOS.iterdir() if path.is_dir())


def _scenario_params() -> list[Any]:
    params = []
    for folder in _scenario_folders():
        params.append(pytest.param(folder.name, id=folder.name))
    return params


def _tenant(name: str) -> Tenant:
    return read_snapshot(SCENARIOS / name / "tenant.json")


@cache
def _plan(name: str) -> Plan:
    tenant = _tenant(name)
    desired = resolve(load_policy(SCENARIOS / name / "policies"), tenant.subscribedSkus)
    return build_plan(desired, tenant)


def _expected(name: str) -> Facts:
    expected = json.loads((SCENARIOS / name / "expected.json").read_text(encoding="utf-8"))
    _check_expected_keys(name, expected)
    return expected


def _check_expected_keys(name: str, expected: Facts) -> None:
    """A misspelt key would silently check nothing; refuse it."""
    where = f"{name}/expected.json"
    missing = _REQUIRED_KEYS - expected.keys()
    assert not missing, f"{where}: missing {missing}"
    assert expected.keys() <= _TOP_KEYS, f"{where}: unknown keys {expected.keys() - _TOP_KEYS}"
    after = expected.get("after", {})
    assert after.keys() <= _AFTER_KEYS, f"{where}: unknown after keys {after.keys() - _AFTER_KEYS}"
    for upn, facts in after.get("users", {}).items():
        unknown = facts.keys() - _USER_KEYS
        assert not unknown, f"{where}: unknown keys {unknown} for user {upn}"
    for sku, facts in expected.get("seats", {}).items():
        unknown = facts.keys() - _SEAT_KEYS
        assert not unknown, f"{where}: unknown seat keys {unknown} for {sku}"
    unknown = expected.get("guards", {}).keys() - _GUARD_KEYS
    assert not unknown, f"{where}: unknown guards keys {unknown}"


# --- facts of a plan --------------------------------------------------------------------------


class _Names:
    """skuPartNumber, servicePlanName and group displayName by id, across before and after."""

    def __init__(self, plan: Plan) -> None:
        self.skus: dict[str, Sku] = {sku.skuId.lower(): sku for sku in plan.before.subscribedSkus}
        self.groups: dict[str, str] = {
            group.id.lower(): group.displayName
            for group in (*plan.before.groups, *plan.after.groups)
        }

    def sku(self, sku_id: str) -> str:
        return self.skus[sku_id.lower()].skuPartNumber

    def group(self, group_id: str | None) -> str | None:
        return None if group_id is None else self.groups.get(group_id.lower(), group_id)

    def enabled_plans(self, sku_id: str, disabled: Iterable[str]) -> list[str]:
        off = {plan_id.lower() for plan_id in disabled}
        plans = self.skus[sku_id.lower()].servicePlans
        return sorted(p.servicePlanName for p in plans if p.servicePlanId.lower() not in off)


def _changes(document: Facts) -> list[list[str]]:
    return [[change["action"], change["group"]["displayName"]] for change in document["changes"]]


def _license_removals(document: Facts) -> list[list[str]]:
    removals = document["impact"]["licenseRemovals"]
    return sorted([r["userPrincipalName"], r["skuPartNumber"]] for r in removals)


def _plan_removals(document: Facts) -> list[list[Any]]:
    removals = document["impact"]["planRemovals"]
    return sorted(
        [r["userPrincipalName"], r["skuPartNumber"], sorted(r["servicePlans"])] for r in removals
    )


def _license_additions(document: Facts) -> list[list[str]]:
    additions = document["impact"]["licenseAdditions"]
    return sorted([a["userPrincipalName"], a["skuPartNumber"]] for a in additions)


def _containing(actual: str, text: str) -> str:
    """`text` when `actual` contains it (ignoring case), else all of `actual` to show."""
    return text if text.lower() in actual.lower() else actual


def _license_removal_reasons(document: Facts, wanted: list[list[str]]) -> list[list[str]]:
    """For each [upn, sku, text] wanted, the text if that removal's reason contains it."""
    reasons = {
        (r["userPrincipalName"], r["skuPartNumber"]): r["reason"]
        for r in document["impact"]["licenseRemovals"]
    }
    facts = []
    for upn, sku, text in wanted:
        reason = reasons.get((upn, sku))
        found = "not listed as a removal" if reason is None else _containing(reason, text)
        facts.append([upn, sku, found])
    return facts


def _kept_by_key(group: str | None) -> tuple[bool, str]:
    return (group is not None, group or "")


def _plan_removals_kept_by(document: Facts) -> list[list[Any]]:
    removals = document["impact"]["planRemovals"]
    return sorted(
        [
            r["userPrincipalName"],
            r["skuPartNumber"],
            sorted(r.get("keptBy", []), key=_kept_by_key),
        ]
        for r in removals
    )


def _temporary_removals(document: Facts) -> list[list[str]]:
    removals = document["impact"]["licenseRemovals"]
    return sorted([r["userPrincipalName"], r["skuPartNumber"]] for r in removals if r["temporary"])


def _kept(document: Facts) -> list[list[Any]]:
    return sorted(
        [
            k["userPrincipalName"],
            k["group"],
            k["skuPartNumber"],
            sorted(k["keptBy"], key=_kept_by_key),
        ]
        for k in document["impact"]["kept"]
    )


def _seats(document: Facts, wanted: Facts) -> Facts:
    """The seat forecast of the SKUs `wanted` names, with the keys it names."""
    forecasts = {seat["skuPartNumber"]: seat for seat in document["impact"].get("seats", [])}
    facts: Facts = {}
    for sku, keys in wanted.items():
        seat = forecasts.get(sku)
        if seat is None:
            facts[sku] = "no seat forecast"
            continue
        seat = {**seat, "countViolations": sorted(seat.get("countViolations", []))}
        facts[sku] = {key: seat.get(key) for key in keys}
    return facts


def _warnings(document: Facts, wanted: list[list[Any]]) -> list[list[Any]]:
    asserted = {code for code, *_ in wanted}
    return sorted(
        (
            [w["code"], w["severity"], w.get("group"), w.get("user")]
            for w in document["warnings"]
            if w["code"] not in _LOCK_CODES or w["code"] in asserted
        ),
        key=lambda w: [part or "" for part in w],
    )


def _guards(document: Facts, wanted: Facts) -> Facts:
    """The guards' keys `wanted` names; protected by displayName, reasons as in `_containing`."""
    guards = document["guards"]
    texts = wanted.get("reasons", [])
    facts: Facts = {
        "licenseRemovals": guards["licenseRemovals"],
        "maxLicenseRemovals": guards["maxLicenseRemovals"],
        "protected": [group["displayName"] for group in guards["protected"]],
        "refused": guards["refused"],
        "reasons": [
            _containing(reason, texts[index]) if index < len(texts) else reason
            for index, reason in enumerate(guards["reasons"])
        ],
    }
    return {key: facts[key] for key in wanted}


def _user_facts(user: User, wanted: Facts, names: _Names) -> Facts:
    """The facts `wanted` asks about one user, read from the after-state."""
    facts: Facts = {}
    if "skus" in wanted:
        facts["skus"] = sorted(names.sku(a.skuId) for a in user.assignedLicenses)
    if "usageLocation" in wanted:
        facts["usageLocation"] = user.usageLocation
    if "enabledPlans" in wanted:
        held = {names.sku(a.skuId): a for a in user.assignedLicenses}
        facts["enabledPlans"] = {
            sku: names.enabled_plans(held[sku].skuId, held[sku].disabledPlans)
            if sku in held
            else None
            for sku in wanted["enabledPlans"]
        }
    if "licenseAssignmentStates" in wanted:
        facts["licenseAssignmentStates"] = sorted(
            (
                [names.sku(s.skuId), names.group(s.assignedByGroup), s.state]
                for s in user.licenseAssignmentStates
            ),
            key=lambda state: (state[0], state[1] or "", state[2]),
        )
    return facts


def _errors(tenant: Tenant, names: _Names) -> list[list[str]]:
    return sorted(
        [user.userPrincipalName, names.sku(state.skuId), state.error]
        for user in tenant.users
        for state in user.licenseAssignmentStates
        if state.state != ACTIVE or state.error != NO_ERROR
    )


def _group_result(tenant: Tenant, group: Group) -> dict[str, int]:
    """Users the group licensed fully, and users with an assignment from it that failed."""
    outcomes = []
    for user in tenant.users:
        states = [s for s in user.licenseAssignmentStates if s.assignedByGroup == group.id]
        if states:
            outcomes.append(all(s.state == ACTIVE and s.error == NO_ERROR for s in states))
    return {"succeeded": outcomes.count(True), "failed": outcomes.count(False)}


def _after_facts(plan: Plan, wanted: Facts, names: _Names) -> Facts:
    """The after-state's facts, for exactly the keys, users, SKUs and groups `wanted` names."""
    after = plan.after
    facts: Facts = {}
    if "users" in wanted:
        users = {user.userPrincipalName.lower(): user for user in after.users}
        facts["users"] = {
            upn: _user_facts(users[upn.lower()], user_wanted, names)
            if upn.lower() in users
            else "no such user after the plan"
            for upn, user_wanted in wanted["users"].items()
        }
    if "skus" in wanted:
        consumed = {sku.skuPartNumber: sku.consumedUnits for sku in after.subscribedSkus}
        facts["skus"] = {name: {"consumedUnits": consumed.get(name)} for name in wanted["skus"]}
    if "errors" in wanted:
        facts["errors"] = _errors(after, names)
    if "groupResults" in wanted:
        groups = {group.displayName: group for group in after.groups}
        facts["groupResults"] = {
            name: _group_result(after, groups[name]) if name in groups else "no such group"
            for name in wanted["groupResults"]
        }
    return facts


def _mismatches(expected: Any, actual: Any, path: str) -> list[str]:
    """Every place `actual` differs from `expected`, one line each, named by its path."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        found = []
        for key in [*expected, *(key for key in actual if key not in expected)]:
            found += _mismatches(expected.get(key), actual.get(key), f"{path}.{key}")
        return found
    if expected != actual:
        return [f"{path}:\n    expected {json.dumps(expected)}\n    actual   {json.dumps(actual)}"]
    return []


def _plan_facts(plan: Plan, expected: Facts) -> Facts:
    document = plan_document(plan)
    facts: Facts = {
        "summary": document["summary"],
        "licenseRemovals": _license_removals(document),
        "planRemovals": _plan_removals(document),
    }
    if "changes" in expected:
        facts["changes"] = _changes(document)
    if "licenseAdditions" in expected:
        facts["licenseAdditions"] = _license_additions(document)
    if "licenseRemovalReasons" in expected:
        wanted = expected["licenseRemovalReasons"]
        facts["licenseRemovalReasons"] = _license_removal_reasons(document, wanted)
    if "planRemovalsKeptBy" in expected:
        facts["planRemovalsKeptBy"] = _plan_removals_kept_by(document)
    if "temporaryRemovals" in expected:
        facts["temporaryRemovals"] = _temporary_removals(document)
    if "kept" in expected:
        facts["kept"] = _kept(document)
    if "seats" in expected:
        facts["seats"] = _seats(document, expected["seats"])
    if "warnings" in expected:
        facts["warnings"] = _warnings(document, expected["warnings"])
    if "guards" in expected:
        facts["guards"] = _guards(document, expected["guards"])
    if "after" in expected:
        facts["after"] = _after_facts(plan, expected["after"], _Names(plan))
    return facts


# --- the tests --------------------------------------------------------------------------------


def test_every_design_scenario_has_a_folder_with_a_readme() -> None:
    folders = _scenario_folders()
    assert len(folders) >= DESIGN_SCENARIOS, f"only {len(folders)} scenarios in {SCENARIOS}"
    for folder in folders:
        for part in ("README.md", "tenant.json", "expected.json", "policies"):
            assert (folder / part).exists(), f"{folder.name} has no {part}"
        assert (folder / "README.md").read_text(encoding="utf-8").strip(), f"{folder.name} README"


@pytest.mark.parametrize("name", [folder.name for folder in _scenario_folders()])
def test_scenario_tenant_reads_against_the_schema(name: str) -> None:
    tenant = _tenant(name)
    assert tenant.users, f"{name}: a tenant without users shows nothing"


@pytest.mark.parametrize("name", [folder.name for folder in _scenario_folders()])
def test_scenario_tenant_is_as_entra_settled_it(name: str) -> None:
    """Before the plan, memberships, licenses, states and seats are what Entra would show."""
    tenant = _tenant(name)
    written, settled = _licensing_state(tenant), _licensing_state(recompute(tenant))
    unsettled = [
        f"{aspect} of {key}"
        for aspect, values in written.items()
        for key, value in values.items()
        if settled[aspect].get(key) != value
    ]
    assert not unsettled, f"{name}/tenant.json is not as Entra settles it: " + ", ".join(unsettled)


def _licensing_state(tenant: Tenant) -> dict[str, Any]:
    """Memberships, users' licenses and states (as multisets), and seats, ids in lower case."""
    return {
        "members": {g.id: sorted(m.lower() for m in g.members) for g in tenant.groups},
        "assignedLicenses": {
            u.userPrincipalName: sorted(
                (a.skuId.lower(), tuple(sorted(p.lower() for p in a.disabledPlans)))
                for a in u.assignedLicenses
            )
            for u in tenant.users
        },
        "licenseAssignmentStates": {
            u.userPrincipalName: Counter(
                (
                    s.skuId.lower(),
                    tuple(sorted(p.lower() for p in s.disabledPlans)),
                    s.assignedByGroup,
                    s.state,
                    s.error,
                )
                for s in u.licenseAssignmentStates
            )
            for u in tenant.users
        },
        "consumedUnits": {s.skuPartNumber: s.consumedUnits for s in tenant.subscribedSkus},
    }


@pytest.mark.parametrize("name", _scenario_params())
def test_scenario_plan_matches_expected_facts(name: str) -> None:
    expected = _expected(name)
    actual = _plan_facts(_plan(name), expected)
    mismatches = _mismatches(expected, actual, name)
    if mismatches:
        pytest.fail("plan facts differ from expected.json:\n" + "\n".join(mismatches))
