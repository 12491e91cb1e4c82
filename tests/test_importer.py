"""`reconciler import`'s core: the policy it writes reads back as the tenant is, so the plan of
the same tenant has no changes; and it says what it couldn't write, rather than guess."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

from reconciler.importer import Choice, Declared, Import, ImportRefusedError, import_policy
from reconciler.model import DYNAMIC_MEMBERSHIP, UNIFIED, AssignedLicense, Group, Tenant
from reconciler.plan.build import Plan, build_plan
from reconciler.plan.changes import ChangeDisabledPlans
from reconciler.policy import LoadedPolicy, load_policy, resolve
from reconciler.providers.snapshot import read_snapshot

ROOT = Path(__file__).resolve().parent.parent
CONTOSO = ROOT / "examples" / "contoso" / "tenant.json"
SCENARIOS = ROOT / "examples" / "scenarios"
E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
EMS = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e"
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"  # YAMMER_ENTERPRISE, in SPE_E5
INTUNE_A = "c1ec4a95-1f05-45b3-a911-aa3fa01094f5"  # in EMS
AAD_PREMIUM = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"  # in EMS


def _round_trip(
    tenant: Tenant,
    folder: Path,
    choice: Choice | None = None,
    declared: tuple[Declared, ...] = (),
) -> tuple[Import, Plan, LoadedPolicy]:
    """Import into `folder` (only the new files), read it back, plan the same tenant."""
    result = import_policy(tenant, declared, choice or Choice(), pinned=False)
    folder.mkdir(parents=True, exist_ok=True)
    for file in result.files:
        (folder / file.name).write_text(file.text, encoding="utf-8")
    loaded = load_policy(folder)
    return result, build_plan(resolve(loaded, tenant.subscribedSkus), tenant), loaded


def _group(name: str, **fields) -> Group:
    number = sum(map(ord, name)) % 10_000
    return Group(f"00000000-0000-4000-8000-{number:012}", name, **fields)


def _dynamic(name: str, rule: str, **fields) -> Group:
    fields.setdefault("membershipRuleProcessingState", "On")
    return _group(name, groupTypes=(DYNAMIC_MEMBERSHIP,), membershipRule=rule, **fields)


@pytest.fixture(scope="module")
def contoso() -> Tenant:
    return read_snapshot(CONTOSO)


@pytest.fixture(scope="module")
def small(contoso: Tenant) -> Tenant:
    """Contoso's products and five of its users, unlicensed, and no groups yet."""
    users = tuple(
        replace(user, assignedLicenses=(), licenseAssignmentStates=()) for user in contoso.users[:5]
    )
    return replace(contoso, users=users, groups=())


def _with(tenant: Tenant, *groups: Group) -> Tenant:
    return replace(tenant, groups=(*tenant.groups, *groups))


def _file(result: Import, display_name: str) -> str:
    return next(file.text for file in result.files if file.displayName == display_name)


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize("allow_list", [False, True], ids=["disabledPlans", "enabledPlans"])
@pytest.mark.parametrize(
    "scenario", sorted(path.name for path in SCENARIOS.iterdir() if path.is_dir())
)
def test_every_scenario_tenant_imported_plans_no_changes(tmp_path, scenario, allow_list):
    tenant = read_snapshot(SCENARIOS / scenario / "tenant.json")
    result, plan, _ = _round_trip(tenant, tmp_path / "p", Choice(every=True, allowList=allow_list))
    licensed = {g.id for g in tenant.groups if g.assignedLicenses and g.securityEnabled}
    assert licensed <= {group.id for group in result.groups}
    assert plan.changes == ()


