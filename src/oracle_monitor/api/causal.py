"""``/api/v1/traces/{id}/causal-chain`` and ``/api/v1/tasks/{id}/causal-chain``: what caused it.

The spans come from the store (a task: every trace whose spans carry its ``oracle.task.id``);
the candidate events are the stored infrastructure events from the causal window before the
first span up to the moment asked about, and the engine (`oracle_monitor.aggregator`) keeps
those that correlate. ``at`` asks "as known then" (default: now) — it decides, among others,
whether a task whose pod died has been silent long enough to be orphaned.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query, Request

from oracle_monitor.aggregator import ChainConfig, build_causal_chain
from oracle_monitor.aggregator.correlate import stored_evidence
from oracle_monitor.api.contract import causal as contract
from oracle_monitor.api.contract.base import error_answers
from oracle_monitor.api.responses import OrjsonResponse
from oracle_monitor.api.traces import TRACE_ID_PATTERN, unix_ns
from oracle_monitor.model import Span
from oracle_monitor.store.base import Store

router = APIRouter(prefix="/api/v1", tags=["causal chains"], responses=error_answers(400, 401, 404))
_AT = "RFC 3339: the chain as known at this moment (default now)"


def _chain(
    request: Request, store: Store, spans: Sequence[Span], at: datetime | None
) -> OrjsonResponse:
    config: ChainConfig = request.app.state.chain_config
    now_ns = time.time_ns() if at is None else unix_ns(at)
    assert now_ns is not None
    found = stored_evidence(store, spans, now_ns=now_ns, config=config)
    chain = build_causal_chain(
        spans, found.events, now_ns=now_ns, config=config, consumers=found.consumers
    )
    return OrjsonResponse(chain.to_json())


@router.get(
    "/traces/{trace_id}/causal-chain",
    response_class=OrjsonResponse,
    response_model=contract.CausalChain,
)
def trace_chain(
    request: Request,
    trace_id: Annotated[str, Path(description="32 hex digits")],
    at: Annotated[datetime | None, Query(description=_AT)] = None,
) -> OrjsonResponse:
    """The causal chain of one trace: its problems in time order and the root cause."""
    if not TRACE_ID_PATTERN.match(trace_id):
        raise HTTPException(400, f"invalid trace id {trace_id[:64]!r}: expected 32 hex digits")
    store: Store = request.app.state.reader
    spans = store.get_trace(trace_id.lower())
    if not spans:
        raise HTTPException(404, f"trace {trace_id.lower()} not found")
    return _chain(request, store, spans, at)


@router.get(
    "/tasks/{task_id}/causal-chain",
    response_class=OrjsonResponse,
    response_model=contract.CausalChain,
)
def task_chain(
    request: Request,
    task_id: Annotated[str, Path(min_length=1, max_length=256)],
    at: Annotated[datetime | None, Query(description=_AT)] = None,
) -> OrjsonResponse:
    """The causal chain of a task across all its traces (a retried task may start anew)."""
    store: Store = request.app.state.reader
    spans = store.get_task(task_id)
    if not spans:
        raise HTTPException(404, f"task {task_id!r} not found")
    return _chain(request, store, spans, at)
