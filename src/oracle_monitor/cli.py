"""The ``oracle-monitor`` command: one subcommand per process role (`oracle_monitor.roles`),
plus ``migrate``. Flags override ``ORACLE_*`` variables; each role is imported only when run."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

from oracle_monitor import __version__
from oracle_monitor.config import ProxySettings, Settings, explain

S = TypeVar("S", bound=BaseModel)


def _settings(kind: type[S], **flags: Any) -> S:
    """Flags given on the command line override ``ORACLE_*`` variables and defaults.

    A flag's parameter is named after the setting it sets: ``GROUP__FIELD`` for a field of
    one of `Settings`' groups (``--group-id`` is ``pipeline__group_id``), ``FIELD`` for one of
    `ProxySettings`; the group still reads the variables of the fields no flag sets.
    """
    given: dict[str, Any] = {}
    for name, value in flags.items():
        if value is not None:
            group, _, field = name.rpartition("__")
            (given.setdefault(group, {}) if group else given)[field] = value
    try:
        return kind.model_validate(given)
    except ValidationError as error:
        raise click.UsageError(explain(error)) from error


def _logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every request at INFO; the Supabase store makes one per snapshot and batch.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger().level))


def _run(main: Coroutine[Any, Any, None]) -> None:
    """Run a command's main coroutine; a store it cannot open is one line, not a traceback."""
    from oracle_monitor.store import StoreOpenError

    try:
        asyncio.run(main)
    except StoreOpenError as error:
        raise click.ClickException(str(error)) from None


_migrate_option = click.option(
    "--migrate/--no-migrate",
    "store__migrate",
    default=None,
    help="[ORACLE_STORE_MIGRATE] apply PostgreSQL schema migrations at start-up (default on)",
)
_data_dir_option = click.option(
    "--data-dir",
    "store__data_dir",
    type=click.Path(path_type=Path),
    help="[ORACLE_DATA_DIR] ./oracle-data",
)
_host_option = click.option(
    "--host", "server__host", help="[ORACLE_HOST] address to bind, default 127.0.0.1"
)
_otlp_grpc_port_option = click.option(
    "--otlp-grpc-port",
    "receiver__otlp_grpc_port",
    type=int,
    help="[ORACLE_OTLP_GRPC_PORT] default 4317",
)
_otlp_http_port_option = click.option(
    "--otlp-http-port",
    "receiver__otlp_http_port",
    type=int,
    help="[ORACLE_OTLP_HTTP_PORT] default 4318",
)
_api_port_option = click.option(
    "--api-port", "api__port", type=int, help="[ORACLE_API_PORT] default 8000"
)


@click.group()
@click.version_option(__version__, prog_name="oracle-monitor")
def main() -> None:
    """Oracle Monitor: traces, infrastructure and causal chains of multi-agent AI systems."""


@main.command()
@_data_dir_option
@_host_option
@_otlp_grpc_port_option
@_otlp_http_port_option
@_api_port_option
@click.option("--store", "store__url", help="[ORACLE_STORE] default sqlite:///<data-dir>/oracle.db")
@_migrate_option
@click.option(
    "--kubeconfig",
    "k8s__kubeconfig",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="[ORACLE_KUBECONFIG] watch this cluster (in a pod: its own, without the flag)",
)
@click.option(
    "--k8s-namespaces", "k8s__namespaces", help="[ORACLE_K8S_NAMESPACES] a,b; default: all"
)
@click.option(
    "--kafka-bootstrap",
    "kafka__bootstrap",
    help="[ORACLE_KAFKA_BOOTSTRAP] host:port to watch lag on",
)
def serve(**flags: Any) -> None:
    """Run the OTLP receiver, the store, the collectors and the API in one process."""
    settings = _settings(Settings, **flags)
    _logging(settings.server.log_level)
    from oracle_monitor.roles.serve import serve as run_server

    _run(run_server(settings))


@main.command()
@click.option(
    "--pipeline",
    "pipeline__url",
    help="[ORACLE_PIPELINE] kafka://host:port/topic to publish accepted spans to",
)
@_host_option
@_otlp_grpc_port_option
@_otlp_http_port_option
def receiver(**flags: Any) -> None:
    """Run a stateless OTLP receiver that publishes to the scale-out pipeline's Kafka topic.

    Same endpoints, token and limits as `serve`; an exporter is acknowledged once the brokers
    have every span of its request (one message per trace id, keyed by it).
    """
    settings = _pipeline_settings(flags)
    _logging(settings.server.log_level)
    from oracle_monitor.roles.receiver import run_receiver

    asyncio.run(run_receiver(settings))


