"""JSON encoding of attributes, events and links for storage, with ``orjson``.

Attribute values keep their type through a round trip: ``str``, ``bool``, ``int``, ``float``
(``3.0`` comes back as the float ``3.0``), ``None``, and nested ``list``/``dict``. JSON has no
bytes, so ``bytes`` values are written with the OTLP/JSON spelling ``{"bytesValue": "<base64>"}``
and read back as ``bytes``. A genuine kvlist (``dict``) whose only key is ``"bytesValue"`` or
``"kvlistValue"`` would be ambiguous; it is wrapped as ``{"kvlistValue": {...}}`` and unwrapped
again on decoding, so it round-trips too.

JSON has no NaN or infinity either: such floats are stored (and returned by `to_jsonable`) as
``null`` and come back as ``None``.

Events are stored as ``[time_ns, name, attributes, dropped_attributes_count]`` arrays, links
as ``[trace_id, span_id, trace_state, attributes, flags, dropped_attributes_count]``.

Decoding is fast in the common case: the decoded JSON is only walked, looking for wrapped
values, when the text contains ``"bytesValue"`` or ``"kvlistValue"``.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Sequence
from typing import Any, Final

import orjson

from oracle_monitor.model import Attributes, AttributeValue, SpanEvent, SpanLink
from oracle_monitor.store.base import AgentActivity

__all__ = [
    "activity_row",
    "decode_attributes",
    "decode_events",
    "decode_links",
    "encode_attributes",
    "encode_events",
    "encode_links",
    "to_jsonable",
]

BYTES_KEY: Final = "bytesValue"
KVLIST_KEY: Final = "kvlistValue"
_MARKERS: Final = ('"bytesValue"', '"kvlistValue"')


def _default(value: object) -> object:
    """orjson fallback: bytes become ``{"bytesValue": ...}``; anything else is an error."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {BYTES_KEY: base64.b64encode(value).decode("ascii")}
    raise TypeError(f"attribute value of type {type(value).__name__} is not supported")


def to_jsonable(value: AttributeValue) -> Any:
    """Turn an attribute value into a JSON-ready value (what the store writes, and the API).

    ``bytes`` becomes ``{"bytesValue": "<base64>"}``, a dict whose only key is
    ``"bytesValue"`` or ``"kvlistValue"`` is wrapped as ``{"kvlistValue": {...}}``, NaN and
    infinite floats become ``None``; lists and dicts are converted recursively and every other
    value is returned unchanged.
    """
    if isinstance(value, str | bool | int | None):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, bytes | bytearray | memoryview):
        return {BYTES_KEY: base64.b64encode(value).decode("ascii")}
    if isinstance(value, list | tuple):  # tuple: orjson's fast path accepts it as a list too
        return [to_jsonable(item) for item in value]
    if isinstance(value, dict):
        converted = {key: to_jsonable(item) for key, item in value.items()}
        if len(value) == 1 and (BYTES_KEY in value or KVLIST_KEY in value):
            return {KVLIST_KEY: converted}
        return converted
    raise TypeError(f"attribute value of type {type(value).__name__} is not supported")


def _jsonable_attributes(attributes: Attributes) -> dict[str, Any]:
    return {key: to_jsonable(value) for key, value in attributes.items()}


