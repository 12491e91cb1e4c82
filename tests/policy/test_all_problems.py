"""One run reports every problem of every file: reading, schema, rules and names together."""

import pytest

from reconciler.model import Group, Organization, Tenant, User
from reconciler.policy import PolicyError, load_policy, resolve
from tests.policy.tenant import SKUS, write

G = "groups:\n  - displayName: G\n"

# one problem of each stage, each in a file of its own
FILES = {
    "a.yaml": "groups:\n  - displayName: A\n   licenses: []\n",  # not YAML
    "b.yaml": "groups:\n  - displayName: B\n    protect: yes\n",  # the schema
    "c.yaml": "groups:\n  - displayName: C\n    membershipRule: user.country -eq\n",  # a rule
    "d.yaml": "groups:\n  - displayName: D\n    licenses:\n      - sku: SPE_E6\n",  # a name
}

OLD = "aaaaaaaa-0000-4000-8000-000000000001"
SALES = "aaaaaaaa-0000-4000-8000-000000000002"
TENANT = Tenant(
    Organization("tenant-id", "Contoso", verifiedDomains=("contoso.com",)),
    SKUS,
    users=(User("ana-id", "ana@contoso.com"), User("ben-id", "ben@contoso.com")),
    groups=(Group(OLD, "LIC-Old-E3"), Group(SALES, "LIC-Sales")),
)


def _problems(error: PolicyError) -> list[str]:
    return [str(problem) for problem in error.errors]


def _resolve_problems(tmp_path, monkeypatch, files: dict[str, str]) -> list[str]:
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", files)
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy("p", keep_going=True), SKUS, tenant=TENANT)
    return _problems(raised.value)


def test_a_file_that_is_not_yaml_hides_no_problem_of_the_other_files(tmp_path, monkeypatch):
    problems = _resolve_problems(tmp_path, monkeypatch, FILES)
    assert [problem.split(": ")[0] for problem in problems] == [
        "p/a.yaml:3:4",
        "p/b.yaml:3:14",
        "p/c.yaml:3:37",
        "p/d.yaml:4:14",
    ]
    assert problems[0].startswith("p/a.yaml:3:4: invalid YAML: expected <block end>")
    assert (
        problems[1]
        == "p/b.yaml:3:14: group 'B', protect: expected true or false, found the text 'yes'"
    )
    assert problems[2] == (
        "p/c.yaml:3:37: group 'C', membershipRule: operator -eq needs a value [missing-value]"
    )
    assert problems[3].startswith("p/d.yaml:4:14: group 'D', licenses[0].sku: unknown SKU 'SPE_E6'")


