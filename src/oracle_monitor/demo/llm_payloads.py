"""What the local LLM provider answers: the providers' documented bodies, and SSE framing.

The constants are the documented example responses of OpenAI (chat completions, responses,
embeddings, completions) and Anthropic (messages), with usage objects that have cached and
reasoning tokens, and the two providers' 429 bodies. `sse_chunks` gives the exact bytes a
stream of them sends, one item per event. `with_answer` makes a body of the same shape with
another model, answer text and usage (the provider's realistic mode).
"""

from __future__ import annotations

import base64
import copy
import json
import struct
import time
from typing import Any

OPENAI_CHAT: dict[str, Any] = {
    "id": "chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT",
    "object": "chat.completion",
    "created": 1741569952,
    "model": "o4-mini-2025-04-16",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Hello! How can I assist you today?",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2006,
        "completion_tokens": 300,
        "total_tokens": 2306,
        "prompt_tokens_details": {"cached_tokens": 1920, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 256,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": "fp_44709d6fcb",
}
OPENAI_RESPONSE: dict[str, Any] = {
    "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
    "object": "response",
    "created_at": 1741476542,
    "status": "completed",
    "error": None,
    "incomplete_details": None,
    "instructions": None,
    "max_output_tokens": None,
    "model": "gpt-4.1-2025-04-14",
    "output": [
        {
            "type": "message",
            "id": "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
            "status": "completed",
            "role": "assistant",
            "content": [
                {
                    "type": "output_text",
                    "text": "In a peaceful grove beneath a silver moon, a unicorn named Lumina "
                    "discovered a hidden pool that reflected the stars.",
                    "annotations": [],
                }
            ],
        }
    ],
    "parallel_tool_calls": True,
    "previous_response_id": None,
    "reasoning": {"effort": None, "summary": None},
    "store": True,
    "temperature": 1.0,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": 1.0,
    "truncation": "disabled",
    "usage": {
        "input_tokens": 1536,
        "input_tokens_details": {"cached_tokens": 1024},
        "output_tokens": 87,
        "output_tokens_details": {"reasoning_tokens": 64},
        "total_tokens": 1623,
    },
    "user": None,
    "metadata": {},
}
EMBEDDING = [0.0023064255, -0.009327292, 0.015797347, -0.0077780345]
OPENAI_EMBEDDINGS: dict[str, Any] = {
    "object": "list",
    "data": [{"object": "embedding", "embedding": EMBEDDING, "index": 0}],
    "model": "text-embedding-3-small",
    "usage": {"prompt_tokens": 8, "total_tokens": 8},
}
OPENAI_COMPLETION: dict[str, Any] = {
    "id": "cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7",
    "object": "text_completion",
    "created": 1589478378,
    "model": "gpt-3.5-turbo-instruct",
    "system_fingerprint": "fp_44709d6fcb",
    "choices": [
        {
            "text": "\n\nThis is indeed a test",
            "index": 0,
            "logprobs": None,
            "finish_reason": "length",
        }
    ],
    "usage": {"prompt_tokens": 5, "completion_tokens": 7, "total_tokens": 12},
}
ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_013Zva2CMHLNnXjNJJKqJ2EF",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-20250514",
    "content": [{"type": "text", "text": "Hi! My name is Claude."}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {
        "input_tokens": 2095,
        "output_tokens": 503,
        "cache_creation_input_tokens": 2051,
        "cache_read_input_tokens": 4102,
    },
}
OPENAI_RATE_LIMIT: dict[str, Any] = {
    "error": {
        "message": "Rate limit reached for o4-mini in organization org-fake on requests per min "
        "(RPM): Limit 500, Used 500, Requested 1. Please try again in 120ms.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }
}
ANTHROPIC_RATE_LIMIT: dict[str, Any] = {
    "type": "error",
    "error": {
        "type": "rate_limit_error",
        "message": "Number of request tokens has exceeded your per-minute rate limit",
    },
    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fy",
}
OPENAI_QUOTA: dict[str, Any] = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing "
        "details. For more information on this error, read the docs: "
        "https://platform.openai.com/docs/guides/error-codes/api-errors.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
ANTHROPIC_QUOTA: dict[str, Any] = {
    "type": "error",
    "error": {
        "type": "invalid_request_error",
        "message": "Your credit balance is too low to access the Anthropic API. Please go to "
        "Plans & Billing to upgrade or purchase credits.",
    },
    "request_id": "req_011CSHoEeqs5C35K2UUqR7Fz",
}
STREAM_TEXT = ["Hello", "!", " How", " can", " I", " help", "?"]


def rate_limit_error(
    anthropic: bool, model: str, which: str, requested: int, retry_after: str
) -> dict[str, Any]:
    """A provider's 429 body naming the limit that was hit (``which``: "requests per 10s:
    Limit 2, Used 2")."""
    if anthropic:
        message = f"This request would exceed the rate limit for your organization ({which})."
        return {**ANTHROPIC_RATE_LIMIT, "error": {"type": "rate_limit_error", "message": message}}
    kind = "requests" if which.startswith("requests") else "tokens"
    asked = 1 if kind == "requests" else requested
    message = (f"Rate limit reached for {model} in organization org-demo on {which}, "
               f"Requested {asked}. Please try again in {retry_after}s.")  # fmt: skip
    return {"error": {**OPENAI_RATE_LIMIT["error"], "message": message, "type": kind}}


def _event(data: Any, name: str | None = None) -> bytes:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def _chat_chunks(include_usage: bool, chat: dict[str, Any], parts: list[str]) -> list[bytes]:
    base = {k: chat[k] for k in ("id", "created", "model", "system_fingerprint")}
    base["object"] = "chat.completion.chunk"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        # With include_usage every chunk but the last carries "usage":null, as the API sends.
        usage = {"usage": None} if include_usage else {}
        return _event({**base, "choices": [choice], **usage})

    out = [chunk({"role": "assistant", "content": "", "refusal": None})]
    out += [chunk({"content": text}) for text in parts]
    out.append(chunk({}, "stop"))
    if include_usage:
        out.append(_event({**base, "choices": [], "usage": chat["usage"]}))
    return [*out, b"data: [DONE]\n\n"]


def _responses_chunks(response: dict[str, Any], parts: list[str]) -> list[bytes]:
    item_id = response["output"][0]["id"]
    started = {**response, "status": "in_progress", "output": [], "usage": None}
    events: list[tuple[str, dict[str, Any]]] = [
        ("response.created", {"response": started}),
        ("response.in_progress", {"response": started}),
        (
            "response.output_item.added",
            {
                "output_index": 0,
                "item": {
                    "id": item_id,
                    "status": "in_progress",
                    "type": "message",
                    "role": "assistant",
                    "content": [],
                },
            },
        ),
        (
            "response.content_part.added",
            {
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []},
            },
        ),
    ]
    events += [
        (
            "response.output_text.delta",
            {"item_id": item_id, "output_index": 0, "content_index": 0, "delta": text},
        )
        for text in parts
    ]
    events += [
        (
            "response.output_text.done",
            {
                "item_id": item_id,
                "output_index": 0,
                "content_index": 0,
                "text": "".join(parts),
            },
        ),
        ("response.output_item.done", {"output_index": 0, "item": response["output"][0]}),
        ("response.completed", {"response": response}),
    ]
    return [
        _event({"type": name, "sequence_number": n, **data}, name)
        for n, (name, data) in enumerate(events)
    ]


def _messages_chunks(message: dict[str, Any], parts: list[str]) -> list[bytes]:
    usage = {**message["usage"], "output_tokens": 1}
    start = {**message, "content": [], "stop_reason": None, "usage": usage}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"},
        *(
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": t}}
            for t in parts
        ),
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return [_event(event, event["type"]) for event in events]


def sse_chunks(
    path: str,
    body: dict[str, Any] | None = None,
    answer: dict[str, Any] | None = None,
    parts: list[str] | None = None,
) -> list[bytes]:
    """The SSE events (exact bytes, one per item) streamed for a request to ``path``.

    ``answer`` is the complete body (default: the documented example) and ``parts`` its text
    as the deltas are sent (default `STREAM_TEXT`).
    """
    parts = STREAM_TEXT if parts is None else parts
    if path.endswith("/chat/completions"):
        include = bool(((body or {}).get("stream_options") or {}).get("include_usage"))
        return _chat_chunks(include, answer or OPENAI_CHAT, parts)
    if path.endswith("/responses"):
        return _responses_chunks(answer or OPENAI_RESPONSE, parts)
    return _messages_chunks(answer or ANTHROPIC_MESSAGE, parts)


def example(path: str, body: dict[str, Any]) -> dict[str, Any]:
    """The documented example answer to a request for ``path``."""
    if path.endswith("/chat/completions"):
        return OPENAI_CHAT
    if path.endswith("/responses"):
        return OPENAI_RESPONSE
    if path.endswith("/embeddings"):
        return embeddings(body)
    if path.endswith("/completions"):
        return OPENAI_COMPLETION
    return ANTHROPIC_MESSAGE


def with_answer(
    path: str, model: str, text: str, tokens: tuple[int, int, int], request_id: str
) -> dict[str, Any]:
    """The example body for ``path`` with another model, answer and usage.

    ``tokens`` is (input, cached input, output); ``request_id`` makes the ids unique.
    """
    inp, cached, out = tokens
    if path.endswith("/chat/completions"):
        chat = copy.deepcopy(OPENAI_CHAT)
        chat.update(id=f"chatcmpl-{request_id}", model=model, created=_now())
        chat["choices"][0]["message"]["content"] = text
        chat["usage"] = {
            "prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
            "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            },
        }  # fmt: skip
        return chat
    if path.endswith("/responses"):
        response = copy.deepcopy(OPENAI_RESPONSE)
        response.update(id=f"resp_{request_id}", model=model, created_at=_now())
        response["output"][0]["content"][0]["text"] = text
        response["usage"] = {
            "input_tokens": inp, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": out, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": inp + out,
        }  # fmt: skip
        return response
    if path.endswith("/messages"):
        message = copy.deepcopy(ANTHROPIC_MESSAGE)
        message.update(id=f"msg_{request_id}", model=model)
        message["content"] = [{"type": "text", "text": text}]
        message["usage"] = {
            "input_tokens": inp - cached, "output_tokens": out,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": cached,
        }  # fmt: skip
        return message
    return example(path, {})


def _now() -> int:
    return int(time.time())


def embeddings(body: dict[str, Any]) -> dict[str, Any]:
    """The example embeddings, as floats or (``encoding_format=base64``) packed."""
    if body.get("encoding_format") != "base64":
        return OPENAI_EMBEDDINGS
    packed = base64.b64encode(struct.pack(f"<{len(EMBEDDING)}f", *EMBEDDING)).decode()
    return {**OPENAI_EMBEDDINGS, "data": [{**OPENAI_EMBEDDINGS["data"][0], "embedding": packed}]}
