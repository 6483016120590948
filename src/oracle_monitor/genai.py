"""LLM wire formats -> OpenTelemetry GenAI span attributes. Pure: no I/O, no globals changed.

`classify` tells an LLM call from its HTTP method and path, `start_call` reads the request body,
`finish_call` a whole (non-streamed) response and `StreamAccumulator` a server-sent-event stream
fed in arbitrary chunks. `LLMCall.attributes` gives the span attributes in the GenAI semantic
conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/, "Development" status).

Operation names follow the conventions' well-known values: OpenAI ``/chat/completions`` and
``/responses`` are both ``chat`` (the Responses API is a chat-style generation and the
conventions define no separate value for it), ``/embeddings`` is ``embeddings``, the legacy
``/completions`` is ``text_completion``, Anthropic ``/messages`` is ``chat``.

Token counts on spans follow the GenAI conventions, whose ``gen_ai.usage.input_tokens`` is
the whole prompt, cached tokens included (as the ``anthropic`` SDK's own spans count it):

- OpenAI (chat and responses): the provider's ``prompt_tokens``/``input_tokens`` already
  include the cached tokens that ``cache_read_tokens`` (``cached_tokens``) reports, and
  ``output_tokens`` includes ``reasoning_tokens``.
- Anthropic's ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``; `LLMCall` keeps the provider's figure in ``input_tokens``
  and reports the sum of the three (`LLMCall.prompt_tokens`) as ``gen_ai.usage.input_tokens``.

Message content (``gen_ai.input.messages`` / ``gen_ai.output.messages``, JSON strings in the
conventions' parts format) is only collected when the caller asks for it (``capture_content``),
and always passes through `redact` first.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

import orjson

from oracle_monitor.model import AttributeValue

#: ``error.type`` of an LLM call whose caller went away before the whole answer was sent
#: (recorded by the LLM proxy): the call did not fail; its caller did.
CLIENT_DISCONNECTED = "client_disconnected"

_SECRET = re.compile(
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]{6,}"
    r"|(?i:bearer)\s+[A-Za-z0-9._~+/\-]+=*"
    r"|((?i:x-api-key|api[_-]?key|authorization)\\?[\"']?\s*[:=]\s*\\?[\"']?)"
    r"(?:(?i:bearer)\s+)?[^\"'\s,}\\]+"
)
_MAX_LINE = 1 << 20  # a longer "line" is not SSE; stop parsing rather than buffer it
# Named SSE events whose data holds nothing an LLM span records (Anthropic messages, OpenAI
# responses API): their text, if any, repeats the deltas'.
_QUIET_EVENTS = frozenset(
    {
        b"ping",
        b"content_block_start",
        b"content_block_stop",
        b"message_stop",
        b"response.in_progress",
        b"response.output_item.added",
        b"response.output_item.done",
        b"response.content_part.added",
        b"response.content_part.done",
        b"response.output_text.done",
    }
)
# What, after a stream's first token, an event can still tell `StreamAccumulator._event` (the
# text itself aside): usage, a finish reason, Anthropic's closing delta or an error, a whole
# response object (responses API). JSON strings escape their quotes, so no text matches. Such
# events close a stream: each API sends them among its last few events (OpenAI chat: a chunk
# per finishing choice, then usage and [DONE]; Anthropic: message_delta, message_stop; the
# responses API: the output's .done events, then response.completed), and a later one
# replaces what an earlier one said, so only the last `_CLOSING_EVENTS` are searched.
_TAIL_FACTS = re.compile(
    rb'"(?:usage"\s*:\s*\{|finish_reason"\s*:\s*"|stop_reason"\s*:\s*"|response"\s*:\s*\{'
    rb'|type"\s*:\s*"(?:error|message_delta)")'
)
_CLOSING_EVENTS = 8


def redact(text: str) -> str:
    """`text` with API keys (``sk-...``, ``sk-ant-...``), bearer tokens and key fields masked."""
    return _SECRET.sub(_mask, text)


def _mask(match: re.Match[str]) -> str:
    return (match.group(1) or "") + "[REDACTED]"


@dataclass(slots=True)
class LLMCall:
    """What one LLM call said about itself, in request, response or stream."""

    provider: str  # "openai" | "anthropic" (gen_ai.provider.name)
    operation: str  # "chat" | "embeddings" | "text_completion" (gen_ai.operation.name)
    request_model: str | None = None
    stream: bool = False
    response_model: str | None = None
    response_id: str | None = None
    finish_reasons: list[str] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_creation_tokens: int | None = None
    reasoning_tokens: int | None = None
    error_type: str | None = None  # provider's error type/code, else the HTTP status
    status_code: int | None = None
    retry_after_s: float | None = None
    capture_content: bool = False
    input_messages: str | None = None  # redacted JSON, only with capture_content
    output_messages: str | None = None  # redacted JSON, only with capture_content

    @property
    def prompt_tokens(self) -> int | None:
        """All input tokens, cached ones included (the conventions' ``input_tokens``)."""
        if self.provider != "anthropic" or self.input_tokens is None:
            return self.input_tokens
        return self.input_tokens + (self.cache_read_tokens or 0) + (self.cache_creation_tokens or 0)

    def attributes(self, *, usage: bool = True, request: bool = True) -> dict[str, AttributeValue]:
        """GenAI span attributes; keys whose value is unknown are left out.

        ``usage=False`` leaves out the ``gen_ai.usage.*`` counts (when another span of the same
        call reports them); ``request=False`` the ones the request alone gives (operation,
        provider, request model, input messages: when the span already has them).
        """
        attrs: dict[str, AttributeValue] = {}
        if request:
            attrs["gen_ai.operation.name"] = self.operation
            attrs["gen_ai.provider.name"] = self.provider
            if self.request_model is not None:
                attrs["gen_ai.request.model"] = self.request_model
            if self.input_messages is not None:
                attrs["gen_ai.input.messages"] = self.input_messages
        pairs: tuple[tuple[str, AttributeValue], ...] = (
            ("gen_ai.response.model", self.response_model),
            ("gen_ai.response.id", self.response_id),
            ("gen_ai.response.finish_reasons", list(self.finish_reasons) or None),
            ("error.type", self.error_type),
            ("http.response.status_code", self.status_code),
            ("gen_ai.output.messages", self.output_messages),
        )
        if usage:
            pairs += (
                ("gen_ai.usage.input_tokens", self.prompt_tokens),
                ("gen_ai.usage.output_tokens", self.output_tokens),
                ("gen_ai.usage.cache_read.input_tokens", self.cache_read_tokens),
                ("gen_ai.usage.cache_creation.input_tokens", self.cache_creation_tokens),
                ("gen_ai.usage.reasoning.output_tokens", self.reasoning_tokens),
            )
        for key, value in pairs:
            if value is not None:
                attrs[key] = value
        if self.status_code == 429:
            attrs["oracle.llm.rate_limited"] = True
            if self.retry_after_s is not None:
                attrs["oracle.llm.retry_after_s"] = self.retry_after_s
        return attrs


def classify(method: str, path: str) -> tuple[str, str] | None:
    """``(provider, operation)`` for an LLM API request, else None. Any path prefix is allowed."""
    if method.upper() != "POST":
        return None
    path = path.partition("?")[0].rstrip("/")
    if path.endswith("/chat/completions") or path.endswith("/responses"):
        return ("openai", "chat")
    if path.endswith("/embeddings"):
        return ("openai", "embeddings")
    if path.endswith("/completions"):
        return ("openai", "text_completion")
    if path.endswith("/messages") and "/threads/" not in path:  # not OpenAI's Assistants API
        return ("anthropic", "chat")
    return None


def _json(body: bytes) -> Any:
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def start_call(
    provider: str, operation: str, request_body: bytes, *, capture_content: bool = False
) -> LLMCall:
    """An `LLMCall` with the model and stream flag of a JSON request body; never raises."""
    call = LLMCall(provider, operation, capture_content=capture_content)
    data = _json(request_body)
    if isinstance(data, dict):
        model = data.get("model")
        call.request_model = model if isinstance(model, str) else None
        call.stream = data.get("stream") is True
        if capture_content:
            messages = _input_messages(data)
            if messages:
                call.input_messages = redact(orjson.dumps(messages).decode())
    return call


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for block in content if isinstance(content, list) else ():
        if isinstance(block, dict):
            text = block.get("text")
            if isinstance(text, str):
                parts.append({"type": "text", "content": text})
            else:
                parts.append({"type": str(block.get("type", "unknown"))})
    return parts


def _input_messages(data: dict[str, Any]) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    for key in ("system", "instructions"):  # Anthropic system prompt, responses instructions
        if data.get(key):
            messages.append({"role": "system", "parts": _parts(data[key])})
    items = data.get("messages", data.get("input", data.get("prompt")))
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items if isinstance(items, list) else ():
        if isinstance(item, dict):
            content = item.get("content", item.get("text"))
            messages.append({"role": str(item.get("role", "user")), "parts": _parts(content)})
        elif isinstance(item, str):  # embeddings / completions input lists
            messages.append({"role": "user", "parts": _parts(item)})
    return messages


def _count(value: Any) -> int | None:
    return value if type(value) is int else None


def _apply_usage(call: LLMCall, usage: Any) -> None:
    """Usage of OpenAI chat/completions/embeddings, the responses API or Anthropic."""
    if not isinstance(usage, dict):
        return
    in_details = usage.get("prompt_tokens_details") or usage.get("input_tokens_details")
    out_details = usage.get("completion_tokens_details") or usage.get("output_tokens_details")
    found = (
        ("input_tokens", usage.get("prompt_tokens", usage.get("input_tokens"))),
        ("output_tokens", usage.get("completion_tokens", usage.get("output_tokens"))),
        ("cache_read_tokens", usage.get("cache_read_input_tokens")),
        ("cache_creation_tokens", usage.get("cache_creation_input_tokens")),
        ("cache_read_tokens", in_details.get("cached_tokens") if in_details else None),
        ("reasoning_tokens", out_details.get("reasoning_tokens") if out_details else None),
    )
    for name, value in found:
        if type(value) is int:  # an absent or null count keeps what an earlier event said
            setattr(call, name, value)


def _apply_response(call: LLMCall, data: dict[str, Any]) -> None:
    """A whole response object (any of the three APIs) or a response inside a stream event."""
    if isinstance(data.get("id"), str):
        call.response_id = data["id"]
    if isinstance(data.get("model"), str):
        call.response_model = data["model"]
    _apply_usage(call, data.get("usage"))
    reasons: list[str] = []
    for choice in data.get("choices") or ():
        if isinstance(choice, dict) and isinstance(choice.get("finish_reason"), str):
            reasons.append(choice["finish_reason"])
    if isinstance(data.get("stop_reason"), str):  # Anthropic
        reasons.append(data["stop_reason"])
    if data.get("object") == "response" and isinstance(data.get("status"), str):
        incomplete = data.get("incomplete_details")
        reason = incomplete.get("reason") if isinstance(incomplete, dict) else None
        reasons.append(reason if isinstance(reason, str) else data["status"])
    if reasons:
        call.finish_reasons = reasons


def _output_text(data: dict[str, Any]) -> list[str]:
    texts: list[str] = []
    for choice in data.get("choices") or ():
        message = choice.get("message") if isinstance(choice, dict) else None
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            texts.append(message["content"])
        elif isinstance(choice, dict) and isinstance(choice.get("text"), str):
            texts.append(choice["text"])
    blocks = list(data.get("content") or ())  # Anthropic
    for item in data.get("output") or ():  # responses API
        if isinstance(item, dict):
            blocks.extend(item.get("content") or ())
    texts.extend(
        b["text"] for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)
    )
    return texts


