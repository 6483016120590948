"""The storage JSON codec: every attribute type comes back with its type."""

from __future__ import annotations

import json
import math
from typing import Any

import orjson
import pytest

from oracle_monitor.model import Attributes, AttributeValue, SpanEvent, SpanLink
from oracle_monitor.store import codec


def typed(value: Any) -> Any:
    """``value`` with the type of every scalar spelled out, so ``3 != 3.0`` and ``1 != True``."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [typed(item) for item in value]
    return (type(value).__name__, value)


def round_trip(attributes: Attributes) -> Attributes:
    return codec.decode_attributes(codec.encode_attributes(attributes))


VALUES: list[AttributeValue] = [
    "text",
    "",
    'ünïcödé \x00 "quotes" \\ \n',
    "bytesValue",
    True,
    False,
    0,
    3,
    -7,
    2**63 - 1,
    -(2**63),
    3.0,
    -0.0,
    0.1,
    1e300,
    b"",
    b"\x00\xff binary",
    None,
    [],
    [1, 1.0, True, "1", None, b"1"],
    [[1, [2, [3.0]]], {"nested": [b"deep"]}],
    {},
    {"a": 1, "b": 1.0, "c": {"d": [False, b"e"]}},
    {"bytesValue": "aGk="},
    {"bytesValue": 5},
    {"kvlistValue": {"x": 1}},
    {"kvlistValue": "not a dict"},
    {"bytesValue": "aGk=", "other": 1},
]


@pytest.mark.parametrize("value", VALUES, ids=repr)
def test_each_value_keeps_value_and_type(value: AttributeValue) -> None:
    got = round_trip({"key": value})
    assert typed(got) == typed({"key": value})


def test_all_values_in_one_dict() -> None:
    attributes = {f"k{i}": value for i, value in enumerate(VALUES)}
    assert typed(round_trip(attributes)) == typed(attributes)


def test_integral_float_stays_float_and_int_stays_int() -> None:
    got = round_trip({"f": 3.0, "i": 3, "b": True})
    assert type(got["f"]) is float
    assert type(got["i"]) is int
    assert got["b"] is True


def test_bytes_use_the_otlp_json_spelling() -> None:
    text = codec.encode_attributes({"raw": b"\x00\x01", "list": [b"\xff"]})
    assert orjson.loads(text) == {"raw": {"bytesValue": "AAE="}, "list": [{"bytesValue": "/w=="}]}


def test_attribute_named_like_a_wrapper_stays_a_string() -> None:
    assert round_trip({"bytesValue": "aGk="}) == {"bytesValue": "aGk="}
    assert round_trip({"kvlistValue": "x"}) == {"kvlistValue": "x"}


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_floats_become_none(value: float) -> None:
    assert round_trip({"f": value, "in.list": [value]}) == {"f": None, "in.list": [None]}
    assert codec.to_jsonable(value) is None


def test_unsupported_types_are_rejected() -> None:
    with pytest.raises(TypeError):
        codec.encode_attributes({"bad": {1, 2}})  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        codec.to_jsonable(object())  # type: ignore[arg-type]


def test_sort_keys_makes_equal_dicts_encode_equally() -> None:
    a = codec.encode_attributes({"b": 1, "a": {"d": 2, "c": b"x"}}, sort_keys=True)
    b = codec.encode_attributes({"a": {"c": b"x", "d": 2}, "b": 1}, sort_keys=True)
    assert a == b
    assert a.index('"a"') < a.index('"b"')


def test_empty_inputs_decode_to_empty_values() -> None:
    assert codec.decode_attributes(None) == {}
    assert codec.decode_attributes("") == {}
    assert codec.decode_events(None) == []
    assert codec.decode_links(None) == []
    assert codec.encode_events([]) is None
    assert codec.encode_links([]) is None


def test_fast_path_does_not_walk_plain_json(monkeypatch: pytest.MonkeyPatch) -> None:
    walked: list[object] = []

    def spy(value: Any) -> AttributeValue:
        walked.append(value)
        return value  # type: ignore[no-any-return]

    monkeypatch.setattr(codec, "_restore", spy)
    plain: Attributes = {"Vector": "Very Valuable", "n": [1, 2.5], "d": {"x": None}}
    assert codec.decode_attributes(codec.encode_attributes(plain)) == plain
    assert walked == []
    codec.decode_attributes(codec.encode_attributes({"raw": b"\x01"}))
    assert walked == [{"bytesValue": "AQ=="}]


def test_events_round_trip() -> None:
    events = [
        SpanEvent(10, "exception", {"exception.type": "ValueError", "raw": b"\x02"}, 1),
        SpanEvent(20, "retry", {"attempt": 2.0}),
        SpanEvent(30, "plain"),
    ]
    got = codec.decode_events(codec.encode_events(events))
    assert got == events
    assert [typed(e.attributes) for e in got] == [typed(e.attributes) for e in events]


def test_links_round_trip() -> None:
    links = [
        SpanLink("a" * 32, "b" * 16, "k=v", {"n": 1, "b": b"\x03", "f": 1.0}, 1, 2),
        SpanLink("c" * 32, "d" * 16),
    ]
    got = codec.decode_links(codec.encode_links(links))
    assert got == links
    assert [typed(k.attributes) for k in got] == [typed(k.attributes) for k in links]


def test_event_attributes_like_a_wrapper_round_trip() -> None:
    events = [SpanEvent(1, "e", {"kv": {"bytesValue": "x"}, "raw": b"y"})]
    assert codec.decode_events(codec.encode_events(events)) == events


def test_to_jsonable_gives_plain_json() -> None:
    value: AttributeValue = {
        "raw": b"\x00",
        "list": [1, 2.0, None, b"\x01", {"bytesValue": "z"}],
        "nan": math.nan,
        "s": "x",
    }
    jsonable = codec.to_jsonable(value)
    assert jsonable == {
        "raw": {"bytesValue": "AA=="},
        "list": [1, 2.0, None, {"bytesValue": "AQ=="}, {"kvlistValue": {"bytesValue": "z"}}],
        "nan": None,
        "s": "x",
    }
    assert json.loads(json.dumps(jsonable, allow_nan=False)) == jsonable
    assert codec.to_jsonable(3.0) == 3.0
    assert type(codec.to_jsonable(3.0)) is float
    assert codec.to_jsonable(True) is True