@main.command()
@click.option(
    "--pipeline", "pipeline__url", help="[ORACLE_PIPELINE] kafka://host:port/topic to consume"
)
@click.option(
    "--store", "store__url", help="[ORACLE_STORE] postgresql://… (shared by all aggregators)"
)
@click.option(
    "--group-id", "pipeline__group_id", help="[ORACLE_PIPELINE_GROUP_ID] oracle-aggregators"
)
@_migrate_option
@click.option(
    "--health-port",
    "pipeline__health_port",
    type=int,
    help="[ORACLE_PIPELINE_HEALTH_PORT] serve GET /health here (default: none)",
)
def aggregator(**flags: Any) -> None:
    """Consume the scale-out pipeline's topic as one of a consumer group, into the store.

    Offsets are committed only after the spans are committed to the store, so a crash
    redelivers instead of losing; writes are idempotent, so nothing is stored twice.
    """
    settings = _pipeline_settings(flags)
    _logging(settings.server.log_level)
    from oracle_monitor.roles.aggregator import run_aggregator

    asyncio.run(run_aggregator(settings))


def _pipeline_settings(flags: dict[str, Any]) -> Settings:
    settings = _settings(Settings, **flags)
    if not settings.pipeline.url:
        raise click.UsageError("--pipeline kafka://host:port/topic (or ORACLE_PIPELINE) is needed")
    return settings


@main.command()
@_data_dir_option
@click.option("--store", "store__url", help="[ORACLE_STORE] default sqlite:///<data-dir>/oracle.db")
def migrate(**flags: Any) -> None:
    """Create or update the store's schema, then exit (`serve` does it too unless --no-migrate)."""
    settings = _settings(Settings, **flags)
    from oracle_monitor.store.migrate import migrate_store

    try:
        applied = migrate_store(settings.store.url)
    except (ValueError, RuntimeError, OSError) as error:
        raise click.ClickException(str(error)) from error
    for name in applied:
        click.echo(f"applied {name}")
    click.echo("schema up to date" if applied else "schema already up to date")


@main.command()
@click.option("--host", help="[ORACLE_PROXY_HOST] address to bind, default 127.0.0.1")
@click.option("--port", type=int, help="[ORACLE_PROXY_PORT] default 8787")
@click.option("--openai-upstream", help="[ORACLE_PROXY_OPENAI_UPSTREAM] https://api.openai.com")
@click.option(
    "--anthropic-upstream", help="[ORACLE_PROXY_ANTHROPIC_UPSTREAM] https://api.anthropic.com"
)
def proxy(**flags: Any) -> None:
    """Run the LLM proxy: point OpenAI/Anthropic clients' base URL at it to trace every call.

    Its spans go where the standard OTEL_EXPORTER_OTLP_* variables say.
    """
    settings = _settings(ProxySettings, **flags)
    _logging(settings.log_level)
    from oracle_monitor.roles.proxy import run_proxy

    run_proxy(settings)


@main.command()
@click.option(
    "--scenario",
    type=click.Choice(["seed", "crash_loop", "quota", "dlq", "eviction", "slow_tool", "healthy"]),
    default="seed",
    show_default=True,
    help="What goes wrong.",
)
@click.option("--duration", type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option("--no-browser", is_flag=True, help="Do not open the dashboard in a browser.")
@click.option(
    "--data-dir", type=click.Path(path_type=Path), help="Keep the data here (default: a temp dir)."
)
@click.option(
    "--api-port", type=int, default=8000, show_default=True, help="Dashboard/API port (0: free)."
)
def demo(
    scenario: str, duration: float | None, no_browser: bool, data_dir: Path | None, api_port: int
) -> None:
    """Run a small multi-agent system on this machine, make it fail, and watch it here.

    Starts a Kafka broker, a local LLM provider, a simulated Kubernetes cluster whose pods
    are the agent processes, Oracle Monitor itself and the agents, all on 127.0.0.1; Ctrl-C
    stops all of it.
    """
    from oracle_monitor.demo.ports import free_port, listening
    from oracle_monitor.demo.services import Ports
    from oracle_monitor.roles.demo import DemoOptions, run_demo

    if api_port and listening(api_port):
        click.echo(f"port {api_port} is taken; using a free one")
        api_port = 0
    _logging("WARNING")
    options = DemoOptions(
        scenario=scenario,
        duration_s=duration,
        open_browser=not no_browser,
        data_dir=data_dir,
        ports=Ports(api=api_port or free_port()),
    )
    run_demo(options)


# Scale-out: the API alone, over the store other processes write.
@main.command()
@_host_option
@_api_port_option
@click.option("--store", "store__url", help="[ORACLE_STORE] the shared store, postgresql://…")
@_migrate_option
def api(**flags: Any) -> None:
    """Serve the REST, WebSocket, Jaeger and metrics API (and the UI) over a shared store.

    No receiver, collectors or snapshot loop: receivers and aggregators write the store; live
    clients get what they store, polled every ORACLE_LIVE_POLL_SECONDS.
    """
    settings = _settings(Settings, **flags)
    _logging(settings.server.log_level)
    from oracle_monitor.roles.api import serve_api

    _run(serve_api(settings))
