"""Lag, lag-in-seconds, throughput and DLQ arithmetic of the Kafka collector (pure)."""

from __future__ import annotations

import pytest

from oracle_monitor.collectors.kafka.lag import (
    EndOffsetHistory,
    dlq_depth,
    is_dlq,
    lag_messages,
    lag_seconds_from_timestamp,
    lag_seconds_interpolated,
    passed_time,
    throughput,
)


@pytest.mark.parametrize(
    ("committed", "end", "expected"),
    [
        (0, 0, (0, False)),
        (3, 5, (2, False)),
        (5, 5, (0, False)),
        (0, 1_000_000, (1_000_000, False)),
        (7, 5, (0, True)),  # tansu under-reports the high watermark: clamp, flag
    ],
)
def test_lag_messages(committed: int, end: int, expected: tuple[int, bool]) -> None:
    assert lag_messages(committed, end) == expected


@pytest.mark.parametrize(
    ("now", "stamp", "expected"), [(100.0, 40.0, 60.0), (100.0, 100.0, 0.0), (100.0, 130.0, 0.0)]
)
def test_lag_seconds_from_timestamp(now: float, stamp: float, expected: float) -> None:
    assert lag_seconds_from_timestamp(now, stamp) == expected


HISTORY = [(10.0, 0), (20.0, 10), (30.0, 10), (40.0, 30)]


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (0, 11.0),  # end went 0 -> 10 over 10 s; offset 0 appended at 1/10 of it
        (9, 20.0),
        (10, 30.5),  # plateau until 30 s, then 10 -> 30 over 10 s
        (29, 40.0),
        (30, None),  # not produced yet
    ],
)
def test_passed_time_interpolates(offset: int, expected: float | None) -> None:
    assert passed_time(HISTORY, offset) == (None if expected is None else pytest.approx(expected))


def test_passed_time_before_history_is_its_first_time() -> None:
    assert passed_time([(50.0, 100), (60.0, 120)], 20) == 50.0
    assert passed_time([], 0) is None


@pytest.mark.parametrize(
    ("now", "committed", "expected"), [(50.0, 10, 19.5), (50.0, 30, None), (25.0, 29, 0.0)]
)
def test_lag_seconds_interpolated(now: float, committed: int, expected: float | None) -> None:
    got = lag_seconds_interpolated(now, HISTORY, committed)
    assert got == (None if expected is None else pytest.approx(expected))


def test_lag_seconds_interpolated_needs_two_observations() -> None:
    assert lag_seconds_interpolated(50.0, [(10.0, 5)], 0) is None
    assert lag_seconds_interpolated(50.0, [(10.0, 5), (20.0, 5)], 0) == pytest.approx(40.0)


@pytest.mark.parametrize(
    ("history", "expected"),
    [
        ([], 0.0),
        ([(0.0, 5)], 0.0),
        ([(0.0, 0), (2.0, 10)], 5.0),
        ([(0.0, 0), (1.0, 4), (4.0, 40)], 10.0),
        ([(0.0, 10), (1.0, 10)], 0.0),
        ([(0.0, 10), (1.0, 0)], 0.0),  # topic recreated: never negative
        ([(1.0, 0), (1.0, 10)], 0.0),
    ],
)
def test_throughput(history: list[tuple[float, int]], expected: float) -> None:
    assert throughput(history) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("ends", "earliest", "expected"),
    [
        ({}, {}, 0),
        ({0: 5}, {}, 5),
        ({0: 5, 1: 7}, {0: 2, 1: 7}, 3),
        ({0: 5}, {0: 9}, 0),
    ],
)
def test_dlq_depth(ends: dict[int, int], earliest: dict[int, int], expected: int) -> None:
    assert dlq_depth(ends, earliest) == expected


PATTERNS = ("*.dlq", "*-dlq", "dlq.*", "*.DLT")


@pytest.mark.parametrize(
    ("topic", "expected"),
    [
        ("tasks.dlq", True),
        ("tasks-dlq", True),
        ("dlq.tasks", True),
        ("orders.DLT", True),
        ("orders.dlt", False),
        ("tasks", False),
        ("dlqueue", False),
    ],
)
def test_is_dlq(topic: str, expected: bool) -> None:
    assert is_dlq(topic, PATTERNS) is expected


def test_end_offset_history_keeps_plateau_edges_only() -> None:
    history = EndOffsetHistory(limit=4)
    for time, end in [(1.0, 0), (2.0, 0), (3.0, 0), (4.0, 0), (5.0, 3)]:
        history.add(time, end)
    assert history.samples == [(1.0, 0), (4.0, 0), (5.0, 3)]
    for time, end in [(6.0, 4), (7.0, 5), (8.0, 6)]:
        history.add(time, end)
    assert history.samples == [(5.0, 3), (6.0, 4), (7.0, 5), (8.0, 6)]
