"""`fmt`'s canonical layout: what it keeps, what it changes, what it refuses."""

import io
import os
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import FoldedScalarString, LiteralScalarString

from reconciler.policy.errors import PolicyError
from reconciler.policy.fmt import format_path, format_paths, format_text

ROOT = Path(__file__).resolve().parents[2]

CANONICAL = """\
# The sales policy.
tenant: contoso.onmicrosoft.com
settings:
  maxLicenseRemovals: 25   # a guard, aligned by hand

defaults: &e5
  sku: SPE_E5
  disabledPlans: [YAMMER_ENTERPRISE, SWAY]

groups:
  # Sales in three countries.
  - displayName: LIC-M365-E5-Sales
    description: "Sales: E5 without Viva Engage"
    membershipRule: >-
      user.department -eq "Sales" -and user.accountEnabled -eq true
      -and user.country -in ["United States", "France", "Germany"]
    licenses:
      - *e5
      - <<: *e5
        sku: EMS
        # the allow-list below stays off for new plans
        enabledPlans: ['INTUNE_A']
    protect: true

  - displayName: LIC-Notes
    membershipRule: |
      user.department -eq "Notes"
    members:
      - alice@contoso.com
"""

MESSY = (
    "\ufeff# The sales policy.   \r\n"
    "\r\n"
    "\r\n"
    "tenant:    contoso.onmicrosoft.com\r\n"
    "groups:\r\n"
    "-   displayName: LIC-M365-E5-Sales   \r\n"
    "        # about the licenses\r\n"
    "    licenses:\r\n"
    "    -   sku: SPE_E5\r\n"
    "        disabledPlans: [ YAMMER_ENTERPRISE,SWAY ]\r\n"
    "    protect: True\r\n"
    "\r\n"
    "\r\n"
    "\r\n"
    "-   displayName: LIC-Visio\r\n"
    "    description: ~\r\n"
    "    licenses:\r\n"
    "    -   sku: VISIOCLIENT\r\n"
    "            # the last item's note\r\n"
    "# the end   \r\n"
    "\r\n"
)

MESSY_FORMATTED = """\
# The sales policy.

tenant: contoso.onmicrosoft.com
groups:
  - displayName: LIC-M365-E5-Sales
    # about the licenses
    licenses:
      - sku: SPE_E5
        disabledPlans: [YAMMER_ENTERPRISE, SWAY]
    protect: True

  - displayName: LIC-Visio
    description: ~
    licenses:
      - sku: VISIOCLIENT
        # the last item's note
# the end
"""


def test_a_canonical_file_keeps_comments_key_order_quotes_anchors_and_block_scalars():
    assert format_text(CANONICAL, "p.yaml") == CANONICAL


def test_a_messy_file_is_laid_out_canonically():
    assert format_text(MESSY, "p.yaml") == MESSY_FORMATTED


def test_canonical_layout_is_a_fixed_point_for_the_messy_file():
    assert format_text(MESSY_FORMATTED, "p.yaml") == MESSY_FORMATTED


def test_four_space_indentation_becomes_two_and_comments_follow_their_lines():
    text = (
        "groups:\n"
        "    # first group\n"
        "    -   displayName: A\n"
        "        licenses:\n"
        "            # before E5\n"
        "            -   sku: E5\n"
        "                # under E5, deeper than the next line\n"
        "    -   displayName: B\n"
    )
    assert format_text(text, "p.yaml") == (
        "groups:\n"
        "  # first group\n"
        "  - displayName: A\n"
        "    licenses:\n"
        "      # before E5\n"
        "      - sku: E5\n"
        "        # under E5, deeper than the next line\n"
        "  - displayName: B\n"
    )


