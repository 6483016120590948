"""``/api/v1/costs``: LLM tokens, cost, requests and rate limits per agent, model or provider."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request

from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.contract.costs import CostsAnswer
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.serialize import rfc3339
from oracle_monitor.api.traces import unix_ns
from oracle_monitor.store.base import CostGroup, CostGrouping, SpanReader

router = APIRouter(prefix="/api/v1", tags=["costs"], responses=error_answers(400, 401))

_TOTALED = (
    "requests", "rate_limited", "errors", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_creation_tokens", "reasoning_tokens", "cost_usd", "unpriced_requests",
)  # fmt: skip


def group_json(group: CostGroup | dict[str, Any], key: str | None) -> dict[str, Any]:
    """One group (or the total) of the costs answer."""
    values = group if isinstance(group, dict) else {name: getattr(group, name) for name in _TOTALED}
    return {
        "key": key,
        "requests": values["requests"],
        "rate_limited": values["rate_limited"],
        "errors": values["errors"],
        "tokens": {
            "input": values["input_tokens"],
            "output": values["output_tokens"],
            "cache_read": values["cache_read_tokens"],
            "cache_creation": values["cache_creation_tokens"],
            "reasoning": values["reasoning_tokens"],
        },
        "cost_usd": round(values["cost_usd"], 9),
        "unpriced_requests": values["unpriced_requests"],
    }


@router.get("/costs", response_class=OrjsonResponse, response_model=CostsAnswer)
def llm_costs(
    request: Request,
    group_by: CostGrouping = "model",
    start: Annotated[datetime | None, Query(description="RFC 3339: calls from this moment")] = None,
    end: Annotated[datetime | None, Query(description="RFC 3339: calls until this moment")] = None,
) -> OrjsonResponse:
    """Usage and cost of LLM calls per group, costliest first, with the total."""
    start_ns, end_ns = unix_ns(start), unix_ns(end)
    if start_ns is not None and end_ns is not None and start_ns > end_ns:
        raise HTTPException(400, "start must not be after end")
    reader: SpanReader = request.app.state.reader
    groups = reader.llm_costs(group_by, start_ns, end_ns)
    total = {name: sum(getattr(group, name) for group in groups) for name in _TOTALED}
    return OrjsonResponse(
        {
            "group_by": group_by,
            "start": rfc3339(start_ns) if start_ns is not None else None,
            "end": rfc3339(end_ns) if end_ns is not None else None,
            "groups": [group_json(group, group.key) for group in groups],
            "total": group_json(total, None),
        }
    )
