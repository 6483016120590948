"""Fixtures that start the real ``oracle-monitor serve`` as a subprocess."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.kafka_broker import kafka_broker  # registers the broker fixture
from tests.integration.oracle_server import OracleServer

__all__ = ["kafka_broker"]

StartServer = Callable[..., OracleServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers; each is stopped (SIGTERM, then SIGKILL) after the test."""
    started: list[OracleServer] = []

    def start(data_dir: Path | None = None, **env: str) -> OracleServer:
        server = OracleServer(
            data_dir=data_dir or tmp_path / f"data{len(started)}",
            env={f"ORACLE_{key.upper()}": value for key, value in env.items()},
        )
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        if server.alive():
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                server.stop(signal.SIGKILL)


@pytest.fixture
def server(start_server: StartServer) -> OracleServer:
    """One server on a fresh data dir."""
    return start_server()