def _set_output(call: LLMCall, texts: list[str]) -> None:
    message: dict[str, Any] = {"role": "assistant", "parts": _parts("".join(texts))}
    if call.finish_reasons:
        message["finish_reason"] = call.finish_reasons[0]
    call.output_messages = redact(orjson.dumps([message]).decode())


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``retry-after`` value: delta-seconds or an HTTP-date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, round(when - (time.time() if now is None else now), 3))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:  # a plain dict is case-sensitive
        value = next((v for k, v in headers.items() if k.lower() == name), None)
    return value


def finish_call(call: LLMCall, status_code: int, headers: Mapping[str, str], body: bytes) -> None:
    """Complete `call` from a whole response, an error body included; never raises."""
    call.status_code = status_code
    data = _json(body)
    if status_code >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        kind = None
        if isinstance(error, dict):  # OpenAI {"error": {"code", "type"}}, Anthropic {"type"}
            kind = next(
                (v for v in (error.get("code"), error.get("type")) if isinstance(v, str)), None
            )
        call.error_type = kind or str(status_code)
        ms = _header(headers, "retry-after-ms")
        try:
            call.retry_after_s = float(ms) / 1000 if ms else None
        except ValueError:
            call.retry_after_s = None
        if call.retry_after_s is None:
            call.retry_after_s = parse_retry_after(_header(headers, "retry-after"))
        return
    if isinstance(data, dict):
        _apply_response(call, data)
        if call.capture_content:
            _set_output(call, _output_text(data))


