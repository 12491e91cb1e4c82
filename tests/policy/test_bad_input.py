"""Each kind of bad policy gives exactly one clear message at the right file:line:column."""

import os

import pytest

from reconciler.errors import InputError
from reconciler.policy import PolicyError, load_policy, resolve
from tests.policy.tenant import SKUS, write

G = "groups:\n  - displayName: G\n"  # a group to add keys to, at line 3 column 5

# (id, files, the one message, as str(error) shows it)
CASES = [
    (
        "malformed_yaml_points_at_the_problem",
        {"a.yaml": "groups:\n  - displayName: G\n   licenses: []\n"},
        "p/a.yaml:3:4: invalid YAML: expected <block end>, but found '<block mapping start>' "
        "(while parsing a block collection at line 2)",
    ),
    (
        "unclosed_flow_list",
        {"a.yaml": "groups: [\n"},
        "p/a.yaml:2:1: invalid YAML: expected the node content, but found '<stream end>' "
        "(while parsing a flow node at line 2)",
    ),
    (
        "tab_indentation",
        {"a.yaml": "groups:\n\t- displayName: G\n"},
        "p/a.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token "
        "(while scanning for the next token)",
    ),
    (
        "control_character",
        {"a.yaml": "groups:\n  - displayName: G\x01\n"},
        "p/a.yaml:2:19: invalid YAML: control character U+0001 is not allowed",
    ),
    (
        "two_documents_in_one_file",
        {"a.yaml": "tenant: a\n---\ntenant: b\n"},
        "p/a.yaml:2:1: a policy file holds one YAML document; a second one starts here",
    ),
    (
        "file_not_utf8_points_at_the_byte",
        {"a.yaml": b"groups:\n  - displayName: Caf\xe9\n"},
        "p/a.yaml:2:21: file is not UTF-8 text (byte 0xe9); save it as UTF-8",
    ),
    (
        "top_level_is_a_list",
        {"a.yaml": "- displayName: G\n"},
        "p/a.yaml:1:1: a policy file holds a mapping (tenant, settings, groups, retired), "
        "not a list",
    ),
    (
        "duplicate_key_names_both_lines",
        {"a.yaml": G + "    protect: true\n    protect: false\n"},
        "p/a.yaml:4:5: duplicate key 'protect': already given at p/a.yaml:3:5",
    ),
    (
        "group_in_two_files_names_both_places",
        {"a.yaml": G, "b.yaml": "\ngroups:\n  - displayName: g\n"},
        "p/b.yaml:3:18: group 'g' is declared twice: first at p/a.yaml:2:18",
    ),
    (
        "group_twice_in_one_file",
        {"a.yaml": G + "  - displayName: G\n"},
        "p/a.yaml:3:18: group 'G' is declared twice: first at p/a.yaml:2:18",
    ),
    (
        "group_both_declared_and_retired",
        {"a.yaml": G + "retired:\n  - displayName: G\n"},
        "p/a.yaml:4:18: group 'G' is both declared (at p/a.yaml:2:18) and retired",
    ),
    (
        "one_id_pinned_by_two_entries",
        {
            "a.yaml": G + "    id: 5d8b0f6e-1111-4222-8333-944445555666\n",
            "b.yaml": "retired:\n  - displayName: Old\n"
            "    id: 5D8B0F6E-1111-4222-8333-944445555666\n",
        },
        "p/b.yaml:3:9: group id 5D8B0F6E-1111-4222-8333-944445555666 is already used at "
        "p/a.yaml:3:9",
    ),
    (
        "tenant_in_two_files",
        {"a.yaml": "tenant: contoso.com\n", "b.yaml": "groups: []\ntenant: fabrikam.com\n"},
        "p/b.yaml:2:1: 'tenant' is already set at p/a.yaml:1:1; set it in one file only",
    ),
    (
        "settings_in_two_files",
        {"a.yaml": "settings: {}\n", "b.yaml": "settings:\n  maxLicenseRemovals: 1\n"},
        "p/b.yaml:1:1: 'settings' is already set at p/a.yaml:1:1; set it in one file only",
    ),
    (
        "groups_not_a_list",
        {"a.yaml": "groups:\n  displayName: G\n"},
        "p/a.yaml:2:3: 'groups' must be a list, with a '- displayName: ...' entry per group",
    ),
    (
        "unknown_key_suggests_the_closest",
        {"a.yaml": G + "    membershipRul: user.country -eq 'FR'\n"},
        "p/a.yaml:3:5: group 'G': unknown key 'membershipRul' in group "
        "(did you mean 'membershipRule'?)",
    ),
    (
        "unknown_top_level_key_lists_the_known_ones",
        {"a.yaml": "policy: x\n"},
        "p/a.yaml:1:1: unknown key 'policy' in policy; "
        "expected one of: groups, retired, settings, tenant",
    ),
    (
        "unknown_key_in_license",
        {"a.yaml": G + "    licenses:\n      - sku: EMS\n        disabledPlan: [INTUNE_A]\n"},
        "p/a.yaml:5:9: group 'G', licenses[0]: unknown key 'disabledPlan' in license "
        "(did you mean 'disabledPlans'?)",
    ),
    (
        "wrong_type_boolean",
        {"a.yaml": G + "    protect: yes\n"},
        "p/a.yaml:3:14: group 'G', protect: expected true or false, found the text 'yes'",
    ),
    (
        "wrong_type_list",
        {"a.yaml": G + "    members: alice@contoso.com\n"},
        "p/a.yaml:3:14: group 'G', members: expected a list, found the text 'alice@contoso.com'",
    ),
    (
        "wrong_type_integer",
        {"a.yaml": "settings:\n  maxLicenseRemovals: 2.5\n"},
        "p/a.yaml:2:23: settings.maxLicenseRemovals: expected a whole number, found the number 2.5",
    ),
    (
        "missing_display_name",
        {"a.yaml": "groups:\n  - description: x\n"},
        "p/a.yaml:2:5: groups[0]: missing required key 'displayName'",
    ),
    (
        "bad_guid",
        {"a.yaml": G + "    id: 5d8b0f6e\n"},
        "p/a.yaml:3:9: group 'G', id: '5d8b0f6e' is not a GUID such as "
        "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
    ),
    (
        "bad_member",
        {"a.yaml": G + "    members: [alice]\n"},
        "p/a.yaml:3:15: group 'G', members[0]: 'alice' is not a user principal name "
        "(alice@contoso.com) or a user object id (GUID)",
    ),
    (
        "enum_suggests_the_right_case",
        {"a.yaml": G + "    groupType: M365\n"},
        "p/a.yaml:3:16: group 'G', groupType: 'M365' is not one of security, m365 "
        "(did you mean 'm365'?)",
    ),
    (
        "percent_above_100",
        {"a.yaml": "settings:\n  maxMembershipDropPercent: 150\n"},
        "p/a.yaml:2:29: settings.maxMembershipDropPercent: is 150; the largest allowed is 100",
    ),
    (
        "both_rule_and_members_points_at_the_second",
        {"a.yaml": G + "    membershipRule: user.country -eq 'FR'\n    members: [a@b.com]\n"},
        "p/a.yaml:4:5: group 'G': give either 'membershipRule' or 'members', not both",
    ),
    (
        "both_disabled_and_enabled_plans",
        {
            "a.yaml": G + "    licenses:\n      - sku: EMS\n      - sku: SPE_E5\n"
            "        enabledPlans: [TEAMS1]\n        disabledPlans: [YAMMER_ENTERPRISE]\n"
        },
        "p/a.yaml:7:9: group 'G', licenses[1]: give either 'disabledPlans' or 'enabledPlans', "
        "not both",
    ),
    (
        "processing_state_without_a_rule",
        {"a.yaml": G + "    membershipRuleProcessingState: Paused\n"},
        "p/a.yaml:3:5: group 'G': 'membershipRuleProcessingState' needs 'membershipRule': "
        "it applies to a dynamic group only",
    ),
    (
        "empty_value",
        {"a.yaml": G + "    description:\n"},
        "p/a.yaml:3:17: group 'G', description: expected text, found nothing (an empty value)",
    ),
    (
        "display_name_too_long",
        {"a.yaml": "groups:\n  - displayName: " + "x" * 257 + "\n"},
        f"p/a.yaml:2:18: group '{'x' * 57}...', displayName: is 257 characters long; "
        "at most 256 are allowed",
    ),
    (
        "rule_too_long_is_reported_once",
        {"a.yaml": G + "    membershipRule: " + "x" * 3073 + "\n"},
        "p/a.yaml:3:21: group 'G', membershipRule: is 3073 characters long; "
        "at most 3072 are allowed",
    ),
    (
        "key_that_is_not_text",
        {"a.yaml": G + "    1: x\n"},
        "p/a.yaml:3:5: a key must be text, not 1; quote it",
    ),
    (
        "recursive_alias",
        {"a.yaml": "groups: &a [*a]\n"},
        "p/a.yaml:1:9: an alias refers to itself",
    ),
    (
        "unsupported_tag",
        {"a.yaml": G + "    description: !secret x\n"},
        "p/a.yaml:3:18: YAML tag !secret is not supported",
    ),
    (
        "value_not_of_its_tag",
        {"a.yaml": "settings:\n  maxLicenseRemovals: !!int many\n"},
        "p/a.yaml:2:23: 'many' is not a valid !!int",
    ),
    (
        "long_value_not_of_its_tag_is_cut_short",
        {"a.yaml": "settings:\n  maxLicenseRemovals: !!int " + "x" * 100 + "\n"},
        f"p/a.yaml:2:23: '{'x' * 57}... (100 characters)' is not a valid !!int",
    ),
    (
        "number_beyond_pythons_digit_limit",
        {"a.yaml": "settings:\n  maxLicenseRemovals: " + "9" * 5000 + "\n"},
        "p/a.yaml:2:23: a number of 5,000 digits is too long",
    ),
    (
        "nested_deeper_than_the_limit",
        {"a.yaml": "groups: " + "[" * 150 + "]" * 150 + "\n"},
        "p/a.yaml:1:108: invalid YAML: nested more than 100 levels deep",
    ),
    (
        "lone_surrogate_escape",
        {"a.yaml": G + '    description: "\\ud800"\n'},
        "p/a.yaml:3:18: \\ud800 is half of a surrogate pair, alone: not a character",
    ),
    (
        "lone_surrogate_escape_in_a_key",
        {"a.yaml": G + '    "\\udfff": x\n'},
        "p/a.yaml:3:5: \\udfff is half of a surrogate pair, alone: not a character",
    ),
    (
        "escape_beyond_unicode",
        {"a.yaml": 'tenant: "\\U00110000"\n'},
        "p/a.yaml:1:12: invalid YAML: an escape names a character beyond U+10FFFF",
    ),
    (
        "file_in_utf16",
        {"a.yaml": "tenant: contoso.onmicrosoft.com\n".encode("utf-16")},
        "p/a.yaml: file is UTF-16 text; save it as UTF-8",
    ),
]


