"""Reading and writing snapshot files: the model they give, round trips, and bad input."""

import json
from pathlib import Path

import pytest

from reconciler.errors import InputError
from reconciler.model import AssignedLicense, LicenseAssignmentState
from reconciler.providers.snapshot import (
    format_path,
    parse_snapshot,
    read_snapshot,
    snapshot_text,
    write_snapshot,
)

from .conftest import CONTOSO

E5 = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
YAMMER = "7547a3fe-08ee-4ccb-b430-5077c5041653"
TEAMS = "57ff2da0-773e-42df-b2af-ffb7a2317929"
GROUP = "11111111-2222-4333-8444-555555555555"

# a small snapshot in Graph's shape; the damage tests edit its text, so keep its layout
SMALL = """{
  "formatVersion": 1,
  "organization": {
    "id": "9f0c1e52-7a4d-4b7e-9a43-0c8f7e1d2b3a",
    "displayName": "Fabrikam",
    "countryLetterCode": "GB",
    "verifiedDomains": [
      {"name": "fabrikam.com", "isInitial": false, "isDefault": true},
      {"name": "fabrikam.onmicrosoft.com", "isInitial": true, "isDefault": false}
    ]
  },
  "subscribedSkus": [
    {
      "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
      "skuPartNumber": "SPE_E5",
      "servicePlans": [
        {
          "servicePlanId": "7547a3fe-08ee-4ccb-b430-5077c5041653",
          "servicePlanName": "YAMMER_ENTERPRISE"
        },
        {
          "servicePlanId": "57ff2da0-773e-42df-b2af-ffb7a2317929",
          "servicePlanName": "TEAMS1"
        }
      ],
      "prepaidUnits": {"enabled": 5, "suspended": 0, "warning": 0, "lockedOut": 0},
      "consumedUnits": 1
    }
  ],
  "users": [
    {
      "id": "a1",
      "userPrincipalName": "ann@fabrikam.com",
      "department": "Sales",
      "manager": {"id": "b2"},
      "accountEnabled": true,
      "assignedLicenses": [
        {"skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "disabledPlans": []}
      ],
      "licenseAssignmentStates": [
        {
          "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
          "disabledPlans": [],
          "assignedByGroup": null,
          "state": "Active",
          "error": "None"
        },
        {
          "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
          "disabledPlans": ["7547a3fe-08ee-4ccb-b430-5077c5041653"],
          "assignedByGroup": "11111111-2222-4333-8444-555555555555",
          "state": "Active",
          "error": null
        }
      ]
    },
    {
      "id": "b2",
      "userPrincipalName": "bob@fabrikam.com"
    }
  ],
  "groups": [
    {
      "id": "11111111-2222-4333-8444-555555555555",
      "displayName": "LIC-E5",
      "groupTypes": [],
      "assignedLicenses": [
        {
          "skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06",
          "disabledPlans": ["7547a3fe-08ee-4ccb-b430-5077c5041653"]
        }
      ],
      "members": ["a1"]
    }
  ],
  "devices": [{"id": "d1", "displayName": "LAPTOP-1"}]
}
"""


