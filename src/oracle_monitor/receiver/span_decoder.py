"""The decoder of the chains that end in the store: OTLP requests, in either encoding, as spans.

`oracle_monitor.receiver.decode` (protobuf) and `oracle_monitor.receiver.otlp_json` (JSON) do
the work; this puts their `DecodedBatch` in the chain's `Decoded` shape. Its config is the
decoding limits (``ORACLE_MAX_ATTRIBUTE_VALUE_LENGTH``).
"""

from __future__ import annotations

from dataclasses import dataclass

from oracle_monitor.config import Settings
from oracle_monitor.model import Span
from oracle_monitor.pipeline.components import JSON, ChainContext, Decoded, Factory
from oracle_monitor.receiver.decode import DecodeLimits, decode_protobuf
from oracle_monitor.receiver.otlp_json import decode_json

__all__ = ["FACTORY", "SpanDecoder"]


@dataclass(frozen=True, slots=True)
class SpanDecoder:
    """Decodes OTLP protobuf or JSON request bodies into spans."""

    limits: DecodeLimits

    def decode(self, encoding: int, body: bytes) -> Decoded[Span]:
        """One request's valid spans; raises `MalformedRequest`."""
        batch = (decode_json if encoding == JSON else decode_protobuf)(body, self.limits)
        return Decoded(batch.spans, len(batch.spans), batch.rejected_spans, batch.error_message)


def _config(settings: Settings) -> DecodeLimits:
    return DecodeLimits(settings.receiver.max_attribute_value_length)


def _create(limits: DecodeLimits, _context: ChainContext) -> SpanDecoder:
    return SpanDecoder(limits)


FACTORY = Factory(_config, _create)