@pytest.mark.parametrize("allow_list", [False, True], ids=["disabledPlans", "enabledPlans"])
def test_contoso_imported_plans_no_changes(tmp_path, contoso, allow_list):
    result, plan, loaded = _round_trip(contoso, tmp_path / "p", Choice(allowList=allow_list))
    assert plan.changes == ()
    assert loaded.document["tenant"] == "contoso.onmicrosoft.com"
    # the seven licensed groups, and Finance Analysts, nested in LIC-PowerBI-Pro
    assert len(result.groups) == 8
    written = {entry["displayName"]: entry for entry in loaded.document["groups"]}
    sales = written["LIC-M365-E5-Sales"]["licenses"]
    if allow_list:
        assert "YAMMER_ENTERPRISE" not in sales[0]["enabledPlans"]
        assert len(sales[0]["enabledPlans"]) == 85  # SPE_E5's 86 plans, less one
    else:
        assert sales == [{"sku": "SPE_E5", "disabledPlans": ["YAMMER_ENTERPRISE"]}]


@pytest.fixture(scope="module")
def generated() -> Tenant:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        import bench_import
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    return bench_import.settled(bench_import.make_import_tenant(400, 160, seed=5))


@pytest.mark.parametrize("allow_list", [False, True], ids=["disabledPlans", "enabledPlans"])
def test_a_generated_tenant_of_many_kinds_of_group_imported_plans_no_changes(
    tmp_path, generated, allow_list
):
    result, plan, _ = _round_trip(
        generated, tmp_path / "p", Choice(every=True, allowList=allow_list)
    )
    assert plan.changes == ()
    kinds = {
        "paused": any(g.membershipRuleProcessingState == "Paused" for g in result.groups),
        "m365": any(UNIFIED in g.groupTypes for g in result.groups),
        "memberOf": any(d.via == "rule" for d in result.dependencies),
        "nested": any(d.via == "member" for d in result.dependencies),
        "folded": any(">-" in file.text for file in result.files),
        "quoted": any(
            "description: '" in f.text or 'description: "' in f.text for f in result.files
        ),
        "empty": any("members: []" in file.text for file in result.files),
        "same file name": any(file.name.endswith("-2.yaml") for file in result.files),
    }
    assert all(kinds.values()), kinds


# --- corner cases that could break the round trip -----------------------------------------------


def test_rules_that_need_quoting_or_folding_read_back_unchanged(tmp_path, small):
    rules = [
        '-not (user.department -eq "Sales: EMEA")',
        'user.displayName -eq "a # b" -or user.department -eq "R&D"',
        r'user.mail -match "^[a-z]+\.[a-z]+@contoso\.com$"',
        'user.department -eq "it\'s \\"quoted\\""',
        'user.city -eq "Zürich" -and user.country -eq "Schweiz"',
        " -and ".join(f'user.department -ne "Department number {n} of many"' for n in range(9)),
        'user.department -eq "Sales"\n-and user.accountEnabled -eq true',
    ]
    groups = [_dynamic(f"Rule {n}", rule) for n, rule in enumerate(rules)]
    result, plan, loaded = _round_trip(_with(small, *groups), tmp_path / "p", Choice(every=True))
    assert plan.changes == ()
    assert [g["membershipRule"] for g in loaded.document["groups"]] == rules
    assert "membershipRule: >-" in _file(result, "Rule 5")


def test_a_paused_rule_is_imported_paused(tmp_path, small):
    paused = _dynamic(
        "Paused", 'user.department -eq "Sales"', membershipRuleProcessingState="Paused"
    )
    result, plan, _ = _round_trip(_with(small, paused), tmp_path / "p", Choice(every=True))
    assert "membershipRuleProcessingState: Paused" in _file(result, "Paused")
    assert plan.changes == ()


def test_an_empty_assigned_group_is_imported_empty_and_kept_so(tmp_path, small):
    _result, plan, loaded = _round_trip(
        _with(small, _group("Empty")), tmp_path / "p", Choice(every=True)
    )
    assert loaded.document["groups"][0]["members"] == []
    assert plan.changes == ()


