"""An ingest worker runs the garbage collector between batches, never in the middle of one."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from oracle_monitor.receiver.worker_process import COLLECT_AFTER, collect_between_batches


class Node:
    """One half of a reference cycle: freed only by the collector."""

    def __init__(self) -> None:
        self.other: Node | None = None


def make_cycles(count: int) -> None:
    for _ in range(count):
        first, second = Node(), Node()
        first.other, second.other = second, first


@pytest.fixture
def collector_off() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


def cycles_alive() -> int:
    return sum(1 for item in gc.get_objects() if type(item) is Node)


@pytest.mark.usefixtures("collector_off")
def test_few_leftovers_wait_for_later_batches() -> None:
    make_cycles(100)
    collect_between_batches()
    assert cycles_alive() == 200


@pytest.mark.usefixtures("collector_off")
def test_leftovers_past_the_young_threshold_are_collected() -> None:
    make_cycles(COLLECT_AFTER[0])  # two tracked objects and a dict per cycle
    assert gc.get_count()[0] >= COLLECT_AFTER[0]
    collect_between_batches()
    assert cycles_alive() == 0
    assert gc.get_count()[0] < 100


@pytest.mark.usefixtures("collector_off")
def test_older_generations_are_collected_in_turn() -> None:
    collections_before = [stats["collections"] for stats in gc.get_stats()]
    for _ in range(COLLECT_AFTER[1] + 1):
        make_cycles(COLLECT_AFTER[0])
        collect_between_batches()
    collections = [stats["collections"] for stats in gc.get_stats()]
    assert collections[0] - collections_before[0] >= COLLECT_AFTER[1]
    assert collections[1] > collections_before[1]  # the middle generation's turn came
    assert cycles_alive() == 0
