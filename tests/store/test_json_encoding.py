"""The stored JSON columns: the optional orjson path stores what the json module path stores."""

from __future__ import annotations

import dataclasses
import datetime
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentel.store import records

orjson = pytest.importorskip("orjson")

SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text()
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


def _json_module(value):
    """dump_json with the optional speed-up switched off."""
    saved = records.orjson
    records.orjson = None
    try:
        return records.dump_json(value)
    finally:
        records.orjson = saved


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), VALUES, max_size=8))
def test_orjson_stores_what_the_json_module_stores(value):
    # both encoders write NaN and infinities as strings, so the decoded values compare equal
    assert json.loads(records.dump_json(value)) == json.loads(_json_module(value))


@pytest.mark.parametrize(
    "value",
    [
        {"x": math.nan},
        {"x": [1.0, -math.inf]},
        {"x": None},
        {"x": "\ud800 lone surrogate"},
        {"x": 2**64},
        {1: "non-string key"},
        {"x": datetime.datetime(2026, 1, 2, tzinfo=datetime.timezone.utc)},
        {"x": dataclasses.make_dataclass("D", [("a", int)])(1)},
    ],
)
def test_values_orjson_would_spell_differently_go_the_json_module_way(value):
    assert records._fast_json(value) is None
    assert records.dump_json(value) == _json_module(value)


def test_plain_attributes_take_the_fast_path_and_decode_the_same():
    value = {"gen_ai.request.model": "gpt-4o", "n": 812, "cost": 5.7e-05, "tags": ["a", "é"]}
    fast = records._fast_json(value)
    assert fast is not None
    assert json.loads(fast) == json.loads(_json_module(value)) == value