def test_without_keep_going_loading_raises_every_offline_problem(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", FILES)
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    locations = [str(problem.location) for problem in raised.value.errors]
    assert locations == ["p/a.yaml:3:4", "p/b.yaml:3:14", "p/c.yaml:3:37"]
    assert raised.value is raised.value.errors[0]


def test_problems_are_sorted_by_file_component_by_component_then_position(tmp_path, monkeypatch):
    files = {
        "z.yaml": "tenant: [x]\n",
        "a.yaml": G + "    protect: 1\n    groupTyp: m365\n",
        "a/b.yaml": "settings: 1\n",
    }
    problems = _resolve_problems(tmp_path, monkeypatch, files)
    locations = [problem.split(": ")[0] for problem in problems]
    assert locations == ["p/a/b.yaml:1:11", "p/a.yaml:3:14", "p/a.yaml:4:5", "p/z.yaml:1:9"]


def test_a_value_a_reading_error_left_empty_is_not_reported_again(tmp_path, monkeypatch):
    # the unsupported tag leaves the description empty: the schema doesn't call it missing text
    text = G + "    description: !secret x\n    protect: yes\n    protect: no\n"
    problems = _resolve_problems(tmp_path, monkeypatch, {"a.yaml": text})
    assert problems == [
        "p/a.yaml:3:18: YAML tag !secret is not supported",
        "p/a.yaml:5:5: duplicate key 'protect': already given at p/a.yaml:4:5",
        "p/a.yaml:5:14: group 'G', protect: expected true or false, found the text 'no'",
    ]


def test_names_are_checked_where_the_schema_found_nothing(tmp_path, monkeypatch):
    text = (
        "groups:\n"
        "  - displayName: G\n"
        "    protect: yes\n"  # a problem in the group: its licenses are still checked
        "    licenses:\n"
        "      - sku: SPE_E6\n"
        "      - sku: EMS_E9\n"  # a problem in this license: its names are not looked up
        "        disabledPlan: [X]\n"
    )
    problems = _resolve_problems(tmp_path, monkeypatch, {"a.yaml": text})
    assert [problem.split(": ")[0] for problem in problems] == [
        "p/a.yaml:3:14",
        "p/a.yaml:5:14",
        "p/a.yaml:7:9",
    ]
    assert "unknown SKU 'SPE_E6'" in problems[1]
    assert not any("EMS_E9" in problem for problem in problems)


def test_a_group_missing_its_display_name_still_has_its_names_looked_up(tmp_path, monkeypatch):
    text = "groups:\n  - licenses:\n      - sku: SPE_E6\n    members: [bne@contoso.com]\n"
    problems = _resolve_problems(tmp_path, monkeypatch, {"a.yaml": text})
    assert [problem.split(": ", 2)[1] for problem in problems] == [
        "groups[0]",
        "groups[0], licenses[0].sku",
        "groups[0], members[0]",
    ]
    assert problems[0] == "p/a.yaml:2:5: groups[0]: missing required key 'displayName'"


def test_an_unreadable_lock_is_reported_with_the_policys_problems(tmp_path, monkeypatch):
    files = {"a.yaml": G + "    protect: yes\n", "skus.lock.yaml": "formatVersion: [\n"}
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", files)
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    assert [str(problem.location) for problem in raised.value.errors] == [
        "p/a.yaml:3:14",
        "p/skus.lock.yaml:2:1",
    ]


def test_members_and_pinned_ids_the_tenant_lacks_are_reported_together(tmp_path, monkeypatch):
    text = (
        G + "    members: [ana@contoso.com, bne@contoso.com]\n"
        "  - displayName: H\n"
        "    id: aaaaaaaa-0000-4000-8000-00000000000f\n"
    )
    problems = _resolve_problems(tmp_path, monkeypatch, {"a.yaml": text})
    assert problems == [
        "p/a.yaml:3:32: group 'G', members[1]: no user or group 'bne@contoso.com' in the tenant "
        "(did you mean 'ben@contoso.com'?)",
        "p/a.yaml:5:9: group 'H', id: the tenant has no group with id "
        "aaaaaaaa-0000-4000-8000-00000000000f",
    ]


# --- retired groups ----------------------------------------------------------------------------


def _retired(tmp_path, monkeypatch, retired: str, groups: str = "", tenant: Tenant = TENANT):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", {"a.yaml": f"{groups}retired:\n{retired}"})
    return resolve(load_policy("p"), SKUS, tenant=tenant)


def test_a_retired_name_close_to_a_tenant_group_is_an_error_with_a_suggestion(
    tmp_path, monkeypatch
):
    with pytest.raises(PolicyError) as raised:
        _retired(tmp_path, monkeypatch, "  - displayName: LIC-Old-E5\n")
    assert _problems(raised.value) == [
        "p/a.yaml:2:18: retired group 'LIC-Old-E5': the tenant has no group of that name "
        "(did you mean 'LIC-Old-E3'?); if it was deleted already, remove this entry"
    ]


def test_without_a_group_lock_a_retired_name_like_no_tenant_group_is_taken_as_deleted(
    tmp_path, monkeypatch
):
    desired = _retired(tmp_path, monkeypatch, "  - displayName: Finance Analysts\n")
    assert [item.displayName for item in desired.retired] == ["Finance Analysts"]


def test_with_a_group_lock_a_retired_name_it_never_saw_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    files = {
        "a.yaml": "retired:\n  - displayName: Finance Analysts\n",
        "groups.lock.yaml": "formatVersion: 1\ngroups: []\n",
    }
    write(tmp_path / "p", files)
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy("p"), SKUS, tenant=TENANT)
    assert _problems(raised.value) == [
        "p/a.yaml:2:18: retired group 'Finance Analysts': the tenant has no group of that name; "
        "if it was deleted already, remove this entry"
    ]
    # and its suggestion is the closest name, however far, never one the policy declares
    files["a.yaml"] = "groups:\n  - displayName: LIC-Sales\nretired:\n  - displayName: LIC-Sale\n"
    write(tmp_path / "p", files)
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy("p"), SKUS, tenant=TENANT)
    assert _problems(raised.value) == [
        "p/a.yaml:4:18: retired group 'LIC-Sale': the tenant has no group of that name "
        "(did you mean 'LIC-Old-E3'?); if it was deleted already, remove this entry"
    ]


