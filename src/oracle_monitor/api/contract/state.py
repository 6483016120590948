"""The snapshot's schema in the OpenAPI: ``oracle_state.schema.json``, not written twice.

The file is the one description of a snapshot and its parts. Models that carry a snapshot
(or a part of one: an alert, an agent's view, a pod…) name it with a stand-in model below;
`state_components` turns the file into OpenAPI components (``OracleState`` and one
``OracleState<Def>`` per ``$defs`` entry, its ``$ref``\\s pointed at them), and the
application's OpenAPI puts those in place of the stand-ins (`oracle_monitor.api.openapi`).
"""

from __future__ import annotations

from typing import Any, Final

from pydantic import RootModel

__all__ = [
    "STATE_COMPONENT",
    "OracleState",
    "OracleStateAgent",
    "OracleStateAlert",
    "OracleStateConsumerGroup",
    "OracleStateHealth",
    "OracleStatePod",
    "OracleStateTopic",
    "OracleStateUsageGroup",
    "StateSchemaPart",
    "component_name",
    "state_components",
]

STATE_COMPONENT: Final = "OracleState"


class StateSchemaPart(RootModel[dict[str, Any]]):
    """A stand-in: the OpenAPI describes it by ``oracle_state.schema.json``."""


class OracleState(StateSchemaPart):
    """A whole snapshot."""


class OracleStateAlert(StateSchemaPart):
    """``$defs/alert``."""


class OracleStateAgent(StateSchemaPart):
    """``$defs/agent``."""


class OracleStateHealth(StateSchemaPart):
    """``$defs/health``."""


class OracleStatePod(StateSchemaPart):
    """``$defs/pod``."""


class OracleStateConsumerGroup(StateSchemaPart):
    """``$defs/consumer_group``."""


class OracleStateTopic(StateSchemaPart):
    """``$defs/topic``."""


class OracleStateUsageGroup(StateSchemaPart):
    """``$defs/usage_group``."""


def component_name(definition: str) -> str:
    """The OpenAPI component of a ``$defs`` entry: ``consumer_group`` ->
    ``OracleStateConsumerGroup``."""
    return STATE_COMPONENT + "".join(part.title() for part in definition.split("_"))


def _pointed(node: Any, prefix: str) -> Any:
    if isinstance(node, dict):
        found = {key: _pointed(value, prefix) for key, value in node.items()}
        ref = found.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            found["$ref"] = prefix + component_name(ref.removeprefix("#/$defs/"))
        return found
    if isinstance(node, list):
        return [_pointed(item, prefix) for item in node]
    return node


def state_components(
    schema: dict[str, Any], prefix: str = "#/components/schemas/"
) -> dict[str, dict[str, Any]]:
    """The snapshot schema as OpenAPI components: the document itself (without ``$schema``,
    ``$id`` and ``$defs``: inside an OpenAPI document its references are the components')
    and each of its definitions."""
    top = {k: v for k, v in schema.items() if k not in ("$schema", "$id", "$defs")}
    found = {STATE_COMPONENT: _pointed(top, prefix)}
    for name, definition in schema.get("$defs", {}).items():
        found[component_name(name)] = _pointed(definition, prefix)
    return found
