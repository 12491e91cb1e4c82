"""A valid snapshot is read a user at a time; what that gives is what reading it whole gives."""

from __future__ import annotations

import codecs
import json
from pathlib import Path

import pytest

from reconciler.errors import InputError
from reconciler.providers.snapshot import parse_snapshot, read_snapshot, snapshot_text

DEMO = Path(__file__).resolve().parents[2] / "examples" / "contoso" / "tenant.json"


def test_the_demo_tenant_read_user_by_user_equals_the_tenant_read_whole(tmp_path):
    text = DEMO.read_text(encoding="utf-8")
    # a byte order mark sends a file the careful way, which parses it whole with json
    marked = tmp_path / "marked.json"
    marked.write_bytes(codecs.BOM_UTF8 + text.encode())
    quick, careful = read_snapshot(DEMO), read_snapshot(marked)
    assert quick == careful
    assert [u.attributes for u in quick.users] == [u.attributes for u in careful.users]
    assert snapshot_text(quick) == snapshot_text(careful)


def test_users_keep_their_properties_but_not_a_second_copy_of_their_licenses():
    tenant = read_snapshot(DEMO)
    licensed = [user for user in tenant.users if user.licenseAssignmentStates]
    assert licensed
    for user in tenant.users:
        assert "licenseAssignmentStates" not in user.attributes
        assert "assignedLicenses" not in user.attributes
        assert user.attributes["userPrincipalName"] == user.userPrincipalName


def test_equal_license_states_are_one_object_across_users():
    tenant = read_snapshot(DEMO)
    states = [s for user in tenant.users for s in user.licenseAssignmentStates]
    assert len({id(s) for s in states}) == len(set(states)) < len(states)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d["users"][1].update(usageLocation="USA"), "'USA' is not a two-letter"),
        (lambda d: d["users"][2].update(id=d["users"][0]["id"]), "duplicate id"),
        (lambda d: d.update(extra=1), "Additional properties are not allowed"),
        (lambda d: d["groups"][0].pop("displayName"), "'displayName' is a required property"),
        (lambda d: d.pop("users"), "'users' is a required property"),
    ],
)
def test_a_problem_in_any_part_is_explained_with_its_place(tmp_path, damage, message):
    document = json.loads(DEMO.read_text(encoding="utf-8"))
    damage(document)
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    with pytest.raises(InputError) as caught:
        read_snapshot(path)
    assert message in caught.value.message
    assert caught.value.location.line is not None


def test_a_count_written_as_a_whole_float_is_still_read(tmp_path):
    # msgspec refuses 2.0 as an integer, JSON Schema doesn't: the careful way reads it
    document = json.loads(DEMO.read_text(encoding="utf-8"))
    document["subscribedSkus"][0]["consumedUnits"] = 2.0
    path = tmp_path / "tenant.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert read_snapshot(path).subscribedSkus[0].skuId == document["subscribedSkus"][0]["skuId"]
    assert parse_snapshot(json.dumps(document)).users == read_snapshot(path).users


def test_a_snapshot_written_an_object_at_a_time_is_json_dumps_of_the_whole(tmp_path):
    from dataclasses import replace

    from reconciler.providers.snapshot import snapshot_document, write_snapshot

    tenant = read_snapshot(DEMO)
    odd = ({"id": "d1", "displayName": "line\nbreak", "tags": [1, {"a": []}]},)
    for variant in (tenant, replace(tenant, users=(), devices=odd)):
        path = tmp_path / "written.json"
        write_snapshot(variant, path)
        whole = json.dumps(snapshot_document(variant), indent=2, ensure_ascii=False) + "\n"
        assert path.read_text(encoding="utf-8") == whole


def test_a_groups_member_id_is_the_very_string_of_the_users_id():
    tenant = read_snapshot(DEMO)
    ids = {user.id: user.id for user in tenant.users}
    members = [m for group in tenant.groups for m in group.members if m in ids]
    assert members and all(member is ids[member] for member in members)
