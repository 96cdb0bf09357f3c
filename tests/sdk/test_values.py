"""The canonical JSON form of stream items, shared with the runtime's JSON Lines output."""

from __future__ import annotations

import json
import math
from array import array

import pytest
from remotemedia.core.values import from_jsonable, to_jsonable


def test_every_item_kind_has_a_json_form_that_reads_back():
    item = {
        "none": None,
        "flag": True,
        "count": 3,
        "ratio": 0.5,
        "text": "hé",
        "blob": b"\x00\xff",
        "pair": (1, 2),
        "nested": [{"deep": [b"x"]}],
        "ints": array("h", [1, -2]),
    }
    jsonable = to_jsonable(item)
    assert json.loads(json.dumps(jsonable)) == jsonable
    assert jsonable["blob"] == {"$bytes": "AP8="}
    assert jsonable["pair"] == [1, 2] and jsonable["ints"] == [1, -2]
    back = from_jsonable(jsonable)
    assert back["blob"] == b"\x00\xff" and back["nested"] == [{"deep": [b"x"]}]


def test_float32_samples_are_written_as_their_shortest_decimal():
    samples = array("f", [0.1, -0.75, 1 / 3, 1e-8])
    assert to_jsonable(samples) == [0.1, -0.75, 0.33333334, 1e-8]
    # Each written value reads back as exactly the same float32.
    assert array("f", to_jsonable(samples)) == samples


def test_non_finite_floats_become_null_as_json_has_none():
    assert to_jsonable([math.nan, math.inf, array("f", [math.inf])]) == [None, None, [None]]


@pytest.mark.parametrize(
    "value, message",
    [
        ({1: "a"}, "dict key 1 is a int"),
        ({"f": len}, "builtin_function_or_method has no JSON form"),
        ({1, 2}, "set has no JSON form"),
    ],
)
def test_items_without_a_json_form_are_named(value, message):
    with pytest.raises(TypeError, match=message):
        to_jsonable(value)


def test_only_a_lone_bytes_key_means_bytes():
    assert from_jsonable({"$bytes": "AA==", "other": 1}) == {"$bytes": "AA==", "other": 1}
    assert from_jsonable({"$bytes": "AA=="}) == b"\x00"