def write(tmp_path: Path, text: str, name: str = "tenant.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def damaged(old: str, new: str) -> str:
    assert SMALL.count(old) == 1, old
    return SMALL.replace(old, new)


def position_of(text: str, needle: str) -> tuple[int, int]:
    """1-based line and column where `needle` starts in `text`."""
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - text.rfind("\n", 0, offset)


def test_snapshot_reads_into_the_model(tmp_path):
    tenant = read_snapshot(write(tmp_path, SMALL))
    assert tenant.organization.verifiedDomains == ("fabrikam.onmicrosoft.com", "fabrikam.com")
    assert tenant.subscribedSkus[0].servicePlans[1].servicePlanName == "TEAMS1"
    assert tenant.subscribedSkus[0].prepaidUnits.enabled == 5
    ann, bob = tenant.users
    assert ann.assignedLicenses == (AssignedLicense(E5, frozenset()),)
    assert ann.licenseAssignmentStates[1] == LicenseAssignmentState(
        E5, frozenset({YAMMER}), assignedByGroup=GROUP, error="None"
    )
    assert ann.attributes["department"] == "Sales"
    assert ann.attributes["manager"] == {"id": "b2"}
    assert bob.accountEnabled is None  # not in the file: unknown, not assumed enabled
    assert tenant.groups[0].members == ("a1",)
    assert tenant.devices == ({"id": "d1", "displayName": "LAPTOP-1"},)


def test_a_file_starting_with_a_byte_order_mark_is_read(tmp_path):
    path = tmp_path / "bom.json"
    path.write_text(SMALL, encoding="utf-8-sig")
    assert read_snapshot(path).organization.displayName == "Fabrikam"


@pytest.mark.parametrize(
    "source",
    [SMALL, (CONTOSO / "tenant.json").read_text(encoding="utf-8")],
    ids=["small", "contoso"],
)
def test_read_write_read_gives_an_equal_tenant(tmp_path, source):
    first = read_snapshot(write(tmp_path, source))
    out = tmp_path / "out.json"
    write_snapshot(first, out)
    second = read_snapshot(out)
    assert second == first
    for before, after in zip(first.users, second.users, strict=True):
        # every Graph property survives; the license lists are written from the model
        graph = before.attributes.items()
        kept = {k: v for k, v in graph if not k.startswith(("assigned", "license"))}
        assert kept.items() <= dict(after.attributes).items()


def test_written_snapshot_is_deterministic_indented_and_ends_with_a_newline(tmp_path):
    tenant = read_snapshot(write(tmp_path, SMALL))
    write_snapshot(tenant, tmp_path / "a.json")
    write_snapshot(tenant, tmp_path / "b.json")
    text = (tmp_path / "a.json").read_text(encoding="utf-8")
    assert text == (tmp_path / "b.json").read_text(encoding="utf-8")
    assert text.endswith("}\n")
    assert text.startswith('{\n  "formatVersion": 1,\n  "organization": {\n    "id"')


def test_writing_the_contoso_tenant_gives_back_the_committed_bytes(contoso):
    committed = (CONTOSO / "tenant.json").read_text(encoding="utf-8")
    assert snapshot_text(contoso) == committed


def test_written_snapshot_is_graph_shaped(tmp_path):
    document = json.loads(snapshot_text(read_snapshot(write(tmp_path, SMALL))))
    ann = document["users"][0]
    assert list(ann)[:2] == ["id", "userPrincipalName"]
    assert ann["licenseAssignmentStates"][0]["assignedByGroup"] is None
    assert ann["licenseAssignmentStates"][1]["error"] == "None"
    assert ann["manager"] == {"id": "b2"}
    domains = document["organization"]["verifiedDomains"]
    assert [(d["name"], d["isInitial"], d["isDefault"]) for d in domains] == [
        ("fabrikam.onmicrosoft.com", True, False),
        ("fabrikam.com", False, True),
    ]


def test_writing_to_a_missing_folder_is_an_input_error(tmp_path):
    tenant = read_snapshot(write(tmp_path, SMALL))
    with pytest.raises(InputError, match="can't write file"):
        write_snapshot(tenant, tmp_path / "missing" / "tenant.json")


def test_a_missing_file_is_an_input_error_naming_it(tmp_path):
    with pytest.raises(InputError, match="can't read file") as caught:
        read_snapshot(tmp_path / "nope.json")
    assert caught.value.location.file.endswith("nope.json")


def test_bad_json_is_located_at_the_fault(tmp_path):
    text = damaged('"consumedUnits": 1\n    }', '"consumedUnits": 1,\n    }')
    path = write(tmp_path, text)
    with pytest.raises(InputError, match="invalid JSON") as caught:
        read_snapshot(path)
    # after a trailing comma json expects another name: the fault is the closing brace
    line, column = position_of(text, '}\n  ],\n  "users"')
    assert str(caught.value.location) == f"{path}:{line}:{column}"


@pytest.mark.parametrize(
    ("old", "new", "needle", "message"),
    [
        (
            '"accountEnabled": true,',
            '"accountEnabled": "yes",',
            '"yes"',
            "users[0].accountEnabled: 'yes' is not of type 'boolean', 'null'",
        ),
        (
            '"id": "b2",\n      ',
            "",
            '{\n      "userPrincipalName": "bob',
            "users[1]: 'id' is a required property",
        ),
        (
            '"skuId": "06ebc4ee-1bb5-47dd-8120-11324bc54e06", "disabledPlans": []}\n',
            '"skuId": "E5", "disabledPlans": []}\n',
            '"E5"',
            "users[0].assignedLicenses[0].skuId: 'E5' is not a GUID",
        ),
        (
            '"members": ["a1"]',
            '"members": [{"id": "a1"}]',
            '{"id": "a1"}',
            "groups[0].members[0]: {'id': 'a1'} is not of type 'string'",
        ),
        (
            '"formatVersion": 1',
            '"formatVersion": 2',
            "2,",
            "formatVersion: 2 is not supported; this reconciler reads 1",
        ),
        (
            '"id": "b2",',
            '"id": "a1",',
            '"a1",\n      "userPrincipalName": "bob',
            "users[1].id: duplicate id 'a1' (also users[0])",
        ),
    ],
    ids=["wrong type", "missing id", "not a guid", "member not an id", "version", "duplicate"],
)
def test_a_damaged_snapshot_gives_one_error_with_its_json_path_line_and_column(
    tmp_path, old, new, needle, message
):
    text = damaged(old, new)
    path = write(tmp_path, text)
    with pytest.raises(InputError) as caught:
        read_snapshot(path)
    line, column = position_of(text, needle)
    assert caught.value.message == message
    assert str(caught.value) == f"{path}:{line}:{column}: {message}"


def test_a_document_that_is_not_an_object_is_reported_at_its_start():
    with pytest.raises(InputError) as caught:
        parse_snapshot("\n  [1, 2]\n", "t.json")
    assert str(caught.value) == "t.json:2:3: snapshot: [1, 2] is not of type 'object'"


def test_with_duplicate_keys_the_error_points_at_the_value_json_keeps():
    # json.loads keeps the last of two equal keys; the location must be that one's
    text = damaged('"accountEnabled": true,', '"accountEnabled": true, "accountEnabled": 7,')
    with pytest.raises(InputError) as caught:
        parse_snapshot(text, "t.json")
    assert (caught.value.location.line, caught.value.location.column) == position_of(text, "7,")


def test_json_paths_read_as_in_javascript():
    assert format_path(["users", 12, "assignedLicenses", 0, "skuId"]) == (
        "users[12].assignedLicenses[0].skuId"
    )
    assert format_path([]) == "snapshot"
    assert format_path(["users", 0, "odd key"]) == 'users[0]["odd key"]'
