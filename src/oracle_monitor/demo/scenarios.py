"""The demo's scenarios: what goes wrong, made to happen for real (no event is written by hand).

A `Scenario` sets the stage (agent settings, memory limits, the provider's rate limit, serve's
thresholds made fast for a demo) and then runs its script in a thread while the background
work goes on. A script only turns the knobs a real incident would turn: the agents' control
file (a slow consumer, context held by retries), the provider (its limits), the cluster (a
node under memory pressure), a poison message; the consequences — lag, timeouts, 429s, OOM
kills, restarts, orphaned tasks — happen in the processes and are seen by the collectors.

* ``seed`` — the tool-responses consumer of the research agents slows down, so its lag grows
  → the research agent's tool wait times out and it retries → the retry burst meets the
  provider's rate limit (429) → the context each retry keeps grows until the pod passes its
  memory limit and is OOM-killed → a new pod replaces it → the task it held is orphaned.
* ``crash_loop`` — the writer is rolled out with a bad setting: it exits at start, restarts,
  backs off (CrashLoopBackOff) while its tasks pile up.
* ``quota`` — the account's token quota runs out: every call gets ``insufficient_quota``.
* ``dlq`` — malformed task messages fail and land in ``tasks.dlq``.
* ``eviction`` — the node runs short of memory and evicts the analysis pod mid-task.
* ``slow_tool`` — the tool worker answers slower than the agents wait: timeouts, retries,
  failed tasks, nothing wrong underneath.
* ``healthy`` — nothing goes wrong.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from oracle_monitor.demo.cluster import Cluster
from oracle_monitor.demo.llm_provider import LLMProvider, RateLimit
from oracle_monitor.demo.workload import ControlFile, Workload


@dataclass
class Context:
    """What a scenario's script may touch, and how it reports."""

    cluster: Cluster
    provider: LLMProvider
    control: ControlFile
    workload: Workload
    api_url: str
    say: Callable[[str], None]
    stop: threading.Event
    notes: dict[str, Any] = field(default_factory=dict)

    def wait(self, seconds: float) -> bool:
        """Sleep; False when the demo is stopping."""
        return not self.stop.wait(seconds)

    def events(self, kind: str, **params: str) -> list[dict[str, Any]]:
        """Stored infrastructure events of ``kind`` (newest first), from serve's API."""
        try:
            response = httpx.get(
                f"{self.api_url}/api/v1/events", params={"kind": kind, "limit": 200, **params},
                timeout=5,
            )  # fmt: skip
            response.raise_for_status()
        except httpx.HTTPError:
            return []
        body = response.json()
        items: list[dict[str, Any]] = body.get("events", body) if isinstance(body, dict) else body
        return items

    def wait_for_alert(self, kind: str, within_s: float) -> dict[str, Any] | None:
        """The newest alert of ``kind`` raised within ``within_s`` seconds, or None."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                response = httpx.get(f"{self.api_url}/api/v1/alerts", timeout=5)
                alerts = response.json().get("alerts", []) if response.status_code == 200 else []
            except (httpx.HTTPError, ValueError):
                alerts = []
            found = [a for a in alerts if a.get("kind") == kind]
            if found:
                return dict(found[0])
            if not self.wait(1.0):
                return None
        return None

    def wait_for_failure(self, agent: str, since_s: float, within_s: float) -> bool:
        """Whether a trace of ``agent`` with an error started after ``since_s`` (unix) shows."""
        since = datetime.fromtimestamp(since_s, UTC).isoformat()
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                response = httpx.get(
                    f"{self.api_url}/api/v1/traces",
                    params={"agent": agent, "status": "error", "start": since, "limit": 1},
                    timeout=5,
                )  # fmt: skip
                if response.status_code == 200 and response.json().get("traces"):
                    return True
            if not self.wait(0.5):
                return False
        return False

    def wait_for(self, kind: str, within_s: float, **params: str) -> dict[str, Any] | None:
        """The first event of ``kind`` seen within ``within_s`` seconds, or None."""
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            found = self.events(kind, **params)
            if found:
                return found[0]
            if not self.wait(0.5):
                return None
        return None


@dataclass(frozen=True)
class Scenario:
    """A scenario: its stage and its script (see the module docstring)."""

    name: str
    summary: str
    script: Callable[[Context], None]
    #: ORACLE_AGENT_* settings of every agent (names without the prefix).
    agent_settings: dict[str, str] = field(default_factory=dict)
    #: Memory limit per agent kind, MiB.
    memory_limit_mib: dict[str, int] = field(default_factory=dict)
    #: Environment of one agent kind's deployment (e.g. a bad setting).
    agent_env: dict[str, dict[str, str]] = field(default_factory=dict)
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(40, 10.0))
    #: serve settings (names without ORACLE_).
    serve_settings: dict[str, str] = field(default_factory=dict)
    #: The causal chain the scenario's victim task should get, in order.
    expected_chain: tuple[str, ...] = ()


FAST_SERVE = {
    "kafka_poll_seconds": "1",
    # A 30 s status window (as the defaults' 10 polls of 5 s give 50 s): several of the
    # consumers' 5 s auto-commit intervals, so a healthy group is never judged STALL.
    "kafka_window_polls": "30",
    "kafka_lag_spike_seconds": "2",
    "k8s_metrics_poll_seconds": "2",
    "llm_poll_seconds": "2",
    "llm_rate_limit_burst": "3",
    "snapshot_interval_seconds": "2",
    "chain_timeout_seconds": "30",
    "chain_orphan_timeout_seconds": "10",
    "ingest_workers": "1",
}
FAST_AGENTS = {
    "tool_timeout_seconds": "5",
    "max_retries": "5",
    "backoff_seconds": "0.5",
    "backoff_max_seconds": "3",
    "llm_max_retries": "1",
    "session_timeout_ms": "3000",
    # The LLM proxy traces every call (agent from x-oracle-agent, trace from traceparent);
    # the agents' own HTTP spans would count each call a second time.
    "instrument_llm": "false",
}


def _seed(ctx: Context) -> None:
    if not ctx.wait(10):
        return
    # First slow enough for a backlog, not yet for a timeout (2.5 s a message, agents wait
    # 5 s): a wait can then only time out behind a backlog at least 2 s old, which the Kafka
    # collector (2 s threshold, 1 s polls) has reported by then — the lag comes first.
    ctx.say("the research agents' tool-responses consumer slows down (2.5 s a message)")
    slowed = time.time()
    ctx.control.set(research={"response_delay_seconds": 2.5})
    spike = ctx.wait_for("lag_spike", 40, entity="partition/tool-responses/*")
    if spike is None:
        ctx.say("no lag spike seen yet; carrying on")
    else:
        ctx.say(f"lag spike: {spike.get('summary', spike.get('entity', ''))}")
    ctx.say("the consumer falls further behind (8 s a message): tool waits time out")
    ctx.control.set(research={"response_delay_seconds": 8})
    # The task now waiting times out and retries (its trace began before it all: look back);
    # from its first retry on:
    ctx.wait_for_failure("research", slowed - 60, 20)
    ctx.say("retries keep their growing context in memory (64 MiB each)")
    ctx.control.set(research={"retry_memory_mb": 64})
    normal = ctx.provider.rate_limit
    ctx.say("the shared API key's rate limit is 2 requests per 10 s now: retries meet 429s")
    ctx.provider.rate_limit = RateLimit(2, 10.0)
    oom = ctx.wait_for("oom_killed", 60)
    ctx.provider.rate_limit = normal
    ctx.control.set(research={"response_delay_seconds": 0, "retry_memory_mb": 0})
    if oom is None:
        ctx.say("no OOM kill within a minute")
        return
    ctx.say(f"OOM kill: {oom.get('entity', '')}; the cluster starts a replacement pod")
    ctx.say("the consumer and the rate limit recover; background work carries on")
    orphan = ctx.wait_for_alert("task_orphaned", 60)
    if orphan is not None:
        ctx.say(f"orphaned: {orphan.get('task_id')} — its causal chain: "
                f"{ctx.api_url}{orphan.get('link', '')}")  # fmt: skip


def _crash_loop(ctx: Context) -> None:
    if not ctx.wait(8):
        return
    ctx.say("rolling out the writer with a bad setting (ORACLE_AGENT_PROVIDER=opneai)")
    deployment = ctx.cluster.deployments["writer-agent"]
    deployment.env["ORACLE_AGENT_PROVIDER"] = "opneai"
    ctx.cluster.roll_out("writer-agent")
    ctx.wait_for("crash_loop", 60)


def _quota(ctx: Context) -> None:
    if not ctx.wait(8):
        return
    ctx.say("the account's token quota runs out")
    ctx.provider.quota_tokens = ctx.provider.tokens_used
    ctx.wait_for("quota_exhausted", 60)


def _dlq(ctx: Context) -> None:
    if not ctx.wait(8):
        return
    ctx.say("malformed task messages arrive on tasks.analysis")
    for _ in range(5):
        ctx.workload.send_raw(
            "tasks.analysis", b'{"task_id": "bad", "kind": "analysis", "input": 7'
        )
        if not ctx.wait(1):
            return
    ctx.wait_for("dlq_growth", 60)


def _eviction(ctx: Context) -> None:
    if not ctx.wait(10):
        return
    # Tasks take a moment when tool answers are slow: the eviction finds one in flight.
    ctx.control.set(analysis={"response_delay_seconds": 2})
    if not ctx.wait(6):
        return
    pods = ctx.cluster.live_pods("analysis-agent")
    if pods:
        ctx.say(f"the node runs short of memory: evicting {pods[0].name}")
        ctx.cluster.evict(pods[0].name)
    ctx.control.set(analysis={"response_delay_seconds": 0})
    orphan = ctx.wait_for_alert("task_orphaned", 60)
    if orphan is not None:
        ctx.say(f"orphaned: {orphan.get('task_id')} — {ctx.api_url}{orphan.get('link', '')}")


def _slow_tool(ctx: Context) -> None:
    if not ctx.wait(8):
        return
    ctx.say("the tool worker slows down (8 s a call, agents wait 5 s)")
    ctx.control.set(tool_delay_seconds=8)
    ctx.wait(40)
    ctx.control.set(tool_delay_seconds=0)


def _healthy(ctx: Context) -> None:
    ctx.say("nothing goes wrong in this scenario")


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            "seed",
            "lag on tool-responses → timeout → retry → 429 → OOM kill → new pod → orphaned task",
            _seed,
            memory_limit_mib={"research": 320},
            expected_chain=(
                "kafka_lag_spike",
                "agent_timeout",
                "retry",
                "llm_rate_limited",
                "oom_killed",
                "pod_rescheduled",
                "task_orphaned",
            ),
        ),
        Scenario("crash_loop", "a bad setting: the writer crash-loops", _crash_loop),
        Scenario("quota", "the LLM account's quota runs out", _quota, rate_limit=None),
        Scenario("dlq", "malformed tasks build up in the dead-letter queue", _dlq),
        Scenario("eviction", "node memory pressure evicts a pod mid-task", _eviction),
        Scenario("slow_tool", "a slow tool: timeouts and retries, nothing else", _slow_tool),
        Scenario("healthy", "everything works", _healthy),
    )
}
