"""Real agent frameworks, used as their users use them, traced into a real ``oracle-monitor
serve``: every LLM call under the agent that made it, with its exact tokens and cost.

Each framework runs its workflow (``tests/frameworks/workflows/<name>.py``: two agents with a
handoff or a sub-agent, a tool call, a streamed call) in a venv of its own, made once per
machine by uv from pinned versions (``tests/frameworks/requirements/<name>.txt``), with the
framework's recommended instrumentation unchanged and the standard ``OTEL_*`` variables
pointing at the server. No hosted LLM can be reached here: the model is the in-process fake of
the OpenAI and Anthropic wire protocols in ``tests/fakes/agent_llm.py`` (chat completions,
the Responses API and messages, streamed with usage, tool calls), which records the agent and
the exact tokens of every call it answers; the server must account for each of them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.fakes.agent_llm import ServedCall, running_agent_llm
from tests.frameworks.record import run_workflow, workflow_env
from tests.frameworks.venvs import frameworks
from tests.integration.oracle_server import OracleServer
from tests.waiting import wait_for

pytestmark = pytest.mark.integration

#: The model each workflow calls, as the costs API names it.
MODELS = {"anthropic_sdk": "claude-3-5-haiku-20241022"}


def _served(calls: list[ServedCall]) -> dict[str | None, tuple[int, int]]:
    totals: dict[str | None, tuple[int, int]] = {}
    for call in calls:
        inp, out = totals.get(call.agent, (0, 0))
        totals[call.agent] = (inp + call.input_tokens, out + call.output_tokens)
    return totals


def _costs(server: OracleServer, group_by: str) -> dict[str, Any]:
    response = server.api("/api/v1/costs", group_by=group_by)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _norm(name: str) -> str:
    return name.lower().replace(" ", "_")


def _tool_seen(tool: str, spans: list[dict[str, Any]]) -> bool:
    """Whether the trace shows the tool the model called (a handoff tool as the handoff)."""
    for span in spans:
        if span["tool_name"] and _norm(span["tool_name"]) == _norm(tool):
            return True
        target = (span["handoff"] or {}).get("to")
        if target and _norm(tool).endswith(_norm(target)):
            return True
    return False


@pytest.mark.parametrize("name", frameworks())
def test_each_call_is_counted_under_its_agent(
    name: str, start_server: Callable[..., OracleServer]
) -> None:
    server = start_server()
    with running_agent_llm() as llm:
        run_workflow(name, workflow_env(llm, server.otlp_http_url, name))
        calls = list(llm.calls)
    assert len(calls) >= 4 and any(c.stream for c in calls) and any(c.tool_called for c in calls)
    served = _served(calls)
    assert None not in served and len(served) >= 2, "every call names one of several agents"

    by_agent = wait_for(
        lambda: (body := _costs(server, "agent"))["total"]["requests"] == len(calls) and body,
        30, "LLM calls stored", 0.2,
    )  # fmt: skip
    counted = {g["key"]: (g["tokens"]["input"], g["tokens"]["output"]) for g in by_agent["groups"]}
    assert counted == served
    for group in by_agent["groups"]:
        assert group["cost_usd"] > 0 and group["unpriced_requests"] == 0
    by_model = _costs(server, "model")
    model = MODELS.get(name, "gpt-4o-mini")
    assert [(g["key"], g["requests"]) for g in by_model["groups"]] == [(model, len(calls))]
    assert by_model["total"]["cost_usd"] == pytest.approx(by_agent["total"]["cost_usd"])

    # The trees are intact; each call is under the agent that made it; tools are shown.
    listed = server.api("/api/v1/traces", service=f"fw-{name}", limit=50).json()
    spans = [
        span
        for summary in listed["traces"]
        for span in server.api(f"/api/v1/traces/{summary['trace_id']}").json()["spans"]
    ]
    ids = {span["span_id"] for span in spans}
    assert all(s["parent_span_id"] in ids for s in spans if s["parent_span_id"])
    agent_of_call = {c.input_tokens: c.agent for c in calls}  # input tokens are unique per call
    llm_spans = [s for s in spans if s["tokens"]["input"] is not None]
    assert sorted(s["tokens"]["input"] for s in llm_spans) == sorted(agent_of_call)
    for span in llm_spans:
        assert span["agent_name"] == agent_of_call[span["tokens"]["input"]], span["name"]
        assert span["model"] and span["model"].startswith(model.split("-2024")[0])
    for tool in {c.tool_called for c in calls if c.tool_called}:
        assert _tool_seen(tool, spans), tool

    # The agent grid (the latest snapshot's views) shows the same tokens.
    def agents_match() -> bool:
        views = {a["name"]: a for a in server.api("/api/v1/agents").json()["agents"]}
        return all(
            agent in views
            and (views[agent]["tokens"]["input"], views[agent]["tokens"]["output"]) == tokens
            for agent, tokens in served.items()
        )

    wait_for(agents_match, 30, "agents' tokens in /api/v1/agents", 0.2)

    # And so do the per-agent Prometheus counters (read from the store, cached for seconds).
    def metrics_match() -> bool:
        found: dict[str | None, dict[str, int]] = {}
        for family in text_string_to_metric_families(server.api("/metrics").text):
            for sample in family.samples:
                if sample.name == "oracle_llm_agent_tokens_total":
                    kinds = found.setdefault(sample.labels["agent"], {})
                    kinds[sample.labels["kind"]] = int(sample.value)
        return {a: (k["input"], k["output"]) for a, k in found.items()} == served

    wait_for(metrics_match, 40, "per-agent token counters in /metrics", 0.2)
