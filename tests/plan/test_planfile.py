"""A saved plan file is read back checked, and a damaged one is refused at its line and column."""

import json

import pytest

from reconciler.errors import InputError
from reconciler.plan.build import build_plan
from reconciler.plan.document import plan_document
from reconciler.plan.planfile import read_plan_file, write_plan_file
from tests.render.test_plan_json import EVERYTHING, TENANT


@pytest.fixture
def saved(tmp_path):
    path = tmp_path / "saved.plan"
    write_plan_file(plan_document(build_plan(EVERYTHING, TENANT)), path)
    return path


def test_a_written_plan_reads_back_as_the_same_document(saved):
    assert read_plan_file(saved) == plan_document(build_plan(EVERYTHING, TENANT))


def test_a_change_missing_a_field_is_named_at_the_change_for_its_own_kind(saved):
    document = json.loads(saved.read_text())
    index = next(i for i, c in enumerate(document["changes"]) if c["action"] == "removeLicense")
    del document["changes"][index]["sku"]
    saved.write_text(json.dumps(document, indent=2))
    with pytest.raises(InputError) as raised:
        read_plan_file(saved)
    assert raised.value.message == (
        f"not a plan file: at changes[{index}]: 'sku' is a required property"
    )
    assert raised.value.location.line is not None


def test_an_unknown_action_is_named_at_the_action(saved):
    text = saved.read_text().replace('"action": "deleteGroup"', '"action": "dropGroup"')
    saved.write_text(text)
    with pytest.raises(InputError) as raised:
        read_plan_file(saved)
    assert raised.value.message.endswith(": unknown action 'dropGroup'")
    line = next(n for n, row in enumerate(text.splitlines(), 1) if '"dropGroup"' in row)
    assert raised.value.location.line == line
