"""The span path's components by kind and name, and the chains the roles run.

Each registry maps a snake_case name to the module whose ``FACTORY`` (a
`oracle_monitor.pipeline.components.Factory`) makes that component; a name can be registered
once. A role describes its chain as data, a `ChainSpec` (names and configs read from the
settings at start-up, picklable), and `build_chain` makes the components where the chain runs.
Modules are imported only then, so a process imports only what its chain uses.

The roles' chains differ only at their ends:

* ``serve`` and ``aggregator`` (`store_chain`): OTLP spans → ``genai_fields`` → ``pricing`` →
  the ``store`` writer, then ``otlp_forward`` when ``ORACLE_FORWARD_OTLP_ENDPOINTS`` is set.
  ``serve``'s OTLP receivers feed it; the aggregator's Kafka receiver feeds it the messages a
  ``receiver`` published.
* ``receiver --pipeline`` (`kafka_chain`): OTLP requests → one message per trace id → the
  ``kafka`` publisher. It has no processors: it passes OTLP on untouched, as the Collector's
  Kafka exporter does, and the aggregators run them after decoding.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any, Literal

from oracle_monitor.config import Settings
from oracle_monitor.pipeline.chain import Chain
from oracle_monitor.pipeline.components import ChainContext, Factory

if TYPE_CHECKING:
    from oracle_monitor.exporters.otlp_forward import ForwardCounters

__all__ = [
    "REGISTRIES",
    "ChainSpec",
    "Kind",
    "Part",
    "build_chain",
    "chain_spec",
    "factory",
    "kafka_chain",
    "register",
    "store_chain",
]

Kind = Literal["decoder", "processor", "exporter", "best_effort_exporter"]

#: kind -> name -> module holding that component's ``FACTORY``.
REGISTRIES: dict[Kind, dict[str, str]] = {
    "decoder": {
        "otlp_spans": "oracle_monitor.receiver.span_decoder",
        "otlp_trace_messages": "oracle_monitor.pipeline.messages",
    },
    "processor": {
        "genai_fields": "oracle_monitor.processing.genai_fields",
        "pricing": "oracle_monitor.processing.pricing",
    },
    "exporter": {
        "store": "oracle_monitor.exporters.store_writer",
        "kafka": "oracle_monitor.exporters.kafka_publisher",
    },
    "best_effort_exporter": {
        "otlp_forward": "oracle_monitor.exporters.otlp_forward",
    },
}


def register(kind: Kind, name: str, module: str) -> None:
    """Add a component; refuses a name its kind already has."""
    if name in REGISTRIES[kind]:
        raise ValueError(f"a {kind.replace('_', ' ')} named {name!r} is already registered")
    REGISTRIES[kind][name] = module


def factory(kind: Kind, name: str) -> Factory[Any, Any]:
    """The factory of a registered component; `KeyError` names what is known."""
    try:
        module = REGISTRIES[kind][name]
    except KeyError:
        known = ", ".join(sorted(REGISTRIES[kind]))
        raise KeyError(f"no {kind.replace('_', ' ')} named {name!r} (known: {known})") from None
    made: Factory[Any, Any] = importlib.import_module(module).FACTORY
    return made


@dataclass(frozen=True, slots=True)
class Part:
    """One component of a `ChainSpec`: its registered name and its config."""

    name: str
    config: Any


@dataclass(frozen=True, slots=True)
class ChainSpec:
    """A chain as data: what a role sends to the processes that run it."""

    decoder: Part
    processors: tuple[Part, ...]
    exporter: Part
    best_effort: tuple[Part, ...] = ()
    #: The store the components share (written by ``store``, read by ``otlp_forward``).
    store_url: str | None = None

    def config_of(self, name: str) -> Any | None:
        """The config of the component named ``name``, or ``None`` if the chain has none."""
        parts = (self.decoder, *self.processors, self.exporter, *self.best_effort)
        return next((part.config for part in parts if part.name == name), None)

    def forward_counters(self, context: BaseContext) -> ForwardCounters | None:
        """Shared-memory counters for the chain's OTLP forwarding, when it forwards: made in
        the role's process (``context`` is the workers' multiprocessing context), written by
        every process running the chain, read for ``/health``."""
        forward = self.config_of("otlp_forward")
        if forward is None:
            return None
        from oracle_monitor.exporters.otlp_forward import ForwardCounters

        return ForwardCounters.for_targets(context, forward)


def _part(kind: Kind, name: str, settings: Settings) -> Part | None:
    config = factory(kind, name).config(settings)
    return None if config is None else Part(name, config)


def _required(kind: Kind, name: str, settings: Settings) -> Part:
    part = _part(kind, name, settings)
    if part is None:
        raise ValueError(f"the settings leave out the {kind.replace('_', ' ')} {name!r}")
    return part


def chain_spec(
    settings: Settings,
    *,
    decoder: str,
    processors: Sequence[str],
    exporter: str,
    best_effort: Sequence[str] = (),
    store_url: str | None = None,
) -> ChainSpec:
    """The chain of these components, each configured from ``settings``; best-effort
    exporters the settings do not configure are left out. Raises `ValueError` for a bad
    setting, `KeyError` for an unknown name."""
    return ChainSpec(
        decoder=_required("decoder", decoder, settings),
        processors=tuple(_required("processor", name, settings) for name in processors),
        exporter=_required("exporter", exporter, settings),
        best_effort=tuple(
            part
            for name in best_effort
            if (part := _part("best_effort_exporter", name, settings)) is not None
        ),
        store_url=store_url,
    )


#: What is done to every span between decoding and the store, in this order.
SPAN_PROCESSORS = ("genai_fields", "pricing")


def store_chain(settings: Settings) -> ChainSpec:
    """``serve``'s and the aggregator's chain: spans processed, stored, then forwarded."""
    return chain_spec(
        settings,
        decoder="otlp_spans",
        processors=SPAN_PROCESSORS,
        exporter="store",
        best_effort=("otlp_forward",),
        store_url=settings.store.url,
    )


def kafka_chain(settings: Settings) -> ChainSpec:
    """The ``receiver``'s chain: requests split by trace id, published to the pipeline topic."""
    return chain_spec(settings, decoder="otlp_trace_messages", processors=(), exporter="kafka")


def build_chain(spec: ChainSpec, context: ChainContext) -> Chain[Any]:
    """Make the components of ``spec`` (where the chain runs), sharing ``context``.

    If a component cannot be made, those already made are shut down before the error
    propagates.
    """

    def make(kind: Kind, part: Part) -> Any:
        return factory(kind, part.name).create(part.config, context)

    decoder = make("decoder", spec.decoder)
    processors = tuple(make("processor", part) for part in spec.processors)
    exporter = make("exporter", spec.exporter)
    best_effort: list[Any] = []
    try:
        for part in spec.best_effort:
            best_effort.append(make("best_effort_exporter", part))
    except BaseException:
        Chain(decoder, processors, exporter, tuple(best_effort)).shutdown()
        raise
    return Chain(decoder, processors, exporter, tuple(best_effort))