def test_a_comment_after_block_text_stays_out_of_the_text():
    # written deeper than the text would make it part of the rule; written at the key, it isn't
    text = (
        "groups:\n"
        "    -   displayName: A\n"
        "        membershipRule: |\n"
        '            user.department -eq "Sales"\n'
        "\n"
        "        # a note about the rule\n"
        "        protect: true\n"
    )
    formatted = format_text(text, "p.yaml")
    assert formatted == (
        "groups:\n"
        "  - displayName: A\n"
        "    membershipRule: |\n"
        '      user.department -eq "Sales"\n'
        "\n"
        "    # a note about the rule\n"
        "    protect: true\n"
    )
    rule = yaml.safe_load(formatted)["groups"][0]["membershipRule"]
    assert rule == 'user.department -eq "Sales"\n'


def test_values_keep_their_spelling_and_their_quotes():
    text = (
        "settings:\n"
        "  a: True\n"
        "  b: ~\n"
        "  c: 0x1F\n"
        "  d: 2024-01-01T10:00:00.1Z\n"
        "  e: 'On'\n"
        "  f: On\n"
        '  g: "plain would do"\n'
        "  h:\n"
        "  i: [null, 1.50]\n"
    )
    assert format_text(text, "p.yaml") == text


def test_a_long_rule_is_not_rewrapped():
    rule = " -or ".join(f'user.department -eq "Department number {n}"' for n in range(30))
    text = f"groups:\n  - displayName: A\n    membershipRule: {rule}\n"
    assert format_text(text, "p.yaml") == text


def test_text_with_trailing_spaces_inside_a_literal_block_is_kept():
    text = "settings:\n  note: |\n    two spaces after this  \n    and a tab\tinside\n"
    assert format_text(text, "p.yaml") == text


def test_a_file_of_comments_only_keeps_them_and_an_empty_file_stays_empty():
    assert format_text("  # only a comment   \n\n\n# another\n\n", "p.yaml") == (
        "# only a comment\n\n# another\n"
    )
    assert format_text("", "p.yaml") == ""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "groups:\n  - displayName: G\n   licenses: []\n",
            "p.yaml:3:4: invalid YAML: expected <block end>, but found '<block mapping start>' "
            "(while parsing a block collection at line 2)",
        ),
        (
            "groups: [\n",
            "p.yaml:2:1: invalid YAML: expected the node content, but found '<stream end>' "
            "(while parsing a flow node at line 2)",
        ),
        (
            "groups:\n\t- displayName: G\n",
            "p.yaml:2:1: invalid YAML: found character '\\t' that cannot start any token "
            "(while scanning for the next token)",
        ),
        (
            "groups:\n  - displayName: G\x01\n",
            "p.yaml:2:19: invalid YAML: control character U+0001 is not allowed",
        ),
        (
            "tenant: a\n---\ntenant: b\n",
            "p.yaml:2:1: a policy file holds one YAML document; a second one starts here",
        ),
        (
            "groups:\n  - displayName: G\n    protect: true\n    protect: false\n",
            "p.yaml:4:5: duplicate key 'protect': already given at p.yaml:3:5",
        ),
        (
            "# a list\n- displayName: G\n",
            "p.yaml:2:1: a policy file holds a mapping (tenant, settings, groups, retired), "
            "not a list",
        ),
        ("settings: *nowhere\n", "p.yaml:1:11: invalid YAML: found undefined alias 'nowhere'"),
        ("settings: &loop [*loop]\n", "p.yaml:1:18: an alias refers to itself"),
        ("settings:\n  n: !!int ten\n", "p.yaml:2:6: invalid YAML: 'ten' is not a valid !!int"),
    ],
    ids=[
        "bad_indentation",
        "unclosed_flow_list",
        "tab_indentation",
        "control_character",
        "two_documents",
        "duplicate_key",
        "top_level_list",
        "undefined_alias",
        "recursive_alias",
        "invalid_tagged_value",
    ],
)
def test_malformed_yaml_is_one_message_at_file_line_and_column(text, message):
    with pytest.raises(PolicyError) as raised:
        format_text(text, "p.yaml")
    assert str(raised.value) == message


def test_a_comment_inside_a_flow_list_is_refused_rather_than_dropped():
    text = "groups:\n  - displayName: A\n    members: [\n      alice,  # on leave\n      bob]\n"
    with pytest.raises(PolicyError) as raised:
        format_text(text, "p.yaml")
    assert str(raised.value).startswith("p.yaml:4:15: fmt would lose this comment")


