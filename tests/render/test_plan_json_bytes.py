"""plan_json writes what json.dumps(indent=2, sort_keys=True) writes, byte for byte, while most
of its containers go through the C encoder in one call."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.render.plan_json import plan_json

# text that looks like the structure the renderer writes and rewrites, or escapes
TRICKY = st.sampled_from(["}", "},\n      {", "{", "[", "]", ",\n", '"', "\\", "é", "\u2028", ""])
TEXT = st.text(max_size=8) | TRICKY
PLAIN = st.none() | st.booleans() | st.integers() | st.floats() | TEXT
RECORD = st.dictionaries(TEXT, PLAIN, min_size=1, max_size=4)
VALUES = st.recursive(
    PLAIN | RECORD,
    lambda children: (
        st.lists(children, max_size=4)
        | st.lists(RECORD, min_size=1, max_size=4)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(TEXT, children, max_size=4)
    ),
    max_leaves=25,
)


def _expected(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=True)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(VALUES)
def test_any_json_value_is_written_as_json_dumps_writes_it(value: object):
    assert plan_json(value) == _expected(value)


@pytest.mark.parametrize(
    "value",
    [
        {"impact": {"licenseRemovals": [{"a": "},\n      {", "b": 1}, {"a": None, "c": 2.5}]}},
        {"records": [{"k": 1}, {}, {"k": 2}]},  # an empty object among records
        {"records": [{"k": 1}, {"k": [1]}]},  # a record that isn't flat
        {"numbers": {2: "two", 10: "ten"}, "nested": {1.5: {"x": [True]}, 0.5: {}}},
        {"keys": {1.5: "x", 2: None, True: 0.1}, "nothing": {None: "null"}},
        {"records": [{2: "two"}, {float("inf"): 1, -1: 2}]},
        {"floats": [float("nan"), float("inf"), -0.0, 1e300]},
        [[[]], [{}], ({"t": (1, 2)},)],
        "top-level text",
        {"ü": {"ß": ["ø", {"é": "\u0000"}]}},
    ],
)
def test_edge_cases_are_written_as_json_dumps_writes_them(value: object):
    assert plan_json(value) == _expected(value)


def test_a_value_json_cant_write_is_refused_as_json_refuses_it():
    with pytest.raises(TypeError):
        plan_json({"group": {"ids": [{"id": object()}]}})
