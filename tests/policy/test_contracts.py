"""The schema file, the example policies and the public names are what the docs promise."""

from pathlib import Path

from jsonschema import Draft202012Validator

import reconciler.policy as policy
from reconciler.policy import load_policy, resolve
from reconciler.policy.schema import policy_schema
from tests.policy.tenant import SKUS

ROOT = Path(__file__).resolve().parents[2]


def test_the_schema_is_valid_json_schema_2020_12():
    schema = policy_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_the_example_policy_loads_offline_and_resolves():
    loaded = load_policy(ROOT / "examples" / "policies" / "contoso")
    state = resolve(loaded, SKUS)
    assert state.tenant == "contoso.onmicrosoft.com"
    assert [group.displayName for group in state.groups] == ["LIC-M365-E5-Sales", "LIC-E5-Pilot"]
    assert [group.displayName for group in state.retired] == ["LIC-Old-E3"]


def test_every_public_name_is_listed_in_all_and_importable():
    public = {
        name
        for name, value in vars(policy).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("reconciler.")
    }
    assert public <= set(policy.__all__)
    for name in policy.__all__:
        assert hasattr(policy, name), name