def test_a_suggestion_never_names_a_group_the_policy_declares(tmp_path, monkeypatch):
    # LIC-Sales is declared: retiring it can't be what was meant
    desired = _retired(
        tmp_path, monkeypatch, "  - displayName: LIC-Sale\n", G.replace(": G", ": LIC-Sales")
    )
    assert [item.displayName for item in desired.retired] == ["LIC-Sale"]


def _seen_retired(name: str, group_id: str) -> str:
    """A group lock that saw `name` retired with `group_id`."""
    return f"formatVersion: 1\ngroups: []\nretired:\n  - displayName: {name}\n    id: {group_id}\n"


def test_a_retired_group_the_group_lock_saw_and_the_tenant_no_longer_has_is_done(
    tmp_path, monkeypatch
):
    gone = "aaaaaaaa-0000-4000-8000-00000000000f"
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "p",
        {
            "a.yaml": "retired:\n  - displayName: Finance Analysts\n",
            "groups.lock.yaml": _seen_retired("Finance Analysts", gone),
        },
    )
    desired = resolve(load_policy("p"), SKUS, tenant=TENANT)
    assert [item.displayName for item in desired.retired] == ["Finance Analysts"]


def test_a_namesake_created_after_the_retired_group_was_deleted_is_an_error_to_pin(
    tmp_path, monkeypatch
):
    gone = "aaaaaaaa-0000-4000-8000-00000000000f"
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "p",
        {
            "a.yaml": "retired:\n  - displayName: LIC-Old-E3\n",
            "groups.lock.yaml": _seen_retired("LIC-Old-E3", gone),
        },
    )
    with pytest.raises(PolicyError) as raised:
        resolve(load_policy("p"), SKUS, tenant=TENANT)
    assert _problems(raised.value) == [
        f"p/a.yaml:2:18: retired group 'LIC-Old-E3': groups.lock.yaml saw this group with id "
        f"{gone}, which the tenant no longer has, but the tenant has another group "
        f"'LIC-Old-E3' with id {OLD}: pin that id to retire it too, or remove this entry"
    ]


def test_a_retired_group_the_group_lock_saw_is_found_by_that_id_when_renamed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(
        tmp_path / "p",
        {
            "a.yaml": "retired:\n  - displayName: LIC-Old\n",
            "groups.lock.yaml": _seen_retired("LIC-Old", OLD),
        },
    )
    assert len(resolve(load_policy("p"), SKUS, tenant=TENANT).retired) == 1


