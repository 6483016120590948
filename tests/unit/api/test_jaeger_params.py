"""Jaeger query parameters: Go durations, tags, trace ids, integers."""

from __future__ import annotations

import pytest

from oracle_monitor.api.jaeger_params import (
    ParamError,
    parse_duration,
    parse_int,
    parse_tags,
    parse_trace_id,
)

MS = 1_000_000
S = 1_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("0", 0),
        ("+0", 0),
        ("-0", 0),
        ("1ns", 1),
        ("1us", 1000),
        ("1\u00b5s", 1000),
        ("1\u03bcs", 1000),
        ("300ms", 300 * MS),
        ("1.5s", 1500 * MS),
        (".5s", 500 * MS),
        ("2.s", 2 * S),
        ("1h15m30.5s", 4530 * S + 500 * MS),
        ("2m", 120 * S),
        ("1.000000001s", S + 1),
        ("0.1ns", 0),  # Go truncates below a nanosecond
    ],
)
def test_go_durations(text: str, ns: int) -> None:
    assert parse_duration("minDuration", text) == ns


@pytest.mark.parametrize("text", ["", "1", "ms", "1x", "1.5", ".s", "1 ms", "-1s", "1e3ms", "s1"])
def test_bad_durations_name_the_parameter(text: str) -> None:
    with pytest.raises(ParamError, match="minDuration"):
        parse_duration("minDuration", text)


def test_tags_from_both_spellings() -> None:
    assert parse_tags(["http.status_code:500", "error:true"], ['{"gen_ai.agent.name":"a b"}']) == (
        ("http.status_code", "500"),
        ("error", "true"),
        ("gen_ai.agent.name", "a b"),
    )
    assert parse_tags([], []) == ()


@pytest.mark.parametrize(
    ("simple", "json_maps", "message"),
    [
        (["novalue"], [], "expecting key:value"),
        ([":v"], [], "expecting key:value"),
        (["a:b:c"], [], "expecting key:value"),
        ([], ["{not json"], "cannot unmarshal JSON"),
        ([], ['["a"]'], "JSON object of strings"),
        ([], ['{"code": 500}'], "JSON object of strings"),
    ],
)
def test_bad_tags(simple: list[str], json_maps: list[str], message: str) -> None:
    with pytest.raises(ParamError, match=message):
        parse_tags(simple, json_maps)


def test_trace_ids_are_padded_and_lowered() -> None:
    assert parse_trace_id("ABC") == "0" * 29 + "abc"
    assert parse_trace_id("f" * 32) == "f" * 32
    for bad in ("", "g" * 32, "a" * 33, "12-34"):
        with pytest.raises(ParamError, match="traceID"):
            parse_trace_id(bad)


def test_integers_within_bounds() -> None:
    assert parse_int("limit", "20", maximum=1500) == 20
    for bad in ("x", "1.5", "-1", "1501"):
        with pytest.raises(ParamError, match="limit"):
            parse_int("limit", bad, maximum=1500)
