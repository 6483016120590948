"""Oracle Monitor's own processes in the demo: ``serve`` and the LLM ``proxy``, as subprocesses.

Each runs ``python -m oracle_monitor …`` with this interpreter, on free loopback ports, its
output in a log file of the demo's data directory; `stop` sends SIGTERM (serve finishes what
it holds, then exits) and SIGKILLs after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from oracle_monitor.demo.ports import free_port, wait_listening


@dataclass
class Service:
    """One ``oracle-monitor`` subprocess."""

    name: str
    args: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start it (not waiting for readiness: see `wait_http` / `wait_port`)."""
        env = {**os.environ, **self.env}
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "oracle_monitor", *self.args],
                env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches the demo, which stops us in order
            )  # fmt: skip

    def alive(self) -> bool:
        """Whether the process runs."""
        return self.process is not None and self.process.poll() is None

    def wait_http(self, url: str, timeout_s: float) -> None:
        """Wait until ``url`` answers 200."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{self.name} not ready after {timeout_s:.0f}s:\n{self.log_tail()}")

    def wait_port(self, port: int, timeout_s: float) -> None:
        """Wait until ``port`` accepts connections."""
        try:
            wait_listening(port, timeout_s, alive=self.alive)
        except (RuntimeError, TimeoutError) as error:
            raise RuntimeError(f"{self.name}: {error}\n{self.log_tail()}") from error

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout_s``; idempotent."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # its ingest workers too
            self.process.wait(5)

    def log_tail(self, lines: int = 30) -> str:
        """The end of its log."""
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Ports:
    """The loopback ports of serve and the proxy (0: pick a free one)."""

    api: int = 0
    otlp_grpc: int = 0
    otlp_http: int = 0
    proxy: int = 0

    def resolve(self) -> Ports:
        """These ports with every 0 replaced by a free port."""
        return Ports(*(port or free_port() for port in (self.api, self.otlp_grpc,
                                                        self.otlp_http, self.proxy)))  # fmt: skip


def serve_service(data_dir: Path, ports: Ports, kubeconfig: Path, kafka: str,
                  settings: dict[str, str]) -> Service:  # fmt: skip
    """``oracle-monitor serve`` with every collector on the demo's cluster and broker."""
    args = ["serve", "--data-dir", str(data_dir / "store"), "--api-port", str(ports.api),
            "--otlp-grpc-port", str(ports.otlp_grpc), "--otlp-http-port", str(ports.otlp_http),
            "--kubeconfig", str(kubeconfig), "--kafka-bootstrap", kafka]  # fmt: skip
    env = {f"ORACLE_{key.upper()}": value for key, value in settings.items()}
    return Service("serve", args, data_dir / "logs" / "serve.log", env)


def proxy_service(data_dir: Path, ports: Ports, upstream: str) -> Service:
    """The LLM proxy in front of the local provider; its spans go to serve."""
    args = ["proxy", "--port", str(ports.proxy), "--openai-upstream", upstream,
            "--anthropic-upstream", upstream]  # fmt: skip
    env = {**otel_env(ports, "llm-proxy"), "ORACLE_LOG_LEVEL": "WARNING"}
    return Service("proxy", args, data_dir / "logs" / "proxy.log", env)


def otel_env(ports: Ports, service: str) -> dict[str, str]:
    """The standard OTEL_* variables that point a process at serve's OTLP/gRPC port."""
    return {
        "OTEL_SERVICE_NAME": service,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{ports.otlp_grpc}",
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_BSP_SCHEDULE_DELAY": "200",  # spans reach serve before a pod can be killed
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
    }
