"""The latest view of each agent, derived from its recent spans (pure; no I/O).

Spans reach the store only when they end, so a task still in progress shows as its finished
child spans (LLM calls, tools) before its own span arrives. Per agent, over the spans given:

* ``status``: ``error`` when its latest task span (``gen_ai.operation.name=invoke_agent``)
  has ERROR status and none of its spans started after that task ended; otherwise
  ``running`` when one of its spans ended within ``active_ns`` of ``now_ns``; otherwise
  ``idle``.
* ``current_task``, ``last_reasoning``, ``tools_planned``, ``id``, ``pod``: from its latest
  span (by end time) carrying ``oracle.task.id``, ``oracle.agent.reasoning`` (with
  ``oracle.agent.tools_planned``), ``gen_ai.agent.id``, a pod name (of a span naming the
  agent itself, if any: a span attributed to it from above may run in another pod).

An agent's spans are those it is attributed by hierarchy (`oracle_monitor.store.attribution`):
the LLM calls and tools run under its agent span count as its own.
* ``current_trace``: the trace of its latest span (a task, for frameworks that name none).
* ``tokens``, ``cost_usd``, ``errors``: sums over the spans (ERROR-status spans for errors).

The views are built from `AgentActivity` rows; `agent_views` takes whole spans too. This
module folds all the rows given, which is the definition; the snapshot loop gets the same
views from what the store keeps per agent and second (`oracle_monitor.store.agent_seconds`,
`oracle_monitor.aggregator.agent_window`), without reading the window's spans every round.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from operator import itemgetter
from typing import Any, Final

from oracle_monitor.model import Span
from oracle_monitor.store.agent_seconds import TASK_OPERATION, activity_of
from oracle_monitor.store.base import AgentActivity

__all__ = ["ACTIVE_NS", "TASK_OPERATION", "activity_of", "agent_views", "views_of_activity"]

ACTIVE_NS: Final = 30_000_000_000  # a span that ended this recently makes its agent running
_BY_END: Final = itemgetter(3, 1)  # AgentActivity: end_time_ns, span_id


def _agent_view(
    name: str, rows: list[AgentActivity], now_ns: int, active_ns: int
) -> dict[str, Any]:
    rows.sort(key=_BY_END)
    last = rows[-1]
    last_task = next((r for r in reversed(rows) if r.operation == TASK_OPERATION), None)
    if (
        last_task is not None
        and last_task.is_error
        and not any(r.start_time_ns > last_task.end_time_ns for r in rows)
    ):
        status = "error"
    elif last.end_time_ns >= now_ns - active_ns:
        status = "running"
    else:
        status = "idle"
    reasoning = next((r for r in reversed(rows) if r.reasoning is not None), None)
    input_tokens = output_tokens = errors = 0
    cost = 0.0
    for r in rows:
        input_tokens += max(r.input_tokens or 0, 0)
        output_tokens += max(r.output_tokens or 0, 0)
        cost += max(r.cost_usd or 0.0, 0.0)
        errors += r.is_error
    return {
        "name": name,
        "id": next((r.agent_id for r in reversed(rows) if r.agent_id is not None), None),
        "status": status,
        "current_task": next((r.task_id for r in reversed(rows) if r.task_id), None),
        "current_trace": last.trace_id,
        "last_reasoning": reasoning.reasoning if reasoning else None,
        "tools_planned": list(reasoning.tools_planned or ()) if reasoning else [],
        "tokens": {"input": input_tokens, "output": output_tokens},
        "cost_usd": cost,
        "errors": errors,
        # A span under the agent's may run elsewhere (a tool worker's pod): its own spans first.
        "pod": next(
            (r.pod_name for r in reversed(rows) if r.pod_name and not r.agent_inherited),
            next((r.pod_name for r in reversed(rows) if r.pod_name), None),
        ),
        "last_seen_ns": max(last.end_time_ns, 0),
    }


def views_of_activity(
    rows: Iterable[AgentActivity], now_ns: int, active_ns: int = ACTIVE_NS
) -> list[dict[str, Any]]:
    """One JSON-ready view per agent named in ``rows`` (rows without an agent name are
    ignored), sorted by agent name; see the module docstring for how each field is derived."""
    by_agent: dict[str, list[AgentActivity]] = defaultdict(list)
    for row in rows:
        if row.agent_name:
            by_agent[row.agent_name].append(row)
    return [_agent_view(name, by_agent[name], now_ns, active_ns) for name in sorted(by_agent)]


def agent_views(
    spans: Iterable[Span], now_ns: int, active_ns: int = ACTIVE_NS
) -> list[dict[str, Any]]:
    """`views_of_activity` of whole spans."""
    return views_of_activity((activity_of(s) for s in spans if s.agent_name), now_ns, active_ns)
