"""The compiled check that spares jsonschema on valid files: its "yes" is always jsonschema's."""

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from reconciler.jsonschemas import compile_check, load_schema
from reconciler.providers.snapshot import SCHEMA_NAME, snapshot_document

from .test_snapshot_files import SMALL

SCHEMA = load_schema(SCHEMA_NAME)
VALUES = [None, True, False, 0, 1, -1, 2.0, 1.5, "", "x", "US", "Active", "None", [], {}, ["a1"],
          {"id": "x"}, "06ebc4ee-1bb5-47dd-8120-11324bc54e06"]  # fmt: skip


def paths(node, prefix=()):
    """Every path into a JSON document, the document's own included."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def replaced(document, path, value):
    copied = copy.deepcopy(document)
    if not path:
        return value
    parent = copied
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = value
    return copied


def removed(document, path):
    copied = copy.deepcopy(document)
    parent = copied
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return copied


def variants():
    document = json.loads(SMALL)
    yield document
    for path in paths(document):
        for value in VALUES:
            yield replaced(document, path, value)
        if path and isinstance(path[-1], str):
            yield removed(document, path)
            yield replaced(document, (*path[:-1], "extra"), 1)


def whole_floats(document):
    return [value for value in _values(document) if isinstance(value, float) and value.is_integer()]


def _values(node):
    if isinstance(node, dict):
        for value in node.values():
            yield from _values(value)
    elif isinstance(node, list):
        for value in node:
            yield from _values(value)
    else:
        yield node


def test_compiled_check_never_accepts_what_jsonschema_refuses_on_every_single_damage():
    check, validator = compile_check(SCHEMA), Draft202012Validator(SCHEMA)
    wrongly_accepted = [d for d in variants() if check(d) and not validator.is_valid(d)]
    assert wrongly_accepted == []


def test_compiled_check_refuses_a_valid_document_only_for_a_count_written_as_a_float():
    # JSON Schema takes 2.0 as an integer, msgspec doesn't: jsonschema then has the last word
    check, validator = compile_check(SCHEMA), Draft202012Validator(SCHEMA)
    refused = [d for d in variants() if validator.is_valid(d) and not check(d)]
    assert refused and all(whole_floats(document) for document in refused)


def test_compiled_check_accepts_the_demo_tenant(contoso):
    assert compile_check(SCHEMA)(snapshot_document(contoso))


def test_compiled_check_refuses_a_keyword_it_does_not_know():
    with pytest.raises(ValueError, match="oneOf"):
        compile_check({"oneOf": [{"type": "string"}]})


def test_compiled_check_tells_true_from_one():
    check = compile_check({"const": 1})
    assert check(1)
    assert not check(True)
    assert not compile_check({"type": "integer"})(False)