def test_static_members_are_written_by_user_principal_name(tmp_path, small):
    ids = tuple(user.id.upper() for user in small.users[:3])  # Graph's case isn't the policy's
    _result, plan, loaded = _round_trip(
        _with(small, _group("Static", members=ids)), tmp_path / "p", Choice(every=True)
    )
    upns = sorted((user.userPrincipalName for user in small.users[:3]), key=str.casefold)
    assert loaded.document["groups"][0]["members"] == upns
    assert plan.changes == ()


def test_members_that_are_not_users_leave_membership_alone(tmp_path, small):
    nested = _group("Nested", members=(small.users[0].id,))
    unknown = "0f0f0f0f-0000-4000-8000-000000000001"  # deleted, or a contact: not a user
    device = {"id": "0d0d0d0d-0000-4000-8000-000000000002", "displayName": "PC-1"}
    outer = _group(
        "Outer",
        members=(small.users[1].id, nested.id, unknown, device["id"]),
        assignedLicenses=(AssignedLicense(E5),),
    )
    tenant = replace(_with(small, nested, outer), devices=(device,))
    result, plan, loaded = _round_trip(tenant, tmp_path / "p")
    text = _file(result, "Outer")
    assert "\n    members:" not in text
    assert "1 nested group and 1 device and 1 other object" in text
    assert [str(d) for d in result.dependencies] == ["Outer has Nested as a member"]
    assert result.dependencies[0].outcome == "imported"
    assert "# Imported because Outer has Nested as a member." in _file(result, "Nested")
    assert "members" not in loaded.document["groups"][1]  # Outer, after Nested
    assert any("Outer: members not listed" in note for note in result.notes)
    assert plan.changes == ()


def test_member_of_sources_are_named_and_imported(tmp_path, small):
    source = _group("Source", members=(small.users[0].id,))
    reader = _dynamic(
        "Reader",
        f"user.memberOf -any (group.objectId -in ['{source.id}', "
        "'0e0e0e0e-0000-4000-8000-000000000003'])",
        assignedLicenses=(AssignedLicense(E5),),
    )
    result, plan, _ = _round_trip(_with(small, source, reader), tmp_path / "p")
    assert [(str(d), d.outcome) for d in result.dependencies] == [
        ("Reader's rule reads the members of Source", "imported"),
        (
            "Reader's rule reads the members of 0e0e0e0e-0000-4000-8000-000000000003",
            "not in the tenant",
        ),
    ]
    assert [group.displayName for group in result.groups] == ["Reader", "Source"]
    assert plan.changes == ()


def test_a_dependency_the_policy_declares_is_named_not_imported(small):
    source = _group("Source", members=(small.users[0].id,))
    reader = _dynamic(
        "Reader",
        f"user.memberOf -any (group.objectId -in ['{source.id}'])",
        assignedLicenses=(AssignedLicense(E5),),
    )
    declared = (Declared("SOURCE", None, "policies/a.yaml:2:5"),)
    result = import_policy(_with(small, source, reader), declared, Choice(), pinned=True)
    assert [group.displayName for group in result.groups] == ["Reader"]
    assert result.dependencies[0].outcome == "already declared"
    assert [(s.displayName, s.reason) for s in result.declared] == [
        ("Source", "declared by the policy at policies/a.yaml:2:5")
    ]
    assert result.tenant is None and all(f.name != "tenant.yaml" for f in result.files)


def test_a_disabled_plan_the_sku_no_longer_has_is_said_and_the_only_change(tmp_path, small):
    gone = "0a0a0a0a-0000-4000-8000-00000000000a"
    group = _group("Stale", assignedLicenses=(AssignedLicense(E5, frozenset({YAMMER, gone})),))
    result, plan, loaded = _round_trip(_with(small, group), tmp_path / "p")
    assert gone in _file(result, "Stale")  # in a comment: the policy can't name it
    assert loaded.document["groups"][0]["licenses"][0]["disabledPlans"] == ["YAMMER_ENTERPRISE"]
    assert any("no longer has" in note for note in result.notes)
    (change,) = plan.changes
    assert isinstance(change, ChangeDisabledPlans)
    assert change.before - change.after == {gone}


