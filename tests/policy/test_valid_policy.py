"""A valid policy, across files, becomes the expected DesiredState."""

import tempfile
from pathlib import Path

import pytest

from reconciler.errors import Location
from reconciler.policy import (
    DesiredGroup,
    DesiredLicense,
    DesiredState,
    RetiredGroup,
    Settings,
    load_policy,
    resolve,
)
from tests.policy.tenant import (
    AAD_PREMIUM,
    EMS,
    EXCHANGE_S_ENTERPRISE,
    INTUNE_A,
    RMS_S_PREMIUM,
    SKUS,
    SPE_E5,
    TEAMS1,
    YAMMER_ENTERPRISE,
    write,
)

SALES = """\
tenant: contoso.onmicrosoft.com
settings:
  maxLicenseRemovals: 25
groups:
  - displayName: LIC-M365-E5-Sales
    id: 5D8B0F6E-1111-4222-8333-944445555666
    description: Sales staff get Microsoft 365 E5 without Viva Engage
    groupType: security
    membershipRule: user.department -eq "Sales" -and user.accountEnabled -eq true
    membershipRuleProcessingState: Paused
    licenses:
      - sku: SPE_E5
        disabledPlans: [YAMMER_ENTERPRISE]
      - sku: ems
        enabledPlans: [INTUNE_A, 41781FB2-BC02-4B7C-BD55-B576C07BB09D]
    protect: true
"""

MORE = """\
groups:
  - displayName: LIC-Teams-Assigned
    groupType: m365
    members: [alice@contoso.com, 3F2A7C1E-AAAA-4BBB-8CCC-DDDDEEEEFFFF, Alice@Contoso.com]
    licenses:
      - sku: 06ebc4ee-1bb5-47dd-8120-11324bc54e06
  - displayName: LIC-Dynamic-Default
    membershipRule: |
      user.country -eq "FR"
retired:
  - displayName: LIC-Old-E3
    id: 0a1b2c3d-0000-4000-8000-000000000001
"""


def test_a_policy_in_two_files_resolves_to_the_desired_state(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path, {"policies/sales.yaml": SALES, "policies/sub/more.yml": MORE})

    state = resolve(load_policy("policies"), SKUS)

    sales_file, more_file = "policies/sales.yaml", "policies/sub/more.yml"
    assert state == DesiredState(
        tenant="contoso.onmicrosoft.com",
        settings=Settings(maxLicenseRemovals=25),
        groups=(
            DesiredGroup(
                displayName="LIC-M365-E5-Sales",
                id="5d8b0f6e-1111-4222-8333-944445555666",
                description="Sales staff get Microsoft 365 E5 without Viva Engage",
                securityEnabled=True,
                mailEnabled=False,
                groupTypes=("DynamicMembership",),
                membershipRule='user.department -eq "Sales" -and user.accountEnabled -eq true',
                membershipRuleProcessingState="Paused",
                members=None,
                licenses=(
                    DesiredLicense(
                        SPE_E5,
                        "SPE_E5",
                        frozenset({YAMMER_ENTERPRISE}),
                        None,
                        Location(sales_file, 12, 9),
                    ),
                    DesiredLicense(
                        EMS,
                        "EMS",
                        frozenset({RMS_S_PREMIUM}),
                        frozenset({INTUNE_A, AAD_PREMIUM}),
                        Location(sales_file, 14, 9),
                    ),
                ),
                protect=True,
                location=Location(sales_file, 5, 5),
            ),
            DesiredGroup(
                displayName="LIC-Teams-Assigned",
                id=None,
                description=None,
                securityEnabled=True,
                mailEnabled=True,
                groupTypes=("Unified",),
                membershipRule=None,
                membershipRuleProcessingState=None,
                members=("alice@contoso.com", "3f2a7c1e-aaaa-4bbb-8ccc-ddddeeeeffff"),
                licenses=(
                    DesiredLicense(SPE_E5, "SPE_E5", frozenset(), None, Location(more_file, 6, 9)),
                ),
                protect=False,
                location=Location(more_file, 2, 5),
            ),
            DesiredGroup(
                displayName="LIC-Dynamic-Default",
                id=None,
                description=None,
                securityEnabled=True,
                mailEnabled=False,
                groupTypes=("DynamicMembership",),
                membershipRule='user.country -eq "FR"',
                membershipRuleProcessingState="On",
                members=None,
                licenses=(),
                protect=False,
                location=Location(more_file, 7, 5),
            ),
        ),
        retired=(
            RetiredGroup(
                "LIC-Old-E3", "0a1b2c3d-0000-4000-8000-000000000001", Location(more_file, 11, 5)
            ),
        ),
    )