def test_a_comment_ruamel_yaml_cannot_place_is_refused_at_its_line():
    text = "groups:\n  - displayName: A\n    membershipRule:   # who\n      user.x -eq 1\n\n"
    with pytest.raises(PolicyError) as raised:
        format_text(text, "p.yaml")
    assert str(raised.value) == (
        "p.yaml:3:23: fmt can't keep this comment where it is; put it on a line of its own above"
    )


def test_a_file_ruamel_yaml_would_write_wrongly_is_refused_not_written():
    # ruamel.yaml 0.18 and 0.19 write `- {}` after a comment, then a mapping, as
    # `- displayName: A protect: true`; should a release fix that, the layout must be right
    text = "groups:\n  # first\n  - {}\n  - displayName: A\n    protect: true\n"
    try:
        formatted = format_text(text, "p.yaml")
    except PolicyError as error:
        assert str(error) == (
            "p.yaml: fmt can't lay out this file without changing what it says, "
            "so it leaves it as it is"
        )
    else:
        assert formatted == text


# Documents as a policy holds them, laid out every way YAML allows, then commented at random.
_KEYS = st.sampled_from(
    ["tenant", "settings", "groups", "displayName", "membershipRule", "licenses", "sku", "id"]
)
_TEXT = st.text(
    alphabet=st.sampled_from("abcXYZ019 -_:#'\"\\@&*!|>%[]{},.?é\n"), min_size=0, max_size=24
)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    _TEXT,
    _TEXT.filter(lambda text: text.strip() == text and text).map(LiteralScalarString),
    _TEXT.filter(lambda text: text.strip() == text and text).map(FoldedScalarString),
    st.sampled_from(["On", "yes", "~", "2024-01-01", "1.50", "0x1F", "-", "a: b", "x #y"]),
)
_VALUES = st.recursive(
    _SCALARS,
    # no `{}` in a list: ruamel.yaml writes one after a comment wrongly, and fmt refuses it
    # (test_a_file_ruamel_yaml_would_write_wrongly_is_refused)
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, min_size=1, max_size=3)
    ),
    max_leaves=12,
)


@st.composite
def _policy_texts(draw: st.DrawFn) -> str:
    document = draw(st.dictionaries(_KEYS, _VALUES, min_size=1, max_size=4))
    writer = YAML(typ="rt")
    mapping, sequence, offset = draw(st.sampled_from([(2, 2, 0), (2, 4, 2), (4, 4, 0), (3, 5, 2)]))
    writer.indent(mapping=mapping, sequence=sequence, offset=offset)
    writer.width = draw(st.sampled_from([20, 80, 4096]))
    writer.default_flow_style = draw(st.sampled_from([False, None]))
    stream = io.StringIO()
    writer.dump(document, stream)
    lines = stream.getvalue().splitlines()
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(lines)))
        kind = draw(st.sampled_from(["line", "end", "blank"]))
        if kind == "line":
            lines.insert(at, " " * draw(st.integers(0, 10)) + "# note  ")
        elif kind == "end" and at < len(lines):
            lines[at] += "   # said here"
        else:
            lines.insert(at, " " * draw(st.integers(0, 3)))
    return "\n".join(lines) + "\n" * draw(st.integers(0, 3))


def _formatted_or_none(text: str) -> str | None:
    try:
        return format_text(text, "p.yaml")
    except PolicyError as error:
        # a comment dropped into the middle of a value may make the YAML invalid, or put it
        # inside [...]; fmt refusing to lay out a valid file would be a fault of fmt's
        assert "can't lay out" not in error.message, text
        assert "comment" in error.message or "invalid YAML" in error.message, error.message
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_policy_texts())
# a comment after block text whose enclosing line ends in an empty item's `- `, as deep as the
# text is once laid out: it must stay a comment, not become a line of the text
@example(
    "tenant:\n  -  \n  -  |-\n     0\n\n     0\nsettings:\n  -  \n  -    -  \n"
    "       -  |-\n          0\n        # note  "
)
def test_formatting_twice_is_formatting_once_and_the_values_stay_the_same(text):
    formatted = _formatted_or_none(text)
    if formatted is None:
        return
    assert format_text(formatted, "p.yaml") == formatted
    reader = YAML(typ="safe", pure=True)
    assert reader.load(formatted) == reader.load(text)
    assert formatted.count("#") >= text.count("# note") + text.count("# said here")
    assert not formatted.endswith("\n\n")


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")