def test_a_group_assigning_a_sku_the_tenant_doesnt_subscribe_to_is_left_out(small):
    lost = _group(
        "Lost", assignedLicenses=(AssignedLicense("0b0b0b0b-0000-4000-8000-00000000000b"),)
    )
    result = import_policy(_with(small, lost), (), Choice(), pinned=False)
    assert result.files == ()
    (left,) = result.leftOut
    assert left.displayName == "Lost" and "subscribedSkus don't list" in left.reason


def test_a_group_that_isnt_security_enabled_is_left_out_or_refused_when_named(small):
    m365 = _group("Team", groupTypes=(UNIFIED,), securityEnabled=False, mailEnabled=True)
    source = _group("Source", members=(small.users[0].id,), assignedLicenses=(AssignedLicense(E5),))
    reader = _dynamic("Reader", f"user.memberOf -any (group.objectId -in ['{m365.id}'])")
    tenant = _with(small, m365, source, reader)
    with pytest.raises(ImportRefusedError, match="Team can't be imported: it isn't security"):
        import_policy(tenant, (), Choice(names=("team",)), pinned=False)
    result = import_policy(tenant, (), Choice(names=("Reader",)), pinned=False)
    assert [group.displayName for group in result.groups] == ["Reader"]
    assert result.dependencies[0].outcome.startswith("not imported: it isn't security-enabled")


def test_a_microsoft_365_group_is_written_as_m365(tmp_path, small):
    team = _dynamic("Team", 'user.department -eq "Sales"', mailEnabled=True)
    team = replace(team, groupTypes=(UNIFIED, DYNAMIC_MEMBERSHIP))
    result, plan, _ = _round_trip(_with(small, team), tmp_path / "p", Choice(every=True))
    assert "groupType: m365" in _file(result, "Team")
    assert plan.changes == ()


def test_two_groups_of_one_name_are_refused_naming_both(small):
    one = _group("Sales", assignedLicenses=(AssignedLicense(E5),))
    two = replace(_group("sales"), id="00000000-0000-4000-8000-00000000beef")
    with pytest.raises(ImportRefusedError) as raised:
        import_policy(_with(small, one, two), (), Choice(every=True), pinned=False)
    assert one.id in str(raised.value) and two.id in str(raised.value)
    chosen = import_policy(_with(small, one, two), (), Choice(names=(two.id,)), pinned=False)
    assert [group.id for group in chosen.groups] == [two.id]


def test_a_group_named_like_one_the_policy_declares_is_refused(small):
    other = _group("Sales", assignedLicenses=(AssignedLicense(E5),))
    declared = (Declared("SALES", "00000000-0000-4000-8000-00000000beef", "p/a.yaml:2:5"),)
    with pytest.raises(ImportRefusedError, match=r"p/a\.yaml:2:5"):
        import_policy(_with(small, other), declared, Choice(), pinned=False)


def test_descriptions_and_names_that_need_quoting_read_back_unchanged(tmp_path, small):
    texts = ["yes", "On", "123", "- a list?", "a: b # c", "two\nlines", "  spaced  ", "[x]"]
    # a line break may run through a description, never a name (policy/characters.py)
    groups = [
        _group(f"{' '.join(text.split())} {n}", description=text) for n, text in enumerate(texts)
    ]
    _result, plan, loaded = _round_trip(_with(small, *groups), tmp_path / "p", Choice(every=True))
    by_id = {g.id: g for g in groups}
    for entry in loaded.document["groups"]:
        assert entry["description"] == by_id[entry["id"]].description
        assert entry["displayName"] == by_id[entry["id"]].displayName
    assert plan.changes == ()


