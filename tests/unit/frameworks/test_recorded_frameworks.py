"""The dialect table and attribution by hierarchy, on what real frameworks sent.

Each fixture under ``tests/fixtures/frameworks/`` is one workflow's OTLP JSON, recorded from the
real library (``python -m tests.frameworks.record <name>``), with the LLM calls the fake model
served (``<name>.calls.json``: the agent that made each call and its exact tokens). The spans
are decoded and processed as ``serve``'s chain does (GenAI fields, prices), and written to a
SQLite store in batches of every order a real exporter could produce (children before parents,
parents never, one span at a time): each LLM call must end up under the agent that made it,
with its exact tokens.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from oracle_monitor.model import Span
from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.processing.pricing import Pricing, load_prices
from oracle_monitor.receiver.decode import DecodeLimits
from oracle_monitor.receiver.otlp_json import decode_json
from oracle_monitor.store.sqlite import SQLiteStore

FIXTURES = Path(__file__).parents[2] / "fixtures" / "frameworks"
NAMES = sorted(p.name.removesuffix(".calls.json") for p in FIXTURES.glob("*.calls.json"))


def recorded(name: str) -> tuple[list[Span], list[dict[str, object]]]:
    body = (FIXTURES / f"{name}.json").read_bytes()
    spans = decode_json(body, DecodeLimits()).spans
    GenAIFields().process(spans)
    Pricing(load_prices(None)).process(spans)
    calls = json.loads((FIXTURES / f"{name}.calls.json").read_text())
    return spans, calls


def served_by_agent(calls: list[dict[str, object]]) -> Counter[tuple[str, str]]:
    tokens: Counter[tuple[str, str]] = Counter()
    for call in calls:
        agent = str(call["agent"])
        tokens[(agent, "input")] += int(str(call["input_tokens"]))
        tokens[(agent, "output")] += int(str(call["output_tokens"]))
    return tokens


def orders(spans: list[Span]) -> Iterator[tuple[str, list[list[Span]]]]:
    """The batches of each arrival order tried."""
    yield "as exported", [spans]
    yield "one by one, children first", [[s] for s in sorted(spans, key=lambda s: -s.end_time_ns)]
    shuffled = spans[:]
    random.Random(7).shuffle(shuffled)
    yield "shuffled, in threes", [shuffled[i : i + 3] for i in range(0, len(shuffled), 3)]


@pytest.mark.parametrize("name", NAMES)
def test_every_call_is_counted_once_under_its_agent(name: str, tmp_path: Path) -> None:
    spans, calls = recorded(name)
    llm_calls = [s for s in spans if s.provider is not None and s.input_tokens is not None]
    assert len(llm_calls) == len(calls), "every LLM call span is recognised, nothing else"
    assert sorted(s.input_tokens or 0 for s in llm_calls) == sorted(
        int(str(c["input_tokens"])) for c in calls
    )
    for order, batches in orders(spans):
        store = SQLiteStore(tmp_path / f"{order}.db")
        try:
            for batch in batches:
                # copies: the store fills in attribution on the spans it is given
                store.write_spans([dataclasses.replace(s) for s in batch])
            counted: Counter[tuple[str, str]] = Counter()
            for group in store.llm_costs("agent"):
                counted[(str(group.key), "input")] += group.input_tokens
                counted[(str(group.key), "output")] += group.output_tokens
                assert group.unpriced_requests == 0 and group.cost_usd > 0
            assert counted == served_by_agent(calls), order
        finally:
            store.close()
