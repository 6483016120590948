"""The latest view of each agent, derived from its recent spans (pure; no I/O).

Spans reach the store only when they end, so a task still in progress shows as its finished
child spans (LLM calls, tools) before its own span arrives. Per agent, over the spans given:

* ``status``: ``error`` when its latest task span (``gen_ai.operation.name=invoke_agent``)
  has ERROR status and none of its spans started after that task ended; otherwise
  ``running`` when one of its spans ended within ``active_ns`` of ``now_ns``; otherwise
  ``idle``.
* ``current_task``, ``last_reasoning``, ``tools_planned``, ``id``, ``pod``: from its latest
  span (by end time) carrying ``oracle.task.id``, ``oracle.agent.reasoning`` (with
  ``oracle.agent.tools_planned``), ``gen_ai.agent.id``, a pod name.
* ``tokens``, ``cost_usd``, ``errors``: sums over the spans (ERROR-status spans for errors).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

from oracle_monitor.model import Span

ACTIVE_NS: Final = 30_000_000_000  # a span that ended this recently makes its agent running
TASK_OPERATION: Final = "invoke_agent"


def _latest(spans: list[Span], attribute: str) -> Span | None:
    """The span of ``spans`` (sorted by end time) that last carries ``attribute``."""
    return next((s for s in reversed(spans) if s.attributes.get(attribute) is not None), None)


def _agent_view(name: str, spans: list[Span], now_ns: int, active_ns: int) -> dict[str, Any]:
    spans.sort(key=lambda s: (s.end_time_ns, s.span_id))
    tasks = [s for s in spans if s.attributes.get("gen_ai.operation.name") == TASK_OPERATION]
    last_task = tasks[-1] if tasks else None
    if (
        last_task is not None
        and last_task.is_error
        and not any(s.start_time_ns > last_task.end_time_ns for s in spans)
    ):
        status = "error"
    elif spans[-1].end_time_ns >= now_ns - active_ns:
        status = "running"
    else:
        status = "idle"
    reasoning = _latest(spans, "oracle.agent.reasoning")
    planned = reasoning.attributes.get("oracle.agent.tools_planned") if reasoning else None
    with_id = _latest(spans, "gen_ai.agent.id")
    task = next((s.task_id for s in reversed(spans) if s.task_id), None)
    pod = next((s.pod_name for s in reversed(spans) if s.pod_name), None)
    return {
        "name": name,
        "id": str(with_id.attributes["gen_ai.agent.id"]) if with_id else None,
        "status": status,
        "current_task": task,
        "last_reasoning": str(reasoning.attributes["oracle.agent.reasoning"])
        if reasoning
        else None,
        "tools_planned": [str(t) for t in planned] if isinstance(planned, list) else [],
        "tokens": {
            "input": sum(max(s.input_tokens or 0, 0) for s in spans),
            "output": sum(max(s.output_tokens or 0, 0) for s in spans),
        },
        "cost_usd": sum(max(s.cost_usd or 0.0, 0.0) for s in spans),
        "errors": sum(1 for s in spans if s.is_error),
        "pod": pod,
        "last_seen_ns": max(spans[-1].end_time_ns, 0),
    }


def agent_views(
    spans: Iterable[Span], now_ns: int, active_ns: int = ACTIVE_NS
) -> list[dict[str, Any]]:
    """One JSON-ready view per agent named in ``spans`` (spans without an agent name are
    ignored), sorted by agent name; see the module docstring for how each field is derived."""
    by_agent: dict[str, list[Span]] = defaultdict(list)
    for span in spans:
        if span.agent_name:
            by_agent[span.agent_name].append(span)
    return [_agent_view(name, by_agent[name], now_ns, active_ns) for name in sorted(by_agent)]
