"""An invalid membership rule is reported at its bad token's line and column in the YAML file."""

import pytest

from reconciler.policy import PolicyError, PolicyRuleError, load_policy
from reconciler.policy.schema import source_index
from tests.policy.tenant import write

HEAD = "groups:\n  - displayName: G\n"  # the rule's key is on line 3

# (id, membershipRule as written from its key on, expected line:column of 'user.departmnt')
CASES = [
    ("plain", 'membershipRule: user.department -eq "S" -or user.departmnt -eq "x"\n', "3:49"),
    (
        "double_quoted_with_escapes",
        'membershipRule: "user.department -eq \\"S\\" -or\\tuser.departmnt -eq \\x22x\\x22"\n',
        "3:53",
    ),
    (
        "single_quoted_with_doubled_quotes",
        "membershipRule: 'user.department -eq ''S'' -or user.departmnt -eq ''x'''\n",
        "3:52",
    ),
    (
        "literal_block",
        'membershipRule: |\n      user.department -eq "S" -or\n      user.departmnt -eq "x"\n',
        "5:7",
    ),
    (
        "folded_block_with_header_comment",
        'membershipRule: >-  # folded\n      user.department -eq "S"\n'
        '      -or   user.departmnt -eq "x"\n',
        "5:13",
    ),
    (
        "plain_over_two_lines",
        'membershipRule: user.department -eq "S" -or\n      user.departmnt -eq "x"\n',
        "4:7",
    ),
]


@pytest.mark.parametrize(("rule", "place"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_rule_error_points_at_the_bad_token_in_the_yaml(tmp_path, monkeypatch, rule, place):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", {"a.yaml": HEAD + "    " + rule})
    with pytest.raises(PolicyRuleError) as raised:
        load_policy("p")
    assert len(raised.value.errors) == 1
    assert str(raised.value) == (
        f"p/a.yaml:{place}: group 'G', membershipRule: unknown property 'user.departmnt' "
        "(did you mean 'department'?) [unknown-property]"
    )
    assert raised.value.rule_error.code == "unknown-property"


def test_windows_line_endings_keep_the_rule_column(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = HEAD + '    membershipRule: |\n      user.country -eq "FR" -or\n      user.x -eq 1\n'
    write(tmp_path / "p", {"a.yaml": text.replace("\n", "\r\n").encode()})
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    assert str(raised.value.location) == "p/a.yaml:5:7"


def test_error_at_the_end_of_a_rule_points_just_after_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "p", {"a.yaml": HEAD + '    membershipRule: "user.country -eq"  # x\n'})
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    assert str(raised.value) == (
        "p/a.yaml:3:38: group 'G', membershipRule: operator -eq needs a value [missing-value]"
    )


def test_every_rule_error_is_reported_with_the_others(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    text = HEAD + "    membershipRule: user.x -eq 1\n  - displayName: H\n"
    text += "    membershipRule: (user.country -eq 'FR'\n"
    write(tmp_path / "p", {"a.yaml": text})
    with pytest.raises(PolicyError) as raised:
        load_policy("p")
    assert [str(e.location) for e in raised.value.errors] == ["p/a.yaml:3:21", "p/a.yaml:5:21"]


@pytest.mark.parametrize(
    ("source", "style", "value"),
    [
        ("abc def", None, "abc def"),
        ('"a\\u0041 b"', '"', "aA b"),
        ("'it''s x'", "'", "it's x"),
    ],
)
def test_source_index_maps_every_non_space_character(source, style, value):
    for offset, char in enumerate(value):
        if not char.isspace():
            index = source_index(source, 0, len(source), style, value, offset)
            decoded = {"A": "\\u0041", "'": "''"}.get(char, char)
            assert source.startswith(decoded, index) or source[index] == char