class StreamAccumulator:
    """Incremental server-sent-events parser for a streamed LLM response.

    `feed` takes the raw bytes in whatever chunks they arrive (split anywhere, ``\\n``, ``\\r``
    or ``\\r\\n`` line ends) and keeps only the current partial line and event, so memory stays
    bounded by the longest event. `first_token_ns` is the `time.monotonic_ns` at which the first
    chunk carrying generated content was fed. `finish` completes the call at the stream's end.

    Substrings are looked for with ``bytes.find``, not ``in``: CPython's ``in`` on bytes first
    tries its operand as an integer, raising and clearing a ``TypeError`` every time, which
    made up a tenth of the parsing of a short stream.
    """

    __slots__ = (
        "_cr",
        "_data",
        "_dead",
        "_line",
        "_name",
        "_opening",
        "_texts",
        "call",
        "first_token_ns",
    )

    def __init__(self, call: LLMCall) -> None:
        self.call = call
        self.first_token_ns: int | None = None
        self._line = bytearray()
        self._data: list[bytes] = []
        self._name = b""  # the event's `event:` field
        self._texts: list[str] = []
        self._cr = False  # the previous chunk ended in \r (its \n may start this one)
        self._dead = False  # not SSE after all; stop looking
        self._opening = b""  # an OpenAI stream's opening chunk, parsed only if nothing else said

    def feed(self, chunk: bytes) -> None:
        """Parse the complete lines in ``chunk``; keep its incomplete tail for the next call."""
        if self._dead or not chunk:
            return
        if (  # the usual chunk: one whole event, one data line (and a name), nothing pending
            chunk[-2:] == b"\n\n"
            and not (self._line or self._data or self._name or self._cr)
            and chunk.find(b"\r") < 0
        ):
            ends = chunk.count(b"\n")
            if ends == 2 and chunk[:6] == b"data: ":
                self._dispatch(chunk[6:-2])
                return
            if ends == 3 and chunk[:7] == b"event: ":
                head, _, rest = chunk.partition(b"\n")
                if rest[:6] == b"data: ":
                    self._name = head[7:].strip()
                    self._dispatch(rest[6:-2])
                    self._name = b""
                    return
        if self._cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._cr = chunk[-1:] == b"\r"
        if chunk.find(b"\r") >= 0:
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if chunk.find(b"\n") < 0:
            self._line += chunk
            if len(self._line) > _MAX_LINE:
                self._dead = True
                self._line.clear()
            return
        lines = chunk.split(b"\n")
        if self._line:
            lines[0] = bytes(self._line) + lines[0]
            self._line.clear()
        tail = lines.pop()
        if tail:
            self._line += tail
        self._lines(lines)

    def feed_tail(self, data: bytes, contiguous: bool) -> None:
        """The stream's last bytes, kept unparsed since its first token: parse what matters.

        ``data`` continues what `feed` saw when ``contiguous``; otherwise its start was dropped
        and it begins mid-event. Only the closing events that can still change the span (see
        `_TAIL_FACTS`) are parsed, in order; a last event without its blank line stays
        pending for `finish`. Same outcome as feeding every chunk, without content capture.
        """
        if self._dead or not data:
            return
        if self._cr and contiguous and data[:1] == b"\n":
            data = data[1:]
        self._cr = False
        if data.find(b"\r") >= 0:
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        if not contiguous:  # begins mid-event: skip to the next event
            self._line.clear()
            self._data.clear()
            self._name = b""
            if data[:1] == b"\n" or data.startswith((b"data:", b"event:")):
                done = 0  # a line starts here: from it on, events are whole
            else:
                done = data.find(b"\n\n") + 2
                if done < 2:
                    return
        else:
            end = data.find(b"\n\n")  # the end of the event the tail starts in
            if end < 0:
                self.feed(data)
                return
            done = end + 2
            head = data[:done]
            pending = self._line or self._data or self._name or head[:1] == b"\n"
            if pending or _TAIL_FACTS.search(head):
                self.feed(head)  # ends the event `feed` had begun, or one that matters
        # The closing events: the last whole ones, and after them the stream's unended last
        # event (empty when the stream ended with a blank line), which stays pending.
        events = (data[done:] if done else data).rsplit(b"\n\n", _CLOSING_EVENTS + 1)
        unended = events.pop()
        if len(events) > _CLOSING_EVENTS:
            del events[0]  # everything before them
        for event in events:
            if _TAIL_FACTS.search(event):
                self.feed(event + b"\n\n")
        if unended and _TAIL_FACTS.search(unended):
            self.feed(unended)

    def _lines(self, lines: list[bytes]) -> None:
        """Complete lines, in order (one call per chunk: this runs for every event)."""
        data = self._data
        for line in lines:
            if not line:
                if data:
                    joined = data[0] if len(data) == 1 else b"\n".join(data)
                    data.clear()
                    self._dispatch(joined)
                self._name = b""
            elif line.startswith(b"data:"):
                data.append(line[6:] if line[5:6] == b" " else line[5:])
            elif line.startswith(b"event:"):
                self._name = line[6:].strip()

    def _dispatch(self, data: bytes) -> None:
        if not self._skippable(data):
            self._event(data)

    def _skippable(self, data: bytes) -> bool:
        """An event with nothing to learn from, or whose lesson the bytes show: saves a parse.

        Anthropic and the responses API name their events: the ones in `_QUIET_EVENTS` never
        say anything the span needs, and content deltas after the first one only matter when
        content is captured. An OpenAI chat chunk is a plain delta when all its choices have
        ``"finish_reason":null`` and it has no usage (or ``"usage":null``, which every chunk but
        the last carries when usage is asked for); then only its text matters, and the
        compact JSON the API sends shows whether it has any. The opening chunk (no text) is
        kept: every chunk repeats its id and model, so `finish` parses it only when no later
        event was parsed (a stream cut short).
        """
        name = self._name
        if name and name in _QUIET_EVENTS:
            return True
        if self.call.capture_content:
            return False
        if name:
            return self.first_token_ns is not None and (
                name == b"content_block_delta" or name.endswith(b".delta")
            )
        usage = data.find(b'"usage"')  # with include_usage, every chunk has "usage":null
        if (usage >= 0 and data[usage + 7 : usage + 12] != b":null") or not (
            data.count(b'"finish_reason"') == data.count(b'"finish_reason":null') > 0
        ):
            return False
        if self.first_token_ns is not None:
            return True
        if data.find(b'"tool_calls"') >= 0 or data.find(b'"function_call"') >= 0:
            return False
        # The first text: its time is all this chunk tells.
        if data.find(b'"content":"') >= 0 and data.find(b'"content":""') < 0:
            self.first_token_ns = time.monotonic_ns()
            return True
        if not self._opening:
            self._opening = data
            return True
        return False

    def _event(self, data: bytes) -> None:
        if data == b"[DONE]":
            return
        event = _json(data)
        if not isinstance(event, dict):
            return
        call, kind = self.call, event.get("type")
        text: Any = None
        if "choices" in event:  # OpenAI chat/completions chunk
            _apply_response(call, event)
            for choice in event["choices"] or ():
                delta = choice.get("delta") if isinstance(choice, dict) else None
                if isinstance(delta, dict):
                    text = delta.get("content") or delta.get("tool_calls") or text
                elif isinstance(choice, dict):
                    text = choice.get("text") or text
        elif not isinstance(kind, str):
            return
        elif kind == "message_start":  # Anthropic
            _apply_response(call, event.get("message") or {})
        elif kind == "content_block_delta":
            delta = event.get("delta") or {}
            text = delta.get("text") or delta.get("partial_json") or delta.get("thinking")
        elif kind == "message_delta":
            _apply_usage(call, event.get("usage"))
            reason = (event.get("delta") or {}).get("stop_reason")
            if isinstance(reason, str):
                call.finish_reasons = [reason]
        elif kind == "error":
            error = event.get("error") or {}
            call.error_type = str(error.get("code") or error.get("type") or "error")
        elif kind.startswith("response."):  # responses API
            if isinstance(event.get("response"), dict):
                _apply_response(call, event["response"])
            if kind.endswith(".delta"):
                text = event.get("delta")
        if text:
            if self.first_token_ns is None:
                self.first_token_ns = time.monotonic_ns()
            if call.capture_content and isinstance(text, str):
                self._texts.append(text)

    def finish(self) -> None:
        """Handle a last event the stream did not end with a blank line; complete the call."""
        tail = [bytes(self._line)] if self._line else []
        self._line.clear()
        self._lines([*tail, b""])
        if self._opening and self.call.response_id is None:
            opening, self._opening = self._opening, b""
            self._event(opening)
        if self.call.capture_content:
            _set_output(self.call, self._texts)