LICENSED = "groups:\n  - displayName: G\n    licenses:\n"


def test_allow_list_disables_every_other_plan_of_the_sku():
    state = _state(LICENSED + "      - {sku: SPE_E5, enabledPlans: [TEAMS1]}\n")
    (license_,) = state.groups[0].licenses
    assert license_.is_allow_list
    assert license_.enabledPlans == {TEAMS1}
    assert license_.disabledPlans == {YAMMER_ENTERPRISE, EXCHANGE_S_ENTERPRISE}


def test_deny_list_disables_exactly_the_plans_named():
    text = LICENSED + "      - {sku: SPE_E5, disabledPlans: [TEAMS1]}\n"
    (license_,) = _state(text).groups[0].licenses
    assert not license_.is_allow_list
    assert license_.disabledPlans == {TEAMS1}


def test_an_empty_allow_list_disables_every_plan():
    text = LICENSED + "      - {sku: EMS, enabledPlans: []}\n"
    (license_,) = _state(text).groups[0].licenses
    assert license_.disabledPlans == {INTUNE_A, AAD_PREMIUM, RMS_S_PREMIUM}


def test_a_group_with_neither_rule_nor_members_leaves_membership_alone():
    group = _state("groups:\n  - displayName: G\n").groups[0]
    assert group.members is None and group.membershipRule is None
    assert group.groupTypes == ()


@pytest.mark.parametrize(
    "files", [{}, {"README.md": "# not policy"}, {"empty.yaml": "# nothing\n"}]
)
def test_an_empty_policy_is_valid_and_manages_nothing(tmp_path, files):
    (tmp_path / "p").mkdir()
    write(tmp_path / "p", files)
    state = resolve(load_policy(tmp_path / "p"), SKUS)
    assert state == DesiredState(None, Settings(), (), ())


def test_yaml_1_1_booleans_stay_text_so_on_is_a_processing_state():
    text = "groups:\n  - displayName: G\n    membershipRule: user.country -eq 'FR'\n"
    text += "    membershipRuleProcessingState: On\n"
    assert _state(text).groups[0].membershipRuleProcessingState == "On"


def test_files_are_merged_in_sorted_path_order_and_hidden_ones_skipped(tmp_path):
    write(
        tmp_path,
        {
            "p/b.yaml": "groups: [{displayName: B}]\n",
            "p/a/z.yml": "groups: [{displayName: AZ}]\n",
            "p/a.yaml": "groups: [{displayName: A}]\n",
            "p/.github/ci.yml": "on: push\n",
            "p/.hidden.yaml": "bad: [\n",
        },
    )
    state = resolve(load_policy(tmp_path / "p"), SKUS)
    assert [group.displayName for group in state.groups] == ["AZ", "A", "B"]


def test_a_single_file_path_is_loaded_whatever_its_name(tmp_path):
    write(tmp_path, {"policy.txt": "groups: [{displayName: G}]\n"})
    assert resolve(load_policy(tmp_path / "policy.txt"), SKUS).groups[0].displayName == "G"


def test_anchors_and_merge_keys_work_and_own_keys_win():
    text = """\
groups:
  - &base
    displayName: Base
    licenses: [{sku: EMS}]
  - <<: *base
    displayName: Copy
"""
    groups = _state(text).groups
    assert [g.displayName for g in groups] == ["Base", "Copy"]
    assert groups[1].licenses[0].skuPartNumber == "EMS"


def _state(text: str) -> DesiredState:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory, "policy.yaml")
        path.write_text(text, encoding="utf-8")
        return resolve(load_policy(path), SKUS)
