"""The registries and the roles' chains: what each role's spec holds, built from the settings,
and a chain built from a spec taking an OTLP request into a real SQLite store."""

from __future__ import annotations

import pickle
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pytest

from oracle_monitor.config import Settings
from oracle_monitor.exporters.kafka_publisher import KafkaPublisherConfig
from oracle_monitor.exporters.otlp_forward import ForwardConfig, Forwarder
from oracle_monitor.exporters.store_writer import StoreWriter
from oracle_monitor.pipeline.components import JSON, PROTOBUF, ChainContext
from oracle_monitor.pipeline.factories import (
    REGISTRIES,
    Kind,
    build_chain,
    factory,
    kafka_chain,
    register,
    store_chain,
)
from oracle_monitor.processing.genai_fields import GenAIFields
from oracle_monitor.processing.pricing import PriceTable, Pricing
from oracle_monitor.receiver.decode import DecodeLimits, MalformedRequest
from oracle_monitor.receiver.span_decoder import SpanDecoder
from oracle_monitor.store import open_store
from tests.integration import otlp_payloads as otlp

NO_FLAGS: dict[str, Any] = {}


def settings(monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    """Settings from these ``ORACLE_*`` variables only (the others unset)."""
    for name in ("ORACLE_FORWARD_OTLP_ENDPOINTS", "ORACLE_PRICING_FILE", "ORACLE_PIPELINE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(**NO_FLAGS)


@pytest.mark.parametrize(
    ("kind", "name"), [(kind, name) for kind, names in REGISTRIES.items() for name in names]
)
def test_every_registered_module_has_a_factory(kind: Kind, name: str) -> None:
    made = factory(kind, name)
    assert callable(made.config) and callable(made.create)


def test_a_name_is_registered_once_and_unknown_names_say_what_is_known() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register("processor", "pricing", "somewhere.else")
    with pytest.raises(KeyError, match=r"known: genai_fields, pricing"):
        factory("processor", "sampling")


def test_serve_and_the_aggregator_share_one_chain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    spec = store_chain(
        settings(
            monkeypatch,
            ORACLE_STORE=f"sqlite:///{tmp_path}/o.db",
            ORACLE_MAX_ATTRIBUTE_VALUE_LENGTH="100",
        )
    )
    assert spec.decoder.name == "otlp_spans" and spec.decoder.config == DecodeLimits(100)
    assert [part.name for part in spec.processors] == ["genai_fields", "pricing"]
    assert isinstance(spec.config_of("pricing"), PriceTable)
    assert spec.exporter.name == "store"
    assert spec.best_effort == ()  # no forward targets: no forwarding
    assert spec.store_url == f"sqlite:///{tmp_path}/o.db"
    assert spec.forward_counters(get_context("spawn")) is None
    assert pickle.loads(pickle.dumps(spec)) == spec  # sent to the worker processes


def test_forward_targets_add_the_forwarder_and_its_shared_counters(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = store_chain(settings(monkeypatch, ORACLE_FORWARD_OTLP_ENDPOINTS="grpc://jaeger:4317"))
    assert [part.name for part in spec.best_effort] == ["otlp_forward"]
    assert isinstance(spec.config_of("otlp_forward"), ForwardConfig)
    counters = spec.forward_counters(get_context("spawn"))
    assert counters is not None and counters.labels == ("grpc://jaeger:4317",)


def test_the_receivers_chain_publishes_untouched_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = kafka_chain(
        settings(
            monkeypatch,
            ORACLE_PIPELINE="kafka://broker:9092/oracle.spans",
            ORACLE_PIPELINE_MAX_MESSAGE_BYTES="200000",
            ORACLE_FORWARD_OTLP_ENDPOINTS="grpc://jaeger:4317",  # the aggregators forward
        )
    )
    assert (spec.decoder.name, spec.decoder.config) == ("otlp_trace_messages", 200_000)
    assert spec.processors == () and spec.best_effort == () and spec.store_url is None
    publisher = spec.exporter.config
    assert spec.exporter.name == "kafka" and isinstance(publisher, KafkaPublisherConfig)
    assert publisher.topic == "oracle.spans"
    assert publisher.producer["bootstrap.servers"] == "broker:9092"
    assert publisher.producer["acks"] == "all" and publisher.producer["enable.idempotence"]
    assert pickle.loads(pickle.dumps(spec)) == spec


def test_a_bad_pricing_file_stops_the_role_when_its_chain_is_described(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text("providers = [")
    with pytest.raises(ValueError, match="pricing file"):
        store_chain(settings(monkeypatch, ORACLE_PRICING_FILE=str(bad)))


def test_the_store_chain_takes_a_request_into_the_store(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/o.db"
    open_store(url).close()  # the role migrates before the workers start
    spec = store_chain(
        settings(monkeypatch, ORACLE_STORE=url, ORACLE_FORWARD_OTLP_ENDPOINTS="grpc://127.0.0.1:9")
    )
    context = ChainContext(spec.store_url)
    chain = build_chain(spec, context)
    try:
        assert isinstance(chain.decoder, SpanDecoder)
        assert [type(p) for p in chain.processors] == [GenAIFields, Pricing]
        assert isinstance(chain.exporter, StoreWriter)
        assert [type(e) for e in chain.best_effort] == [Forwarder]
        call = otlp.span(
            b"\x01" * 16,
            attributes={
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1000,
                "gen_ai.usage.output_tokens": 100,
                "gen_ai.agent.name": "research",
            },
        )
        decoded = chain.decode(PROTOBUF, otlp.request(call, service="agents").SerializeToString())
        assert (decoded.accepted, decoded.rejected) == (1, 0)
        chain.process(decoded.items)
        chain.export(decoded.items)
        with pytest.raises(MalformedRequest, match="OTLP/JSON body must be an object"):
            chain.decode(JSON, b"[]")
    finally:
        chain.shutdown()
        context.close()
    store = open_store(url)
    try:
        (stored,) = store.get_trace("01" * 16)
    finally:
        store.close()
    assert (stored.service_name, stored.agent_name, stored.model) == (
        "agents",
        "research",
        "gpt-4o",
    )
    assert stored.cost_usd is not None and stored.cost_usd > 0
