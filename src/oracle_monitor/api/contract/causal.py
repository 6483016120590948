"""``GET /api/v1/traces/{trace_id}/causal-chain`` and ``GET /api/v1/tasks/{task_id}/causal-chain``
(`oracle_monitor.aggregator.causal`)."""

from __future__ import annotations

from pydantic import Field

from oracle_monitor.api.contract.base import Answer, Attributes, Rfc3339, SpanId


class Evidence(Answer):
    """What shows that the problem happened."""

    span_ids: list[SpanId] = Field(description="Spans that show it.")
    event_ids: list[str] = Field(description="Infrastructure events that show it.")
    metrics: Attributes = Field(
        description="Figures of the problem.", examples=[{"lag_seconds": 5.2}]
    )


class ChainLink(Answer):
    """One problem of the chain; repeats of one kind on one entity are one link."""

    kind: str = Field(description="What went wrong.", examples=["kafka_lag_spike"])
    at: Rfc3339 = Field(description="When it (first) happened.")
    last_at: Rfc3339 = Field(description="When its last repeat happened.")
    count: int = Field(description="How many times it happened.", examples=[1])
    entity: str = Field(description="What it happened to.", examples=["partition/tool-responses/0"])
    summary: str = Field(description="One line.", examples=["consumer lag 5.2 s"])
    evidence: Evidence = Field(description="Its evidence.")
    caused_by: int | None = Field(
        description="Index in ``chain`` of the link that caused it; null for none."
    )
    rule: str | None = Field(
        description="The rule that connects it to its cause (see the causal engine).",
        examples=["retry_after_error"],
    )


class CausalChain(Answer):
    """The problems of a trace or task in time order, the root cause and a summary."""

    root_cause: ChainLink | None = Field(description="The earliest link without a cause.")
    chain: list[ChainLink] = Field(description="Every problem, in time order.")
    summary: str = Field(
        description="The chain in plain words ('' when there is no problem).",
        examples=["Root cause: Kafka consumer lag on partition tool-responses/0 …"],
    )