@pytest.mark.parametrize(
    ("files", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_input_gives_one_message_at_its_place(tmp_path, monkeypatch, files, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", files)
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    assert isinstance(raised.value, InputError)
    assert [str(error) for error in raised.value.errors] == [message]
    assert str(raised.value) == message


# (id, policy, the one message): names that don't exist in the tenant
NAME_CASES = [
    (
        "unknown_sku_suggests_the_closest_and_lists_the_tenants",
        G + "    licenses:\n      - sku: SPE_E6\n",
        "p/a.yaml:4:14: group 'G', licenses[0].sku: unknown SKU 'SPE_E6' "
        "(did you mean 'SPE_E5'?); the tenant has: EMS, SPE_E5",
    ),
    (
        "unknown_sku_guid",
        G + "    licenses:\n      - sku: 00000000-0000-0000-0000-000000000000\n",
        "p/a.yaml:4:14: group 'G', licenses[0].sku: unknown SKU "
        "'00000000-0000-0000-0000-000000000000'; the tenant has: EMS, SPE_E5",
    ),
    (
        "unknown_plan_suggests_the_closest",
        G
        + "    licenses:\n      - sku: SPE_E5\n        disabledPlans: [TEAMS1, YAMMER_ENTERPRIS]\n",
        "p/a.yaml:5:33: group 'G', licenses[0].disabledPlans[1]: unknown service plan "
        "'YAMMER_ENTERPRIS' in SPE_E5 (did you mean 'YAMMER_ENTERPRISE'?)",
    ),
    (
        "plan_of_another_sku_is_unknown",
        G + "    licenses:\n      - sku: EMS\n        enabledPlans:\n          - TEAMS1\n",
        "p/a.yaml:6:13: group 'G', licenses[0].enabledPlans[0]: unknown service plan "
        "'TEAMS1' in EMS",
    ),
    (
        "same_sku_twice_by_name_and_id",
        G + "    licenses:\n      - sku: EMS\n      - sku: EFCCB6F7-5641-4E0E-BD10-B4976E1BF68E\n",
        "p/a.yaml:5:14: group 'G', licenses[1].sku: EMS is already listed at p/a.yaml:4:9",
    ),
]


@pytest.mark.parametrize(
    ("text", "message"), [case[1:] for case in NAME_CASES], ids=[case[0] for case in NAME_CASES]
)
def test_unknown_names_give_one_message_with_a_suggestion(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", {"a.yaml": text})
    policy = load_policy("p")  # names are only checked against a tenant
    with pytest.raises(PolicyError) as raised:
        resolve(policy, SKUS)
    assert [str(error) for error in raised.value.errors] == [message]


def test_a_missing_policy_path_is_an_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PolicyError, match=r"^nowhere: policy path does not exist$"):
        load_policy("nowhere")


def test_every_problem_is_reported_in_file_order_the_first_raised(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = G + "    protect: 1\n  - displayName: H\n    groupTyp: m365\n"
    write(tmp_path / "p", {"b.yaml": text, "a.yaml": "tenant: [x]\n"})
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    locations = [str(error.location) for error in raised.value.errors]
    assert locations == ["p/a.yaml:1:9", "p/b.yaml:3:14", "p/b.yaml:5:5"]
    assert raised.value.location == raised.value.errors[0].location


def test_an_alias_bomb_is_refused_not_expanded(tmp_path, monkeypatch):
    monkeypatch.setattr("reconciler.policy.source.MAX_VALUES", 1000)
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for name, previous in zip("bcde", "abcd", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 10) + "]")
    write(tmp_path, {"bomb.yaml": "\n".join(lines) + "\n"})
    with pytest.raises(PolicyError, match="expands to more than 1000 values"):
        load_policy(tmp_path / "bomb.yaml")


def test_nesting_through_aliases_is_refused_at_the_depth_limit(tmp_path):
    # each alias nests the one before: shallow as written, 150 levels deep once built
    chain = "".join(f"  - &a{i} [*a{i - 1}]\n" for i in range(1, 150))
    write(tmp_path, {"a.yaml": "tenant:\n  - &a0 [x]\n" + chain})
    with pytest.raises(PolicyError) as raised:
        load_policy(tmp_path / "a.yaml")
    assert "nested more than 100 levels deep" in {error.message for error in raised.value.errors}


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    monkeypatch.setattr("reconciler.policy.source.MAX_FILE_SIZE", 100)
    write(tmp_path, {"a.yaml": "tenant: x\n" + "#" * 100 + "\n"})
    with pytest.raises(PolicyError) as raised:
        load_policy(tmp_path / "a.yaml")
    assert raised.value.message == (
        "won't read it: it is larger than 100 bytes, the limit for a policy file"
    )


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_in_the_policy_folder_is_refused_without_waiting_for_a_writer(tmp_path):
    write(tmp_path / "p", {"a.yaml": G})
    os.mkfifo(tmp_path / "p" / "b.yaml")  # opening it to read would block until written to
    with pytest.raises(PolicyError) as raised:
        load_policy(tmp_path / "p")
    assert str(raised.value) == (
        f"{tmp_path / 'p' / 'b.yaml'}: won't read it: it is a FIFO, not a regular file"
    )