def _restore(value: Any) -> AttributeValue:
    """Undo `to_jsonable` on decoded JSON (the slow path)."""
    if isinstance(value, dict):
        if len(value) == 1:
            if isinstance(raw := value.get(BYTES_KEY), str):
                return base64.b64decode(raw)
            if isinstance(inner := value.get(KVLIST_KEY), dict):
                return {key: _restore(item) for key, item in inner.items()}
        return {key: _restore(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_restore(item) for item in value]
    result: AttributeValue = value
    return result


def _restore_attributes(raw: dict[str, Any]) -> Attributes:
    return {key: _restore(value) for key, value in raw.items()}


def encode_attributes(attributes: Attributes, *, sort_keys: bool = False) -> str:
    """Encode an attribute dict as JSON text (keys sorted when ``sort_keys``)."""
    if sort_keys:
        text = orjson.dumps(attributes, default=_default, option=orjson.OPT_SORT_KEYS).decode()
    else:
        text = orjson.dumps(attributes, default=_default).decode()
    if "V" in text and _needs_escaping(text, (attributes,)):
        option = orjson.OPT_SORT_KEYS if sort_keys else 0
        text = orjson.dumps(_jsonable_attributes(attributes), option=option).decode()
    return text


def _needs_escaping(text: str, attribute_dicts: Iterable[Attributes]) -> bool:
    """Whether the fast encoding ``text`` may hold a kvlist that would read back as bytes."""
    if _MARKERS[1] in text:
        return True
    return _MARKERS[0] in text and any(map(_has_plain_marker, attribute_dicts))


def _has_plain_marker(value: object) -> bool:
    """Whether a dict whose only key is ``"bytesValue"`` occurs among the values."""
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for item in items:
        if isinstance(item, dict):
            if len(item) == 1 and BYTES_KEY in item:
                return True
            if _has_plain_marker(item):
                return True
        elif isinstance(item, list) and _has_plain_marker(item):
            return True
    return False


def _has_markers(text: str) -> bool:
    # A one-character search first: a memchr, several times cheaper than the marker search.
    return "V" in text and (_MARKERS[0] in text or _MARKERS[1] in text)


def decode_attributes(text: str | None) -> Attributes:
    """Decode JSON text written by `encode_attributes`; ``None`` or ``""`` give ``{}``."""
    if not text:
        return {}
    raw: dict[str, Any] = orjson.loads(text)
    return _restore_attributes(raw) if _has_markers(text) else raw


def encode_events(events: list[SpanEvent]) -> str | None:
    """Encode span events as JSON text, or ``None`` when there are none."""
    if not events:
        return None
    rows: list[list[Any]] = [
        [event.time_ns, event.name, event.attributes, event.dropped_attributes_count]
        for event in events
    ]
    text = orjson.dumps(rows, default=_default).decode()
    if "V" in text and _needs_escaping(text, (event.attributes for event in events)):
        for row in rows:
            row[2] = _jsonable_attributes(row[2])
        text = orjson.dumps(rows).decode()
    return text


def decode_events(text: str | None) -> list[SpanEvent]:
    """Decode JSON text written by `encode_events`; ``None`` gives ``[]``."""
    if not text:
        return []
    rows: list[list[Any]] = orjson.loads(text)
    slow = _has_markers(text)
    return [
        SpanEvent(time_ns, name, _restore_attributes(attrs) if slow else attrs, dropped)
        for time_ns, name, attrs, dropped in rows
    ]


def encode_links(links: list[SpanLink]) -> str | None:
    """Encode span links as JSON text, or ``None`` when there are none."""
    if not links:
        return None
    rows: list[list[Any]] = [
        [
            link.trace_id,
            link.span_id,
            link.trace_state,
            link.attributes,
            link.flags,
            link.dropped_attributes_count,
        ]
        for link in links
    ]
    text = orjson.dumps(rows, default=_default).decode()
    if "V" in text and _needs_escaping(text, (link.attributes for link in links)):
        for row in rows:
            row[3] = _jsonable_attributes(row[3])
        text = orjson.dumps(rows).decode()
    return text


def decode_links(text: str | None) -> list[SpanLink]:
    """Decode JSON text written by `encode_links`; ``None`` gives ``[]``."""
    if not text:
        return []
    rows: list[list[Any]] = orjson.loads(text)
    slow = _has_markers(text)
    return [
        SpanLink(
            trace_id, span_id, state, _restore_attributes(attrs) if slow else attrs, flags, dropped
        )
        for trace_id, span_id, state, attrs, flags, dropped in rows
    ]


def activity_row(row: Sequence[Any]) -> AgentActivity:
    """An `AgentActivity` of a row of the stores' agent-activity queries: agent, span id (hex),
    start, end, is error, task, pod, input and output tokens, cost, operation, agent id and
    reasoning (text), tools planned (JSON text of an array), agent inherited, trace id (hex)."""
    planned = row[13]
    if planned is not None:
        items = orjson.loads(planned)
        planned = tuple(str(t) for t in items) if isinstance(items, list) else None
    return AgentActivity(
        row[0], row[1], row[2], row[3], bool(row[4]), row[5], row[6], row[7], row[8], row[9],
        row[10], row[11], row[12], planned, bool(row[14]), row[15],
    )  # fmt: skip
