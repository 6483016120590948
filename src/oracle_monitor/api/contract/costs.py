"""``GET /api/v1/costs``: LLM usage and cost per agent, model or provider."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from oracle_monitor.api.contract.base import Answer, Rfc3339


class CostTokens(Answer):
    """Token counts of a group's calls."""

    input: int = Field(description="Input tokens.", examples=[12000])
    output: int = Field(description="Output tokens.", examples=[3000])
    cache_read: int = Field(description="Input tokens read from the cache.")
    cache_creation: int = Field(description="Input tokens written to the cache.")
    reasoning: int = Field(description="Reasoning tokens.")


class CostGroup(Answer):
    """One agent, model or provider (or the total)."""

    key: str | None = Field(
        description="The agent, model or provider; null for calls without one, and the total.",
        examples=["gpt-4o"],
    )
    requests: int = Field(description="LLM calls.", examples=[42])
    rate_limited: int = Field(description="Calls refused with a 429.")
    errors: int = Field(description="Calls with status ERROR.")
    tokens: CostTokens = Field(description="Their tokens.")
    cost_usd: float = Field(description="Cost of the priced calls.", examples=[0.42])
    unpriced_requests: int = Field(description="Calls with tokens of a model without a price.")


class CostsAnswer(Answer):
    """Usage and cost of LLM calls per group, costliest first, with the total."""

    group_by: Literal["agent", "model", "provider"] = Field(description="The grouping.")
    start: Rfc3339 | None = Field(description="From (null: from the first call).")
    end: Rfc3339 | None = Field(description="Until (null: until now).")
    groups: list[CostGroup] = Field(description="Costliest first.")
    total: CostGroup = Field(description="The sum of the groups (its key is null).")
