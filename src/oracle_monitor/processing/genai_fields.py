"""The ``genai_fields`` processor: each span's derived fields, from its attributes' dialects.

Fills the fields of `oracle_monitor.model.Span` after ``flags`` (service, agent, provider,
model, token counts, pod, namespace, task, the span's own cost, rate limiting) with what
`oracle_monitor.processing.conventions.derive` reads from the span's attributes and resource.
The first processor of every chain that stores spans: pricing reads what it fills.
"""

from __future__ import annotations

from typing import Final

from oracle_monitor.config import Settings
from oracle_monitor.model import Span
from oracle_monitor.pipeline.components import ChainContext, Factory
from oracle_monitor.processing.conventions import ResourceFields, derive, resource_fields

__all__ = ["FACTORY", "GenAIFields"]

# `process` assigns derive()'s values positionally (several times faster than a setattr per
# field); make sure a change of its fields or their order cannot scramble them.
_FIELDS: Final = (
    "service_name agent_name provider model input_tokens output_tokens cache_read_tokens "
    "cache_creation_tokens reasoning_tokens pod_name namespace task_id cost_usd rate_limited"
)
if " ".join(derive({}, {})) != _FIELDS:
    raise ImportError("conventions.derive's fields changed; update processing/genai_fields.py")


class GenAIFields:
    """Derives the GenAI fields of every span of a batch, in place."""

    def process(self, batch: list[Span]) -> None:
        """Set each span's derived fields (its attributes are left as sent)."""
        of_resource: dict[int, ResourceFields] = {}  # by id(span.resource): spans share it
        for span in batch:
            resource = span.resource
            fields = of_resource.get(id(resource))
            if fields is None:
                fields = of_resource[id(resource)] = resource_fields(resource)
            (
                span.service_name,
                span.agent_name,
                span.provider,
                span.model,
                span.input_tokens,
                span.output_tokens,
                span.cache_read_tokens,
                span.cache_creation_tokens,
                span.reasoning_tokens,
                span.pod_name,
                span.namespace,
                span.task_id,
                span.cost_usd,
                span.rate_limited,
            ) = derive(span.attributes, resource, fields).values()  # type: ignore[assignment]


def _config(_settings: Settings) -> tuple[()]:
    return ()


def _create(_config: tuple[()], _context: ChainContext) -> GenAIFields:
    return GenAIFields()


FACTORY = Factory(_config, _create)
