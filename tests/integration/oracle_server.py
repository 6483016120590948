"""A real ``oracle-monitor serve`` subprocess on free loopback ports, for integration tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _PortTaken(Exception):
    """The server could not bind a port that was free when it was picked."""


@dataclass
class OracleServer:
    """A running ``oracle-monitor serve`` process and how to reach it."""

    data_dir: Path
    env: dict[str, str]
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    api_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def otlp_http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"

    def start(self, timeout_s: float = 30.0, attempts: int = 3) -> None:
        """Start and wait for health. A port picked free may be taken by someone else before
        the server binds it; then the server is started again on newly picked ports."""
        for attempt in range(attempts):
            try:
                self._start_once(timeout_s)
                return
            except _PortTaken as taken:
                if attempt == attempts - 1:
                    raise RuntimeError(f"server could not bind its ports:\n{self.log()}") from taken
                self.grpc_port, self.http_port = free_port(), free_port()
                self.api_port = free_port()

    def _start_once(self, timeout_s: float) -> None:
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"
        log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oracle_monitor",
                "serve",
                "--data-dir",
                str(self.data_dir),
                "--otlp-grpc-port",
                str(self.grpc_port),
                "--otlp-http-port",
                str(self.http_port),
                "--api-port",
                str(self.api_port),
            ],
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                if "address already in use" in self.log()[log_offset:]:
                    raise _PortTaken
                raise RuntimeError(f"server exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.api_url}/api/v1/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server not ready after {timeout_s}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path else ""

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout_s: float = 30.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout_s)
        return code

    @property
    def api_token(self) -> str | None:
        """The bearer token the server's API asks for (from its env), if any."""
        return self.env.get("ORACLE_API_TOKEN") or self.env.get("ORACLE_AUTH_TOKEN") or None

    def api(self, path: str, **params: Any) -> httpx.Response:
        """GET ``path`` as an authorised client (with the server's token, when it has one)."""
        token = self.api_token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.api_url}{path}", params=params, headers=headers, timeout=10)

    def health(self) -> dict[str, Any]:
        response = self.api("/api/v1/health")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def wait_for_trace(self, trace_id: str, spans: int, timeout_s: float = 15.0) -> dict[str, Any]:
        """The trace once it has ``spans`` spans (exporters flush in the background)."""
        deadline = time.monotonic() + timeout_s
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            response = self.api(f"/api/v1/traces/{trace_id}")
            if response.status_code == 200:
                body = response.json()
                if len(body["spans"]) >= spans:
                    return body
            time.sleep(0.05)
        raise TimeoutError(f"trace {trace_id} has {len(body.get('spans', []))}/{spans} spans")
