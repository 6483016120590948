"""A CLIENT span that reaches the span processors in one step, when it ends.

`Tracer.start_span` of the OpenTelemetry SDK builds a mutable `Span` for every span: a lock, a
bounded attribute map that checks each value under its own lock, bounded event and link lists,
the processors' ``on_start``; ``set_attributes`` and ``end`` take the lock again and copy it all
into a `ReadableSpan`. Measured in the calling thread of a real OpenAI call (the SDK's other
code running between), starting and ending a bare SDK span costs 80-160 µs on a 2-core machine:
most of the LLM instrumentation's budget. An LLM HTTP span needs none of that machinery until it
ends (nothing runs inside it, its attributes are ours), so `start_lean_span` does what
`Tracer.start_span` decides for it (the tracer's sampler with the same arguments, ids from the
provider's id generator, the SDK's trace flags and trace state), keeps the attributes in a plain
dict, and `LeanSpan.end` hands the processors one `ReadableSpan` with the tracer's resource,
scope and attribute limits: what they would have been given, for less than a third of the cost.

Only where that is indistinguishable to the pipeline: the tracer is the SDK's and enabled, its
internal metrics are off, and every span processor's ``on_start`` and ``_on_ending`` are the
no-ops of `SpanProcessor` (as `BatchSpanProcessor`'s and `SimpleSpanProcessor`'s are: they
only act ``on_end``). A processor that looks at span starts, another tracer implementation, or
an SDK without these parts makes `start_lean_span` return None, and the caller starts an SDK
span as usual.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from time import time_ns
from typing import Any

from opentelemetry import trace as trace_api
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import (
    ConcurrentMultiSpanProcessor,
    Event,
    ReadableSpan,
    SpanProcessor,
    SynchronousMultiSpanProcessor,
    Tracer,
)
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, Status, StatusCode

__all__ = ["LeanSpan", "start_lean_span"]

_SAMPLED = trace_api.TraceFlags.SAMPLED
_RANDOM = getattr(trace_api.TraceFlags, "RANDOM_TRACE_ID", 0)  # W3C level 2; newer SDKs
_UNSET = Status(StatusCode.UNSET)
# Span processor hooks that do nothing: a processor whose on_start and _on_ending are among
# these never sees a span before it ends.
_QUIET_HOOKS = frozenset(
    getattr(kind, hook, None)
    for kind in (SpanProcessor, BatchSpanProcessor, SimpleSpanProcessor)
    for hook in ("on_start", "_on_ending")
) - {None}
_MULTI = (SynchronousMultiSpanProcessor, ConcurrentMultiSpanProcessor)


class LeanSpan:
    """A recording CLIENT span: the part of the `opentelemetry.trace.Span` API the LLM path uses.

    Not thread-safe (one request's span is touched by the thread reading its body) and never
    made current. Attributes set after `end` are ignored, as the SDK's are.
    """

    __slots__ = ("_tracer", "attributes", "context", "events", "name", "parent", "start", "status")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        context: SpanContext,
        parent: SpanContext | None,
        attributes: dict[str, Any],
    ) -> None:
        self._tracer: Tracer | None = tracer  # None once ended
        self.name, self.context, self.parent = name, context, parent
        self.attributes = attributes
        self.events: list[Event] = []
        self.status = _UNSET
        self.start = time_ns()

    def get_span_context(self) -> SpanContext:
        return self.context

    def is_recording(self) -> bool:
        return self._tracer is not None

    def set_attribute(self, key: str, value: Any) -> None:
        if self._tracer is not None:
            self.attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        if self._tracer is not None:
            self.attributes.update(attributes)

    def set_status(self, status: Status) -> None:
        """As the SDK's: an OK status is final, UNSET changes nothing."""
        if self.status.status_code is not StatusCode.OK and status.status_code is not (
            StatusCode.UNSET
        ):
            self.status = status

    def record_exception(self, error: BaseException) -> None:
        """An ``exception`` event with the attributes the SDK's `record_exception` gives."""
        if self._tracer is None:
            return
        limits = self._tracer._span_limits
        kind = type(error)
        module = kind.__module__
        qualified = module and module != "builtins"
        name = f"{module}.{kind.__qualname__}" if qualified else kind.__qualname__
        self.events.append(
            Event(
                "exception",
                BoundedAttributes(
                    limits.max_event_attributes,
                    max_value_len=limits.max_attribute_length,
                    immutable=True,
                    attributes={
                        "exception.type": name,
                        "exception.message": str(error),
                        "exception.stacktrace": "".join(traceback.format_exception(error)),
                        "exception.escaped": "False",
                    },
                ),
            )
        )

    def end(self) -> None:
        """Give the span processors the finished span (once)."""
        tracer, self._tracer = self._tracer, None
        if tracer is None:
            return
        attributes: Any = self.attributes
        for key, value in attributes.items():
            if type(value) is list:  # sequences are tuples in the SDK's spans
                attributes[key] = tuple(value)
        limits = tracer._span_limits
        maxlen, max_value_len = limits.max_span_attributes, limits.max_span_attribute_length
        if max_value_len is not None or (maxlen is not None and len(attributes) > maxlen):
            attributes = BoundedAttributes(maxlen, attributes, max_value_len=max_value_len)
        tracer.span_processor.on_end(
            ReadableSpan(
                name=self.name,
                context=self.context,
                parent=self.parent,
                resource=tracer.resource,
                attributes=attributes,
                events=tuple(self.events),
                kind=SpanKind.CLIENT,
                status=self.status,
                start_time=self.start,
                end_time=time_ns(),
                instrumentation_info=tracer.instrumentation_info,
                instrumentation_scope=tracer._instrumentation_scope,
            )
        )


def start_lean_span(
    tracer: Any, name: str, attributes: dict[str, Any]
) -> LeanSpan | NonRecordingSpan | None:
    """A CLIENT span child of the current span, as ``tracer.start_span`` would decide it.

    A `LeanSpan` when sampled, a `NonRecordingSpan` with a new span id when not (both can be
    injected into a request); None when ``tracer`` is not one whose spans can be made this
    way (see the module's docstring): then start it with ``tracer.start_span``.
    ``attributes`` becomes the span's (not copied).
    """
    if not _lean_tracer(tracer):
        return None
    current = trace_api.get_current_span().get_span_context()
    ids = tracer.id_generator
    parent: SpanContext | None = current
    if current.is_valid:
        trace_id, random_id = current.trace_id, current.trace_flags & _RANDOM
    else:
        parent = None
        trace_id = ids.generate_trace_id()
        random_id = _RANDOM if _RANDOM and ids.is_trace_id_random() else 0
    sampled = tracer.sampler.should_sample(None, trace_id, name, SpanKind.CLIENT, attributes, ())
    recording = sampled.decision.is_recording()
    flags = trace_api.TraceFlags((_SAMPLED if sampled.decision.is_sampled() else 0) | random_id)
    context = SpanContext(trace_id, ids.generate_span_id(), False, flags, sampled.trace_state)
    if not recording:
        return NonRecordingSpan(context)
    if sampled.attributes is not attributes:  # a sampler may add attributes of its own
        attributes.update(sampled.attributes or {})
    return LeanSpan(tracer, name, context, parent, attributes)


_checked: tuple[Any, Any, bool] = (None, None, False)  # tracer, its processors, the verdict


def _lean_tracer(tracer: Any) -> bool:
    """Whether ``tracer``'s spans can be lean (worked out again when its processors change)."""
    global _checked
    processor = getattr(tracer, "span_processor", None)
    processors = getattr(processor, "_span_processors", None)
    if _checked[0] is not tracer or _checked[1] is not processors:
        _checked = (tracer, processors, _quiet_until_end(tracer, processor, processors))
    if not _checked[2]:
        return False
    config = getattr(tracer, "_tracer_config", None)
    return config is None or bool(config.is_enabled)


def _quiet_until_end(tracer: Any, processor: Any, processors: Any) -> bool:
    if type(tracer) is not Tracer or type(processor) not in _MULTI:
        return False
    needed = ("sampler", "id_generator", "resource", "_span_limits", "_instrumentation_scope")
    if not all(hasattr(tracer, name) for name in needed):
        return False
    metrics = getattr(tracer, "_tracer_metrics", None)
    if metrics is not None and type(metrics).__name__ != "NoOpTracerMetrics":
        return False
    return isinstance(processors, tuple) and all(
        getattr(type(part), hook, None) in _QUIET_HOOKS
        for part in processors
        for hook in ("on_start", "_on_ending")
        if hasattr(SpanProcessor, hook)
    )