def test_a_retired_pin_to_a_group_of_another_name_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(PolicyError) as raised:
        _retired(tmp_path, monkeypatch, f"  - displayName: LIC-Old\n    id: {SALES}\n")
    assert _problems(raised.value) == [
        f"p/a.yaml:2:18: retired group 'LIC-Old': id {SALES} is the tenant's group 'LIC-Sales'; "
        "to retire (delete) it, write its displayName as the tenant has it"
    ]


def test_a_retired_pin_agreeing_with_the_name_ignoring_case_is_fine(tmp_path, monkeypatch):
    desired = _retired(tmp_path, monkeypatch, f"  - displayName: lic-old-e3\n    id: {OLD}\n")
    assert [(item.displayName, item.id) for item in desired.retired] == [("lic-old-e3", OLD)]


def test_a_retired_pin_to_a_deleted_group_is_taken_as_done(tmp_path, monkeypatch):
    gone = "aaaaaaaa-0000-4000-8000-00000000000f"
    desired = _retired(tmp_path, monkeypatch, f"  - displayName: LIC-Gone\n    id: {gone}\n")
    assert [item.id for item in desired.retired] == [gone]


def test_a_retired_pin_to_a_deleted_group_whose_name_lives_on_is_an_error(tmp_path, monkeypatch):
    gone = "aaaaaaaa-0000-4000-8000-00000000000f"
    with pytest.raises(PolicyError) as raised:
        _retired(tmp_path, monkeypatch, f"  - displayName: LIC-Old-E3\n    id: {gone}\n")
    assert _problems(raised.value) == [
        f"p/a.yaml:3:9: retired group 'LIC-Old-E3': the tenant has no group with id {gone}, but "
        f"has a group 'LIC-Old-E3' with id {OLD}: pin that id, or remove this entry if the "
        "group is gone"
    ]


def test_a_retired_name_two_tenant_groups_share_is_an_error(tmp_path, monkeypatch):
    twins = Tenant(
        TENANT.organization, SKUS, groups=(*TENANT.groups, Group("twin-id", "lic-old-e3"))
    )
    with pytest.raises(PolicyError) as raised:
        _retired(tmp_path, monkeypatch, "  - displayName: LIC-Old-E3\n", tenant=twins)
    assert _problems(raised.value) == [
        "p/a.yaml:2:18: retired group 'LIC-Old-E3': the tenant has 2 groups of that name; "
        "pin the one to retire with its id"
    ]


def test_a_retired_group_that_a_declared_entry_pins_is_an_error(tmp_path, monkeypatch):
    declared = f"groups:\n  - displayName: LIC-New\n    id: {OLD}\n"
    with pytest.raises(PolicyError) as raised:
        _retired(tmp_path, monkeypatch, "  - displayName: LIC-Old-E3\n", declared)
    assert _problems(raised.value) == [
        "p/a.yaml:5:18: retired group 'LIC-Old-E3': the tenant's group LIC-Old-E3 is declared "
        "at p/a.yaml:2:5 by its id; it can't be retired too"
    ]


def test_retired_entries_are_not_looked_up_without_a_tenant(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", {"a.yaml": "retired:\n  - displayName: LIC-Old-E5\n"})
    assert len(resolve(load_policy("p"), SKUS).retired) == 1


def test_a_retired_group_renamed_in_the_tenant_is_found_by_the_id_the_group_lock_recorded(
    tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    locked = f"formatVersion: 1\ngroups:\n  - displayName: LIC-Old-E\n    id: {OLD}\n"
    write(tmp_path / "p", {"a.yaml": "retired:\n  - displayName: LIC-Old-E\n"})
    # without the lock, a typo of LIC-Old-E3 ...
    with pytest.raises(PolicyError, match="did you mean 'LIC-Old-E3'"):
        resolve(load_policy("p"), SKUS, tenant=TENANT)
    # ... with it, the group it recorded, renamed in the tenant since
    write(tmp_path / "p", {"groups.lock.yaml": locked})
    assert len(resolve(load_policy("p"), SKUS, tenant=TENANT).retired) == 1
