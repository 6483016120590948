"""A stream's tail, kept unparsed after the first token, says what every chunk would have said.

`StreamAccumulator.feed_tail` gets the bytes of a stream after its first token at once (the
instrumentation keeps them unparsed, `oracle_monitor.instrumentation.llm_span`), whole or
with their start dropped. Checked against feeding every chunk, over the providers' documented
streams cut in every way `test_genai` cuts them, and with the tail starting at every byte.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from oracle_monitor.demo.llm_payloads import sse_chunks
from oracle_monitor.genai import LLMCall, StreamAccumulator, start_call
from tests.unit.test_genai import SPLITS, STREAM_CASES, Split

CASES = [(path, provider, body) for path, provider, body, _ in STREAM_CASES]
PARTS = [" tok"] * 300  # a stream long enough to have a middle
# Where each stream's closing events (usage, finish reason) begin.
CLOSING = {
    "/v1/chat/completions": b'"finish_reason":"stop"',
    "/v1/responses": b"event: response.completed",
    "/v1/messages": b"event: message_delta",
}


def stream(path: str, body: dict[str, Any]) -> bytes:
    return b"".join(sse_chunks(path, body, None, PARTS))


def every_chunk(provider: str, body: dict[str, Any], chunks: list[bytes]) -> dict[str, Any]:
    call = start_call(provider, "chat", json.dumps(body).encode())
    accumulator = StreamAccumulator(call)
    for chunk in chunks:
        accumulator.feed(chunk)
    accumulator.finish()
    return dict(call.attributes())


def until_first_token(
    provider: str, body: dict[str, Any], chunks: list[bytes]
) -> tuple[LLMCall, StreamAccumulator, list[bytes]]:
    """Feed chunks as the instrumentation does until the first token; the rest is the tail."""
    call = start_call(provider, "chat", json.dumps(body).encode())
    accumulator = StreamAccumulator(call)
    for index, chunk in enumerate(chunks):
        accumulator.feed(chunk)
        if accumulator.first_token_ns is not None:
            return call, accumulator, chunks[index + 1 :]
    raise AssertionError("no first token")


@pytest.mark.parametrize("split", SPLITS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("path", "provider", "body"), CASES)
def test_a_whole_tail_says_what_every_chunk_says(
    split: Split, path: str, provider: str, body: dict[str, Any]
) -> None:
    chunks = split(stream(path, body))
    expected = every_chunk(provider, body, chunks)
    assert "gen_ai.response.finish_reasons" in expected
    call, accumulator, tail = until_first_token(provider, body, chunks)
    assert tail or len(chunks) == 1
    accumulator.feed_tail(b"".join(tail), contiguous=True)
    accumulator.finish()
    assert call.attributes() == expected


@pytest.mark.parametrize("crlf", [False, True], ids=["lf", "crlf"])
@pytest.mark.parametrize(("path", "provider", "body"), CASES)
def test_a_tail_missing_its_start_still_has_the_closing_events(
    path: str, provider: str, body: dict[str, Any], crlf: bool
) -> None:
    data = stream(path, body)
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    expected = every_chunk(provider, body, [data])
    closing = data.rindex(b"\n", 0, data.index(CLOSING[path])) + 1
    mid = len(data) // 2
    assert mid < closing - 400
    for cut in [*range(mid, mid + 400), *range(closing - 400, len(data) + 1)]:  # byte by byte
        call, accumulator, _ = until_first_token(provider, body, [data[:64], data[64:mid]])
        accumulator.feed_tail(data[cut:], contiguous=False)
        accumulator.finish()
        if cut <= closing:  # the closing events are whole in the tail
            assert call.attributes() == expected, cut
        else:  # started inside them: what was lost is lost, nothing else goes wrong
            assert call.attributes().get("gen_ai.response.id") == expected["gen_ai.response.id"]


def test_a_tail_that_ends_mid_event_leaves_it_to_finish() -> None:
    body = {"stream": True, "stream_options": {"include_usage": True}}
    data = stream("/v1/chat/completions", body)
    expected = every_chunk("openai", body, [data])
    unended = data.removesuffix(b"data: [DONE]\n\n").removesuffix(b"\n\n")
    call, accumulator, tail = until_first_token("openai", body, [unended[:300], unended[300:]])
    accumulator.feed_tail(b"".join(tail), contiguous=True)
    assert call.input_tokens is None  # the usage event has no blank line yet
    accumulator.finish()
    assert call.attributes() == expected


def test_text_that_looks_like_a_fact_is_only_text() -> None:
    parts = [' "usage": {"prompt_tokens": 1}', ' "finish_reason": "x"', "message_delta"] * 50
    body = {"stream": True, "stream_options": {"include_usage": True}}
    chunks = sse_chunks("/v1/chat/completions", body, None, parts)
    expected = every_chunk("openai", body, chunks)
    call, accumulator, tail = until_first_token("openai", body, chunks)
    accumulator.feed_tail(b"".join(tail), contiguous=True)
    accumulator.finish()
    assert call.attributes() == expected
    assert call.input_tokens == 2006
