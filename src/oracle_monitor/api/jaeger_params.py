"""Query parameters of the Jaeger query API, parsed the way Jaeger's query service parses them.

Times are integers: ``start``/``end`` in unix microseconds, ``endTs`` in milliseconds,
``lookback`` in milliseconds. ``minDuration``/``maxDuration`` are Go durations (``1.5s``,
``300ms``, ``1h15m``, units ``ns us µs ms s m h``). Tags come as repeated ``tag=key:value``
or as a JSON object ``tags={"key":"value"}``. Every problem raises `ParamError` with a
message naming the parameter; the router turns it into Jaeger's 400 error body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import orjson

__all__ = ["ParamError", "parse_duration", "parse_int", "parse_tags", "parse_trace_id"]

_UNITS: Final = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,  # µ (micro sign)
    "\u03bcs": 1_000,  # μ (Greek mu)
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_PART: Final = re.compile(r"(\d*)(?:\.(\d*))?([^\d.]+)")
_HEX: Final = re.compile(r"^[0-9a-fA-F]{1,32}$")
_MAX_NS: Final = 2**63 - 1


class ParamError(ValueError):
    """A query parameter Jaeger would refuse (HTTP 400)."""


def parse_duration(name: str, text: str) -> int:
    """A Go duration string (``time.ParseDuration``) as nanoseconds; negative is refused."""
    rest = text[1:] if text[:1] in "+-" else text
    if text[:1] == "-" and rest not in ("0", ""):
        raise ParamError(f"unable to parse param '{name}': duration {text!r} is negative")
    if rest == "0":
        return 0
    total = 0
    position = 0
    while position < len(rest):
        match = _PART.match(rest, position)
        if match is None or not (match[1] or match[2]) or match[3] not in _UNITS:
            raise ParamError(
                f"unable to parse param '{name}': time: invalid duration {text!r}"
                " (expected e.g. 300ms, 1.5s, 2m; units ns, us, ms, s, m, h)"
            )
        whole, fraction, unit = int(match[1] or 0), match[2] or "", _UNITS[match[3]]
        total += whole * unit + (int(fraction) * unit // 10 ** len(fraction) if fraction else 0)
        position = match.end()
    if not rest or total > _MAX_NS:
        raise ParamError(f"unable to parse param '{name}': time: invalid duration {text!r}")
    return total


def parse_int(name: str, text: str, *, minimum: int = 0, maximum: int = _MAX_NS) -> int:
    """A decimal integer parameter within [minimum, maximum]."""
    try:
        value = int(text, 10)
    except ValueError:
        raise ParamError(
            f"unable to parse param '{name}': {text[:64]!r} is not an integer"
        ) from None
    if not minimum <= value <= maximum:
        raise ParamError(f"param '{name}' must be between {minimum} and {maximum}, got {value}")
    return value


def parse_tags(simple: Sequence[str], json_maps: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``tag=key:value`` parameters and ``tags={...}`` JSON objects, as (key, value) pairs."""
    tags: dict[str, str] = {}
    for tag in simple:
        key, colon, value = tag.partition(":")
        if not colon or not key or ":" in value:
            raise ParamError(
                f"malformed 'tag' parameter, expecting key:value, received: {tag[:200]}"
            )
        tags[key] = value
    for text in json_maps:
        try:
            parsed = orjson.loads(text)
        except orjson.JSONDecodeError as error:
            raise ParamError(
                f"malformed 'tags' parameter, cannot unmarshal JSON: {error}"
            ) from None
        if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
            raise ParamError(
                "malformed 'tags' parameter, expecting a JSON object of strings,"
                ' e.g. {"http.status_code":"500"}'
            )
        tags.update(parsed)
    return tuple(tags.items())


def parse_trace_id(text: str) -> str:
    """A trace id of 1-32 hex digits as 32 lowercase ones (Jaeger pads 64-bit ids)."""
    if not _HEX.match(text):
        raise ParamError(f"cannot parse traceID param: {text[:64]!r} is not 1-32 hex digits")
    return text.lower().rjust(32, "0")
