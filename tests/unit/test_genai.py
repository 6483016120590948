"""LLM wire formats -> GenAI attributes, over the providers' documented bodies and streams."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import Any

import pytest

from oracle_monitor.demo.llm_payloads import (
    ANTHROPIC_MESSAGE,
    ANTHROPIC_RATE_LIMIT,
    OPENAI_CHAT,
    OPENAI_COMPLETION,
    OPENAI_EMBEDDINGS,
    OPENAI_RATE_LIMIT,
    OPENAI_RESPONSE,
    STREAM_TEXT,
    sse_chunks,
)
from oracle_monitor.genai import (
    LLMCall,
    StreamAccumulator,
    classify,
    finish_call,
    parse_retry_after,
    redact,
    start_call,
)


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("POST", "/v1/chat/completions", ("openai", "chat")),
        ("POST", "/openai/v1/chat/completions/", ("openai", "chat")),
        (
            "POST",
            "/openai/deployments/gpt4/chat/completions?api-version=2024-10-21",
            ("openai", "chat"),
        ),
        ("post", "/proxy/team-a/v1/responses", ("openai", "chat")),
        ("POST", "/v1/embeddings", ("openai", "embeddings")),
        ("POST", "/v1/completions", ("openai", "text_completion")),
        ("POST", "/v1/messages", ("anthropic", "chat")),
        ("POST", "/llm/anthropic/v1/messages", ("anthropic", "chat")),
        ("POST", "/v1/messages/count_tokens", None),
        ("POST", "/v1/messages/batches", None),
        ("POST", "/v1/threads/thread_abc/messages", None),
        ("POST", "/v1/responses/resp_123/cancel", None),
        ("GET", "/v1/chat/completions", None),
        ("GET", "/v1/models", None),
        ("POST", "/v1/files", None),
    ],
)
def test_classify(method: str, path: str, expected: tuple[str, str] | None) -> None:
    assert classify(method, path) == expected


@pytest.mark.parametrize(
    ("body", "model", "stream"),
    [
        (b'{"model": "gpt-4o", "stream": true, "messages": []}', "gpt-4o", True),
        (
            b'{"model": "claude-sonnet-4-20250514", "max_tokens": 10}',
            "claude-sonnet-4-20250514",
            False,
        ),
        (b'{"model": "gpt-4o", "stream": "yes"}', "gpt-4o", False),
        (b'{"model": 42}', None, False),
        (b'{"model": "gpt-4o", ', None, False),
        (b"\xff\xfe not json", None, False),
        (b"[1, 2]", None, False),
        (b"", None, False),
    ],
)
def test_start_call_reads_model_and_stream_and_never_raises(
    body: bytes, model: str | None, stream: bool
) -> None:
    call = start_call("openai", "chat", body)
    assert (call.request_model, call.stream) == (model, stream)
    assert call.attributes()["gen_ai.operation.name"] == "chat"
    assert ("gen_ai.request.model" in call.attributes()) is (model is not None)


CHAT_USAGE = {
    "gen_ai.usage.input_tokens": 2006,
    "gen_ai.usage.output_tokens": 300,
    "gen_ai.usage.cache_read.input_tokens": 1920,
    "gen_ai.usage.reasoning.output_tokens": 256,
}
RESPONSES_USAGE = {
    "gen_ai.usage.input_tokens": 1536,
    "gen_ai.usage.output_tokens": 87,
    "gen_ai.usage.cache_read.input_tokens": 1024,
    "gen_ai.usage.reasoning.output_tokens": 64,
}
ANTHROPIC_USAGE = {  # input: the whole prompt, 2095 fresh + 4102 read + 2051 written
    "gen_ai.usage.input_tokens": 8248,
    "gen_ai.usage.output_tokens": 503,
    "gen_ai.usage.cache_read.input_tokens": 4102,
    "gen_ai.usage.cache_creation.input_tokens": 2051,
}
JSON_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "openai",
        "chat",
        OPENAI_CHAT,
        {
            "gen_ai.response.model": "o4-mini-2025-04-16",
            "gen_ai.response.id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
            "gen_ai.response.finish_reasons": ["stop"],
            **CHAT_USAGE,
        },
    ),
    (
        "openai",
        "chat",
        OPENAI_RESPONSE,
        {
            "gen_ai.response.model": "gpt-4.1-2025-04-14",
            "gen_ai.response.id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
            "gen_ai.response.finish_reasons": ["completed"],
            **RESPONSES_USAGE,
        },
    ),
    (
        "openai",
        "embeddings",
        OPENAI_EMBEDDINGS,
        {"gen_ai.response.model": "text-embedding-3-small", "gen_ai.usage.input_tokens": 8},
    ),
    (
        "openai",
        "text_completion",
        OPENAI_COMPLETION,
        {
            "gen_ai.response.model": "gpt-3.5-turbo-instruct",
            "gen_ai.response.id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
            "gen_ai.response.finish_reasons": ["length"],
            "gen_ai.usage.input_tokens": 5,
            "gen_ai.usage.output_tokens": 7,
        },
    ),
    (
        "anthropic",
        "chat",
        ANTHROPIC_MESSAGE,
        {
            "gen_ai.response.model": "claude-sonnet-4-20250514",
            "gen_ai.response.id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
            "gen_ai.response.finish_reasons": ["end_turn"],
            **ANTHROPIC_USAGE,
        },
    ),
]


@pytest.mark.parametrize(("provider", "operation", "body", "expected"), JSON_CASES)
def test_finish_call_json(
    provider: str, operation: str, body: dict[str, Any], expected: dict[str, Any]
) -> None:
    call = start_call(provider, operation, b'{"model": "m"}')
    finish_call(call, 200, {"content-type": "application/json"}, json.dumps(body).encode())
    assert call.attributes() == {
        "gen_ai.operation.name": operation,
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": "m",
        "http.response.status_code": 200,
        **expected,
    }
    assert not any(k.startswith("gen_ai.usage") for k in call.attributes(usage=False))
    assert call.attributes(request=False) == {"http.response.status_code": 200, **expected}


def test_incomplete_response_reports_its_reason() -> None:
    body = {**OPENAI_RESPONSE, "status": "incomplete"}
    body["incomplete_details"] = {"reason": "max_output_tokens"}
    call = LLMCall("openai", "chat")
    finish_call(call, 200, {}, json.dumps(body).encode())
    assert call.finish_reasons == ["max_output_tokens"]


@pytest.mark.parametrize(
    ("provider", "body", "headers", "error_type", "retry_after"),
    [
        ("openai", OPENAI_RATE_LIMIT, {"retry-after": "20"}, "rate_limit_exceeded", 20.0),
        ("openai", OPENAI_RATE_LIMIT, {"Retry-After": "1.5"}, "rate_limit_exceeded", 1.5),
        ("openai", OPENAI_RATE_LIMIT, {"retry-after-ms": "120", "retry-after": "1"}, None, 0.12),
        (
            "anthropic",
            ANTHROPIC_RATE_LIMIT,
            {"retry-after": "<now + 30 s as an HTTP-date>"},
            "rate_limit_error",
            30.0,
        ),
        ("anthropic", ANTHROPIC_RATE_LIMIT, {"retry-after": "soon"}, "rate_limit_error", None),
        ("anthropic", ANTHROPIC_RATE_LIMIT, {}, "rate_limit_error", None),
        ("anthropic", None, {"retry-after": "7"}, "429", 7.0),
    ],
)
def test_rate_limited(
    provider: str,
    body: dict[str, Any] | None,
    headers: dict[str, str],
    error_type: str | None,
    retry_after: float | None,
) -> None:
    if headers.get("retry-after", "").startswith("<now"):
        headers = {"retry-after": formatdate(time.time() + 30, usegmt=True)}
    call = start_call(provider, "chat", b'{"model": "m"}')
    finish_call(call, 429, headers, json.dumps(body).encode() if body else b"<html>busy</html>")
    attrs = call.attributes()
    assert attrs["oracle.llm.rate_limited"] is True
    assert attrs["http.response.status_code"] == 429
    assert attrs["error.type"] == (error_type or "rate_limit_exceeded")
    if retry_after is None:
        assert "oracle.llm.retry_after_s" not in attrs
    else:
        assert attrs["oracle.llm.retry_after_s"] == pytest.approx(retry_after, abs=1.5)
    assert not any(key.startswith("gen_ai.usage") for key in attrs)


@pytest.mark.parametrize("body", [b"", b"{", b"\x00\x01", b"[]", b'{"error": "flat"}', b"null"])
@pytest.mark.parametrize("status", [200, 500])
def test_bad_response_bodies_do_not_raise(body: bytes, status: int) -> None:
    call = start_call("anthropic", "chat", b'{"model": "m"}')
    finish_call(call, status, {}, body)
    attrs = call.attributes()
    assert attrs["http.response.status_code"] == status
    assert attrs.get("error.type") == ("500" if status == 500 else None)
    assert "oracle.llm.rate_limited" not in attrs


def test_parse_retry_after() -> None:
    assert parse_retry_after("3", now=0) == 3.0
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0
    assert parse_retry_after("not a date") is None
    assert parse_retry_after(None) is None


def whole(data: bytes) -> list[bytes]:
    return [data]


def every_byte(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


def sevens(data: bytes) -> list[bytes]:  # splits mid-line and mid-"data:" prefix
    return [data[i : i + 7] for i in range(0, len(data), 7)]


def crlf_split(data: bytes) -> list[bytes]:  # \r\n line ends, cut between \r and \n
    data = data.replace(b"\n", b"\r\n")
    cuts = [i + 1 for i in range(len(data)) if data[i : i + 1] == b"\r"]
    return [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]


def bare_cr(data: bytes) -> list[bytes]:
    return sevens(data.replace(b"\n", b"\r"))


def per_event(data: bytes) -> list[bytes]:  # as servers send them: one event per chunk
    return [event + b"\n\n" for event in data.split(b"\n\n") if event]


Split = Callable[[bytes], list[bytes]]
SPLITS: list[Split] = [
    whole,
    per_event,
    every_byte,
    sevens,
    crlf_split,
    bare_cr,
]
STREAM_CASES: list[tuple[str, str, dict[str, Any], dict[str, Any]]] = [
    (
        "/v1/chat/completions",
        "openai",
        {"stream": True, "stream_options": {"include_usage": True}},
        {"gen_ai.response.id": OPENAI_CHAT["id"], "gen_ai.response.finish_reasons": ["stop"]}
        | CHAT_USAGE,
    ),
    (
        "/v1/chat/completions",
        "openai",
        {"stream": True},
        {"gen_ai.response.id": OPENAI_CHAT["id"], "gen_ai.response.finish_reasons": ["stop"]},
    ),
    (
        "/v1/responses",
        "openai",
        {"stream": True},
        {
            "gen_ai.response.id": OPENAI_RESPONSE["id"],
            "gen_ai.response.finish_reasons": ["completed"],
        }
        | RESPONSES_USAGE,
    ),
    (
        "/v1/messages",
        "anthropic",
        {"stream": True},
        {
            "gen_ai.response.id": ANTHROPIC_MESSAGE["id"],
            "gen_ai.response.finish_reasons": ["end_turn"],
        }
        | ANTHROPIC_USAGE,
    ),
]


@pytest.mark.parametrize("split", SPLITS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(("path", "provider", "request_body", "expected"), STREAM_CASES)
def test_stream_accumulator(
    split: Split,
    path: str,
    provider: str,
    request_body: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    call = start_call(provider, "chat", json.dumps(request_body).encode())
    assert call.stream
    accumulator = StreamAccumulator(call)
    chunks = sse_chunks(path, request_body)
    preamble = {"/v1/chat/completions": 1, "/v1/responses": 4, "/v1/messages": 3}[path]
    for piece in split(b"".join(chunks[:preamble])):  # role/start events carry no content
        accumulator.feed(piece)
    assert accumulator.first_token_ns is None
    before = time.monotonic_ns()
    for piece in split(b"".join(chunks[preamble:])):
        accumulator.feed(piece)
    accumulator.finish()
    assert accumulator.first_token_ns is not None
    assert accumulator.first_token_ns >= before
    attrs = call.attributes()
    for key, value in expected.items():
        assert attrs[key] == value, key
    assert ("gen_ai.usage.input_tokens" in attrs) is ("gen_ai.usage.input_tokens" in expected)


def test_plain_chunks_are_not_parsed_even_with_usage_null(monkeypatch: pytest.MonkeyPatch) -> None:
    """With include_usage the API puts "usage":null on every chunk; only the two that say
    something (the finish reason, the usage) are parsed, as without it."""
    from oracle_monitor import genai

    parsed: list[bytes] = []
    real = genai._json

    def counted(data: bytes) -> Any:
        parsed.append(data)
        return real(data)

    monkeypatch.setattr(genai, "_json", counted)
    body = {"model": "o4-mini", "stream": True, "stream_options": {"include_usage": True}}
    chunks = sse_chunks("/v1/chat/completions", body, None, ["Hel", "lo", " there"])
    assert all(b'"usage":null' in chunk for chunk in chunks[:-2])  # as the API sends them
    call = start_call("openai", "chat", json.dumps(body).encode())
    parsed.clear()
    accumulator = StreamAccumulator(call)
    for chunk in chunks:  # every chunk, as the LLM proxy feeds them
        accumulator.feed(chunk)
    accumulator.finish()
    assert len(parsed) == 2, parsed
    assert b'"finish_reason":"stop"' in parsed[0] and b'"prompt_tokens"' in parsed[1]
    assert (
        call.finish_reasons == ["stop"]
        and call.input_tokens == OPENAI_CHAT["usage"]["prompt_tokens"]
    )
    assert call.response_id == OPENAI_CHAT["id"] and accumulator.first_token_ns is not None


def test_stream_cut_short_keeps_what_it_said() -> None:
    call = start_call("openai", "chat", b'{"model": "o4-mini", "stream": true}')
    accumulator = StreamAccumulator(call)
    for piece in sse_chunks("/v1/chat/completions")[:3]:  # opening chunk, two texts
        accumulator.feed(piece)
    accumulator.finish()
    assert accumulator.first_token_ns is not None
    assert call.response_id == OPENAI_CHAT["id"]
    assert call.response_model == OPENAI_CHAT["model"]
    assert call.finish_reasons == []


def test_stream_without_final_blank_line_and_with_junk() -> None:
    call = LLMCall("anthropic", "chat")
    accumulator = StreamAccumulator(call)
    for piece in [
        b": comment\n\nevent: ping\ndata: {not json}\n\n",
        b"data: [1,2]\n\ndata: null\n\nretry: 10\nid: 4\n\n",
        b'data: {"type": "error", "error": {"type": "overloaded_error"}}\n\n',
        b'data: {"type": "message_delta", "delta": {"stop_reason": "max_tokens"},',
        b' "usage": {"output_tokens": 9, "input_tokens": null}}',
    ]:
        accumulator.feed(piece)
    assert "gen_ai.usage.output_tokens" not in call.attributes()  # last event not complete yet
    accumulator.finish()
    assert (call.output_tokens, call.input_tokens) == (9, None)
    assert call.finish_reasons == ["max_tokens"]
    assert call.error_type == "overloaded_error"
    assert accumulator.first_token_ns is None


def test_a_huge_line_is_not_buffered() -> None:
    accumulator = StreamAccumulator(LLMCall("openai", "chat"))
    for _ in range(40):
        accumulator.feed(b"x" * 65536)
    accumulator.feed(b"\n\n" + b"".join(sse_chunks("/v1/chat/completions")))
    accumulator.finish()
    assert accumulator.call.response_id is None  # gave up on a stream that is not SSE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("my key is sk-test-SECRET1234567890 ok", "my key is [REDACTED] ok"),
        ("sk-ant-api03-abcdefghijkl", "[REDACTED]"),
        ("Authorization: Bearer eyJhbGciOi.JIUzI1", "Authorization: [REDACTED]"),
        ("curl -H 'x-api-key: abc123def'", "curl -H 'x-api-key: [REDACTED]'"),
        ('{"api_key": "hunter2"}', '{"api_key": "[REDACTED]"}'),
        ("use bearer tok_123 now", "use [REDACTED] now"),
        ("the task-abcdef1234 and risk-free ask-me", "the task-abcdef1234 and risk-free ask-me"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_content_is_captured_only_when_asked_and_redacted() -> None:
    request = {
        "model": "claude-sonnet-4-20250514",
        "system": "You are terse.",
        "messages": [
            {"role": "user", "content": "my key is sk-ant-api03-LEAKED999 please"},
            {"role": "assistant", "content": [{"type": "text", "text": "ok"}]},
            {"role": "user", "content": [{"type": "image", "source": {}}]},
        ],
    }
    body = json.dumps(request).encode()
    assert start_call("anthropic", "chat", body).attributes().get("gen_ai.input.messages") is None
    call = start_call("anthropic", "chat", body, capture_content=True)
    accumulator = StreamAccumulator(call)
    accumulator.feed(b"".join(sse_chunks("/v1/messages")))
    accumulator.finish()
    messages = json.loads(str(call.attributes()["gen_ai.input.messages"]))
    assert messages[0] == {
        "role": "system",
        "parts": [{"type": "text", "content": "You are terse."}],
    }
    assert messages[1]["parts"][0]["content"] == "my key is [REDACTED] please"
    assert messages[3]["parts"] == [{"type": "image"}]
    output = json.loads(str(call.attributes()["gen_ai.output.messages"]))
    assert output == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "".join(STREAM_TEXT)}],
            "finish_reason": "end_turn",
        }
    ]


def test_json_output_content() -> None:
    call = start_call(
        "openai", "chat", b'{"input": "hi", "instructions": "be brief"}', capture_content=True
    )
    finish_call(call, 200, {}, json.dumps(OPENAI_RESPONSE).encode())
    output = json.loads(str(call.output_messages))
    assert output[0]["parts"][0]["content"].startswith("In a peaceful grove")
    assert json.loads(str(call.input_messages))[1] == {
        "role": "user",
        "parts": [{"type": "text", "content": "hi"}],
    }