def test_a_group_whose_name_a_policy_refuses_is_left_out_with_the_reason(small):
    groups = [_group("two\nlines"), _group("LIC-\u202eevil"), _group("LIC-Fine")]
    result = import_policy(_with(small, *groups), (), Choice(every=True), pinned=False)
    assert sorted(s.displayName for s in result.leftOut) == ["LIC-\u202eevil", "two\nlines"]
    assert all("rename it in Entra first" in s.reason for s in result.leftOut)


def test_file_names_are_slugs_and_never_the_same(small):
    names = ["LIC Sales", "lic-sales!", "Lic  Sales", "tenant", "Ünïcödé ☃"]
    groups = [_group(name, assignedLicenses=(AssignedLicense(E5),)) for name in names]
    result = import_policy(_with(small, *groups), (), Choice(), pinned=False)
    assert sorted(file.name for file in result.files) == [
        "lic-sales-2.yaml",
        "lic-sales-3.yaml",
        "lic-sales.yaml",
        "tenant-2.yaml",  # tenant.yaml holds the pin
        "tenant.yaml",
        "unicode.yaml",
    ]


def test_the_allow_list_names_every_plan_left_on(tmp_path, small):
    group = _group("EMS", assignedLicenses=(AssignedLicense(EMS, frozenset({INTUNE_A})),))
    _result, plan, loaded = _round_trip(_with(small, group), tmp_path / "p", Choice(allowList=True))
    enabled = loaded.document["groups"][0]["licenses"][0]["enabledPlans"]
    ems = next(sku for sku in small.subscribedSkus if sku.skuId == EMS)
    assert len(enabled) == len(ems.servicePlans) - 1 and "INTUNE_A" not in enabled
    assert "AAD_PREMIUM" in enabled
    assert plan.changes == ()


def test_a_protection_the_group_lock_remembers_is_written(small):
    group = _group("Kept", assignedLicenses=(AssignedLicense(E5),))
    result = import_policy(_with(small, group), (), Choice(), pinned=False, protected=(group.id,))
    assert "protect: true" in _file(result, "Kept")


# --- which groups ------------------------------------------------------------------------------


def test_by_default_only_groups_that_assign_licenses_are_imported(small):
    tenant = _with(
        small, _group("Licensed", assignedLicenses=(AssignedLicense(E5),)), _group("Plain")
    )
    assert [g.displayName for g in import_policy(tenant, (), Choice(), False).groups] == [
        "Licensed"
    ]
    every = import_policy(tenant, (), Choice(every=True), False).groups
    assert [g.displayName for g in every] == ["Licensed", "Plain"]


def test_all_takes_every_security_enabled_group_only(contoso):
    result = import_policy(contoso, (), Choice(every=True), pinned=False)
    assert len(result.groups) == 8  # Contoso's nine groups, less the Microsoft 365 team
    assert "Contoso Engineering" not in {group.displayName for group in result.groups}


def test_an_unknown_group_name_is_refused_with_the_closest(contoso):
    with pytest.raises(ImportRefusedError, match="did you mean 'LIC-M365-E5-Sales'"):
        import_policy(contoso, (), Choice(names=("LIC-M365-E5-Sale",)), pinned=False)


def test_group_and_all_together_are_refused(contoso):
    with pytest.raises(ImportRefusedError, match="not both"):
        import_policy(contoso, (), Choice(names=("x",), every=True), pinned=False)


@pytest.mark.parametrize(
    ("state", "rule", "note"),
    [
        (None, 'user.department -eq "Sales"', "reports no membershipRuleProcessingState"),
        ("On", 'user.department -eq "Sales" ', "white space around it"),
    ],
    ids=["no processing state", "rule with a trailing space"],
)
def test_what_a_policy_cant_state_is_noted_and_the_only_change(tmp_path, small, state, rule, note):
    group = _dynamic("Odd", rule, membershipRuleProcessingState=state)
    result, plan, _ = _round_trip(_with(small, group), tmp_path / "p", Choice(every=True))
    assert any(note in text for text in result.notes)
    assert [change.displayName for change in plan.changes] == ["Odd"]
