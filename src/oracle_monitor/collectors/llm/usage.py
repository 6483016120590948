"""LLM usage turned into events: rate-limit bursts, exhausted quotas, spending over budget.

Pure: `UsageEvaluator.evaluate` takes what the store says about recent LLM calls and returns
the events that are new since the last evaluation. The same call seen by overlapping polls is
counted once (by span id); a burst or an over-budget spell is reported when it starts, not at
every poll while it lasts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from oracle_monitor.model import Attributes, InfraEvent, Severity
from oracle_monitor.store.base import LLMProblem

SOURCE = "llm"
MINUTE_NS = 60 * 1_000_000_000
#: Error types that mean the account, not the request, is out of credit.
QUOTA_ERRORS = frozenset({"insufficient_quota", "billing_error", "quota_exceeded"})


@dataclass(frozen=True, slots=True)
class UsageConfig:
    """When usage becomes an event."""

    burst_per_minute: int = 5
    budget_usd_per_hour: float | None = None


@dataclass(slots=True)
class _Burst:
    times: deque[int] = field(default_factory=deque)
    active: bool = False


def model_entity(provider: str, model: str | None) -> str:
    """The entity key of a provider's model."""
    return f"model/{provider}/{model or 'unknown'}"


def _attributes(problem: LLMProblem) -> Attributes:
    attributes: Attributes = {
        "gen_ai.provider.name": problem.provider,
        "trace_id": problem.trace_id,
        "span_id": problem.span_id,
    }
    if problem.model:
        attributes["gen_ai.request.model"] = problem.model
    if problem.agent:
        attributes["gen_ai.agent.name"] = problem.agent
    return attributes


class UsageEvaluator:
    """Remembers what it has reported; see the module docstring."""

    def __init__(self, config: UsageConfig) -> None:
        self._config = config
        self._seen: dict[str, int] = {}  # span id -> time, pruned as time passes
        self._bursts: dict[str, _Burst] = {}
        self._over_budget = False

    @property
    def active_bursts(self) -> list[str]:
        """Entities now in a rate-limit burst."""
        return sorted(key for key, burst in self._bursts.items() if burst.active)

    def evaluate(
        self, now_ns: int, problems: Sequence[LLMProblem], cost_last_hour_usd: float
    ) -> list[InfraEvent]:
        """Events for ``problems`` not seen before and for the hour's spending."""
        events: list[InfraEvent] = []
        for problem in problems:
            if problem.span_id in self._seen:
                continue
            self._seen[problem.span_id] = problem.time_ns
            if problem.rate_limited:
                events.extend(self._rate_limited(problem))
            if problem.error_type in QUOTA_ERRORS:
                events.append(
                    InfraEvent(
                        problem.time_ns, SOURCE, "quota_exhausted",
                        model_entity(problem.provider, problem.model), Severity.CRITICAL,
                        f"{problem.provider} quota exhausted ({problem.error_type})"
                        + (f" for agent {problem.agent}" if problem.agent else ""),
                        _attributes(problem),
                    )
                )  # fmt: skip
        events.extend(self._budget(now_ns, cost_last_hour_usd))
        self._forget_before(now_ns - 2 * 60 * MINUTE_NS)
        return events

    def _rate_limited(self, problem: LLMProblem) -> list[InfraEvent]:
        entity = model_entity(problem.provider, problem.model)
        burst = self._bursts.setdefault(entity, _Burst())
        burst.times.append(problem.time_ns)
        while burst.times[0] <= problem.time_ns - MINUTE_NS:
            burst.times.popleft()
        if len(burst.times) < self._config.burst_per_minute:
            burst.active = False
            return []
        if burst.active:
            return []
        burst.active = True
        attributes = _attributes(problem)
        attributes["rate_limited_calls_per_minute"] = len(burst.times)
        return [
            InfraEvent(
                problem.time_ns, SOURCE, "rate_limit_burst", entity, Severity.WARNING,
                f"{len(burst.times)} rate-limited calls to {problem.provider} "
                f"{problem.model or ''} within a minute".replace("  ", " "),
                attributes,
            )
        ]  # fmt: skip

    def _budget(self, now_ns: int, cost_last_hour_usd: float) -> list[InfraEvent]:
        budget = self._config.budget_usd_per_hour
        if budget is None:
            return []
        over = cost_last_hour_usd > budget
        started, self._over_budget = over and not self._over_budget, over
        if not started:
            return []
        return [
            InfraEvent(
                now_ns, SOURCE, "cost_over_budget", "budget/llm", Severity.WARNING,
                f"LLM spending ${cost_last_hour_usd:.2f} in the last hour, over the "
                f"${budget:.2f}/h budget",
                {"oracle.llm.cost_usd": cost_last_hour_usd, "budget_usd_per_hour": budget},
            )
        ]  # fmt: skip

    def _forget_before(self, horizon_ns: int) -> None:
        self._seen = {span: at for span, at in self._seen.items() if at >= horizon_ns}