def test_a_folder_is_walked_as_the_loader_does_skipping_the_lock_files_at_its_top(tmp_path):
    messy = "tenant:   x\n"
    _write(
        tmp_path,
        {
            "a.yaml": messy,
            "team/b.yml": "groups:\n- displayName: B\n",
            "team/skus.lock.yaml": messy,  # only the lock at the top is the lock
            "skus.lock.yaml": messy,
            "groups.lock.yaml": messy,
            ".hidden/c.yaml": messy,
            "notes.txt": messy,
            "ok.yaml": "tenant: x\n",
        },
    )
    changed = format_path(tmp_path)
    assert [file.name for file in changed] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "team" / "b.yml"),
        str(tmp_path / "team" / "skus.lock.yaml"),
    ]
    assert (tmp_path / "a.yaml").read_text() == "tenant: x\n"
    assert (tmp_path / "team" / "b.yml").read_text() == "groups:\n  - displayName: B\n"
    for untouched in ("skus.lock.yaml", "groups.lock.yaml", ".hidden/c.yaml", "notes.txt"):
        assert (tmp_path / untouched).read_text() == messy


def test_without_write_nothing_changes_and_the_files_that_would_are_returned(tmp_path):
    _write(tmp_path, {"a.yaml": "tenant:   x\n", "b.yaml": "tenant: y\n"})
    changed = format_path(tmp_path, write=False)
    assert [(file.before, file.after) for file in changed] == [("tenant:   x\n", "tenant: x\n")]
    assert (tmp_path / "a.yaml").read_text() == "tenant:   x\n"


def test_one_malformed_file_means_no_file_is_written(tmp_path):
    _write(tmp_path, {"a.yaml": "tenant:   x\n", "b.yaml": "groups: [\n"})
    with pytest.raises(PolicyError) as raised:
        format_paths([tmp_path / "a.yaml", tmp_path / "b.yaml"])
    assert str(raised.value).startswith(f"{tmp_path / 'b.yaml'}:2:1: invalid YAML")
    assert (tmp_path / "a.yaml").read_text() == "tenant:   x\n"


def test_a_rewritten_file_keeps_its_mode_and_leaves_no_temporary_file(tmp_path):
    _write(tmp_path, {"a.yaml": "tenant:   x\n"})
    os.chmod(tmp_path / "a.yaml", 0o640)
    format_path(tmp_path / "a.yaml")
    assert (tmp_path / "a.yaml").stat().st_mode & 0o777 == 0o640
    assert sorted(path.name for path in tmp_path.iterdir()) == ["a.yaml"]


def test_a_file_that_is_not_utf8_is_named_at_the_byte(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"groups:\n  - displayName: Caf\xe9\n")
    with pytest.raises(PolicyError) as raised:
        format_path(tmp_path)
    assert str(raised.value) == (
        f"{tmp_path / 'a.yaml'}:2:21: file is not UTF-8 text (byte 0xe9); save it as UTF-8"
    )


def test_a_byte_order_mark_or_windows_line_ends_count_as_a_change(tmp_path):
    (tmp_path / "a.yaml").write_bytes(b"\xef\xbb\xbftenant: x\r\n")
    assert [file.after for file in format_path(tmp_path)] == ["tenant: x\n"]
    assert (tmp_path / "a.yaml").read_bytes() == b"tenant: x\n"


def test_the_repository_policies_and_examples_are_canonical():
    assert format_paths([ROOT / "policies", ROOT / "examples"], write=False) == []
