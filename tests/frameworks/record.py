"""Run a framework's workflow and keep what it exported as an OTLP JSON fixture.

    .venv/bin/python -m tests.frameworks.record openai_agents_openinference

starts the fake LLM (`tests.fakes.agent_llm`) and an OTLP/HTTP endpoint that keeps every
request, runs ``workflows/<name>.py`` in the framework's venv with the standard ``OTEL_*``
variables pointing at it, and writes ``tests/fixtures/frameworks/<name>.json``: one OTLP JSON
``ExportTraceServiceRequest`` (ids in hex, as the OTLP/HTTP JSON encoding has them) holding
every span the workflow sent, plus the calls the fake served.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from oracle_monitor.demo.llm_provider import serve_in_thread
from tests.fakes.agent_llm import AgentLLM, running_agent_llm
from tests.frameworks.venvs import WORKFLOWS, venv_python

FIXTURES = Path(__file__).parents[1] / "fixtures" / "frameworks"
_ID_KEYS = ("traceId", "spanId", "parentSpanId")


def _hex_ids(node: Any) -> Any:
    """protobuf's JSON has bytes in base64; OTLP JSON has trace and span ids in hex."""
    if isinstance(node, dict):
        return {
            key: base64.b64decode(value).hex() if key in _ID_KEYS else _hex_ids(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_hex_ids(item) for item in node]
    return node


def otlp_json(request: ExportTraceServiceRequest) -> dict[str, Any]:
    """An export request in the OTLP/HTTP JSON encoding."""
    return dict(_hex_ids(MessageToDict(request)))


class Capture:
    """An OTLP/HTTP (protobuf) traces endpoint that keeps what it receives."""

    def __init__(self) -> None:
        self.resource_spans: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    async def handle(self, request: Request) -> Response:
        message = ExportTraceServiceRequest()
        message.ParseFromString(await request.body())
        with self._lock:
            self.resource_spans += otlp_json(message).get("resourceSpans", [])
        return Response(
            ExportTraceServiceResponse().SerializeToString(),
            media_type="application/x-protobuf",
        )

    def span_count(self) -> int:
        return sum(
            len(scope.get("spans", []))
            for rs in self.resource_spans
            for scope in rs.get("scopeSpans", [])
        )


@contextmanager
def running_capture() -> Iterator[tuple[Capture, str]]:
    """A `Capture` on a free port, and its OTLP/HTTP base URL."""
    capture = Capture()
    stop, port = serve_in_thread(
        Starlette(routes=[Route("/v1/traces", capture.handle, methods=["POST"])])
    )
    try:
        yield capture, f"http://127.0.0.1:{port}"
    finally:
        stop()


def workflow_env(llm: AgentLLM, otlp_endpoint: str, name: str) -> dict[str, str]:
    """The environment a workflow runs in: the standard variables, nothing of ours."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(
        OPENAI_API_KEY="sk-test-not-a-real-key",
        OPENAI_BASE_URL=llm.openai_base_url,
        ANTHROPIC_API_KEY="sk-ant-test-not-a-real-key",
        ANTHROPIC_BASE_URL=llm.anthropic_base_url,
        OTEL_EXPORTER_OTLP_ENDPOINT=otlp_endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_SERVICE_NAME=f"fw-{name}",
        OTEL_BSP_SCHEDULE_DELAY="200",
        # Frameworks that phone home (CrewAI, LangSmith) must not try: no network here.
        CREWAI_DISABLE_TELEMETRY="true",
        CREWAI_TRACING_ENABLED="false",
        OTEL_SDK_DISABLED="false",
        LANGCHAIN_TRACING_V2="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_workflow(
    name: str, env: dict[str, str], timeout_s: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run ``workflows/<name>.py`` in its venv; raises with its output when it fails."""
    python = venv_python(name)
    # -P: the workflow's folder is not put on sys.path, so a workflow named like its framework's
    # package (pydantic_ai.py, crewai.py) does not shadow it.
    result = subprocess.run(
        [str(python), "-P", str(WORKFLOWS / f"{name}.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"workflow {name} exited {result.returncode}\n{result.stdout}\n{result.stderr}"
        )
    return result


def record(name: str) -> Path:
    """Run the workflow once and write its fixture."""
    with running_agent_llm() as llm, running_capture() as (capture, endpoint):
        result = run_workflow(name, workflow_env(llm, endpoint, name))
        calls = [call.__dict__ for call in llm.calls]
    document = {"resourceSpans": capture.resource_spans}
    FIXTURES.mkdir(parents=True, exist_ok=True)
    path = FIXTURES / f"{name}.json"
    path.write_text(json.dumps(document, indent=1) + "\n")
    (FIXTURES / f"{name}.calls.json").write_text(json.dumps(calls, indent=1) + "\n")
    print(f"{path}: {capture.span_count()} spans, {len(calls)} LLM calls")
    print(result.stdout[-2000:])
    return path


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        record(arg)
